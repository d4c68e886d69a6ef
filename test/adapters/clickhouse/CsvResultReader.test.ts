// The CSV reader on bodies written the way ClickHouse writes CSV (strings always quoted with quotes doubled, numbers
// bare, NULL as \N, LF row ends, the extremes after a blank line), whole and failing, in pieces of any size: what it
// hands on is exactly what the export's own encoder (ADR 6) writes for the same cells, and a body counts only with
// its extremes.
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck, Stream } from "effect"
import { csvResultOf, CsvResultReader } from "../../../src/adapters/clickhouse/CsvResultReader.js"
import { ClickHouseQueryError } from "../../../src/adapters/clickhouse/JsonCompactReader.js"
import { encodeRow } from "../../../src/domain/Csv.js"
import type { Cell, ReportRow } from "../../../src/domain/Reports.js"
import { CSV_HOSTILE_CHARACTERS } from "../../support/CsvText.js"
import { collectedCopies } from "../../support/LentPieces.js"

/** A cell as ClickHouse's CSV output format writes it. */
const clickHouseCell = (cell: Cell): string => {
  switch (typeof cell) {
    case "string":
      return `"${cell.replace(/"/g, "\"\"")}"`
    case "number":
      return Number.isNaN(cell) ? "nan" : cell === Infinity ? "inf" : cell === -Infinity ? "-inf" : String(cell)
    case "bigint":
      return String(cell)
    case "boolean":
      return String(cell)
    default:
      return "\\N"
  }
}

const clickHouseRow = (row: ReportRow): string => row.map(clickHouseCell).join(",") + "\n"

/** A whole body: the rows, then a blank line and the extremes (two rows of the same width), or nothing at all. */
const bodyOf = (rows: ReadonlyArray<ReportRow>): string =>
  rows.length === 0
    ? ""
    : rows.map(clickHouseRow).join("") + "\n" + clickHouseRow(rows[0]!) + clickHouseRow(rows.at(-1)!)

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The body's bytes cut at the given offsets. */
const piecesOf = (body: string, cuts: ReadonlyArray<number> = []): Array<Uint8Array> => {
  const bytes = Buffer.from(encoder.encode(body))
  const at = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let from = 0
  for (const cut of [...at, bytes.length]) {
    pieces.push(bytes.subarray(from, cut))
    from = cut
  }
  return pieces
}

/**
 * The pieces pushed through a reader, then its end. With `reused`, each piece's bytes are overwritten as soon as it
 * has been pushed, as a source that reads into the same buffer again would: the reader must keep copies, not views.
 * With `pull` above 1, the pieces go in that many at a time (`pushAll`), as csvResultOf hands on a pull of them.
 */
const read = (pieces: ReadonlyArray<Uint8Array>, columns: number, { pull = 1, reused = false } = {}) => {
  const reader = new CsvResultReader(columns)
  let text = ""
  let rows = 0
  try {
    for (let i = 0; i < pieces.length; i += pull) {
      const group = pieces.slice(i, i + pull)
      const out = pull === 1 ? reader.push(group[0]!) : reader.pushAll(group)
      if (out !== undefined) {
        expect(out.rows).toBeGreaterThan(0)
        text += decoder.decode(out.bytes)
        rows += out.rows
      }
      if (reused) {
        for (const piece of group) piece.fill(0x7e)
      }
    }
    reader.end()
    return { text, rows, error: undefined }
  } catch (error) {
    assert(error instanceof ClickHouseQueryError, String(error))
    return { text, rows, error }
  }
}

const nastyText = FastCheck.string({
  unit: FastCheck.constantFrom(...CSV_HOSTILE_CHARACTERS),
  maxLength: 12
})
const cell: FastCheck.Arbitrary<Cell> = FastCheck.oneof(
  nastyText,
  FastCheck.string({ unit: "grapheme", maxLength: 12 }),
  FastCheck.integer(),
  FastCheck.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  FastCheck.boolean(),
  FastCheck.constant(null),
  FastCheck.constantFrom(NaN, Infinity, -Infinity)
)
const table = (width: number) =>
  FastCheck.array(FastCheck.array(cell, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 12 })

/** How many pieces a pull holds: 1 reads them with `push`, more with `pushAll`. */
const pullSize = FastCheck.integer({ min: 1, max: 4 })

const ROWS: ReadonlyArray<ReportRow> = [
  ["o-1", 1, "2024-01-02 03:04:05", "Product \"A\", large", "-12.50", "=HYPERLINK(\"x\")"],
  ["o-2", 2, "2024-01-02 03:04:06", "two\nlines", "0.99", "@SUM(A1)"]
]

describe("CsvResultReader", () => {
  it.prop(
    "writes exactly what encodeRow writes for the same cells, whatever the pieces and the pulls",
    [
      FastCheck.integer({ min: 1, max: 6 }).chain((width) => table(width)),
      FastCheck.array(FastCheck.nat()),
      pullSize
    ],
    ([rows, cuts, pull]) => {
      const result = read(piecesOf(bodyOf(rows), cuts), rows[0]!.length, { pull })
      expect(result.error).toBeUndefined()
      expect(result.text).toBe(rows.map(encodeRow).join(""))
      expect(result.rows).toBe(rows.length)
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "keeps its own copy of what it keeps from a piece: a row cut by it, and a failure's text",
    [
      FastCheck.integer({ min: 1, max: 6 }).chain((width) => table(width)),
      FastCheck.array(FastCheck.nat()),
      pullSize
    ],
    ([rows, cuts, pull]) => {
      const whole = read(piecesOf(bodyOf(rows), cuts), rows[0]!.length, { pull, reused: true })
      expect(whole.error).toBeUndefined()
      expect(whole.text).toBe(rows.map(encodeRow).join(""))
      // Cut off by ClickHouse's exception, with as many commas as a row has cells so that it passes for one: its code
      // is read at the end from the kept last row.
      const width = rows[0]!.length
      const exception = `Code: 159. DB::Exception: Timeout exceeded: elapsed 5.1 seconds${",".repeat(width - 1)}\n`
      const failed = read(piecesOf(rows.map(clickHouseRow).join("") + exception, cuts), width, { pull, reused: true })
      expect(failed.error?.code).toBe(159)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("csvResultOf hands on one piece of whole rows for each pull, however many reads it holds", () =>
    Effect.gen(function*() {
      const rows: ReadonlyArray<ReportRow> = Array.from({ length: 40 }, (_, i) => [`o-${i}`, i, "=x"])
      // Reads of 7 bytes, cutting rows anywhere, in pulls of 1 to 9 reads.
      const reads = piecesOf(bodyOf(rows), Array.from({ length: 200 }, (_, i) => 7 * (i + 1)))
      const pulls: Array<Chunk.Chunk<Uint8Array>> = []
      for (let i = 0, size = 1; i < reads.length; i += size, size = size % 9 + 1) {
        pulls.push(Chunk.unsafeFromArray(reads.slice(i, i + size)))
      }
      const pieces = yield* csvResultOf(Stream.fromChunks(...pulls), 3).pipe(
        Stream.mapChunks((chunk) => Chunk.of(chunk.length)),
        Stream.runCollect,
        Effect.zip(collectedCopies(csvResultOf(Stream.fromChunks(...pulls), 3)))
      )
      const [perPull, written] = pieces
      // A pull's chunk holds one piece at most: a pull whose reads complete no row holds none.
      expect(Chunk.toReadonlyArray(perPull).every((count) => count <= 1)).toBe(true)
      expect(written.length).toBeLessThanOrEqual(pulls.length)
      expect(written.length).toBeLessThan(reads.length / 4)
      expect(decoder.decode(Buffer.concat(written.map((piece) => piece.bytes)))).toBe(rows.map(encodeRow).join(""))
      expect(written.reduce((sum, piece) => sum + piece.rows, 0)).toBe(rows.length)
      // Cut short, the same pulls fail once the body has ended.
      const cut = pulls.slice(0, -1)
      const failure = yield* Effect.flip(Stream.runDrain(csvResultOf(Stream.fromChunks(...cut), 3)))
      expect(failure.kind).toBe("truncated")
    }))

  it("keeps text quoted, ends rows with CRLF and defuses formulas, behind invisible characters too", () => {
    const result = read(piecesOf(bodyOf(ROWS)), 6)
    expect(result.text).toBe(
      "\"o-1\",1,\"2024-01-02 03:04:05\",\"Product \"\"A\"\", large\",\"-12.50\",\"'=HYPERLINK(\"\"x\"\")\"\r\n" +
        "\"o-2\",2,\"2024-01-02 03:04:06\",\"two\nlines\",\"0.99\",\"'@SUM(A1)\"\r\n"
    )
    const hidden = ["\u3000=1+1", "\0\n@x", "\uff0d1", "a;=1", " -1"]
    const body = `${hidden.map((text) => `"${text}"`).join(",")}\n\n` + `"",`.repeat(4) + `""\n` + `"",`.repeat(4) +
      `""\n`
    expect(read(piecesOf(body), 5).text).toBe("\"'\u3000=1+1\",\"'\0\n@x\",\"'\uff0d1\",\"a;=1\",\"' -1\"\r\n")
  })

  it("NULL and non-finite numbers are empty cells; integers past 2^53 and booleans are kept as written", () => {
    const body = "\\N,nan,-inf,+inf,inf,18446744073709551615,true,\"\\N\"\n\n" +
      "\\N,nan,-inf,+inf,inf,1,true,\"\"\n".repeat(2)
    expect(read(piecesOf(body), 8).text).toBe(",,,,,18446744073709551615,true,\"\\N\"\r\n")
  })

  it("rewritten rows are handed on as views of one reused buffer: lent until the next pull, no copy per pull", () => {
    const rows: ReadonlyArray<ReportRow> = Array.from({ length: 40 }, (_, i) => [`o-${i}`, i, "=x"])
    // The first read the largest, so that the buffer it makes room for holds every later one's rows.
    const reads = piecesOf(bodyOf(rows), [400, 450, 500, 550, 600])
    const reader = new CsvResultReader(3)
    const pieces = reads.map((read) => reader.push(read)).filter((piece) => piece !== undefined)
    reader.end()
    expect(pieces.length).toBeGreaterThan(2)
    expect(new Set(pieces.map((piece) => piece.bytes.buffer)).size).toBe(1)
    expect(pieces.every((piece) => piece.bytes.byteOffset === 0)).toBe(true)
  })

  it("an empty body is an empty result", () => {
    expect(read([], 3)).toEqual({ text: "", rows: 0, error: undefined })
    expect(read([new Uint8Array(0)], 3)).toEqual({ text: "", rows: 0, error: undefined })
  })

  it("a body cut anywhere before its last byte fails, whichever row it was in", () => {
    const body = encoder.encode(bodyOf(ROWS))
    for (let cut = 1; cut < body.length; cut++) {
      const result = read([body.subarray(0, cut)], 6)
      expect(result.error, `cut at ${cut}`).toBeDefined()
    }
    expect(read([body], 6).error).toBeUndefined()
  })

  it("an exception after rows fails with ClickHouse's code, in each server's wording", () => {
    const rows = ROWS.map(clickHouseRow).join("")
    const exceptions = [
      // 18.x
      "Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.004 seconds, maximum: 1, e.what() = DB::Exception\n",
      // 22.x - 25.x
      "Code: 159. DB::Exception: Timeout exceeded: elapsed 1.00 seconds, maximum: 1. (TIMEOUT_EXCEEDED) (version 24.8.1.1)\n",
      // 25.11+, framed by the response's exception tag
      "__exception__\r\nqwertyuiopasdfgh\r\nCode: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED)\r\n70 qwertyuiopasdfgh\r\n__exception__\r\n"
    ]
    for (const exception of exceptions) {
      for (const pull of [1, 2]) {
        const result = read(piecesOf(rows + exception, [rows.length + 7]), 6, { pull })
        assert(result.error !== undefined, exception)
        expect(result.error.code).toBe(159)
        expect(result.error.message).toContain("Timeout exceeded")
        // What came before the failure was handed on; the caller throws it away with the failure.
        expect(result.rows).toBe(2)
      }
    }
  })

  it("an exception that has as many commas as a row has cells still fails: no extremes follow it", () => {
    const exception = "Code: 241, e.displayText() = DB::Exception: Memory limit exceeded, a, b, c, d\n"
    const result = read(piecesOf(ROWS.map(clickHouseRow).join("") + exception), 6)
    assert(result.error !== undefined)
    expect(result.error.code).toBe(241)
  })

  it("rows without extremes, one extremes row only, or rows after them fail", () => {
    const rows = ROWS.map(clickHouseRow).join("")
    for (
      const body of [rows, rows + "\n", rows + "\n" + clickHouseRow(ROWS[0]!), bodyOf(ROWS) + clickHouseRow(ROWS[0]!)]
    ) {
      const result = read(piecesOf(body), 6)
      assert(result.error !== undefined, JSON.stringify(body))
      expect(result.error.kind).toBe("truncated")
    }
  })

  it("a row of another width, or text that is no CSV cell, fails", () => {
    for (
      const body of [
        "\"a\",1\n\n\"a\",1\n\"a\",1\n",
        "\"a\",1,2,3\n\n",
        "\"a\"x,1,2\n\n",
        "a\"b,1,2\n\n",
        "\"a\",1\r,2\n\n"
      ]
    ) {
      expect(read(piecesOf(body), 3).error, JSON.stringify(body)).toBeDefined()
    }
  })

  it("an unquoted cell that is no number, bool or NULL fails a body that is otherwise whole", () => {
    // ClickHouse leaves only those unquoted, never text: such a cell is no value of the query's, and could be split
    // by a spreadsheet (";") or run as a formula.
    const whole = (cell: string) => `"a",${cell},3\n\n"a",1,3\n"a",1,3\n`
    for (const cell of ["-12.5e+3", "true", "\\N", "-inf"]) expect(read(piecesOf(whole(cell)), 3).error).toBeUndefined()
    for (const cell of ["1;=2", "-x", "+a1", "1 ", "@1", "=1"]) {
      const result = read(piecesOf(whole(cell)), 3)
      expect(result.error, cell).toBeDefined()
      expect(result.text, cell).toBe("")
    }
  })

  it("a quote never closed fails at the end of the body, and a row cannot grow past its limit", () => {
    expect(read(piecesOf("\"abc,1,2\n\n"), 3).error).toBeDefined()
    const reader = new CsvResultReader(1)
    const piece = new Uint8Array(4 * 1024 * 1024).fill(0x61)
    piece[0] = 0x22
    reader.push(piece)
    for (let i = 0; i < 4; i++) reader.push(new Uint8Array(4 * 1024 * 1024).fill(0x61))
    expect(() => reader.end()).toThrow(/more than 16777216 bytes/)
  })

  describe("a broken body is told by its size and where it broke, never by its text", () => {
    const SECRET = "tenant-secret-4711"
    // Rows a tenant could have written: one holds what an exception looks like, another the secret.
    const rows = `"o-1",1,"${SECRET}"\n"o-2",2,"Code: 159. ${SECRET}"\n`
    const brokenAt = (offset: number, bytes: number, after: number) =>
      `at byte ${offset} of a body of ${bytes} bytes, after ${after} rows`

    const expectNoSecret = (body: string, pieces: ReadonlyArray<Uint8Array>, where: string, pull = 1) => {
      const result = read(pieces, 3, { pull })
      assert(result.error !== undefined, body)
      for (const text of [result.error.message, String(result.error), JSON.stringify(result.error)]) {
        expect(text, body).not.toContain(SECRET)
      }
      // Not ClickHouse's code either: that was a cell's text.
      expect(result.error.code, body).toBeUndefined()
      expect(result.error.message, body).toContain(where)
    }

    it("a row of another width, a cell no number, a row after the extremes, a body cut in a row", () => {
      const length = (text: string) => Buffer.byteLength(text)
      // Each body, and what its error says: it broke where `broken` starts, after two rows, the body's size in all.
      const cases = ([
        [rows, `"o-3","${SECRET}"\n`],
        [rows, `"o-3",x ${SECRET},1\n`],
        [rows, `"o-3",3,"${SECRET}`],
        [rows, `"o-3",3,"Code: 159. ${SECRET}`],
        [`${rows}\n${rows}`, `"${SECRET}",1,2\n`]
      ] as const).map(([before, broken]) =>
        [before + broken, brokenAt(length(before), length(before + broken), 2)] as const
      )
      for (const [body, where] of cases) {
        expectNoSecret(body, piecesOf(body), where)
        // Cut anywhere, the rows are read in other pieces: the position is the body's all the same.
        expectNoSecret(body, piecesOf(body, [7, 40, 41]), where)
        // And in pulls of several pieces, whose rows go on together.
        expectNoSecret(body, piecesOf(body, [7, 40, 41]), where, 2)
        expectNoSecret(body, piecesOf(body, [7, 40, 41]), where, 4)
      }
    })

    it("a row longer than any row may be", () => {
      const reader = new CsvResultReader(1)
      reader.push(encoder.encode(`"${SECRET}"\n`))
      const piece = new Uint8Array(9 * 1024 * 1024).fill(0x61)
      reader.push(Buffer.concat([encoder.encode(`"${SECRET}`), piece]))
      reader.push(piece)
      const error = (() => {
        try {
          reader.end()
        } catch (error) {
          return error as ClickHouseQueryError
        }
      })()
      expect(error?.message).not.toContain(SECRET)
      expect(error?.message).toContain(`more than 16777216 bytes`)
      expect(error?.message).toContain(brokenAt(SECRET.length + 3, 2 * SECRET.length + 4 + 2 * piece.length, 1))
    })

    it.prop(
      "whatever breaks it, wherever the pieces end",
      [
        FastCheck.array(FastCheck.array(cell, { minLength: 3, maxLength: 3 }), { maxLength: 4 }),
        FastCheck.constantFrom(
          `"${SECRET}",1\n`,
          `"${SECRET}"x,1,2\n`,
          `1,"Code: 60. ${SECRET}`,
          `${SECRET} ,1,2\n`,
          `"${SECRET}",1,2,3\n\n"a",1,2\n"a",1,2\n`
        ),
        FastCheck.nat(),
        FastCheck.array(FastCheck.nat()),
        pullSize
      ],
      ([table, breaking, cut, cuts, pull]) => {
        const body = table.map((row) => clickHouseRow([...row.slice(0, 2), SECRET])).join("") + breaking
        const bytes = encoder.encode(body)
        // The broken body, or the whole of it cut short past its first byte: either way no whole result.
        const at = cut % 2 === 0 ? bytes.length : 1 + (cut % bytes.length)
        const result = read(piecesOf(decoder.decode(bytes.subarray(0, at)), cuts), 3, { pull })
        assert(result.error !== undefined)
        expect(result.error.message).not.toContain(SECRET)
        expect(result.error.message).toMatch(/ bytes/)
      },
      { fastCheck: { numRuns: 300 } }
    )
  })
})

/**
 * A body as a server that writes the export's CSV itself writes it (ADR 53): text neutralised in SQL, quoted, quotes
 * doubled, NULL empty, CRLF row ends; the blank line before the extremes a bare LF, as ClickHouse 26.x writes it.
 */
const writtenBodyOf = (rows: ReadonlyArray<ReportRow>): string =>
  rows.length === 0 ? "" : rows.map(encodeRow).join("") + "\n" + encodeRow(rows[0]!) + encodeRow(rows.at(-1)!)

/** The pieces through a reader `asWritten`, read only once every piece is in: they are views of the chunks. */
const readAsWritten = (chunks: ReadonlyArray<Uint8Array>, columns: number, pull = 1) => {
  const reader = new CsvResultReader(columns, true)
  const pieces: Array<{ readonly bytes: Uint8Array; readonly rows: number }> = []
  try {
    for (let i = 0; i < chunks.length; i += pull) pieces.push(...reader.pieces(chunks.slice(i, i + pull)))
    reader.end()
    return {
      text: pieces.map((piece) => decoder.decode(piece.bytes)).join(""),
      rows: pieces.reduce((sum, piece) => sum + piece.rows, 0),
      counted: reader.rows,
      error: undefined
    }
  } catch (error) {
    assert(error instanceof ClickHouseQueryError, String(error))
    return { text: "", rows: 0, counted: reader.rows, error }
  }
}

/** Cells the catalogue's columns hold: no float, so never NaN or an infinity. */
const reportCell: FastCheck.Arbitrary<Cell> = FastCheck.oneof(
  nastyText,
  FastCheck.string({ unit: "grapheme", maxLength: 12 }),
  FastCheck.integer(),
  FastCheck.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  FastCheck.boolean(),
  FastCheck.constant(null)
)
const reportTable = (width: number) =>
  FastCheck.array(FastCheck.array(reportCell, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 12 })

describe("CsvResultReader as written (ADR 53)", () => {
  it.prop(
    "hands on the body's rows as they came: the same file as the rewrite of ClickHouse's own CSV, rows counted",
    [
      FastCheck.integer({ min: 2, max: 6 }).chain((width) => reportTable(width)),
      FastCheck.array(FastCheck.nat()),
      pullSize
    ],
    ([rows, cuts, pull]) => {
      const width = rows[0]!.length
      const written = readAsWritten(piecesOf(writtenBodyOf(rows), cuts), width, pull)
      expect(written.error).toBeUndefined()
      expect(written.text).toBe(rows.map(encodeRow).join(""))
      // Today's file, from 18.16's CSV rewritten: byte for byte the same.
      expect(written.text).toBe(read(piecesOf(bodyOf(rows), cuts), width, { pull }).text)
      expect(written.rows).toBe(rows.length)
      expect(written.counted).toBe(rows.length)
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "a row longer than the join's first look, cut anywhere, is handed on whole",
    [FastCheck.integer({ min: 4000, max: 20_000 }), FastCheck.array(FastCheck.nat(), { maxLength: 6 })],
    ([length, cuts]) => {
      const rows: ReadonlyArray<ReportRow> = [["a", 1], ["x".repeat(length), 2], ["b\"c", 3]]
      const written = readAsWritten(piecesOf(writtenBodyOf(rows), cuts), 2)
      expect(written.error).toBeUndefined()
      expect(written.text).toBe(rows.map(encodeRow).join(""))
    },
    { fastCheck: { numRuns: 100 } }
  )

  it("text that starts like a formula fails the body: the server did not neutralise it", () => {
    for (const text of ["=HYPERLINK(\"x\")", " @SUM(A1)", "\uff1d1", "-2+3", "\u200b+1"]) {
      const body = `"o-1",1\r\n"${text.replace(/"/g, "\"\"")}",2\r\n\n"o-1",1\r\n"o-1",2\r\n`
      const result = readAsWritten(piecesOf(body), 2)
      expect(result.error?.message).toContain("starts like a formula")
      expect(result.error?.message).not.toContain(text)
    }
    // Neutralised, and plain numbers, pass.
    expect(readAsWritten(piecesOf(`"'=1",1\r\n"-12.5",2\r\n\n"'=1",1\r\n"-12.5",2\r\n`), 2).error).toBeUndefined()
  })

  it("ClickHouse's own CSV fails it: LF row ends, \\N and the non-finite numbers are no cells of the export's", () => {
    for (
      const body of [
        "\"a\",1\n\n\"a\",1\n\"a\",1\n",
        "\"a\",\\N\r\n\n\"a\",1\r\n\"a\",1\r\n",
        "\"a\",nan\r\n\n\"a\",1\r\n\"a\",1\r\n"
      ]
    ) {
      expect(readAsWritten(piecesOf(body), 2).error?.message).toContain("no CSV row of 2 cells")
    }
  })

  it.prop(
    "a body cut anywhere after its first byte and before its last fails, and so do rows after the extremes",
    [FastCheck.integer({ min: 2, max: 4 }).chain((width) => reportTable(width)), FastCheck.nat()],
    ([rows, at]) => {
      const body = Buffer.from(writtenBodyOf(rows))
      // Cut before its first byte, a body is empty: the empty result.
      const cut = 1 + at % (body.length - 1)
      expect(readAsWritten([body.subarray(0, cut)], rows[0]!.length).error).toBeDefined()
      expect(readAsWritten([Buffer.concat([body, Buffer.from(encodeRow(rows[0]!))])], rows[0]!.length).error)
        .toBeDefined()
    }
  )
})
