// The ExportJob and its life: Queued -> Running -> Succeeded | Failed, or Cancelled before it finishes.
// `transition` is the only way a job changes; it is pure, so every rule here is checked by property tests.
//
// A finished job also keeps a small ledger of the user's notifications (in-app, email). Recording each delivery
// on the job is what lets a redelivered queue message finish a delivery that a crash interrupted, while a
// delivery already made is never made twice.
import type { DateTime } from "effect"
import { Duration, Either, Equal, Match, Schema } from "effect"
import type { LinkSigningFailed, QueryFailed, QueryTimeout, UploadFailed } from "./Errors.js"
import { InvalidTransition, NotificationChannel } from "./Errors.js"
import { EmailAddress, ExportJobId, Owner } from "./Identifiers.js"
import { ExportFormat, ReportRequest } from "./Reports.js"

const Count = Schema.Int.pipe(Schema.nonNegative())

export const ObjectKey = Schema.String.pipe(
  // Keys written before files were kept per attempt had no attempt folder; records holding one still read.
  Schema.pattern(/^exports\/[A-Za-z0-9_-]{1,64}\/[0-9a-f-]{36}(\/attempt-[1-9][0-9]{0,5})?\.csv$/, {
    identifier: "object-key"
  }),
  Schema.brand("ObjectKey")
)
export type ObjectKey = typeof ObjectKey.Type

/**
 * Where an attempt of a job writes its file: one folder per merchant, so a bucket policy or a lifecycle rule can
 * follow tenants, and one file per attempt. A worker whose job was taken over by a redelivery (ADR 3) may still be
 * uploading; with a key of its own it can never replace the file the job's record describes, only leave one that no
 * record names, for the bucket's lifecycle rule.
 */
export const objectKeyFor = (
  job: { readonly jobId: ExportJobId; readonly owner: Owner; readonly attempts: number }
): ObjectKey => ObjectKey.make(`exports/${job.owner.merchantId}/${job.jobId}/attempt-${job.attempts}.csv`)

export class ExportResult extends Schema.Class<ExportResult>("ExportResult")({
  objectKey: ObjectKey,
  rowCount: Count,
  byteSize: Count,
  sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  linkExpiresAt: Schema.DateTimeUtc
}) {}

/** Why a job failed. Each reason has a message the user can act on; the technical detail stays in the logs. */
export const FailureReason = Schema.Literal(
  "QueryTimeout",
  "QueryFailed",
  "UploadFailed",
  "LinkSigningFailed",
  "QueueUnavailable",
  "AttemptsExhausted",
  "Cancelled"
)
export type FailureReason = typeof FailureReason.Type

export class JobFailure extends Schema.Class<JobFailure>("JobFailure")({
  reason: FailureReason,
  userMessage: Schema.String,
  retryable: Schema.Boolean
}) {}

export const failureOf = (error: QueryTimeout | QueryFailed | UploadFailed | LinkSigningFailed): JobFailure =>
  Match.value(error).pipe(
    Match.tagsExhaustive({
      QueryTimeout: () =>
        new JobFailure({
          reason: "QueryTimeout",
          userMessage:
            "The report took too long to prepare. Try a shorter date range, or split the export into several parts.",
          retryable: false
        }),
      QueryFailed: (e) =>
        new JobFailure({
          reason: "QueryFailed",
          userMessage: "We could not read the report's data. Please try again in a few minutes.",
          retryable: e.retryable
        }),
      UploadFailed: (e) =>
        new JobFailure({
          reason: "UploadFailed",
          userMessage: "We could not save your file. Please try the export again.",
          retryable: e.retryable
        }),
      LinkSigningFailed: () =>
        new JobFailure({
          reason: "LinkSigningFailed",
          userMessage: "Your file was made but we could not create its download link. Please try the export again.",
          retryable: true
        })
    })
  )

export const queueUnavailableFailure = new JobFailure({
  reason: "QueueUnavailable",
  userMessage: "The export service is busy. Your export was not started; please try again in a minute.",
  retryable: true
})

export const attemptsExhaustedFailure = new JobFailure({
  reason: "AttemptsExhausted",
  userMessage: "Your export stopped unexpectedly several times. Please try a shorter date range or contact support.",
  retryable: false
})

/** pending: still owed to the user; sent or failed: settled for good; skipped: the user was told some other way. */
export const DeliveryState = Schema.Literal("pending", "sent", "failed", "skipped")
export type DeliveryState = typeof DeliveryState.Type

export class NotificationLedger extends Schema.Class<NotificationLedger>("NotificationLedger")({
  inApp: DeliveryState,
  email: DeliveryState
}) {
  static readonly pending = new NotificationLedger({ inApp: "pending", email: "pending" })
  static readonly skipped = new NotificationLedger({ inApp: "skipped", email: "skipped" })
}

const jobFields = {
  jobId: ExportJobId,
  owner: Owner,
  /** Needed to send the user their email; Redacted so that no log line or error ever prints it. */
  email: Schema.Redacted(EmailAddress),
  report: ReportRequest,
  format: ExportFormat,
  requestedAt: Schema.DateTimeUtc,
  /** How many times a worker has started the job: at most one more than the number of crashed attempts. */
  attempts: Count,
  /** Bumped by every transition: the token for optimistic concurrency in the job store. */
  revision: Count,
  /** The client's Idempotency-Key, if it sent one: the same key within a day names the same export. */
  idempotencyKey: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)))
}

export class QueuedJob extends Schema.TaggedClass<QueuedJob>()("Queued", jobFields) {}

export class RunningJob extends Schema.TaggedClass<RunningJob>()("Running", {
  ...jobFields,
  startedAt: Schema.DateTimeUtc
}) {}

export class SucceededJob extends Schema.TaggedClass<SucceededJob>()("Succeeded", {
  ...jobFields,
  startedAt: Schema.DateTimeUtc,
  finishedAt: Schema.DateTimeUtc,
  result: ExportResult,
  notifications: NotificationLedger
}) {}

export class FailedJob extends Schema.TaggedClass<FailedJob>()("Failed", {
  ...jobFields,
  startedAt: Schema.optional(Schema.DateTimeUtc),
  finishedAt: Schema.DateTimeUtc,
  failure: JobFailure,
  notifications: NotificationLedger
}) {}

export class CancelledJob extends Schema.TaggedClass<CancelledJob>()("Cancelled", {
  ...jobFields,
  startedAt: Schema.optional(Schema.DateTimeUtc),
  finishedAt: Schema.DateTimeUtc
}) {}

export const ExportJob = Schema.Union(QueuedJob, RunningJob, SucceededJob, FailedJob, CancelledJob)
export type ExportJob = typeof ExportJob.Type
export type JobStatus = ExportJob["_tag"]

export type FinishedJob = SucceededJob | FailedJob | CancelledJob
export const isFinished = (job: ExportJob): job is FinishedJob =>
  job._tag === "Succeeded" || job._tag === "Failed" || job._tag === "Cancelled"

/** Notifications still owed for a finished job (none for one still in flight). */
export const pendingChannels = (job: ExportJob): ReadonlyArray<NotificationChannel> =>
  job._tag === "Succeeded" || job._tag === "Failed"
    ? NotificationChannel.literals.filter((channel) => job.notifications[channel] === "pending")
    : []

// ---- events ----

/** A worker took the job: the first time, or again after an earlier attempt died without finishing. */
export const Started = Schema.TaggedStruct("Started", { at: Schema.DateTimeUtc })
export const Completed = Schema.TaggedStruct("Completed", { at: Schema.DateTimeUtc, result: ExportResult })
export const Failed = Schema.TaggedStruct("Failed", { at: Schema.DateTimeUtc, failure: JobFailure })
export const Cancelled = Schema.TaggedStruct("Cancelled", { at: Schema.DateTimeUtc })
export const NotificationSettled = Schema.TaggedStruct("NotificationSettled", {
  channel: NotificationChannel,
  outcome: Schema.Literal("sent", "failed")
})

export const JobEvent = Schema.Union(Started, Completed, Failed, Cancelled, NotificationSettled)
export type JobEvent = typeof JobEvent.Type

/**
 * A user whose request was answered with an error (the queue was down, so the job never started) is not
 * notified again later. Every other failure is news to the user and is owed on both channels.
 */
const ledgerFor = (job: ExportJob, failure: JobFailure): NotificationLedger =>
  job._tag === "Queued" && failure.reason === "QueueUnavailable"
    ? NotificationLedger.skipped
    : NotificationLedger.pending

/**
 * Constructors called with values that are already typed domain values skip re-validating them: `transition` runs
 * on every step of every job, and the property tests check that every job it returns is valid.
 */
const TYPED = true

const invalid = (job: ExportJob, event: JobEvent) =>
  Either.left(new InvalidTransition({ jobId: job.jobId, from: job._tag, event: event._tag }))

/** The next state of `job` after `event`, or InvalidTransition. Every accepted event bumps the revision by one. */
export const transition = (job: ExportJob, event: JobEvent): Either.Either<ExportJob, InvalidTransition> => {
  const revision = job.revision + 1
  switch (event._tag) {
    case "Started":
      return job._tag === "Queued" || job._tag === "Running"
        ? Either.right(
          new RunningJob({ ...common(job), attempts: job.attempts + 1, revision, startedAt: event.at }, TYPED)
        )
        : invalid(job, event)
    case "Completed":
      return job._tag === "Running"
        ? Either.right(
          new SucceededJob({
            ...common(job),
            revision,
            startedAt: job.startedAt,
            finishedAt: event.at,
            result: event.result,
            notifications: NotificationLedger.pending
          }, TYPED)
        )
        : invalid(job, event)
    case "Failed":
      return job._tag === "Queued" || job._tag === "Running"
        ? Either.right(
          new FailedJob({
            ...common(job),
            revision,
            ...(job._tag === "Running" ? { startedAt: job.startedAt } : {}),
            finishedAt: event.at,
            failure: event.failure,
            notifications: ledgerFor(job, event.failure)
          }, TYPED)
        )
        : invalid(job, event)
    case "Cancelled":
      return job._tag === "Queued" || job._tag === "Running"
        ? Either.right(
          new CancelledJob({
            ...common(job),
            revision,
            ...(job._tag === "Running" ? { startedAt: job.startedAt } : {}),
            finishedAt: event.at
          }, TYPED)
        )
        : invalid(job, event)
    case "NotificationSettled": {
      if ((job._tag !== "Succeeded" && job._tag !== "Failed") || job.notifications[event.channel] !== "pending") {
        return invalid(job, event)
      }
      const notifications = new NotificationLedger({ ...job.notifications, [event.channel]: event.outcome })
      return Either.right(
        job._tag === "Succeeded"
          ? new SucceededJob({ ...job, revision, notifications }, TYPED)
          : new FailedJob({ ...job, revision, notifications }, TYPED)
      )
    }
  }
}

const common = (job: ExportJob) => ({
  jobId: job.jobId,
  owner: job.owner,
  email: job.email,
  report: job.report,
  format: job.format,
  requestedAt: job.requestedAt,
  attempts: job.attempts,
  revision: job.revision,
  ...(job.idempotencyKey === undefined ? {} : { idempotencyKey: job.idempotencyKey })
})

/**
 * How long an Idempotency-Key names the same export, in the words a user reads: what the API tells of the key is
 * built from this value, so it says what the stores apply.
 */
export const IDEMPOTENCY_WINDOW = "24 hours" satisfies Duration.DurationInput

/** The same window, for comparing epoch milliseconds. */
export const IDEMPOTENCY_WINDOW_MILLIS = Duration.toMillis(IDEMPOTENCY_WINDOW)

/** Two requests for the same report, parameters and format are the same export. */
export const sameRequest = (a: Pick<ExportJob, "report" | "format">, b: Pick<ExportJob, "report" | "format">) =>
  sameRequestAs(b)(a)

/**
 * `sameRequest` with one side fixed: a request is checked against every export its owner has in progress, so
 * the fixed side's parameters are read once and each candidate costs a few comparisons, usually just the first.
 */
export const sameRequestAs = (wanted: Pick<ExportJob, "report" | "format">) => {
  const params = wanted.report.params as Readonly<Record<string, unknown>>
  const keys = Object.keys(params)
  const values = keys.map((key) => params[key])
  return (candidate: Pick<ExportJob, "report" | "format">): boolean => {
    if (candidate.format !== wanted.format || candidate.report._tag !== wanted.report._tag) return false
    const other = candidate.report.params as Readonly<Record<string, unknown>>
    for (let i = 0; i < keys.length; i++) {
      const value = other[keys[i]!]
      if (value !== values[i] && !Equal.equals(value, values[i])) return false
    }
    return Object.keys(other).length === keys.length && keys.every((key) => key in other)
  }
}

export const newJob = (fields: {
  readonly jobId: ExportJobId
  readonly owner: Owner
  readonly email: QueuedJob["email"]
  readonly report: ReportRequest
  readonly format: ExportFormat
  readonly requestedAt: DateTime.Utc
  readonly idempotencyKey?: string | undefined
}): QueuedJob => {
  const { idempotencyKey, ...rest } = fields
  return new QueuedJob({
    ...rest,
    attempts: 0,
    revision: 0,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey })
  }, TYPED)
}
