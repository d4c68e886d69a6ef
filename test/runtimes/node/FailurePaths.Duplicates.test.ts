// The same SQS message delivered several times, through the `npm run serve` and `npm run worker` compositions on the
// local servers: two copies waiting beside the original when the worker starts (handled side by side), and one
// more after the job has finished. One job, one email, one notice; every copy acknowledged.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { expectOrdersCsvAsQueried } from "../../support/EndToEnd.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import {
  apiClient,
  bearerFor,
  emailsTo,
  eventually,
  linesOf,
  localServers,
  localSettings,
  messageBodyOf,
  redeliver,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { S3rverServer } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "duplicates@example.test"
const USER = { sub: "duplicates-user", merchantId: "m-acme", email: RECIPIENT }
const HALF_YEAR = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-06-30" }

describe("the same message delivered more than once", () => {
  it.live(
    "three extra copies of the message: one job, one email, one notice, and every copy acknowledged",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const s3 = yield* S3rverServer
        const ses = yield* SesLocalServer
        const settings = yield* localSettings({ SQS_VISIBILITY_SECONDS: "2" })
        yield* startApi(settings)
        const api = apiClient(settings, yield* bearerFor(USER))

        const accepted = yield* api.requestExport(HALF_YEAR)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body

        // The message as the API published it, sent three more times: two copies wait beside the original when
        // the worker starts, so that deliveries of one job are handled side by side.
        const body = yield* messageBodyOf(jobId)
        expect(yield* sqs.visibleBodies).toStrictEqual([body])
        yield* redeliver(body, jobId, 2)
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 3, inFlight: 0 })

        // The upload stalls until every copy has been seen, so that the copies meet the job while it runs.
        s3.faults.set((request) => request.method === "PUT" ? "hold" : "pass")
        const logs = makeLogCollector()
        const worker = yield* startWorker(settings, logs.logger)
        // Released before the worker stops, should the test fail while the upload is held.
        yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
        const copiesSeen = yield* eventually(
          Effect.sync(() => ({
            held: s3.faults.held(),
            // A copy handled beside the original while the job was still Queued loses the start to it.
            superseded: linesOf(logs.lines, jobId, "job changed under this worker; leaving it to the other").length,
            deferred: linesOf(
              logs.lines,
              jobId,
              "job is running under another delivery's lease; leaving this copy for later"
            ).length
          })),
          (seen) => seen.held === 1 && seen.superseded + seen.deferred >= 2
        )
        // Both copies were received while the job ran, its upload held: each left the job to the delivery running
        // it, whose lease was live.
        expect(copiesSeen.held).toBe(1)
        expect(copiesSeen.superseded + copiesSeen.deferred).toBeGreaterThanOrEqual(2)
        expect(yield* api.exportOf(jobId)).toMatchObject({ status: "running", attempts: 1 })
        s3.faults.release()

        const view = yield* waitForExport(api, jobId, (v) => v.status === "succeeded")
        // A deferred copy comes back after its 2 s visibility, finds the job finished and is deleted.
        yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)

        // And the third copy after the job has finished.
        yield* redeliver(body, jobId, 1)
        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })

        // Only one delivery ever started the export; the others found it taken, running or finished.
        const finishedCopies = yield* eventually(
          Effect.sync(() => linesOf(logs.lines, jobId, "job already finished; nothing to do")),
          (lines) => lines.length >= 1
        )
        expect(finishedCopies.length).toBeGreaterThanOrEqual(1)
        expect(linesOf(logs.lines, jobId, "export running")).toHaveLength(1)
        expect(linesOf(logs.lines, jobId, "export succeeded")).toHaveLength(1)
        expect(linesOf(logs.lines, jobId, "email sent via SES")).toHaveLength(1)

        // One job in the user's list, started once, with its complete file.
        expect((yield* api.exports).map((job) => [job.jobId, job.status])).toStrictEqual([[jobId, "succeeded"]])
        expect(view.attempts).toBe(1)
        const rows = yield* expectOrdersCsvAsQueried(yield* api.download(jobId), HALF_YEAR, USER.merchantId).pipe(
          Effect.provide(worker)
        )
        expect(rows.length).toBe(view.file?.rowCount)

        // Told once each way.
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export is ready: Orders (2025-01-01 to 2025-06-30) as CSV"
        ])
        expect((yield* api.notifications).map((n) => [n.jobId, n.kind])).toStrictEqual([[jobId, "export_succeeded"]])
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 40_000 }
  )
})
