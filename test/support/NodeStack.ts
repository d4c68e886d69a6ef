// What the failure-path tests of the `npm run serve` / `npm run worker` compositions share: the local servers, the
// settings both processes read (as one map, for a ConfigProvider or a child process's environment), a user's
// token, HTTP calls to the API, and the lines the worker logged about a job.
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { expect } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Logger, Option, Redacted } from "effect"
import { join } from "node:path"
import { signDevToken } from "../../src/adapters/auth/JwtVerifier.js"
import * as DynamoDb from "../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbJobStore from "../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { clientConfig, MIN_PART_SIZE } from "../../src/adapters/s3/S3FileStore.js"
import { JOB_ID_ATTRIBUTE } from "../../src/adapters/sqs/SqsJobQueue.js"
import { encodeMessage } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { messageFor } from "../../src/application/RequestExport.js"
import { objectKeyFor } from "../../src/domain/ExportJob.js"
import { ExportJobId, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import type { EmailAddress } from "../../src/domain/Identifiers.js"
import * as ServeApi from "../../src/runtimes/node/ServeApi.js"
import * as Worker from "../../src/runtimes/node/Worker.js"
import { settingsFor as s3SettingsFor } from "../adapters/s3/S3Support.js"
import { spawnProgram } from "./ChildProcesses.js"
import { freePort, temporaryDataDir } from "./EndToEnd.js"
import type { LoggedLine } from "./LogCollector.js"
import { DynaliteServer, DynaliteServerLive } from "./servers/DynaliteServer.js"
import { FauxqsServer, FauxqsServerLive, MAX_RECEIVE_COUNT } from "./servers/FauxqsServer.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "./servers/S3rverServer.js"
import { SesLocalServer } from "./servers/SesLocalServer.js"
import type { SesLocalServerService } from "./servers/SesLocalServer.js"

export const JWT_SECRET = "a-test-secret-of-at-least-32-characters-long"

export const localServers = Layer.mergeAll(
  S3rverServer.layer("exports"),
  FauxqsServerLive,
  SesLocalServer.layer,
  DynaliteServerLive
)

/** Settings by variable name, as the environment would give them. */
export type Settings = Map<string, string>

/**
 * The settings of both compositions on the local servers, a free port and a chdb directory of their own, with
 * `overrides` applied last. Short SQS waits so that tests take seconds.
 */
export const localSettings = (overrides: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const s3 = yield* S3rverServer
    const sqs = yield* FauxqsServer
    const ses = yield* SesLocalServer
    const dynamo = yield* DynaliteServer
    const chdbDir = yield* temporaryDataDir("ade-failure-")
    const port = yield* freePort
    return new Map([
      ["PORT", String(port)],
      ["HOST", "127.0.0.1"],
      ["AUTH_JWT_SECRET", JWT_SECRET],
      ["APP_BASE_URL", "https://app.example.test"],
      ["S3_BUCKET", s3.bucket],
      ["S3_REGION", "us-east-1"],
      ["S3_ENDPOINT", s3.endpoint.href],
      ["S3_FORCE_PATH_STYLE", "true"],
      ["S3_ACCESS_KEY_ID", S3RVER_ACCESS_KEY],
      ["S3_SECRET_ACCESS_KEY", S3RVER_ACCESS_KEY],
      ["SQS_QUEUE_URL", sqs.queueUrl],
      ["SQS_REGION", sqs.settings.region],
      ["SQS_ENDPOINT", sqs.endpoint],
      ["SQS_ACCESS_KEY_ID", "local"],
      ["SQS_SECRET_ACCESS_KEY", "local"],
      ["SQS_WAIT_SECONDS", "1"],
      ["SQS_VISIBILITY_SECONDS", "30"],
      ["SES_REGION", "us-east-1"],
      ["SES_ENDPOINT", ses.endpoint.href],
      ["SES_FROM", "Exports <exports@example.test>"],
      ["SES_ACCESS_KEY_ID", "local"],
      ["SES_SECRET_ACCESS_KEY", "local"],
      ["DYNAMODB_REGION", dynamo.settings.region],
      ["DYNAMODB_ENDPOINT", dynamo.endpoint],
      ["DYNAMODB_JOBS_TABLE", dynamo.settings.tables.jobs],
      ["DYNAMODB_NOTIFICATIONS_TABLE", dynamo.settings.tables.notifications],
      ["DYNAMODB_AUDIT_TABLE", dynamo.settings.tables.audit],
      ["DYNAMODB_ACCESS_KEY_ID", "local"],
      ["DYNAMODB_SECRET_ACCESS_KEY", "local"],
      ["REPORT_SOURCE", "chdb"],
      ["CHDB_DATA_DIR", join(chdbDir, "clickhouse")],
      ["DEMO_ROWS", "20000"],
      ["WORKER_CONCURRENCY", "2"],
      ["SHUTDOWN_GRACE", "5 seconds"],
      // Under the queue's visibility, as docs/deploy.md asks: a message coming back finds a dead worker's lease
      // run out.
      ["EXPORT_LEASE", "10 seconds"],
      ["QUEUE_MAX_RECEIVES", String(MAX_RECEIVE_COUNT)],
      ...Object.entries(overrides)
    ])
  })

/**
 * An export whose upload is multipart with several parts of the smallest size S3 allows: a year of m-acme's order lines
 * out of MULTIPART_SETTINGS' 500 000 demo lines, about 125 000 rows and well over 10 MB of CSV.
 */
export const MULTIPART_EXPORT = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-12-31" }
export const MULTIPART_SETTINGS = { DEMO_ROWS: "500000", S3_PART_SIZE: String(MIN_PART_SIZE) }

/** The object key of the first attempt of `user`'s job `jobId`, as the worker names it. */
export const firstAttemptKey = (user: { readonly sub: string; readonly merchantId: string }, jobId: string) =>
  objectKeyFor({
    jobId: ExportJobId.make(jobId),
    owner: new Owner({ userId: UserId.make(user.sub), merchantId: MerchantId.make(user.merchantId) }),
    attempts: 1,
    format: "csv"
  })

/** Where the API of `settings` answers. */
export const apiBase = (settings: Settings): string => `http://127.0.0.1:${settings.get("PORT")}`

/** The API (`npm run serve`) on `settings`, for as long as the scope lives. */
export const startApi = (settings: Settings) =>
  Layer.build(ServeApi.layer).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(settings)))

/**
 * The worker (`npm run worker`) on `settings`, for as long as the scope lives; with `logger`, every fiber it
 * starts logs there too (the fibers it forks inherit the loggers of the fiber that builds it).
 */
export const startWorker = (settings: Settings, logger?: Logger.Logger<unknown, void>) => {
  const build = Layer.build(Worker.layerOnChdb).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(settings)))
  return logger === undefined
    ? build
    : Effect.provide(build, Logger.add(logger))
}

/**
 * `npm run worker` as a child process (node with tsx, as the npm script runs it) on `settings` as its environment,
 * with a chdb directory of its own (libchdb holds one per process; the same DEMO_ROWS seed gives the same rows).
 * SIGKILLed by its pid when the scope closes if it is still alive; `output` collects its JSON lines.
 */
export const spawnWorkerProcess = (settings: Settings) =>
  Effect.gen(function*() {
    const chdbDir = yield* temporaryDataDir("ade-worker-process-")
    return yield* spawnProgram(["src", "runtimes", "node", "workerMain.ts"], {
      ...process.env,
      ...Object.fromEntries(settings),
      CHDB_DATA_DIR: join(chdbDir, "clickhouse")
    })
  })

/** A bearer token for a user of `merchantId`, with `email` as their address. */
export const bearerFor = (user: { readonly sub: string; readonly merchantId: string; readonly email: string }) =>
  Effect.promise(() => signDevToken({ secret: Redacted.make(JWT_SECRET), ...user, ttl: Duration.hours(1) })).pipe(
    Effect.map((token) => ({ authorization: `Bearer ${token}` }))
  )

export interface JsonResponse<A> {
  readonly status: number
  readonly headers: Headers
  readonly body: A
}

export const fetchJson = <A>(url: string, init?: RequestInit): Effect.Effect<JsonResponse<A>> =>
  Effect.promise(() =>
    fetch(url, init).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as A }))
  )

/** What the API shows of an export (the part these tests read). */
export interface ExportView {
  readonly jobId: string
  readonly status: "queued" | "running" | "succeeded" | "failed" | "cancelled"
  readonly attempts: number
  readonly file?: { readonly rowCount: number; readonly byteSize: number }
  readonly failure?: { readonly reason: string; readonly message: string; readonly retryable: boolean }
}

export interface NotificationView {
  readonly id: string
  readonly jobId: string
  readonly kind: string
  readonly title: string
  readonly body: string
}

/** The API of one user on `settings`: request an export, read it, cancel it, list exports and notifications. */
export const apiClient = (settings: Settings, auth: Record<string, string>) => {
  const base = apiBase(settings)
  return {
    base,
    requestExport: (body: Record<string, unknown>) =>
      fetchJson<{ jobId: string; statusUrl: string } & Record<string, unknown>>(`${base}/api/v1/reports/export`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body)
      }),
    exportOf: (jobId: string) =>
      fetchJson<ExportView>(`${base}/api/v1/reports/exports/${jobId}`, { headers: auth }).pipe(
        Effect.map((response) => {
          expect(response.status).toBe(200)
          return response.body
        })
      ),
    exports: fetchJson<{ items: ReadonlyArray<ExportView> }>(`${base}/api/v1/reports/exports`, { headers: auth })
      .pipe(Effect.map((response) => response.body.items)),
    /** The owner's cancel: the export's view (200), or the API's error. */
    cancel: (jobId: string) =>
      fetchJson<ExportView & { readonly error?: { readonly code: string; readonly message: string } }>(
        `${base}/api/v1/reports/exports/${jobId}/cancel`,
        { method: "POST", headers: auth }
      ),
    notifications: fetchJson<{ items: ReadonlyArray<NotificationView> }>(`${base}/api/v1/notifications`, {
      headers: auth
    }).pipe(Effect.map((response) => response.body.items)),
    /** The CSV behind the export's download link. */
    download: (jobId: string) =>
      Effect.gen(function*() {
        const link = yield* fetchJson<{ url: string }>(`${base}/api/v1/reports/exports/${jobId}/download`, {
          headers: { ...auth, accept: "application/json" }
        })
        expect(link.status).toBe(200)
        return yield* Effect.promise(() =>
          fetch(link.body.url).then(async (r) => {
            expect(r.status).toBe(200)
            return r.text()
          })
        )
      })
  }
}

export type ApiClient = ReturnType<typeof apiClient>

/** Polls the export every 100 ms until `done` holds of it, for at most `within`; fails the test otherwise. */
export const waitForExport = (
  api: ApiClient,
  jobId: string,
  done: (view: ExportView) => boolean,
  within: Duration.DurationInput = Duration.seconds(20)
) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(within)
    let view = yield* api.exportOf(jobId)
    while (!done(view) && Date.now() < deadline) {
      yield* Effect.sleep("100 millis")
      view = yield* api.exportOf(jobId)
    }
    expect(done(view), `export ${jobId} stuck at ${JSON.stringify(view)}`).toBe(true)
    return view
  })

/** Runs `check` every 100 ms until it holds, for at most `within`; fails the test otherwise. */
export const eventually = <A, R>(
  read: Effect.Effect<A, never, R>,
  check: (value: A) => boolean,
  within: Duration.DurationInput = Duration.seconds(10)
) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(within)
    let value = yield* read
    while (!check(value) && Date.now() < deadline) {
      yield* Effect.sleep("100 millis")
      value = yield* read
    }
    return value
  })

/**
 * The emails SES received for `recipient`, once there is at least one. The worker sends the email after the in-app
 * notice and after recording the job's outcome, so neither of those says the email is already there.
 */
export const emailsTo = (ses: SesLocalServerService, recipient: EmailAddress) =>
  eventually(ses.sentTo(recipient), (sent) => sent.length > 0)

/** What the bucket holds, read over the S3 API with the test's own client: object keys and pending multipart uploads. */
export const bucketContents = Effect.gen(function*() {
  const info = yield* S3rverServer
  const client = new S3Client(clientConfig(s3SettingsFor(info)))
  return yield* Effect.promise(async () => {
    const objects = await client.send(new ListObjectsV2Command({ Bucket: info.bucket }))
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: info.bucket }))
    return {
      objects: (objects.Contents ?? []).map((object) => object.Key ?? ""),
      uploads: (uploads.Uploads ?? []).map((upload) => upload.Key ?? "")
    }
  }).pipe(Effect.ensuring(Effect.sync(() => client.destroy())))
})

/** Sends `body` to the queue again `times` times, with the jobId attribute the publisher sets: duplicate deliveries. */
export const redeliver = (body: string, jobId: string, times: number) =>
  Effect.gen(function*() {
    const sqs = yield* FauxqsServer
    for (let i = 0; i < times; i++) {
      yield* Effect.promise(() =>
        sqs.client.send(
          new SendMessageCommand({
            QueueUrl: sqs.queueUrl,
            MessageBody: body,
            MessageAttributes: { [JOB_ID_ATTRIBUTE]: { DataType: "String", StringValue: jobId } }
          })
        )
      )
    }
  })

/** The lines logged with `jobId` among their annotations whose first part is `message`. */
export const linesOf = (lines: ReadonlyArray<LoggedLine>, jobId: string, message: string) =>
  lines.filter((line) => line.annotations["jobId"] === jobId && line.message[0] === message)

/** The job as the store holds it, read with a JobStore of the test's own on the dynalite tables. */
export const storedJob = (jobId: string) =>
  Effect.gen(function*() {
    const dynamo = yield* DynaliteServer
    return yield* JobStore.pipe(
      Effect.flatMap((store) => store.get(ExportJobId.make(jobId))),
      Effect.map(Option.getOrThrow),
      Effect.orDie,
      Effect.provide(DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDb.layer(dynamo.settings))))
    )
  })

/** The message body the API publishes for the job, made from the stored job the way the API makes it. */
export const messageBodyOf = (jobId: string) => Effect.map(storedJob(jobId), (job) => encodeMessage(messageFor(job)))
