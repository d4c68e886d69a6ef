import { useSyncExternalStore } from "react"
import type { Store } from "./Store.ts"

/** The store's current value; the component renders again when it changes. */
export const useStore = <A>(store: Store<A>): A => useSyncExternalStore(store.subscribe, store.get)
