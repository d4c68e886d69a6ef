// previewReport on the in-memory adapters: the export's validation, the caller's merchant, one row more than shown
// asked of the source to tell whether there are more, and PREVIEW_TIMEOUT counted on the Effect clock.
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { FaultInjection } from "../../src/adapters/memory/FaultInjection.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import type { PreviewQuery } from "../../src/application/ports/ReportSource.js"
import { ReportSource } from "../../src/application/ports/ReportSource.js"
import { PREVIEW_ROWS, previewReport } from "../../src/application/PreviewReport.js"
import { alice, testLayer } from "../support/Fixtures.js"

const Q1 = { dateFrom: "2024-01-01", dateTo: "2024-03-31" }

/** The test layer's source, with the queries it is asked for a preview kept in `asked`. */
const recording = (asked: Array<PreviewQuery>) =>
  Layer.effect(
    ReportSource,
    Effect.map(ReportSource, (source) =>
      ReportSource.of({
        ...source,
        preview: (query) => Effect.zipRight(Effect.sync(() => asked.push(query)), source.preview(query))
      }))
  )

describe("previewReport", () => {
  it.effect("asks the source for the caller's merchant's report, one row more than it shows, within PREVIEW_TIMEOUT", () => {
    const asked: Array<PreviewQuery> = []
    return Effect.gen(function*() {
      const preview = yield* previewReport(alice, { reportType: "orders", params: Q1 })
      expect(preview.rows).toHaveLength(PREVIEW_ROWS)
      expect(preview.more).toBe(true)
      expect(preview.definition.reportType).toBe("orders")
      expect(asked).toHaveLength(1)
      expect(asked[0]).toMatchObject({ merchantId: alice.owner.merchantId, limit: PREVIEW_ROWS + 1 })
      expect(asked[0]?.report).toMatchObject({ _tag: "orders", params: { ...Q1, timezone: "UTC" } })
      expect(Duration.toMillis(asked[0]!.timeout)).toBe(7_000)
    }).pipe(
      Effect.provide(recording(asked).pipe(Layer.provideMerge(testLayer(300, { previewTimeout: Duration.seconds(7) }))))
    )
  })

  it.effect("a report of no more rows than PREVIEW_ROWS has no more", () =>
    Effect.gen(function*() {
      const preview = yield* previewReport(alice, {
        reportType: "top-products",
        params: { ...Q1, limit: PREVIEW_ROWS }
      })
      expect(preview.rows.length).toBeLessThanOrEqual(PREVIEW_ROWS)
      expect(preview.more).toBe(false)
    }).pipe(Effect.provide(testLayer(2_000))))

  it.effect("refuses what an export request refuses, with the same ValidationError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        previewReport(alice, { reportType: "orders", params: { dateFrom: "2024-03-01", dateTo: "2024-02-01" } })
      )
      assert(error._tag === "ValidationError")
      expect(error.issues.map(({ field, rule }) => ({ field, rule }))).toStrictEqual([
        { field: "params.dateTo", rule: "date-order" }
      ])
    }).pipe(Effect.provide(testLayer(5))))

  it.effect("a source still reading after PREVIEW_TIMEOUT is given up: QueryTimeout for that time", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(FaultInjection, (faults) => faults.set({ query: { kind: "hang", afterRows: 3 } }))
      const { previewTimeout } = yield* ExportSettings
      const fiber = yield* Effect.fork(previewReport(alice, { reportType: "orders", params: Q1 }))
      yield* TestClock.adjust(Duration.subtract(previewTimeout, Duration.millis(1)))
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.millis(1))
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert(error._tag === "QueryTimeout")
      expect(error.afterMillis).toBe(Duration.toMillis(ExportSettings.defaults.previewTimeout))
    }).pipe(Effect.provide(testLayer(50))))
})
