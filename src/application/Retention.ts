// How long what an export leaves behind is kept: job records, idempotency claims, notifications, dead letters and
// files. Each number has this one home: DynamoDB turns them into TTLs, the in-memory stores evict by them, the
// embedded database deletes by them, the embedded file store sweeps by FILE_RETENTION, and the buckets' lifecycle
// rules and the dead-letter queue (infra/) are built from, or checked against, it.
import { Config, ConfigError, DateTime, Duration, Either } from "effect"
import type { ExportJob, FinishedJob } from "../domain/ExportJob.js"
import { isFinished } from "../domain/ExportJob.js"
import { linkTtlConfig } from "./ExportSettings.js"
import { MAX_LINK_TTL } from "./ports/FileStore.js"
import type { InAppNotification } from "./ports/InAppNotifier.js"

/** How long a succeeded job is kept after its download link expired: the user may still look it up. */
export const SUCCEEDED_JOB_RETENTION = Duration.days(7)
/** How long a failed or cancelled job is kept after it finished. */
export const FINISHED_JOB_RETENTION = Duration.days(30)
/**
 * How long a claim on an idempotency key, or on an export in progress (DynamoDB's), is kept: far beyond the window in
 * which the key means anything, and the deadline of an export in progress.
 */
export const IDEMPOTENCY_CLAIM_RETENTION = Duration.days(30)
/** How long an in-app notification is kept after it was created. */
export const NOTIFICATION_RETENTION = Duration.days(90)
/**
 * How long a dead-lettered message is kept for someone to look at: as long as the SQS dead-letter queue keeps its
 * messages (infra/ExportsStack.ts). Each one is also logged when it is dead-lettered.
 */
export const DEAD_LETTER_RETENTION = Duration.days(14)

/**
 * How late a store may delete what has outlived its retention: the memory stores and the embedded database sweep at
 * most, or at least, once this interval of the Effect clock, as DynamoDB's TTL deletes late too.
 */
export const EXPIRY_SWEEP_INTERVAL = Duration.hours(1)

/** When a finished job's record may go, in epoch milliseconds; its audit entries go with it (ADR 46). */
export const finishedJobRetainedUntil = (job: FinishedJob): number =>
  job._tag === "Succeeded"
    ? DateTime.toEpochMillis(job.result.linkExpiresAt) + Duration.toMillis(SUCCEEDED_JOB_RETENTION)
    : DateTime.toEpochMillis(job.finishedAt) + Duration.toMillis(FINISHED_JOB_RETENTION)

/** When a job's record may go, in epoch milliseconds; undefined while the job is Queued or Running. */
export const jobRetainedUntil = (job: ExportJob): number | undefined =>
  isFinished(job) ? finishedJobRetainedUntil(job) : undefined

/** When a claim made for a job requested at `requestedAt` may go, in epoch milliseconds. */
export const claimRetainedUntil = (requestedAt: DateTime.Utc): number =>
  DateTime.toEpochMillis(requestedAt) + Duration.toMillis(IDEMPOTENCY_CLAIM_RETENTION)

/** When a notification may go, in epoch milliseconds. */
export const notificationRetainedUntil = (notification: InAppNotification): number =>
  DateTime.toEpochMillis(notification.createdAt) + Duration.toMillis(NOTIFICATION_RETENTION)

/**
 * What a file must outlive beyond the longest link signed for it. A link's expiry is counted from its signing, a
 * moment after the file was written (the file's age is counted from its writing), and a bucket's lifecycle rule
 * counts whole days: a day covers both (ADR 29).
 */
export const FILE_RETENTION_MARGIN = Duration.days(1)

/** The default file retention: longer than any link can live (MAX_LINK_TTL), whatever EXPORT_LINK_TTL says. */
export const DEFAULT_FILE_RETENTION = Duration.sum(MAX_LINK_TTL, FILE_RETENTION_MARGIN)

/**
 * How long a multipart upload may stay incomplete in a bucket: a worker aborts its own on every failure it sees, so
 * one left longer belongs to a worker that died mid-upload. A lifecycle rule aborts it.
 */
export const INCOMPLETE_UPLOAD_RETENTION = Duration.days(1)

/** A retention in whole days, as a bucket's lifecycle rule takes it. */
export const retentionDays = (retention: Duration.Duration): number => Math.ceil(Duration.toDays(retention))

/**
 * FILE_RETENTION: how long an exported file is kept after it was written. At least EXPORT_LINK_TTL plus the margin,
 * so that no link ever points at a file already deleted.
 */
export const fileRetentionConfig: Config.Config<Duration.Duration> = Config.all({
  retention: Config.duration("FILE_RETENTION").pipe(Config.withDefault(DEFAULT_FILE_RETENTION)),
  linkTtl: linkTtlConfig
}).pipe(
  Config.mapOrFail(({ linkTtl, retention }) => {
    const shortest = Duration.sum(linkTtl, FILE_RETENTION_MARGIN)
    return Duration.greaterThanOrEqualTo(retention, shortest)
      ? Either.right(retention)
      : Either.left(ConfigError.InvalidData(
        ["FILE_RETENTION"],
        `must be at least EXPORT_LINK_TTL plus a day (here ${Duration.format(shortest)}): a file must outlive ` +
          "every link signed for it"
      ))
  })
)
