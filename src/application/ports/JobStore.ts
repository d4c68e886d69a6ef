import type { DateTime, Duration, Effect } from "effect"
import { Context, Option } from "effect"
import type { ExportLimitReached, JobConflict, JobStoreUnavailable } from "../../domain/Errors.js"
import { isOverdue } from "../../domain/ExportJob.js"
import type { ExportJob, QueuedJob } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"
import type { ActiveExportLimits } from "../../domain/TenantLimits.js"

export interface JobPage {
  readonly jobs: ReadonlyArray<ExportJob>
  /** The last job of this page when more follow: ask for the jobs after it next. */
  readonly continueAfter: ExportJobId | undefined
}

export interface PageRequest {
  readonly limit: number
  /** Only jobs older than this one (ids sort by creation time). */
  readonly after: ExportJobId | undefined
}

/** What a create is judged by besides its id and idempotency key. */
export interface CreateChecks {
  /** The owner's and merchant's caps on exports in progress (ADR 45). */
  readonly limits?: ActiveExportLimits | undefined
  /**
   * Answer with the owner's same export in progress (`sameRequest`) instead of recording the job, unless that one
   * is overdue by this deadline (`inProgressAnswer`).
   */
  readonly inProgressDeadline?: Duration.Duration | undefined
}

/** Durable record of export jobs. Writes after creation are conditional on the revision read. */
export class JobStore extends Context.Tag("exports/JobStore")<JobStore, {
  /**
   * Records a new job, and answers None; or, with `inProgressDeadline`, answers the owner's newest same export in
   * progress (`inProgressAnswer`) among the jobs created with it, and records nothing. Everything is judged atomically
   * with the creation: of identical creates racing, one records its job and the others answer with it, in every
   * process. In order:
   * - JobConflict when its id exists, or when it carries an idempotency key that a job of the same owner was created
   *   with less than IDEMPOTENCY_WINDOW_MILLIS before it and still holds (`holdsIdempotencyKey`). A key its job gave
   *   up is taken over by the new job in one conditional step: of creates racing for it, one wins and the others
   *   fail with JobConflict.
   * - The same export in progress (`inProgressAnswer`), before the caps: a repeat is answered even at the cap.
   * - With `limits`, ExportLimitReached when the owner, or their merchant, already has as many jobs Queued or Running
   *   as its cap (`exportLimitReached`): of creates racing for the last slot, exactly one wins. A job holds its slot
   *   until it is written in a finished state (ADR 45).
   */
  readonly create: (
    job: QueuedJob,
    checks?: CreateChecks
  ) => Effect.Effect<Option.Option<ExportJob>, JobConflict | ExportLimitReached | JobStoreUnavailable>
  /**
   * The owner's newest job created with this idempotency key, however old and whether or not it still holds the key:
   * callers judge.
   */
  readonly findByIdempotencyKey: (
    owner: Owner,
    key: string
  ) => Effect.Effect<Option.Option<ExportJob>, JobStoreUnavailable>
  /** The owner's jobs still Queued or Running. */
  readonly listActive: (owner: Owner) => Effect.Effect<ReadonlyArray<ExportJob>, JobStoreUnavailable>
  /** Any job by id. Callers acting for a user must check ownership themselves (see GetExport). */
  readonly get: (jobId: ExportJobId) => Effect.Effect<Option.Option<ExportJob>, JobStoreUnavailable>
  /** Replaces `next.jobId` with `next` only if its stored revision is still `expectedRevision`. */
  readonly update: (next: ExportJob, expectedRevision: number) => Effect.Effect<void, JobConflict | JobStoreUnavailable>
  /**
   * Jobs of every owner still Queued or Running that were created before `before` (their ids sort below
   * `firstExportJobIdAt(before)`), and after the job `after` when given, oldest first, at most `limit`: what the
   * sweeper looks at, a page at a time (ADR 30). A store keeps an index of the jobs in progress for it, so a sweep
   * reads those, not the history.
   */
  readonly listActiveCreatedBefore: (
    before: DateTime.Utc,
    limit: number,
    after?: ExportJobId
  ) => Effect.Effect<ReadonlyArray<ExportJob>, JobStoreUnavailable>
  /** The owner's jobs, newest first. */
  readonly listByOwner: (owner: Owner, page: PageRequest) => Effect.Effect<JobPage, JobStoreUnavailable>
}>() {}

/**
 * Whether `job` still holds the idempotency key it was created with. A job failed with QueueUnavailable was never
 * started (its request was answered 503 `queue_unavailable`): its key is free again, so that the client's retry with
 * it starts the export rather than getting the failure back. Every other job holds its key for the whole window.
 * A failed job never changes again, so a store may decide on a job it read, conditionally on the key still naming it.
 */
export const holdsIdempotencyKey = (job: ExportJob): boolean =>
  !(job._tag === "Failed" && job.failure.reason === "QueueUnavailable")

/**
 * The job a create answers with instead of recording `job`: `newest`, the owner's newest job that is the same export
 * (`sameRequest`), while it is Queued or Running and not overdue at the job's request (`isOverdue`): nothing is
 * moving an overdue one, and the sweeper will fail it, so the request starts the export afresh.
 */
export const inProgressAnswer = (
  newest: ExportJob | undefined,
  job: QueuedJob,
  deadline: Duration.Duration
): Option.Option<ExportJob> =>
  newest === undefined || (newest._tag !== "Queued" && newest._tag !== "Running") ||
    isOverdue(newest, job.requestedAt, deadline)
    ? Option.none()
    : Option.some(newest)
