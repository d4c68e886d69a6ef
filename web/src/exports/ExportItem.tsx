import { useId, useState } from "react"
import type { ExportView } from "../../../src/adapters/http/Api.ts"
import { FILE_FORMATS } from "../../../src/domain/FileFormats.ts"
import { fileSize } from "../../../src/domain/Quantities.ts"
import { problemOf } from "../api/ApiProblem.ts"
import { Link } from "../app/Link.tsx"
import { exportPath } from "../app/Router.ts"
import { cancel, download, exportAgain } from "./ExportCommands.ts"
import { isInProgress } from "./ExportsStore.ts"
import { count, exportTitle, isExpired, percentDone, progressWords, statusWords, when } from "./ExportWords.ts"

type Action = "download" | "cancel" | "again"

/**
 * One export: what it is, where it stands, its file, and what can be done with it. In the list its title links to
 * its own page; on that page (`linked` false) it is the page's subject.
 */
export const ExportItem = ({ view, linked, onExportedAgain }: {
  readonly view: ExportView
  readonly linked: boolean
  readonly onExportedAgain?: (next: ExportView) => void
}) => {
  const titleId = useId()
  const [busy, setBusy] = useState<Action | undefined>(undefined)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const title = exportTitle(view)
  const expired = isExpired(view)
  const rows = view.file?.rowCount ?? view.progress?.rows
  const bytes = view.file?.byteSize ?? view.progress?.bytes

  const act = (action: Action, run: () => Promise<unknown>) => {
    setBusy(action)
    setProblem(undefined)
    run().then(
      () => setBusy(undefined),
      (error: unknown) => {
        setBusy(undefined)
        setProblem(problemOf(error).message)
      }
    )
  }

  return (
    <article className={`export export-${view.status}`} aria-labelledby={titleId}>
      <h2 id={titleId}>{linked ? <Link href={exportPath(view.jobId)}>{title}</Link> : title}</h2>
      <progress
        max={100}
        value={percentDone(view)}
        aria-label="Progress"
        aria-valuetext={progressWords(view)}
      />
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>{statusWords(view)}</dd>
        </div>
        <div>
          <dt>Requested</dt>
          <dd>{when(view.requestedAt)}</dd>
        </div>
        <div>
          <dt>Format</dt>
          <dd>{FILE_FORMATS[view.format].name}</dd>
        </div>
        <div>
          <dt>Rows</dt>
          <dd>{rows === undefined ? "–" : count(rows)}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{bytes === undefined ? "–" : fileSize(bytes)}</dd>
        </div>
        <div>
          <dt>{expired ? "Link expired" : "Link expires"}</dt>
          <dd>{view.file === undefined ? "–" : when(view.file.expiresAt)}</dd>
        </div>
      </dl>
      {view.failure !== undefined && <p className="failure">{view.failure.message}</p>}
      <div className="actions">
        {view.status === "succeeded" && !expired && (
          <button
            type="button"
            aria-busy={busy === "download"}
            onClick={() => act("download", () => download(view.jobId))}
          >
            Download
          </button>
        )}
        {isInProgress(view) && (
          <button
            type="button"
            disabled={busy === "cancel"}
            onClick={() => act("cancel", () => cancel(view.jobId))}
          >
            Cancel
          </button>
        )}
        {(view.status === "failed" || view.status === "cancelled" || expired) && (
          <button
            type="button"
            disabled={busy === "again"}
            onClick={() =>
              act("again", () =>
                exportAgain(view.jobId).then((next) => {
                  onExportedAgain?.(next)
                }))}
          >
            {/* A failure's button says what its notice's says; a cancelled or expired export is exported anew. */}
            {view.status === "failed" ? "Try again" : "Export again"}
          </button>
        )}
      </div>
      {problem !== undefined && <p className="problem" role="alert">{problem}</p>}
    </article>
  )
}
