// The production adapters every worker runtime runs an export on (the Node SQS consumer and the Lambda worker):
// jobs and in-app notices in DynamoDB, files in S3 or R2, e-mail through SES, and the report source ClickHouse
// over HTTP. Kept apart from the runtimes so that a Lambda bundle imports these and nothing of the embedded engine.
import { Layer } from "effect"
import * as ClickHouseReportSource from "../../adapters/clickhouse/ClickHouseReportSource.js"
import * as DynamoDb from "../../adapters/dynamodb/DynamoDb.js"
import * as DynamoDbInAppNotifier from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../adapters/dynamodb/DynamoDbJobStore.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as S3FileStore from "../../adapters/s3/S3FileStore.js"
import * as SesEmailSender from "../../adapters/ses/SesEmailSender.js"
import { ExportSettings } from "../../application/ExportSettings.js"

/** Every port an export needs but its report source, each on its settings from `Config`. */
export const layerWithoutReportSource = Layer.mergeAll(
  Layer.mergeAll(DynamoDbJobStore.layer, DynamoDbInAppNotifier.layer).pipe(Layer.provide(DynamoDb.layerConfig)),
  S3FileStore.layerConfig,
  SesEmailSender.layerConfig,
  HttpExportLinks.layerConfig,
  ExportSettings.layer
)

/** Every port an export needs, the report source ClickHouse over HTTP (CLICKHOUSE_*). */
export const layer = Layer.merge(layerWithoutReportSource, ClickHouseReportSource.layerConfig)
