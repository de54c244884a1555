import { redirect } from "next/navigation";
import { auth, latchTokens } from "../auth.js";
import { signOutEverywhere } from "./actions.js";
import * as latch from "../lib/latch.js";

// The signed-in page: who the session says you are, and what Latch says when
// called with the session's current access token.
export default async function Home() {
  const session = await auth();
  const tokens = session && (await latchTokens());
  if (!tokens) redirect("/signin");

  let me;
  try {
    me = { user: await latch.me(tokens.accessToken) };
  } catch (e) {
    me = { error: e.message };
  }
  // Identifiers of the access token (not the token): the test compares them.
  const { jti, sid, exp } = latch.peekClaims(tokens.accessToken);

  return (
    <main>
      <h1>Signed in</h1>
      <p>
        Signed in as <strong data-testid="email">{session.user.email}</strong>
      </p>
      <h2>GET /api/v1/users/me</h2>
      {me.user ? (
        <pre data-testid="me">{JSON.stringify(me.user, null, 2)}</pre>
      ) : (
        <p data-testid="me-error" role="alert">{me.error}</p>
      )}
      <h2>Access token</h2>
      <dl>
        <dt>token id (jti)</dt>
        <dd data-testid="jti">{jti}</dd>
        <dt>session id (sid)</dt>
        <dd data-testid="sid">{sid}</dd>
        <dt>expires</dt>
        <dd data-testid="exp" data-exp={exp}>{new Date(exp * 1000).toISOString()}</dd>
        <dt>obtained by</dt>
        <dd data-testid="via">{tokens.via}</dd>
      </dl>
      <form action={signOutEverywhere}>
        <button type="submit">Sign out</button>
      </form>
    </main>
  );
}
