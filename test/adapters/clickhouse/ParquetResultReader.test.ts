// The Parquet reader on real files, written by the embedded engine (ClickHouse 26.x) as the server writes an
// export's: it hands the bytes on unchanged, only the last piece counts the rows, and only a whole file ends well. A
// body cut anywhere, one that ClickHouse ended with its exception, or one that is no Parquet fails.
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { parquetMetadata } from "hyparquet"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { ClickHouseQueryError } from "../../../src/adapters/clickhouse/JsonCompactReader.js"
import {
  PARQUET_SETTINGS,
  parquetResultOf,
  ParquetResultReader,
  rowCountOfFooter
} from "../../../src/adapters/clickhouse/ParquetResultReader.js"
import { freshEngine, tempDataDir } from "../chdb/ChdbTestSupport.js"

const ROWS = 120_000

/** A Parquet file of `rows` rows in several row groups, as the engine writes one. */
const parquetFile = (rows: number) =>
  Effect.gen(function*() {
    const engine = yield* ChdbEngine
    const path = join(yield* tempDataDir, "numbers.parquet")
    yield* engine.run(
      "INSERT INTO FUNCTION file({path:String}, 'Parquet') " +
        "SELECT number AS n, toString(number) AS s, toDecimal128(number / 7, 2) AS d FROM numbers({rows:UInt64})",
      { path, rows },
      { settings: { ...PARQUET_SETTINGS, output_format_parquet_row_group_size: 25_000 } }
    )
    return new Uint8Array(readFileSync(path))
  })

/** `bytes` cut into chunks of `size`, as a body arrives. */
const chunksOf = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size))
  return chunks
}

const thrownBy = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  return undefined
}

const read = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.runCollect(parquetResultOf(Stream.fromIterable(chunks))).pipe(Effect.map(Chunk.toReadonlyArray))

describe("rowCountOfFooter", () => {
  it("reads the row count a standard reader reads, and refuses what is no footer", () => {
    const footer = new Uint8Array([0x15, 0x04, 0x00]) // a struct with version = 2 and no row count
    expect(() => rowCountOfFooter(footer)).toThrow(/no row count|ends inside/)
    expect(() => rowCountOfFooter(new Uint8Array([0x19]))).toThrow()
  })
})

layer(freshEngine(), { timeout: 60_000 })("ParquetResultReader", (it) => {
  it.scoped("hands a whole file on unchanged, with its footer's row count on the last piece only", () =>
    Effect.gen(function*() {
      const file = yield* parquetFile(ROWS)
      const metadata = parquetMetadata(file.buffer.slice(file.byteOffset, file.byteOffset + file.length))
      expect(metadata.row_groups.length).toBeGreaterThan(1)
      expect(metadata.num_rows).toBe(BigInt(ROWS))
      for (const size of [64 * 1024, 1_000_003, file.length]) {
        const pieces = yield* read(chunksOf(file, size))
        expect(Buffer.concat(pieces.map((piece) => piece.bytes)).equals(file)).toBe(true)
        expect(pieces.map((piece) => piece.rows)).toStrictEqual([...pieces.slice(1).map(() => 0), ROWS])
      }
    }))

  it.scoped("fails a body cut short anywhere, and never hands on a piece with rows", () =>
    Effect.gen(function*() {
      const file = yield* parquetFile(2_000)
      for (const cut of [0, 3, 4, 100, file.length / 2, file.length - 9, file.length - 8, file.length - 1]) {
        const reader = new ParquetResultReader()
        const pieces = chunksOf(file.subarray(0, Math.floor(cut)), 512).flatMap((chunk) => [...reader.push(chunk)])
        expect(pieces.every((piece) => piece.rows === 0)).toBe(true)
        expect(thrownBy(() => reader.end())).toMatchObject({ _tag: "ClickHouseQueryError", kind: "truncated" })
      }
    }))

  it.scoped("fails with ClickHouse's own error when the server ended the body with its exception", () =>
    Effect.gen(function*() {
      const file = yield* parquetFile(2_000)
      const exception = new TextEncoder().encode(
        "Code: 241. DB::Exception: Memory limit (total) exceeded: would use 9.32 GiB. (MEMORY_LIMIT_EXCEEDED) " +
          "(version 24.8.1.1)\n"
      )
      const error = yield* Effect.flip(read([file.subarray(0, 1_500), exception]))
      expect(error).toBeInstanceOf(ClickHouseQueryError)
      expect(error).toMatchObject({ code: 241, kind: "server" })
    }))

  it.effect("fails a body that is no Parquet file at its first piece", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read([new TextEncoder().encode("\"a\",1\r\n\"b\",2\r\n"), new Uint8Array(8)]))
      expect(error).toMatchObject({ kind: "truncated" })
      expect(error.message).toContain("no Parquet file")
    }))

  it.scoped("fails a file whose footer is not one", () =>
    Effect.gen(function*() {
      const file = yield* parquetFile(2_000)
      const broken = new Uint8Array(file)
      const footerLength = new DataView(broken.buffer).getUint32(broken.length - 8, true)
      broken.fill(0xff, broken.length - 8 - footerLength, broken.length - 8)
      const error = yield* Effect.flip(read([broken]))
      expect(error).toMatchObject({ kind: "truncated" })
      expect(error.message).toContain("footer")
    }))
})
