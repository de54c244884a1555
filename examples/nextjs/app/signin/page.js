import { redirect } from "next/navigation";
import { auth } from "../../auth.js";
import SignInForm from "./form.js";

export default async function SignInPage() {
  if (await auth()) redirect("/");
  return (
    <main>
      <h1>Sign in</h1>
      <SignInForm />
    </main>
  );
}
