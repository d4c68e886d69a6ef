// The chdb ReportSource beyond the contract: row for row the same output as the memory adapter (which mirrors the
// catalogue's SQL in JavaScript) in every report, granularity and time zone, across daylight saving changes; and
// how queries fail, time out and stop when their consumer goes away.
import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Layer, Schedule, Schema, Stream } from "effect"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ChdbEngine, ChdbError } from "../../../src/adapters/chdb/ChdbEngine.js"
import * as ChdbReportSource from "../../../src/adapters/chdb/ChdbReportSource.js"
import { reportErrorOf } from "../../../src/adapters/chdb/ChdbReportSource.js"
import { countOrderLines } from "../../../src/adapters/chdb/DemoSeed.js"
import { demoOrderLines } from "../../../src/adapters/memory/DemoOrders.js"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import type { OrderLineDataset } from "../../../src/adapters/memory/MemoryReportSource.js"
import * as MemoryReportSource from "../../../src/adapters/memory/MemoryReportSource.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import type { ReportQuery } from "../../../src/application/ports/ReportSource.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { definitionOf, ReportRequest } from "../../../src/domain/Reports.js"
import type { Column, ReportDefinition, ReportRow } from "../../../src/domain/Reports.js"
import { datasetOf } from "../../support/Fixtures.js"
import { REPORT_READS } from "../../support/ReportReads.js"
import { acme, chdbSource, freshEngine, globex, loadedEngine, queryOf, runningQueries } from "./ChdbTestSupport.js"

// Besides the contract's merchants, two dense around the 2024 daylight saving changes (about ten lines an hour):
// New York on 10 March and 3 November, Paris on 31 March and 27 October, Adelaide on 7 April and 6 October; and one
// across a new year, whose first week starts in the old one.
const spring = MerchantId.make("m-spring")
const autumn = MerchantId.make("m-autumn")
const newYear = MerchantId.make("m-new-year")

const windows: ReadonlyMap<MerchantId, readonly [string, string, number]> = new Map([
  [spring, ["2024-03-08T00:00:00Z", "2024-04-09T00:00:00Z", 7_000]],
  [autumn, ["2024-10-04T00:00:00Z", "2024-11-05T00:00:00Z", 7_000]],
  [newYear, ["2024-12-20T00:00:00Z", "2025-01-12T00:00:00Z", 2_000]]
])

const dataset: OrderLineDataset = (merchantId) => {
  const window = windows.get(merchantId)
  if (window === undefined) return datasetOf(600)(merchantId)
  const [from, to, lines] = window
  return { [Symbol.iterator]: () => demoOrderLines({ merchantId, lines, from: Date.parse(from), to: Date.parse(to) }) }
}
const merchants = [acme, globex, spring, autumn, newYear]

const ranges = [
  { merchantId: acme, dateFrom: "2024-01-01", dateTo: "2024-03-31" },
  { merchantId: spring, dateFrom: "2024-03-08", dateTo: "2024-04-08" },
  { merchantId: autumn, dateFrom: "2024-10-04", dateTo: "2024-11-04" },
  { merchantId: newYear, dateFrom: "2024-12-21", dateTo: "2025-01-11" }
]
const timeZones = [
  "UTC",
  "Europe/Paris",
  "Asia/Kolkata",
  "America/New_York",
  "Australia/Adelaide",
  "Pacific/Kiritimati"
]

const requestOf = (reportType: ReportRequest["_tag"], params: Record<string, unknown>): ReportRequest =>
  Schema.decodeUnknownSync(ReportRequest)({ _tag: reportType, params })

const collect = <E>(rows: Stream.Stream<ReportRow, E>) => Effect.map(Stream.runCollect(rows), Chunk.toReadonlyArray)

const memorySource = Effect.provide(
  ReportSource,
  MemoryReportSource.layer(dataset).pipe(Layer.provide(FaultInjection.Default))
)

/** Runs every request on both sources and expects the very same rows, cell for cell and in the same order. */
const expectSameRows = (requests: ReadonlyArray<readonly [MerchantId, ReportRequest]>) =>
  Effect.gen(function*() {
    const memory = yield* memorySource
    const chdb = yield* ReportSource
    for (const [merchantId, report] of requests) {
      const query = queryOf(merchantId, report)
      const expected = yield* collect(memory.rows(query))
      const actual = yield* collect(chdb.rows(query))
      expect(expected.length, `${merchantId} ${JSON.stringify(report)} has rows`).toBeGreaterThan(0)
      expect(actual, `${merchantId} ${JSON.stringify(report)}`).toEqual(expected)
    }
  }).pipe(Effect.provide(chdbSource(dataset, merchants)))

describe("chdb ReportSource: the same rows as the memory adapter", () => {
  it.effect("orders, in every time zone, with and without a status filter", () =>
    expectSameRows(
      ranges.flatMap(({ merchantId, ...range }) =>
        timeZones.flatMap((timezone) => [
          [merchantId, requestOf("orders", { ...range, timezone })] as const,
          [merchantId, requestOf("orders", { ...range, timezone, status: "refunded" })] as const
        ])
      )
    ))

  it.effect("sales-trend by day, week and month, in every time zone", () =>
    expectSameRows(
      ranges.flatMap(({ merchantId, ...range }) =>
        timeZones.flatMap((timezone) =>
          (["day", "week", "month"] as const).map((granularity) =>
            [merchantId, requestOf("sales-trend", { ...range, timezone, granularity })] as const
          )
        )
      )
    ))

  it.effect("top-products with several limits, in every time zone", () =>
    expectSameRows(
      ranges.flatMap(({ merchantId, ...range }) =>
        timeZones.flatMap((timezone) =>
          [1, 3, 1000].map((limit) => [merchantId, requestOf("top-products", { ...range, timezone, limit })] as const)
        )
      )
    ))

  it.effect("a range of one day at a daylight saving change", () =>
    expectSameRows([
      [spring, requestOf("orders", { dateFrom: "2024-03-31", dateTo: "2024-03-31", timezone: "Europe/Paris" })],
      [spring, requestOf("orders", { dateFrom: "2024-03-10", dateTo: "2024-03-10", timezone: "America/New_York" })],
      [autumn, requestOf("orders", { dateFrom: "2024-10-27", dateTo: "2024-10-27", timezone: "Europe/Paris" })],
      [autumn, requestOf("sales-trend", { dateFrom: "2024-10-27", dateTo: "2024-10-27", timezone: "Europe/Paris" })],
      [autumn, requestOf("orders", { dateFrom: "2024-10-06", dateTo: "2024-10-06", timezone: "Australia/Adelaide" })]
    ]))
})

const orders = requestOf("orders", { dateFrom: "2024-01-01", dateTo: "2024-03-31" })

const integerColumn: Column = { name: "n", type: "integer", header: "N" }

/** The catalogue with every report's SQL replaced: for queries the demo data cannot make slow or broken. */
const sourceRunning = (sql: string, columns: ReadonlyArray<Column> = [integerColumn]) =>
  Layer.effect(
    ReportSource,
    ChdbReportSource.make((report): ReportDefinition => ({ ...definitionOf(report), sql, columns }))
  ).pipe(Layer.provideMerge(loadedEngine(dataset, [acme])))

// Minutes of work, and no row until the end: the fetch of the first block is what is running when time is up. Its
// column is named as the report's: the CSV's and Parquet's queries select the report's columns by name (ADR 53, 50).
const SLOW_AGGREGATE =
  "SELECT count() AS n FROM numbers(1000000000000) WHERE sipHash64(number) % 3 = 0 AND {merchantId:String} != ''"
// Rows as fast as they can be read, for minutes.
const ENDLESS_ROWS = "SELECT number AS n FROM numbers(1000000000000) WHERE {merchantId:String} != ''"

// This file's own temporary directory: the machine's is shared with other processes' Parquet exports, whose
// directories would come and go beside this file's counts of its own.
const sharedTmpdir = process.env["TMPDIR"]
process.env["TMPDIR"] = mkdtempSync(join(tmpdir(), "ade-chdb-source-"))
afterAll(() => {
  rmSync(tmpdir(), { recursive: true, force: true })
  if (sharedTmpdir === undefined) delete process.env["TMPDIR"]
  else process.env["TMPDIR"] = sharedTmpdir
})

/** The temporary directories chdb's Parquet files are written in (ChdbReportSource), by name. */
const parquetDirectories = () => readdirSync(tmpdir()).filter((name) => name.startsWith("export-parquet-")).sort()

const waitUntilNoneRunning = (query: ReportQuery) =>
  runningQueries(query.jobId).pipe(
    Effect.repeat({ until: (running) => running === 0, schedule: Schedule.spaced(Duration.millis(50)) }),
    Effect.timeout(Duration.seconds(5))
  )

describe("chdb ReportSource: failures and interruption", () => {
  for (const [name, read] of Object.entries(REPORT_READS)) {
    it.effect(`${name}: a query that fails is a QueryFailed with ClickHouse's code and message, not retried`, () =>
      Effect.gen(function*() {
        const source = yield* ReportSource
        const error = yield* Effect.flip(Stream.runDrain(read(source, queryOf(acme, orders))))
        assert(error._tag === "QueryFailed")
        expect(error.retryable).toBe(false)
        expect(error.detail).toMatch(/Code: 60\..*UNKNOWN_TABLE/s)
      }).pipe(Effect.provide(ChdbReportSource.layer.pipe(Layer.provide(freshEngine())))))

    it.effect(`${name}: SQL the engine rejects is a QueryFailed too`, () =>
      Effect.gen(function*() {
        const source = yield* ReportSource
        const error = yield* Effect.flip(Stream.runDrain(read(source, queryOf(acme, orders))))
        assert(error._tag === "QueryFailed")
        expect(error.retryable).toBe(false)
        expect(error.detail).toMatch(/Code: 47\..*UNKNOWN_IDENTIFIER/s)
      }).pipe(Effect.provide(sourceRunning("SELECT no_such_column FROM order_lines"))))

    it.live(`${name}: the engine stops a query at its timeout: QueryTimeout, with the rows delivered before it`, () =>
      Effect.gen(function*() {
        const source = yield* ReportSource
        const query = queryOf(acme, orders, Duration.millis(300))
        let delivered = 0
        const started = Date.now()
        const error = yield* Effect.flip(
          Stream.runForEach(read(source, query), (rows) => Effect.sync(() => (delivered += rows)))
        )
        assert(error._tag === "QueryTimeout")
        expect(error.afterMillis).toBe(300)
        expect(delivered).toBeGreaterThan(0)
        expect(error.rowsBeforeTimeout).toBe(delivered)
        expect(Date.now() - started).toBeLessThan(15_000)
      }).pipe(Effect.provide(sourceRunning(ENDLESS_ROWS))))

    it.live(`${name}: a timeout while the engine is still computing the first row is a QueryTimeout with no rows`, () =>
      Effect.gen(function*() {
        const source = yield* ReportSource
        const error = yield* Effect.flip(Stream.runDrain(read(source, queryOf(acme, orders, Duration.millis(300)))))
        assert(error._tag === "QueryTimeout")
        expect(error.rowsBeforeTimeout).toBe(0)
      }).pipe(Effect.provide(sourceRunning(SLOW_AGGREGATE))))

    it.live(`${name}: interrupting the consumer mid-query kills the query, and the engine goes on serving`, () =>
      Effect.gen(function*() {
        const source = yield* ReportSource
        const query = queryOf(acme, orders)
        const fiber = yield* Effect.fork(Stream.runDrain(read(source, query)))
        yield* runningQueries(query.jobId).pipe(
          Effect.repeat({ until: (running) => running === 1, schedule: Schedule.spaced(Duration.millis(20)) })
        )
        yield* Effect.sleep(Duration.millis(200))
        yield* Fiber.interrupt(fiber)
        // Left alone, the query would run for its whole 60 s timeout.
        yield* waitUntilNoneRunning(query)
        expect(yield* countOrderLines).toBe(600)
      }).pipe(Effect.provide(sourceRunning(SLOW_AGGREGATE))))
  }

  it.effect("parquet: a query that fails is a QueryFailed with ClickHouse's code, and no file is left behind", () =>
    Effect.gen(function*() {
      const before = parquetDirectories()
      const source = yield* ReportSource
      const error = yield* Effect.flip(Stream.runDrain(source.parquet(queryOf(acme, orders))))
      assert(error._tag === "QueryFailed")
      expect(error.retryable).toBe(false)
      expect(error.detail).toMatch(/Code: 47\..*UNKNOWN_IDENTIFIER/s)
      expect(parquetDirectories()).toStrictEqual(before)
    }).pipe(Effect.provide(sourceRunning("SELECT no_such_column AS n FROM order_lines"))))

  it.live("parquet: the engine stops the file's query at its timeout: QueryTimeout, and no file is left behind", () =>
    Effect.gen(function*() {
      const before = parquetDirectories()
      const source = yield* ReportSource
      const started = Date.now()
      const error = yield* Effect.flip(Stream.runDrain(source.parquet(queryOf(acme, orders, Duration.millis(300)))))
      assert(error._tag === "QueryTimeout")
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(parquetDirectories()).toStrictEqual(before)
    }).pipe(Effect.provide(sourceRunning(SLOW_AGGREGATE))))

  it.live("parquet: interrupted while the engine writes the file, the query ends by its timeout and the file is removed", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      const before = parquetDirectories()
      const source = yield* ReportSource
      const query = queryOf(acme, orders, Duration.seconds(6))
      const forked = Date.now()
      const fiber = yield* Effect.fork(Stream.runDrain(source.parquet(query)))
      yield* Effect.repeat(Effect.sync(parquetDirectories), {
        until: (directories) => directories.length === before.length + 1,
        schedule: Schedule.spaced(Duration.millis(20))
      }).pipe(Effect.timeout(Duration.seconds(5)))
      // The engine's streams answer beside it, readiness's ping among them, though its session waits: the ping is
      // answered while the file's query still runs (it can end only at its 6 s timeout).
      yield* engine.ping
      expect(Date.now() - forked, "the ping waited for the file's query").toBeLessThan(6_000)
      const interrupted = Date.now()
      yield* Fiber.interrupt(fiber)
      // chdb runs no statement beside it, the kill included: the query ends at its 6 s timeout, not the report's end
      // (a trillion numbers).
      expect(Date.now() - interrupted).toBeLessThan(20_000)
      yield* waitUntilNoneRunning(query)
      expect(parquetDirectories()).toStrictEqual(before)
      expect(yield* countOrderLines).toBe(600)
    }).pipe(Effect.provide(sourceRunning(SLOW_AGGREGATE))))

  it.live("a consumer that stops reading early closes the stream and its query", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const query = queryOf(acme, orders)
      const rows = yield* collect(Stream.take(source.rows(query), 10))
      expect(rows).toEqual(Array.from({ length: 10 }, (_, index) => [index]))
      yield* waitUntilNoneRunning(query)
    }).pipe(Effect.provide(sourceRunning(ENDLESS_ROWS))))

  it.effect("integers too large for a JavaScript number come out exact, as bigints", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const rows = yield* collect(source.rows(queryOf(acme, orders)))
      expect(rows).toEqual([[18446744073709551615n, 42, "42"]])
    }).pipe(Effect.provide(
      sourceRunning("SELECT toUInt64('18446744073709551615'), toUInt64(42), toString(42)", [
        integerColumn,
        integerColumn,
        { name: "s", type: "string", header: "S" }
      ])
    )))
})

describe("chdb ReportSource: no tenant data in its failures", () => {
  const secret = "tenant-secret-4711"

  it.effect("an integer column holding text fails as QueryFailed with the cell's place and size, not its text", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      let delivered = 0
      const error = yield* Effect.flip(
        Stream.runForEach(source.rows(queryOf(acme, orders)), () => Effect.sync(() => delivered++))
      )
      assert(error._tag === "QueryFailed")
      expect(JSON.stringify(error)).not.toContain(secret)
      expect(error.detail).toContain(`a cell of ${secret.length} bytes that is no integer in column 1 of row 3`)
      expect(delivered).toBe(0)
    }).pipe(Effect.provide(
      sourceRunning(
        `SELECT if(number < 2, toString(number), '${secret}') FROM numbers(3) WHERE {merchantId:String} != ''`
      )
    )))
})

describe("chdb ReportSource: which failures are worth a retry", () => {
  const query = queryOf(acme, orders, Duration.seconds(90))
  const failure = (clickhouseCode: number | undefined, kind = "CHDB_STREAM") =>
    new ChdbError({ operation: "stream", clickhouseCode, kind, message: `Code: ${clickhouseCode}. DB::Exception` })

  it("a timeout, by ClickHouse's code or chdb's own, is a QueryTimeout for the query's timeout", () => {
    for (const error of [failure(159), failure(undefined, "CHDB_TIMEOUT")]) {
      const mapped = reportErrorOf(query, 42, error)
      assert(mapped._tag === "QueryTimeout")
      expect([mapped.afterMillis, mapped.rowsBeforeTimeout]).toEqual([90_000, 42])
    }
  })

  it("a shortage of memory or query slots is retried; anything else is not", () => {
    const retryable = (code: number | undefined) => {
      const mapped = reportErrorOf(query, 0, failure(code))
      assert(mapped._tag === "QueryFailed")
      return mapped.retryable
    }
    expect([173, 202, 241].map(retryable)).toEqual([true, true, true])
    expect([47, 60, 62, 394, undefined].map(retryable)).toEqual([false, false, false, false, false])
  })
})
