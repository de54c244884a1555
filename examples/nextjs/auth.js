// Auth.js (next-auth v5) signing users in through Latch.
//
// The Auth.js session is a JWT in an encrypted, HttpOnly cookie. It holds
// Latch's access token, its expiry and the refresh token; none of them ever
// reaches the browser's JavaScript (the session callback exposes the user only).
import NextAuth, { CredentialsSignin } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { getToken } from "next-auth/jwt";
import { headers } from "next/headers";
import * as latch from "./lib/latch.js";

class RateLimited extends CredentialsSignin {
  code = "rate_limited";
}

// What the Auth.js JWT keeps from a Latch token response.
function fromTokenResponse(res, previous, via) {
  return {
    accessToken: res.access_token,
    accessExpiresAt: Date.now() + res.expires_in * 1000,
    // /auth/session answers without a refresh token: keep the one we have.
    refreshToken: res.refresh_token ?? previous.refreshToken,
    via, // "login", "session" or "refresh": which call produced the access token
  };
}

// Check the session with Latch; rotate the access token, or refresh it once expired.
// Returns the new state, or null when Latch refuses (the session has ended).
async function keepFresh(state) {
  try {
    if (Date.now() < state.accessExpiresAt) {
      try {
        const res = await latch.checkSession(state.accessToken);
        return res.access_token === state.accessToken
          ? { ...state, accessExpiresAt: Date.now() + res.expires_in * 1000 }
          : fromTokenResponse(res, state, "session");
      } catch (e) {
        // Expired by Latch's clock though not by ours: refresh below.
        if (!(e instanceof latch.LatchError && e.code === "token_expired")) throw e;
      }
    }
    // Refresh tokens rotate: the old one is spent, so the new one must be stored.
    return fromTokenResponse(await latch.refresh(state.refreshToken), state, "refresh");
  } catch (e) {
    if (e instanceof latch.LatchError && e.status === 401) return null;
    // Latch unreachable, rate limited or failing: keep the session as it is and try
    // again on the next read (throwing here would make Auth.js drop the session).
    console.error("latch: session check failed:", e.message);
    return state;
  }
}

export const { handlers, auth, signIn, signOut } = NextAuth({
  session: { strategy: "jwt" },
  logger: {
    // A refused password is an expected outcome, not a server error.
    error(error) {
      if (error.type === "CredentialsSignin") console.warn("auth: sign-in refused:", error.code);
      else console.error(error);
    },
  },
  pages: { signIn: "/signin" },
  providers: [
    Credentials({
      credentials: { email: { type: "email" }, password: { type: "password" } },
      async authorize(credentials) {
        const { email, password } = credentials ?? {};
        if (typeof email !== "string" || typeof password !== "string") return null;
        let res;
        try {
          res = await latch.login(email, password);
        } catch (e) {
          if (e instanceof latch.LatchError && e.status === 401) return null; // invalid_credentials
          if (e instanceof latch.LatchError && e.status === 429) throw new RateLimited();
          throw e;
        }
        const { user } = res;
        return {
          id: user.id,
          email: user.email,
          name: user.name,
          latch: fromTokenResponse(res, {}, "login"),
        };
      },
    }),
  ],
  callbacks: {
    // Used by the proxy: every page but the sign-in page needs a session.
    authorized({ request, auth }) {
      return request.nextUrl.pathname === "/signin" || !!auth;
    },
    // Runs at sign-in (with `user`) and on every session read after it.
    async jwt({ token, user }) {
      if (user) return { ...token, latch: user.latch };
      if (!token.latch) return null;
      const latchState = await keepFresh(token.latch);
      return latchState ? { ...token, latch: latchState } : null; // null: signed out
    },
    // What auth() and /api/auth/session return: the user, never the tokens.
    async session({ session, token }) {
      return {
        expires: session.expires,
        user: { id: token.sub, email: token.email, name: token.name ?? null },
      };
    },
  },
});

// The Latch part of the session cookie (access token, expiry, refresh token),
// decrypted for server code: server components, server actions. The proxy has
// already checked and rotated it for this request.
export async function latchTokens() {
  const req = { headers: await headers() };
  const secret = process.env.AUTH_SECRET;
  // The cookie is __Secure-authjs.session-token over HTTPS, authjs.session-token over HTTP.
  const jwt =
    (await getToken({ req, secret, secureCookie: true })) ??
    (await getToken({ req, secret, secureCookie: false }));
  return jwt?.latch ?? null;
}
