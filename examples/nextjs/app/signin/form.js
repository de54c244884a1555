"use client";

import { useActionState } from "react";
import { signInWithPassword } from "../actions.js";

export default function SignInForm() {
  const [state, action, pending] = useActionState(signInWithPassword, undefined);
  return (
    <form action={action} style={{ display: "grid", gap: "0.75rem", maxWidth: 320 }}>
      <label>
        Email <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit" disabled={pending}>
        Sign in
      </button>
      {state?.error && (
        <p role="alert" style={{ color: "crimson" }}>
          {state.error}
        </p>
      )}
    </form>
  );
}
