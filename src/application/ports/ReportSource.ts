import type { Duration } from "effect"
import { Chunk, Context, Stream } from "effect"
import { encodeRow } from "../../domain/Csv.js"
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
}

/** Whole rows of a report in the export's CSV (ADR 6): UTF-8 bytes, each row ended by CRLF, no header. */
export interface CsvPiece {
  readonly bytes: Uint8Array
  /** How many rows the bytes hold. */
  readonly rows: number
}

/**
 * A report, streamed: a source never holds a whole result in memory. `rows` are its cells; `csv` the same rows
 * written as the export's CSV, exactly as `encodeRow` writes them, by whichever side does it cheapest (a database
 * that writes CSV itself saves decoding every row, ADR 17).
 */
export class ReportSource extends Context.Tag("exports/ReportSource")<ReportSource, {
  readonly rows: (query: ReportQuery) => Stream.Stream<ReportRow, QueryTimeout | QueryFailed>
  readonly csv: (query: ReportQuery) => Stream.Stream<CsvPiece, QueryTimeout | QueryFailed>
}>() {}

/** How many characters of CSV are encoded at a time (see csvOfRows). */
const CSV_SLICE = 32 * 1024

const encoder = new TextEncoder()

/**
 * The CSV of a stream of rows, encoded here: for sources that hand over cells. One pass per chunk of rows; the text
 * is encoded every CSV_SLICE characters, because a longer string would go to V8's large-object space, freed only by
 * a full collection, and the heap would grow with every chunk until one.
 */
export const csvOfRows = <E>(rows: Stream.Stream<ReportRow, E>): Stream.Stream<CsvPiece, E> =>
  Stream.mapChunks(rows, (chunk) => {
    const pieces: Array<CsvPiece> = []
    let text = ""
    let count = 0
    for (const row of chunk) {
      text += encodeRow(row)
      count++
      if (text.length >= CSV_SLICE) {
        pieces.push({ bytes: encoder.encode(text), rows: count })
        text = ""
        count = 0
      }
    }
    if (count > 0) pieces.push({ bytes: encoder.encode(text), rows: count })
    return Chunk.unsafeFromArray(pieces)
  })
