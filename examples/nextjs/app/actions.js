"use server";

import { AuthError, CredentialsSignin } from "next-auth";
import { signIn, signOut, latchTokens } from "../auth.js";
import * as latch from "../lib/latch.js";

// The sign-in form: Auth.js's Credentials provider → authorize → Latch login.
export async function signInWithPassword(_previous, formData) {
  try {
    await signIn("credentials", {
      email: formData.get("email"),
      password: formData.get("password"),
      redirectTo: "/",
    });
  } catch (e) {
    if (e instanceof CredentialsSignin) {
      return {
        error: e.code === "rate_limited" ? "Too many attempts; try again later." : "Wrong email or password.",
      };
    }
    if (e instanceof AuthError) return { error: "Signing in failed; is Latch running?" };
    throw e; // the redirect that follows a successful sign-in
  }
}

// Sign-out: end the session at Latch (its access token is dead at once), then
// clear the Auth.js cookie.
export async function signOutEverywhere() {
  const tokens = await latchTokens();
  if (tokens) {
    try {
      await latch.logout(tokens.accessToken);
    } catch (e) {
      console.error("latch: logout failed:", e.message);
    }
  }
  await signOut({ redirectTo: "/signin" });
}
