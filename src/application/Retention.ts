// How long what an export leaves behind is kept: job records, idempotency claims, notifications and files. Each
// number has this one home: DynamoDB turns them into TTLs, the in-memory stores evict by them, the embedded file
// store sweeps by FILE_RETENTION, and the buckets' lifecycle rules (infra/) are built from, or checked against, it.
import { DateTime, Duration } from "effect"
import type { ExportJob } from "../domain/ExportJob.js"
import type { InAppNotification } from "./ports/InAppNotifier.js"

/** How long a succeeded job is kept after its download link expired: the user may still look it up. */
export const SUCCEEDED_JOB_RETENTION = Duration.days(7)
/** How long a failed or cancelled job is kept after it finished. */
export const FINISHED_JOB_RETENTION = Duration.days(30)
/** How long a claim on an idempotency key is kept: far beyond the window in which the key means anything. */
export const IDEMPOTENCY_CLAIM_RETENTION = Duration.days(30)
/** How long an in-app notification is kept after it was created. */
export const NOTIFICATION_RETENTION = Duration.days(90)

/** When a job's record may go, in epoch milliseconds; undefined while the job is Queued or Running. */
export const jobRetainedUntil = (job: ExportJob): number | undefined => {
  switch (job._tag) {
    case "Queued":
    case "Running":
      return undefined
    case "Succeeded":
      return DateTime.toEpochMillis(job.result.linkExpiresAt) + Duration.toMillis(SUCCEEDED_JOB_RETENTION)
    case "Failed":
    case "Cancelled":
      return DateTime.toEpochMillis(job.finishedAt) + Duration.toMillis(FINISHED_JOB_RETENTION)
  }
}

/** When a claim on an idempotency key made for a job requested at `requestedAt` may go, in epoch milliseconds. */
export const claimRetainedUntil = (requestedAt: DateTime.Utc): number =>
  DateTime.toEpochMillis(requestedAt) + Duration.toMillis(IDEMPOTENCY_CLAIM_RETENTION)

/** When a notification may go, in epoch milliseconds. */
export const notificationRetainedUntil = (notification: InAppNotification): number =>
  DateTime.toEpochMillis(notification.createdAt) + Duration.toMillis(NOTIFICATION_RETENTION)
