// A report added to the catalogue in use runs on chdb as the real ones do (ADR 24): its SQL with the caller's merchant
// and its own parameters bound by the engine, its rows the caller's alone.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import type { ReportRequest } from "../../../src/domain/Reports.js"
import { RefundsInUse, withRefunds } from "../../support/ExtraReport.js"
import { datasetOf } from "../../support/Fixtures.js"
import { acme, chdbSource, globex, queryOf } from "./ChdbTestSupport.js"

/** The rows the refunds SQL must give, written out for one merchant. */
const EXPECTED = `
SELECT order_id, quantity FROM order_lines
WHERE merchant_id = {merchant:String} AND status = 'refunded' AND quantity >= 2 AND currency = 'EUR'
  AND toDate(ordered_at, 'Europe/Paris') BETWEEN '2024-01-01' AND '2024-01-31'
ORDER BY ordered_at, order_id`

describe("chdb ReportSource: a report added to the catalogue in use", () => {
  it.effect("runs with the caller's merchant and its own parameters bound", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const engine = yield* ChdbEngine
      // Its type is the wider catalogue's: the code is compiled against the real one.
      const refunds = Schema.decodeUnknownSync(withRefunds.ReportRequest)({
        _tag: "refunds",
        params: {
          dateFrom: "2024-01-01",
          dateTo: "2024-01-31",
          timezone: "Europe/Paris",
          minQuantity: 2,
          currency: "EUR"
        }
      }) as ReportRequest
      for (const merchant of [acme, globex]) {
        const rows = Chunk.toReadonlyArray(yield* Stream.runCollect(source.rows(queryOf(merchant, refunds))))
        expect(rows.length, merchant).toBeGreaterThan(0)
        expect(rows, merchant).toEqual(yield* engine.query(EXPECTED, { merchant }))
      }
    }).pipe(Effect.provide(chdbSource(datasetOf(600), [acme, globex]).pipe(Layer.provide(RefundsInUse)))))
})
