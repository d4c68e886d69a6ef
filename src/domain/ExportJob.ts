// The ExportJob and its life: Queued -> Running -> Succeeded | Failed, or Cancelled before it finishes.
// `transition` is the only way a job changes; it is pure, so every rule here is checked by property tests.
//
// A running job carries a lease: the delivery that started it holds the job until the lease expires, and renews it
// while it works; only an expired lease lets another delivery take the job over (ADR 28).
//
// A finished job also keeps a small ledger of the user's notifications (in-app, email). Each channel is claimed
// before it is sent and marked once sent, so that two deliveries never both send it, and a redelivered queue
// message finishes a delivery that a crash interrupted.
import { DateTime, Duration, Either, Equal, Match, Option, Schema } from "effect"
import type { LinkSigningFailed, QueryFailed, QueryTimeout, UploadFailed } from "./Errors.js"
import { InvalidTransition, NotificationChannel } from "./Errors.js"
import { EXPORT_FORMATS, ExportFormat, FILE_FORMATS } from "./FileFormats.js"
import { EmailAddress, ExportJobId, Owner } from "./Identifiers.js"
import { ReportRequest } from "./Reports.js"

const Count = Schema.Int.pipe(Schema.nonNegative())

/** The endings of every format's files, as a pattern: "csv|csv\\.gz|jsonl|parquet". */
const FILE_EXTENSIONS = [...new Set(EXPORT_FORMATS.map((format) => FILE_FORMATS[format].extension))]
  .map((extension) => extension.replaceAll(".", "\\."))
  .join("|")

export const ObjectKey = Schema.String.pipe(
  // Keys written before files were kept per attempt had no attempt folder; records holding one still read.
  Schema.pattern(
    new RegExp(`^exports\\/[A-Za-z0-9_-]{1,64}\\/[0-9a-f-]{36}(\\/attempt-[1-9][0-9]{0,5})?\\.(${FILE_EXTENSIONS})$`),
    { identifier: "object-key" }
  ),
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
  job: { readonly jobId: ExportJobId; readonly owner: Owner; readonly attempts: number; readonly format: ExportFormat }
): ObjectKey =>
  ObjectKey.make(
    `exports/${job.owner.merchantId}/${job.jobId}/attempt-${job.attempts}.${FILE_FORMATS[job.format].extension}`
  )

const OBJECT_KEY_SHAPE = /^exports\/[^/]+\/([^/]+)\/attempt-\d+\.[a-z0-9.]+$/

/** The job whose file `key` names, when it is a key `objectKeyFor` made. */
export const jobIdOfObjectKey = (key: string): Option.Option<ExportJobId> =>
  Option.fromNullable(OBJECT_KEY_SHAPE.exec(key)?.[1]).pipe(Option.filter(Schema.is(ExportJobId)))

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
  "Abandoned",
  "Cancelled",
  "TooManyRows",
  "FormatUnavailable"
)
export type FailureReason = typeof FailureReason.Type

export class JobFailure extends Schema.Class<JobFailure>("JobFailure")({
  reason: FailureReason,
  userMessage: Schema.String,
  retryable: Schema.Boolean
}) {}

/** The report has more rows than one export may write (TenantLimits' `rowsPerExport`): a narrower range will do. */
export const tooManyRowsFailure = (rowLimit: number): JobFailure =>
  new JobFailure({
    reason: "TooManyRows",
    userMessage: `This report has more than ${rowLimit.toLocaleString("en-US")} rows, the most one export may have. ` +
      "Choose a narrower date range, or split the export into several parts.",
    retryable: false
  })

/** The source cannot write the chosen format (ADR 50): another format will do, the same one never will. */
export const formatUnavailableFailure = (format: ExportFormat): JobFailure =>
  new JobFailure({
    reason: "FormatUnavailable",
    userMessage: `This report cannot be exported as ${FILE_FORMATS[format].name} here. ` +
      "Export it in another format, such as CSV or JSON Lines.",
    retryable: false
  })

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
        e.rowLimit !== undefined
          ? tooManyRowsFailure(e.rowLimit)
          : e.unavailableFormat !== undefined
          ? formatUnavailableFailure(e.unavailableFormat)
          : new JobFailure({
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

/**
 * The queue's last delivery of the job's message could not run it to an end (it crashed, or ran out of time, on
 * every receive): nothing would ever move the job again, so it is failed rather than left in progress. The user
 * did nothing wrong and a new request usually goes through.
 */
export const abandonedFailure = (job: ExportJob): JobFailure =>
  new JobFailure({
    reason: "Abandoned",
    userMessage: job._tag === "Running"
      ? "Your export was interrupted before it finished, because of a problem on our side. Please try again in a " +
        "few minutes; if it happens again, contact support."
      : "We could not start your export, because of a problem on our side. Please try again in a few minutes; if " +
        "it happens again, contact support.",
    retryable: true
  })

export const attemptsExhaustedFailure = new JobFailure({
  reason: "AttemptsExhausted",
  userMessage: "Your export stopped unexpectedly several times. Please try a shorter date range or contact support.",
  retryable: false
})

/** Who holds a lease or a claim: one delivery of a message, by one worker (a random id it makes for itself). */
export const Holder = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

/**
 * A running job's lease: `holder` runs the job until `expiresAt`, and renews it while it works. Once it has
 * expired another delivery may take the job over. Times are the workers' clocks: keep their skew well under the
 * lease's slack (two thirds of EXPORT_LEASE).
 */
export class Lease extends Schema.Class<Lease>("Lease")({
  holder: Holder,
  expiresAt: Schema.DateTimeUtc
}) {}

/** A lease or claim still holds at `at`; none at all (a record written before leases) counts as expired. */
export const isLive = (held: { readonly expiresAt: DateTime.Utc } | undefined, at: DateTime.Utc): boolean =>
  held !== undefined && DateTime.lessThan(at, held.expiresAt)

/** A channel taken by one delivery, which is sending it; once `expiresAt` has passed another may take it. */
export class ChannelClaim extends Schema.TaggedClass<ChannelClaim>()("Claimed", {
  holder: Holder,
  expiresAt: Schema.DateTimeUtc
}) {}

/** pending: still owed to the user; sent or failed: settled for good; skipped: the user was told some other way. */
export const DeliveryState = Schema.Literal("pending", "sent", "failed", "skipped")
export type DeliveryState = typeof DeliveryState.Type

/** A channel's state: settled, pending, or claimed by a delivery that is sending it. */
export const ChannelState = Schema.Union(DeliveryState, ChannelClaim)
export type ChannelState = typeof ChannelState.Type

export class NotificationLedger extends Schema.Class<NotificationLedger>("NotificationLedger")({
  inApp: ChannelState,
  email: ChannelState
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

/**
 * How far a running attempt has got: the rows and bytes written so far, and where the source says, the rows it will
 * read in all and the share of them read. Written at most about once a second by the lease's holder, and only ever
 * forward (`transition` keeps the larger of each count): a client never sees it go back, nor pass 100 percent.
 */
export class Progress extends Schema.Class<Progress>("Progress")({
  rows: Count,
  bytes: Count,
  totalRows: Schema.optional(Count),
  percent: Schema.optional(Schema.Number.pipe(Schema.between(0, 100)))
}) {}

export class QueuedJob extends Schema.TaggedClass<QueuedJob>()("Queued", jobFields) {}

export class RunningJob extends Schema.TaggedClass<RunningJob>()("Running", {
  ...jobFields,
  startedAt: Schema.DateTimeUtc,
  /** Absent from records written before leases: such a job counts as held by no one. */
  lease: Schema.optional(Lease),
  /** This attempt's progress, once its worker first reported it; a new attempt starts without. */
  progress: Schema.optional(Progress)
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

/**
 * A job still Queued or Running at `at`, though requested more than `deadline` before, and held by no live lease: no
 * worker is on it, and no delivery of its message is due that could still finish it in time (the deadline is longer
 * than a message can circulate on the queue). The sweeper fails it and tells its user, and a new request for the
 * same export is not answered with it.
 */
export const isOverdue = (job: ExportJob, at: DateTime.Utc, deadline: Duration.Duration): boolean =>
  (job._tag === "Queued" || (job._tag === "Running" && !isLive(job.lease, at))) &&
  DateTime.greaterThan(at, DateTime.addDuration(job.requestedAt, deadline))

/**
 * Whether the user may export `job` again at `at`: once it failed or was cancelled, or succeeded and its file has
 * expired. Not while it is in progress (it will end on its own), nor while its file can still be downloaded.
 */
export const canExportAgain = (job: ExportJob, at: DateTime.Utc): boolean =>
  job._tag === "Failed" || job._tag === "Cancelled" ||
  (job._tag === "Succeeded" && DateTime.greaterThanOrEqualTo(at, job.result.linkExpiresAt))

/** A channel that `at` may be claimed: still pending, or claimed by a delivery whose claim has expired. */
const claimable = (state: ChannelState, at: DateTime.Utc): boolean =>
  state === "pending" || (typeof state === "object" && !isLive(state, at))

/** Notifications still owed for a finished job that a delivery may claim at `at` (none for one in flight). */
export const claimableChannels = (job: ExportJob, at: DateTime.Utc): ReadonlyArray<NotificationChannel> =>
  job._tag === "Succeeded" || job._tag === "Failed"
    ? NotificationChannel.literals.filter((channel) => claimable(job.notifications[channel], at))
    : []

/** The live claims on a finished job's channels: deliveries sending them now. */
export const liveClaims = (job: ExportJob, at: DateTime.Utc): ReadonlyArray<ChannelClaim> =>
  job._tag === "Succeeded" || job._tag === "Failed"
    ? NotificationChannel.literals.flatMap((channel) => {
      const state = job.notifications[channel]
      return typeof state === "object" && isLive(state, at) ? [state] : []
    })
    : []

// ---- events ----

/**
 * A delivery took the job, holding `lease`: the first time, or again once the lease of an earlier attempt expired
 * (its worker died, or stopped renewing).
 */
export const Started = Schema.TaggedStruct("Started", { at: Schema.DateTimeUtc, lease: Lease })
/** The lease's holder extends it while it works. */
export const LeaseRenewed = Schema.TaggedStruct("LeaseRenewed", { lease: Lease })
/** The lease's holder lets the job go before its lease runs out (it was interrupted, or crashed). */
export const LeaseReleased = Schema.TaggedStruct("LeaseReleased", { at: Schema.DateTimeUtc, holder: Holder })
/** The lease's holder reports how far its attempt has got. */
export const ProgressReported = Schema.TaggedStruct("ProgressReported", { holder: Holder, progress: Progress })
export const Completed = Schema.TaggedStruct("Completed", { at: Schema.DateTimeUtc, result: ExportResult })
export const Failed = Schema.TaggedStruct("Failed", { at: Schema.DateTimeUtc, failure: JobFailure })
export const Cancelled = Schema.TaggedStruct("Cancelled", { at: Schema.DateTimeUtc })
/** A delivery takes a channel before sending it: pending, or claimed by another whose claim expired by `at`. */
export const NotificationClaimed = Schema.TaggedStruct("NotificationClaimed", {
  channel: NotificationChannel,
  at: Schema.DateTimeUtc,
  claim: ChannelClaim
})
/** The claim's holder records what came of its sending. */
export const NotificationSettled = Schema.TaggedStruct("NotificationSettled", {
  channel: NotificationChannel,
  holder: Holder,
  outcome: Schema.Literal("sent", "failed")
})

export const JobEvent = Schema.Union(
  Started,
  LeaseRenewed,
  LeaseReleased,
  ProgressReported,
  Completed,
  Failed,
  Cancelled,
  NotificationClaimed,
  NotificationSettled
)
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
      // A running job is taken over only once its holder's lease has run out: while it holds, its worker is alive.
      return job._tag === "Queued" || (job._tag === "Running" && !isLive(job.lease, event.at))
        ? Either.right(
          new RunningJob({
            ...common(job),
            attempts: job.attempts + 1,
            revision,
            startedAt: event.at,
            lease: event.lease
          }, TYPED)
        )
        : invalid(job, event)
    case "LeaseRenewed":
      return job._tag === "Running" && job.lease?.holder === event.lease.holder
        ? Either.right(new RunningJob({ ...job, revision, lease: event.lease }, TYPED))
        : invalid(job, event)
    case "LeaseReleased":
      return job._tag === "Running" && job.lease?.holder === event.holder
        ? Either.right(
          new RunningJob(
            { ...job, revision, lease: new Lease({ holder: event.holder, expiresAt: event.at }, TYPED) },
            TYPED
          )
        )
        : invalid(job, event)
    case "ProgressReported":
      return job._tag === "Running" && job.lease?.holder === event.holder
        ? Either.right(new RunningJob({ ...job, revision, progress: forward(job.progress, event.progress) }, TYPED))
        : invalid(job, event)
    case "Completed":
      // A file holds every row the attempt reported written: fewer would be a file cut short.
      return job._tag === "Running" && event.result.rowCount >= (job.progress?.rows ?? 0)
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
    case "NotificationClaimed":
      return (job._tag === "Succeeded" || job._tag === "Failed") &&
          claimable(job.notifications[event.channel], event.at)
        ? Either.right(withChannel(job, revision, event.channel, event.claim))
        : invalid(job, event)
    case "NotificationSettled": {
      if (job._tag !== "Succeeded" && job._tag !== "Failed") return invalid(job, event)
      const state = job.notifications[event.channel]
      return typeof state === "object" && state.holder === event.holder
        ? Either.right(withChannel(job, revision, event.channel, event.outcome))
        : invalid(job, event)
    }
  }
}

/** The later of two reports, count by count: what a reader sees only moves forward, and never passes 100 percent. */
const forward = (held: Progress | undefined, next: Progress): Progress => {
  const totalRows = next.totalRows ?? held?.totalRows
  const percents = [held?.percent, next.percent].filter((percent) => percent !== undefined)
  return new Progress({
    rows: Math.max(held?.rows ?? 0, next.rows),
    bytes: Math.max(held?.bytes ?? 0, next.bytes),
    ...(totalRows === undefined ? {} : { totalRows }),
    ...(percents.length === 0 ? {} : { percent: Math.min(100, Math.max(0, ...percents)) })
  }, TYPED)
}

const withChannel = (
  job: SucceededJob | FailedJob,
  revision: number,
  channel: NotificationChannel,
  state: ChannelState
): SucceededJob | FailedJob => {
  const notifications = new NotificationLedger({ ...job.notifications, [channel]: state }, TYPED)
  return job._tag === "Succeeded"
    ? new SucceededJob({ ...job, revision, notifications }, TYPED)
    : new FailedJob({ ...job, revision, notifications }, TYPED)
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
