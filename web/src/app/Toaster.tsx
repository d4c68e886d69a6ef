import { useEffect, useRef } from "react"
import { useStore } from "../lib/useStore.ts"
import { CLICK_TO_TOAST, toasts } from "./Toasts.ts"

/**
 * The live region of the toasts. Always in the page, even empty: a screen reader announces what is added to a
 * region it already knows.
 */
export const Toaster = () => {
  const shown = useStore(toasts)
  const measured = useRef(new Set<number>())
  useEffect(() => {
    for (const toast of shown) {
      if (toast.since === undefined || measured.current.has(toast.id)) continue
      measured.current.add(toast.id)
      performance.measure(CLICK_TO_TOAST, toast.since)
    }
  }, [shown])
  return (
    <div className="toasts" role="status">
      {shown.map((toast) => <p className="toast" key={toast.id}>{toast.text}</p>)}
    </div>
  )
}
