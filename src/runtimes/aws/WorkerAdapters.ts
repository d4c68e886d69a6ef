// The production adapters every worker runtime runs an export on (the Node SQS consumer and the Lambda worker):
// jobs and in-app notices in DynamoDB, files in S3 or R2, e-mail through SES, and the report source ClickHouse
// over HTTP. Kept apart from the runtimes so that a Lambda bundle imports these and nothing of the embedded engine.
// Built as ApiAdapters is (ADR 59): one scoped effect over one settings record, each SDK client made once.
import { Config, Context, Effect, Layer } from "effect"
import * as DynamoDb from "../../adapters/dynamodb/DynamoDb.js"
import * as DynamoDbInAppNotifier from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../adapters/dynamodb/DynamoDbJobStore.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as S3FileStore from "../../adapters/s3/S3FileStore.js"
import * as SesEmailSender from "../../adapters/ses/SesEmailSender.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { EmailSender } from "../../application/ports/EmailSender.js"
import { ExportLinks } from "../../application/ports/ExportLinks.js"
import { FileStore } from "../../application/ports/FileStore.js"
import { InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { JobStore } from "../../application/ports/JobStore.js"
import { withClickHouseReportSource } from "./ClickHouseReportSourcePorts.js"

/** The settings of every port but the report source: each adapter's own `Config`, read in one go. */
const settingsConfig = Config.all({
  dynamoDb: DynamoDb.dynamoDbSettingsConfig,
  s3: S3FileStore.s3FileStoreSettingsConfig,
  ses: SesEmailSender.sesEmailSenderSettingsConfig,
  appBaseUrl: HttpExportLinks.appBaseUrlConfig(),
  exportSettings: ExportSettings.config
})

/** Every port an export needs but its report source, on `settings`: the SDK clients made once each, then the ports. */
const portsOn = (settings: Config.Config.Success<typeof settingsConfig>) =>
  Effect.gen(function*() {
    const clients = Context.make(DynamoDb.DynamoDb, yield* DynamoDb.make(settings.dynamoDb)).pipe(
      Context.add(S3FileStore.S3, yield* S3FileStore.makeClient(settings.s3)),
      Context.add(SesEmailSender.SesClient, yield* SesEmailSender.makeClient(settings.ses))
    )
    const ports = yield* Effect.provide(
      Effect.all({
        jobs: DynamoDbJobStore.make,
        notifier: DynamoDbInAppNotifier.make,
        files: S3FileStore.make(settings.s3),
        email: SesEmailSender.make(settings.ses)
      }),
      clients
    )
    return Context.make(JobStore, ports.jobs).pipe(
      Context.add(InAppNotifier, ports.notifier),
      Context.add(FileStore, ports.files),
      Context.add(EmailSender, ports.email),
      Context.add(ExportLinks, HttpExportLinks.make(settings.appBaseUrl)),
      Context.add(ExportSettings, settings.exportSettings)
    )
  })

/** Every port an export needs but its report source, each on its settings from `Config`. */
export const layerWithoutReportSource = Layer.scopedContext(Effect.flatMap(settingsConfig, portsOn))

/** Every port an export needs, the report source ClickHouse over HTTP (CLICKHOUSE_*). */
export const layer = withClickHouseReportSource(settingsConfig, portsOn)
