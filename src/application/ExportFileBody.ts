// The bytes of an export's file in the format its owner chose (ADR 50), from the report source's stream, with the
// rows they hold counted into the attempt's tally as they pass. Every format streams: memory holds a piece of the
// source's output and what is made of it, whatever the size of the report.
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Data, Stream } from "effect"
import { constants, createGzip } from "node:zlib"
import { csvPreamble, toExcelCsv } from "../domain/Csv.js"
import type { QueryFailed, QueryTimeout } from "../domain/Errors.js"
import type { ExportFormat } from "../domain/FileFormats.js"
import { jsonLineEncoder } from "../domain/JsonLines.js"
import type { Column } from "../domain/Reports.js"
import type { FilePiece, ReportQuery } from "./ports/ReportSource.js"
import type { ReportSource } from "./ports/ReportSource.js"
import { piecesOfRows } from "./RowPieces.js"
import type { Tally } from "./WriteFile.js"

/**
 * zlib's level for `csv.gz`: 1 (`gzip --fast`). On 300k demo order lines (39 MB of CSV) level 1 packs 8.3 times at
 * 259 MB/s, the default 6 packs 11.1 times at 49 MB/s: a third more bytes to download for a fifth of the CPU, and the
 * worker's CPU is what bounds an export's speed (docs/performance.md), while 49 MB/s would bound it alone.
 */
export const GZIP_LEVEL = constants.Z_BEST_SPEED
/** How much compressed output zlib hands on at a time: pieces of this size keep the stream's cost per piece small. */
const GZIP_CHUNK = 64 * 1024

/** zlib failed on bytes it was given: a bug or a broken process, never the report's or the user's doing. */
class CompressionFailed extends Data.TaggedError("CompressionFailed")<{ readonly cause: unknown }> {}

const encoder = new TextEncoder()

/** Each piece's bytes, its rows counted into `tally` as it goes by. */
const counting = <E>(pieces: Stream.Stream<FilePiece, E>, tally: Tally): Stream.Stream<Uint8Array, E> =>
  Stream.map(pieces, (piece) => {
    tally.rows += piece.rows
    return piece.bytes
  })

/** The export's CSV (ADR 6): the optional byte order mark and the header, then the source's rows. */
const csvFile = (
  source: ReportSource["Type"],
  query: ReportQuery,
  columns: ReadonlyArray<Column>,
  bom: boolean,
  tally: Tally
) =>
  Stream.concat(
    Stream.sync(() => encoder.encode(csvPreamble(columns, { bom }))),
    counting(source.csv(query), tally)
  )

/** The export's CSV in Excel's profile for ";" locales: always with a byte order mark, decimals with a comma. */
const excelCsvFile = (
  source: ReportSource["Type"],
  query: ReportQuery,
  columns: ReadonlyArray<Column>,
  tally: Tally
) => {
  const decimalCells = new Set(columns.flatMap((column, i) => column.type === "decimal" ? [i] : []))
  return Stream.concat(
    Stream.sync(() => toExcelCsv(encoder.encode(csvPreamble(columns, { bom: true })))),
    Stream.map(counting(source.csv(query), tally), (rows) => toExcelCsv(rows, decimalCells))
  )
}

/** `bytes` gzip-compressed as they stream: one gzip member, ended only when `bytes` ends. */
const gzipped = <E>(bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  bytes.pipe(
    NodeStream.pipeThroughDuplex(
      () => createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK }),
      (cause) => new CompressionFailed({ cause })
    ),
    Stream.catchAll((error) => error instanceof CompressionFailed ? Stream.die(error) : Stream.fail(error))
  )

export interface FileBodyOptions {
  /** Start a plain `csv` file with a UTF-8 byte order mark (EXPORT_CSV_BOM); `csv-excel` always has one. */
  readonly csvBom: boolean
}

/**
 * The file of `query`'s report in `format`: what an attempt uploads. Fails as the source's stream fails; a source's
 * Parquet fails unless its file was whole (ReportSource).
 */
export const fileBody = (
  source: ReportSource["Type"],
  query: ReportQuery,
  format: ExportFormat,
  columns: ReadonlyArray<Column>,
  options: FileBodyOptions,
  tally: Tally
): Stream.Stream<Uint8Array, QueryTimeout | QueryFailed> => {
  switch (format) {
    case "csv":
      return csvFile(source, query, columns, options.csvBom, tally)
    case "csv-excel":
      return excelCsvFile(source, query, columns, tally)
    case "csv.gz":
      return gzipped(csvFile(source, query, columns, options.csvBom, tally))
    case "jsonl":
      return counting(piecesOfRows(source.rows(query), jsonLineEncoder(columns)), tally)
    case "parquet":
      return counting(source.parquet(query), tally)
  }
}
