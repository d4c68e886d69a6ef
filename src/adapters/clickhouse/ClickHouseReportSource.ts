// The report catalogue run on a ClickHouse server over HTTP: the catalogue's SQL with its parameters bound by the
// server, the merchant always among them, rows streamed as the export reads them (ADR 12).
import { Chunk, Duration, Effect, Layer, Stream } from "effect"
import type { ConfigError } from "effect"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { PROGRESS_INTERVAL } from "../../application/ExportSchedules.js"
import { ReportSource } from "../../application/ports/ReportSource.js"
import type { ReportQuery } from "../../application/ports/ReportSource.js"
import type { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import type { MerchantId } from "../../domain/Identifiers.js"
import { parquetSql } from "../../domain/Reports.js"
import type { QueryParameters, ReportDefinition, ReportRequest, ReportRow } from "../../domain/Reports.js"
import type { ClickHouseSettings } from "./ClickHouseClient.js"
import * as ClickHouseClient from "./ClickHouseClient.js"
import {
  countingRows,
  streamCsv,
  streamParquet,
  streamQuery,
  withOwnSpan,
  writesExportCsv
} from "./ClickHouseStream.js"
import { firstRowsSql } from "./FirstRows.js"
import type { ClickHouseQueryError } from "./JsonCompactReader.js"
import { neutralisedCsvSql } from "./NeutralisedCsv.js"
import { reportFailure, TIMEOUT_EXCEEDED } from "./ReportFailure.js"

/**
 * Failures that another attempt, seconds later, may not meet: the server was short of memory or of query slots
 * while other queries ran, or lost a connection of its own. Anything else (unknown table or column, bad SQL, a
 * refused login, a killed query) fails the same way every time, so it is not worth a retry.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  173, // CANNOT_ALLOCATE_MEMORY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241 // MEMORY_LIMIT_EXCEEDED
])

/**
 * The query's timeout, enforced by the server too, so that it stops working when the export gives up (the
 * application enforces the same timeout on its side). In whole seconds, rounded up: ClickHouse before 20.x reads
 * the setting as an integer and would take 0.5 for 0, no limit at all.
 */
export const settingsFor = (timeout: Duration.Duration) => {
  const millis = Duration.toMillis(timeout)
  return {
    ...(Number.isFinite(millis) ? { max_execution_time: Math.max(1, Math.ceil(millis / 1000)) } : {}),
    // 'break' would end the result early without an error: a truncated file that looks complete.
    timeout_overflow_mode: "throw"
  } as const
}

/** A network failure or a body cut short is worth another attempt; a server's error only for the codes above. */
export const isTransient = (error: ClickHouseQueryError): boolean =>
  error.code === undefined
    ? error.kind === "network" || error.kind === "truncated"
    : TRANSIENT_CODES.has(error.code)

export const reportErrorOf = (
  query: ReportQuery,
  rowsRead: number,
  error: ClickHouseQueryError
): QueryTimeout | QueryFailed =>
  reportFailure(query, rowsRead, {
    timedOut: error.code === TIMEOUT_EXCEEDED,
    detail: `ClickHouse query failed: ${error.message}`,
    retryable: isTransient(error)
  })

/** What a server without Parquet says when asked for it: no such format, or none of the settings it is asked with. */
const NO_PARQUET_CODES: ReadonlySet<number> = new Set([
  73, // UNKNOWN_FORMAT: before 19.x
  115 // UNKNOWN_SETTING: PARQUET_SETTINGS, before 23.3
])

/** A failed Parquet query; a server that writes no Parquet says so for good (ADR 50). */
const parquetErrorOf = (query: ReportQuery, error: ClickHouseQueryError): QueryTimeout | QueryFailed =>
  error.code !== undefined && NO_PARQUET_CODES.has(error.code)
    ? reportFailure(query, 0, {
      timedOut: false,
      detail: `ClickHouse writes no Parquet here: ${error.message}`,
      retryable: false,
      unavailableFormat: "parquet"
    })
    : reportErrorOf(query, 0, error)

export interface ClickHouseReportSourceOptions {
  /**
   * Each report's definition: the catalogue in use, but for tests that need a query it cannot make slow or broken.
   */
  readonly catalogue?: (report: ReportRequest) => ReportDefinition
  /**
   * The values bound to the SQL's `{name:Type}` placeholders: the catalogue's, the merchant always among them. Only
   * tests replace them, to run parameter-free SQL on a server too old to bind parameters.
   */
  readonly parametersOf?: (merchantId: MerchantId, report: ReportRequest) => QueryParameters
  /**
   * Whether to ask the server if it writes the export's CSV itself (ADR 53); `false` rewrites ClickHouse's CSV
   * whatever the server, as on 18.16 (ADR 17). Asked by default; bench:export turns it off for its A/B.
   */
  readonly serverCsv?: boolean
}

/** A ReportSource over the client. */
export const make = (options: ClickHouseReportSourceOptions = {}) =>
  Effect.gen(function*() {
    const client = yield* ClickHouseClient.ClickHouseClient
    const current = yield* CurrentCatalogue
    const catalogue = options.catalogue ?? current.definitionOf
    const parametersOf = options.parametersOf ?? current.queryParametersOf
    const optionsOf = (query: ReportQuery, definition: ReportDefinition) => ({
      queryId: query.jobId,
      params: parametersOf(query.merchantId, query.report),
      settings: settingsFor(query.timeout),
      columns: definition.columns.length,
      // The worker writes what it was told once every PROGRESS_INTERVAL: asking the server more often would be lost.
      progress: query.onProgress === undefined ? undefined : { every: PROGRESS_INTERVAL, report: query.onProgress }
    })
    // Whether the server writes the export's CSV itself (ADR 53): asked once, on the first CSV export, and kept once
    // known (a failed probe is the export's failure, retried as any other, and asked again next time).
    let asWritten: boolean | undefined = options.serverCsv === false ? false : undefined
    const serverWritesCsv = Effect.suspend(() =>
      asWritten !== undefined
        ? Effect.succeed(asWritten)
        : Effect.tap(writesExportCsv(client), (known) => Effect.sync(() => void (asWritten = known)))
    )
    /** The report's rows, from its SQL as `sqlOf` gives it. */
    const rowsBy = (query: ReportQuery, sqlOf: (definition: ReportDefinition) => string) =>
      Stream.suspend(() => {
        const definition = catalogue(query.report)
        let rowsRead = 0
        return streamQuery(client, sqlOf(definition), optionsOf(query, definition)).pipe(
          // Cells are JSON values with 64-bit integers decoded; decimals and dates are strings already (the
          // catalogue's SQL prints them), so they are the report's cells as they are.
          Stream.mapChunks((chunk) => {
            rowsRead += chunk.length
            return chunk as Chunk.Chunk<ReportRow>
          }),
          Stream.mapError((error) => reportErrorOf(query, rowsRead, error)),
          withOwnSpan("ClickHouseReportSource.rows", {
            attributes: { reportType: query.report._tag, jobId: query.jobId }
          })
        )
      })
    return ReportSource.of({
      rows: (query) => rowsBy(query, (definition) => definition.sql),
      // The server writes the CSV: in ADR 6's dialect itself where it can (ADR 53), the reader then only checking
      // it; otherwise the reader rewrites what differs from ADR 6, byte by byte (ADR 17).
      csv: (query) =>
        Stream.unwrap(
          Effect.map(Effect.mapError(serverWritesCsv, (error) => reportErrorOf(query, 0, error)), (written) => {
            const definition = catalogue(query.report)
            let rowsRead = 0
            const sql = written ? neutralisedCsvSql(definition) : definition.sql
            return streamCsv(client, sql, { ...optionsOf(query, definition), asWritten: written }).pipe(
              countingRows((rows) => void (rowsRead += rows)),
              Stream.mapError((error) => reportErrorOf(query, rowsRead, error)),
              withOwnSpan("ClickHouseReportSource.csv", {
                attributes: { reportType: query.report._tag, jobId: query.jobId, serverWritesCsv: written }
              })
            )
          })
        ),
      parquet: (query) =>
        Stream.suspend(() => {
          const definition = catalogue(query.report)
          return streamParquet(client, parquetSql(definition), optionsOf(query, definition)).pipe(
            // The rows are counted by the footer, once the file is whole: none are known read before.
            Stream.mapError((error) => parquetErrorOf(query, error)),
            withOwnSpan("ClickHouseReportSource.parquet", {
              attributes: { reportType: query.report._tag, jobId: query.jobId }
            })
          )
        }),
      // The server stops at the limit (ADR 35); the rows are few, so they are read whole.
      preview: (query) =>
        Stream.runCollect(rowsBy(query, (definition) => firstRowsSql(definition.sql, query.limit))).pipe(
          Effect.map(Chunk.toReadonlyArray)
        )
    })
  })

/** The catalogue's reports from the ClickHouse the client in context reaches. */
const onClient: Layer.Layer<ReportSource, never, ClickHouseClient.ClickHouseClient> = Layer.effect(ReportSource, make())

/** The ReportSource with its own client on explicit settings. */
export const layer = (settings: ClickHouseSettings): Layer.Layer<ReportSource | ClickHouseClient.ClickHouseClient> =>
  onClient.pipe(Layer.provideMerge(ClickHouseClient.layer(settings)))

/** The ReportSource on the environment's CLICKHOUSE_* settings; building it opens no connection. */
export const layerConfig: Layer.Layer<ReportSource, ConfigError.ConfigError> = onClient.pipe(
  Layer.provide(ClickHouseClient.layerConfig)
)
