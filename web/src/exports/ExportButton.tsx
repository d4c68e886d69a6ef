import { useRef, useState } from "react"
import { FILE_FORMATS } from "../../../src/domain/FileFormats.ts"
import { callApi } from "../api/ApiClient.ts"
import type { ApiClient } from "../api/ApiClient.ts"
import { problemOf } from "../api/ApiProblem.ts"
import { Link } from "../app/Link.tsx"
import { exportPath } from "../app/Router.ts"
import { showToast } from "../app/Toasts.ts"
import { useStore } from "../lib/useStore.ts"
import type { ExportRequestBody } from "../reports/ReportDraft.ts"
import { EXPORT_IN_PROGRESS, markClick } from "./ExportCommands.ts"
import { accepted, exportsStore, isInProgress } from "./ExportsStore.ts"
import { count } from "./ExportWords.ts"

type WithoutResponse<R> = R extends unknown ? Omit<R, "withResponse"> : never
type RequestExport = WithoutResponse<Parameters<ApiClient["exports"]["requestExport"]>[0]>

/**
 * The request for one body. The client's request type is one object per member of the body's union; the compiler
 * cannot tell that an object holding any member is one of them.
 */
const exportRequest = (payload: ExportRequestBody, idempotencyKey: string) =>
  ({ payload, headers: { "idempotency-key": idempotencyKey } }) as RequestExport

/**
 * "Export to CSV" (or the chosen format): one click sends the request with a fresh Idempotency-Key, and the toast says "Export in progress"
 * once the 202 is in. While that export runs, the button shows how far it got and starts nothing more; another
 * report, other parameters or another format make it an "Export to ..." button again. A request that got no answer keeps its key,
 * so clicking again cannot start the export twice.
 */
export const ExportButton = ({ body }: { readonly body: ExportRequestBody | undefined }) => {
  const key = body === undefined ? undefined : JSON.stringify(body)
  const { byId, startedFor } = useStore(exportsStore)
  const [sending, setSending] = useState<string | undefined>(undefined)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const unanswered = useRef<{ readonly body: string; readonly idempotencyKey: string } | undefined>(undefined)
  const startedId = key === undefined ? undefined : startedFor.get(key)
  const started = startedId === undefined ? undefined : byId.get(startedId)
  const running = started !== undefined && isInProgress(started)
  const busy = sending === key || running

  const start = () => {
    if (body === undefined || key === undefined || busy) return
    const since = markClick()
    const idempotencyKey = unanswered.current?.body === key ? unanswered.current.idempotencyKey : crypto.randomUUID()
    unanswered.current = { body: key, idempotencyKey }
    setSending(key)
    setProblem(undefined)
    callApi((api) => api.exports.requestExport<false>(exportRequest(body, idempotencyKey))).then(
      (answer) => {
        unanswered.current = undefined
        showToast(EXPORT_IN_PROGRESS, since)
        return accepted(answer, key)
      }
    ).catch((error: unknown) => {
      const failure = problemOf(error)
      if (failure.code !== "unreachable") unanswered.current = undefined
      setProblem(failure.message)
    }).finally(() => setSending(undefined))
  }

  const progress = started?.progress
  const label = !busy
    ? `Export to ${FILE_FORMATS[body?.format ?? "csv"].name}`
    : started === undefined || started.status === "queued"
    ? "Exporting… starting"
    : progress?.percent !== undefined
    ? `Exporting… ${Math.floor(progress.percent)}%`
    : progress !== undefined
    ? `Exporting… ${count(progress.rows)} rows`
    : "Exporting…"

  return (
    <div className="export-action">
      <button
        type="button"
        className="primary"
        aria-disabled={busy || body === undefined}
        onClick={start}
      >
        {label}
      </button>
      {running && startedId !== undefined && <Link href={exportPath(startedId)}>Follow this export</Link>}
      {problem !== undefined && <p className="problem" role="alert">{problem}</p>}
    </div>
  )
}
