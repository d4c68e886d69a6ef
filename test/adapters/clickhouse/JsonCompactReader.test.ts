// The JSONCompact reader on bodies as ClickHouse writes them, whole and failing, cut at every byte: a result is
// complete only with its closing row count, and an error written into the body is never read as rows.
import { assert, describe, expect, it } from "@effect/vitest"
import { ClickHouseQueryError, JsonCompactReader } from "../../../src/adapters/clickhouse/JsonCompactReader.js"
import type { JsonRow } from "../../../src/adapters/clickhouse/JsonCompactReader.js"

const header = (columns: ReadonlyArray<readonly [string, string]>) =>
  `{\n\t"meta":\n\t[\n${
    columns.map(([name, type]) => `\t\t{\n\t\t\t"name": "${name}",\n\t\t\t"type": "${type}"\n\t\t}`).join(",\n")
  }\n\t],\n\n\t"data":\n\t[\n`

const COLUMNS = [["n", "UInt64"], ["s", "String"], ["small", "UInt32"]] as const

/** A body as 18.16 and 26.x write it: rows joined by ",\n", then the row count and statistics. */
const bodyOf = (rows: ReadonlyArray<string>, rowCount = rows.length) =>
  header(COLUMNS) + rows.map((row) => `\t\t${row}`).join(",\n") + (rows.length > 0 ? "\n" : "\n") +
  `\t],\n\n\t"rows": ${rowCount},\n\n\t"statistics":\n\t{\n\t\t"elapsed": 0.001,\n\t\t"rows_read": 3\n\t}\n}\n`

const ROWS = [
  `["1", "plain", 7]`,
  `["18446744073709551615", "tab\\tnew line\\n \\"quoted\\" é 😀", 0]`,
  `["9007199254740993", "", 4294967295]`
]
const EXPECTED: ReadonlyArray<JsonRow> = [
  [1, "plain", 7],
  [18446744073709551615n, "tab\tnew line\n \"quoted\" é 😀", 0],
  [9007199254740993n, "", 4294967295]
]

const read = (chunks: ReadonlyArray<Uint8Array>, expectedColumns?: number) => {
  const reader = new JsonCompactReader(expectedColumns)
  const rows: Array<JsonRow> = []
  try {
    for (const chunk of chunks) rows.push(...reader.push(chunk))
    reader.end()
    return { rows, error: undefined }
  } catch (error) {
    assert(error instanceof ClickHouseQueryError, String(error))
    return { rows, error }
  }
}

const bytes = (text: string) => Buffer.from(text, "utf8")

/** The body cut in two at every byte (through multi-byte characters too), then fed a byte at a time. */
const everySplit = (body: string) => {
  const all = bytes(body)
  const splits = Array.from({ length: all.length - 1 }, (_, at) => [all.subarray(0, at + 1), all.subarray(at + 1)])
  return [...splits, Array.from(all, (byte) => Uint8Array.of(byte))]
}

describe("JsonCompactReader", () => {
  it("reads every row of a whole result, 64-bit integers exact, however the body is cut", () => {
    for (const chunks of everySplit(bodyOf(ROWS))) {
      const { error, rows } = read(chunks)
      expect(error).toBeUndefined()
      expect(rows).toEqual(EXPECTED)
    }
  })

  it("reads an empty result (ClickHouse leaves a blank line in its data)", () => {
    const body = header(COLUMNS) + "\n\t],\n\n\t\"rows\": 0,\n\n\t\"statistics\": {}\n}\n"
    expect(read([bytes(body)])).toEqual({ rows: [], error: undefined })
  })

  it("fails on an 18.x exception appended to the last row's line, after the rows before it", () => {
    const body = header(COLUMNS) + `\t\t${ROWS[0]},\n\t\t${ROWS[2]}` +
      "Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.0 seconds, maximum: 1, " +
      "e.what() = DB::Exception\n"
    for (const chunks of everySplit(body)) {
      const { error, rows } = read(chunks)
      expect(rows).toEqual([EXPECTED[0]])
      expect(error?.code).toBe(159)
      expect(error?.kind).toBe("server")
      expect(error?.message).toMatch(/^Code: 159, e\.displayText\(\) = DB::Exception: Timeout exceeded/)
    }
  })

  it("fails on an exception on a line of its own, as newer servers write it with an exception tag", () => {
    const message =
      "Code: 395. DB::Exception: Value passed to 'throwIf' function is non-zero. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 25.12.1.1)"
    const body = header(COLUMNS) + `\t\t${ROWS[0]},\n` +
      `\r\n__exception__\r\nabcdefghijklmnop\n${message}\n${message.length + 1} abcdefghijklmnop\r\n__exception__\r\n`
    const { error, rows } = read([bytes(body)])
    expect(rows).toEqual([EXPECTED[0]])
    expect(error).toMatchObject({ code: 395, type: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", message })
  })

  it("fails on an exception written as the result's \"exception\" field", () => {
    const body = header(COLUMNS) + `\t\t${ROWS[0]}\n\t],\n\n\t"rows": 1,\n\n` +
      `\t"exception": "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)"\n}\n`
    const { error, rows } = read([bytes(body)])
    expect(rows).toHaveLength(1)
    expect(error).toMatchObject({ code: 241, type: "MEMORY_LIMIT_EXCEEDED" })
  })

  it("fails on a body that is an error from its first byte (a 200 whose headers went out early)", () => {
    const { error, rows } = read([
      bytes("Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist.\n")
    ])
    expect(rows).toEqual([])
    expect(error).toMatchObject({ code: 60, kind: "server" })
  })

  it("never ends a cut body as a success: cut anywhere before its last line, it fails as truncated", () => {
    const body = bodyOf(ROWS)
    const complete = body.lastIndexOf("}")
    for (let at = 0; at < complete; at++) {
      const { error } = read([bytes(body.slice(0, at))])
      expect(error?.kind, `cut at ${at}`).toBe("truncated")
      expect(error?.code).toBeUndefined()
    }
  })

  it("fails when the announced row count is not the number of rows that came", () => {
    const { error } = read([bytes(bodyOf(ROWS, 4))])
    expect(error).toMatchObject({ kind: "truncated", message: "the result announced 4 rows but 3 arrived" })
  })

  it("fails before the first row when the result has another width than expected", () => {
    expect(read([bytes(bodyOf(ROWS))], 3).error).toBeUndefined()
    const { error, rows } = read([bytes(bodyOf(ROWS))], 12)
    expect(rows).toEqual([])
    expect(error).toMatchObject({ kind: "client", message: "the query returned 3 columns where 12 were expected" })
  })

  it("gives up on a line that never ends instead of holding it in memory", () => {
    const reader = new JsonCompactReader()
    reader.push(bytes(header(COLUMNS)))
    for (let i = 0; i < 20; i++) reader.push(new Uint8Array(100 * 1024).fill(0x61))
    expect(() => reader.end()).toThrow(ClickHouseQueryError)
  })

  it("reads a large piece of body decoded in slices, rows longer than a slice and multi-byte characters included", () => {
    const long = "é😀".repeat(20_000)
    const many = Array.from({ length: 5_000 }, (_, i) => `["${i}", "row ${i} é", ${i}]`)
    const lines = [...many.slice(0, 2_500), `["1", "${long}", 1]`, ...many.slice(2_500)]
    const expected = lines.map((line) => JSON.parse(line) as Array<unknown>).map((
      [n, s, small]
    ) => [Number(n), s, small])
    const body = bytes(bodyOf(lines))
    // One piece, and pieces of 256 KiB as the stream reads them.
    const pieces = Array.from(
      { length: Math.ceil(body.length / (256 * 1024)) },
      (_, i) => body.subarray(i * 256 * 1024, (i + 1) * 256 * 1024)
    )
    for (const chunks of [[body], pieces]) {
      const { error, rows } = read(chunks)
      expect(error).toBeUndefined()
      expect(rows).toEqual(expected)
    }
  })

  describe("a broken body is told by its size and where it broke, never by its text", () => {
    const SECRET = "tenant-secret-4711"
    const head = header(COLUMNS) + `\t\t${ROWS[0]},\n`
    const brokenAt = (offset: number, bytes: number, after: number) =>
      `at byte ${offset} of a body of ${bytes} bytes, after ${after} rows`

    const expectNoSecret = (body: string, where: string) => {
      const all = bytes(body)
      const middle = Math.floor(all.length * 0.9)
      for (
        const chunks of [
          [all],
          [all.subarray(0, middle), all.subarray(middle)],
          Array.from(all, (b) => Uint8Array.of(b))
        ]
      ) {
        const { error } = read(chunks)
        assert(error !== undefined, body)
        for (const text of [error.message, String(error), JSON.stringify(error)]) {
          expect(text, body).not.toContain(SECRET)
        }
        // Not ClickHouse's code either: that was a cell's text.
        expect(error.code, body).toBeUndefined()
        expect(error.message, body).toContain(where)
      }
    }

    it("a row that is not JSON, one cut short, a text where a row should be, a 64-bit integer that is none", () => {
      const length = (text: string) => Buffer.byteLength(text)
      const footer = "\t],\n\n\t\"rows\": 2\n}\n"
      for (
        const body of [
          head + `\t\t["2", "${SECRET}", 1]]\n` + footer,
          head + `\t\t["2", "x]Code: 159. ${SECRET}"]x\n` + footer,
          head + `${SECRET}\n` + footer,
          head + `\t\t["${SECRET}", "a", 1]\n` + footer,
          // Cut short: the body ends in the row.
          head + `\t\t["2", "é ${SECRET}", 1`,
          head + `\t\t["2", "x]Code: 159. ${SECRET}"`
        ]
      ) {
        expectNoSecret(body, brokenAt(length(head), length(body), 1))
      }
    })

    it("a body that is no JSONCompact, and a line that never ends", () => {
      const csv = `"o-1",1,"${SECRET}"\n`
      expectNoSecret(csv, brokenAt(0, csv.length, 0))
      const reader = new JsonCompactReader()
      reader.push(bytes(head))
      reader.push(bytes(`\t\t["2", "${SECRET}`))
      for (let i = 0; i < 12; i++) reader.push(new Uint8Array(100 * 1024).fill(0x61))
      const error = (() => {
        try {
          reader.end()
        } catch (error) {
          return error as ClickHouseQueryError
        }
      })()
      expect(error?.message).not.toContain(SECRET)
      expect(error?.message).toContain("a line of more than 1048576 bytes")
      expect(error?.message).toContain(`at byte ${head.length} of a body of `)
    })
  })
})
