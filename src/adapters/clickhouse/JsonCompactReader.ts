// Reads ClickHouse's JSONCompact output as it arrives over HTTP, one row a line, and tells a complete result from a
// cut one. ClickHouse reports a failure that happens after the first bytes inside the body (the status is already
// 200), so a result is complete only once its closing `"rows": N` has been read and N matches the rows seen.
import { Data } from "effect"

/** A failure of a query, from the server or on the way; it never leaves the ClickHouse adapter. */
export class ClickHouseQueryError extends Data.TaggedError("ClickHouseQueryError")<{
  /** ClickHouse's error code (159 TIMEOUT_EXCEEDED, 60 UNKNOWN_TABLE, ...), when the server gave one. */
  readonly code: number | undefined
  /** ClickHouse's name for the code, when the server gave one (newer servers do). */
  readonly type: string | undefined
  /**
   * How the failure came: the server's own error (the query is over), a body that broke off, the network, or a
   * query refused on our side (an invalid id, a result of the wrong width).
   */
  readonly kind: "server" | "truncated" | "network" | "client"
  readonly message: string
}> {}

export interface ColumnMeta {
  readonly name: string
  readonly type: string
}

/** One row: its cells in SELECT order, 64-bit integers as numbers (or bigints past 2^53). */
export type JsonRow = ReadonlyArray<unknown>

const NEWLINE = 0x0a
const CODE = /Code:\s*(\d+)[.,]/
const TYPE = /\(([A-Z][A-Z0-9_]+)\)/
/** What is kept of a body once it has gone wrong: enough for ClickHouse's message, never the rest of a result. */
const MAX_FAILURE_TEXT = 64 * 1024
/** At most this many bytes of rows are decoded into one string (a 64 KiB string stays in V8's young generation). */
const DECODE_SLICE = 32 * 1024
/** The header and the footer are a few hundred bytes; anything much larger is not JSONCompact. */
const MAX_FRAME_TEXT = 1024 * 1024

// ClickHouse quotes these on request (output_format_json_quote_64bit_integers) so that JSON.parse cannot round them.
const WIDE_INTEGER = /^(?:Nullable\(|LowCardinality\()*U?Int(?:64|128|256)\)*$/

const INTEGER = /^-?\d+$/

/** A quoted 64-bit integer, or undefined for text that is none (BigInt's error would quote it). */
const integerOf = (text: string): number | bigint | undefined => {
  const value = Number(text)
  if (Number.isSafeInteger(value)) return value
  return INTEGER.test(text) ? BigInt(text) : undefined
}

/** A failure as ClickHouse words it, from an error message or the tail of a body: "Code: 159. DB::Exception: ...". */
export const serverErrorOf = (text: string, kind: ClickHouseQueryError["kind"] = "server"): ClickHouseQueryError => {
  const at = text.search(CODE)
  if (at === -1) {
    return new ClickHouseQueryError({ code: undefined, type: undefined, kind, message: text.trim().slice(0, 2_000) })
  }
  // The message is ClickHouse's one line; newer servers frame it with an exception tag, left out here.
  const line = text.slice(at).split(/\r?\n/, 1)[0]!.trim()
  return new ClickHouseQueryError({
    code: Number(CODE.exec(line)![1]),
    type: TYPE.exec(line)?.[1],
    kind: "server",
    message: line
  })
}

/**
 * Where ClickHouse's exception may begin in the text that broke a body: right where the body stopped being a result,
 * after blank space, or behind the exception tag of 25.11+ (`__exception__`, a line with the tag, then the message).
 * Anywhere else, "Code: 1." is a cell's text.
 */
const EXCEPTION_START = /^\s*(?:__exception__\r?\n[^\n]*\n)?(?=Code:\s*\d+[.,])/

/** ClickHouse's exception, when the text that broke a body starts with one (see EXCEPTION_START). */
export const exceptionAt = (text: string): ClickHouseQueryError | undefined => {
  const start = EXCEPTION_START.exec(text)
  return start === null ? undefined : serverErrorOf(text.slice(start[0].length))
}

/**
 * Where a body stopped being a whole result, in numbers only. A body's text is the tenant's data: it goes into no
 * message, so that no log, error detail or trace ever holds a row.
 */
export interface BodyPosition {
  /** The rows read before that point. */
  readonly rows: number
  /** Its offset in the body, in bytes. */
  readonly offset: number
  /** How many bytes the body had. */
  readonly bytes: number
}

/** A body that is no whole result and holds no exception of ClickHouse's: `what` went wrong, and where. */
export const brokenBody = (what: string, at: BodyPosition): ClickHouseQueryError =>
  new ClickHouseQueryError({
    code: undefined,
    type: undefined,
    kind: "truncated",
    message: `${what} at byte ${at.offset} of a body of ${at.bytes} bytes, after ${at.rows} rows`
  })

/**
 * Where an exception 18.x wrote on the last row's line (`\t\t[1, "a"]Code: 159, ...`) begins, or -1: only behind a
 * whole row, since the row's own text may hold "]Code: 1." too.
 */
const exceptionAfterRow = (line: string): number => {
  for (let at = line.indexOf("]Code:"); at !== -1; at = line.indexOf("]Code:", at + 1)) {
    try {
      JSON.parse(line.slice(2, at + 1))
      return at + 1
    } catch {
      // The "]Code:" is inside the row's text: look further.
    }
  }
  return -1
}

type State = "header" | "opening" | "data" | "footer" | "failed"

/**
 * An incremental reader of one JSONCompact body: `push` each chunk of bytes and get the rows completed by it, then
 * `end` once the body is over. Both throw a ClickHouseQueryError when the body is not a whole, well-formed result:
 * an exception written into it, a body cut short, a row count that does not match. The error carries ClickHouse's
 * exception, or else where the body went wrong (BodyPosition), never the body's text.
 */
export class JsonCompactReader {
  private state: State = "header"
  private pending: Buffer | undefined = undefined
  private frame = ""
  /** The text from where the body went wrong: kept to find ClickHouse's exception in it, never shown. */
  private failure = ""
  private failedAt: { readonly what: string; readonly rows: number; readonly offset: number } | undefined = undefined
  private decoders: ReadonlyArray<number> = []
  private rowCount = 0
  private bodyBytes = 0
  // Where the line being read starts, for a failure's position: the decoded text it is in, the body offset of that
  // text, and its first character in it. Bytes are counted only once a line fails.
  private lineText = ""
  private lineBase = 0
  private lineChar = 0

  /** `expectedColumns`: how many columns the caller expects; a result of another width fails at its header. */
  constructor(private readonly expectedColumns?: number) {}

  push(chunk: Uint8Array): Array<JsonRow> {
    // Node's chunks are Buffers already: read in place, never copied whole.
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const base = this.bodyBytes
    this.bodyBytes += bytes.length
    const rows: Array<JsonRow> = []
    const first = bytes.indexOf(NEWLINE)
    if (first === -1) {
      this.pending = this.pending === undefined ? bytes : Buffer.concat([this.pending, bytes])
      this.guardPending()
      return rows
    }
    // The line begun in an earlier chunk, joined as bytes: a character may straddle the two.
    let from = 0
    if (this.pending !== undefined) {
      this.at("", base - this.pending.length, 0)
      this.line(Buffer.concat([this.pending, bytes.subarray(0, first)]).toString("utf8"), rows)
      this.pending = undefined
      from = first + 1
    }
    const last = bytes.lastIndexOf(NEWLINE)
    // Decoded a slice of lines at a time: a string past 128 KiB would go to V8's large-object space, which only a
    // full collection frees, and a large read would make the heap grow by that much for every piece of the body.
    while (from <= last) {
      let to = last
      if (last - from > DECODE_SLICE) {
        to = bytes.lastIndexOf(NEWLINE, from + DECODE_SLICE)
        if (to < from) to = bytes.indexOf(NEWLINE, from + DECODE_SLICE)
      }
      const text = bytes.toString("utf8", from, to)
      let char = 0
      this.at(text, base + from, 0)
      for (const line of text.split("\n")) {
        this.lineChar = char
        this.line(line, rows)
        char += line.length + 1
      }
      from = to + 1
    }
    if (last + 1 < bytes.length) {
      this.pending = bytes.subarray(last + 1)
      this.guardPending()
    }
    return rows
  }

  /** The body is over: throws unless it was a whole result. */
  end(): void {
    if (this.pending !== undefined && this.pending.length > 0) {
      // A well-formed body ends with a newline: what follows the last one is a failure's text, or a cut.
      this.at("", this.bodyBytes - this.pending.length, 0)
      this.line(this.pending.toString("utf8"), [])
      this.pending = undefined
    }
    if (this.state === "failed" && this.failedAt !== undefined) {
      const { offset, rows, what } = this.failedAt
      throw exceptionAt(this.failure) ?? brokenBody(what, { rows, offset, bytes: this.bodyBytes })
    }
    if (this.state !== "footer") throw this.truncated()
    let footer: unknown
    try {
      footer = JSON.parse(`{${this.frame}`)
    } catch {
      throw this.truncated()
    }
    const fields = typeof footer === "object" && footer !== null ? footer as Record<string, unknown> : {}
    if (typeof fields["exception"] === "string") throw serverErrorOf(fields["exception"])
    if (fields["rows"] !== this.rowCount) {
      const announced = typeof fields["rows"] === "number" ? String(fields["rows"]) : "no number of"
      throw new ClickHouseQueryError({
        code: undefined,
        type: undefined,
        kind: "truncated",
        message: `the result announced ${announced} rows but ${this.rowCount} arrived`
      })
    }
  }

  private truncated(): ClickHouseQueryError {
    return new ClickHouseQueryError({
      code: undefined,
      type: undefined,
      kind: "truncated",
      message: `the result ended before its end (${this.rowCount} rows read, in its ${this.state}, ` +
        `a body of ${this.bodyBytes} bytes)`
    })
  }

  private at(text: string, base: number, char: number): void {
    this.lineText = text
    this.lineBase = base
    this.lineChar = char
  }

  // A "line" with no newline for this long is not one of ours: the body is failing, or is not JSONCompact.
  private guardPending(): void {
    if (this.pending !== undefined && this.pending.length > MAX_FRAME_TEXT && this.state !== "failed") {
      this.at("", this.bodyBytes - this.pending.length, 0)
      this.fail(`a line of more than ${MAX_FRAME_TEXT} bytes`, "")
      this.pending = undefined
    }
  }

  /** The body stopped being a result at the line being read: `text` is where an exception of ClickHouse's may be. */
  private fail(what: string, text: string): void {
    const before = this.lineChar === 0 ? 0 : Buffer.byteLength(this.lineText.slice(0, this.lineChar))
    this.failedAt = { what, rows: this.rowCount, offset: this.lineBase + before }
    this.state = "failed"
    this.failure = text.slice(0, MAX_FAILURE_TEXT)
  }

  private line(line: string, rows: Array<JsonRow>): void {
    switch (this.state) {
      case "data": {
        if (line.startsWith("\t\t[")) {
          let row: unknown
          try {
            row = JSON.parse(line.endsWith(",") ? line.slice(2, -1) : line.slice(2))
          } catch {
            // An exception written right after the last row, on its line: `\t\t[1, "a"]Code: 159. DB::...`.
            const exception = exceptionAfterRow(line)
            return this.fail("a row that is not JSON", exception === -1 ? "" : line.slice(exception))
          }
          const decoded = this.decode(row as Array<unknown>)
          if (decoded === undefined) return this.fail("a 64-bit integer that is none", "")
          rows.push(decoded)
          this.rowCount++
        } else if (line === "\t]," || line === "\t]") {
          this.state = "footer"
        } else if (line !== "") {
          this.fail("a line that is no row", line)
        }
        return
      }
      case "opening": {
        // The data array's opening bracket, on a line of its own.
        if (line === "\t[") this.state = "data"
        else this.fail("no data after the header", line)
        return
      }
      case "header": {
        if (line === "\t\"data\":") return this.startData()
        if (this.frame === "" && line !== "{") return this.fail("a body that is not JSONCompact", line)
        this.frame += line + "\n"
        if (this.frame.length > MAX_FRAME_TEXT) this.fail(`a header of more than ${MAX_FRAME_TEXT} bytes`, "")
        return
      }
      case "footer": {
        this.frame += line + "\n"
        if (this.frame.length > MAX_FRAME_TEXT) this.fail(`a footer of more than ${MAX_FRAME_TEXT} bytes`, "")
        return
      }
      case "failed": {
        if (this.failure.length < MAX_FAILURE_TEXT) this.failure += "\n" + line
        return
      }
    }
  }

  private startData(): void {
    let header: unknown
    try {
      // `{ "meta": [...],` and a blank line: close the object where "data" would have begun.
      header = JSON.parse(this.frame.trimEnd().replace(/,$/, "") + "}")
    } catch {
      return this.fail("a header that is not JSON", "")
    }
    const meta = (header as { readonly meta?: unknown }).meta
    if (!Array.isArray(meta)) return this.fail("a header without its columns", "")
    const columns = meta as ReadonlyArray<ColumnMeta>
    if (this.expectedColumns !== undefined && columns.length !== this.expectedColumns) {
      throw new ClickHouseQueryError({
        code: undefined,
        type: undefined,
        kind: "client",
        message: `the query returned ${columns.length} columns where ${this.expectedColumns} were expected`
      })
    }
    this.decoders = columns.flatMap((column, index) => (WIDE_INTEGER.test(String(column.type)) ? [index] : []))
    this.frame = ""
    this.state = "opening"
  }

  /** The row with its 64-bit integers decoded, or undefined when one of them is no integer. */
  private decode(row: Array<unknown>): JsonRow | undefined {
    for (const index of this.decoders) {
      const cell = row[index]
      if (typeof cell === "string") {
        const integer = integerOf(cell)
        if (integer === undefined) return undefined
        row[index] = integer
      }
    }
    return row
  }
}
