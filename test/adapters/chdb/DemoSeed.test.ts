// The embedded engine's demo data: over a million lines of three merchants, seeded once, the same on every run,
// and every report of the catalogue runs on it.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Layer, Schema, Stream } from "effect"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import * as ChdbReportSource from "../../../src/adapters/chdb/ChdbReportSource.js"
import { DEMO_SEED, seedDemoOrders } from "../../../src/adapters/chdb/DemoSeed.js"
import type { DemoSeedOptions } from "../../../src/adapters/chdb/DemoSeed.js"
import { PRODUCT_NAMES } from "../../../src/adapters/memory/DemoOrders.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import type { MerchantId } from "../../../src/domain/Identifiers.js"
import { definitionOf, OrderStatus, ReportRequest } from "../../../src/domain/Reports.js"
import { freshEngine, queryOf, tempDataDir } from "./ChdbTestSupport.js"

const numbers = (rows: ReadonlyArray<ReadonlyArray<unknown>>) => rows.map((row) => row.map((cell) => Number(cell)))

/** A small dataset in the demo's shape, for checks that need no million rows. */
const small: DemoSeedOptions = {
  ...DEMO_SEED,
  merchants: DEMO_SEED.merchants.map((merchant) => ({ ...merchant, orders: 2_000 }))
}

const fingerprint = Effect.flatMap(ChdbEngine, (engine) =>
  engine.query(
    `SELECT count(), sum(cityHash64(merchant_id, order_id, line_number, ordered_at, status, customer_id, product_id,
       sku, product_name, quantity, unit_price, line_total, currency)) FROM order_lines`
  ))

describe("DemoSeed", () => {
  it.effect(
    "seeds over a million lines of three merchants over 2024 and 2025, then reuses them",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDataDir
        const engine = () => ChdbEngine.Default(dataDir)

        const seeded = yield* Effect.provide(seedDemoOrders(), engine())
        expect(seeded._tag).toBe("Seeded")
        expect(seeded.lines).toBeGreaterThanOrEqual(1_000_000)
        yield* Effect.log(`seeded ${seeded.lines} lines in ${seeded._tag === "Seeded" ? seeded.millis : 0} ms`)

        yield* Effect.gen(function*() {
          const chdb = yield* ChdbEngine
          const perMerchant = yield* chdb.query(
            `SELECT merchant_id, count(), toDate(min(ordered_at)), toDate(max(ordered_at)), uniqExact(currency)
           FROM order_lines GROUP BY merchant_id ORDER BY merchant_id`
          )
          expect(perMerchant.map(([merchant, lines, first, last, currencies]) => [
            merchant,
            Number(lines) > 100_000,
            first,
            last,
            Number(currencies)
          ])).toEqual(
            ["m-acme", "m-globex", "m-initech"].map((merchant) => [merchant, true, "2024-01-01", "2025-12-31", 1])
          )
          const [names, statuses] = yield* chdb.query(
            "SELECT groupUniqArray(product_name), groupUniqArray(status) FROM order_lines"
          ).pipe(Effect.map((rows) => rows[0] as [Array<string>, Array<string>]))
          expect([...names].sort()).toEqual([...PRODUCT_NAMES].sort())
          expect([...statuses].sort()).toEqual([...OrderStatus.literals].sort())
          // A second start on the same directory finds the lines and leaves them.
          expect(yield* seedDemoOrders()).toEqual({ _tag: "AlreadySeeded", lines: seeded.lines })
        }).pipe(Effect.provide(engine()))

        // So does a later process: the lines are on disk.
        expect(yield* Effect.provide(seedDemoOrders(), engine())).toEqual({
          _tag: "AlreadySeeded",
          lines: seeded.lines
        })
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.effect("seeds the same rows on every run", () =>
    Effect.gen(function*() {
      const first = yield* Effect.provide(Effect.zipRight(seedDemoOrders(small), fingerprint), freshEngine())
      const second = yield* Effect.provide(Effect.zipRight(seedDemoOrders(small), fingerprint), freshEngine())
      expect(Number(first[0]?.[0])).toBeGreaterThan(3 * 2_000)
      expect(second).toEqual(first)
    }))

  it.effect(
    "every report runs on it, in every granularity and time zone, and the totals agree",
    () =>
      Effect.gen(function*() {
        yield* seedDemoOrders(small)
        const source = yield* ReportSource
        const engine = yield* ChdbEngine
        const rowsOf = (merchantId: MerchantId, params: Record<string, unknown>, reportType: ReportRequest["_tag"]) => {
          const report = Schema.decodeUnknownSync(ReportRequest)({ _tag: reportType, params })
          const width = definitionOf(report).columns.length
          return Stream.runCollect(source.rows(queryOf(merchantId, report, Duration.seconds(30)))).pipe(
            Effect.map(Chunk.toReadonlyArray),
            Effect.tap((rows) => expect(rows.every((row) => row.length === width)).toBe(true))
          )
        }
        for (const { merchantId } of small.merchants) {
          for (const timezone of ["UTC", "Europe/Paris", "Asia/Kolkata", "America/New_York", "Pacific/Kiritimati"]) {
            const range = { dateFrom: "2024-01-01", dateTo: "2024-12-31", timezone }
            const lines = yield* rowsOf(merchantId, range, "orders")
            const kept = lines.filter((row) => row[3] !== "cancelled")
            const units = kept.reduce((sum, row) => sum + Number(row[8]), 0)
            for (const granularity of ["day", "week", "month"]) {
              const trend = yield* rowsOf(merchantId, { ...range, granularity }, "sales-trend")
              expect(trend.reduce((sum, row) => sum + Number(row[3]), 0)).toBe(units)
            }
            const top = yield* rowsOf(merchantId, { ...range, limit: 1000 }, "top-products")
            expect(top.reduce((sum, row) => sum + Number(row[3]), 0)).toBe(units)
          }
          // The orders report of a year is that year's lines in local time: in UTC, what the table holds.
          const utcYear = yield* engine.query(
            `SELECT count() FROM order_lines WHERE merchant_id = {merchantId:String} AND toYear(ordered_at) = 2024`,
            { merchantId }
          )
          const orders = yield* rowsOf(merchantId, { dateFrom: "2024-01-01", dateTo: "2024-12-31" }, "orders")
          expect(numbers(utcYear)).toEqual([[orders.length]])
        }
      }).pipe(Effect.provide(ChdbReportSource.layer.pipe(Layer.provideMerge(freshEngine())))),
    { timeout: 60_000 }
  )
})
