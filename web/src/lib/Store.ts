// A value that components read with `useStore` and that changes outside React: the session, the exports and
// notifications the server told us about. Small on purpose: no library for what a Set of listeners does.

export interface Store<A> {
  readonly get: () => A
  readonly set: (next: A | ((current: A) => A)) => void
  readonly subscribe: (listener: () => void) => () => void
}

export const createStore = <A>(initial: A): Store<A> => {
  let current = initial
  const listeners = new Set<() => void>()
  return {
    get: () => current,
    set: (next) => {
      const value = typeof next === "function" ? (next as (current: A) => A)(current) : next
      if (Object.is(value, current)) return
      current = value
      for (const listener of [...listeners]) listener()
    },
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }
}
