// A worker process killed in the middle of an export: `npm run worker` runs as a real child process, its upload is
// held by s3rver until the job is seen running, then it gets SIGKILL. Its lease runs out unrenewed; the message comes
// back after its visibility and a second worker (in this process) takes the job over and finishes it, once: one
// email, one notice, the complete CSV.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { expectOrdersCsvAsQueried } from "../../support/EndToEnd.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import {
  apiClient,
  bearerFor,
  bucketContents,
  emailsTo,
  eventually,
  linesOf,
  localServers,
  localSettings,
  spawnWorkerProcess,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { S3rverServer } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "worker-killed@example.test"
const USER = { sub: "worker-killed-user", merchantId: "m-acme", email: RECIPIENT }
const HALF_YEAR = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-06-30" }
const VISIBILITY_SECONDS = 3

describe("a worker killed mid-export", () => {
  it.live(
    "the message comes back after its visibility and a second worker completes the job once",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3rverServer
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        // The lease under the visibility: the message comes back after the dead worker's lease has run out.
        const settings = yield* localSettings({
          SQS_VISIBILITY_SECONDS: String(VISIBILITY_SECONDS),
          EXPORT_LEASE: "1 second"
        })
        yield* startApi(settings)
        const api = apiClient(settings, yield* bearerFor(USER))

        // The first worker's upload never gets an answer: it is mid-export for as long as the test wants.
        s3.faults.set((request) => request.method === "PUT" ? "hold" : "pass")
        yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
        const first = yield* spawnWorkerProcess(settings)

        const accepted = yield* api.requestExport(HALF_YEAR)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body
        const running = yield* waitForExport(api, jobId, (v) => v.status === "running", "30 seconds")
        expect(running.attempts).toBe(1)
        const midUpload = yield* eventually(Effect.sync(() => s3.faults.held()), (held) => held > 0)
        expect(midUpload, first.output.join("")).toBe(1)
        expect(first.output.join("")).toContain(jobId)

        first.child.kill("SIGKILL")
        expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")
        // The message is still on the queue, in flight until its visibility runs out.
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 0, inFlight: 1 })
        s3.faults.release()

        const logs = makeLogCollector()
        const worker = yield* startWorker(settings, logs.logger)
        const done = yield* waitForExport(api, jobId, (v) => v.status === "succeeded", "30 seconds")
        // Taken over on the same message's second receive, as the job's second attempt.
        expect(done.attempts).toBe(2)
        expect(
          linesOf(logs.lines, jobId, "export running").map((
            line
          ) => [line.annotations["receiveCount"], line.message[1]])
        ).toStrictEqual([[2, { attempt: 2, reportType: "orders" }]])

        // The file is complete: exactly the rows the query gives.
        const csv = yield* api.download(jobId)
        const rows = yield* expectOrdersCsvAsQueried(csv, HALF_YEAR, USER.merchantId).pipe(Effect.provide(worker))
        expect(rows.length).toBe(done.file?.rowCount)
        expect(rows.length).toBeGreaterThan(1000)
        // The record names the second attempt's file. The dead worker's upload, let go after its death, may have
        // landed too, but only under its own attempt's key: it replaced nothing (ADR 3). No upload is left pending.
        const contents = yield* bucketContents
        expect(contents.uploads).toStrictEqual([])
        expect(contents.objects.filter((key) => key !== `exports/m-acme/${jobId}/attempt-1.csv`)).toStrictEqual([
          `exports/m-acme/${jobId}/attempt-2.csv`
        ])

        // Told once each way, of the success.
        const notices = yield* eventually(api.notifications, (items) => items.length > 0)
        expect(notices.map((n) => [n.jobId, n.kind])).toStrictEqual([[jobId, "export_succeeded"]])
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export is ready: Orders (2025-01-01 to 2025-06-30) as CSV"
        ])

        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )
})
