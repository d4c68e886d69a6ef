// Report rows encoded as a file's text in this process, a piece of whole rows at a time: for the in-memory source's
// CSV and for JSON Lines (ADR 50), whose rows every source hands over as cells.
import { Chunk, Stream } from "effect"
import type { ReportRow } from "../domain/Reports.js"
import type { FilePiece } from "./ports/ReportSource.js"

/** How many characters of text are encoded at a time (see piecesOfRows). */
const TEXT_SLICE = 32 * 1024

const encoder = new TextEncoder()

/**
 * `rows`, each as `encode` writes it, in UTF-8 pieces of whole rows. One pass per chunk of rows; the text is encoded
 * every TEXT_SLICE characters, because a longer string would go to V8's large-object space, freed only by a full
 * collection, and the heap would grow with every chunk until one.
 */
export const piecesOfRows = <E>(
  rows: Stream.Stream<ReportRow, E>,
  encode: (row: ReportRow) => string
): Stream.Stream<FilePiece, E> =>
  Stream.mapChunks(rows, (chunk) => {
    const pieces: Array<FilePiece> = []
    let text = ""
    let count = 0
    for (const row of chunk) {
      text += encode(row)
      count++
      if (text.length >= TEXT_SLICE) {
        pieces.push({ bytes: encoder.encode(text), rows: count })
        text = ""
        count = 0
      }
    }
    if (count > 0) pieces.push({ bytes: encoder.encode(text), rows: count })
    return Chunk.unsafeFromArray(pieces)
  })
