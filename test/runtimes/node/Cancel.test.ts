// Cancel over the real local servers (issue 16, ADR 31): the `npm run serve` and `npm run worker` compositions on
// dynalite, fauxqs, s3rver and aws-ses-v2-local, with clickhouse-server 18.16 as REPORT_SOURCE. A queued job is
// cancelled at once and its message later does nothing; a running one's worker notices within 2 s, kills its query
// and aborts its multipart upload; a finished one answers 409. One in-app notice for each cancel, no email.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { MIN_PART_SIZE } from "../../../src/adapters/s3/S3FileStore.js"
import { CurrentCatalogue } from "../../../src/application/CurrentCatalogue.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { Orders, ReportCatalogue } from "../../../src/domain/Reports.js"
import type { ReportRequest } from "../../../src/domain/Reports.js"
import * as Worker from "../../../src/runtimes/node/Worker.js"
import { ordersShaped, runningQueries } from "../../adapters/clickhouse/ClickHouseTestSupport.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import type { LogCollector } from "../../support/LogCollector.js"
import {
  apiClient,
  bearerFor,
  bucketContents,
  emailsTo,
  eventually,
  firstAttemptKey,
  linesOf,
  localServers,
  localSettings,
  startApi,
  waitForExport
} from "../../support/NodeStack.js"
import type { Settings } from "../../support/NodeStack.js"
import { ClickHouseServer } from "../../support/servers/ClickHouseServer.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { pendingUploads, S3rverServer } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

/** Rows a one-day export has: it runs to its end in a moment. */
const SHORT_ROWS = 1_000
/** Rows of any longer export: at most about 9 MB/s (a block of 8 192 rows each 0.1 s), minutes of them. */
const LONG_ROWS = 20_000_000

/**
 * The orders report's columns from an endless table of numbers, without parameters: 18.16 binds none, so the
 * catalogue's SQL cannot run on it (test/adapters/clickhouse says the same). A one-day range ends at once; a longer one
 * is throttled by a sleep per block, so that it is still running, mid-upload, when the test cancels it.
 */
const ordersOn1816 = (params: { readonly dateFrom: string; readonly dateTo: string }) =>
  params.dateFrom === params.dateTo
    ? ordersShaped("system.numbers", `LIMIT ${SHORT_ROWS} SETTINGS max_block_size = 8192`)
    : ordersShaped("system.numbers", `WHERE sleep(0.1) = 0 LIMIT ${LONG_ROWS} SETTINGS max_block_size = 8192`)

/**
 * The real catalogue, but for the orders report's SQL (above) and no bound parameters. The worker hands the
 * catalogue the job's whole request, parameters included, though its type names the tag alone.
 */
const catalogueOn1816: typeof ReportCatalogue = {
  ...ReportCatalogue,
  definitionOf: (request) =>
    request._tag === "orders"
      ? { ...Orders, sql: ordersOn1816((request as Extract<ReportRequest, { _tag: "orders" }>).params) }
      : ReportCatalogue.definitionOf(request),
  queryParametersOf: () => ({})
}

const LONG_EXPORT = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-12-31" }
const SHORT_EXPORT = { reportType: "orders", format: "csv", dateFrom: "2025-03-01", dateTo: "2025-03-01" }

/** The settings of both compositions, the worker's report source being the test's clickhouse-server. */
const settingsOn1816 = Effect.gen(function*() {
  const clickhouse = yield* ClickHouseServer
  return yield* localSettings({
    // Parts of the smallest size S3 allows: the long export's multipart upload is under way within a second.
    S3_PART_SIZE: String(MIN_PART_SIZE),
    REPORT_SOURCE: "clickhouse",
    CLICKHOUSE_URL: clickhouse.url.href,
    // Should a cancel go unnoticed, the long export still ends within the test's time, and its file with it.
    EXPORT_QUERY_TIMEOUT: "40 seconds"
  })
})

/** `npm run worker` (REPORT_SOURCE=clickhouse) on `settings`, for as long as the scope lives, logging to `logs`. */
const startWorkerOn1816 = (settings: Settings, logs: LogCollector) =>
  Layer.build(Worker.layer).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(settings)),
    Effect.provideService(CurrentCatalogue, catalogueOn1816),
    Effect.provide(Logger.add(logs.logger))
  )

/** What the server logged of the queries with this id, flushed first: `type` 2 is QueryFinish, 4 an exception. */
const loggedQueries = (queryId: string) =>
  Effect.gen(function*() {
    const clickhouse = yield* ClickHouseServer
    yield* clickhouse.query("SYSTEM FLUSH LOGS")
    const body = yield* clickhouse.query(
      `SELECT type, exception FROM system.query_log WHERE query_id = '${queryId}' AND type != 1 FORMAT JSONEachRow`
    )
    return body.split("\n").filter((line) => line !== "").map((line) =>
      JSON.parse(line) as { readonly type: number; readonly exception: string }
    )
  })

/** The KILL QUERY statements the server ran that name this query id. */
const killsOf = (queryId: string) =>
  Effect.gen(function*() {
    const clickhouse = yield* ClickHouseServer
    yield* clickhouse.query("SYSTEM FLUSH LOGS")
    const body = yield* clickhouse.query(
      `SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE 'KILL QUERY%' AND query LIKE '%${queryId}%'`
    )
    return Number(body.trim())
  })

/** What the bucket holds under a job's prefix: its objects and its pending multipart uploads. */
const bucketFor = (jobId: string) =>
  Effect.map(bucketContents, ({ objects, uploads }) => ({
    objects: objects.filter((key) => key.includes(jobId)),
    uploads: uploads.filter((key) => key.includes(jobId))
  }))

const queueDrained = Effect.gen(function*() {
  const sqs = yield* FauxqsServer
  return yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
})

const servers = Layer.merge(localServers, ClickHouseServer.layerLoggingQueries)

describe("cancel over the npm run serve and npm run worker compositions, on clickhouse-server 18.16", () => {
  it.live(
    "a queued job is cancelled at once and its message then does nothing; a finished one answers 409",
    () =>
      Effect.gen(function*() {
        const ses = yield* SesLocalServer
        const sqs = yield* FauxqsServer
        const recipient = "cancel-queued@example.test"
        const user = { sub: "cancel-queued-user", merchantId: "m-acme", email: recipient }
        const settings = yield* settingsOn1816
        yield* startApi(settings)
        const api = apiClient(settings, yield* bearerFor(user))

        // No worker yet: the job waits in the queue, its message unreceived.
        const accepted = yield* api.requestExport(LONG_EXPORT)
        expect(accepted.status).toBe(202)
        const queued = accepted.body.jobId
        expect((yield* api.exportOf(queued)).status).toBe("queued")
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 1, inFlight: 0 })

        const cancel = yield* api.cancel(queued)
        expect([cancel.status, cancel.body.status, cancel.body.attempts]).toStrictEqual([200, "cancelled", 0])
        // Idempotent: the same answer again, and no second notice.
        const again = yield* api.cancel(queued)
        expect([again.status, again.body]).toStrictEqual([200, cancel.body])

        // The worker starts and receives the message: it finds the job Cancelled, does nothing, and deletes it.
        const logs = makeLogCollector()
        yield* startWorkerOn1816(settings, logs)
        const nothingToDo = yield* eventually(
          Effect.sync(() => linesOf(logs.lines, queued, "job already finished; nothing to do")),
          (lines) => lines.length > 0
        )
        expect(nothingToDo.map((line) => line.message[1])).toStrictEqual([{ status: "Cancelled" }])
        expect(yield* queueDrained).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(linesOf(logs.lines, queued, "export running")).toStrictEqual([])

        // A short export runs to its end on the same worker and server: the queries, objects and emails of a job
        // that ran are there to be seen, where the cancelled job has none.
        const short = yield* api.requestExport(SHORT_EXPORT)
        expect(short.status).toBe(202)
        const finished = short.body.jobId
        const done = yield* waitForExport(api, finished, (v) => v.status === "succeeded", "30 seconds")
        expect(done.file?.rowCount).toBe(SHORT_ROWS)
        const emails = yield* emailsTo(ses, EmailAddress.make(recipient))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export is ready: Orders (2025-03-01 to 2025-03-01) as CSV"
        ])
        expect((yield* loggedQueries(finished)).map((query) => query.type)).toStrictEqual([2])
        expect(yield* loggedQueries(queued)).toStrictEqual([])
        expect(yield* bucketFor(queued)).toStrictEqual({ objects: [], uploads: [] })
        const finishedKey = firstAttemptKey(user, finished)
        expect(yield* bucketFor(finished)).toStrictEqual({ objects: [finishedKey], uploads: [] })

        // A finished job cannot be cancelled, the same way each time; its file stays and nothing is said.
        for (const refused of [yield* api.cancel(finished), yield* api.cancel(finished)]) {
          expect([refused.status, refused.body.error?.code]).toStrictEqual([409, "export_finished"])
        }
        expect((yield* api.exportOf(finished)).status).toBe("succeeded")
        expect((yield* api.download(finished)).split("\n").length).toBeGreaterThan(SHORT_ROWS)
        expect(yield* bucketFor(finished)).toStrictEqual({ objects: [finishedKey], uploads: [] })

        // One notice each: the cancel's, and the success's; one email, the success's.
        expect(yield* queueDrained).toStrictEqual({ visible: 0, inFlight: 0 })
        const notices = yield* api.notifications
        expect(notices.map((n) => [n.jobId, n.kind]).sort()).toStrictEqual(
          [[queued, "export_cancelled"], [finished, "export_succeeded"]].sort()
        )
        expect(yield* ses.sentTo(EmailAddress.make(recipient))).toHaveLength(1)
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(servers)),
    { timeout: 90_000 }
  )

  it.live(
    "a running job's worker notices within 2 s, kills its query and aborts its upload; one notice, no email",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3rverServer
        const ses = yield* SesLocalServer
        const sqs = yield* FauxqsServer
        const recipient = "cancel-running@example.test"
        const user = { sub: "cancel-running-user", merchantId: "m-acme", email: recipient }
        const settings = yield* settingsOn1816
        yield* startApi(settings)
        const logs = makeLogCollector()
        yield* startWorkerOn1816(settings, logs)
        const api = apiClient(settings, yield* bearerFor(user))

        const accepted = yield* api.requestExport(LONG_EXPORT)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body
        const key = firstAttemptKey(user, jobId)

        // Mid-export: its query runs on the server and its multipart upload has begun.
        yield* waitForExport(api, jobId, (v) => v.status === "running", "30 seconds")
        const midUpload = yield* eventually(
          Effect.sync(() => pendingUploads(s3).map((upload) => upload.key)),
          (keys) => keys.includes(key),
          "30 seconds"
        )
        expect(midUpload).toStrictEqual([key])
        expect(yield* runningQueries(jobId)).toBe(1)
        expect((yield* api.exportOf(jobId)).status).toBe("running")

        const cancel = yield* api.cancel(jobId)
        expect([cancel.status, cancel.body.status, cancel.body.attempts]).toStrictEqual([200, "cancelled", 1])

        // The worker notices: its query is gone from the server, and then its upload is aborted and the line logged.
        // Within 2 s is CancelExport.test.ts's promise, on the test clock: a loaded machine's wall clock would make it
        // a timed test here. The KILL below shows it was the worker's own check, not the query's end or timeout.
        yield* eventually(runningQueries(jobId), (queries) => queries === 0, "10 seconds")
        const stopped = Effect.gen(function*() {
          return {
            queries: yield* runningQueries(jobId),
            bucket: yield* bucketFor(jobId),
            onDisk: pendingUploads(s3),
            noticed: linesOf(
              logs.lines,
              jobId,
              "export cancelled by its owner; its attempt is stopped and left no file"
            ).length
          }
        })
        const after = yield* eventually(
          stopped,
          (state) =>
            state.queries === 0 && state.bucket.objects.length === 0 && state.bucket.uploads.length === 0 &&
            state.onDisk.length === 0 && state.noticed === 1,
          "10 seconds"
        )
        expect(after).toStrictEqual({ queries: 0, bucket: { objects: [], uploads: [] }, onDisk: [], noticed: 1 })

        // The worker killed the query by its id and the query ended there, not at its end nor at its timeout: cancelled
        // (394) by the KILL, or unable to write (24) to the connection the worker had closed just before it.
        expect(yield* killsOf(jobId)).toBeGreaterThanOrEqual(1)
        const logged = yield* loggedQueries(jobId)
        expect(logged.map((query) => query.type)).toStrictEqual([4])
        expect(logged[0]!.exception).toMatch(/^Code: (394|24), /)

        // The delivery ends there: acknowledged, nothing dead-lettered; the job stays Cancelled, with no file.
        expect(yield* queueDrained).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
        const view = yield* api.exportOf(jobId)
        expect([view.status, view.file, view.failure]).toStrictEqual(["cancelled", undefined, undefined])
        expect(linesOf(logs.lines, jobId, "export failed")).toStrictEqual([])

        // Idempotent: the same answer again.
        const again = yield* api.cancel(jobId)
        expect([again.status, again.body]).toStrictEqual([200, cancel.body])

        // Told once, in-app; no email.
        const notices = yield* api.notifications
        expect(notices.map((n) => [n.jobId, n.kind, n.title])).toStrictEqual([[
          jobId,
          "export_cancelled",
          "Export cancelled"
        ]])
        expect(yield* ses.sentTo(EmailAddress.make(recipient))).toStrictEqual([])
        expect(yield* bucketContents).toStrictEqual({ objects: [], uploads: [] })
      }).pipe(Effect.scoped, Effect.provide(servers)),
    { timeout: 90_000 }
  )
})
