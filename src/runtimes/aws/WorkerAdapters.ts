// The production adapters every worker runtime runs an export on (the Node SQS consumer and the Lambda worker):
// jobs and in-app notices in DynamoDB, files in S3 or R2, e-mail through SES, the links notices carry, and the report
// source ClickHouse over HTTP. Kept apart from the runtimes so that a Lambda bundle imports these and nothing of the
// embedded engine.
import { Layer } from "effect"
import { layerConfig as ReportSourceClickHouseLive } from "../../adapters/clickhouse/ClickHouseReportSource.js"
import { DynamoDb } from "../../adapters/dynamodb/DynamoDb.js"
import { InAppNotifierDynamoDb } from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import { JobStoreDynamoDb } from "../../adapters/dynamodb/DynamoDbJobStore.js"
import { HttpExportLinks } from "../../adapters/http/HttpExportLinks.js"
import { S3FileStoreLive } from "../../adapters/s3/S3FileStore.js"
import { SesEmailSender } from "../../adapters/ses/SesEmailSender.js"
import { ExportSettings } from "../../application/ExportSettings.js"

/** Every port an export needs but its report source, each on its settings from `Config`. */
export const ExportSinksLive = Layer.mergeAll(
  Layer.mergeAll(JobStoreDynamoDb, InAppNotifierDynamoDb).pipe(Layer.provide(DynamoDb.layerConfig)),
  S3FileStoreLive,
  SesEmailSender.layerConfig(),
  HttpExportLinks.layerConfig(),
  ExportSettings.layer
)

export { ReportSourceClickHouseLive }
