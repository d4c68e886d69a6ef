// SES unreachable while an export runs, through the `npm run serve` and `npm run worker` compositions on the local
// servers: the export still succeeds and the in-app notice is there; the email is tried again for its retry window
// (shortened here), then logged with the jobId, recorded as failed and, as ADR 3 decides, not retried by a later
// delivery of the message.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { expectOrdersCsvAsQueried } from "../../support/EndToEnd.js"
import { closedPort } from "../../support/FreePort.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import {
  apiClient,
  bearerFor,
  eventually,
  linesOf,
  localServers,
  localSettings,
  messageBodyOf,
  redeliver,
  startApi,
  startWorker,
  storedJob,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "ses-down@example.test"
const USER = { sub: "ses-down-user", merchantId: "m-acme", email: RECIPIENT }
const QUARTER = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-03-31" }

describe("SES down", () => {
  it.live(
    "the export succeeds, the in-app notice is there, and the failed email is logged with the jobId, once",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        const settings = yield* localSettings({
          SES_ENDPOINT: `http://127.0.0.1:${yield* closedPort}`,
          EMAIL_RETRY_WINDOW: "3 seconds"
        })
        yield* startApi(settings)
        const logs = makeLogCollector()
        const worker = yield* startWorker(settings, logs.logger)
        const api = apiClient(settings, yield* bearerFor(USER))

        const accepted = yield* api.requestExport(QUARTER)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body

        const view = yield* waitForExport(api, jobId, (v) => v.status === "succeeded")
        const csv = yield* api.download(jobId)
        const rows = yield* expectOrdersCsvAsQueried(csv, QUARTER, USER.merchantId).pipe(Effect.provide(worker))
        expect(rows.length).toBe(view.file?.rowCount)

        const notices = yield* eventually(api.notifications, (items) => items.length > 0)
        expect(notices.map((n) => [n.jobId, n.kind])).toStrictEqual([[jobId, "export_succeeded"]])

        // The error is logged at ERROR level with the job's id as an annotation, naming the channel; the user's
        // address never appears in full in anything logged.
        const failed = yield* eventually(
          Effect.sync(() => linesOf(logs.lines, jobId, "notification failed")),
          (found) => found.length > 0
        )
        expect(failed).toHaveLength(1)
        expect(failed[0]!.level).toBe("ERROR")
        const { channel, detail } = failed[0]!.message[1] as { readonly channel: string; readonly detail: string }
        expect(channel).toBe("email")
        expect(detail).toMatch(/^SES SendEmail failed/)
        expect(JSON.stringify(logs.lines)).not.toContain(RECIPIENT)
        expect(yield* ses.sentTo(EmailAddress.make(RECIPIENT))).toHaveLength(0)

        // ADR 3: recorded on the job as failed (in-app sent), and the message deleted: nothing left to retry it.
        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        const job = yield* storedJob(jobId)
        expect(job._tag === "Succeeded" && job.notifications).toMatchObject({ inApp: "sent", email: "failed" })

        // The same message delivered again (SQS may) is acknowledged without another try at the email.
        yield* redeliver(yield* messageBodyOf(jobId), jobId, 1)
        const settled = yield* eventually(
          Effect.sync(() => linesOf(logs.lines, jobId, "job already finished; nothing to do")),
          (found) => found.length > 0
        )
        expect(settled).toHaveLength(1)
        expect(yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)).toStrictEqual({
          visible: 0,
          inFlight: 0
        })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(linesOf(logs.lines, jobId, "notification failed")).toHaveLength(1)
        // Tried again a second later, and so on until the window was over, then given up.
        expect(linesOf(logs.lines, jobId, "email not sent via SES").length).toBeGreaterThanOrEqual(2)
        expect(yield* api.notifications).toHaveLength(1)
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 40_000 }
  )
})
