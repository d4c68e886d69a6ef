// Reads a Parquet file as ClickHouse (or chdb) writes it for an export (ADR 50) and hands its bytes on as they come,
// checking that the file is whole and counting its rows, without decoding a value.
//
// A Parquet file starts and ends with "PAR1"; just before the last one come the footer's length and, before that,
// the footer itself: the file's metadata, which the writer puts there only once every row is out, with the row
// count among it. A body cut short, or one that ClickHouse ended with its exception text after the first bytes
// (the status was already 200), has no such ending, so the stream fails and the export publishes nothing. The last
// piece is held back until the ending is checked: it carries the row count, and no piece after it can.
import { Effect, Stream } from "effect"
import type { FilePiece } from "../../application/ports/ReportSource.js"
import { brokenBody, ClickHouseQueryError, serverErrorOf } from "./JsonCompactReader.js"

/** "PAR1", where a Parquet file starts and ends. */
const MAGIC = [0x50, 0x41, 0x52, 0x31] as const
/** The footer's length (4 bytes, little-endian) and the closing magic. */
const ENDING_BYTES = 8
/**
 * The largest footer read: ClickHouse writes one row group per million rows or so, a few kilobytes of metadata each,
 * so a footer past this is no export's. It bounds the tail of the body kept in memory.
 */
export const MAX_FOOTER_BYTES = 4 * 1024 * 1024
/** The smallest whole file: "PAR1", then the footer's length and "PAR1". */
const MIN_FILE_BYTES = MAGIC.length + ENDING_BYTES
/**
 * Asked of every server that writes an export's Parquet: pages compressed with Snappy, which every reader reads
 * (ClickHouse's own default has changed across versions), and text as Parquet strings (UTF-8) rather than bare bytes.
 * Servers before 23.3 know neither setting and refuse the query: the README says which servers serve which format.
 */
export const PARQUET_SETTINGS = {
  output_format_parquet_compression_method: "snappy",
  output_format_parquet_string_as_string: 1
} as const
/** How much of a body that went wrong is searched for ClickHouse's message: it is written last, and short. */
const FAILURE_TEXT_BYTES = 64 * 1024

// Thrift's compact protocol, as much of it as skipping to FileMetaData's `num_rows` needs (parquet.thrift: field 1
// `version`, field 2 `schema`, field 3 `num_rows`, an i64).
const BOOLEAN_TRUE = 1
const BOOLEAN_FALSE = 2
const BYTE = 3
const I16 = 4
const I32 = 5
const I64 = 6
const DOUBLE = 7
const BINARY = 8
const LIST = 9
const SET = 10
const MAP = 11
const STRUCT = 12
const NUM_ROWS_FIELD = 3
/** Deeper than any Parquet metadata nests: a footer that does is broken, not worth recursing into. */
const MAX_DEPTH = 32

class FooterReader {
  private at = 0
  constructor(private readonly bytes: Uint8Array) {}

  private byte(): number {
    if (this.at >= this.bytes.length) throw new Error("the footer ends inside a value")
    return this.bytes[this.at++]!
  }

  private varint(): bigint {
    let value = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.byte()
      value |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return value
    }
    throw new Error("a varint longer than 10 bytes")
  }

  private zigzag(): bigint {
    const n = this.varint()
    return (n >> 1n) ^ -(n & 1n)
  }

  private skipBytes(count: number): void {
    if (count < 0 || this.at + count > this.bytes.length) throw new Error("the footer ends inside a value")
    this.at += count
  }

  /** Skips a value of `type`; `inCollection` because a boolean in a list is a byte of its own, not in its header. */
  private skip(type: number, depth: number, inCollection: boolean): void {
    if (depth > MAX_DEPTH) throw new Error("metadata nested too deep")
    switch (type) {
      case BOOLEAN_TRUE:
      case BOOLEAN_FALSE:
        if (inCollection) this.skipBytes(1)
        return
      case BYTE:
        return this.skipBytes(1)
      case I16:
      case I32:
      case I64:
        return void this.varint()
      case DOUBLE:
        return this.skipBytes(8)
      case BINARY:
        return this.skipBytes(Number(this.varint()))
      case LIST:
      case SET: {
        const header = this.byte()
        const size = header >> 4 === 15 ? Number(this.varint()) : header >> 4
        for (let i = 0; i < size; i++) this.skip(header & 0x0f, depth + 1, true)
        return
      }
      case MAP: {
        const size = Number(this.varint())
        if (size === 0) return
        const types = this.byte()
        for (let i = 0; i < size; i++) {
          this.skip(types >> 4, depth + 1, true)
          this.skip(types & 0x0f, depth + 1, true)
        }
        return
      }
      case STRUCT:
        return void this.fields(depth + 1, () => false)
      default:
        throw new Error(`an unknown thrift type ${type}`)
    }
  }

  /**
   * Reads a struct's fields up to its end, skipping each, until `wanted` says a field is the one looked for: then
   * returns with the reader at its value.
   */
  private fields(depth: number, wanted: (id: number, type: number) => boolean): boolean {
    let id = 0
    while (true) {
      const header = this.byte()
      if (header === 0) return false
      const type = header & 0x0f
      const delta = header >> 4
      id = delta === 0 ? Number(this.zigzag()) : id + delta
      if (wanted(id, type)) return true
      this.skip(type, depth, false)
    }
  }

  /** FileMetaData's row count. */
  numRows(): bigint {
    if (!this.fields(0, (id, type) => id === NUM_ROWS_FIELD && type === I64)) throw new Error("no row count")
    return this.zigzag()
  }
}

/** The row count in a Parquet footer (the FileMetaData struct, thrift compact), or a thrown Error saying why not. */
export const rowCountOfFooter = (footer: Uint8Array): number => {
  const rows = new FooterReader(footer).numRows()
  if (rows < 0n || rows > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`a row count of ${rows}`)
  return Number(rows)
}

const hasMagicAt = (bytes: Uint8Array, at: number): boolean => at >= 0 && MAGIC.every((b, i) => bytes[at + i] === b)

/**
 * Hands a Parquet body on as it comes, holding back its last piece until the body ends; then checks the file is
 * whole and gives that piece the file's row count.
 */
export class ParquetResultReader {
  private bodyBytes = 0
  /** The body's last chunks, at least MAX_FOOTER_BYTES + ENDING_BYTES of it when it has that much: the footer's. */
  private tail: Array<Uint8Array> = []
  private tailBytes = 0

  /** The pieces a chunk of the body lets go: all that came before it. */
  push(chunk: Uint8Array): ReadonlyArray<FilePiece> {
    if (chunk.length === 0) return []
    // A body that does not start as a Parquet file fails at once (the first read holds far more than the magic);
    // whatever it is, the footer's check at the end would refuse it too.
    if (this.bodyBytes === 0 && chunk.length >= MAGIC.length && !hasMagicAt(chunk, 0)) {
      this.failWithText(chunk, "a body that is no Parquet file")
    }
    this.bodyBytes += chunk.length
    const released: Array<FilePiece> = []
    const held = this.tail[this.tail.length - 1]
    if (held !== undefined) released.push({ bytes: held, rows: 0 })
    this.tail.push(chunk)
    this.tailBytes += chunk.length
    // Chunks before the last are only kept for the footer, which they are past once enough follows them.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= MAX_FOOTER_BYTES + ENDING_BYTES) {
      this.tailBytes -= this.tail.shift()!.length
    }
    return released
  }

  /** The body is over: the last piece, with the file's row count, or a thrown ClickHouseQueryError. */
  end(): FilePiece {
    const tail = this.tail.length === 1 ? this.tail[0]! : Buffer.concat(this.tail, this.tailBytes)
    const position = { rows: 0, offset: this.bodyBytes, bytes: this.bodyBytes }
    if (this.bodyBytes < MIN_FILE_BYTES || !hasMagicAt(tail, tail.length - MAGIC.length)) {
      return this.failWithText(tail, "a Parquet file without its ending")
    }
    const footerLength = new DataView(tail.buffer, tail.byteOffset + tail.length - ENDING_BYTES, 4).getUint32(0, true)
    const footerStart = tail.length - ENDING_BYTES - footerLength
    if (footerLength > MAX_FOOTER_BYTES || footerStart < 0 || this.bodyBytes - ENDING_BYTES - footerLength < 4) {
      throw brokenBody(`a Parquet footer of ${footerLength} bytes`, position)
    }
    let rows: number
    try {
      rows = rowCountOfFooter(tail.subarray(footerStart, tail.length - ENDING_BYTES))
    } catch (cause) {
      throw brokenBody(`a Parquet footer that is not one (${(cause as Error).message})`, position)
    }
    return { bytes: this.tail[this.tail.length - 1] ?? new Uint8Array(0), rows }
  }

  /**
   * The body went wrong: ClickHouse's exception when its text ends the body (`Code: 241. DB::Exception: ...`),
   * otherwise a body cut short. Nothing else of the body goes into the error: it is the tenant's data.
   */
  private failWithText(bytes: Uint8Array, what: string): never {
    const text = Buffer.from(bytes.subarray(Math.max(0, bytes.length - FAILURE_TEXT_BYTES))).toString("latin1")
    const at = text.lastIndexOf("Code: ")
    if (at !== -1) {
      const error = serverErrorOf(Buffer.from(text.slice(at), "latin1").toString("utf8"))
      if (error.code !== undefined) throw error
    }
    throw brokenBody(what, { rows: 0, offset: this.bodyBytes, bytes: this.bodyBytes })
  }
}

const readerFailure = (error: unknown): ClickHouseQueryError =>
  error instanceof ClickHouseQueryError ? error : serverErrorOf(String(error), "client")

/**
 * A body of Parquet, streamed through a ParquetResultReader: its bytes as they come, the last piece with the row
 * count, and a failure unless the body was a whole file.
 */
export const parquetResultOf = <E>(
  body: Stream.Stream<Uint8Array, E>
): Stream.Stream<FilePiece, E | ClickHouseQueryError> =>
  Stream.suspend(() => {
    const reader = new ParquetResultReader()
    return body.pipe(
      Stream.mapConcatEffect((chunk) => Effect.try({ try: () => reader.push(chunk), catch: readerFailure })),
      Stream.concat(Stream.fromEffect(Effect.try({ try: () => reader.end(), catch: readerFailure })))
    )
  })
