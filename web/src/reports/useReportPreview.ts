import { useEffect, useState } from "react"
import type { ReportPreview } from "../../../src/adapters/http/Api.ts"
import { callApi } from "../api/ApiClient.ts"
import { problemOf } from "../api/ApiProblem.ts"

/** A preview and the report it is of. */
export interface ShownPreview {
  readonly reportType: string
  readonly preview: ReportPreview
}

export type PreviewState =
  | { readonly _tag: "Waiting" }
  | { readonly _tag: "Loading"; readonly last: ShownPreview | undefined }
  | ({ readonly _tag: "Ready" } & ShownPreview)
  | { readonly _tag: "Failed"; readonly message: string }

/** Typing in a field asks for one preview once the typing stops, not one per key. */
const SETTLE_MS = 300

/**
 * The first rows of `reportType` for `query` (valid parameters, or none yet), read again when they change; a read
 * still running for parameters since changed is abandoned.
 */
export const useReportPreview = (reportType: string, query: Readonly<Record<string, string>> | undefined) => {
  // Valid parameters from the start are a preview on its way, not a wait for the person: "Waiting" is only ever the
  // answer to parameters that are not valid (below).
  const [state, setState] = useState<PreviewState>({ _tag: "Loading", last: undefined })
  const key = query === undefined ? undefined : JSON.stringify([reportType, query])
  useEffect(() => {
    if (key === undefined) return
    const [type, urlParams] = JSON.parse(key) as [string, Record<string, string>]
    const reading = new AbortController()
    const timer = setTimeout(() => {
      setState((current) => ({
        _tag: "Loading",
        last: current._tag === "Ready" ? current : current._tag === "Loading" ? current.last : undefined
      }))
      callApi((api) => api.reports.previewReport({ path: { reportType: type }, urlParams }), reading.signal).then(
        (preview) => setState({ _tag: "Ready", reportType: type, preview }),
        (error: unknown) => {
          if (!reading.signal.aborted) setState({ _tag: "Failed", message: problemOf(error).message })
        }
      )
    }, SETTLE_MS)
    return () => {
      clearTimeout(timer)
      reading.abort()
    }
  }, [key])
  return key === undefined ? { _tag: "Waiting" } as const : state
}
