// The worker's half: take a queued job, stream its rows into a CSV file in object storage, sign a link and tell
// the user, in-app and by email. Every failure from the query on ends the job Failed and tells the user too.
//
// A queue may deliver a message more than once. The job record decides what a delivery still has to do:
// a finished job only completes notifications that are still owed, so no email goes out twice.
import { DateTime, Duration, Effect, Either, Option, Schedule } from "effect"
import { Redacted } from "effect"
import type { LinkSigningFailed, QueryFailed, QueryTimeout, UploadFailed } from "../domain/Errors.js"
import { NotificationFailed } from "../domain/Errors.js"
import type { NotificationChannel } from "../domain/Errors.js"
import type { ExportJob, FailedJob, JobEvent, RunningJob, SucceededJob } from "../domain/ExportJob.js"
import {
  attemptsExhaustedFailure,
  ExportResult,
  failureOf,
  isFinished,
  pendingChannels,
  transition
} from "../domain/ExportJob.js"
import { maskEmail } from "../domain/Identifiers.js"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { ExportSettings } from "./ExportSettings.js"
import { failureEmailFor, inAppNotificationFor, successEmailFor } from "./Messages.js"
import { EmailSender } from "./ports/EmailSender.js"
import { ExportLinks } from "./ports/ExportLinks.js"
import type { SignedLink } from "./ports/FileStore.js"
import { FileStore } from "./ports/FileStore.js"
import { InAppNotifier } from "./ports/InAppNotifier.js"
import type { ExportMessage } from "./ports/JobQueue.js"
import { JobStore } from "./ports/JobStore.js"
import { writeFile } from "./WriteFile.js"

/**
 * What a delivery of a message came to. Every outcome but Deferred (and a store outage, which fails) means the
 * message can be deleted.
 */
export type RunOutcome =
  | { readonly _tag: "Finished"; readonly job: SucceededJob | FailedJob }
  | { readonly _tag: "AlreadyFinished"; readonly job: ExportJob }
  /** Another worker changed the job under us; it owns the job now. */
  | { readonly _tag: "Superseded"; readonly jobId: string }
  /** The message names no job we know, or a job of another owner: nothing to do, ever. */
  | { readonly _tag: "Discarded"; readonly reason: string }
  /** A first delivery found the job running under another message: this copy is for later, not for now. */
  | { readonly _tag: "Deferred"; readonly jobId: string }

/** What the queue tells of one delivery of a message. */
export interface Delivery {
  /**
   * The queue never handed this message out before (SQS: ApproximateReceiveCount is 1), so it cannot be coming back
   * from a worker that died holding it. False when the queue does not say.
   */
  readonly firstReceive: boolean
}

/** A delivery the queue says nothing about: treated as possibly coming back from a dead worker. */
export const unknownDelivery: Delivery = { firstReceive: false }

/**
 * Transient query and upload failures are retried twice, 2 s then 4 s apart, before the job fails. Each retry
 * runs the query again from the start with a fresh query timeout: the timeout covers one attempt.
 */
export const transientFailureRetry = Schedule.exponential(Duration.seconds(2)).pipe(
  Schedule.intersect(Schedule.recurs(2))
)

const isTransient = (error: QueryTimeout | QueryFailed | UploadFailed): boolean =>
  error._tag !== "QueryTimeout" && error.retryable

const commit = <J extends ExportJob>(job: ExportJob, event: JobEvent) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const next = yield* Either.match(transition(job, event), { onLeft: Effect.die, onRight: Effect.succeed })
    yield* store.update(next, job.revision)
    return next as J
  })

const produce = (job: RunningJob) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const files = yield* FileStore
    const file = yield* writeFile(job).pipe(
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

/** Delivers each notification still owed, recording each on the job. A failed delivery is logged, never fatal. */
const settleNotifications = (job: SucceededJob | FailedJob, fresh: Option.Option<SignedLink>) =>
  Effect.gen(function*() {
    let current = job
    for (const channel of pendingChannels(job)) {
      const delivered = yield* Effect.either(deliver(current, channel, fresh))
      if (Either.isLeft(delivered)) {
        yield* Effect.logError("notification failed", { channel, detail: delivered.left.detail })
      } else {
        yield* Effect.logInfo("notification sent", {
          channel,
          ...(channel === "email" ? { to: maskEmail(Redacted.value(current.email)) } : {})
        })
      }
      current = yield* commit<SucceededJob | FailedJob>(current, {
        _tag: "NotificationSettled",
        channel,
        outcome: Either.isRight(delivered) ? "sent" : "failed"
      })
    }
    return current
  })

const finish = (job: ExportJob) =>
  Effect.gen(function*() {
    if (job._tag === "Succeeded" || job._tag === "Failed") {
      const pending = pendingChannels(job)
      if (pending.length > 0) {
        yield* Effect.logInfo("finished job still owes notifications", { channels: pending })
        return { _tag: "Finished", job: yield* settleNotifications(job, Option.none()) } as const
      }
    }
    yield* Effect.logInfo("job already finished; nothing to do", { status: job._tag })
    return { _tag: "AlreadyFinished", job } as const
  })

const run = (job: ExportJob, delivery: Delivery) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    if (isFinished(job)) return yield* finish(job)

    // A Running job found by a message's first delivery is held by another message (a duplicate's original): its
    // worker is alive, or that message comes back when its visibility runs out and takes the job over. Starting it
    // here would run the export twice side by side (the slower upload overwriting the file the record describes)
    // and spend an attempt, so that a few duplicates could fail a healthy job as AttemptsExhausted. This copy is
    // left for a later delivery, which finds the job finished, or takes over a job whose worker did die.
    if (job._tag === "Running" && delivery.firstReceive) {
      yield* Effect.logInfo("job is running under another delivery; leaving this copy for later", {
        attempts: job.attempts
      })
      return { _tag: "Deferred", jobId: job.jobId } as const
    }

    if (job._tag === "Running" && job.attempts >= settings.maxAttempts) {
      yield* Effect.logError("job started too many times without finishing", { attempts: job.attempts })
      const failed = yield* commit<FailedJob>(job, {
        _tag: "Failed",
        at: yield* DateTime.now,
        failure: attemptsExhaustedFailure
      })
      return { _tag: "Finished", job: yield* settleNotifications(failed, Option.none()) } as const
    }

    const running = yield* commit<RunningJob>(job, { _tag: "Started", at: yield* DateTime.now })
    yield* Effect.logInfo("export running", { attempt: running.attempts, reportType: running.report._tag })

    const produced = yield* Effect.either(produce(running))
    if (Either.isLeft(produced)) {
      const error = produced.left
      yield* Effect.logError("export failed", { error: error._tag, detail: detailOf(error) })
      const failed = yield* commit<FailedJob>(running, {
        _tag: "Failed",
        at: yield* DateTime.now,
        failure: failureOf(error)
      })
      return { _tag: "Finished", job: yield* settleNotifications(failed, Option.none()) } as const
    }
    const succeeded = yield* commit<SucceededJob>(running, {
      _tag: "Completed",
      at: yield* DateTime.now,
      result: produced.right.result
    })
    yield* Effect.logInfo("export succeeded", { rows: succeeded.result.rowCount, bytes: succeeded.result.byteSize })
    return {
      _tag: "Finished",
      job: yield* settleNotifications(succeeded, Option.some(produced.right.link))
    } as const
  })

/**
 * Handles one delivery of an export message. Fails only with JobStoreUnavailable, and returns Deferred only for a
 * first delivery of a job another message is running: in both cases the message must be kept for a later delivery;
 * every other outcome is final and the message can be acknowledged.
 */
export const runExport = Effect.fn("Exports.run")(
  function*(message: ExportMessage, delivery: Delivery = unknownDelivery) {
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
    return yield* run(job, delivery).pipe(
      Effect.catchTag(
        "JobConflict",
        () =>
          Effect.logWarning("job changed under this worker; leaving it to the other").pipe(
            Effect.as({ _tag: "Superseded", jobId: message.jobId } as RunOutcome)
          )
      )
    )
  },
  (effect, message) =>
    effect.pipe(Effect.annotateLogs({ jobId: message.jobId }), Effect.annotateSpans({ jobId: message.jobId }))
)
