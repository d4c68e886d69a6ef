// The formats' pure parts (ADR 50): every format's file is named, typed and keyed from one table; the Excel profile
// of the export's CSV splits into the same cells where ";" separates them; JSON Lines keep the report's types.
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { FastCheck, Option, Schema } from "effect"
import { encodeRow, toExcelCsv } from "../../src/domain/Csv.js"
import { jobIdOfObjectKey, ObjectKey, objectKeyFor } from "../../src/domain/ExportJob.js"
import { EXPORT_FORMATS, FILE_FORMATS } from "../../src/domain/FileFormats.js"
import { firstExportJobIdAt, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { jsonLineEncoder } from "../../src/domain/JsonLines.js"
import { downloadFileName, Orders, parquetSql, ReportCatalogue, ReportRequest } from "../../src/domain/Reports.js"
import type { Cell, Column } from "../../src/domain/Reports.js"
import { CSV_HOSTILE_CHARACTERS } from "../support/CsvText.js"

const owner = new Owner({ userId: UserId.make("u-1"), merchantId: MerchantId.make("m-1") })
const jobId = firstExportJobIdAt(Date.parse("2024-05-01T00:00:00Z"))
const report = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-01-31" }
})

describe("FILE_FORMATS", () => {
  it("names every format's object key and download after its extension, and finds the job again from the key", () => {
    for (const format of EXPORT_FORMATS) {
      const key = objectKeyFor({ jobId, owner, attempts: 2, format })
      const extension = FILE_FORMATS[format].extension
      expect(key).toBe(`exports/m-1/${jobId}/attempt-2.${extension}`)
      expect(Schema.is(ObjectKey)(key)).toBe(true)
      expect(jobIdOfObjectKey(key)).toStrictEqual(Option.some(jobId))
      expect(downloadFileName(report, format)).toBe(`orders_2024-01-01_2024-01-31.${extension}`)
    }
    expect(Schema.is(ObjectKey)(`exports/m-1/${jobId}/attempt-2.exe`)).toBe(false)
  })

  it("gives each format its media type: the gzip is the file itself, not CSV with a Content-Encoding", () => {
    expect(Object.fromEntries(EXPORT_FORMATS.map((format) => [format, FILE_FORMATS[format].contentType])))
      .toStrictEqual({
        csv: "text/csv; charset=utf-8",
        "csv-excel": "text/csv; charset=utf-8",
        "csv.gz": "application/gzip",
        jsonl: "application/x-ndjson",
        parquet: "application/vnd.apache.parquet"
      })
  })
})

/** Text with a high share of what breaks naive writers: separators, quotes, dots, line breaks. */
const hostileText = FastCheck.oneof(
  FastCheck.string({ unit: "grapheme", maxLength: 20 }),
  FastCheck.string({ unit: FastCheck.constantFrom(...CSV_HOSTILE_CHARACTERS, ".", ";", ","), maxLength: 20 })
)
const cell: FastCheck.Arbitrary<Cell> = FastCheck.oneof(
  hostileText,
  FastCheck.integer(),
  FastCheck.double({ noNaN: true, noDefaultInfinity: true }),
  FastCheck.constant(null)
)

/** A decimal as sources give one: text, every digit kept. */
const decimal = FastCheck.integer({ min: -1_000_000, max: 1_000_000 }).map((cents) => (cents / 100).toFixed(2))

describe("toExcelCsv", () => {
  it("splits at \";\" into the cells the CSV splits into at \",\", each number's and decimal's \".\" a \",\"", () =>
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(FastCheck.tuple(decimal, FastCheck.array(cell, { maxLength: 5 })), { maxLength: 5 }),
        (rows) => {
          // The first cell of every row is a decimal column's.
          const cells = rows.map(([amount, others]): Array<Cell> => [amount, ...others])
          const csv = cells.map(encodeRow).join("")
          const excel = Buffer.from(toExcelCsv(new TextEncoder().encode(csv), new Set([0]))).toString("utf8")
          const split: Array<Array<string>> = parse(csv, { relaxColumnCount: true })
          const expected = split.map((row, r) =>
            row.map((text, c) => c === 0 || typeof cells[r]![c] === "number" ? text.replace(".", ",") : text)
          )
          expect(parse(excel, { delimiter: ";", relaxColumnCount: true })).toStrictEqual(expected)
          expect(excel.match(/\r\n/g)?.length ?? 0).toBe(csv.match(/\r\n/g)?.length ?? 0)
        }
      )
    ))

  it("leaves text alone: its commas, dots and doubled quotes are inside the quotes", () => {
    const row = new TextEncoder().encode("\"a,b. \"\"c\"\", d\",12.5,-3,,1e-7,\"-4.25\"\r\n\"x.y\",1.5\r\n")
    expect(Buffer.from(toExcelCsv(row, new Set([5]))).toString("utf8"))
      .toBe("\"a,b. \"\"c\"\", d\";12,5;-3;;1e-7;\"-4,25\"\r\n\"x.y\";1,5\r\n")
  })
})

describe("jsonLineEncoder", () => {
  const columns: ReadonlyArray<Column> = [
    { name: "id", type: "string", header: "ID" },
    { name: "count", type: "integer", header: "Count" },
    { name: "price", type: "decimal", header: "Price" },
    { name: "day", type: "date", header: "Day" },
    { name: "at", type: "datetime", header: "At" }
  ]
  const line = jsonLineEncoder(columns)

  it("keys each value by its column's name and types it by its column's type, every digit of a decimal kept", () => {
    const text = line([
      "=cmd|' /C calc'!A0 \"x\"\n",
      12345678901234567890n,
      "0.10",
      "2024-01-31",
      "2024-01-31 23:59:59"
    ])
    expect(text.endsWith("}\n")).toBe(true)
    expect(text).toContain("\"price\":0.10,")
    expect(text).toContain("\"count\":12345678901234567890,")
    expect(JSON.parse(text)).toStrictEqual({
      id: "=cmd|' /C calc'!A0 \"x\"\n",
      count: 12345678901234567890,
      price: 0.1,
      day: "2024-01-31",
      at: "2024-01-31 23:59:59"
    })
  })

  it("writes null for an empty cell and for a number that JSON cannot hold", () => {
    expect(JSON.parse(line([null, Number.NaN, "nan", null, null]))).toStrictEqual({
      id: null,
      count: null,
      price: null,
      day: null,
      at: null
    })
    expect(JSON.parse(line(["a", 3, -2.5, "2024-01-01", "2024-01-01 00:00:00"]))).toMatchObject({
      count: 3,
      price: -2.5
    })
  })
})

describe("parquetSql", () => {
  it("casts each column to its Parquet type around the report's own query, its merchant filter and order kept", () => {
    for (const definition of ReportCatalogue.definitions) {
      const sql = parquetSql(definition)
      expect(sql).toContain(definition.sql)
      for (const column of definition.columns) expect(sql).toContain(` AS ${column.name}`)
    }
    expect(parquetSql(Orders)).toContain("toDecimal128(line_total, 2) AS line_total")
    expect(parquetSql(Orders)).toContain("CAST(quantity AS Int64) AS quantity")
  })
})
