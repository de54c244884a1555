// Server-side client for Latch's API (v1). Imported only by server code:
// auth.js, proxy.js, server components and server actions.
import "server-only";

const latchUrl = () => {
  const url = process.env.LATCH_URL;
  if (!url) throw new Error("LATCH_URL is not set (e.g. http://127.0.0.1:8080)");
  return url.replace(/\/+$/, "");
};

// Latch answered with an error (application/problem+json): `status` and its stable `code`.
export class LatchError extends Error {
  constructor(status, problem) {
    super(`Latch answered ${status} ${problem?.code ?? ""}: ${problem?.detail ?? ""}`.trim());
    this.name = "LatchError";
    this.status = status;
    this.code = problem?.code;
  }
}

async function call(path, { method = "POST", accessToken, json } = {}) {
  const headers = { accept: "application/json" };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  if (json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${latchUrl()}${path}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
    cache: "no-store",
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new LatchError(res.status, body);
  return body;
}

// POST /api/v1/auth/login → token response
export const login = (login, password) => call("/api/v1/auth/login", { json: { login, password } });

// POST /api/v1/auth/session → token response without refresh_token: the same
// access token while it has more than tokens.session_rotate_before_seconds left, else a new one
export const checkSession = (accessToken) => call("/api/v1/auth/session", { accessToken });

// POST /api/v1/auth/refresh → token response with a new (rotated) refresh token
export const refresh = (refreshToken) =>
  call("/api/v1/auth/refresh", { json: { refresh_token: refreshToken } });

// POST /api/v1/auth/logout?scope=local → 204; the access token is dead at once
export const logout = (accessToken) =>
  call("/api/v1/auth/logout?scope=local", { accessToken });

// GET /api/v1/users/me → user
export const me = (accessToken) => call("/api/v1/users/me", { method: "GET", accessToken });

// The claims of a Latch access token (a JWT), read without verifying it:
// only for display; Latch verifies the token on every call.
export function peekClaims(accessToken) {
  try {
    return JSON.parse(Buffer.from(accessToken.split(".")[1], "base64url").toString("utf8"));
  } catch {
    return {};
  }
}
