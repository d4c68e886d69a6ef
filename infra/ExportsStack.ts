// The AWS side of the service as one CDK stack: the HTTP API with its JWT authorizer, the API and worker functions,
// the export queue with its dead-letter queue, the two DynamoDB tables, the SES configuration set, the secret the
// functions read their credentials from, and an alarm when exports reach the dead-letter queue. Object storage
// (Cloudflare R2) and ClickHouse live outside AWS: the stack only passes their addresses (see docs/deploy.md). Without
// an R2 endpoint the stack makes an S3 bucket instead, with the lifecycle rules infra/r2-lifecycle.json gives R2.
import { CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib"
import type { StackProps } from "aws-cdk-lib"
import { CorsHttpMethod, HttpApi, HttpMethod, HttpNoneAuthorizer } from "aws-cdk-lib/aws-apigatewayv2"
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers"
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations"
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch"
import { AttributeType, Billing, TableV2 } from "aws-cdk-lib/aws-dynamodb"
import { Rule, RuleTargetInput, Schedule } from "aws-cdk-lib/aws-events"
import { LambdaFunction as LambdaFunctionTarget } from "aws-cdk-lib/aws-events-targets"
import { Effect as IamEffect, PolicyStatement } from "aws-cdk-lib/aws-iam"
import { Architecture, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda"
import type { Code } from "aws-cdk-lib/aws-lambda"
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources"
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs"
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3"
import type { LifecycleRule } from "aws-cdk-lib/aws-s3"
import { Secret } from "aws-cdk-lib/aws-secretsmanager"
import { ConfigurationSet } from "aws-cdk-lib/aws-ses"
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs"
import type { Construct } from "constructs"
import { Duration as EffectDuration } from "effect"
import {
  ACTIVE_JOBS_BY_OWNER_INDEX,
  ACTIVE_JOBS_INDEX,
  JOBS_BY_OWNER_INDEX,
  NOTIFICATIONS_BY_OWNER_INDEX,
  TTL_ATTRIBUTE
} from "../src/adapters/dynamodb/DynamoDbTables.js"
import { DEFAULT_QUEUE_MAX_RECEIVES } from "../src/application/ExportWorker.js"
import {
  DEAD_LETTER_RETENTION,
  DEFAULT_FILE_RETENTION,
  INCOMPLETE_UPLOAD_RETENTION,
  retentionDays
} from "../src/application/Retention.js"
import { lambdaProcessEnvironment } from "../src/runtimes/lambda/LambdaProcessSettings.js"
import { SWEEP_EVENT, SWEEP_SCHEDULE } from "../src/runtimes/lambda/SweepEvent.js"

/**
 * How the functions run: Lambda's Node runtime on the bundles (`index.handler`, arm64), or the custom runtime of
 * ADR 52 on `dist/lambda/<function>-snapshot` (its `bootstrap`: the pinned Node binary on a startup snapshot), whose
 * architecture is the one its blob was built on (the directory's manifest.json says which).
 */
export type FunctionRuntime =
  | { readonly kind: "nodejs" }
  | { readonly kind: "snapshot"; readonly architecture: "x64" | "arm64" }

export interface ExportsStackProps extends StackProps {
  /**
   * The bundles `npm run build` makes: dist/lambda/api and dist/lambda/worker, or, with `functionRuntime` a snapshot,
   * dist/lambda/api-snapshot and dist/lambda/worker-snapshot.
   */
  readonly apiCode: Code
  readonly workerCode: Code
  /** Lambda's Node runtime unless said otherwise. */
  readonly functionRuntime?: FunctionRuntime
  /** The identity provider whose access tokens API Gateway verifies. */
  readonly jwtIssuer: string
  readonly jwtAudience: ReadonlyArray<string>
  /** Claims that carry the merchant and the e-mail address (AUTH_MERCHANT_CLAIM, AUTH_EMAIL_CLAIM). */
  readonly merchantClaim?: string
  readonly emailClaim?: string
  /**
   * Cloudflare R2's `https://<account>.r2.cloudflarestorage.com`, whose bucket `bucket` must name and whose lifecycle
   * rules are set with infra/r2-lifecycle.json. Without it the stack makes an S3 bucket with those rules itself,
   * named `bucket` when given.
   */
  readonly storageEndpoint?: string | undefined
  readonly bucket?: string | undefined
  /** The ClickHouse HTTP(S) endpoint, e.g. `https://<service>.clickhouse.cloud:8443`. */
  readonly clickhouseUrl: string
  /** A verified SES identity (a domain), and the From address on it. */
  readonly sesIdentity: string
  readonly emailFrom: string
  /** The web app: e-mails link to the export's page there. */
  readonly appBaseUrl: string
  /** The most exports that run at once (the event source mapping's maximum concurrency, 2 to 1000). */
  readonly workerMaxConcurrency?: number
}

/** An export may run for most of the worker's 15 minutes; the queue hides a message for six times as long. */
export const WORKER_TIMEOUT = Duration.minutes(15)
export const VISIBILITY_TIMEOUT = Duration.minutes(15 * 6)
/** The queue's redrive limit, told to the worker (QUEUE_MAX_RECEIVES) so that it knows a message's last receive. */
export const MAX_RECEIVE_COUNT = DEFAULT_QUEUE_MAX_RECEIVES
/** Records per invocation; the worker runs them side by side (WORKER_CONCURRENCY). */
export const BATCH_SIZE = 4
/** The HTTP API's one stage, created with it: its URL has no stage segment. */
export const DEFAULT_STAGE = "$default"
/** Where every export's object key starts (`objectKeyFor`): the prefix the expiry rule covers. */
export const EXPORTS_PREFIX = "exports/"

/**
 * The rules of the bucket the stack makes, and the ones infra/r2-lifecycle.json sets on R2 (a test holds the two
 * together): exports expire FILE_RETENTION's default after they were written, which every link signed for them
 * outlives (ADR 29); a multipart upload a dead worker left incomplete is aborted after a day.
 */
export const EXPORT_LIFECYCLE_RULES: ReadonlyArray<LifecycleRule> = [
  {
    id: "delete-expired-exports",
    prefix: EXPORTS_PREFIX,
    expiration: Duration.days(retentionDays(DEFAULT_FILE_RETENTION))
  },
  {
    id: "abort-incomplete-uploads",
    abortIncompleteMultipartUploadAfter: Duration.days(retentionDays(INCOMPLETE_UPLOAD_RETENTION))
  }
]

export class ExportsStack extends Stack {
  constructor(scope: Construct, id: string, props: ExportsStackProps) {
    super(scope, id, props)

    // ------------------------------------------------------------------------------------------- data

    const jobs = new TableV2(this, "Jobs", {
      partitionKey: { name: "jobId", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      globalSecondaryIndexes: [
        {
          indexName: JOBS_BY_OWNER_INDEX,
          partitionKey: { name: "ownerKey", type: AttributeType.STRING },
          sortKey: { name: "jobId", type: AttributeType.STRING }
        },
        {
          indexName: ACTIVE_JOBS_BY_OWNER_INDEX,
          partitionKey: { name: "activeOwnerKey", type: AttributeType.STRING },
          sortKey: { name: "jobId", type: AttributeType.STRING }
        },
        {
          indexName: ACTIVE_JOBS_INDEX,
          partitionKey: { name: "activeKey", type: AttributeType.STRING },
          sortKey: { name: "jobId", type: AttributeType.STRING }
        }
      ]
    })
    const notifications = new TableV2(this, "Notifications", {
      partitionKey: { name: "id", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: RemovalPolicy.RETAIN,
      globalSecondaryIndexes: [{
        indexName: NOTIFICATIONS_BY_OWNER_INDEX,
        partitionKey: { name: "ownerKey", type: AttributeType.STRING },
        sortKey: { name: "createdAtKey", type: AttributeType.STRING }
      }]
    })
    // Each export's audit trail (ADR 46): entries put once under their job, deleted by TTL with the job's retention.
    const audit = new TableV2(this, "Audit", {
      partitionKey: { name: "jobId", type: AttributeType.STRING },
      sortKey: { name: "entryId", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN
    })

    // ------------------------------------------------------------------------------------------ queue

    const deadLetters = new Queue(this, "ExportsDeadLetters", {
      retentionPeriod: Duration.days(retentionDays(DEAD_LETTER_RETENTION)),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true
    })
    const queue = new Queue(this, "Exports", {
      visibilityTimeout: VISIBILITY_TIMEOUT,
      retentionPeriod: Duration.days(4),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT }
    })
    new Alarm(this, "ExportsDeadLettered", {
      alarmDescription: "An export message reached the dead-letter queue: its user may not have been told.",
      metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING
    })

    // ------------------------------------------------------------------------- secrets and e-mail

    // One JSON object of setting name -> value (CLICKHOUSE_PASSWORD, S3_ACCESS_KEY_ID, ...), read by the functions
    // on their first invocation and laid over their environment; its values never appear in the template.
    const secrets = new Secret(this, "Credentials", {
      description: "Settings the export functions must not hold in plain environment variables (JSON object)."
    })
    const configurationSet = new ConfigurationSet(this, "ExportEmails", {})

    // ---------------------------------------------------------------------------------------- storage

    if (props.storageEndpoint === undefined && props.bucket !== undefined && props.bucket.trim() === "") {
      throw new Error("bucket: a name, or leave it out for the stack to name its S3 bucket")
    }
    if (props.storageEndpoint !== undefined && props.bucket === undefined) {
      throw new Error("bucket: required with storageEndpoint (the R2 bucket the exports go to)")
    }
    const files = props.storageEndpoint === undefined
      ? new Bucket(this, "ExportFiles", {
        ...(props.bucket === undefined ? {} : { bucketName: props.bucket }),
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        removalPolicy: RemovalPolicy.RETAIN,
        lifecycleRules: [...EXPORT_LIFECYCLE_RULES]
      })
      : undefined
    // R2: its endpoint, and its one region. S3: the functions' own region (S3_REGION unset falls back to AWS_REGION).
    const storage = files === undefined
      ? { S3_BUCKET: props.bucket!, S3_REGION: "auto", S3_ENDPOINT: props.storageEndpoint! }
      : { S3_BUCKET: files.bucketName }

    // -------------------------------------------------------------------------------------- functions

    const common = {
      SECRETS_ARN: secrets.secretArn,
      ...storage,
      SQS_QUEUE_URL: queue.queueUrl,
      DYNAMODB_JOBS_TABLE: jobs.tableName,
      DYNAMODB_NOTIFICATIONS_TABLE: notifications.tableName,
      DYNAMODB_AUDIT_TABLE: audit.tableName,
      APP_BASE_URL: props.appBaseUrl
    }

    // The environment is the same on both runtimes: the bootstrap's Node reads NODE_OPTIONS as Lambda's does, and
    // the blob was built under the same options (scripts/LambdaSnapshot.ts; app.ts checks its manifest).
    const functionRuntime = props.functionRuntime ?? { kind: "nodejs" }
    const runtime = functionRuntime.kind === "nodejs"
      ? { runtime: Runtime.NODEJS_24_X, architecture: Architecture.ARM_64, handler: "index.handler" }
      : {
        runtime: Runtime.PROVIDED_AL2023,
        architecture: functionRuntime.architecture === "arm64" ? Architecture.ARM_64 : Architecture.X86_64,
        // A custom runtime's bootstrap answers every invocation; Lambda passes the name on as _HANDLER only.
        handler: "bootstrap"
      }

    const apiLogs = new LogGroup(this, "ApiLogs", { retention: RetentionDays.ONE_MONTH })
    const api = new LambdaFunction(this, "Api", {
      ...runtime,
      code: props.apiCode,
      memorySize: 512,
      timeout: Duration.seconds(10),
      logGroup: apiLogs,
      environment: {
        ...common,
        ...lambdaProcessEnvironment("api"),
        // A report's preview reads ClickHouse as an export does (ADR 35); its user and password are in the secret.
        CLICKHOUSE_URL: props.clickhouseUrl,
        // API Gateway's authorizer has verified the token already; the function reads its claims.
        AUTH_TRUST_GATEWAY: "true",
        AUTH_ISSUER: props.jwtIssuer,
        AUTH_AUDIENCE: props.jwtAudience.join(","),
        ...(props.merchantClaim === undefined ? {} : { AUTH_MERCHANT_CLAIM: props.merchantClaim }),
        ...(props.emailClaim === undefined ? {} : { AUTH_EMAIL_CLAIM: props.emailClaim })
      }
    })

    const workerLogs = new LogGroup(this, "WorkerLogs", { retention: RetentionDays.ONE_MONTH })
    const worker = new LambdaFunction(this, "Worker", {
      ...runtime,
      code: props.workerCode,
      memorySize: 1024,
      timeout: WORKER_TIMEOUT,
      logGroup: workerLogs,
      environment: {
        ...common,
        ...lambdaProcessEnvironment("worker"),
        REPORT_SOURCE: "clickhouse",
        CLICKHOUSE_URL: props.clickhouseUrl,
        SES_FROM: props.emailFrom,
        SES_CONFIGURATION_SET: configurationSet.configurationSetName,
        WORKER_CONCURRENCY: String(BATCH_SIZE),
        // The message's last receive gives up a job it cannot finish rather than leave it in progress (ADR 3).
        QUEUE_MAX_RECEIVES: String(MAX_RECEIVE_COUNT),
        // One receive fewer than the queue allows: a job whose worker died on every attempt is failed, and its user
        // told, by the message's last receive without starting it once more (a worker dying then would leave it
        // Running with nothing to take it over).
        EXPORT_MAX_ATTEMPTS: String(MAX_RECEIVE_COUNT - 1)
      }
    })
    worker.addEventSource(
      new SqsEventSource(queue, {
        batchSize: BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: props.workerMaxConcurrency ?? 10
      })
    )
    // The sweeper (ADR 30): the same function, sent SWEEP_EVENT on a schedule, fails the jobs left in progress past
    // EXPORT_DEADLINE with no live lease, and tells their users. A missed sweep is made up by the next one.
    new Rule(this, "SweepOverdueJobs", {
      schedule: Schedule.rate(Duration.minutes(EffectDuration.toMinutes(SWEEP_SCHEDULE))),
      targets: [new LambdaFunctionTarget(worker, { event: RuleTargetInput.fromObject(SWEEP_EVENT), retryAttempts: 0 })]
    })

    // ------------------------------------------------------------------------ least privilege

    // The API records and reads jobs, claims idempotency keys, reads and marks notifications, appends to and reads
    // the audit trail, and publishes.
    jobs.grantReadWriteData(api)
    notifications.grantReadWriteData(api)
    // The audit trail is append-only, to the API too: it may put entries and read them, never change or delete one.
    audit.grant(api, "dynamodb:PutItem", "dynamodb:Query")
    queue.grantSendMessages(api)
    secrets.grantRead(api)
    // The worker moves jobs through their states and writes notifications; the event source mapping receives and
    // deletes its messages (granted by addEventSource). Nothing else in the account.
    jobs.grantReadWriteData(worker)
    notifications.grantWriteData(worker)
    secrets.grantRead(worker)
    // On the stack's own bucket, the worker uploads (and aborts what it cannot finish) and signs the e-mailed link;
    // the API signs download links. A presigned URL acts with its signer's permissions, so both may read.
    if (files !== undefined) {
      files.grantPut(worker)
      files.grantRead(worker)
      files.grantRead(api)
    }
    worker.addToRolePolicy(
      new PolicyStatement({
        effect: IamEffect.ALLOW,
        actions: ["ses:SendEmail"],
        resources: [
          this.formatArn({ service: "ses", resource: "identity", resourceName: props.sesIdentity }),
          this.formatArn({
            service: "ses",
            resource: "configuration-set",
            resourceName: configurationSet.configurationSetName
          })
        ]
      })
    )

    // -------------------------------------------------------------------------------------- HTTP API

    const authorizer = new HttpJwtAuthorizer("Jwt", props.jwtIssuer, {
      jwtAudience: [...props.jwtAudience]
    })
    const httpApi = new HttpApi(this, "HttpApi", {
      description: "async-data-export: export requests, statuses, downloads and notifications",
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", api),
      defaultAuthorizer: authorizer,
      corsPreflight: {
        allowOrigins: [props.appBaseUrl],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
        // If-None-Match and ETag: a web app polling through the gateway, which does not stream events (ADR 32).
        allowHeaders: ["authorization", "content-type", "idempotency-key", "if-none-match"],
        exposeHeaders: ["location", "x-request-id", "retry-after", "etag"],
        maxAge: Duration.hours(1)
      }
    })

    // The function believes the authorizer's claims only in events of this API and its stage (ADR 22). The
    // function's environment then refers to the API, while the API's integrations and the permission to invoke
    // refer to the function; the API resource itself refers to nothing of the function, so this makes no cycle (a
    // test on the template sorts its dependency graph).
    api.addEnvironment("AUTH_GATEWAY_API_ID", httpApi.apiId)
    api.addEnvironment("AUTH_GATEWAY_STAGE", httpApi.defaultStage?.stageName ?? DEFAULT_STAGE)

    // Probes and the API's description need no token; everything else goes through the authorizer. The function
    // has no /docs page (ADR 42): the Node servers serve it.
    for (const path of ["/health", "/ready", "/openapi.json"]) {
      httpApi.addRoutes({
        path,
        methods: [HttpMethod.GET],
        integration: new HttpLambdaIntegration(`Public${path.replace(/\W/g, "")}`, api),
        authorizer: new HttpNoneAuthorizer()
      })
    }

    new CfnOutput(this, "ApiUrl", { value: httpApi.apiEndpoint })
    new CfnOutput(this, "QueueUrl", { value: queue.queueUrl })
    new CfnOutput(this, "DeadLetterQueueUrl", { value: deadLetters.queueUrl })
    new CfnOutput(this, "CredentialsSecretArn", { value: secrets.secretArn })
  }
}
