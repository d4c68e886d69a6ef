// One queue delivery in, one verdict out: the part of every worker runtime (in-process, SQS poller, Lambda)
// that is not about its queue. Runtimes only turn the verdict into their queue's acknowledgement.
import { Cause, Config, Effect, ParseResult } from "effect"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { messageDecoderOf } from "./ports/JobQueue.js"
import { runExport, unknownDelivery } from "./RunExport.js"
import type { Delivery, RunOutcome } from "./RunExport.js"

export type DeliveryVerdict =
  /** Done with, for good: delete the message. */
  | { readonly _tag: "Ack"; readonly outcome: Exclude<RunOutcome, { readonly _tag: "Deferred" }> }
  /** Could not be handled now: leave it for the queue to deliver again. */
  | { readonly _tag: "Retry"; readonly reason: string }
  /** Can never be handled (not an export message): send it to the dead-letter queue. */
  | { readonly _tag: "Reject"; readonly reason: string }

/**
 * WORKER_CONCURRENCY: the exports one worker runs at once, 1 to 16, 2 unless set (the stack sets its SQS batch size).
 * Every worker runtime reads it here.
 */
export const workerConcurrencyConfig: Config.Config<number> = Config.integer("WORKER_CONCURRENCY").pipe(
  // Validated before the default, or the failure would lose the variable's name.
  Config.validate({ message: "must be an integer from 1 to 16", validation: (n) => n >= 1 && n <= 16 }),
  Config.withDefault(2)
)

/** `delivery` is what the queue tells of this delivery, when it tells anything (SQS's receive count). */
export const handleDelivery = Effect.fn("Exports.handleDelivery")(function*(
  body: string,
  delivery: Delivery = unknownDelivery
) {
  const decoded = yield* Effect.either(messageDecoderOf(yield* CurrentCatalogue)(body))
  if (decoded._tag === "Left") {
    // Where the message is wrong, not what it holds: a body may carry user and merchant ids.
    const problems = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
      .slice(0, 10)
      .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue._tag}`)
    yield* Effect.logError("undecodable export message", { problems })
    return { _tag: "Reject", reason: "undecodable message" } satisfies DeliveryVerdict
  }
  return yield* runExport(decoded.right, delivery).pipe(
    Effect.map((outcome): DeliveryVerdict =>
      outcome._tag === "Deferred"
        ? { _tag: "Retry", reason: "job running under another delivery" }
        : { _tag: "Ack", outcome }
    ),
    Effect.catchTag(
      "JobStoreUnavailable",
      (error) =>
        Effect.logWarning("job store unavailable; the message will be delivered again", { detail: error.detail }).pipe(
          Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "job store unavailable" })
        )
    ),
    Effect.catchAllDefect((defect) =>
      Effect.logError("export crashed; the message will be delivered again", Cause.die(defect)).pipe(
        Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "defect" })
      )
    ),
    Effect.annotateLogs({ jobId: decoded.right.jobId })
  )
})
