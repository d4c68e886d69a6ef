// Counts V8's garbage collections in this process, for the bench's runs and the worker's heap-setting test.
import { constants, PerformanceObserver } from "node:perf_hooks"
import type { PerformanceEntry } from "node:perf_hooks"

export interface CollectionCount {
  /** Young-generation collections (scavenges). */
  readonly young: number
  /** Full collections (mark-compact): the only ones that free what reached the old generation. */
  readonly full: number
}

/** Starts counting; `stop` ends it and gives the counts, once V8 has reported the last collections. */
export const countCollections = (): { readonly stop: () => Promise<CollectionCount> } => {
  const counts = { young: 0, full: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A "gc" entry's detail says which collection it was; @types/node leaves it untyped on PerformanceEntry.
      const { kind } = (entry as PerformanceEntry & { readonly detail: { readonly kind: number } }).detail
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.young++
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.full++
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return {
    stop: async () => {
      // Observers hear of a collection on a later turn of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 50))
      observer.disconnect()
      return { ...counts }
    }
  }
}
