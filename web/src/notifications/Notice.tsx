import { useId, useState } from "react"
import type { NotificationView } from "../../../src/adapters/http/Api.ts"
import { problemOf } from "../api/ApiProblem.ts"
import { Link } from "../app/Link.tsx"
import { exportPath } from "../app/Router.ts"
import { download, exportAgain } from "../exports/ExportCommands.ts"
import { when } from "../exports/ExportWords.ts"

/** One notice: a ready export offers Download, a failed one says why and offers Try again. */
export const Notice = ({ item, fresh, onProblem }: {
  readonly item: NotificationView
  readonly fresh: boolean
  readonly onProblem: (message: string) => void
}) => {
  const titleId = useId()
  const [busy, setBusy] = useState(false)
  const act = (run: () => Promise<unknown>) => {
    setBusy(true)
    run().then(() => setBusy(false), (error: unknown) => {
      setBusy(false)
      onProblem(problemOf(error).message)
    })
  }
  return (
    <li className={`notice notice-${item.kind}`}>
      <p className="notice-title" id={titleId}>
        {fresh && <span className="new">New:{" "}</span>}
        {item.title}
      </p>
      <p>{item.body}</p>
      <p className="notice-meta">
        {when(item.createdAt)} · <Link href={exportPath(item.jobId)}>See the export</Link>
      </p>
      {item.kind === "export_succeeded" && (
        <button
          type="button"
          aria-describedby={titleId}
          disabled={busy}
          onClick={() => act(() => download(item.jobId))}
        >
          Download
        </button>
      )}
      {item.kind === "export_failed" && (
        <button
          type="button"
          aria-describedby={titleId}
          disabled={busy}
          onClick={() => act(() => exportAgain(item.jobId))}
        >
          Try again
        </button>
      )}
    </li>
  )
}
