// What the API shows of a job and a notification: the domain's records translated for clients, with links
// that lead back through the API (never a storage URL, which would outlive the caller's rights).
import { DateTime } from "effect"
import type { InAppNotification } from "../../application/ports/InAppNotifier.js"
import type { ReportPreview as Preview } from "../../application/PreviewReport.js"
import type { AuditActor, AuditEntry } from "../../domain/Audit.js"
import type { ExportJob } from "../../domain/ExportJob.js"
import type { Cell, ColumnType } from "../../domain/Reports.js"
import type { ExportStatus } from "./Api.js"
import {
  AuditEntryView,
  ExportAuditTrail,
  ExportFailure,
  ExportFile,
  ExportProgress,
  ExportView,
  NotificationView,
  PreviewColumn,
  ReportPreview
} from "./Api.js"
import type { AuditActorView, PreviewCell } from "./Api.js"
import { downloadPath, exportPath } from "./ExportPaths.js"

const STATUS: Record<ExportJob["_tag"], ExportStatus> = {
  Queued: "queued",
  Running: "running",
  Succeeded: "succeeded",
  Failed: "failed",
  Cancelled: "cancelled"
}

const definedParams = (params: object): Record<string, string | number> =>
  Object.fromEntries(
    Object.entries(params).filter((entry): entry is [string, string | number] =>
      typeof entry[1] === "string" || typeof entry[1] === "number"
    )
  )

export const statusOf = (job: ExportJob): ExportStatus => STATUS[job._tag]

export const exportView = (job: ExportJob, now: DateTime.Utc): ExportView =>
  new ExportView({
    jobId: job.jobId,
    status: statusOf(job),
    reportType: job.report._tag,
    format: job.format,
    params: definedParams(job.report.params),
    requestedAt: job.requestedAt,
    ...("startedAt" in job && job.startedAt !== undefined ? { startedAt: job.startedAt } : {}),
    ...("finishedAt" in job ? { finishedAt: job.finishedAt } : {}),
    attempts: job.attempts,
    statusUrl: exportPath(job.jobId),
    ...(job._tag === "Running" && job.progress !== undefined ? { progress: new ExportProgress(job.progress) } : {}),
    ...(job._tag === "Succeeded"
      ? {
        file: new ExportFile({
          rowCount: job.result.rowCount,
          byteSize: job.result.byteSize,
          sha256: job.result.sha256,
          expiresAt: job.result.linkExpiresAt,
          expired: DateTime.greaterThanOrEqualTo(now, job.result.linkExpiresAt),
          downloadUrl: downloadPath(job.jobId)
        })
      }
      : {}),
    ...(job._tag === "Failed"
      ? {
        failure: new ExportFailure({
          reason: job.failure.reason,
          message: job.failure.userMessage,
          retryable: job.failure.retryable
        })
      }
      : {})
  })

export const notificationView = (notification: InAppNotification): NotificationView =>
  new NotificationView({
    id: notification.id,
    jobId: notification.jobId,
    kind: notification.kind,
    title: notification.title,
    body: notification.body,
    link: notification.link,
    createdAt: notification.createdAt,
    ...(notification.readAt === undefined ? {} : { readAt: notification.readAt })
  })

/**
 * A cell as JSON carries it for its column: integers as numbers while exact (sources give 64-bit counts as bigints
 * past 2^53, which JSON cannot hold: their digits instead), everything else as the text a file would hold.
 */
const previewCell = (type: ColumnType, cell: Cell): typeof PreviewCell.Type => {
  if (cell === null) return null
  if (type === "integer") {
    const value = typeof cell === "number" ? cell : Number(String(cell))
    if (Number.isSafeInteger(value)) return value
  }
  return String(cell)
}

export const previewView = (preview: Preview): ReportPreview => {
  const { columns } = preview.definition
  return new ReportPreview({
    columns: columns.map((column) =>
      new PreviewColumn({ name: column.name, type: column.type, header: column.header })
    ),
    rows: preview.rows.map((row) => columns.map((column, index) => previewCell(column.type, row[index] ?? null))),
    more: preview.more
  })
}

const actorView = (actor: AuditActor): typeof AuditActorView.Type =>
  actor._tag === "User" ? { type: "user", userId: actor.userId } : { type: "signed_link" }

/** The request, from the job's own record, then the entries appended since; oldest first. */
export const auditTrailView = (job: ExportJob, entries: ReadonlyArray<AuditEntry>): ExportAuditTrail =>
  new ExportAuditTrail({
    items: [
      new AuditEntryView({
        action: "requested",
        actor: { type: "user", userId: job.owner.userId },
        at: job.requestedAt
      }),
      ...entries.map((entry) =>
        new AuditEntryView({ action: entry.action, actor: actorView(entry.actor), at: entry.at })
      )
    ]
  })
