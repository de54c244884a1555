// Runs before every page request and server action. The Auth.js session is
// read here, so the jwt callback (check and rotate with Latch) runs where the
// re-encrypted session cookie can be written back to the browser. The new
// cookie is also handed on to the page being rendered, which therefore sees
// the rotated tokens. (A server component cannot set cookies: a rotation made
// during rendering alone would be lost, and a spent refresh token presented
// again later makes Latch revoke the session.)
import { NextResponse } from "next/server";
import { auth } from "./auth.js";

export default async function proxy(request, event) {
  const res = await auth(request, event); // runs callbacks.jwt and callbacks.authorized
  if (!res.headers.get("x-middleware-next")) return res; // a redirect to /signin

  const setCookies = res.headers.getSetCookie();
  for (const line of setCookies) {
    const [pair, ...attributes] = line.split(";");
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const removed = attributes.some((a) => {
      const [k, v = ""] = a.split("=").map((s) => s.trim());
      return (
        (k.toLowerCase() === "max-age" && Number(v) <= 0) ||
        (k.toLowerCase() === "expires" && Date.parse(v) <= Date.now())
      );
    });
    if (removed) request.cookies.delete(name);
    else request.cookies.set(name, decodeURIComponent(value));
  }
  const next = NextResponse.next({ request: { headers: request.headers } });
  for (const line of setCookies) next.headers.append("set-cookie", line);
  return next;
}

export const config = {
  // Every page and server action; not Auth.js's own routes nor static files.
  matcher: ["/((?!api/auth|_next/static|_next/image|favicon.ico).*)"],
};
