// `npm run worker`: long-polls SQS and runs each export on the production adapters (DynamoDB, S3, SES) over the
// report source REPORT_SOURCE names, and sweeps overdue jobs every SWEEP_INTERVAL (ADR 30). A composition of layers and nothing else; its settings are read with `Config`.
import { Config, Duration, Effect, Layer } from "effect"
import * as ChdbReportSource from "../../adapters/chdb/ChdbReportSource.js"
import { dynamoDbSettingsConfig } from "../../adapters/dynamodb/DynamoDb.js"
import { appBaseUrlConfig } from "../../adapters/http/HttpExportLinks.js"
import { s3FileStoreSettingsConfig } from "../../adapters/s3/S3FileStore.js"
import { sesEmailSenderSettingsConfig } from "../../adapters/ses/SesEmailSender.js"
import * as SqsClient from "../../adapters/sqs/SqsClient.js"
import * as SqsConsumer from "../../adapters/sqs/SqsConsumer.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { queueMaxReceivesConfig, workerConcurrencyConfig } from "../../application/ExportWorker.js"
import * as SweepOverdueJobs from "../../application/SweepOverdueJobs.js"
import { sweepIntervalConfig } from "../../application/SweepOverdueJobs.js"
import * as WorkerAdapters from "../aws/WorkerAdapters.js"
import * as ReportSourceConfig from "./ReportSourceConfig.js"

/** WORKER_CONCURRENCY (2, from 1 to 16), SHUTDOWN_GRACE (30 seconds) and QUEUE_MAX_RECEIVES (3). */
export const consumerConfig = Config.all({
  concurrency: workerConcurrencyConfig,
  maxReceives: queueMaxReceivesConfig,
  shutdownGrace: Config.duration("SHUTDOWN_GRACE").pipe(Config.withDefault(Duration.seconds(30)))
})

/**
 * The SQS consumer with every adapter an export needs, over `reportSource`; a missing or malformed setting fails
 * with its name. Every setting is read before anything is built, so that one bad value stops start-up (naming all
 * the bad ones: `Config.all` reports every failure of its parts) before a data directory is opened or seeded; the
 * adapters read theirs again as they are built.
 */
const workerOn = <ROut, E>(
  reportSource: Layer.Layer<ROut, E>,
  reportSourceSettings: Effect.Effect<Config.Config<unknown>>
) =>
  Layer.unwrapEffect(
    Effect.flatMap(reportSourceSettings, (sourceSettings) =>
      Config.all([
        consumerConfig,
        SqsClient.sqsSettingsConfig,
        dynamoDbSettingsConfig,
        s3FileStoreSettingsConfig,
        sesEmailSenderSettingsConfig,
        appBaseUrlConfig(),
        ExportSettings.config,
        sweepIntervalConfig,
        sourceSettings
      ])).pipe(
        Effect.map(([options]) =>
          Layer.merge(SqsConsumer.layer(options), SweepOverdueJobs.layerConfig).pipe(
            Layer.provide(SqsClient.layerConfig),
            Layer.provideMerge(Layer.mergeAll(WorkerAdapters.layerWithoutReportSource, reportSource))
          )
        )
      )
  )

/** `npm run worker`: the report source REPORT_SOURCE names. */
export const layer = workerOn(ReportSourceConfig.layerConfig, ReportSourceConfig.settingsConfig)

/**
 * The same worker on the embedded engine whatever REPORT_SOURCE says, with the engine in its context: end-to-end
 * tests query the engine directly to check what an export wrote.
 */
export const layerOnChdb = workerOn(
  ChdbReportSource.layerConfig,
  Effect.succeed(ChdbReportSource.chdbSettingsConfig)
)
