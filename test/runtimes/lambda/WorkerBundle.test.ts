// The worker bundle `npm run build` writes (dist/lambda/worker/index.mjs, not the sources), invoked with SQS events
// as the event source mapping sends them, on the local DynamoDB, SQS, S3 and SES servers and ClickHouse's HTTP
// interface over chdb. Jobs are created by the API bundle, and the records carry the messages it published.
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3"
import type { Message } from "@aws-sdk/client-sqs"
import { expect, layer } from "@effect/vitest"
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda"
import type { Context as LambdaContext, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Context, DateTime, Duration, Effect, Either, Layer, Redacted, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as DynamoDb from "../../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbInAppNotifier from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { clientConfig } from "../../../src/adapters/s3/S3FileStore.js"
import { ExportSettings } from "../../../src/application/ExportSettings.js"
import { InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import type { SweepSummary } from "../../../src/application/SweepOverdueJobs.js"
import type { ExportJob } from "../../../src/domain/ExportJob.js"
import { Lease, newJob, Started, transition } from "../../../src/domain/ExportJob.js"
import { EmailAddress, makeExportJobId, Owner } from "../../../src/domain/Identifiers.js"
import { ReportRequest } from "../../../src/domain/Reports.js"
import { SWEEP_EVENT } from "../../../src/runtimes/lambda/SweepEvent.js"
import type { SweepEvent } from "../../../src/runtimes/lambda/SweepEvent.js"
import { settingsFor as s3SettingsFor } from "../../adapters/s3/S3Support.js"
import { expectOrdersCsvAsQueried } from "../../support/EndToEnd.js"
import { bucketContents, localServers, localSettings, storedJob } from "../../support/NodeStack.js"
import type { Settings } from "../../support/NodeStack.js"
import { ChdbHttpServer } from "../../support/servers/ChdbHttpServer.js"
import { DynaliteServer } from "../../support/servers/DynaliteServer.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { S3rverServer } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"
import { httpEvent, sqsEvent, sqsRecord } from "./LambdaEvents.js"

const DIST = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda")

type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>
interface WorkerHandler {
  (event: SQSEvent, context: LambdaContext): Promise<SQSBatchResponse>
  (event: SweepEvent, context: LambdaContext): Promise<SweepSummary>
}

/** A fresh container of bundle `name` on `settings` as its environment: each import URL is a module of its own. */
const loadBundle = <H>(name: "api" | "worker", settings: Settings, instance: string) =>
  Effect.promise(async () => {
    for (const [key, value] of settings) process.env[key] = value
    const url = `${pathToFileURL(join(DIST, name, "index.mjs")).href}?${instance}`
    const module = (await import(url)) as {
      handler: H
    }
    return module.handler
  })

/** The context Lambda passes, with `remainingMillis` left in the invocation. */
const lambdaContext = (remainingMillis: number): LambdaContext => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: "exports-worker",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:exports-worker",
  memoryLimitInMB: "1024",
  awsRequestId: `req-${Date.now()}`,
  logGroupName: "/aws/lambda/exports-worker",
  logStreamName: "2026/01/01/[$LATEST]abcdef",
  getRemainingTimeInMillis: () => remainingMillis,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined
})

/** Below MIN_TIME_TO_START nothing starts; ENOUGH_TIME is well above it. */
const MIN_TIME_TO_START = "10 seconds"
const ENOUGH_TIME = 60_000
const TOO_LITTLE_TIME = 5_000

/** ClickHouse's UNKNOWN_TABLE: not worth a retry, so the export fails for good on its first attempt. */
const UNKNOWN_TABLE = 60

const ordersBody = (dateFrom: string, dateTo: string, timezone: string) => ({
  reportType: "orders",
  format: "csv",
  dateFrom,
  dateTo,
  timezone
})

/** Three users asking for an export each: two that will succeed and one whose query the server refuses. */
const usersOf = (run: string) => ({
  acme: {
    claims: { sub: `acme-${run}`, merchant_id: "m-acme", email: `acme-${run}@example.test` },
    body: ordersBody("2025-01-01", "2025-01-31", "Europe/Paris")
  },
  globex: {
    claims: { sub: `globex-${run}`, merchant_id: "m-globex", email: `globex-${run}@example.test` },
    body: ordersBody("2024-06-01", "2024-06-30", "UTC")
  },
  failing: {
    claims: { sub: `failing-${run}`, merchant_id: "m-acme", email: `failing-${run}@example.test` },
    body: ordersBody("2025-02-01", "2025-02-28", "UTC")
  }
})

type User = ReturnType<typeof usersOf>[keyof ReturnType<typeof usersOf>]

/**
 * One container of each bundle on the local servers and ChdbHttpServer, shared by the tests as a warm Lambda
 * container serves several invocations: vitest takes seconds to load each bundle. Tests tell their own jobs, users
 * and records apart from the others'.
 */
class Containers extends Context.Tag("test/WorkerBundle/Containers")<Containers, {
  readonly api: ApiHandler
  readonly worker: WorkerHandler
}>() {}

const servers = Layer.merge(localServers, ChdbHttpServer.layer())

const containers = Layer.scoped(
  Containers,
  Effect.gen(function*() {
    const chdb = yield* ChdbHttpServer
    const settings = yield* localSettings({
      AUTH_TRUST_GATEWAY: "true",
      // The HTTP API LambdaEvents' events come from.
      AUTH_GATEWAY_API_ID: "abc123",
      REPORT_SOURCE: "clickhouse",
      CLICKHOUSE_URL: chdb.url.href,
      WORKER_CONCURRENCY: "4",
      LAMBDA_MIN_TIME_TO_START: MIN_TIME_TO_START,
      LAMBDA_ANSWER_RESERVE: "2 seconds"
    })
    return {
      api: yield* loadBundle<ApiHandler>("api", settings, "worker-bundle-test"),
      worker: yield* loadBundle<WorkerHandler>("worker", settings, "worker-bundle-test")
    }
  })
).pipe(Layer.provideMerge(servers))

/**
 * Three jobs requested through the API bundle, and the messages it published for them, taken off the queue as the
 * event source mapping would.
 */
const arrange = (run: string) =>
  Effect.gen(function*() {
    const chdb = yield* ChdbHttpServer
    const sqs = yield* FauxqsServer
    const { api, worker } = yield* Containers
    const users = usersOf(run)
    const request = (user: User) =>
      Effect.promise(() =>
        api(httpEvent({
          method: "POST",
          rawPath: "/api/v1/reports/export",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(user.body),
          claims: user.claims
        }))
      ).pipe(Effect.map((response) => {
        expect(response.statusCode).toBe(202)
        return String((JSON.parse(response.body ?? "{}") as Record<string, unknown>)["jobId"])
      }))
    const jobs = {
      acme: yield* request(users.acme),
      globex: yield* request(users.globex),
      failing: yield* request(users.failing)
    }

    const published: Array<Message> = []
    // Hidden for long enough that no other test takes them.
    for (let i = 0; i < 10 && published.length < 3; i++) published.push(...(yield* sqs.peek(sqs.queueUrl, 600)))
    const messageOf = (jobId: string) => {
      const message = published.find((m) => (JSON.parse(m.Body ?? "{}") as { jobId?: string }).jobId === jobId)
      expect(message, `no message published for ${jobId}`).toBeDefined()
      return message!
    }
    const recordOf = (jobId: string, receiveCount = 1) => {
      const message = messageOf(jobId)
      return sqsRecord(message.MessageId!, message.Body!, receiveCount)
    }
    return { chdb, users, jobs, recordOf, worker }
  })

const invoke = (worker: WorkerHandler, records: ReadonlyArray<SQSRecord>, remainingMillis = ENOUGH_TIME) =>
  Effect.promise(() => worker(sqsEvent(records), lambdaContext(remainingMillis)))

/** What of a stored job says how it ended; the same after a redelivery that changed nothing. */
const endOf = (job: ExportJob) => ({
  status: job._tag,
  revision: job.revision,
  attempts: job.attempts,
  ...(job._tag === "Succeeded" ? { result: job.result, notifications: job.notifications } : {}),
  ...(job._tag === "Failed" ? { failure: job.failure, notifications: job.notifications } : {})
})

const emailsTo = (user: User) =>
  Effect.flatMap(SesLocalServer, (ses) => ses.sentTo(Schema.decodeSync(EmailAddress)(user.claims.email)))

const noticesOf = (user: User) =>
  Effect.gen(function*() {
    const dynamo = yield* DynaliteServer
    const owner = Schema.decodeSync(Owner)({ userId: user.claims.sub, merchantId: user.claims.merchant_id })
    return yield* InAppNotifier.pipe(
      Effect.flatMap((notifier) => notifier.listFor(owner)),
      Effect.orDie,
      Effect.provide(DynamoDbInAppNotifier.layer.pipe(Layer.provide(DynamoDb.layer(dynamo.settings))))
    )
  })

const objectText = (key: string) =>
  Effect.gen(function*() {
    const info = yield* S3rverServer
    const client = new S3Client(clientConfig(s3SettingsFor(info)))
    return yield* Effect.promise(() =>
      client.send(new GetObjectCommand({ Bucket: info.bucket, Key: key })).then((out) => out.Body!.transformToString())
    ).pipe(Effect.ensuring(Effect.sync(() => client.destroy())))
  })

/** The bucket's objects that belong to `jobs`. */
const objectsOf = (jobs: Readonly<Record<string, string>>) =>
  Effect.map(
    bucketContents,
    (bucket) => bucket.objects.filter((key) => Object.values(jobs).some((jobId) => key.includes(jobId))).sort()
  )

layer(containers, { timeout: Duration.seconds(60), excludeTestServices: true })("the worker bundle in Lambda", (it) => {
  it.effect(
    "a batch with a poison record and a failing export: only the poison record is returned; a redelivery changes nothing",
    () =>
      Effect.gen(function*() {
        const { chdb, jobs, recordOf, users, worker } = yield* arrange("batch")
        yield* chdb.failQuery(jobs.failing, UNKNOWN_TABLE)
        const poison = sqsRecord("poison-record", "{\"jobId\": \"not an export message\"")
        const batch = [recordOf(jobs.acme), poison, recordOf(jobs.failing), recordOf(jobs.globex)]

        const response = yield* invoke(worker, batch)
        expect(response).toStrictEqual({ batchItemFailures: [{ itemIdentifier: "poison-record" }] })

        // The two good exports: Succeeded, their files exactly the rows the catalogue's SQL gives, counted right.
        for (const user of [users.acme, users.globex]) {
          const jobId = user === users.acme ? jobs.acme : jobs.globex
          const job = yield* storedJob(jobId)
          if (job._tag !== "Succeeded") return expect.fail(`${jobId} ended ${job._tag}`)
          const rows = yield* expectOrdersCsvAsQueried(
            yield* objectText(job.result.objectKey),
            user.body,
            user.claims.merchant_id
          )
          expect(rows.length).toBeGreaterThan(100)
          expect(job.result.rowCount).toBe(rows.length)
          expect(job.notifications).toMatchObject({ inApp: "sent", email: "sent" })
        }
        // The query really went through the adapter: the server's query id is the job's, with its parameters bound.
        const received = yield* chdb.received
        expect(received.find((q) => q.queryId === jobs.acme)?.params).toMatchObject({ merchantId: "m-acme" })
        expect(received.find((q) => q.queryId === jobs.acme)?.settings).toMatchObject({
          timeout_overflow_mode: "throw"
        })

        // The refused one: Failed for good, with a reason the user can read and none of ClickHouse's words.
        const failed = yield* storedJob(jobs.failing)
        if (failed._tag !== "Failed") return expect.fail(`${jobs.failing} ended ${failed._tag}`)
        expect(failed.failure).toMatchObject({ reason: "QueryFailed", retryable: false })
        expect(failed.failure.userMessage).toMatch(/^[A-Z].{20,}\.$/)
        expect(failed.failure.userMessage).not.toMatch(/Code|Exception|ClickHouse/)
        expect(failed.attempts).toBe(1)

        // Two files in the bucket, none for the failed job, no upload left open.
        const acme = yield* storedJob(jobs.acme)
        const globex = yield* storedJob(jobs.globex)
        const keys = [acme, globex].map((job) => (job._tag === "Succeeded" ? job.result.objectKey : ""))
        expect(yield* objectsOf(jobs)).toStrictEqual([...keys].sort())
        expect((yield* bucketContents).uploads).toStrictEqual([])

        // One email and one in-app notice per job, of the right kind; the poison record told no one.
        const ses = yield* SesLocalServer
        expect((yield* ses.store).filter((email) => email.destination.to.some((to) => to.includes("batch"))))
          .toHaveLength(3)
        for (
          const [user, jobId, kind] of [
            [users.acme, jobs.acme, "export_succeeded"],
            [users.globex, jobs.globex, "export_succeeded"],
            [users.failing, jobs.failing, "export_failed"]
          ] as const
        ) {
          const emails = yield* emailsTo(user)
          expect(emails).toHaveLength(1)
          expect(`${emails[0]!.subject} ${emails[0]!.body.text}`).toMatch(
            kind === "export_succeeded" ? /ready/i : /could not|failed/i
          )
          const notices = yield* noticesOf(user)
          expect(notices.map((n) => ({ jobId: n.jobId, kind: n.kind }))).toStrictEqual([{ jobId, kind }])
        }

        // The same batch delivered again: the poison record fails again, the others are acknowledged, no job
        // changes and no one is told twice.
        const before = [acme, globex, failed].map(endOf)
        const again = yield* invoke(
          worker,
          batch.map((record) => ({
            ...record,
            attributes: { ...record.attributes, ApproximateReceiveCount: "2" }
          }))
        )
        expect(again).toStrictEqual({ batchItemFailures: [{ itemIdentifier: "poison-record" }] })
        const after = [
          yield* storedJob(jobs.acme),
          yield* storedJob(jobs.globex),
          yield* storedJob(jobs.failing)
        ].map(endOf)
        expect(after).toStrictEqual(before)
        for (const user of [users.acme, users.globex, users.failing]) {
          expect(yield* emailsTo(user)).toHaveLength(1)
          expect(yield* noticesOf(user)).toHaveLength(1)
        }
        expect(yield* objectsOf(jobs)).toHaveLength(2)
        // The redelivery ran no export: the server saw no new report query.
        expect((yield* chdb.received).filter((q) => q.queryId !== null && q.queryId in jobsById(jobs)))
          .toHaveLength(received.filter((q) => q.queryId !== null && q.queryId in jobsById(jobs)).length)
      })
  )

  it.effect(
    "sent the schedule's SWEEP_EVENT, fails a job left Queued past EXPORT_DEADLINE and tells its user once",
    () =>
      Effect.gen(function*() {
        const { users, worker } = yield* arrange("sweep")
        const past = Duration.sum(ExportSettings.defaults.deadline, Duration.minutes(1))
        const aged = yield* agedJobs(users.acme, past)

        const summary = yield* Effect.promise(() => worker(SWEEP_EVENT, lambdaContext(ENOUGH_TIME)))
        expect(summary.failed).toBeGreaterThanOrEqual(1)
        const failed = yield* storedJob(aged.queued)
        expect(failed._tag === "Failed" && failed.failure.reason).toBe("Abandoned")
        // A job past its deadline whose worker still renews its lease is that worker's.
        expect((yield* storedJob(aged.running))._tag).toBe("Running")
        const emails = (yield* emailsTo(users.acme)).filter((email) => email.subject.includes("failed"))
        expect(emails).toHaveLength(1)
        expect((yield* noticesOf(users.acme)).filter((n) => n.jobId === aged.queued)).toHaveLength(1)

        // The next sweep finds it finished: nothing is sent again.
        yield* Effect.promise(() => worker(SWEEP_EVENT, lambdaContext(ENOUGH_TIME)))
        expect((yield* emailsTo(users.acme)).filter((email) => email.subject.includes("failed"))).toHaveLength(1)
      })
  )

  it.effect(
    "an invocation with less than LAMBDA_MIN_TIME_TO_START left returns every record and touches no job",
    () =>
      Effect.gen(function*() {
        const { chdb, jobs, recordOf, users, worker } = yield* arrange("late")
        const poison = sqsRecord("poison-late", "not json")
        const batch = [recordOf(jobs.acme), recordOf(jobs.globex), poison, recordOf(jobs.failing)]

        const response = yield* invoke(worker, batch, TOO_LITTLE_TIME)
        expect(response).toStrictEqual({
          batchItemFailures: batch.map((record) => ({ itemIdentifier: record.messageId }))
        })
        for (const jobId of [jobs.acme, jobs.globex, jobs.failing]) {
          expect(endOf(yield* storedJob(jobId))).toStrictEqual({ status: "Queued", revision: 0, attempts: 0 })
        }
        expect((yield* chdb.received).filter((q) => q.queryId !== null && q.queryId in jobsById(jobs)))
          .toStrictEqual([])
        expect(yield* objectsOf(jobs)).toStrictEqual([])
        for (const user of [users.acme, users.globex, users.failing]) {
          expect(yield* emailsTo(user)).toStrictEqual([])
          expect(yield* noticesOf(user)).toStrictEqual([])
        }

        // The same container, given time, does the work: it was the clock that held it back.
        const later = yield* invoke(worker, batch)
        expect(later).toStrictEqual({ batchItemFailures: [{ itemIdentifier: "poison-late" }] })
        expect((yield* storedJob(jobs.acme))._tag).toBe("Succeeded")
      })
  )
})

/**
 * Two jobs of `user` recorded `age` ago straight into the job table, as a job is left when its message was lost:
 * one Queued, and one Running under a lease its worker is still renewing.
 */
const agedJobs = (user: User, age: Duration.Duration) =>
  Effect.gen(function*() {
    const dynamo = yield* DynaliteServer
    const requestedAt = DateTime.subtractDuration(yield* DateTime.now, age)
    const jobOf = (dateTo: string) =>
      newJob({
        jobId: makeExportJobId(requestedAt.epochMillis, randomBytes(10)),
        owner: Schema.decodeSync(Owner)({ userId: user.claims.sub, merchantId: user.claims.merchant_id }),
        email: Redacted.make(Schema.decodeSync(EmailAddress)(user.claims.email)),
        report: Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: { dateFrom: "2025-01-01", dateTo } }),
        format: "csv",
        requestedAt
      })
    const queued = jobOf("2025-01-10")
    const held = jobOf("2025-01-20")
    const now = yield* DateTime.now
    const running = Either.getOrThrow(transition(
      held,
      Started.make({
        at: now,
        lease: new Lease({ holder: "live-worker", expiresAt: DateTime.addDuration(now, Duration.minutes(10)) })
      })
    ))
    yield* JobStore.pipe(
      Effect.flatMap((store) =>
        Effect.all([store.create(queued), store.create(held), store.update(running, held.revision)])
      ),
      Effect.orDie,
      Effect.provide(DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDb.layer(dynamo.settings))))
    )
    return { queued: queued.jobId, running: held.jobId }
  })

const jobsById = (jobs: Readonly<Record<string, string>>): Readonly<Record<string, true>> =>
  Object.fromEntries(Object.values(jobs).map((jobId) => [jobId, true] as const))
