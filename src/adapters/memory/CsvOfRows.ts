// The CSV of a stream of report rows, encoded in this process: for the sources that hand over cells (the in-memory
// one); the others have their database write the CSV (ADR 17).
import { Chunk, Stream } from "effect"
import type { CsvPiece } from "../../application/ports/ReportSource.js"
import { encodeRow } from "../../domain/Csv.js"
import type { ReportRow } from "../../domain/Reports.js"

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
