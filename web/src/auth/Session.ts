// Who is signed in: the bearer token every API call carries, and whom it names. Kept in sessionStorage, so that a
// reload or a link followed in the same tab stays signed in, and closing the tab signs out.
import { createStore } from "../lib/Store.ts"

export interface Session {
  readonly token: string
  readonly user: string
  readonly merchant: string
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

/** The session, and why the last one ended when the server ended it (an expired token). */
export const session = createStore<{ readonly current: Session | undefined; readonly ended?: string }>({
  current: stored()
})

export const signIn = (next: Session): void => {
  sessionStorage.setItem(KEY, JSON.stringify(next))
  session.set({ current: next })
}

export const signOut = (reason?: string): void => {
  sessionStorage.removeItem(KEY)
  session.set(reason === undefined ? { current: undefined } : { current: undefined, ended: reason })
}
