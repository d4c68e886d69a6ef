// The app's pages and their paths. The server answers these paths with index.html (its SPA fallback); the app reads
// the path and moves between pages with the History API, so links can be opened, shared and bookmarked.
import { createStore } from "../lib/Store.ts"

export type Route =
  | { readonly _tag: "Reports" }
  | { readonly _tag: "Exports" }
  | { readonly _tag: "Export"; readonly jobId: string }
  | { readonly _tag: "NotFound" }

export const EXPORTS_PATH = "/exports"
export const exportPath = (jobId: string): string => `${EXPORTS_PATH}/${encodeURIComponent(jobId)}`

const EXPORT_PATH = /^\/exports\/([^/]+)\/?$/

export const routeOf = (pathname: string): Route => {
  if (pathname === "/") return { _tag: "Reports" }
  if (pathname === EXPORTS_PATH || pathname === `${EXPORTS_PATH}/`) return { _tag: "Exports" }
  const match = EXPORT_PATH.exec(pathname)
  if (match !== null) return { _tag: "Export", jobId: decodeURIComponent(match[1]!) }
  return { _tag: "NotFound" }
}

/**
 * The current path; whether the person moved here within the app (then the new page takes the focus); and which
 * visit of a page this is, counted from the app's start, so that what belongs to one visit ends with it.
 */
export const location = createStore({ pathname: window.location.pathname, moved: false, visit: 0 })

const moveTo = (pathname: string) => location.set((current) => ({ pathname, moved: true, visit: current.visit + 1 }))

window.addEventListener("popstate", () => moveTo(window.location.pathname))

export const navigate = (path: string): void => {
  if (path === window.location.pathname) return
  window.history.pushState(null, "", path)
  moveTo(path)
}
