// End to end: a real Latch, the built Next.js app (`next start`), and Debian's
// Chromium driven by playwright-core. Run after `next build`:
//   LATCH_BIN=/path/to/latch node --test test/e2e.test.js
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import { decode } from "next-auth/jwt";

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const artefacts = join(appDir, "test-results");
const LATCH_BIN = process.env.LATCH_BIN;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// The "session" step needs a reload that Latch sees inside the last
// ROTATE_BEFORE seconds of the token while the app still thinks it is live,
// which may end 1 s before `exp` (expires_in is whole seconds): a window of
// ROTATE_BEFORE - 1 seconds, wide enough for a slow machine's reload.
const ACCESS_TTL = 8; // seconds
const ROTATE_BEFORE = 5; // seconds
const AUTH_SECRET = randomBytes(32).toString("base64url");
const SESSION_COOKIE = "authjs.session-token"; // over plain HTTP
const EMAIL = `ada.${randomBytes(4).toString("hex")}@example.com`;
const PASSWORD = "violet tangerine harbour";

const children = [];
let workDir, latchUrl, appUrl, browser, page;
let failed = false;

// One step of the scenario; once a step fails the later ones are skipped.
function step(t, name, fn) {
  return t.test(name, async (st) => {
    if (failed) return st.skip("an earlier step failed");
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

function logTail(name, lines = 40) {
  try {
    return readFileSync(join(artefacts, `${name}.log`), "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

// Start a process in its own process group, its output in test-results/NAME.log.
function start(name, cmd, args, env, cwd) {
  const log = createWriteStream(join(artefacts, `${name}.log`));
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.logName = name;
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.exited = new Promise((resolve) => child.on("exit", resolve));
  children.push(child);
  return child;
}

async function waitFor(url, child, what) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${logTail(child.logName)}`);
    try {
      const res = await fetch(url, { redirect: "manual" });
      if (res.status === 200) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${what} did not answer 200 at ${url}`);
}

// A direct call to Latch, as a resource server would make it.
async function latchApi(method, path, { token, json } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json) headers["content-type"] = "application/json";
  const res = await fetch(`${latchUrl}${path}`, { method, headers, body: json && JSON.stringify(json) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// The Auth.js session cookie, decrypted with the app's secret: what the
// server keeps for this browser.
async function sessionJwt() {
  const cookie = (await page.context().cookies()).find((c) => c.name === SESSION_COOKIE);
  if (!cookie) return null;
  return decode({ token: cookie.value, secret: AUTH_SECRET, salt: SESSION_COOKIE });
}

const text = (testId) => page.getByTestId(testId).textContent();
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

async function shown() {
  return {
    email: await text("email"),
    jti: await text("jti"),
    sid: await text("sid"),
    exp: Number(await page.getByTestId("exp").getAttribute("data-exp")),
    via: await text("via"),
    me: JSON.parse(await text("me")),
  };
}

before(async () => {
  failed = true; // until the set-up is done
  assert.ok(LATCH_BIN, "set LATCH_BIN to the latch binary");
  rmSync(artefacts, { recursive: true, force: true });
  mkdirSync(artefacts, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), "latch-nextjs-"));
  mkdirSync(join(workDir, "data"));
  mkdirSync(join(workDir, "config")); // empty: no {LATCH_ENV}.toml overlay

  const latchPort = await freePort();
  latchUrl = `http://127.0.0.1:${latchPort}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LATCH")));
  const latch = start("latch", LATCH_BIN, ["serve"], {
    ...env,
    LATCH_CONFIG_DIR: join(workDir, "config"),
    LATCH__DATA_DIR: join(workDir, "data"),
    LATCH__HTTP__HOST: "127.0.0.1",
    LATCH__HTTP__PORT: String(latchPort),
    LATCH__LOG__LEVEL: "warn",
    LATCH__RATE_LIMIT__ENABLED: "false",
    LATCH__TOKENS__ACCESS_TTL_SECONDS: String(ACCESS_TTL),
    LATCH__TOKENS__SESSION_ROTATE_BEFORE_SECONDS: String(ROTATE_BEFORE),
    // A spent refresh token presented again more than 1 s later revokes the
    // session: the app must store every new refresh token.
    LATCH__TOKENS__REFRESH_REUSE_GRACE_SECONDS: "1",
  });
  await waitFor(`${latchUrl}/healthz`, latch, "latch");

  const signup = await latchApi("POST", "/api/v1/auth/signup", { json: { email: EMAIL, password: PASSWORD, name: "Ada" } });
  assert.equal(signup.status, 201, JSON.stringify(signup.body));

  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  const next = start(
    "next",
    process.execPath,
    [join(appDir, "node_modules/next/dist/bin/next"), "start", "-H", "127.0.0.1", "-p", String(appPort)],
    { ...env, LATCH_URL: latchUrl, AUTH_SECRET, AUTH_TRUST_HOST: "true", NEXT_TELEMETRY_DISABLED: "1" },
    appDir,
  );
  await waitFor(`${appUrl}/signin`, next, "next start");

  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  failed = false;
});

after(async () => {
  if (page) await page.screenshot({ path: join(artefacts, "last-page.png") }).catch(() => {});
  if (failed) {
    for (const child of children) console.error(`--- ${child.logName}.log (last lines) ---\n${logTail(child.logName)}`);
  }
  await browser?.close().catch(() => {});
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
  }
  await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5_000, null, { ref: false })]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test("sign in through Latch, rotate and refresh the access token, sign out", { timeout: 120_000 }, async (t) => {
  await step(t, "a page needing a session sends the visitor to the sign-in page", async () => {
    await page.goto(`${appUrl}/`);
    assert.equal(new URL(page.url()).pathname, "/signin");
  });

  await step(t, "a wrong password is refused by Latch and shown on the form", async () => {
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill("not the password at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong email or password." }).waitFor();
    assert.equal(await sessionJwt(), null);
  });

  let first;
  await step(t, "signing in shows the user and Latch's /users/me for the session's token", async () => {
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${appUrl}/`);
    first = await shown();
    await page.screenshot({ path: join(artefacts, "signed-in.png") });
    assert.equal(first.email, EMAIL);
    assert.equal(first.me.email, EMAIL);
    assert.equal(first.via, "login");

    const jwt = await sessionJwt();
    assert.equal(claims(jwt.latch.accessToken).jti, first.jti, "the page used the token in the cookie");
    assert.match(jwt.latch.refreshToken, /^latch_rt_/);
    const cookie = (await page.context().cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.equal(cookie.httpOnly, true);
    const visible = await page.evaluate(() => document.cookie + document.documentElement.outerHTML);
    assert.ok(!visible.includes(jwt.latch.accessToken), "the access token is not visible to the page");
    assert.ok(!visible.includes(jwt.latch.refreshToken), "the refresh token is not visible to the page");
    const fromApi = await page.evaluate(() => fetch("/api/auth/session").then((r) => r.text()));
    assert.ok(JSON.parse(fromApi).user.email === EMAIL && !fromApi.includes("latch_rt_") && !fromApi.includes("eyJ"));
  });

  let refreshed;
  await step(t, "past the access token's lifetime, a reload refreshes it in the same Latch session", async () => {
    const before = (await sessionJwt()).latch;
    // Latch's expires_in is whole seconds and may overstate the time left by up
    // to 1 s, so the app may see the token expire up to 1 s after `exp`: wait 2 s past it.
    await sleep(first.exp * 1000 - Date.now() + 2_000);
    await page.reload();
    refreshed = await shown();
    assert.equal(refreshed.email, EMAIL);
    assert.equal(refreshed.me.email, EMAIL);
    assert.equal(refreshed.via, "refresh");
    assert.notEqual(refreshed.jti, first.jti);
    assert.equal(refreshed.sid, first.sid);
    const after = (await sessionJwt()).latch;
    assert.equal(claims(after.accessToken).jti, refreshed.jti);
    assert.ok(after.refreshToken !== before.refreshToken, "the rotated refresh token is stored");
  });

  let rotated;
  await step(t, "close to expiry, a reload gets a new access token from the session check", async () => {
    // Half a second inside the rotation window: up to 3.5 s left for the reload itself.
    await sleep(refreshed.exp * 1000 - Date.now() - (ROTATE_BEFORE * 1000 - 500));
    await page.reload();
    rotated = await shown();
    assert.equal(rotated.via, "session");
    assert.notEqual(rotated.jti, refreshed.jti);
    assert.equal(rotated.sid, first.sid);
  });

  await step(t, "a second refresh works with the stored refresh token", async () => {
    await sleep(rotated.exp * 1000 - Date.now() + 2_000);
    await page.reload();
    const again = await shown();
    assert.equal(again.via, "refresh");
    assert.notEqual(again.jti, rotated.jti);
    assert.equal(again.sid, first.sid);
    assert.equal(again.me.email, EMAIL);
  });

  await step(t, "signing out logs out at Latch: the old tokens are refused", async () => {
    const { accessToken, refreshToken } = (await sessionJwt()).latch;
    assert.equal((await latchApi("GET", "/api/v1/users/me", { token: accessToken })).status, 200);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${appUrl}/signin`);
    assert.equal(await sessionJwt(), null, "the session cookie is gone");

    const me = await latchApi("GET", "/api/v1/users/me", { token: accessToken });
    assert.equal(me.status, 401);
    assert.equal(me.body.code, "invalid_token");
    const refresh = await latchApi("POST", "/api/v1/auth/refresh", { json: { refresh_token: refreshToken } });
    assert.equal(refresh.status, 401);

    await page.goto(`${appUrl}/`);
    assert.equal(new URL(page.url()).pathname, "/signin");
  });
});
