// Parquet files read back with a standard reader (hyparquet, in tests only), and their values put beside a report's
// rows as queried, column by column by the report's types.
import { Effect } from "effect"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import type { Cell, Column, ReportRow } from "../../src/domain/Reports.js"

const arrayBufferOf = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer

/** The file's rows as hyparquet reads them, one object a row keyed by column name, and its schema. */
export const readParquet = (bytes: Uint8Array) =>
  Effect.promise(async () => {
    const file = arrayBufferOf(bytes)
    return { metadata: parquetMetadata(file), rows: await parquetReadObjects({ file }) }
  })

const asText = (value: unknown): string =>
  typeof value === "string" ? value : typeof value === "bigint" ? value.toString() : JSON.stringify(value)

/** A value as a reader sees it, made comparable with a queried cell of the same column type. */
const comparable = (type: Column["type"], value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (type) {
    case "integer":
      return Number(value)
    case "decimal":
      // Cents, exactly: a decimal's digits are what is compared, not a float's.
      return Math.round(Number(value) * 100)
    case "date":
      return value instanceof Date ? value.toISOString().slice(0, 10) : asText(value)
    default:
      return asText(value)
  }
}

/** A report's rows, each cell as `comparable` makes it: for a queried row, or for a row a reader read. */
export const comparableRows = (columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReportRow>) =>
  rows.map((row) => columns.map((column, i) => comparable(column.type, row[i] as Cell)))

export const comparableObjects = (columns: ReadonlyArray<Column>, rows: ReadonlyArray<Record<string, unknown>>) =>
  rows.map((row) => columns.map((column) => comparable(column.type, row[column.name])))
