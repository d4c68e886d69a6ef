// The SQS worker as an AWS Lambda function, which also sweeps overdue jobs when the stack's schedule says so
// (ADR 30). Each record of a batch is one export message, handled by the same
// application code as the Node consumer, on the production adapters (DynamoDB, S3/R2, SES, ClickHouse over HTTP).
// Records that are not done are returned as `batchItemFailures` (the event source mapping has
// ReportBatchItemFailures), so SQS delivers only those again. Importing this module reads nothing of the environment
// and sets nothing of the process: `makeWorkerHandler` does, so that both entries can use it, the stock runtime's
// (worker.ts) and the startup snapshot's (WorkerSnapshot.ts, ADR 52). The layers are built on the first invocation
// and kept for the container's life; building them does no network I/O.
import type { Context as LambdaContext, SQSBatchResponse, SQSEvent } from "aws-lambda"
import type { ConfigProvider } from "effect"
import { Clock, Config, Duration, Effect, Layer, ManagedRuntime } from "effect"
import {
  handleDelivery,
  handleUnfinished,
  queueMaxReceivesConfig,
  workerConcurrencyConfig
} from "../../application/ExportWorker.js"
import { sweepOverdueJobs } from "../../application/SweepOverdueJobs.js"
import type { SweepSummary } from "../../application/SweepOverdueJobs.js"
import * as WorkerAdapters from "../aws/WorkerAdapters.js"
import * as JsonLogLines from "../JsonLogLines.js"
import { applyWorkerHeapGrowth } from "../WorkerProcessSettings.js"
import { deadlinesFrom, handleBatch } from "./SqsBatch.js"
import { isSweepEvent } from "./SweepEvent.js"
import type { SweepEvent } from "./SweepEvent.js"

/**
 * WORKER_CONCURRENCY records at once (the stack sets its batch size); none is started with less than
 * LAMBDA_MIN_TIME_TO_START left (2 min); QUEUE_MAX_RECEIVES tells each record's last receive.
 */
export const lambdaWorkerConfig = Config.all({
  concurrency: workerConcurrencyConfig,
  maxReceives: queueMaxReceivesConfig,
  minimumToStart: Config.duration("LAMBDA_MIN_TIME_TO_START").pipe(Config.withDefault(Duration.minutes(2))),
  answerReserve: Config.duration("LAMBDA_ANSWER_RESERVE").pipe(Config.withDefault(Duration.seconds(10)))
})

const handleEvent = (event: SQSEvent, context: LambdaContext) =>
  Effect.gen(function*() {
    const settings = yield* lambdaWorkerConfig
    const deadlines = deadlinesFrom({
      now: yield* Clock.currentTimeMillis,
      remainingMillis: context.getRemainingTimeInMillis(),
      minimumToStart: settings.minimumToStart,
      answerReserve: settings.answerReserve
    })
    return yield* handleBatch(event.Records, { handle: handleDelivery, unfinished: handleUnfinished }, {
      concurrency: settings.concurrency,
      maxReceives: settings.maxReceives,
      ...deadlines
    })
  }).pipe(Effect.annotateLogs({ awsRequestId: context.awsRequestId }))

/** The schedule's sweep: its summary, or an error for Lambda's log when it could not list the jobs in progress. */
const sweep = (context: LambdaContext) =>
  sweepOverdueJobs().pipe(Effect.annotateLogs({ awsRequestId: context.awsRequestId }))

export interface WorkerHandler {
  (event: SQSEvent, context: LambdaContext): Promise<SQSBatchResponse>
  (event: SweepEvent, context: LambdaContext): Promise<SweepSummary>
}

/**
 * The handler on `configProvider`'s settings (the environment with SECRETS_ARN's over it). `services` is laid under
 * the adapters' layers (the snapshot's fresh clock and random source, ADR 52). Sets the worker's heap setting that
 * NODE_OPTIONS cannot carry (ADR 20) first, before the first export.
 *
 * A batch of export messages, or the schedule's sweep (SWEEP_EVENT). A batch never throws: when the layers cannot
 * be built (a bad setting), every record is reported for another delivery.
 */
export const makeWorkerHandler = (
  configProvider: ConfigProvider.ConfigProvider,
  services: Layer.Layer<never> = Layer.empty
): WorkerHandler => {
  applyWorkerHeapGrowth()
  const settings = Layer.setConfigProvider(configProvider)
  const runtime = ManagedRuntime.make(Layer.mergeAll(
    WorkerAdapters.layer.pipe(Layer.provide(settings)),
    // Also for the settings each invocation reads (lambdaWorkerConfig).
    settings,
    // JSON lines for CloudWatch, as the Node runtimes log.
    JsonLogLines.layer,
    services
  ))
  const handleRecords = (event: SQSEvent, context: LambdaContext): Promise<SQSBatchResponse> =>
    runtime.runPromise(handleEvent(event, context)).catch((cause: unknown) => {
      console.error(JSON.stringify({
        level: "ERROR",
        message: "worker could not handle the batch; every record will be delivered again",
        awsRequestId: context.awsRequestId,
        cause: String(cause)
      }))
      return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) }
    })
  function handler(event: SQSEvent, context: LambdaContext): Promise<SQSBatchResponse>
  function handler(event: SweepEvent, context: LambdaContext): Promise<SweepSummary>
  function handler(event: SQSEvent | SweepEvent, context: LambdaContext): Promise<SQSBatchResponse | SweepSummary> {
    return isSweepEvent(event) ? runtime.runPromise(sweep(context)) : handleRecords(event, context)
  }
  return handler
}
