// The report catalogue run on the embedded ClickHouse (chdb) exactly as production runs it: the catalogue's SQL,
// its parameters bound by the engine, rows streamed block by block as the export reads them.
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Chunk, Config, Duration, Effect, Layer, Option, Stream } from "effect"
import { createReadStream, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { ReportSource } from "../../application/ports/ReportSource.js"
import type { PreviewQuery, ReportQuery } from "../../application/ports/ReportSource.js"
import type { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import { parquetSql } from "../../domain/Reports.js"
import type { Cell, Column, ReportDefinition, ReportRequest, ReportRow } from "../../domain/Reports.js"
import { countingRows, READ_SIZE, withOwnSpan } from "../clickhouse/ClickHouseStream.js"
import { csvResultOf } from "../clickhouse/CsvResultReader.js"
import { firstRowsSql } from "../clickhouse/FirstRows.js"
import type { ClickHouseQueryError } from "../clickhouse/JsonCompactReader.js"
import { EXPORT_CSV_SETTINGS, neutralisedCsvSql } from "../clickhouse/NeutralisedCsv.js"
import { PARQUET_SETTINGS, parquetResultOf } from "../clickhouse/ParquetResultReader.js"
import { reportFailure, TIMEOUT_EXCEEDED } from "../clickhouse/ReportFailure.js"
import type { ChdbSettings, JsonRow } from "./ChdbEngine.js"
import { ChdbEngine, ChdbError, chdbErrorFrom } from "./ChdbEngine.js"
import * as DemoSeed from "./DemoSeed.js"
import type { DemoSeedOptions } from "./DemoSeed.js"

/** A body the CSV reader refused, as the engine's error: its code and words, for the same mapping. */
const asChdbError = (error: ChdbError | ClickHouseQueryError): ChdbError =>
  error._tag === "ChdbError"
    ? error
    : new ChdbError({ operation: "stream", clickhouseCode: error.code, kind: error.kind, message: error.message })

/**
 * Failures that another attempt, seconds later, may not meet: the engine was short of memory or of query slots
 * while other exports ran. Anything else (unknown table or column, bad SQL, a cancelled query) fails the same way
 * every time, so it is not worth a retry.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  173, // CANNOT_ALLOCATE_MEMORY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  241 // MEMORY_LIMIT_EXCEEDED
])

/**
 * The query's timeout, enforced by the engine too, so that it stops working when the export gives up (the
 * application enforces the same timeout on its side). ClickHouse measures it in wall-clock time from the start of
 * the query, time spent waiting on a slow consumer included, as the port defines it.
 */
const settingsFor = (timeout: Duration.Duration): ChdbSettings => {
  const millis = Duration.toMillis(timeout)
  return {
    ...(Number.isFinite(millis) ? { max_execution_time: Math.max(1, Math.ceil(millis)) / 1000 } : {}),
    // 'break' would end the result early without an error: a truncated file that looks complete.
    timeout_overflow_mode: "throw"
  }
}

const INTEGER = /^-?\d+$/

/**
 * The engine quotes 64-bit integers (counts, sums) so that none loses precision on the way: they come back as
 * numbers here, or as bigints past 2^53. Other cells are used as JSON gives them; decimals are strings already
 * (the catalogue's SQL prints them with toString). An integer column holding other text (a catalogue whose SQL
 * does not match its columns) fails with the cell's position: BigInt's own error would quote the text.
 */
const decoderFor = (columns: ReadonlyArray<Column>) => {
  const integerColumns = columns.flatMap((column, index) => (column.type === "integer" ? [index] : []))
  return (row: JsonRow, rowsBefore: number): ReportRow => {
    const cells = row as Array<Cell>
    for (const index of integerColumns) {
      const cell = cells[index]
      if (typeof cell !== "string") continue
      const value = Number(cell)
      if (Number.isSafeInteger(value)) cells[index] = value
      else if (INTEGER.test(cell)) cells[index] = BigInt(cell)
      else {
        throw new ChdbError({
          operation: "stream",
          clickhouseCode: undefined,
          kind: undefined,
          message: `a cell of ${Buffer.byteLength(cell)} bytes that is no integer in column ${index + 1} of row ` +
            `${rowsBefore + 1}`
        })
      }
    }
    return cells
  }
}

export const reportErrorOf = (query: ReportQuery, rowsRead: number, error: ChdbError): QueryTimeout | QueryFailed =>
  reportFailure(query, rowsRead, {
    timedOut: error.clickhouseCode === TIMEOUT_EXCEEDED || error.kind === "CHDB_TIMEOUT",
    detail: `chdb ${error.operation} failed: ${error.message}`,
    retryable: error.clickhouseCode !== undefined && TRANSIENT_CODES.has(error.clickhouseCode)
  })

/**
 * A ReportSource over the engine. `catalogue` gives each report's definition; it is the catalogue in use but for
 * tests that need a query the catalogue cannot make slow or broken.
 */
export const make = (catalogue?: (report: ReportRequest) => ReportDefinition) =>
  Effect.gen(function*() {
    const engine = yield* ChdbEngine
    const current = yield* CurrentCatalogue
    const definitionOf = catalogue ?? current.definitionOf
    const queryParametersOf = current.queryParametersOf
    /** The report's rows, from its SQL as `sqlOf` gives it. */
    const rowsBy = (query: ReportQuery, sqlOf: (definition: ReportDefinition) => string) =>
      Stream.suspend(() => {
        const definition = definitionOf(query.report)
        const decode = decoderFor(definition.columns)
        let rowsRead = 0
        return engine.stream(sqlOf(definition), queryParametersOf(query.merchantId, query.report), {
          settings: settingsFor(query.timeout),
          label: query.jobId
        }).pipe(
          Stream.mapChunksEffect((chunk) =>
            Effect.try({
              try: () => {
                const rows = Chunk.map(chunk, (row, index) => decode(row, rowsRead + index))
                rowsRead += chunk.length
                return rows
              },
              catch: chdbErrorFrom("stream")
            })
          ),
          Stream.mapError((error) => reportErrorOf(query, rowsRead, error)),
          withOwnSpan("ChdbReportSource.rows", { attributes: { reportType: query.report._tag } })
        )
      })
    // The engine writes the export's CSV itself, formulas neutralised in SQL, and the reader checks and counts it
    // and hands the blocks on (ADR 53): chdb (ClickHouse 26.x) knows every setting and function it takes. Each block
    // reaches this thread as an ArrayBuffer of its own, transferred from the engine's thread, which keeps no hold on
    // it: nothing writes over the bytes the reader hands on.
    const csv = (query: ReportQuery) =>
      Stream.suspend(() => {
        const definition = definitionOf(query.report)
        let rowsRead = 0
        const sql = neutralisedCsvSql(definition)
        const body = engine.streamBytes(sql, queryParametersOf(query.merchantId, query.report), "CSV", {
          settings: { ...settingsFor(query.timeout), extremes: 1, ...EXPORT_CSV_SETTINGS },
          label: query.jobId
        })
        return csvResultOf(body, definition.columns.length, true).pipe(
          countingRows((rows) => void (rowsRead += rows)),
          Stream.mapError((error) => reportErrorOf(query, rowsRead, asChdbError(error))),
          withOwnSpan("ChdbReportSource.csv", { attributes: { reportType: query.report._tag } })
        )
      })
    /**
     * chdb's streams start a Parquet file afresh at every block, so a stream's blocks make no one file: the engine
     * writes the report's file whole into a directory of its own first, and the file streams out from the disk,
     * checked whole by the reader as the server's is (ADR 50). Memory stays flat; the disk holds the file until the
     * stream ends, however it ends.
     */
    const parquet = (query: ReportQuery) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const definition = definitionOf(query.report)
        const directory = yield* Effect.acquireRelease(
          Effect.try({ try: () => mkdtempSync(join(tmpdir(), "export-parquet-")), catch: chdbErrorFrom("stream") }),
          (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
        )
        const path = join(directory, "report.parquet")
        yield* engine.run(
          `INSERT INTO FUNCTION file({parquetPath:String}, 'Parquet')\n${parquetSql(definition)}`,
          { ...queryParametersOf(query.merchantId, query.report), parquetPath: path },
          { settings: { ...settingsFor(query.timeout), ...PARQUET_SETTINGS }, label: query.jobId }
        )
        return parquetResultOf(
          NodeStream.fromReadable<ChdbError, Uint8Array>(
            () => createReadStream(path, { highWaterMark: READ_SIZE }),
            chdbErrorFrom("stream"),
            { chunkSize: READ_SIZE }
          )
        )
      })).pipe(
        Stream.mapError((error) => reportErrorOf(query, 0, asChdbError(error))),
        withOwnSpan("ChdbReportSource.parquet", { attributes: { reportType: query.report._tag } })
      )
    // The engine stops at the limit (ADR 35); the rows are few, so they are read whole.
    const preview = (query: PreviewQuery) =>
      Stream.runCollect(rowsBy(query, (definition) => firstRowsSql(definition.sql, query.limit))).pipe(
        Effect.map(Chunk.toReadonlyArray)
      )
    return ReportSource.of({ rows: (query) => rowsBy(query, (definition) => definition.sql), csv, parquet, preview })
  })

/** The catalogue's reports from the embedded engine. Needs a ChdbEngine whose data directory has order_lines. */
export const layer = Layer.effect(ReportSource, make())

/**
 * The service's embedded default in one layer: the engine on `dataDir`, the demo data seeded on the first start,
 * and the ReportSource over them. The engine is an output too, for health checks. Build it once per process.
 */
export const layerDemo = (dataDir: string, options: DemoSeedOptions = DemoSeed.DEMO_SEED) =>
  layer.pipe(Layer.provideMerge(DemoSeed.layer(options).pipe(Layer.provideMerge(ChdbEngine.Default(dataDir)))))

/** CHDB_DATA_DIR (required) and DEMO_ROWS: when set, an empty dataset is seeded with that many demo order lines. */
export const chdbSettingsConfig = Config.all({
  dataDir: Config.nonEmptyString("CHDB_DATA_DIR"),
  demoRows: Config.option(
    Config.integer("DEMO_ROWS").pipe(
      Config.validate({ message: "must be from 1000 to 100000000", validation: (n) => n >= 1000 && n <= 100_000_000 })
    )
  )
})

/**
 * The engine on CHDB_DATA_DIR, seeded with DEMO_ROWS lines when that is set, and the report source on it. The engine
 * is an output too, for a test's or a probe's own queries.
 */
export const layerConfig = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { dataDir, demoRows } = yield* chdbSettingsConfig
    const engine = ChdbEngine.Default(dataDir)
    const seeded = Option.match(demoRows, {
      onNone: () => engine,
      onSome: (rows) => DemoSeed.layer(DemoSeed.demoSeedOfSize(rows)).pipe(Layer.provideMerge(engine))
    })
    return layer.pipe(Layer.provideMerge(seeded))
  })
)
