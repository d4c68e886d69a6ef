// A body from ClickHouse that breaks off or is no result, through the whole worker: the export fails, and nothing it
// logs, records on the job or tells the user holds the body's text (a tenant's rows), only its size and where it
// broke. The client is a stand-in that answers every query with the body; every other port is in memory.
import type { ClickHouseClient as Client } from "@clickhouse/client"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { Readable } from "node:stream"
import { ClickHouseClient } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import { MemoryOutbox } from "../../../src/adapters/memory/MemoryEmailSender.js"
import { MemoryInbox } from "../../../src/adapters/memory/MemoryInAppNotifier.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { requestExport } from "../../../src/application/RequestExport.js"
import { alice, drainQueue, ordersInput, testLayer } from "../../support/Fixtures.js"
import { makeLogCollector } from "../../support/LogCollector.js"

const SECRET = "tenant-secret-4711"

/** A row of the orders report as ClickHouse writes it in CSV, the tenant's secret in its product's name. */
const row = (n: number) =>
  `"o-${n}",1,"2024-01-02 03:04:05","delivered","C1","P1","SKU-1","Lamp ${SECRET}",2,"12.5","25","EUR"\n`
const rows = row(1) + row(2)

/**
 * A client whose every query answers `body`, a few bytes at a time as a socket would, and whose KILLs succeed; asked
 * for its settings, it knows none of the export's CSV (as 18.16), so the body is read as ClickHouse's CSV (ADR 53).
 */
const clientAnswering = (body: string): Client => {
  const bytes = Buffer.from(body)
  const pieces = Array.from({ length: Math.ceil(bytes.length / 50) }, (_, i) => bytes.subarray(i * 50, i * 50 + 50))
  return {
    exec: () =>
      Promise.resolve({ stream: Readable.from(pieces, { objectMode: false }), query_id: "q", response_headers: {} }),
    command: () => Promise.resolve({ query_id: "k", response_headers: {} }),
    query: () => Promise.resolve({ json: () => Promise.resolve([]) })
  } as unknown as Client
}

const stringified = (value: unknown) => JSON.stringify(value, (_, v: unknown) => typeof v === "bigint" ? `${v}` : v)

describe("a broken ClickHouse body, through the worker", () => {
  const cases = [
    ["cut inside a row", rows + `"o-3",1,"2024-01-02 03:04:05","delivered","C1","P1","SKU-1","Lamp ${SECRET}`],
    ["with a row of another width", rows + `"o-3","Code: 159. ${SECRET}"\n`]
  ] as const
  for (const [name, body] of cases) {
    it.effect(`${name}: the export fails, and its size and where it broke are all the logs say of it`, () => {
      const logs = makeLogCollector()
      return Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        // Each attempt's failure is retried after a backoff: let the test clock run it out.
        const worker = yield* Effect.fork(drainQueue)
        yield* TestClock.adjust(Duration.hours(1))
        yield* Fiber.join(worker)

        const done = Option.getOrThrow(yield* Effect.flatMap(JobStore, (store) => store.get(job.jobId)))
        assert(done._tag === "Failed")
        const emails = yield* (yield* MemoryOutbox).outbox
        const notices = yield* (yield* MemoryInbox).deliveries
        for (const [what, value] of [["logs", logs.lines], ["job", done], ["emails", emails], ["notices", notices]]) {
          expect(stringified(value), what as string).not.toContain(SECRET)
        }
        const failed = logs.lines.filter((line) => line.message[0] === "export failed")
        expect(failed).toHaveLength(1)
        const where = `at byte ${Buffer.byteLength(rows)} of a body of ${Buffer.byteLength(body)} bytes, after 2 rows`
        expect(stringified(failed[0]!.message)).toContain(where)
        // Each of the three attempts read the same body and failed the same way, retried as a cut body is.
        expect(logs.lines.filter((line) => line.message[0] === "attempt failed")).toHaveLength(3)
      }).pipe(
        Effect.provide(
          Layer.effect(ReportSource, ClickHouseReportSource.make()).pipe(
            Layer.provide(Layer.succeed(ClickHouseClient, clientAnswering(body)))
          )
        ),
        Effect.provide(testLayer()),
        Effect.provide(logs.replacing)
      )
    })
  }
})
