// Who is signed in: the bearer token every API call carries, and whom it names. Kept in sessionStorage, so that a
// reload or a link followed in the same tab stays signed in, and closing the tab signs out. A host application
// hands its user's token over in the address's fragment, `#access_token=<JWT>` (README, "The web app"): taken in
// here, then removed from the address. A fragment is never sent to a server, so no log or Referer carries it.
import { createStore } from "../lib/Store.ts"

export interface Session {
  readonly token: string
  readonly user: string
  readonly merchant: string
  /** The days the server's demo data covers, when the development sign-in said so. */
  readonly demoDays?: { readonly dateFrom: string; readonly dateTo: string }
}

const KEY = "async-data-export/session"

const stored = (): Session | undefined => {
  try {
    const text = sessionStorage.getItem(KEY)
    return text === null ? undefined : (JSON.parse(text) as Session)
  } catch {
    return undefined
  }
}

/** The claims a token names its caller by, for the header; the server checks the token, not this. */
const claimsOf = (token: string): Readonly<Record<string, unknown>> => {
  try {
    const payload = token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")
    return JSON.parse(atob(payload)) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** A token handed over in the fragment, taken out of the address at once. */
const handedOver = (): Session | undefined => {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("access_token")
  if (token === null || token === "") return undefined
  window.history.replaceState(null, "", window.location.pathname + window.location.search)
  const claims = claimsOf(token)
  const named = (value: unknown) => (typeof value === "string" ? value : "")
  const next = { token, user: named(claims["sub"]), merchant: named(claims["merchant_id"]) }
  sessionStorage.setItem(KEY, JSON.stringify(next))
  return next
}

/** The session, and why the last one ended when the server ended it (an expired token). */
export const session = createStore<{ readonly current: Session | undefined; readonly ended?: string }>({
  current: handedOver() ?? stored()
})

export const signIn = (next: Session): void => {
  sessionStorage.setItem(KEY, JSON.stringify(next))
  session.set({ current: next })
}

export const signOut = (reason?: string): void => {
  sessionStorage.removeItem(KEY)
  session.set(reason === undefined ? { current: undefined } : { current: undefined, ended: reason })
}
