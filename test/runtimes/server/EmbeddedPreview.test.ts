// The report preview on the `npm start` composition (ADR 35), over its embedded ClickHouse: the first 100 rows the
// orders report's SQL gives when run directly on the engine, for the caller's merchant only.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { Orders, queryParametersOf, ReportRequest } from "../../../src/domain/Reports.js"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"

const PARAMS = { dateFrom: "2025-01-01", dateTo: "2025-03-31", timezone: "Europe/Paris" }

describe("npm start composition: report preview", () => {
  it.scopedLive(
    "the orders report's first 100 rows as the engine gives them, for each merchant its own",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-embedded-preview-"), "data")
        const { base, context } = yield* embeddedServerIn(dataDir, 20_000)
        const engine = yield* Effect.provide(ChdbEngine, context)
        for (const merchant of ["m-acme", "m-globex"]) {
          const session = yield* Effect.promise(() =>
            fetch(`${base}/api/dev/session`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ user: "previewer", merchant, email: "previewer@example.com" })
            }).then((r) => r.json() as Promise<{ token: string }>)
          )
          const response = yield* Effect.promise(() =>
            fetch(`${base}/api/v1/reports/orders/preview?${new URLSearchParams(PARAMS).toString()}`, {
              headers: { authorization: `Bearer ${session.token}` }
            })
          )
          expect(response.status).toBe(200)
          const preview = (yield* Effect.promise(() => response.json())) as {
            rows: ReadonlyArray<ReadonlyArray<unknown>>
            more: boolean
          }
          const report = Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: PARAMS })
          const direct = yield* engine.query(Orders.sql, queryParametersOf(MerchantId.make(merchant), report))
          expect(direct.length).toBeGreaterThan(100)
          expect(preview.more).toBe(true)
          // The engine's JSON quotes 64-bit integers; the preview's integer columns are numbers.
          expect(preview.rows.map((row) => row.map(String))).toStrictEqual(
            direct.slice(0, 100).map((row) => row.map(String))
          )
          expect(preview.rows.every((row) => String(row[0]).startsWith(`${merchant}-`))).toBe(true)
        }
      }),
    { timeout: 60_000 }
  )
})
