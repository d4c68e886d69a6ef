// What a person can do to an export: download its file, cancel it, export it again. Each tells the stores what the
// server answered, and says what happened in a toast.
import type { ExportView } from "../../../src/adapters/http/Api.ts"
import { callApi } from "../api/ApiClient.ts"
import { CLICK_TO_TOAST, showToast } from "../app/Toasts.ts"
import { accepted, storeExport } from "./ExportsStore.ts"

export const EXPORT_IN_PROGRESS = "Export in progress"

let clicks = 0

/** Marks the moment of a click that will end in a toast, for the click-to-toast measure; returns the mark's name. */
export const markClick = (): string => {
  const name = `${CLICK_TO_TOAST}:${++clicks}`
  performance.mark(name)
  return name
}

/** Asks for a link valid a few minutes, checked at click time, and follows it: the browser saves the file. */
export const download = async (jobId: string): Promise<void> => {
  const link = await callApi((api) => api.exports.downloadExport({ path: { jobId } }))
  window.location.assign(link.url)
}

export const cancel = async (jobId: string): Promise<ExportView> => {
  const view = await callApi((api) => api.exports.cancelExport({ path: { jobId } }))
  storeExport(view)
  showToast("Export cancelled")
  return view
}

/** Starts the same report again, with a fresh Idempotency-Key; answers the new export. */
export const exportAgain = async (jobId: string): Promise<ExportView> => {
  const since = markClick()
  const answer = await callApi((api) =>
    api.exports.exportAgain({ path: { jobId }, headers: { "idempotency-key": crypto.randomUUID() } })
  )
  showToast(EXPORT_IN_PROGRESS, since)
  return accepted(answer)
}
