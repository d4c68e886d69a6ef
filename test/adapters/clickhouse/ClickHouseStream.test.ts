// The adapter's streaming path over HTTP against a real clickhouse-server (Debian's 18.16, started for this file):
// results far larger than memory read as the consumer pulls, errors that arrive after the first bytes, timeouts
// before and after the first byte, a consumer that leaves killing its query, and the query's progress read while it
// runs. 18.16 binds no parameters, so the SQL here has none; the report catalogue's own SQL is tested on chdb.
import type { ClickHouseClient as Client } from "@clickhouse/client"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Logger, LogLevel, Schedule, Schema, Stream } from "effect"
import { Readable } from "node:stream"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { ClickHouseClient } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import { streamCsv, streamQuery, writesExportCsv } from "../../../src/adapters/clickhouse/ClickHouseStream.js"
import type { QueryOptions } from "../../../src/adapters/clickhouse/ClickHouseStream.js"
import type { SourceProgress } from "../../../src/application/ports/ReportSource.js"
import { encodeRow } from "../../../src/domain/Csv.js"
import { definitionOf, ReportRequest } from "../../../src/domain/Reports.js"
import type { Column } from "../../../src/domain/Reports.js"
import { collectedCopies } from "../../support/LentPieces.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import { REPORT_READS } from "../../support/ReportReads.js"
import { ClickHouseServer } from "../../support/servers/ClickHouseServer.js"
import { acme, queryOf } from "../chdb/ChdbTestSupport.js"
import { clientOn1816, numbersTable, readSlowly, runningQueries } from "./ClickHouseTestSupport.js"

// A full garbage collection on demand, to see what the stream really holds rather than what V8 has yet to free.
setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

const queryId = () => `test-${crypto.randomUUID()}`

/**
 * What is still held after a full collection, taken at checkpoints along a stream: the rows in flight. (Buffers'
 * memory is returned by V8 after a collection, at its own pace: a test below checks that bytes are not read ahead of
 * the consumer.)
 */
const retained = () => {
  gc()
  return process.memoryUsage().heapUsed
}

const rowsOf = (sql: string, options: Partial<QueryOptions> = {}) =>
  Effect.map(ClickHouseClient, (client) => streamQuery(client, sql, { queryId: queryId(), ...options }))

/**
 * Streams `sql`'s CSV to its end with progress asked every 200 ms: the rows delivered, and each report with the rows
 * delivered before it (the array keeps collecting anything reported after the end, for a test to see).
 */
const csvWithProgress = (sql: string, columns: number) =>
  Effect.gen(function*() {
    const client = yield* ClickHouseClient
    const reports: Array<SourceProgress & { readonly rowsBefore: number }> = []
    let rows = 0
    yield* Stream.runForEach(
      streamCsv(client, sql, {
        queryId: queryId(),
        columns,
        progress: {
          every: Duration.millis(200),
          report: (progress) => void reports.push({ ...progress, rowsBefore: rows })
        }
      }),
      (piece) => Effect.sync(() => void (rows += piece.rows))
    )
    return { reports, rows }
  })

const waitUntil = <E, R>(check: Effect.Effect<boolean, E, R>, within = Duration.seconds(5)) =>
  check.pipe(
    Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(Duration.millis(50)) }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`not so within ${Duration.format(within)}`) })
  )

const readRows = (id: string) =>
  Effect.flatMap(
    ClickHouseServer,
    (server) => server.query(`SELECT read_rows FROM system.processes WHERE query_id = '${id}'`)
  ).pipe(
    Effect.map((body) => Number(body.trim()))
  )

const orders = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" }
})
const numberColumn: Column = { name: "n", type: "integer", header: "N" }
const textColumn: Column = { name: "text", type: "string", header: "Text" }

const HOSTILE = "it's \\ \"quoted\"\n'); DROP TABLE order_lines; --"

/** A ClickHouse string literal: backslashes and quotes escaped (18.16 binds no parameters). */
const literal = (text: string): string =>
  `'${
    text.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")
  }'`

/** The adapter's ReportSource with the catalogue's SQL replaced by `sql`, sent without parameters. */
const sourceRunning = (sql: string, columns: ReadonlyArray<Column> = [numberColumn]) =>
  Effect.flatMap(ClickHouseClient, (client) =>
    ClickHouseReportSource.make({
      catalogue: (report) => ({ ...definitionOf(report), sql, columns }),
      parametersOf: () => ({})
    }).pipe(Effect.provideService(ClickHouseClient, client)))

// No row for minutes: 100 000 rows, 10 to a block, 10 ms a row.
const SLOW_AGGREGATE =
  "SELECT count() FROM (SELECT sleepEachRow(0.01) FROM numbers(100000)) SETTINGS max_block_size = 10"
// Rows as fast as they can be read, for ever.
const ENDLESS_ROWS = "SELECT number FROM system.numbers"

layer(clientOn1816, { timeout: Duration.seconds(60), excludeTestServices: true })("clickhouse-server 18.16", (it) => {
  it.effect("18.16 does not write the export's CSV itself: no CRLF setting, so its CSV is rewritten (ADR 17, 53)", () =>
    Effect.map(Effect.flatMap(ClickHouseClient, writesExportCsv), (writes) => expect(writes).toBe(false)))

  it.effect("streams a result of millions of rows, every row in order, in bounded memory", () =>
    Effect.gen(function*() {
      const total = 2_000_000
      const rows = yield* rowsOf(
        `SELECT number, toString(number * 7), 'padding-padding-padding-padding-padding-padding' FROM numbers(${total})`,
        { settings: { max_block_size: "65536" }, columns: 3 }
      )
      const baseline = retained()
      const held: Array<number> = []
      let next = 0
      let misplaced = 0
      yield* Stream.runForEachChunk(rows, (chunk) =>
        Effect.sync(() => {
          for (const row of chunk) {
            if (row[0] !== next || row[1] !== String(next * 7)) misplaced++
            if (++next % 400_000 === 0) held.push(retained() - baseline)
          }
        }))
      expect(next).toBe(total)
      expect(misplaced).toBe(0)
      // About 150 MB of body, and several times that as JavaScript rows; at each checkpoint about 1 MB is held.
      expect(held).toHaveLength(5)
      expect(Math.max(...held)).toBeLessThan(16 * 1024 * 1024)
    }))

  it.effect("a paused consumer holds the server back, and interrupting it kills the query", () =>
    Effect.gen(function*() {
      const id = queryId()
      const total = 100_000_000
      const client = yield* ClickHouseClient
      const pulled = yield* Deferred.make<void>()
      let seen = 0
      const fiber = yield* streamQuery(client, `SELECT number, 'padding-padding-padding' FROM numbers(${total})`, {
        queryId: id
      }).pipe(
        Stream.runForEach(() =>
          ++seen === 10_000 ? Effect.zipRight(Deferred.succeed(pulled, undefined), Effect.never) : Effect.void
        ),
        Effect.fork
      )
      yield* Deferred.await(pulled)
      // The server fills the socket's buffers for a while first (longer on a loaded machine): two reads half a
      // second apart that agree say it has stopped.
      let first = yield* readRows(id)
      let second = -1
      for (let tries = 0; tries < 20; tries++) {
        yield* Effect.sleep(Duration.millis(500))
        second = yield* readRows(id)
        if (second === first) break
        first = second
      }
      // The server is still on the query, but stalled on a full socket, far from its end.
      expect(first).toBeGreaterThan(0)
      expect(second).toBe(first)
      expect(first).toBeLessThan(total / 10)
      yield* Fiber.interrupt(fiber)
      yield* waitUntil(Effect.map(runningQueries(id), (running) => running === 0))
    }))

  it.effect("an exception after the first bytes fails the stream; the rows before it came, and no end", () =>
    Effect.gen(function*() {
      const rows = yield* rowsOf("SELECT number, throwIf(number = 500000) FROM numbers(1000000)", {
        settings: { max_block_size: "10000" }
      })
      let delivered = 0
      const exit = yield* Stream.runForEach(rows, () => Effect.sync(() => delivered++)).pipe(Effect.exit)
      assert(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      expect(error.code).toBe(395)
      expect(error.kind).toBe("server")
      expect(error.message).toMatch(/^Code: 395, e\.displayText\(\) = DB::Exception: Value passed to 'throwIf'/)
      // The status was 200 and rows had arrived: the error was in the body.
      expect(delivered).toBeGreaterThan(0)
      expect(delivered).toBeLessThanOrEqual(500_000)
    }))

  it.effect("an error before the first byte fails the stream with the server's code", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(yield* rowsOf("SELECT * FROM no_such_table")))
      expect(error.code).toBe(60)
      expect(error.kind).toBe("server")
    }))

  for (const [name, read] of Object.entries(REPORT_READS)) {
    it.effect(`${name}: a timeout before the first byte is a QueryTimeout with no rows`, () =>
      Effect.gen(function*() {
        const source = yield* sourceRunning(SLOW_AGGREGATE)
        const query = queryOf(acme, orders, Duration.seconds(1))
        const error = yield* Effect.flip(Stream.runDrain(read(source, query)))
        assert(error._tag === "QueryTimeout")
        expect([error.afterMillis, error.rowsBeforeTimeout]).toEqual([1_000, 0])
        yield* waitUntil(Effect.map(runningQueries(query.jobId), (running) => running === 0))
      }))

    it.effect(`${name}: a timeout after the first byte is a QueryTimeout with the rows delivered before it`, () =>
      Effect.gen(function*() {
        const source = yield* sourceRunning(ENDLESS_ROWS)
        const query = queryOf(acme, orders, Duration.seconds(1))
        let delivered = 0
        const error = yield* Effect.flip(
          Stream.runForEach(read(source, query), (rows) => Effect.sync(() => (delivered += rows)))
        )
        assert(error._tag === "QueryTimeout")
        expect(delivered).toBeGreaterThan(0)
        expect(error.rowsBeforeTimeout).toBe(delivered)
      }))

    it.effect(`${name}: interrupting the consumer while the server computes kills the query`, () =>
      Effect.gen(function*() {
        const source = yield* sourceRunning(SLOW_AGGREGATE)
        const query = queryOf(acme, orders, Duration.minutes(10))
        const fiber = yield* Effect.fork(Stream.runDrain(read(source, query)))
        yield* waitUntil(Effect.map(runningQueries(query.jobId), (running) => running === 1))
        yield* Fiber.interrupt(fiber)
        // Left alone, it would run for its whole 10 minutes: nothing is written to the socket until its one row.
        yield* waitUntil(Effect.map(runningQueries(query.jobId), (running) => running === 0))
      }))
  }

  it.effect("a consumer that takes the first rows and leaves ends the query", () =>
    Effect.gen(function*() {
      const source = yield* sourceRunning(ENDLESS_ROWS)
      const query = queryOf(acme, orders, Duration.minutes(10))
      const rows = yield* Stream.runCollect(Stream.take(source.rows(query), 10))
      expect(Chunk.toReadonlyArray(rows)).toEqual(Array.from({ length: 10 }, (_, n) => [n]))
      yield* waitUntil(Effect.map(runningQueries(query.jobId), (running) => running === 0))
    }))

  it.effect("preview: the first rows of a sorted result, in its order, and the query over once they are in", () =>
    Effect.gen(function*() {
      const sorted = yield* sourceRunning("SELECT number FROM numbers(5000000) ORDER BY number DESC")
      const query = { ...queryOf(acme, orders, Duration.minutes(1)), limit: 100 }
      const rows = yield* sorted.preview(query)
      expect(rows).toEqual(Array.from({ length: 100 }, (_, n) => [4_999_999 - n]))
      // An endless result too: the server itself stops at the limit.
      const endless = yield* sourceRunning(ENDLESS_ROWS)
      const first = yield* endless.preview({ ...queryOf(acme, orders, Duration.minutes(1)), limit: 3 })
      expect(first).toEqual([[0], [1], [2]])
      expect(yield* runningQueries(query.jobId)).toBe(0)
    }))

  it.effect("preview: a query past its timeout is a QueryTimeout, and stops on the server", () =>
    Effect.gen(function*() {
      const source = yield* sourceRunning("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 3 = 0")
      const query = { ...queryOf(acme, orders, Duration.seconds(1)), limit: 100 }
      const started = Date.now()
      const error = yield* Effect.flip(source.preview(query))
      assert(error._tag === "QueryTimeout")
      expect(error.afterMillis).toBe(1_000)
      expect(Date.now() - started).toBeLessThan(5_000)
      yield* waitUntil(Effect.map(runningQueries(query.jobId), (running) => running === 0))
    }))

  // The export's path: the server's CSV, rewritten by the CsvResultReader (ADR 17).

  it.effect("CSV: millions of rows, each once and in order, in bounded memory", () =>
    Effect.gen(function*() {
      const total = 2_000_000
      const client = yield* ClickHouseClient
      const pieces = streamCsv(
        client,
        `SELECT number, toString(number * 7), 'padding-padding-padding-padding-padding-padding' FROM numbers(${total})`,
        { queryId: queryId(), settings: { max_block_size: "65536" }, columns: 3 }
      )
      const baseline = retained()
      const held: Array<number> = []
      let next = 0
      let misplaced = 0
      let rest = ""
      yield* Stream.runForEach(pieces, (piece) =>
        Effect.sync(() => {
          const lines = (rest + new TextDecoder().decode(piece.bytes)).split("\r\n")
          rest = lines.pop()!
          expect(lines).toHaveLength(piece.rows)
          for (const line of lines) {
            if (line !== `${next},"${next * 7}","padding-padding-padding-padding-padding-padding"`) misplaced++
            if (++next % 400_000 === 0) held.push(retained() - baseline)
          }
        }))
      expect([next, misplaced, rest]).toEqual([total, 0, ""])
      expect(held).toHaveLength(5)
      expect(Math.max(...held)).toBeLessThan(16 * 1024 * 1024)
    }))

  it.effect("CSV: text that needs quoting or defusing comes out as encodeRow writes the rows JSONCompact reads", () =>
    Effect.gen(function*() {
      const texts = [
        HOSTILE,
        "=1+1",
        "-12.5",
        "-x",
        "@SUM(A1)",
        "\ttab",
        "a,b",
        "\"",
        "",
        "nan",
        "é 😀",
        "two\r\nlines"
      ]
      const sql = `SELECT number, arrayJoin([${
        texts.map(literal).join(", ")
      }]) AS text, toInt64(-9007199254740993) AS big
        FROM numbers(3) ORDER BY number, text`
      const source = yield* sourceRunning(sql, [numberColumn, textColumn, numberColumn])
      const query = queryOf(acme, orders)
      const rows = Chunk.toReadonlyArray(yield* Stream.runCollect(source.rows(query)))
      const pieces = yield* collectedCopies(source.csv(query))
      expect(rows).toHaveLength(texts.length * 3)
      expect(Buffer.concat(pieces.map((piece) => piece.bytes)).toString("utf8")).toBe(rows.map(encodeRow).join(""))
      expect(pieces.reduce((sum, piece) => sum + piece.rows, 0)).toBe(rows.length)
    }))

  it.effect("CSV: an exception after the first bytes fails the stream with the server's code", () =>
    Effect.gen(function*() {
      const client = yield* ClickHouseClient
      let delivered = 0
      const error = yield* Effect.flip(Stream.runForEach(
        streamCsv(client, "SELECT number, throwIf(number = 500000) FROM numbers(1000000)", {
          queryId: queryId(),
          settings: { max_block_size: "10000" },
          columns: 2
        }),
        (piece) => Effect.sync(() => (delivered += piece.rows))
      ))
      expect(error.code).toBe(395)
      expect(error.kind).toBe("server")
      expect(delivered).toBeGreaterThan(0)
      expect(delivered).toBeLessThanOrEqual(500_000)
    }))

  // Progress headers stop once the body begins: what the server has read since is asked of system.processes.

  it.effect("CSV: while rows stream, the server's count of rows read is reported every interval, then no more", () =>
    Effect.gen(function*() {
      const total = 250_000
      const table = yield* numbersTable(total)
      const { reports, rows } = yield* csvWithProgress(
        `SELECT number, concat('line-', toString(number), '-padding-padding-padding-padding-padding-padding')
         FROM ${readSlowly(table, 100_000)} SETTINGS max_threads = 1`,
        2
      )
      expect(rows).toBe(total)
      const reported = reports.length
      yield* Effect.sleep(Duration.seconds(1))
      // The reading stopped with the stream.
      expect(reports.length).toBe(reported)

      // 2.5 s of rows, a report every 200 ms.
      expect(reported).toBeGreaterThanOrEqual(5)
      // The total is known ahead, in whole granules.
      expect(new Set(reports.map((report) => report.totalRows))).toEqual(new Set([Math.ceil(total / 8192) * 8192]))
      const read = reports.map((report) => report.readRows)
      expect(read).toEqual([...read].sort((a, b) => a - b))
      expect(Math.max(...read)).toBeLessThanOrEqual(total)
      expect(new Set(read).size).toBeGreaterThanOrEqual(3)
      // Reported while rows were streaming, not only before the body began.
      expect(reports.filter((report) => report.rowsBefore > 0 && report.readRows < total).length)
        .toBeGreaterThanOrEqual(2)
    }))

  it.effect("CSV: a query that reads for seconds before its one row reports its progress meanwhile", () =>
    Effect.gen(function*() {
      const total = 150_000
      const table = yield* numbersTable(total)
      const { reports, rows } = yield* csvWithProgress(
        `SELECT count() FROM ${readSlowly(table, 100_000)} SETTINGS max_threads = 1, max_block_size = 8192`,
        1
      )
      expect(rows).toBe(1)
      const before = reports.filter((report) => report.rowsBefore === 0 && report.readRows < total)
      expect(new Set(before.map((report) => report.readRows)).size).toBeGreaterThanOrEqual(3)
    }))
})

describe("streamQuery without a server", () => {
  /** A client whose result never ends and whose KILL and reads of progress fail, recording what it was asked. */
  const fakeClient = () => {
    const body = new Readable({ read() {} })
    const calls = {
      signal: undefined as AbortSignal | undefined,
      commands: [] as Array<string>,
      queries: [] as Array<string>,
      get destroyed() {
        return body.destroyed
      }
    }
    const client = {
      exec: (params: { readonly abort_signal?: AbortSignal }) => {
        calls.signal = params.abort_signal
        body.push("{\n\t\"meta\":\n\t[\n\t],\n\n\t\"data\":\n\t[\n")
        return Promise.resolve({ stream: body, query_id: "q", response_headers: {} })
      },
      command: (params: { readonly query: string }) => {
        calls.commands.push(params.query)
        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1"))
      },
      query: (params: { readonly query: string }) => {
        calls.queries.push(params.query)
        return Promise.reject(new Error("Code: 497. DB::Exception: Not enough privileges"))
      }
    }
    return { client: client as unknown as Client, calls }
  }

  it.live("interruption aborts the request and kills the query; a refused KILL is logged, never a failure", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const { calls, client } = fakeClient()
      const fiber = yield* Effect.fork(Stream.runDrain(streamQuery(client, "SELECT 1", { queryId: "job-1" })))
      yield* waitUntil(Effect.sync(() => calls.signal !== undefined))
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(calls.signal?.aborted).toBe(true)
      expect(calls.destroyed).toBe(true)
      expect(calls.commands).toEqual(["KILL QUERY WHERE query_id = 'job-1' ASYNC"])
      const warnings = logs.lines.filter((line) => line.level === LogLevel.Warning.label)
      expect(warnings.map((line) => JSON.stringify(line.message)).join("\n")).toContain("could not be killed")
    }).pipe(Effect.provide(logs.replacing))
  })

  it.live("progress that cannot be read is logged at debug and never fails the rows; its reading stops with them", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const { calls, client } = fakeClient()
      const fiber = yield* Effect.fork(Stream.runDrain(streamQuery(client, "SELECT 1", {
        queryId: "job-1",
        progress: { every: Duration.millis(20), report: () => {} }
      })))
      yield* waitUntil(Effect.sync(() => calls.queries.length >= 3))
      expect(fiber.unsafePoll()).toBeNull()
      expect(calls.queries[0]).toBe(
        "SELECT read_rows, total_rows_approx FROM system.processes WHERE query_id = 'job-1'"
      )
      yield* Fiber.interrupt(fiber)
      const asked = calls.queries.length
      yield* Effect.sleep(Duration.millis(200))
      expect(calls.queries.length).toBe(asked)
      const debug = logs.lines.filter((line) => line.level === LogLevel.Debug.label)
      expect(debug.map((line) => JSON.stringify(line.message)).join("\n")).toContain("progress could not be read")
      expect(logs.lines.filter((line) =>
        line.level === LogLevel.Warning.label && /progress/.test(
          JSON.stringify(line.message)
        )
      )).toEqual([])
    }).pipe(Effect.provide(logs.replacing), Logger.withMinimumLogLevel(LogLevel.Debug))
  })

  it.effect("a query id that could not be written into KILL safely is refused before any request", () =>
    Effect.gen(function*() {
      const { calls, client } = fakeClient()
      const error = yield* Effect.flip(Stream.runDrain(streamQuery(client, "SELECT 1", { queryId: "x' OR 1=1 --" })))
      expect(error.kind).toBe("client")
      expect(calls.signal).toBeUndefined()
    }))
})
