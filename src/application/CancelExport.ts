// Cancelling an export, for its owner only, idempotent: a Queued or Running job becomes Cancelled at once (its worker
// notices within a second or so and stops, RunExport), a Cancelled one stays so, a finished one cannot be. The API
// tells the user once, in-app (ADR 31), and the export's audit trail records the cancel once (ADR 46).
import { DateTime, Effect, Either, Option } from "effect"
import { ExportAlreadyFinished, JobStoreUnavailable } from "../domain/Errors.js"
import type { CancelledJob, ExportJob } from "../domain/ExportJob.js"
import { transition } from "../domain/ExportJob.js"
import type { Owner } from "../domain/Identifiers.js"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { recordCancel } from "./ExportAudit.js"
import { getExport } from "./ExportQueries.js"
import { inAppRetry } from "./ExportSchedules.js"
import { cancelledNotificationFor } from "./Messages.js"
import { ExportLinks } from "./ports/ExportLinks.js"
import { InAppNotifier } from "./ports/InAppNotifier.js"
import { JobStore } from "./ports/JobStore.js"

/**
 * A running job is written by its worker about once a second (its progress): a cancel that loses the race to such a
 * write reads the job again and tries again, a few times.
 */
const MAX_CANCEL_ROUNDS = 8

/** The job Cancelled, written on the revision it was read at; another write in between is read back and decided on. */
const cancelled = (first: ExportJob) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    let job = first
    for (let round = 0; round < MAX_CANCEL_ROUNDS; round++) {
      if (job._tag === "Cancelled") return job
      if (job._tag === "Succeeded" || job._tag === "Failed") {
        return yield* new ExportAlreadyFinished({ jobId: job.jobId, status: job._tag })
      }
      const next = transition(job, { _tag: "Cancelled", at: yield* DateTime.now })
      // From Queued or Running a cancel is always a transition: anything else is a bug.
      if (Either.isLeft(next)) return yield* Effect.die(next.left)
      const written = yield* Effect.either(store.update(next.right, job.revision))
      if (Either.isRight(written)) {
        yield* Effect.logInfo("export cancelled by its owner", { from: job._tag })
        return next.right as CancelledJob
      }
      if (written.left._tag === "JobStoreUnavailable") return yield* written.left
      const reread = yield* store.get(job.jobId)
      if (Option.isNone(reread)) return yield* Effect.die(new Error(`job ${job.jobId} vanished while cancelled`))
      job = reread.value
    }
    return yield* new JobStoreUnavailable({ detail: "the job kept changing while it was cancelled" })
  })

/**
 * Tells the user, in-app only. A notice that cannot be delivered is logged and does not undo the cancel; the
 * same request again delivers it (its id is the job's, so the user never gets two).
 */
const tell = (job: CancelledJob) =>
  Effect.gen(function*() {
    const notifier = yield* InAppNotifier
    const { title } = (yield* CurrentCatalogue).definitionOf(job.report)
    const link = (yield* ExportLinks).inApp(job)
    yield* notifier.deliver(cancelledNotificationFor(job, title, link, yield* DateTime.now)).pipe(
      Effect.retry(inAppRetry),
      Effect.catchAll((error) =>
        Effect.logError("cancel notice not delivered; the same cancel again delivers it", { detail: error.detail })
      )
    )
  })

/** Fails with JobNotFound for a job of another owner (as getExport), and ExportAlreadyFinished for a finished one. */
export const cancelExport = Effect.fn("Exports.cancel")(
  function*(owner: Owner, jobId: string) {
    const job = yield* cancelled(yield* getExport(owner, jobId))
    yield* recordCancel(job)
    yield* tell(job)
    return job
  },
  (effect, _owner, jobId) => effect.pipe(Effect.annotateLogs({ jobId }), Effect.annotateSpans({ jobId }))
)
