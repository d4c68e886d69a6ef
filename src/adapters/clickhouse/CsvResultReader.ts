// Reads ClickHouse's own CSV of a result as it arrives over HTTP and hands it on as the export's CSV (ADR 6) in one
// pass over the bytes, without decoding a row into JavaScript values (ADR 17). ClickHouse already writes almost the
// same dialect (text quoted, numbers bare); what differs is rewritten here: rows end with CRLF, text that a
// spreadsheet would run as a formula gets its apostrophe (by the domain's own rule), NULL and non-finite numbers
// become empty cells.
//
// A failure after the first bytes comes inside the body (the status is already 200), so the query runs with
// `extremes = 1`: a whole result ends with a blank line and two rows (the columns' minimums and maximums), which the
// server writes only once every row is out. A body counts as complete only if it ends with exactly that, or is empty.
//
// Where the server writes the export's CSV itself (ADR 53: CRLF row ends, NULL as an empty cell, formulas
// neutralised in SQL, see NeutralisedCsv.ts), the reader is made `asWritten`: it checks every row as it does here,
// and that no text cell starts like a formula, counts the rows and hands on the body's own bytes, without a copy.
import { Chunk, Effect, Stream } from "effect"
import type { CsvPiece } from "../../application/ports/ReportSource.js"
import { startsLikeFormula } from "../../domain/Csv.js"
import { brokenBody, ClickHouseQueryError, exceptionAt, serverErrorOf } from "./JsonCompactReader.js"

const LF = 0x0a
const CR = 0x0d
const QUOTE = 0x22
const COMMA = 0x2c
const APOSTROPHE = 0x27
const PLUS = 0x2b
const MINUS = 0x2d
const DOT = 0x2e
const BACKSLASH = 0x5c

/**
 * What is kept of a body once it has gone wrong: enough to find ClickHouse's message in, never the rest of a result.
 * It goes into no error unless it starts with that message: a body's text is the tenant's data.
 */
const MAX_FAILURE_TEXT = 64 * 1024
/** The longest row accepted: a row still open past this is not a result's row, or not one a spreadsheet could take. */
export const MAX_ROW_BYTES = 16 * 1024 * 1024
/** The extremes: the columns' minimums, then their maximums. */
const EXTREMES_ROWS = 2

/**
 * The bytes [from, to) in a buffer of their own. A chunk from a Node stream is a Buffer, whose `slice` is a view: kept
 * across pushes, a row's few bytes would keep the whole chunk alive until the next one, long enough for the garbage
 * collector to move it to the old generation, where it waits for a full collection (ADR 20).
 */
const copyOf = (bytes: Uint8Array, from: number, to: number): Uint8Array => new Uint8Array(bytes.subarray(from, to))

/**
 * The bytes an unquoted cell may hold: ClickHouse leaves only numbers, bools and NULL unquoted ("-12.5", "1e-7",
 * "true", "\N", "nan"). A byte outside these means the body is not the CSV of our query: a "," or a ";" would be a
 * cell a spreadsheet could split.
 */
const UNQUOTED = new Uint8Array(256)
for (const range of ["09", "AZ", "az"]) {
  for (let c = range.charCodeAt(0); c <= range.charCodeAt(1); c++) UNQUOTED[c] = 1
}
for (const c of [PLUS, MINUS, DOT, BACKSLASH]) UNQUOTED[c] = 1

/** ClickHouse's unquoted cells that are no value in the export: NULL and the non-finite floats. */
const isEmptyValue = (bytes: Uint8Array, from: number, to: number): boolean => {
  const length = to - from
  if (length === 2) return bytes[from] === BACKSLASH && bytes[from + 1] === 0x4e // \N
  if (length < 3 || length > 4) return false
  let start = from
  if (length === 4) {
    if (bytes[from] !== PLUS && bytes[from] !== MINUS) return false
    start++
  }
  const a = bytes[start]!, b = bytes[start + 1]!, c = bytes[start + 2]!
  return (a === 0x6e && b === 0x61 && c === 0x6e) || (a === 0x69 && b === 0x6e && c === 0x66) // nan, inf
}

/** Moves bytes [from, to) right by `by`: by hand for a cell's few bytes, where a native call would cost more. */
const moveRight = (bytes: Uint8Array, from: number, to: number, by: number): void => {
  if (to - from > 64) {
    bytes.copyWithin(from + by, from, to)
    return
  }
  for (let i = to - 1; i >= from; i--) bytes[i + by] = bytes[i]!
}

/** Where a row stopped being read: complete, waiting for more bytes, or not a row of this result. */
const INCOMPLETE = -1
const MALFORMED = -2
/** A row as written by the server, holding text that starts like a formula: the SQL did not neutralise it. */
const UNDEFUSED = -3

/**
 * How much of a chunk is joined to the row the last chunk cut, at first: enough for a row of most reports, so that
 * only that row is copied, not the chunk (read `asWritten`, the rest of the chunk is handed on as it is).
 */
const JOIN_HEAD = 4096

const merged = (pieces: ReadonlyArray<CsvPiece>): CsvPiece | undefined => {
  if (pieces.length <= 1) return pieces[0]
  const bytes = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.bytes.length, 0))
  let at = 0
  for (const piece of pieces) {
    bytes.set(piece.bytes, at)
    at += piece.bytes.length
  }
  return { bytes, rows: pieces.reduce((sum, piece) => sum + piece.rows, 0) }
}

/**
 * An incremental reader of one CSV body of `columns` columns with ClickHouse's extremes at its end: `push` each
 * chunk (or `pushAll` the chunks of one pull) and get the export's CSV of the rows completed by it, then `end` once
 * the body is over. `push` never throws; `end` throws a ClickHouseQueryError unless the body was a whole result:
 * ClickHouse's exception, or where the body went wrong (BodyPosition), never its text. Rows that came before a
 * failure have been handed on, so a caller must not keep them unless `end` returns. What a call returns is lent:
 * the next call may write over it.
 */
export class CsvResultReader {
  private state: "rows" | "extremes" | "failed" = "rows"
  private pending: Uint8Array | undefined = undefined
  /** Where a row cut by the last chunk is joined to the next chunk, reused: no new buffer per chunk. */
  private joined = new Uint8Array(0)
  /**
   * Where the rows of the chunks being read are written, reused: the piece handed on is a view of it, lent until the
   * next call of `pieces` writes over it (FilePiece, ADR 57).
   */
  private output = new Uint8Array(0)
  /** The rows written to `output` since the last piece, and where they end. */
  private outputRows = 0
  private outputEnd = 0
  private failure = ""
  private failedAt: { readonly what: string; readonly rows: number; readonly offset: number } | undefined = undefined
  private extremesRows = 0
  private bodyBytes = 0
  private rowCount = 0
  /** Where the output of the last row `row` read ended. */
  private written = 0
  /** What the last `pass` read: where its last row of the result ended, how many it read, whether it stopped inside one. */
  private passEnd = 0
  private passRows = 0
  private passInside = false
  /** Body bytes after the end of the bytes being read: a failure's offset is told from the body's end. */
  private bytesAfter = 0

  /**
   * `asWritten`: the server writes the export's CSV itself (ADR 53), so the rows are checked and counted and the
   * body handed on as it came; otherwise ClickHouse's CSV is rewritten to ADR 6 (ADR 17).
   */
  constructor(private readonly columns: number, private readonly asWritten = false) {}

  /** How many rows have been handed on. */
  get rows(): number {
    return this.rowCount
  }

  /** The export's CSV of the rows completed by `chunk`, if any, in one piece. */
  push(chunk: Uint8Array): CsvPiece | undefined {
    return merged(this.pieces([chunk]))
  }

  /** The export's CSV of the rows completed by `chunks`, if any, in one piece. */
  pushAll(chunks: Iterable<Uint8Array>): CsvPiece | undefined {
    return merged(this.pieces(chunks))
  }

  /**
   * The export's CSV of the rows completed by `chunks`. Rewritten, in one piece: a pull of many small reads costs
   * what one large read does downstream, one piece, a view of the reader's reused output, valid until the next call
   * (the pieces of a FilePiece stream are lent, ADR 57). As written, the chunks' own bytes (the rows of each, and a
   * copy of a row cut between two): no copy of the body.
   */
  pieces(chunks: Iterable<Uint8Array>): ReadonlyArray<CsvPiece> {
    if (this.asWritten) {
      const pieces: Array<CsvPiece> = []
      for (const chunk of chunks) this.passChunk(chunk, pieces)
      return pieces
    }
    for (const chunk of chunks) this.read(chunk)
    const piece = this.piece()
    return piece === undefined ? [] : [piece]
  }

  /**
   * The rows written since the last piece, as a view of `output`: no copy and no garbage per pull (ADR 57). The next
   * read writes over it, so the piece is lent until then.
   */
  private piece(): CsvPiece | undefined {
    const rows = this.outputRows
    if (rows === 0) return undefined
    const bytes = this.output.subarray(0, this.outputEnd)
    this.outputRows = 0
    this.outputEnd = 0
    return { bytes, rows }
  }

  /** Reads `chunk`, writing the rows it completes to `output` after those already there. */
  private read(chunk: Uint8Array): void {
    this.bodyBytes += chunk.length
    if (this.state === "failed") {
      this.keepFailureText(chunk, 0, chunk.length)
      return
    }
    const bytes = this.pending === undefined ? chunk : this.join(this.pending, chunk)
    this.pending = undefined
    // A row grows its output by at most one byte for each byte it reads (a CR, or an apostrophe in quoted text).
    this.reserve(this.outputEnd + bytes.length * 2)
    const out = this.output
    let written = this.outputEnd
    let rows = 0
    let at = 0
    while (at < bytes.length) {
      if (this.state === "rows" && bytes[at] === LF) {
        this.state = "extremes"
        at++
        continue
      }
      const start = at
      const end = this.row(bytes, at, out, written)
      if (end === INCOMPLETE) {
        if (bytes.length - at > MAX_ROW_BYTES) {
          this.fail(bytes, at, `a row of more than ${MAX_ROW_BYTES} bytes, or a quote never closed,`, rows)
          break
        }
        this.pending = copyOf(bytes, at, bytes.length)
        break
      }
      if (end === MALFORMED) {
        this.fail(bytes, at, `a row that is no CSV row of ${this.columns} cells`, rows)
        break
      }
      at = end
      if (this.state === "rows") {
        written = this.written
        rows++
      } else if (++this.extremesRows > EXTREMES_ROWS) {
        this.fail(bytes, start, "a row after the extremes", rows)
        break
      }
    }
    this.rowCount += rows
    this.outputRows += rows
    this.outputEnd = written
  }

  /** Makes `output` hold at least `length` bytes, keeping the rows already written to it. */
  private reserve(length: number): void {
    if (this.output.length >= length) return
    // Doubled at least: a pull of many reads grows it a few times, not once per read.
    const output = new Uint8Array(Math.max(length, this.output.length * 2))
    output.set(this.output.subarray(0, this.outputEnd))
    this.output = output
  }

  /** Reads `chunk` as the server wrote it (ADR 53), adding the pieces of the rows it completes to `pieces`. */
  private passChunk(chunk: Uint8Array, pieces: Array<CsvPiece>): void {
    this.bodyBytes += chunk.length
    if (this.state === "failed") {
      this.keepFailureText(chunk, 0, chunk.length)
      return
    }
    let from = 0
    const pending = this.pending
    if (pending !== undefined) {
      this.pending = undefined
      // The row the last chunk cut ends in this one: joined with as little of it as it takes, so that only that row
      // is copied.
      let head = Math.min(chunk.length, pending.length + JOIN_HEAD)
      for (;;) {
        const joined = this.join(pending, chunk.subarray(0, head))
        this.bytesAfter = chunk.length - head
        const stop = this.pass(joined, 0, 1)
        this.bytesAfter = 0
        if (this.failed()) {
          this.keepFailureText(chunk, head, chunk.length)
          return
        }
        if (this.passInside) {
          if (head < chunk.length) {
            head = chunk.length
            continue
          }
          this.pendingFrom(joined, 0)
          return
        }
        if (this.passRows > 0) pieces.push({ bytes: joined.slice(0, this.passEnd), rows: this.passRows })
        from = stop - pending.length
        break
      }
    }
    const stop = this.pass(chunk, from, Number.POSITIVE_INFINITY)
    if (this.failed()) return
    if (this.passRows > 0) pieces.push({ bytes: chunk.subarray(from, this.passEnd), rows: this.passRows })
    if (this.passInside) this.pendingFrom(chunk, stop)
  }

  /** Whether the body went wrong: a method, so that it is read afresh after a call that may have failed it. */
  private failed(): boolean {
    return this.state === "failed"
  }

  /** Keeps the row that `bytes` ends inside, from `at`, for the next chunk; a row past MAX_ROW_BYTES fails. */
  private pendingFrom(bytes: Uint8Array, at: number): void {
    if (bytes.length - at > MAX_ROW_BYTES) {
      this.fail(bytes, at, `a row of more than ${MAX_ROW_BYTES} bytes, or a quote never closed,`, 0)
      return
    }
    this.pending = copyOf(bytes, at, bytes.length)
  }

  /**
   * Checks at most `most` rows (or blank lines) of `bytes` from `from`, as the server wrote them; returns where it
   * stopped, and tells in `passEnd`, `passRows` and `passInside` where the result's rows it read end, how many
   * they are, and whether it stopped inside a row that the bytes cut.
   */
  private pass(bytes: Uint8Array, from: number, most: number): number {
    let at = from
    let read = 0
    let rows = 0
    this.passEnd = from
    this.passInside = false
    while (at < bytes.length && read < most) {
      // The blank line before the extremes is a bare LF, CRLF or not (checked on ClickHouse 26.x).
      if (this.state === "rows" && bytes[at] === LF) {
        this.state = "extremes"
        at++
        read++
        continue
      }
      const start = at
      const end = this.check(bytes, at)
      if (end === INCOMPLETE) {
        this.passInside = true
        break
      }
      if (end < 0) {
        this.fail(
          bytes,
          at,
          end === UNDEFUSED
            ? "text that starts like a formula, which the server should have neutralised,"
            : `a row that is no CSV row of ${this.columns} cells as ADR 6 writes them`,
          rows
        )
        break
      }
      at = end
      read++
      if (this.state === "rows") {
        rows++
        this.passEnd = at
      } else if (++this.extremesRows > EXTREMES_ROWS) {
        this.fail(bytes, start, "a row after the extremes", rows)
        break
      }
    }
    this.passRows = rows
    this.rowCount += rows
    return at
  }

  /**
   * Checks the row starting at `from` as the server wrote it, in ADR 6's dialect already; returns where the next
   * row starts, INCOMPLETE when the bytes end inside it, MALFORMED when it is not a row of `columns` cells of that
   * dialect, UNDEFUSED when its text would run as a formula.
   */
  private check(bytes: Uint8Array, from: number): number {
    const length = bytes.length
    let p = from
    let cells = 0
    for (;;) {
      if (p >= length) return INCOMPLETE
      if (bytes[p] === QUOTE) {
        const text = ++p
        for (;;) {
          while (p < length && bytes[p] !== QUOTE) p++
          if (p + 1 >= length) return INCOMPLETE
          if (bytes[p + 1] !== QUOTE) break
          p += 2
        }
        // The text as written, doubled quotes and all, starts like a formula exactly when the text does.
        if (startsLikeFormula(bytes, text, p)) return UNDEFUSED
        p++
      } else {
        // A number, a bool, or NULL written as nothing: \N and the non-finite numbers are no cells of ADR 6.
        const cell = p
        let c = 0
        while (p < length && (c = bytes[p]!) !== COMMA && c !== CR) {
          if (UNQUOTED[c] === 0) return MALFORMED
          p++
        }
        if (p >= length) return INCOMPLETE
        if (isEmptyValue(bytes, cell, p) || startsLikeFormula(bytes, cell, p)) return MALFORMED
      }
      cells++
      const next = bytes[p]
      if (next === COMMA) {
        p++
      } else if (next === CR) {
        if (p + 1 >= length) return INCOMPLETE
        return bytes[p + 1] === LF && cells === this.columns ? p + 2 : MALFORMED
      } else {
        return MALFORMED
      }
    }
  }

  /** The body is over: throws unless it held a whole result. */
  end(): void {
    if (this.state === "failed" && this.failedAt !== undefined) {
      const { offset, rows, what } = this.failedAt
      throw exceptionAt(this.failure) ?? brokenBody(what, { rows, offset, bytes: this.bodyBytes })
    }
    if (this.pending !== undefined) {
      const text = Buffer.from(this.pending.subarray(0, MAX_FAILURE_TEXT)).toString("utf8")
      throw exceptionAt(text) ?? brokenBody("the body ended inside a row", {
        rows: this.rowCount,
        offset: this.bodyBytes - this.pending.length,
        bytes: this.bodyBytes
      })
    }
    const complete = this.state === "extremes" ? this.extremesRows === EXTREMES_ROWS : this.bodyBytes === 0
    if (!complete) {
      throw new ClickHouseQueryError({
        code: undefined,
        type: undefined,
        kind: "truncated",
        message: `the result ended before its end (${this.rowCount} rows read, no extremes after them, ` +
          `a body of ${this.bodyBytes} bytes)`
      })
    }
  }

  /**
   * Reads the row starting at `from` and writes it to `out` at `at` in the export's dialect; returns where the next
   * row starts, INCOMPLETE when the bytes end inside it, MALFORMED when it is not a row of `columns` cells.
   */
  private row(bytes: Uint8Array, from: number, out: Uint8Array, at: number): number {
    // Cells are copied while they are scanned; the few that need an apostrophe get it once that is known, at the
    // cell's end, by moving the cell one byte to the right.
    const length = bytes.length
    let p = from
    let o = at
    let cells = 0
    for (;;) {
      if (p >= length) return INCOMPLETE
      const cell = o
      if (bytes[p] === QUOTE) {
        // Text (strings, dates): ClickHouse quotes it all and doubles the quotes in it, which is how ADR 6 writes
        // text too, so it is copied as it is, quotes included, up to the first quote that is not doubled.
        out[o++] = QUOTE
        p++
        for (;;) {
          let c = 0
          while (p < length && (c = bytes[p]!) !== QUOTE) {
            out[o++] = c
            p++
          }
          if (p + 1 >= length) return INCOMPLETE
          if (bytes[p + 1] !== QUOTE) break
          out[o++] = QUOTE
          out[o++] = QUOTE
          p += 2
        }
        p++
        // The text as written, doubled quotes and all, starts like a formula exactly when the text does: a quote
        // is neither looked past nor a trigger, nor part of a number.
        if (startsLikeFormula(out, cell + 1, o)) {
          moveRight(out, cell + 1, o, 1)
          out[cell + 1] = APOSTROPHE
          o++
        }
        out[o++] = QUOTE
      } else {
        // A number, a bool or NULL (\N): never quoted by ClickHouse, and never anything that needs it.
        let c = 0
        while (p < length && (c = bytes[p]!) !== COMMA && c !== LF) {
          if (UNQUOTED[c] === 0) return MALFORMED
          out[o++] = c
          p++
        }
        if (p >= length) return INCOMPLETE
        // ClickHouse writes no text unquoted: a cell like "-x" is not a value of the query's, so no file has it.
        if (isEmptyValue(out, cell, o)) o = cell
        else if (startsLikeFormula(out, cell, o)) return MALFORMED
      }
      cells++
      const next = bytes[p]
      if (next === COMMA) {
        out[o++] = COMMA
        p++
      } else if (next === LF) {
        if (cells !== this.columns) return MALFORMED
        out[o++] = CR
        out[o++] = LF
        this.written = o
        return p + 1
      } else {
        return MALFORMED
      }
    }
  }

  private join(pending: Uint8Array, chunk: Uint8Array): Uint8Array {
    const length = pending.length + chunk.length
    if (this.joined.length < length) this.joined = new Uint8Array(length * 2)
    this.joined.set(pending, 0)
    this.joined.set(chunk, pending.length)
    return this.joined.subarray(0, length)
  }

  /** The body stopped being a result at `from` in `bytes`, the end of the body so far, after `rows` of this push. */
  private fail(bytes: Uint8Array, from: number, what: string, rows: number): void {
    this.failedAt = { what, rows: this.rowCount + rows, offset: this.bodyBytes - this.bytesAfter - bytes.length + from }
    this.state = "failed"
    this.pending = undefined
    this.keepFailureText(bytes, from, bytes.length)
  }

  private keepFailureText(bytes: Uint8Array, from: number, to: number): void {
    const room = MAX_FAILURE_TEXT - this.failure.length
    if (room <= 0) return
    this.failure += Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.min(to - from, room)).toString("utf8")
  }
}

const readerFailure = (error: unknown): ClickHouseQueryError =>
  error instanceof ClickHouseQueryError ? error : serverErrorOf(String(error), "client")

/**
 * A body of ClickHouse CSV with extremes, streamed through a CsvResultReader: the export's CSV, in pieces of whole
 * rows (one for each pull of the body, whatever its reads' sizes, lent until the next pull; as written, a few for
 * each pull, views of its reads), and a failure unless the body held a whole result.
 */
export const csvResultOf = <E>(
  body: Stream.Stream<Uint8Array, E>,
  columns: number,
  asWritten = false
): Stream.Stream<CsvPiece, E | ClickHouseQueryError> =>
  Stream.suspend(() => {
    const reader = new CsvResultReader(columns, asWritten)
    return body.pipe(
      Stream.mapChunksEffect((chunks) =>
        Effect.try({
          try: () => Chunk.unsafeFromArray(reader.pieces(chunks) as Array<CsvPiece>),
          catch: readerFailure
        })
      ),
      Stream.concat(Stream.drain(Stream.fromEffect(Effect.try({ try: () => reader.end(), catch: readerFailure }))))
    )
  })
