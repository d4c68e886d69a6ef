// One SQS batch as Lambda delivers it, handled record by record: the application's verdict for each, and the
// records to deliver again (`batchItemFailures`) for the rest. Never fails: a record that was not finished, for any
// reason, is reported as failed, and the queue delivers it again (or, past maxReceiveCount, to the dead-letter
// queue).
import type { SQSBatchResponse, SQSRecord } from "aws-lambda"
import { Clock, Duration, Effect } from "effect"
import type { DeliveryVerdict } from "../../application/ExportWorker.js"
import type { Delivery } from "../../application/RunExport.js"

export interface BatchDeadlines {
  /** Epoch millis after which no record is started: too little time would be left to finish one. */
  readonly stopStartingAt: number
  /** Epoch millis at which records still running are interrupted, leaving time to answer before Lambda's own end. */
  readonly interruptAt: number
}

export interface BatchOptions extends BatchDeadlines {
  /** How many records run at once. */
  readonly concurrency: number
}

/**
 * When to stop starting and when to interrupt, from the invocation's remaining time: no record starts with less
 * than `minimumToStart` left, and running ones are interrupted `answerReserve` before the end.
 */
export const deadlinesFrom = (options: {
  readonly now: number
  readonly remainingMillis: number
  readonly minimumToStart: Duration.Duration
  readonly answerReserve: Duration.Duration
}): BatchDeadlines => {
  const end = options.now + options.remainingMillis
  return {
    stopStartingAt: end - Duration.toMillis(options.minimumToStart),
    interruptAt: end - Duration.toMillis(options.answerReserve)
  }
}

/** How a record ended; a record with no end was never reached before the deadline. */
type RecordEnd = DeliveryVerdict["_tag"] | "not started" | "interrupted"

export const handleBatch = <R>(
  records: ReadonlyArray<SQSRecord>,
  handle: (body: string, delivery: Delivery) => Effect.Effect<DeliveryVerdict, never, R>,
  options: BatchOptions
): Effect.Effect<SQSBatchResponse, never, R> =>
  Effect.gen(function*() {
    const ends = new Map<string, RecordEnd>()

    const one = (record: SQSRecord) =>
      Effect.gen(function*() {
        if ((yield* Clock.currentTimeMillis) >= options.stopStartingAt) {
          ends.set(record.messageId, "not started")
          return
        }
        // handleDelivery turns defects into Retry already; this keeps one record's crash from ending the batch.
        // Only a message SQS hands out for the first time may be told so (see RunExport's Deferred).
        const delivery = { firstReceive: record.attributes.ApproximateReceiveCount === "1" }
        const verdict = yield* handle(record.body, delivery).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.logError("record handler crashed", defect).pipe(
              Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "defect" })
            )
          )
        )
        ends.set(record.messageId, verdict._tag)
        if (verdict._tag !== "Ack") {
          yield* Effect.logWarning("record not done; SQS will deliver it again", {
            verdict: verdict._tag,
            reason: verdict.reason
          })
        }
      }).pipe(
        Effect.onInterrupt(() => Effect.sync(() => ends.set(record.messageId, "interrupted"))),
        Effect.annotateLogs({
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount
        })
      )

    const now = yield* Clock.currentTimeMillis
    yield* Effect.forEach(records, one, { concurrency: options.concurrency, discard: true }).pipe(
      Effect.timeoutOption(Duration.millis(Math.max(0, options.interruptAt - now))),
      Effect.catchAllCause((cause) => Effect.logError("batch ended abnormally", cause))
    )

    const failed = records.filter((record) => ends.get(record.messageId) !== "Ack")
    const notStarted = failed.filter((r) => !ends.has(r.messageId) || ends.get(r.messageId) === "not started")
    const interrupted = failed.filter((r) => ends.get(r.messageId) === "interrupted")
    if (notStarted.length + interrupted.length > 0) {
      yield* Effect.logWarning("invocation running out of time; records left for SQS to deliver again", {
        notStarted: notStarted.map((r) => r.messageId),
        interrupted: interrupted.map((r) => r.messageId)
      })
    }
    return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) }
  })
