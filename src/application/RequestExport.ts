// The synchronous half of an export: validate, record the job, queue it, answer with its id. Nothing here
// grows with the report's size, so it answers in milliseconds whatever was asked for.
import type { Redacted } from "effect"
import { Clock, DateTime, Effect, Either, Schema } from "effect"
import { newJob, queueUnavailableFailure, transition } from "../domain/ExportJob.js"
import type { QueuedJob } from "../domain/ExportJob.js"
import type { EmailAddress } from "../domain/Identifiers.js"
import type { Owner } from "../domain/Identifiers.js"
import { ExportFormat, OrdersParams, SalesTrendParams, TopProductsParams } from "../domain/Reports.js"
import type { ReportRequest } from "../domain/Reports.js"
import { decodeInput } from "../domain/Validation.js"
import { JobIds } from "./JobIds.js"
import { ExportMessage, JobQueue } from "./ports/JobQueue.js"
import { JobStore } from "./ports/JobStore.js"

/** The authenticated user asking, as the auth adapter established it. */
export interface Caller {
  readonly owner: Owner
  readonly email: Redacted.Redacted<EmailAddress>
}

const command = <T extends string, P extends Schema.Schema.Any>(reportType: T, params: P) =>
  Schema.Struct({ reportType: Schema.Literal(reportType), format: ExportFormat, params })

/** What a client sends: the report, the file format and the report's parameters. */
export const ExportCommand = Schema.Union(
  command("sales-trend", SalesTrendParams),
  command("orders", OrdersParams),
  command("top-products", TopProductsParams)
)
export type ExportCommand = typeof ExportCommand.Type

const decodeCommand = decodeInput(ExportCommand)

const reportOf = (cmd: ExportCommand): ReportRequest => {
  switch (cmd.reportType) {
    case "sales-trend":
      return { _tag: "sales-trend", params: cmd.params }
    case "orders":
      return { _tag: "orders", params: cmd.params }
    case "top-products":
      return { _tag: "top-products", params: cmd.params }
  }
}

export const messageFor = (job: QueuedJob): ExportMessage =>
  new ExportMessage({
    jobId: job.jobId,
    userId: job.owner.userId,
    merchantId: job.owner.merchantId,
    report: job.report
  })

/**
 * Validates `input`, records a Queued job and publishes it. When the queue refuses the message the job is marked
 * Failed (QueueUnavailable) before the error is returned, so no job waits in Queued for a message that never left.
 */
export const requestExport = Effect.fn("Exports.request")(function*(caller: Caller, input: unknown) {
  const cmd = yield* Either.match(decodeCommand(input), { onLeft: Effect.fail, onRight: Effect.succeed })
  const store = yield* JobStore
  const queue = yield* JobQueue
  const jobId = yield* JobIds.pipe(Effect.flatMap((ids) => ids.next))
  const requestedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
  const job = newJob({
    jobId,
    owner: caller.owner,
    email: caller.email,
    report: reportOf(cmd),
    format: cmd.format,
    requestedAt
  })

  return yield* Effect.gen(function*() {
    yield* store.create(job)
    yield* queue.publish(messageFor(job)).pipe(
      Effect.tapError((error) =>
        Effect.gen(function*() {
          yield* Effect.logWarning("queue refused the export; marking the job failed", { detail: error.detail })
          const failedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
          const failed = Either.getOrThrow(
            transition(job, { _tag: "Failed", at: failedAt, failure: queueUnavailableFailure })
          )
          yield* store.update(failed, job.revision).pipe(
            Effect.catchAll((cause) => Effect.logError("could not mark the unqueued job failed", { cause: cause._tag }))
          )
        })
      )
    )
    yield* Effect.logInfo("export accepted", { reportType: job.report._tag })
    return job
  }).pipe(Effect.annotateLogs({ jobId }), Effect.annotateSpans({ jobId }))
})
