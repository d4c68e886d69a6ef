// `npm run worker`: long-polls SQS and runs each export on the production adapters (DynamoDB, S3, SES) over the
// report source REPORT_SOURCE names. A composition of layers and nothing else; its settings are read with `Config`.
import { Config, ConfigError, Duration, Effect, Either, Layer, Option } from "effect"
import { ChdbEngine } from "../../adapters/chdb/ChdbEngine.js"
import { ReportSourceChdb } from "../../adapters/chdb/ChdbReportSource.js"
import { DemoOrdersChdb, demoSeedOfSize } from "../../adapters/chdb/DemoSeed.js"
import { clickHouseSettingsConfig } from "../../adapters/clickhouse/ClickHouseClient.js"
import { dynamoDbSettingsConfig } from "../../adapters/dynamodb/DynamoDb.js"
import { appBaseUrlConfig } from "../../adapters/http/HttpExportLinks.js"
import { S3FileStoreConfig } from "../../adapters/s3/S3FileStore.js"
import { SesEmailSenderConfig } from "../../adapters/ses/SesEmailSender.js"
import { SqsLive, sqsSettingsConfig } from "../../adapters/sqs/SqsClient.js"
import { SqsConsumer } from "../../adapters/sqs/SqsConsumer.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { workerConcurrencyConfig } from "../../application/ExportWorker.js"
import { ExportSinksLive, ReportSourceClickHouseLive } from "../aws/WorkerAdapters.js"

/** WORKER_CONCURRENCY (2, from 1 to 16) and SHUTDOWN_GRACE (30 seconds). */
export const consumerConfig = Config.all({
  concurrency: workerConcurrencyConfig,
  shutdownGrace: Config.duration("SHUTDOWN_GRACE").pipe(Config.withDefault(Duration.seconds(30)))
})

/**
 * REPORT_SOURCE: `clickhouse` (a ClickHouse server over HTTP, CLICKHOUSE_* settings) or `chdb` (the embedded
 * ClickHouse over CHDB_DATA_DIR, for a demo or a single machine).
 */
export const reportSourceConfig = Config.literal("chdb", "clickhouse")("REPORT_SOURCE")

/** CHDB_DATA_DIR (required) and DEMO_ROWS: when set, an empty dataset is seeded with that many demo order lines. */
export const chdbConfig = Config.all({
  dataDir: Config.nonEmptyString("CHDB_DATA_DIR"),
  demoRows: Config.option(
    Config.integer("DEMO_ROWS").pipe(
      Config.validate({ message: "must be from 1000 to 100000000", validation: (n) => n >= 1000 && n <= 100_000_000 })
    )
  )
})

/** The chdb engine on CHDB_DATA_DIR, seeded with DEMO_ROWS lines when that is set, and the report source on it. */
const ReportSourceChdbFromConfig = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { dataDir, demoRows } = yield* chdbConfig
    const engine = ChdbEngine.Default(dataDir)
    const seeded = Option.match(demoRows, {
      onNone: () => engine,
      onSome: (rows) => DemoOrdersChdb(demoSeedOfSize(rows)).pipe(Layer.provideMerge(engine))
    })
    return ReportSourceChdb.pipe(Layer.provideMerge(seeded))
  })
)

/** The ReportSource REPORT_SOURCE names (with the chdb engine it runs on, for a test's or a probe's own queries). */
export const ReportSourceFromConfig = Layer.unwrapEffect(
  Effect.map(reportSourceConfig, (source) =>
    source === "clickhouse"
      ? ReportSourceClickHouseLive
      : ReportSourceChdbFromConfig)
)

/** REPORT_SOURCE and the settings of the source it names, read together so that start-up names every bad one. */
const reportSourceSettings = Effect.flatMap(
  reportSourceConfig,
  (source): Effect.Effect<unknown, ConfigError.ConfigError> =>
    source === "clickhouse" ? clickHouseSettingsConfig : chdbConfig
)

/**
 * Reads both, and reports the errors of both as one ConfigError: a layer's failure keeps one failure of its
 * cause, so two failures side by side (Effect.validate) would lose one.
 */
const readBoth = <A>(
  first: Effect.Effect<A, ConfigError.ConfigError>,
  second: Effect.Effect<unknown, ConfigError.ConfigError>
): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.flatMap(
    Effect.all([Effect.either(first), Effect.either(second)]),
    ([a, b]) =>
      Either.isLeft(a)
        ? Effect.fail(Either.isLeft(b) ? ConfigError.And(a.left, b.left) : a.left)
        : Either.isLeft(b)
        ? Effect.fail(b.left)
        : Effect.succeed(a.right)
  )

/**
 * The SQS consumer with every adapter an export needs, over `reportSource`; a missing or malformed setting fails
 * with its name. Every setting is read before anything is built, so that one bad value stops start-up (naming all
 * the bad ones) before a data directory is opened or seeded; the adapters read theirs again as they are built.
 */
const workerOn = <ROut, E>(
  reportSource: Layer.Layer<ROut, E>,
  reportSourceSettings: Effect.Effect<unknown, ConfigError.ConfigError>
) => {
  const everySetting = Config.all([
    consumerConfig,
    sqsSettingsConfig,
    dynamoDbSettingsConfig,
    S3FileStoreConfig,
    SesEmailSenderConfig,
    appBaseUrlConfig(),
    ExportSettings.config
  ])
  return Layer.unwrapEffect(
    Effect.map(
      readBoth(everySetting, reportSourceSettings),
      ([options]) =>
        SqsConsumer(options).pipe(
          Layer.provide(SqsLive),
          Layer.provideMerge(Layer.mergeAll(ExportSinksLive, reportSource))
        )
    )
  )
}

/** `npm run worker`: the report source REPORT_SOURCE names. */
export const WorkerLive = workerOn(ReportSourceFromConfig, reportSourceSettings)

/**
 * The same worker on the embedded engine whatever REPORT_SOURCE says, with the engine in its context: end-to-end
 * tests query the engine directly to check what an export wrote.
 */
export const WorkerOnChdbLive = workerOn(ReportSourceChdbFromConfig, chdbConfig)
