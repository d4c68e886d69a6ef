// One queue delivery in, one verdict out: the part of every worker runtime (in-process, SQS poller, Lambda)
// that is not about its queue. Runtimes only turn the verdict into their queue's acknowledgement.
import { Cause, Config, Effect, ParseResult } from "effect"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { ExportSettings } from "./ExportSettings.js"
import type { ExportMessage } from "./ports/JobQueue.js"
import { messageDecoderOf } from "./ports/JobQueue.js"
import { withRowLimit } from "./RowLimit.js"
import { abandonExport, isLastReceive, runExport, unknownDelivery } from "./RunExport.js"
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

/**
 * The receives after which the queue gives a message up: SQS's redrive policy's maxReceiveCount. The stack builds
 * its queue with this number and sets QUEUE_MAX_RECEIVES from it (infra/ExportsStack.ts).
 */
export const DEFAULT_QUEUE_MAX_RECEIVES = 3

/**
 * QUEUE_MAX_RECEIVES: the queue's maxReceiveCount, 1 to 1000 (SQS's own limits), 3 unless set. It must be the
 * queue's: on a message's last receive the job is failed and its user told rather than left for a delivery that
 * will never come. Every SQS worker runtime reads it here.
 */
export const queueMaxReceivesConfig: Config.Config<number> = Config.integer("QUEUE_MAX_RECEIVES").pipe(
  Config.validate({ message: "must be an integer from 1 to 1000", validation: (n) => n >= 1 && n <= 1000 }),
  Config.withDefault(DEFAULT_QUEUE_MAX_RECEIVES)
)

const decode = (body: string) =>
  Effect.gen(function*() {
    const decoded = yield* Effect.either(messageDecoderOf(yield* CurrentCatalogue)(body))
    if (decoded._tag === "Right") return decoded
    // Where the message is wrong, not what it holds: a body may carry user and merchant ids.
    const problems = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
      .slice(0, 10)
      .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue._tag}`)
    yield* Effect.logError("undecodable export message", { problems })
    return decoded
  })

const undecodable: DeliveryVerdict = { _tag: "Reject", reason: "undecodable message" }

/**
 * The message's last receive would leave it for a delivery that will never come: its job is failed and its user
 * told instead, and the message acknowledged. Only a store outage keeps it, since nothing can be recorded then: it
 * goes to the dead-letter queue (the ExportsDeadLettered alarm), its job left as it is.
 */
const giveUp = (message: ExportMessage, reason: string, tries: "full" | "once") =>
  Effect.logWarning("the message's last receive cannot finish its job; giving it up", { reason }).pipe(
    Effect.zipRight(abandonExport(message, tries)),
    Effect.map((outcome): DeliveryVerdict => ({
      _tag: "Ack",
      // Deferred only with no time to wait: another delivery holds what is left to do.
      outcome: outcome._tag === "Deferred" ? { _tag: "Superseded", jobId: outcome.jobId } : outcome
    })),
    Effect.catchTag("JobStoreUnavailable", (error) =>
      Effect.logError(
        "job store unavailable on the message's last receive: the job cannot be failed; the message goes to the " +
          "dead-letter queue",
        { detail: error.detail }
      ).pipe(Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "job store unavailable" }))),
    Effect.catchAllDefect((defect) =>
      Effect.logError("giving up the job crashed; the message goes to the dead-letter queue", Cause.die(defect)).pipe(
        Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "defect" })
      )
    ),
    Effect.annotateLogs({ jobId: message.jobId })
  )

/**
 * `delivery` is what the queue tells of this delivery, when it tells anything (SQS's receive count, and the
 * queue's maxReceiveCount). On the message's last receive, a delivery that would be retried gives its job up
 * (`giveUp`): the verdict is then Ack, unless the job store is down.
 */
export const handleDelivery = Effect.fn("Exports.handleDelivery")(function*(
  body: string,
  delivery: Delivery = unknownDelivery
) {
  const decoded = yield* decode(body)
  if (decoded._tag === "Left") return undecodable
  const { limits } = yield* ExportSettings
  const verdict = yield* runExport(decoded.right, delivery).pipe(
    withRowLimit(limits.rowsPerExport),
    Effect.map((outcome): DeliveryVerdict =>
      outcome._tag === "Deferred"
        ? { _tag: "Retry", reason: "job held by another delivery" }
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
  return verdict._tag === "Retry" && isLastReceive(delivery)
    ? yield* giveUp(decoded.right, verdict.reason, "full")
    : verdict
})

/**
 * A delivery a runtime could not start (too little time left) or had to interrupt (its time ran out, or it is
 * shutting down): Retry, so that the queue delivers it again; on the message's last receive, the job is given up
 * as `handleDelivery` would, with one try per notice since little time is left.
 */
export const handleUnfinished = Effect.fn("Exports.handleUnfinished")(function*(
  body: string,
  delivery: Delivery,
  why: "not started" | "interrupted"
) {
  if (!isLastReceive(delivery)) return { _tag: "Retry", reason: why } satisfies DeliveryVerdict
  const decoded = yield* decode(body)
  if (decoded._tag === "Left") return undecodable
  return yield* giveUp(decoded.right, why, "once")
})
