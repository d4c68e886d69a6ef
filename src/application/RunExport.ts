// The worker's half: take a queued job, stream its rows into a CSV file in object storage, sign a link and tell
// the user, in-app and by email. Every failure from the query on ends the job Failed and tells the user too.
//
// A queue may deliver a message more than once, and two deliveries of one job may run at once. The job record
// decides what a delivery still has to do: a running job is taken over only once its lease has expired, and each
// notice is claimed on the record before it is sent, so two live workers never both run the query or both send a
// notice (ADR 3, ADR 28).
import { Cause, Data, DateTime, Duration, Effect, Either, Exit, Option, Schedule, SynchronizedRef } from "effect"
import { Redacted } from "effect"
import type {
  InvalidTransition,
  JobConflict,
  JobStoreUnavailable,
  LinkSigningFailed,
  QueryFailed,
  QueryTimeout,
  UploadFailed
} from "../domain/Errors.js"
import { NotificationFailed } from "../domain/Errors.js"
import type { NotificationChannel } from "../domain/Errors.js"
import type { ExportJob, FailedJob, JobEvent, RunningJob, SucceededJob } from "../domain/ExportJob.js"
import {
  abandonedFailure,
  attemptsExhaustedFailure,
  ChannelClaim,
  claimableChannels,
  ExportResult,
  failureOf,
  isFinished,
  isLive,
  isOverdue,
  Lease,
  liveClaims,
  objectKeyFor,
  Progress,
  transition
} from "../domain/ExportJob.js"
import { maskEmail } from "../domain/Identifiers.js"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { inAppRetry, PROGRESS_INTERVAL } from "./ExportSchedules.js"
import { ExportSettings } from "./ExportSettings.js"
import type { ExportSettingsShape } from "./ExportSettings.js"
import { failureEmailFor, inAppNotificationFor, successEmailFor } from "./Messages.js"
import { EmailSender } from "./ports/EmailSender.js"
import { ExportLinks } from "./ports/ExportLinks.js"
import type { SignedLink } from "./ports/FileStore.js"
import { FileStore } from "./ports/FileStore.js"
import { InAppNotifier } from "./ports/InAppNotifier.js"
import type { ExportMessage } from "./ports/JobQueue.js"
import { JobStore } from "./ports/JobStore.js"
import type { Tally } from "./WriteFile.js"
import { newTally, writeFile } from "./WriteFile.js"

/**
 * What a delivery of a message came to. Every outcome but Deferred (and a store outage, which fails) means the
 * message can be deleted.
 */
export type RunOutcome =
  | { readonly _tag: "Finished"; readonly job: SucceededJob | FailedJob }
  | { readonly _tag: "AlreadyFinished"; readonly job: ExportJob }
  /** Another delivery changed the job under us (took it over, or failed it); it owns the job now. */
  | { readonly _tag: "Superseded"; readonly jobId: string }
  /** Its owner cancelled the job: this delivery stopped its attempt, if it had one, and left no file. */
  | { readonly _tag: "Cancelled"; readonly jobId: string }
  /** The message names no job we know, or a job of another owner: nothing to do, ever. */
  | { readonly _tag: "Discarded"; readonly reason: string }
  /**
   * Another live delivery holds the job (its lease) or a notice it is sending (a claim) until `until`: this copy
   * is for later, when that delivery has finished or its hold has run out.
   */
  | { readonly _tag: "Deferred"; readonly jobId: string; readonly until: DateTime.Utc }

/** What the queue tells of one delivery of a message; nothing when it says nothing. */
export interface Delivery {
  /** How many times the queue has handed the message out, this time included (SQS: ApproximateReceiveCount). */
  readonly receiveCount?: number | undefined
  /**
   * How many receives the queue allows before it gives the message up (SQS: the redrive policy's maxReceiveCount,
   * QUEUE_MAX_RECEIVES); undefined when it never does.
   */
  readonly maxReceives?: number | undefined
}

/** A delivery the queue says nothing about. */
export const unknownDelivery: Delivery = {}

/** No later delivery of this message will come: the queue gives it up after this one. */
export const isLastReceive = (delivery: Delivery): boolean =>
  delivery.receiveCount !== undefined && delivery.maxReceives !== undefined &&
  delivery.receiveCount >= delivery.maxReceives

/**
 * Transient query and upload failures are retried twice, 2 s then 4 s apart, before the job fails. Each retry
 * runs the query again from the start with a fresh query timeout: the timeout covers one attempt.
 */
export const transientFailureRetry = Schedule.exponential(Duration.seconds(2)).pipe(
  Schedule.intersect(Schedule.recurs(2))
)

/** A notice's mark after its sending rides out a store blip: four more tries, 200 ms to 1.6 s apart. */
export const markRetry = Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(4)))

/**
 * A failed email is tried again 1 s, 2 s, 4 s ... apart (never more than a minute apart) until `window`
 * (EMAIL_RETRY_WINDOW) has passed since the first try; then it is given up. The window covers all the tries.
 */
export const emailRetry = (window: Duration.Duration) =>
  Schedule.exponential(Duration.seconds(1)).pipe(
    Schedule.union(Schedule.spaced(Duration.minutes(1))),
    Schedule.upTo(window)
  )

/**
 * How much longer a claim lasts than the tries it covers: more than one send may take (SES gives up after 20 s)
 * with the link signed before it, so that a live sender never sees its claim run out under it.
 */
export const CLAIM_MARGIN = Duration.minutes(1)

/**
 * How a delivery sends notices: `full` with each channel's retries; `once` with one try each, for a delivery with
 * no time left (a runtime giving up a message it could not start or had to interrupt on its last receive).
 */
type Tries = "full" | "once"

const claimDuration = (channel: NotificationChannel, tries: Tries, settings: ExportSettingsShape): Duration.Duration =>
  channel === "email" && tries === "full" ? Duration.sum(settings.emailRetryWindow, CLAIM_MARGIN) : CLAIM_MARGIN

const isTransient = (error: QueryTimeout | QueryFailed | UploadFailed): boolean =>
  error._tag !== "QueryTimeout" && error.retryable

/** A fresh holder for each delivery: two deliveries never share a lease or a claim. */
const newHolder = Effect.sync(() => globalThis.crypto.randomUUID())

/**
 * The job as this delivery last wrote or read it. Every write of the delivery goes through `commit`, one at a
 * time and on the revision it holds, so the lease's renewals and the export's own steps never race each other, and
 * any write by another delivery in between fails the next one with JobConflict.
 */
interface JobHandle {
  readonly current: Effect.Effect<ExportJob>
  readonly commit: (event: JobEvent) => Effect.Effect<ExportJob, InvalidTransition | JobConflict | JobStoreUnavailable>
  /** Reads the job again, after another delivery changed it. */
  readonly reload: Effect.Effect<ExportJob, JobStoreUnavailable>
}

const handleOn = (job: ExportJob) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const ref = yield* SynchronizedRef.make(job)
    return {
      current: SynchronizedRef.get(ref),
      // Uninterruptible, so that a write that landed is always the revision the handle holds.
      commit: (event) =>
        SynchronizedRef.modifyEffect(ref, (held) =>
          Effect.gen(function*() {
            const next = yield* transition(held, event)
            yield* store.update(next, held.revision)
            return [next, next] as const
          })).pipe(Effect.uninterruptible),
      reload: SynchronizedRef.updateAndGetEffect(
        ref,
        (held) => Effect.map(store.get(held.jobId), Option.getOrElse(() => held))
      )
    } satisfies JobHandle
  })

/** A transition this delivery computed from the job it holds is always valid: if not, that is a bug. */
const commit = <J extends ExportJob>(handle: JobHandle, event: JobEvent) =>
  handle.commit(event).pipe(
    Effect.catchTag("InvalidTransition", (error) => Effect.die(error)),
    Effect.map((job) => job as J)
  )

const leaseFrom = (holder: string, now: DateTime.Utc, settings: ExportSettingsShape) =>
  new Lease({ holder, expiresAt: DateTime.addDuration(now, settings.lease) })

/** The owner cancelled the job while this delivery ran it: the attempt is stopped. Never leaves this module. */
class AttemptCancelled extends Data.TaggedError("AttemptCancelled") {}

/** Whether the stored job is Cancelled; a store outage says no (the progress timer asks again at its next tick). */
const cancelledInStore = (handle: JobHandle) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const held = yield* handle.current
    const stored = yield* Effect.option(store.get(held.jobId))
    return Option.exists(Option.flatten(stored), (job) => job._tag === "Cancelled")
  })

/**
 * Renews the lease every third of its duration for as long as it runs; a timer beside the export, never on the
 * rows' path. Fails with AttemptCancelled when its owner cancelled the job, and with JobConflict when the job
 * changed under this delivery otherwise (another took it over, or failed it): the job is no longer ours. A store
 * outage is tried again at the next renewal, unless the lease would run out before the one after: then it fails
 * with JobStoreUnavailable, before another delivery may take the job over, and the message is left for later.
 */
const renewLease = (handle: JobHandle, holder: string) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const period = Duration.millis(Duration.toMillis(settings.lease) / 3)
    while (true) {
      yield* Effect.sleep(period)
      const now = yield* DateTime.now
      const renewed = yield* Effect.either(
        commit(handle, { _tag: "LeaseRenewed", lease: leaseFrom(holder, now, settings) })
      )
      if (Either.isRight(renewed)) continue
      const error = renewed.left
      if (error._tag === "JobConflict") {
        // A cancel is found here as often as by the progress timer, whichever writes first after it.
        if (yield* cancelledInStore(handle)) return yield* new AttemptCancelled()
        yield* Effect.logWarning("lease lost: the job changed under this worker; stopping the export")
        return yield* error
      }
      // Stopped while a period of the lease is left, should the next renewal fail too: no other delivery can have
      // taken the job before this one stops, even with the workers' clocks a little apart.
      const held = yield* handle.current
      const runningOut = held._tag === "Running" && !isLive(held.lease, DateTime.addDuration(now, period))
      yield* Effect.logWarning("could not renew the lease", { detail: error.detail, stopping: runningOut })
      if (runningOut) return yield* error
    }
  })

/**
 * The percent is the source's share of what it will read, not the rows written over `totalRows`: those count
 * different rows. A report that filters or sums (two of the catalogue's three sum order lines by period or product)
 * writes far fewer rows than its query reads, and would sit near 0 % until the job jumped to done. The share read
 * runs a little ahead of the file (rows in buffers between the two), and a query that must read everything before
 * its first row (a sort the table's order does not give) shows 100 % while its rows still stream; the domain never
 * lets it go back or past 100 (`transition`).
 */
const progressOf = (tally: Tally): Progress => {
  const { source } = tally
  return new Progress({
    rows: tally.rows,
    bytes: tally.bytes,
    ...(source === undefined ? {} : {
      totalRows: source.totalRows,
      percent: Math.min(100, Math.floor((source.readRows / source.totalRows) * 100))
    })
  })
}

const sameProgress = (a: Progress | undefined, b: Progress): boolean =>
  a !== undefined && a.rows === b.rows && a.bytes === b.bytes && a.percent === b.percent &&
  a.totalRows === b.totalRows

/**
 * Beside the attempt, once every PROGRESS_INTERVAL: writes its progress when it changed, off the rows' path (the
 * rows only count into `tally`), through the delivery's serialised handle; when it did not change, reads the job.
 * Fails with AttemptCancelled when the job was cancelled (the write conflicts, or the read finds it so), and with
 * JobConflict when another delivery changed it; a store outage is left to the lease's renewals.
 */
const watchAttempt = (handle: JobHandle, holder: string, tally: Tally) =>
  Effect.gen(function*() {
    let reported: Progress | undefined
    while (true) {
      yield* Effect.sleep(PROGRESS_INTERVAL)
      const progress = progressOf(tally)
      if (sameProgress(reported, progress)) {
        if (yield* cancelledInStore(handle)) return yield* new AttemptCancelled()
        continue
      }
      const written = yield* Effect.either(commit(handle, { _tag: "ProgressReported", holder, progress }))
      if (Either.isRight(written)) {
        reported = progress
        continue
      }
      if (written.left._tag !== "JobConflict") continue
      if (yield* cancelledInStore(handle)) return yield* new AttemptCancelled()
      yield* Effect.logWarning("lease lost: the job changed under this worker; stopping the export")
      return yield* written.left
    }
  })

/** Lets the job go at once when the attempt was interrupted or crashed, so that a redelivery need not wait. */
const releaseLease = (handle: JobHandle, holder: string) =>
  Effect.gen(function*() {
    yield* handle.commit({ _tag: "LeaseReleased", at: yield* DateTime.now, holder })
    yield* Effect.logInfo("lease released")
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning("could not release the lease; it runs out by itself", { error: error._tag })
    )
  )

/**
 * Runs `attempt` under the lease: renewed beside it, its progress written beside it (`watchAttempt`), and the lease
 * released if the attempt is interrupted or dies. When a renewal or a progress write finds the job is no longer
 * ours, the attempt is interrupted (an interrupted upload leaves nothing, by the FileStore's contract; the source
 * kills its query) and this fails with JobConflict, or AttemptCancelled when its owner cancelled it.
 */
const holdingLease = <A, E, R>(attempt: Effect.Effect<A, E, R>, handle: JobHandle, holder: string, tally: Tally) =>
  Effect.raceFirst(
    Effect.either(attempt),
    Effect.raceFirst(renewLease(handle, holder), watchAttempt(handle, holder, tally))
  ).pipe(
    Effect.onExit((exit) =>
      Exit.isFailure(exit) && Option.isNone(Cause.failureOption(exit.cause))
        ? releaseLease(handle, holder)
        : Effect.void
    )
  )

const produce = (job: RunningJob, tally: Tally) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const files = yield* FileStore
    const file = yield* writeFile(job, tally).pipe(
      Effect.tapError((error) => Effect.logWarning("attempt failed", { error: error._tag })),
      Effect.retry({ schedule: transientFailureRetry, while: isTransient })
    )
    const link: SignedLink = yield* files.signDownload(file.objectKey, settings.linkTtl)
    yield* Effect.logInfo("download link signed", { expiresAt: DateTime.formatIso(link.expiresAt) })
    return { result: new ExportResult({ ...file, linkExpiresAt: link.expiresAt }), link }
  })

const detailOf = (error: QueryTimeout | QueryFailed | UploadFailed | LinkSigningFailed): string =>
  error._tag === "QueryTimeout"
    ? `no last row after ${error.afterMillis} ms (${error.rowsBeforeTimeout} rows read)`
    : error.detail

/** The link for a success email: the one just signed, or, on a redelivery, a new one that expires as promised. */
const linkForEmail = (job: SucceededJob, fresh: Option.Option<SignedLink>) =>
  Option.match(fresh, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.gen(function*() {
        const files = yield* FileStore
        const remaining = DateTime.distanceDuration(yield* DateTime.now, job.result.linkExpiresAt)
        if (DateTime.lessThanOrEqualTo(job.result.linkExpiresAt, yield* DateTime.now)) {
          return yield* new NotificationFailed({
            channel: "email",
            detail: "the download link expired before the email"
          })
        }
        return yield* files.signDownload(job.result.objectKey, remaining).pipe(
          Effect.mapError((error) => new NotificationFailed({ channel: "email", detail: error.detail }))
        )
      })
  })

const deliver = (job: SucceededJob | FailedJob, channel: NotificationChannel, fresh: Option.Option<SignedLink>) =>
  Effect.gen(function*() {
    const links = yield* ExportLinks
    const { title } = (yield* CurrentCatalogue).definitionOf(job.report)
    if (channel === "inApp") {
      const notifier = yield* InAppNotifier
      return yield* notifier.deliver(inAppNotificationFor(job, title, links.inApp(job), yield* DateTime.now))
    }
    const page = links.appPage(job.jobId)
    const email = yield* EmailSender
    const message = job._tag === "Succeeded"
      ? successEmailFor(job, title, yield* linkForEmail(job, fresh), page)
      : failureEmailFor(job, title, page)
    yield* email.send(message)
  })

/**
 * `deliver` with the channel's retries: the email's for EMAIL_RETRY_WINDOW, the in-app notice's briefly; a failure
 * that says it is not retryable is not tried again.
 */
const deliverTrying = (
  job: SucceededJob | FailedJob,
  channel: NotificationChannel,
  fresh: Option.Option<SignedLink>,
  tries: Tries
) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const schedule: Schedule.Schedule<unknown> = tries === "once"
      ? Schedule.stop
      : channel === "email"
      ? emailRetry(settings.emailRetryWindow)
      : inAppRetry
    return yield* deliver(job, channel, fresh).pipe(
      Effect.tapError((error) =>
        error.retryable
          ? Effect.logWarning("notification not delivered; it is tried again until its retries run out", {
            channel,
            detail: error.detail
          })
          : Effect.logError("notification refused for good; it is not tried again", {
            channel,
            detail: error.detail
          })
      ),
      // A refusal for good (the provider rejected the message itself) is given up at once, not for the window.
      Effect.retry({ schedule, while: (error) => error.retryable })
    )
  })

/** The earliest of the live holds of other deliveries on a finished job's notices, if any. */
const othersClaimUntil = (job: ExportJob, holder: string, now: DateTime.Utc): Option.Option<DateTime.Utc> =>
  Option.fromNullable(
    liveClaims(job, now)
      .filter((claim) => claim.holder !== holder)
      .map((claim) => claim.expiresAt)
      .sort((a, b) => DateTime.toEpochMillis(a) - DateTime.toEpochMillis(b))[0]
  )

/** Claims, conflicts and reloads are bounded: each round settles a channel or finds another delivery's write. */
const MAX_SETTLING_ROUNDS = 8

/**
 * Records the channel's outcome on the job. Another delivery's write in between (its claim of the other channel,
 * say) is read and the record tried again while the claim is still this delivery's; once another has taken the
 * channel (this claim ran out while sending), the notice may be sent twice, and that is logged.
 */
const markSettled = (
  handle: JobHandle,
  holder: string,
  channel: NotificationChannel,
  outcome: "sent" | "failed"
) =>
  Effect.gen(function*() {
    for (let round = 0; round < MAX_SETTLING_ROUNDS; round++) {
      const marked = yield* commit(handle, { _tag: "NotificationSettled", channel, holder, outcome }).pipe(
        // A mark lost to a store blip is a notice sent again once its claim runs out.
        Effect.retry({ schedule: markRetry, while: (error) => error._tag === "JobStoreUnavailable" }),
        Effect.as(true),
        Effect.catchTag("JobConflict", () => Effect.as(handle.reload, false))
      )
      if (marked) return
      const job = yield* handle.current
      const state = (job._tag === "Succeeded" || job._tag === "Failed") ? job.notifications[channel] : undefined
      if (typeof state !== "object" || state.holder !== holder) {
        return yield* Effect.logWarning(
          "this delivery's claim ran out while it was sending and another delivery took the channel: the notice " +
            "may be sent twice",
          { channel }
        )
      }
    }
    yield* Effect.logWarning("could not record the notice for contention; its claim runs out and it is sent again", {
      channel
    })
  })

/**
 * Delivers each notice still owed: claims its channel on the job, sends it (with retries), then records it sent or
 * failed. A channel another delivery claimed and is sending is left to it: the outcome is then Deferred until its
 * claim runs out, so that the message comes back should that delivery die. A failed delivery is logged, never
 * fatal to the job.
 */
const settleNotifications = (handle: JobHandle, holder: string, fresh: Option.Option<SignedLink>, tries: Tries) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    for (let round = 0; round < MAX_SETTLING_ROUNDS; round++) {
      const now = yield* DateTime.now
      const [channel] = claimableChannels(yield* handle.current, now)
      if (channel === undefined) break
      const claim = new ChannelClaim({
        holder,
        expiresAt: DateTime.addDuration(now, claimDuration(channel, tries, settings))
      })
      const claimed = yield* commit<SucceededJob | FailedJob>(handle, {
        _tag: "NotificationClaimed",
        channel,
        at: now,
        claim
      }).pipe(
        Effect.asSome,
        // Another delivery wrote first: decide again on what the job holds now.
        Effect.catchTag("JobConflict", () => Effect.as(handle.reload, Option.none()))
      )
      if (Option.isNone(claimed)) continue
      const job = claimed.value
      const delivered = yield* Effect.either(deliverTrying(job, channel, fresh, tries))
      if (Either.isLeft(delivered)) {
        yield* Effect.logError("notification failed", { channel, detail: delivered.left.detail })
      } else {
        yield* Effect.logInfo("notification sent", {
          channel,
          ...(channel === "email" ? { to: maskEmail(Redacted.value(job.email)) } : {})
        })
      }
      yield* markSettled(handle, holder, channel, Either.isRight(delivered) ? "sent" : "failed")
    }
    const job = (yield* handle.current) as SucceededJob | FailedJob
    const now = yield* DateTime.now
    const blocked = claimableChannels(job, now).length > 0 ? Option.some(now) : othersClaimUntil(job, holder, now)
    if (Option.isSome(blocked)) {
      yield* Effect.logInfo("another delivery is sending this job's notices; leaving this copy for later", {
        until: DateTime.formatIso(blocked.value)
      })
      return { _tag: "Deferred", jobId: job.jobId, until: blocked.value } as const
    }
    return { _tag: "Finished", job } as const
  })

const finish = (handle: JobHandle, holder: string, tries: Tries) =>
  Effect.gen(function*() {
    const job = yield* handle.current
    const now = yield* DateTime.now
    if (claimableChannels(job, now).length > 0 || Option.isSome(othersClaimUntil(job, holder, now))) {
      yield* Effect.logInfo("finished job still owes notifications", { status: job._tag })
      return yield* settleNotifications(handle, holder, Option.none(), tries)
    }
    yield* Effect.logInfo("job already finished; nothing to do", { status: job._tag })
    return { _tag: "AlreadyFinished", job } as const
  })

const failWith = (handle: JobHandle, holder: string, failure: FailedJob["failure"], tries: Tries) =>
  Effect.gen(function*() {
    yield* commit<FailedJob>(handle, { _tag: "Failed", at: yield* DateTime.now, failure })
    return yield* settleNotifications(handle, holder, Option.none(), tries)
  })

const cancelled = Symbol("cancelled")

const run = (handle: JobHandle, holder: string) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const job = yield* handle.current
    if (isFinished(job)) return yield* finish(handle, holder, "full")
    const now = yield* DateTime.now

    // Held by a live delivery: its worker renews the lease while it works, so taking the job now would run the
    // query a second time side by side. This copy is left for later: it then finds the job finished, or takes over
    // a job whose worker died and stopped renewing.
    if (job._tag === "Running" && job.lease !== undefined && isLive(job.lease, now)) {
      yield* Effect.logInfo("job is running under another delivery's lease; leaving this copy for later", {
        attempts: job.attempts,
        leaseExpiresAt: DateTime.formatIso(job.lease.expiresAt)
      })
      return { _tag: "Deferred", jobId: job.jobId, until: job.lease.expiresAt } as const
    }

    if (job._tag === "Running" && job.attempts >= settings.maxAttempts) {
      yield* Effect.logError("job started too many times without finishing", { attempts: job.attempts })
      return yield* failWith(handle, holder, attemptsExhaustedFailure, "full")
    }

    const running = yield* commit<RunningJob>(handle, {
      _tag: "Started",
      at: now,
      lease: leaseFrom(holder, now, settings)
    })
    yield* Effect.logInfo("export running", { attempt: running.attempts, reportType: running.report._tag })

    const tally = newTally()
    const produced = yield* holdingLease(produce(running, tally), handle, holder, tally).pipe(
      Effect.catchTag("AttemptCancelled", () => Effect.succeed(cancelled))
    )
    if (produced === cancelled) {
      // An upload interrupted as it completed may have published its object all the same: no record will name it.
      yield* (yield* FileStore).remove(objectKeyFor(running))
      yield* Effect.logInfo("export cancelled by its owner; its attempt is stopped and left no file")
      return { _tag: "Cancelled", jobId: job.jobId } as const
    }
    if (Either.isLeft(produced)) {
      const error = produced.left
      yield* Effect.logError("export failed", { error: error._tag, detail: detailOf(error) })
      return yield* failWith(handle, holder, failureOf(error), "full")
    }
    const completed = yield* Effect.either(commit<SucceededJob>(handle, {
      _tag: "Completed",
      at: yield* DateTime.now,
      result: produced.right.result
    }))
    if (Either.isLeft(completed)) {
      // Cancelled as the upload completed: no record will ever name the file, so it goes now.
      if (completed.left._tag === "JobConflict" && (yield* cancelledInStore(handle))) {
        yield* (yield* FileStore).remove(produced.right.result.objectKey)
        yield* Effect.logInfo("export cancelled by its owner as its upload completed; its file is deleted")
        return { _tag: "Cancelled", jobId: job.jobId } as const
      }
      return yield* completed.left
    }
    const succeeded = completed.right
    yield* Effect.logInfo("export succeeded", { rows: succeeded.result.rowCount, bytes: succeeded.result.byteSize })
    return yield* settleNotifications(handle, holder, Option.some(produced.right.link), "full")
  })

/** Fails a job still in progress, whatever holds it, and tells its user; a finished one only gets what it owes. */
const abandon = (handle: JobHandle, holder: string, tries: Tries) =>
  Effect.gen(function*() {
    const job = yield* handle.current
    if (isFinished(job)) return yield* finish(handle, holder, tries)
    yield* Effect.logError("the message's last delivery could not run the export; failing the job", {
      status: job._tag,
      attempts: job.attempts
    })
    return yield* failWith(handle, holder, abandonedFailure(job), tries)
  })

/**
 * Fails a job past its deadline with no live lease (`isOverdue`), and tells its user; a job that is not, or no
 * longer, overdue is left as it is (Deferred until it would be), and a finished one to its own message.
 */
const failOverdue = (handle: JobHandle, holder: string) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const job = yield* handle.current
    if (isFinished(job)) return { _tag: "AlreadyFinished", job } as const
    const now = yield* DateTime.now
    if (!isOverdue(job, now, settings.deadline)) {
      const until = job._tag === "Running" && job.lease !== undefined && isLive(job.lease, now)
        ? job.lease.expiresAt
        : DateTime.addDuration(job.requestedAt, settings.deadline)
      return { _tag: "Deferred", jobId: job.jobId, until } as const
    }
    yield* Effect.logError("job is past its deadline and no worker holds it; failing it", {
      status: job._tag,
      attempts: job.attempts,
      requestedAt: DateTime.formatIso(job.requestedAt)
    })
    return yield* failWith(handle, holder, abandonedFailure(job), "full")
  })

/** One decision of a delivery (or of the sweeper) on the job it holds, through its handle and as `holder`. */
type JobStep<R> = (handle: JobHandle, holder: string) => Effect.Effect<RunOutcome, JobConflict | JobStoreUnavailable, R>

/**
 * Runs `step` on the message's job until it is done with. Deferred ends the delivery, unless `waitOut`: no later
 * delivery of the message will come (its last receive), so this one waits until the other delivery's lease or claim
 * runs out, reads the job again and goes on; the other delivery is renewing its lease while it works, so the wait
 * ends when it finishes or dies.
 */
const onJob = <R>(
  message: ExportMessage,
  waitOut: boolean,
  step: JobStep<R>
) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const found = yield* store.get(message.jobId)
    if (Option.isNone(found)) {
      yield* Effect.logError("message names an unknown job; discarding it")
      return { _tag: "Discarded", reason: "unknown job" } as const
    }
    const job = found.value
    if (job.owner.userId !== message.userId || job.owner.merchantId !== message.merchantId) {
      yield* Effect.logError("message owner does not match the job; discarding it")
      return { _tag: "Discarded", reason: "owner mismatch" } as const
    }
    return yield* onHeldJob(job, waitOut, step)
  })

/** `onJob`'s loop, on a job already read and checked. */
const onHeldJob = <R>(
  job: ExportJob,
  waitOut: boolean,
  step: JobStep<R>
) =>
  Effect.gen(function*() {
    const handle = yield* handleOn(job)
    const holder = yield* newHolder
    while (true) {
      const outcome: RunOutcome = yield* step(handle, holder).pipe(
        Effect.catchTag(
          "JobConflict",
          () =>
            Effect.logWarning("job changed under this worker; leaving it to the other").pipe(
              Effect.as({ _tag: "Superseded", jobId: job.jobId } as const)
            )
        )
      )
      if (outcome._tag !== "Deferred" || !waitOut) return outcome
      // At least a second, so that a hold that keeps moving (contention on the notices) is not polled in a spin.
      const wait = Math.max(1_000, DateTime.distance(yield* DateTime.now, outcome.until))
      yield* Effect.logInfo("the message's last receive: waiting for the other delivery", {
        until: DateTime.formatIso(outcome.until)
      })
      yield* Effect.sleep(Duration.millis(wait))
      yield* handle.reload
    }
  })

const annotated = <A, E, R>(effect: Effect.Effect<A, E, R>, message: ExportMessage) =>
  effect.pipe(Effect.annotateLogs({ jobId: message.jobId }), Effect.annotateSpans({ jobId: message.jobId }))

/**
 * Handles one delivery of an export message. Fails only with JobStoreUnavailable, and returns Deferred only when
 * another live delivery holds the job or a notice it owes: in both cases the message must be kept for a later
 * delivery; every other outcome is final and the message can be acknowledged. On the message's last receive it
 * never returns Deferred: it waits the other delivery out.
 */
export const runExport = Effect.fn("Exports.run")(
  function*(message: ExportMessage, delivery: Delivery = unknownDelivery) {
    return yield* onJob(message, isLastReceive(delivery), run)
  },
  annotated
)

/**
 * The message's last receive could not run its job to an end (a crash, no time left): fails the job if it is still
 * Queued or Running, whatever holds it, and tells its user; a finished job only gets the notices it still owes.
 * `tries: "once"` for a delivery with little time left: one try per notice, and no wait for another delivery's
 * claim (Deferred then means that delivery is sending it).
 */
export const abandonExport = Effect.fn("Exports.abandon")(
  function*(message: ExportMessage, tries: Tries) {
    return yield* onJob(message, tries === "full", (handle, holder) => abandon(handle, holder, tries))
  },
  annotated
)

/**
 * The sweeper's step for one job it found in progress long after its request (ADR 30): fails it and tells its user
 * if it is overdue (`isOverdue`: past EXPORT_DEADLINE with no live lease). It writes through the same conditional
 * steps as a delivery, so a delivery that moves the job first wins, and the sweeper leaves it (Superseded).
 */
export const sweepJob = Effect.fn("Exports.sweep")(
  function*(job: ExportJob) {
    return yield* onHeldJob(job, false, failOverdue)
  },
  (effect, job) => effect.pipe(Effect.annotateLogs({ jobId: job.jobId }), Effect.annotateSpans({ jobId: job.jobId }))
)
