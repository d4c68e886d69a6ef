// Short messages about what just happened ("Export in progress"), shown in one live region that screen readers
// announce, for a few seconds. A toast answering a click can name the mark set at that click: once it is on
// screen, the time from the click is measured as "click-to-toast" (docs/performance.md).
import { createStore } from "../lib/Store.ts"

export interface Toast {
  readonly id: number
  readonly text: string
  /** A `performance.mark` set when the person acted; measured up to the toast's render. */
  readonly since?: string
}

export const CLICK_TO_TOAST = "click-to-toast"

const SHOWN_FOR_MS = 8_000

export const toasts = createStore<ReadonlyArray<Toast>>([])

let nextId = 1

export const showToast = (text: string, since?: string): void => {
  const id = nextId++
  toasts.set((current) => [...current, since === undefined ? { id, text } : { id, text, since }])
  setTimeout(() => toasts.set((current) => current.filter((toast) => toast.id !== id)), SHOWN_FOR_MS)
}
