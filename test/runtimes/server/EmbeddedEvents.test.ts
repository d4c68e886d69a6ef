// The `npm start` composition streams a user's events: its SQLite stores publish to the process's change feed, so an
// export's events arrive queued, running, succeeded, then its notification, on a stream opened with a ticket.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { embeddedBearer } from "../../support/EmbeddedProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { awaitEvents, eventStream, statusesOf } from "../../support/EventStreamClient.js"

describe("npm start composition: the event stream", () => {
  it.scopedLive(
    "an export's events arrive queued, running, succeeded, and its notification",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-events-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 2_000)
        const auth = yield* embeddedBearer(dataDir, {
          sub: "events-user",
          merchantId: "m-acme",
          email: "e@example.com"
        })
        const ticket = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/events/tickets`, { method: "POST", headers: auth }).then((r) =>
            r.json() as Promise<{ streamUrl: string }>
          )
        )
        const stream = yield* eventStream(`${base}${ticket.streamUrl}`)
        expect(stream.status).toBe(200)
        const accepted = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/reports/export`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-01-31" })
          }).then((r) => r.json() as Promise<{ jobId: string }>)
        )
        yield* awaitEvents(stream, (s) => s.events.some((event) => event.event === "notification"), 20_000)
        expect(statusesOf(stream, accepted.jobId)).toStrictEqual(["queued", "running", "succeeded"])
        expect(stream.events.find((event) => event.event === "notification")!.data).toMatchObject({
          jobId: accepted.jobId,
          kind: "export_succeeded"
        })
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})
