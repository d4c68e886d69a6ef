// The behaviour every ReportSource must have, over the demo order lines (DemoOrders) loaded for two merchants:
// each merchant sees its own rows only, in the catalogue's columns and order. The aggregate reports are checked
// against the orders report of the same merchant and range, which is itself checked line by line.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Schema, Stream } from "effect"
import type { Layer } from "effect"
import { ReportSource } from "../../src/application/ports/ReportSource.js"
import { encodeRow } from "../../src/domain/Csv.js"
import type { MerchantId } from "../../src/domain/Identifiers.js"
import { definitionOf, OrderStatus, ReportRequest } from "../../src/domain/Reports.js"
import type { Cell, ReportRow } from "../../src/domain/Reports.js"
import { collectedCopies } from "../support/LentPieces.js"
import { comparableObjects, comparableRows, readParquet } from "../support/ParquetFiles.js"
import { jobIdAt } from "./ContractSupport.js"

/** What the source under test holds. */
export interface ReportSourceFixture {
  /** Two merchants whose demo order lines are loaded; a line's orderId starts with its merchantId and "-". */
  readonly merchantId: MerchantId
  readonly otherMerchantId: MerchantId
  /** A range (YYYY-MM-DD, both included) with lines of both merchants in it, and lines before and after it. */
  readonly dateFrom: string
  readonly dateTo: string
  /** Whether the source's database writes Parquet (ADR 50); a source that does not must say so for good. */
  readonly writesParquet: boolean
}

type ReportType = ReportRequest["_tag"]
const REPORT_TYPES: ReadonlyArray<ReportType> = ["orders", "sales-trend", "top-products"]
/** A month no fixture has lines in. */
const NO_DATA = { dateFrom: "2030-01-01", dateTo: "2030-01-31" }

const requestOf = (reportType: ReportType, params: Record<string, unknown>): ReportRequest =>
  Schema.decodeUnknownSync(ReportRequest)({ _tag: reportType, params })

// Integers may arrive as numbers, bigints or strings (ClickHouse quotes 64-bit integers in JSON): compare values.
const int = (cell: Cell | undefined): number => Number(cell)
const cents = (cell: Cell | undefined): number => Math.round(Number(cell) * 100)
const text = (cell: Cell | undefined): string => String(cell)

/** Orders columns, by position in the catalogue. */
const O = { orderId: 0, line: 1, orderedAt: 2, status: 3, productId: 5, sku: 6, name: 7, quantity: 8, total: 10 }

interface ProductTotals {
  readonly sku: string
  readonly name: string
  units: number
  revenue: number
  readonly orders: Set<string>
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const compareOrders = (a: ReportRow, b: ReportRow): number =>
  compareText(text(a[O.orderedAt]), text(b[O.orderedAt])) ||
  compareText(text(a[O.orderId]), text(b[O.orderId])) ||
  int(a[O.line]) - int(b[O.line])

export const reportSourceContract = <E>(
  name: string,
  makeLayer: () => Layer.Layer<ReportSource, E>,
  fixture: ReportSourceFixture
) =>
  describe(`ReportSource contract: ${name}`, () => {
    const withSource = <A, E2>(test: Effect.Effect<A, E2, ReportSource>) => Effect.provide(test, makeLayer())
    const range = { dateFrom: fixture.dateFrom, dateTo: fixture.dateTo }

    const rowsOf = (merchantId: MerchantId, report: ReportRequest) =>
      Effect.flatMap(ReportSource, (source) =>
        Stream.runCollect(
          source.rows({ jobId: jobIdAt(Date.now()), merchantId, report, timeout: Duration.seconds(60) })
        )).pipe(Effect.map(Chunk.toReadonlyArray))

    // The pieces are lent until the next pull (FilePiece): copied as they come.
    const csvOf = (merchantId: MerchantId, report: ReportRequest) =>
      Effect.flatMap(ReportSource, (source) =>
        collectedCopies(
          source.csv({ jobId: jobIdAt(Date.now()), merchantId, report, timeout: Duration.seconds(60) })
        )).pipe(Effect.map((pieces) => ({
          text: Buffer.concat(pieces.map((piece) => piece.bytes)).toString("utf8"),
          rows: pieces.reduce((sum, piece) => sum + piece.rows, 0)
        })))

    const previewOf = (merchantId: MerchantId, report: ReportRequest, limit: number) =>
      Effect.flatMap(ReportSource, (source) =>
        source.preview({ jobId: jobIdAt(Date.now()), merchantId, report, timeout: Duration.seconds(60), limit }))

    /** Each merchant of the fixture as the one asking, with the other as the one whose rows must not show. */
    const merchantPairs = [
      [fixture.merchantId, fixture.otherMerchantId],
      [fixture.otherMerchantId, fixture.merchantId]
    ] as const

    const orderLines = (merchantId: MerchantId, params: Record<string, unknown> = {}) =>
      rowsOf(merchantId, requestOf("orders", { ...range, ...params }))

    it.effect("orders: only the requested merchant's lines", () =>
      withSource(Effect.gen(function*() {
        for (const [mine, theirs] of merchantPairs) {
          const rows = yield* orderLines(mine)
          expect(rows.length).toBeGreaterThan(0)
          expect(rows.filter((row) =>
            !text(row[O.orderId]).startsWith(`${mine}-`)
          )).toEqual([])
          expect(rows.filter((row) => text(row[O.orderId]).startsWith(`${theirs}-`))).toEqual([])
        }
      })))

    it.effect("sales-trend: per local day, the totals of the merchant's own lines that are not cancelled", () =>
      withSource(Effect.gen(function*() {
        for (const merchantId of [fixture.merchantId, fixture.otherMerchantId]) {
          const expected = new Map<string, { revenue: number; orders: Set<string>; units: number }>()
          for (const row of yield* orderLines(merchantId)) {
            if (row[O.status] === "cancelled") continue
            const day = text(row[O.orderedAt]).slice(0, 10)
            const totals = expected.get(day) ?? { revenue: 0, orders: new Set<string>(), units: 0 }
            totals.revenue += cents(row[O.total])
            totals.orders.add(text(row[O.orderId]))
            totals.units += int(row[O.quantity])
            expected.set(day, totals)
          }
          const trend = yield* rowsOf(merchantId, requestOf("sales-trend", { ...range, granularity: "day" }))
          expect(trend.length).toBeGreaterThan(0)
          expect(trend.map((row) => [text(row[0]), cents(row[1]), int(row[2]), int(row[3])])).toEqual(
            Array.from(expected.entries())
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([day, totals]) => [day, totals.revenue, totals.orders.size, totals.units])
          )
        }
      })))

    it.effect("top-products: the totals of the merchant's own products, from lines that are not cancelled", () =>
      withSource(Effect.gen(function*() {
        for (const merchantId of [fixture.merchantId, fixture.otherMerchantId]) {
          const totals = new Map<string, ProductTotals>()
          for (const row of yield* orderLines(merchantId)) {
            if (row[O.status] === "cancelled") continue
            const product = text(row[O.productId])
            const entry = totals.get(product) ??
              { sku: text(row[O.sku]), name: text(row[O.name]), units: 0, revenue: 0, orders: new Set<string>() }
            entry.units += int(row[O.quantity])
            entry.revenue += cents(row[O.total])
            entry.orders.add(text(row[O.orderId]))
            totals.set(product, entry)
          }
          const top = yield* rowsOf(merchantId, requestOf("top-products", { ...range, limit: 1000 }))
          expect(top.length).toBeGreaterThan(0)
          expect(
            top.map((row) => [text(row[0]), text(row[1]), text(row[2]), int(row[3]), cents(row[4]), int(row[5])])
              .sort(([a], [b]) => compareText(String(a), String(b)))
          ).toEqual(
            Array.from(totals.entries())
              .sort(([a], [b]) => compareText(a, b))
              .map(([id, p]) => [id, p.sku, p.name, p.units, p.revenue, p.orders.size])
          )
        }
      })))

    it.effect("every row has exactly as many cells as its report has columns", () =>
      withSource(Effect.gen(function*() {
        for (const reportType of REPORT_TYPES) {
          const request = requestOf(reportType, range)
          const rows = yield* rowsOf(fixture.merchantId, request)
          expect(rows.length).toBeGreaterThan(0)
          const width = definitionOf(request).columns.length
          expect(rows.filter((row) => row.length !== width)).toEqual([])
        }
      })))

    it.effect("csv: the same rows as encodeRow writes them, for every report and either merchant", () =>
      withSource(Effect.gen(function*() {
        for (const reportType of REPORT_TYPES) {
          for (const merchantId of [fixture.merchantId, fixture.otherMerchantId]) {
            const request = requestOf(reportType, reportType === "top-products" ? { ...range, limit: 1000 } : range)
            const rows = yield* rowsOf(merchantId, request)
            expect(rows.length).toBeGreaterThan(0)
            expect(yield* csvOf(merchantId, request)).toEqual({
              text: rows.map(encodeRow).join(""),
              rows: rows.length
            })
          }
        }
        // The demo catalogue's names are the cells that need care: quotes, commas, a formula.
        const text = (yield* csvOf(fixture.merchantId, requestOf("orders", range))).text
        expect(text).toContain("\"\"")
        expect(text).toMatch(/,"?'[=+@-]/)
        expect(yield* csvOf(fixture.merchantId, requestOf("orders", NO_DATA)))
          .toEqual({ text: "", rows: 0 })
      })))

    const parquetOf = (merchantId: MerchantId, report: ReportRequest) =>
      Effect.flatMap(ReportSource, (source) =>
        Stream.runCollect(
          source.parquet({ jobId: jobIdAt(Date.now()), merchantId, report, timeout: Duration.seconds(60) })
        )).pipe(Effect.map(Chunk.toReadonlyArray))

    if (fixture.writesParquet) {
      it.effect("parquet: a file of typed columns holding the report's rows, for every report and either merchant", () =>
        withSource(Effect.gen(function*() {
          for (const reportType of REPORT_TYPES) {
            for (const merchantId of [fixture.merchantId, fixture.otherMerchantId]) {
              const request = requestOf(reportType, reportType === "top-products" ? { ...range, limit: 1000 } : range)
              const { columns } = definitionOf(request)
              const rows = yield* rowsOf(merchantId, request)
              const pieces = yield* parquetOf(merchantId, request)
              // Only the last piece counts the rows: the file's footer, once it was whole.
              expect(pieces.map((piece) => piece.rows)).toStrictEqual([...pieces.slice(1).map(() => 0), rows.length])
              const file = yield* readParquet(Buffer.concat(pieces.map((piece) => piece.bytes)))
              expect(file.metadata.schema.slice(1).map((element) => element.name)).toStrictEqual(
                columns.map((column) => column.name)
              )
              expect(comparableObjects(columns, file.rows)).toStrictEqual(comparableRows(columns, rows))
            }
          }
          const empty = yield* parquetOf(fixture.merchantId, requestOf("orders", NO_DATA))
          expect((yield* readParquet(Buffer.concat(empty.map((piece) => piece.bytes)))).rows).toStrictEqual([])
          expect(empty.at(-1)?.rows).toBe(0)
        })))

      it.effect("parquet: integers, decimals and dates are the format's own types, not text", () =>
        withSource(Effect.gen(function*() {
          const pieces = yield* parquetOf(fixture.merchantId, requestOf("sales-trend", range))
          const { metadata } = yield* readParquet(Buffer.concat(pieces.map((piece) => piece.bytes)))
          expect(metadata.schema.slice(1).map((element) => [element.name, element.type, element.logical_type?.type]))
            .toStrictEqual([
              ["period_start", "INT32", "DATE"],
              ["revenue", "FIXED_LEN_BYTE_ARRAY", "DECIMAL"],
              ["orders", "INT64", undefined],
              ["units", "INT64", undefined]
            ])
        })))
    } else {
      it.effect("parquet: refused for good, as a format this source cannot write", () =>
        withSource(Effect.gen(function*() {
          const error = yield* Effect.flip(parquetOf(fixture.merchantId, requestOf("orders", range)))
          expect(error).toMatchObject({ _tag: "QueryFailed", retryable: false, unavailableFormat: "parquet" })
        })))
    }

    it.effect("orders are sorted by (ordered_at_local, order_id, line_number)", () =>
      withSource(Effect.gen(function*() {
        const rows = yield* orderLines(fixture.merchantId)
        expect(rows.length).toBeGreaterThan(1)
        expect(rows.map((row) => [row[O.orderId], row[O.line]])).toEqual(
          [...rows].sort(compareOrders).map((row) => [row[O.orderId], row[O.line]])
        )
        // Several lines of one order share their time: the ties must come out by order id and line number.
        expect(rows.some((row) => int(row[O.line]) > 1)).toBe(true)
      })))

    it.effect("orders: each line's local time is within the range, in UTC and in time zones either side of it", () =>
      withSource(Effect.gen(function*() {
        for (const timezone of ["UTC", "Asia/Kolkata", "America/New_York"]) {
          const rows = yield* orderLines(fixture.merchantId, { timezone })
          expect(rows.length).toBeGreaterThan(0)
          const days = rows.map((row) => text(row[O.orderedAt]).slice(0, 10))
          expect(days.filter((day) => day < fixture.dateFrom || day > fixture.dateTo)).toEqual([])
          expect(rows.filter((row) => !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text(row[O.orderedAt])))).toEqual(
            []
          )
        }
      })))

    it.effect("orders: local times are the UTC times moved by the time zone's offset", () =>
      withSource(Effect.gen(function*() {
        const localTimes = (rows: ReadonlyArray<ReportRow>) =>
          new Map(rows.map((row) => [`${text(row[O.orderId])}#${int(row[O.line])}`, text(row[O.orderedAt])]))
        const utc = localTimes(yield* orderLines(fixture.merchantId))
        // Asia/Kolkata keeps +05:30 all year round, so no daylight saving change can fall inside the range.
        const kolkata = localTimes(yield* orderLines(fixture.merchantId, { timezone: "Asia/Kolkata" }))
        const asMillis = (local: string) => Date.parse(`${local.replace(" ", "T")}Z`)
        const offsets = Array.from(kolkata.entries())
          .filter(([line]) => utc.has(line))
          .map(([line, local]) => (asMillis(local) - asMillis(utc.get(line)!)) / 60_000)
        expect(offsets.length).toBeGreaterThan(0)
        expect(new Set(offsets)).toEqual(new Set([330]))
      })))

    it.effect("sales-trend by day: every day is within [dateFrom, dateTo], once, in ascending order", () =>
      withSource(Effect.gen(function*() {
        for (const timezone of ["UTC", "Asia/Kolkata", "America/New_York"]) {
          const rows = yield* rowsOf(
            fixture.merchantId,
            requestOf("sales-trend", { ...range, timezone, granularity: "day" })
          )
          expect(rows.length).toBeGreaterThan(1)
          const days = rows.map((row) => text(row[0]))
          expect(days.filter((day) => day < fixture.dateFrom || day > fixture.dateTo)).toEqual([])
          expect(days).toEqual([...new Set(days)].sort())
        }
      })))

    it.effect("sales-trend by week and month: periods start on Mondays and firsts, ascending, same totals", () =>
      withSource(Effect.gen(function*() {
        const revenueOf = (rows: ReadonlyArray<ReportRow>) => rows.reduce((sum, row) => sum + cents(row[1]), 0)
        const unitsOf = (rows: ReadonlyArray<ReportRow>) => rows.reduce((sum, row) => sum + int(row[3]), 0)
        const byDay = yield* rowsOf(fixture.merchantId, requestOf("sales-trend", { ...range, granularity: "day" }))
        for (const granularity of ["week", "month"] as const) {
          const rows = yield* rowsOf(fixture.merchantId, requestOf("sales-trend", { ...range, granularity }))
          expect(rows.length).toBeGreaterThan(0)
          const periods = rows.map((row) => text(row[0]))
          expect(periods).toEqual([...new Set(periods)].sort())
          const starts = periods.map((period) =>
            granularity === "week" ? new Date(`${period}T00:00:00Z`).getUTCDay() === 1 : period.endsWith("-01")
          )
          expect(starts.every(Boolean)).toBe(true)
          expect(revenueOf(rows)).toBe(revenueOf(byDay))
          expect(unitsOf(rows)).toBe(unitsOf(byDay))
        }
      })))

    it.effect("top-products: at most limit rows, the best by revenue, in descending revenue", () =>
      withSource(Effect.gen(function*() {
        const all = yield* rowsOf(fixture.merchantId, requestOf("top-products", { ...range, limit: 1000 }))
        expect(all.length).toBeGreaterThan(3)
        const revenues = all.map((row) => cents(row[4]))
        expect(revenues).toEqual([...revenues].sort((a, b) => b - a))
        const top3 = yield* rowsOf(fixture.merchantId, requestOf("top-products", { ...range, limit: 3 }))
        expect(top3.map((row) => row[0])).toEqual(all.slice(0, 3).map((row) => row[0]))
        const top1 = yield* rowsOf(fixture.merchantId, requestOf("top-products", { ...range, limit: 1 }))
        expect(top1.map((row) => row[0])).toEqual([all[0]![0]])
      })))

    it.effect("a range with no data yields no rows, for every report", () =>
      withSource(Effect.gen(function*() {
        for (const reportType of REPORT_TYPES) {
          const rows = yield* rowsOf(
            fixture.merchantId,
            requestOf(reportType, { dateFrom: "2030-01-01", dateTo: "2030-12-31" })
          )
          expect(rows).toEqual([])
        }
      })))

    it.effect("orders with a status filter return exactly the lines of that status", () =>
      withSource(Effect.gen(function*() {
        const all = yield* orderLines(fixture.merchantId)
        let filteredTotal = 0
        for (const status of OrderStatus.literals) {
          const filtered = yield* orderLines(fixture.merchantId, { status })
          expect(filtered.filter((row) => row[O.status] !== status)).toEqual([])
          expect(filtered.map((row) => [row[O.orderId], row[O.line]])).toEqual(
            all.filter((row) => row[O.status] === status).map((row) => [row[O.orderId], row[O.line]])
          )
          filteredTotal += filtered.length
        }
        expect(filteredTotal).toBe(all.length)
        expect(new Set(all.map((row) => row[O.status])).size).toBeGreaterThan(1)
      })))

    it.effect("preview: the first rows of the same report, at most limit, for every report", () =>
      withSource(Effect.gen(function*() {
        for (const reportType of REPORT_TYPES) {
          const request = requestOf(reportType, range)
          const rows = yield* rowsOf(fixture.merchantId, request)
          expect(rows.length, reportType).toBeGreaterThan(3)
          for (const limit of [1, 3, rows.length, rows.length + 10]) {
            expect(yield* previewOf(fixture.merchantId, request, limit), `${reportType}, ${limit}`).toEqual(
              rows.slice(0, limit)
            )
          }
        }
      })))

    it.effect("preview: only the requested merchant's rows, whatever the limit", () =>
      withSource(Effect.gen(function*() {
        for (const [mine, theirs] of merchantPairs) {
          const preview = yield* previewOf(mine, requestOf("orders", range), 100_000)
          expect(preview.length).toBeGreaterThan(0)
          expect(preview.filter((row) => !text(row[O.orderId]).startsWith(`${mine}-`))).toEqual([])
          expect(preview.filter((row) => text(row[O.orderId]).startsWith(`${theirs}-`))).toEqual([])
          expect(preview).toEqual(yield* orderLines(mine))
        }
      })))

    it.effect("preview: a range with no data yields no rows, for every report", () =>
      withSource(Effect.gen(function*() {
        for (const reportType of REPORT_TYPES) {
          const preview = yield* previewOf(
            fixture.merchantId,
            requestOf(reportType, { dateFrom: "2030-01-01", dateTo: "2030-12-31" }),
            100
          )
          expect(preview, reportType).toEqual([])
        }
      })))
  })
