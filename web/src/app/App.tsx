import { session } from "../auth/Session.ts"
import { SignInPage } from "../auth/SignInPage.tsx"
import { useStore } from "../lib/useStore.ts"
import { SignedIn } from "./SignedIn.tsx"
import { Toaster } from "./Toaster.tsx"

/** The sign-in page until someone is signed in; then the app, on the page its path names. */
export const App = () => {
  const { current } = useStore(session)
  return (
    <>
      {current === undefined ? <SignInPage /> : <SignedIn key={current.token} who={current} />}
      <Toaster />
    </>
  )
}
