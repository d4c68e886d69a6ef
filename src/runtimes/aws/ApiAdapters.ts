// The production adapters every API runtime answers on (the Node server and the Lambda function): jobs and
// notifications in DynamoDB, the SQS publisher, S3 or R2 for download links, readiness checks on the queue and
// both tables, and the report source for previews (ClickHouse over HTTP; `npm run serve` takes REPORT_SOURCE's).
// Kept apart from the runtimes so that a Lambda bundle imports these and no server of its own.
// Built as one scoped effect over one settings record (ADR 59): each adapter's settings read with its own `Config`,
// each SDK client made once, every port made over them, rather than a layer per client, per setting and per port,
// whose building was most of what the API's first answer spent on its adapters.
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs"
import { GetCommand } from "@aws-sdk/lib-dynamodb"
import { Config, Context, Effect, Layer } from "effect"
import * as DynamoDb from "../../adapters/dynamodb/DynamoDb.js"
import * as DynamoDbAuditTrail from "../../adapters/dynamodb/DynamoDbAuditTrail.js"
import * as DynamoDbInAppNotifier from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../adapters/dynamodb/DynamoDbJobStore.js"
import { ReadinessChecks } from "../../adapters/http/HealthHttp.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as S3LinkFileStore from "../../adapters/s3/S3LinkFileStore.js"
import { s3FileStoreSettingsConfig } from "../../adapters/s3/S3Settings.js"
import * as SqsClient from "../../adapters/sqs/SqsClient.js"
import * as SqsJobQueue from "../../adapters/sqs/SqsJobQueue.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { JobIds } from "../../application/JobIds.js"
import { AuditTrail } from "../../application/ports/AuditTrail.js"
import { ExportLinks } from "../../application/ports/ExportLinks.js"
import { FileStore } from "../../application/ports/FileStore.js"
import { InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { JobQueue } from "../../application/ports/JobQueue.js"
import { JobStore } from "../../application/ports/JobStore.js"
import { withClickHouseReportSource } from "./ClickHouseReportSourcePorts.js"

// A key no item has: a GetItem on it reads nothing but proves the table, the credentials and the network.
const PROBE_KEY = "readiness-probe"

/** One cheap call per dependency the API cannot answer without: both tables and the queue. */
const readinessChecks = (
  db: DynamoDb.DynamoDb["Type"],
  sqs: SqsClient.SqsClient["Type"],
  { callTimeout, queueUrl }: SqsClient.SqsSettingsShape
): ReadinessChecks["Type"] => [
  {
    name: "jobs",
    check: db.call(
      "GetItem",
      (documents, options) =>
        documents.send(new GetCommand({ TableName: db.tables.jobs, Key: { jobId: PROBE_KEY } }), options)
    )
  },
  {
    name: "notifications",
    check: db.call(
      "GetItem",
      (documents, options) =>
        documents.send(new GetCommand({ TableName: db.tables.notifications, Key: { id: PROBE_KEY } }), options)
    )
  },
  {
    name: "queue",
    check: SqsClient.sqsCall(
      "GetQueueAttributes",
      callTimeout,
      (abortSignal) =>
        sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }), { abortSignal })
    )
  }
]

/** The settings of every port but the report source: each adapter's own `Config`, read in one go. */
const settingsConfig = Config.all({
  dynamoDb: DynamoDb.dynamoDbSettingsConfig,
  sqs: SqsClient.sqsSettingsConfig,
  s3: s3FileStoreSettingsConfig,
  // The links a cancel's in-app notice leads to; the API's own paths, so APP_BASE_URL may be left unset here.
  appBaseUrl: HttpExportLinks.appBaseUrlConfig(),
  exportSettings: ExportSettings.config
})

/**
 * Every port the API needs but its report source, on `settings`: the DynamoDB and SQS clients made once each (closed
 * with the scope), then every port over them; the file store signs its links without an S3 client (ADR 61). Making
 * them does no I/O.
 */
const portsOn = (settings: Config.Config.Success<typeof settingsConfig>) =>
  Effect.gen(function*() {
    const db = yield* DynamoDb.make(settings.dynamoDb)
    const sqs = yield* SqsClient.make(settings.sqs)
    const clients = Context.make(DynamoDb.DynamoDb, db).pipe(
      Context.add(SqsClient.SqsClient, sqs),
      Context.add(SqsClient.SqsSettings, settings.sqs)
    )
    const ports = yield* Effect.provide(
      Effect.all({
        jobs: DynamoDbJobStore.make,
        notifier: DynamoDbInAppNotifier.make,
        audit: DynamoDbAuditTrail.make,
        queue: SqsJobQueue.make,
        // Links signed with SigV4 alone: no S3 client at start (ADR 61).
        files: S3LinkFileStore.make(settings.s3)
      }),
      clients
    )
    const jobIds = yield* Layer.build(JobIds.Default)
    return Context.make(JobStore, ports.jobs).pipe(
      Context.add(InAppNotifier, ports.notifier),
      Context.add(AuditTrail, ports.audit),
      Context.add(JobQueue, ports.queue),
      Context.add(FileStore, ports.files),
      Context.add(ReadinessChecks, readinessChecks(db, sqs, settings.sqs)),
      Context.add(ExportLinks, HttpExportLinks.make(settings.appBaseUrl)),
      Context.add(ExportSettings, settings.exportSettings),
      Context.merge(jobIds)
    )
  })

/** Every port the API needs but its report source, each on its settings from `Config`; building them does no I/O. */
export const layerWithoutReportSource = Layer.scopedContext(Effect.flatMap(settingsConfig, portsOn))

/**
 * Every port the API needs, the report source (for previews, ADR 35) ClickHouse over HTTP (CLICKHOUSE_*), whose
 * client opens no connection until the first preview.
 */
export const layer = withClickHouseReportSource(settingsConfig, portsOn)
