import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { FastCheck } from "effect"
import {
  csvPreamble,
  encodeCell,
  encodeRow,
  neutraliseFormula,
  startsLikeFormula,
  UTF8_BOM
} from "../../src/domain/Csv.js"
import { CSV_HOSTILE_CHARACTERS, INVISIBLE, TRIGGERS } from "../support/CsvText.js"

/**
 * Characters that show nothing, which a spreadsheet (or a reader) may look past to what follows: C0 controls but tab
 * and CR (triggers themselves), space, DEL, C1 controls, no-break and other Unicode spaces, zero-width and direction
 * marks, the byte order mark. `INVISIBLE` (test/support/CsvText.ts) samples them for the generators.
 */
const INVISIBLE_CLASS =
  "[\\0-\\x08\\n\\x0b\\x0c\\x0e-\\x20\\x7f-\\xa0\\xad\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000\\ufeff]"
const FORMULA_START = new RegExp(`^${INVISIBLE_CLASS}*[=+\\-@\\uff1d\\uff0b\\uff0d\\uff20\\t\\r]`)
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const startsFormula = (text: string) => FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)

/** Text with a high share of the characters that break naive CSV writers. */
const nastyText = FastCheck.oneof(
  FastCheck.string({ unit: "grapheme", maxLength: 30 }),
  FastCheck.string({
    unit: FastCheck.constantFrom(...CSV_HOSTILE_CHARACTERS),
    maxLength: 20
  })
)

const parseCsv = (text: string): Array<Array<string>> => parse(text, { bom: true, relax_column_count: false })

describe("CSV encoding", () => {
  it.prop(
    "parses back with a standard parser into the same cells, defused",
    [FastCheck.array(FastCheck.array(nastyText, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 })],
    ([rows]) => {
      const width = rows[0]!.length
      const table = rows.map((row) => Array.from({ length: width }, (_, i) => row[i] ?? ""))
      const parsed = parseCsv(table.map(encodeRow).join(""))
      expect(parsed).toStrictEqual(table.map((row) => row.map(neutraliseFormula)))
      for (const [r, row] of table.entries()) {
        for (const [c, cell] of row.entries()) {
          const out = parsed[r]![c]!
          if (startsFormula(cell)) expect(out).toBe(`'${cell}`)
          else expect(out).toBe(cell)
          expect(startsFormula(out)).toBe(false)
        }
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "a formula behind characters that show nothing is defused all the same",
    [
      FastCheck.array(FastCheck.constantFrom(...INVISIBLE), { maxLength: 4 }),
      FastCheck.constantFrom(...TRIGGERS),
      FastCheck.string({ unit: "grapheme", maxLength: 12 })
    ],
    ([invisible, trigger, rest]) => {
      const text = invisible.join("") + trigger + rest
      if (PLAIN_NUMBER.test(text)) return
      expect(neutraliseFormula(text)).toBe(`'${text}`)
      expect(encodeCell(text)).toBe(`"'${text.replace(/"/g, "\"\"")}"`)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "outside quotes a row holds only numbers, booleans and commas: no separator of another locale, no formula",
    [FastCheck.array(
      FastCheck.oneof(nastyText, FastCheck.integer(), FastCheck.double(), FastCheck.bigInt(), FastCheck.boolean()),
      { minLength: 1, maxLength: 8 }
    )],
    ([cells]) => {
      // Quotes hold whatever the separator: Excel in a locale that separates with ";" splits only outside them.
      const outside = encodeRow(cells).replace(/"(?:[^"]|"")*"/g, "")
      expect(outside).toMatch(/^(?:[\d.e+-]*|true|false)(?:,(?:[\d.e+-]*|true|false))*\r\n$/)
      for (const cell of cells) {
        if (typeof cell === "string") expect(encodeCell(cell)).toMatch(/^"[\s\S]*"$/)
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "the rule reads a string and its UTF-8 bytes alike, wherever the bytes sit in a buffer",
    [
      FastCheck.oneof(
        FastCheck.string({ unit: "binary", maxLength: 8 }),
        FastCheck.string({
          unit: FastCheck.constantFrom(...INVISIBLE, ...TRIGGERS, "a", "1", ".", "e", "é", "😀", "\""),
          maxLength: 8
        })
      ),
      FastCheck.string({ maxLength: 4 }),
      FastCheck.string({ maxLength: 4 })
    ],
    ([text, before, after]) => {
      const bytes = Buffer.from(before + text + after, "utf8")
      const from = Buffer.byteLength(before)
      expect(startsLikeFormula(bytes, from, from + Buffer.byteLength(text))).toBe(startsLikeFormula(text))
      expect(startsLikeFormula(text)).toBe(startsFormula(text))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "numbers, booleans and nulls keep their meaning",
    [FastCheck.array(
      FastCheck.oneof(
        FastCheck.integer(),
        FastCheck.double({ noNaN: true, noDefaultInfinity: true }),
        FastCheck.bigInt(),
        FastCheck.boolean(),
        FastCheck.constant(null)
      ),
      { minLength: 1, maxLength: 10 }
    )],
    ([cells]) => {
      const [parsed] = parseCsv(encodeRow(cells))
      expect(parsed).toStrictEqual(cells.map((cell) => (cell === null ? "" : String(cell))))
    },
    { fastCheck: { numRuns: 200 } }
  )

  it("quotes every text cell, doubling its quotes; numbers and booleans stay bare", () => {
    expect(encodeRow(["plain", "a,b", "say \"hi\"", "two\nlines", "", "a;=1+1", 3, -2n, true])).toBe(
      "\"plain\",\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"\",\"a;=1+1\",3,-2,true\r\n"
    )
  })

  it("defuses formula triggers and leaves plain numbers alone", () => {
    expect(encodeCell("=HYPERLINK(\"http://x\")")).toBe("\"'=HYPERLINK(\"\"http://x\"\")\"")
    expect(encodeCell("@SUM(A1)")).toBe("\"'@SUM(A1)\"")
    expect(encodeCell("+1+1")).toBe("\"'+1+1\"")
    expect(encodeCell("\tx")).toBe("\"'\tx\"")
    expect(encodeCell("\rx")).toBe("\"'\rx\"")
    expect(encodeCell(" \0\n=1+1")).toBe("\"' \0\n=1+1\"")
    expect(encodeCell("\u3000\ufeff@x")).toBe("\"'\u3000\ufeff@x\"")
    expect(encodeCell("\uff1d1+1")).toBe("\"'\uff1d1+1\"")
    expect(encodeCell("\uff0b1")).toBe("\"'\uff0b1\"")
    expect(encodeCell("\uff0d1")).toBe("\"'\uff0d1\"")
    expect(encodeCell("\uff20x")).toBe("\"'\uff20x\"")
    expect(encodeCell(" -12.5")).toBe("\"' -12.5\"")
    expect(encodeCell("-")).toBe("\"'-\"")
    expect(encodeCell("-12.5")).toBe("\"-12.5\"")
    expect(encodeCell("+3e5")).toBe("\"+3e5\"")
    expect(encodeCell(" plain")).toBe("\" plain\"")
    expect(encodeCell("\n")).toBe("\"\n\"")
    expect(encodeCell("a=1")).toBe("\"a=1\"")
    expect(encodeCell(-4)).toBe("-4")
  })

  it("writes infinities and NaN as empty cells rather than words a spreadsheet misreads", () => {
    expect(encodeRow([Number.NaN, Number.POSITIVE_INFINITY, 1])).toBe(",,1\r\n")
  })

  it("starts with a byte order mark only when asked", () => {
    const columns = [{ name: "a", type: "string", header: "A" }] as const
    expect(csvPreamble(columns, { bom: true })).toBe(`${UTF8_BOM}"A"\r\n`)
    expect(csvPreamble(columns, { bom: false })).toBe("\"A\"\r\n")
  })
})
