import type { Duration } from "effect"
import { Chunk, Context, Effect, Stream } from "effect"
import type { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import type { ExportJobId, MerchantId } from "../../domain/Identifiers.js"
import type { ReportRequest, ReportRow } from "../../domain/Reports.js"

export interface ReportQuery {
  /** Also the query's id at the source, so a running query can be found and killed. */
  readonly jobId: ExportJobId
  /** The tenant: a source must return this merchant's rows and no other's. */
  readonly merchantId: MerchantId
  readonly report: ReportRequest
  /** The longest the query may run, from its start to its last row. */
  readonly timeout: Duration.Duration
  /**
   * Told what the source knows of the query's own progress, when it knows anything: the rows it has read and will
   * read in all. Called off the rows' path, while the query runs, as often as the source learns more; cheap: it only
   * records them.
   */
  readonly onProgress?: ((progress: SourceProgress) => void) | undefined
}

/**
 * A report's first rows, for a person choosing its parameters before exporting it (ADR 35): the same query as an
 * export's, merchant included, cut off after `limit` rows by the source itself and within `timeout`.
 */
export interface PreviewQuery extends Omit<ReportQuery, "onProgress"> {
  /** At most this many rows, the first of the report's own order. */
  readonly limit: number
}

/** The source's own count of a query's progress: `readRows` of `totalRows` it will read (not the rows it returns). */
export interface SourceProgress {
  readonly readRows: number
  readonly totalRows: number
}

/**
 * Bytes of a report's file, as a source streams them, and how many of the report's rows they complete. The bytes are
 * lent until the stream is pulled again, as FileStore's `Upload` takes them: a source may write its next pull over
 * them (the ClickHouse source's rewritten rows are views of the reader's reused buffer, ADR 57), so whatever keeps
 * a piece's bytes past the next pull, or hands them to something that may (zlib), copies them first.
 */
export interface FilePiece {
  readonly bytes: Uint8Array
  /** How many rows the bytes hold, or complete. */
  readonly rows: number
}

/** Whole rows of a report in the export's CSV (ADR 6): UTF-8 bytes, each row ended by CRLF, no header. */
export type CsvPiece = FilePiece

/**
 * A report, streamed: a source never holds a whole result in memory. `rows` are its cells; `csv` the same rows
 * written as the export's CSV, exactly as `encodeRow` writes them, by whichever side does it cheapest (a database
 * that writes CSV itself saves decoding every row, ADR 17). `preview` is the first rows of `rows` for the same
 * report, read whole: the source stops the query after them rather than reading the report to its end.
 */
export class ReportSource extends Context.Tag("exports/ReportSource")<ReportSource, {
  readonly rows: (query: ReportQuery) => Stream.Stream<ReportRow, QueryTimeout | QueryFailed>
  readonly csv: (query: ReportQuery) => Stream.Stream<CsvPiece, QueryTimeout | QueryFailed>
  /**
   * The report as a Parquet file with typed columns (`parquetSql`), written by the database itself (ADR 50). Each
   * piece's `rows` is 0 but the last's, which is the row count the file's footer states: only a whole file has one,
   * so the stream fails unless the file is whole. A source whose database writes no Parquet fails with QueryFailed,
   * saying so.
   */
  readonly parquet: (query: ReportQuery) => Stream.Stream<FilePiece, QueryTimeout | QueryFailed>
  readonly preview: (query: PreviewQuery) => Effect.Effect<ReadonlyArray<ReportRow>, QueryTimeout | QueryFailed>
}>() {}

/**
 * `preview` read from a source's own `rows`: the first `limit` of them, the stream left as soon as they came. For a
 * source that has no cheaper way to stop after a few rows (the in-memory one).
 */
export const previewOfRows = <E>(rows: (query: ReportQuery) => Stream.Stream<ReportRow, E>) => (query: PreviewQuery) =>
  Effect.map(Stream.runCollect(Stream.take(rows(query), query.limit)), Chunk.toReadonlyArray)
