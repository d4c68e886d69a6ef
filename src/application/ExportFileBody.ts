// The bytes of an export's file in the format its owner chose (ADR 50), from the report source's stream, in pieces
// that say how many of the report's rows they complete. Every format streams: memory holds a piece of the source's
// output and what is made of it, whatever the size of the report.
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

/** The export's CSV (ADR 6): the optional byte order mark and the header, then the source's rows as they come. */
const csvFile = (source: ReportSource["Type"], query: ReportQuery, columns: ReadonlyArray<Column>, bom: boolean) =>
  Stream.concat(
    Stream.sync((): FilePiece => ({ bytes: encoder.encode(csvPreamble(columns, { bom })), rows: 0 })),
    source.csv(query)
  )

/**
 * The export's CSV in Excel's profile for ";" locales: always with a byte order mark, decimals with a comma. Each
 * piece is rewritten into bytes of its own as it passes (`toExcelCsv` copies), so lent pieces need nothing more.
 */
const excelCsvFile = (source: ReportSource["Type"], query: ReportQuery, columns: ReadonlyArray<Column>) => {
  const decimalCells = new Set(columns.flatMap((column, i) => column.type === "decimal" ? [i] : []))
  return Stream.concat(
    Stream.sync((): FilePiece => ({ bytes: toExcelCsv(encoder.encode(csvPreamble(columns, { bom: true }))), rows: 0 })),
    Stream.map(source.csv(query), (piece): FilePiece => ({ ...piece, bytes: toExcelCsv(piece.bytes, decimalCells) }))
  )
}

/**
 * `pieces` gzip-compressed as they stream: one gzip member, ended only when `pieces` ends. The rows of the pieces
 * zlib has taken in are told with the next compressed piece; the last one, written after the input's end, tells
 * the rest. Each piece is copied on its way in: zlib compresses on libuv's threads and holds its input past the
 * next pull, and a source's pieces are lent only until then (FilePiece, ADR 57).
 */
const gzipped = <E>(pieces: Stream.Stream<FilePiece, E>): Stream.Stream<FilePiece, E> =>
  Stream.suspend(() => {
    let rowsIn = 0
    return pieces.pipe(
      Stream.map((piece) => {
        rowsIn += piece.rows
        return piece.bytes.slice()
      }),
      NodeStream.pipeThroughDuplex(
        () => createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK }),
        (cause) => new CompressionFailed({ cause })
      ),
      Stream.catchAll((error) => error instanceof CompressionFailed ? Stream.die(error) : Stream.fail(error)),
      Stream.map((bytes): FilePiece => {
        const rows = rowsIn
        rowsIn = 0
        return { bytes, rows }
      })
    )
  })

export interface FileBodyOptions {
  /** Start a plain `csv` file with a UTF-8 byte order mark (EXPORT_CSV_BOM); `csv-excel` always has one. */
  readonly csvBom: boolean
}

/**
 * The file of `query`'s report in `format`: what an attempt uploads, in pieces that tell the rows they complete (the
 * upload counts them as it takes the pieces in, WriteFile). Fails as the source's stream fails; a source's Parquet
 * fails unless its file was whole (ReportSource).
 */
export const fileBody = (
  source: ReportSource["Type"],
  query: ReportQuery,
  format: ExportFormat,
  columns: ReadonlyArray<Column>,
  options: FileBodyOptions
): Stream.Stream<FilePiece, QueryTimeout | QueryFailed> => {
  switch (format) {
    case "csv":
      return csvFile(source, query, columns, options.csvBom)
    case "csv-excel":
      return excelCsvFile(source, query, columns)
    case "csv.gz":
      return gzipped(csvFile(source, query, columns, options.csvBom))
    case "jsonl":
      return piecesOfRows(source.rows(query), jsonLineEncoder(columns))
    case "parquet":
      return source.parquet(query)
  }
}
