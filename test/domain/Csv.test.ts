import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { FastCheck } from "effect"
import { csvPreamble, encodeCell, encodeRow, neutraliseFormula, UTF8_BOM } from "../../src/domain/Csv.js"

const FORMULA_START = /^[=+\-@\t\r]/
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** Text with a high share of the characters that break naive CSV writers. */
const nastyText = FastCheck.oneof(
  FastCheck.string({ unit: "grapheme", maxLength: 30 }),
  FastCheck.string({
    unit: FastCheck.constantFrom(
      "\"",
      ",",
      "\n",
      "\r",
      "\r\n",
      "=",
      "+",
      "-",
      "@",
      "\t",
      " ",
      "é",
      "😀",
      "a",
      "1",
      "."
    ),
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
          if (!FORMULA_START.test(cell) || PLAIN_NUMBER.test(cell)) expect(out).toBe(cell)
          else expect(out).toBe(`'${cell}`)
          expect(FORMULA_START.test(out) && !PLAIN_NUMBER.test(out)).toBe(false)
        }
      }
    },
    { fastCheck: { numRuns: 300 } }
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

  it("quotes and doubles quotes only where RFC 4180 needs it", () => {
    expect(encodeRow(["plain", "a,b", "say \"hi\"", "two\nlines", 3])).toBe(
      "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",3\r\n"
    )
  })

  it("defuses formula triggers and leaves plain numbers alone", () => {
    expect(encodeCell("=HYPERLINK(\"http://x\")")).toBe("\"'=HYPERLINK(\"\"http://x\"\")\"")
    expect(encodeCell("@SUM(A1)")).toBe("'@SUM(A1)")
    expect(encodeCell("+1+1")).toBe("'+1+1")
    expect(encodeCell("\tx")).toBe("'\tx")
    expect(encodeCell("-12.5")).toBe("-12.5")
    expect(encodeCell("+3e5")).toBe("+3e5")
    expect(encodeCell(-4)).toBe("-4")
  })

  it("writes infinities and NaN as empty cells rather than words a spreadsheet misreads", () => {
    expect(encodeRow([Number.NaN, Number.POSITIVE_INFINITY, 1])).toBe(",,1\r\n")
  })

  it("starts with a byte order mark only when asked", () => {
    const columns = [{ name: "a", type: "string", header: "A" }] as const
    expect(csvPreamble(columns, { bom: true })).toBe(`${UTF8_BOM}A\r\n`)
    expect(csvPreamble(columns, { bom: false })).toBe("A\r\n")
  })
})
