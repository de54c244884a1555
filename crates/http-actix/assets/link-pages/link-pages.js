// The pages behind Latch's emailed links: post the link's token (and, for a
// reset, the new password) to the API route the page names, and say how it went.
"use strict";

const form = document.getElementById("link-form");
const outcome = document.getElementById("outcome");
const route = document.body.dataset.confirm;
const token = new URLSearchParams(window.location.search).get("token") || "";

// The token is in the address bar only until the page has read it.
window.history.replaceState(null, "", window.location.pathname);

function show(message, failed) {
  outcome.textContent = message;
  outcome.className = failed ? "failed" : "";
  outcome.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { token };
  const password = document.getElementById("new-password");
  if (password) {
    if (password.value !== document.getElementById("repeat-password").value) {
      show("The two passwords differ.", true);
      return;
    }
    body.new_password = password.value;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  let response;
  try {
    response = await fetch(route, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    button.disabled = false;
    show("The server could not be reached. Try again.", true);
    return;
  }
  if (response.ok) {
    form.hidden = true;
    show(password ? "Your password is set. Sign in with it." : "Done. You can close this page.", false);
    return;
  }
  const problem = await response.json().catch(() => ({}));
  button.disabled = problem.code !== "link_invalid" ? false : true;
  show(problem.detail || "Something went wrong. Try again.", true);
});
