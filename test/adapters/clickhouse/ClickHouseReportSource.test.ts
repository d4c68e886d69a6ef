// The ClickHouse ReportSource beyond the contract, through chdb's Connection (ClickHouse 26.x, real error codes and
// types): how its failures map to the port's errors, integers past 2^53, parameters never read as SQL, and its
// settings read from the environment with nothing opened while the layer is built.
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Context, Duration, Effect, Exit, Layer, Redacted, Schema, Stream } from "effect"
import * as ClickHouseClient from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import { clickHouseSettingsConfig } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import { isTransient, reportErrorOf, settingsFor } from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import { ClickHouseQueryError } from "../../../src/adapters/clickhouse/JsonCompactReader.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { definitionOf, ReportRequest } from "../../../src/domain/Reports.js"
import type { Column, ReportDefinition, ReportRow } from "../../../src/domain/Reports.js"
import { datasetOf } from "../../support/Fixtures.js"
import { closedPort } from "../../support/FreePort.js"
import { acme, globex, queryOf } from "../chdb/ChdbTestSupport.js"
import { freshEngine } from "../chdb/ChdbTestSupport.js"
import { chdbClient, clickHouseSourceOnChdb } from "./ClickHouseTestSupport.js"

const orders = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" }
})

const collect = <E>(rows: Stream.Stream<ReportRow, E>) => Effect.map(Stream.runCollect(rows), Chunk.toReadonlyArray)

const HOSTILE = "it's \\ \"quoted\"\n'); DROP TABLE order_lines; --"

const integerColumn: Column = { name: "n", type: "integer", header: "N" }

/** The catalogue with every report's SQL replaced: for queries the demo data cannot make slow or broken. */
const sourceRunning = (sql: string, columns: ReadonlyArray<Column> = [integerColumn]) =>
  clickHouseSourceOnChdb(datasetOf(50), [acme], {
    catalogue: (report): ReportDefinition => ({ ...definitionOf(report), sql, columns })
  })

// Minutes of work, and no row until the end.
const SLOW_AGGREGATE =
  "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) % 3 = 0 AND {merchantId:String} != ''"

describe("ClickHouse ReportSource: failures", () => {
  it.effect("a missing table is a QueryFailed with ClickHouse's code and name, not retried", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const error = yield* Effect.flip(Stream.runDrain(source.rows(queryOf(acme, orders))))
      assert(error._tag === "QueryFailed")
      expect(error.retryable).toBe(false)
      expect(error.detail).toMatch(/^ClickHouse query failed: Code: 60\..*order_lines/s)
    }).pipe(
      Effect.provide(
        Layer.effect(ReportSource, ClickHouseReportSource.make()).pipe(
          Layer.provideMerge(chdbClient),
          Layer.provideMerge(freshEngine())
        )
      )
    ))

  it.effect("SQL the server rejects is a QueryFailed too", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const error = yield* Effect.flip(Stream.runDrain(source.rows(queryOf(acme, orders))))
      assert(error._tag === "QueryFailed")
      expect(error.retryable).toBe(false)
      expect(error.detail).toMatch(/Code: 47\..*no_such_column/s)
    }).pipe(Effect.provide(sourceRunning("SELECT no_such_column FROM order_lines"))))

  it.effect("a result of another width than the report's columns fails before any row", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const error = yield* Effect.flip(Stream.runDrain(source.rows(queryOf(acme, orders))))
      assert(error._tag === "QueryFailed")
      expect(error.detail).toContain("the query returned 2 columns where 1 were expected")
    }).pipe(Effect.provide(sourceRunning("SELECT 1, 2 WHERE {merchantId:String} != ''"))))

  it.live("the server stops a query at its timeout: QueryTimeout, with no rows before it", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const started = Date.now()
      const error = yield* Effect.flip(Stream.runDrain(source.rows(queryOf(acme, orders, Duration.millis(300)))))
      assert(error._tag === "QueryTimeout")
      expect(error.afterMillis).toBe(300)
      expect(error.rowsBeforeTimeout).toBe(0)
      // The server's limit is in whole seconds, rounded up (servers before 20.x read 0.3 as 0: no limit at all).
      expect(Date.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.provide(sourceRunning(SLOW_AGGREGATE))))
})

describe("ClickHouse ReportSource: values", () => {
  it.effect("integers too large for a JavaScript number come out exact, as bigints", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const rows = yield* collect(source.rows(queryOf(acme, orders)))
      expect(rows).toEqual([[18446744073709551615n, 9007199254740993n, -9223372036854775808n, 42, "42"]])
    }).pipe(Effect.provide(
      sourceRunning(
        "SELECT toUInt64('18446744073709551615'), toInt64(9007199254740993), toInt64('-9223372036854775808'), " +
          "toUInt64(42), toString(42) WHERE {merchantId:String} != ''",
        [integerColumn, integerColumn, integerColumn, integerColumn, { name: "s", type: "string", header: "S" }]
      )
    )))

  it.effect("parameters are bound by the server: a value made of SQL comes back as the very text", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const rows = yield* collect(source.rows(queryOf(acme, orders)))
      expect(rows).toEqual([[HOSTILE, acme]])
    }).pipe(Effect.provide(
      clickHouseSourceOnChdb(datasetOf(50), [acme], {
        catalogue: (report) => ({
          ...definitionOf(report),
          sql: "SELECT {text:String}, {merchantId:String}",
          columns: [{ name: "t", type: "string", header: "T" }, { name: "m", type: "string", header: "M" }]
        }),
        parametersOf: (merchantId) => ({ merchantId, text: HOSTILE })
      })
    )))

  it.effect("each merchant reads its own lines only, the merchant always bound", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      for (const [mine, theirs] of [[acme, globex], [globex, acme]] as const) {
        const rows = yield* collect(source.rows(queryOf(mine, orders)))
        expect(rows.length).toBeGreaterThan(0)
        expect(rows.filter((row) => String(row[0]).startsWith(`${theirs}-`))).toEqual([])
      }
      expect(yield* collect(source.rows(queryOf(MerchantId.make("m-nobody"), orders)))).toEqual([])
    }).pipe(Effect.provide(clickHouseSourceOnChdb(datasetOf(50), [acme, globex]))))
})

describe("ClickHouse ReportSource: which failures are worth a retry", () => {
  const query = queryOf(acme, orders, Duration.seconds(90))
  const failure = (code: number | undefined, kind: ClickHouseQueryError["kind"] = "server") =>
    new ClickHouseQueryError({ code, type: undefined, kind, message: `Code: ${code}. DB::Exception` })

  it("a timeout is a QueryTimeout for the query's timeout, with the rows read before it", () => {
    const mapped = reportErrorOf(query, 42, failure(159))
    assert(mapped._tag === "QueryTimeout")
    expect([mapped.afterMillis, mapped.rowsBeforeTimeout]).toEqual([90_000, 42])
  })

  it("a shortage of memory or query slots, the network or a cut body is retried; anything else is not", () => {
    expect([173, 202, 209, 210, 241].map((code) => isTransient(failure(code)))).toEqual([true, true, true, true, true])
    expect([47, 60, 62, 192, 394, 516].map((code) => isTransient(failure(code)))).toEqual(Array(6).fill(false))
    expect(isTransient(failure(undefined, "network"))).toBe(true)
    expect(isTransient(failure(undefined, "truncated"))).toBe(true)
    expect(isTransient(failure(undefined, "client"))).toBe(false)
  })

  it("the server's own limit is the query's timeout in whole seconds, rounded up, and throws", () => {
    expect(settingsFor(Duration.millis(300))).toEqual({ max_execution_time: 1, timeout_overflow_mode: "throw" })
    expect(settingsFor(Duration.minutes(10))).toEqual({ max_execution_time: 600, timeout_overflow_mode: "throw" })
    expect(settingsFor(Duration.seconds(90.5)).max_execution_time).toBe(91)
    expect(settingsFor(Duration.infinity)).toEqual({ timeout_overflow_mode: "throw" })
  })
})

describe("ClickHouse ReportSource: settings", () => {
  const withEnv = (entries: Record<string, string>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

  it.effect("reads CLICKHOUSE_*, with defaults for all but the URL, the password kept redacted", () =>
    Effect.gen(function*() {
      const settings = yield* clickHouseSettingsConfig.pipe(
        withEnv({ CLICKHOUSE_URL: "https://ch.example.test:8443", CLICKHOUSE_PASSWORD: "s3cret" })
      )
      expect(settings.url.href).toBe("https://ch.example.test:8443/")
      expect([settings.username, settings.database, settings.maxConnections]).toEqual(["default", "default", 16])
      expect(Duration.toMillis(settings.requestTimeout)).toBe(600_000)
      expect(Redacted.value(settings.password)).toBe("s3cret")
      expect(JSON.stringify(settings)).not.toContain("s3cret")
    }))

  it.effect("a missing or malformed setting fails with its name", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(clickHouseSettingsConfig.pipe(withEnv({})))
      expect(JSON.stringify(missing)).toContain("CLICKHOUSE_URL")
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ CLICKHOUSE_URL: "not a url" }, "CLICKHOUSE_URL"],
        [{ CLICKHOUSE_URL: "ftp://ch.example.test" }, "CLICKHOUSE_URL"],
        [{ CLICKHOUSE_URL: "http://ch:8123", CLICKHOUSE_MAX_CONNECTIONS: "0" }, "CLICKHOUSE_MAX_CONNECTIONS"],
        [{ CLICKHOUSE_URL: "http://ch:8123", CLICKHOUSE_REQUEST_TIMEOUT: "soon" }, "CLICKHOUSE_REQUEST_TIMEOUT"]
      ]
      for (const [env, name] of cases) {
        expect(JSON.stringify(yield* Effect.flip(clickHouseSettingsConfig.pipe(withEnv(env))))).toContain(name)
      }
    }))

  it.live("building the layer opens no connection: a server that is down fails the first query, retryably", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const layer = ClickHouseReportSource.layerConfig
      const exit = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(layer)
        const source = Context.get(context, ReportSource)
        return yield* Effect.flip(Stream.runDrain(source.rows(queryOf(acme, orders))))
      })).pipe(withEnv({ CLICKHOUSE_URL: `http://127.0.0.1:${port}` }), Effect.exit)
      assert(Exit.isSuccess(exit))
      const error = exit.value
      assert(error._tag === "QueryFailed")
      expect(error.retryable).toBe(true)
      expect(error.detail).toContain("ECONNREFUSED")
    }))

  it.effect("the client the layer makes is closed with it", () =>
    Effect.gen(function*() {
      let closed = 0
      const fake = { close: () => Promise.resolve(void closed++) }
      yield* Effect.scoped(Layer.build(ClickHouseClient.layerFromClient(() => fake as never)))
      expect(closed).toBe(1)
    }))
})
