// `npm run worker`: long-polls SQS and runs each export on the production adapters (DynamoDB, S3, SES) over the
// report source REPORT_SOURCE names. A composition of layers and nothing else; its settings are read with `Config`.
import { Config, ConfigError, Duration, Effect, Either, Layer, Option } from "effect"
import { ChdbEngine } from "../../adapters/chdb/ChdbEngine.js"
import { ReportSourceChdb } from "../../adapters/chdb/ChdbReportSource.js"
import { DemoOrdersChdb, demoSeedOfSize } from "../../adapters/chdb/DemoSeed.js"
import { DynamoDb, dynamoDbSettingsConfig } from "../../adapters/dynamodb/DynamoDb.js"
import { InAppNotifierDynamoDb } from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import { JobStoreDynamoDb } from "../../adapters/dynamodb/DynamoDbJobStore.js"
import { S3FileStoreConfig, S3FileStoreLive } from "../../adapters/s3/S3FileStore.js"
import { SesEmailSender, SesEmailSenderConfig } from "../../adapters/ses/SesEmailSender.js"
import { SqsLive, sqsSettingsConfig } from "../../adapters/sqs/SqsClient.js"
import { SqsConsumer } from "../../adapters/sqs/SqsConsumer.js"
import { ExportSettings } from "../../application/ExportSettings.js"

/** WORKER_CONCURRENCY (2, from 1 to 16) and SHUTDOWN_GRACE (30 seconds). */
export const consumerConfig = Config.all({
  concurrency: Config.integer("WORKER_CONCURRENCY").pipe(
    // Validated before the default, or the failure would lose the variable's name.
    Config.validate({ message: "must be an integer from 1 to 16", validation: (n) => n >= 1 && n <= 16 }),
    Config.withDefault(2)
  ),
  shutdownGrace: Config.duration("SHUTDOWN_GRACE").pipe(Config.withDefault(Duration.seconds(30)))
})

/**
 * REPORT_SOURCE: `chdb` (the embedded ClickHouse over CHDB_DATA_DIR) or `clickhouse` (a ClickHouse server over
 * HTTP, whose adapter is not built yet: refused at start-up rather than failing every export later).
 */
export const reportSourceConfig = Config.literal("chdb", "clickhouse")("REPORT_SOURCE").pipe(
  Config.mapOrFail((source) =>
    source === "clickhouse"
      ? Either.left(ConfigError.InvalidData(
        [],
        "REPORT_SOURCE=clickhouse: the ClickHouse HTTP report source is not built yet; use REPORT_SOURCE=chdb"
      ))
      : Either.right(source)
  )
)

/** CHDB_DATA_DIR (required) and DEMO_ROWS: when set, an empty dataset is seeded with that many demo order lines. */
export const chdbConfig = Config.all({
  dataDir: Config.nonEmptyString("CHDB_DATA_DIR"),
  demoRows: Config.option(
    Config.integer("DEMO_ROWS").pipe(
      Config.validate({ message: "must be from 1000 to 100000000", validation: (n) => n >= 1000 && n <= 100_000_000 })
    )
  )
})

/** The ReportSource REPORT_SOURCE names, with the chdb engine it runs on (for a test's or a probe's own queries). */
export const ReportSourceFromConfig = Layer.unwrapEffect(
  Effect.gen(function*() {
    yield* reportSourceConfig
    const { dataDir, demoRows } = yield* chdbConfig
    const engine = ChdbEngine.Default(dataDir)
    const seeded = Option.match(demoRows, {
      onNone: () => engine,
      onSome: (rows) => DemoOrdersChdb(demoSeedOfSize(rows)).pipe(Layer.provideMerge(engine))
    })
    return ReportSourceChdb.pipe(Layer.provideMerge(seeded))
  })
)

/** The SQS consumer with every adapter an export needs; a missing or malformed setting fails with its name. */
export const WorkerLive = (() => {
  const adapters = Layer.mergeAll(
    Layer.mergeAll(JobStoreDynamoDb, InAppNotifierDynamoDb).pipe(Layer.provide(DynamoDb.layerConfig)),
    S3FileStoreLive,
    SesEmailSender.layerConfig(),
    ExportSettings.layer,
    ReportSourceFromConfig
  )
  // Every setting is read before anything is built, so that one bad value stops start-up (naming all the bad ones)
  // before the data directory is opened or seeded; the adapters read theirs again as they are built.
  const everySetting = Config.all([
    consumerConfig,
    sqsSettingsConfig,
    dynamoDbSettingsConfig,
    S3FileStoreConfig,
    SesEmailSenderConfig,
    ExportSettings.config,
    // CHDB_DATA_DIR and DEMO_ROWS are read with the source, since only chdb has them.
    reportSourceConfig
  ])
  return Layer.unwrapEffect(
    Effect.map(
      everySetting,
      ([options]) => SqsConsumer(options).pipe(Layer.provide(SqsLive), Layer.provideMerge(adapters))
    )
  )
})()
