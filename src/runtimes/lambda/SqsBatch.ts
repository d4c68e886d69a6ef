// One SQS batch as Lambda delivers it, handled record by record: the application's verdict for each, and the
// records to deliver again (`batchItemFailures`) for the rest. Never fails: a record that was not finished, for any
// reason, is reported as failed, and the queue delivers it again; on its last receive the application gives its job
// up first (`handleUnfinished`), so that no job is left in progress when its message goes.
import type { SQSBatchResponse, SQSRecord } from "aws-lambda"
import { Clock, Duration, Effect } from "effect"
import type { DeliveryVerdict } from "../../application/ExportWorker.js"
import type { Delivery } from "../../application/RunExport.js"

export interface BatchDeadlines {
  /** Epoch millis after which no record is started: too little time would be left to finish one. */
  readonly stopStartingAt: number
  /** Epoch millis at which records still running are interrupted, leaving time to answer before Lambda's own end. */
  readonly interruptAt: number
  /**
   * Epoch millis by which the jobs of records left unfinished on their last receive must have been given up: half
   * of the time kept to answer, the other half left for the answer.
   */
  readonly giveUpBy: number
}

export interface BatchOptions extends BatchDeadlines {
  /** How many records run at once. */
  readonly concurrency: number
  /** The queue's maxReceiveCount (QUEUE_MAX_RECEIVES), told to the application with each record's receive count. */
  readonly maxReceives: number
}

export interface BatchHandlers<R> {
  /** One record's delivery, to its verdict (handleDelivery). */
  readonly handle: (body: string, delivery: Delivery) => Effect.Effect<DeliveryVerdict, never, R>
  /** A record not started, or interrupted, for lack of time (handleUnfinished). */
  readonly unfinished: (
    body: string,
    delivery: Delivery,
    why: "not started" | "interrupted"
  ) => Effect.Effect<DeliveryVerdict, never, R>
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
    interruptAt: end - Duration.toMillis(options.answerReserve),
    giveUpBy: end - Duration.toMillis(options.answerReserve) / 2
  }
}

/** How a record ended; a record with no end was never reached before the deadline. */
type RecordEnd = DeliveryVerdict["_tag"] | "not started" | "interrupted"

/** What SQS tells of a record's delivery; an unreadable receive count says nothing. */
const deliveryOf = (record: SQSRecord, maxReceives: number): Delivery => {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount)
  return { receiveCount: Number.isInteger(receiveCount) ? receiveCount : undefined, maxReceives }
}

/** A crash of a handler is this record's only: it is reported for another delivery. */
const surviving = <R>(verdict: Effect.Effect<DeliveryVerdict, never, R>) =>
  verdict.pipe(
    Effect.catchAllDefect((defect) =>
      Effect.logError("record handler crashed", defect).pipe(
        Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "defect" })
      )
    )
  )

export const handleBatch = <R>(
  records: ReadonlyArray<SQSRecord>,
  handlers: BatchHandlers<R>,
  options: BatchOptions
): Effect.Effect<SQSBatchResponse, never, R> =>
  Effect.gen(function*() {
    const ends = new Map<string, RecordEnd>()
    const verdicts = new Map<string, DeliveryVerdict>()

    const one = (record: SQSRecord) =>
      Effect.gen(function*() {
        const delivery = deliveryOf(record, options.maxReceives)
        if ((yield* Clock.currentTimeMillis) >= options.stopStartingAt) {
          ends.set(record.messageId, "not started")
          // Retry at once unless it is the message's last receive, whose job is then given up.
          verdicts.set(record.messageId, yield* surviving(handlers.unfinished(record.body, delivery, "not started")))
          return
        }
        // handleDelivery turns defects into Retry already; this keeps one record's crash from ending the batch.
        const verdict = yield* surviving(handlers.handle(record.body, delivery))
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

    // Records interrupted, or never reached, with no verdict: on their last receive their jobs are given up in the
    // time kept to answer (the others are only reported).
    const decided = new Set<RecordEnd | undefined>(["Ack", "Retry", "Reject"])
    const late = records.filter((r) => !decided.has(ends.get(r.messageId)) && !verdicts.has(r.messageId))
    const giveUpTime = Math.max(0, options.giveUpBy - (yield* Clock.currentTimeMillis))
    yield* Effect.forEach(late, (record) =>
      surviving(
        handlers.unfinished(
          record.body,
          deliveryOf(record, options.maxReceives),
          ends.get(record.messageId) === "interrupted" ? "interrupted" : "not started"
        )
      ).pipe(Effect.tap((verdict) => Effect.sync(() => verdicts.set(record.messageId, verdict)))), {
      concurrency: "unbounded",
      discard: true
    }).pipe(
      Effect.timeoutOption(Duration.millis(giveUpTime)),
      Effect.catchAllCause((cause) => Effect.logError("giving up unfinished records ended abnormally", cause))
    )

    const acked = (record: SQSRecord) =>
      ends.get(record.messageId) === "Ack" || verdicts.get(record.messageId)?._tag === "Ack"
    const failed = records.filter((record) => !acked(record))
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
