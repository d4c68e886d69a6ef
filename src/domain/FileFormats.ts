// The formats an export's file can be written in (ADR 50), and what each one's file is: its extension, its media
// type, and what a person choosing it is told. Everything else that names formats (the request schema, the OpenAPI
// document, the web app's choice, the object key and the download name) reads this one table.
import { Schema } from "effect"
import { CSV_CONTENT_TYPE } from "./Csv.js"

/**
 * - `csv`: RFC 4180 with text quoted and formulas defused (ADR 6).
 * - `csv-excel`: the same rows for Excel in a locale whose list separator is ";": a UTF-8 byte order mark, ";"
 *   between cells and "," before decimals, CRLF line ends. A format of its own rather than an option of csv, since
 *   it applies to no other format (ADR 50).
 * - `csv.gz`: the csv file, gzip-compressed as it streams.
 * - `jsonl`: one JSON object per row, keyed by the report's column names, typed by the report's column types.
 * - `parquet`: typed columns, written by the report's database itself.
 */
export const ExportFormat = Schema.Literal("csv", "csv-excel", "csv.gz", "jsonl", "parquet").annotations({
  description: "The file's format: csv, csv-excel (for Excel where \";\" separates cells), csv.gz (gzip-compressed " +
    "csv), jsonl (JSON Lines) or parquet."
})
export type ExportFormat = typeof ExportFormat.Type

export interface FileFormat {
  /** The file name's ending, without its dot. */
  readonly extension: string
  readonly contentType: string
  /** The format's short name, in a sentence: "Export to Parquet". */
  readonly name: string
  /** What a person choosing among the formats is told of it. */
  readonly description: string
}

export const FILE_FORMATS: { readonly [F in ExportFormat]: FileFormat } = {
  csv: { extension: "csv", contentType: CSV_CONTENT_TYPE, name: "CSV", description: "CSV" },
  "csv-excel": {
    extension: "csv",
    contentType: CSV_CONTENT_TYPE,
    name: "Excel CSV",
    description: "CSV for Excel where \";\" separates cells (decimal commas)"
  },
  // The file is the gzip itself, not CSV with a Content-Encoding: a browser would unpack it on the way in.
  "csv.gz": {
    extension: "csv.gz",
    contentType: "application/gzip",
    name: "CSV (gzip)",
    description: "CSV, gzip-compressed (.csv.gz)"
  },
  jsonl: {
    extension: "jsonl",
    contentType: "application/x-ndjson",
    name: "JSON Lines",
    description: "JSON Lines (.jsonl), one object a row"
  },
  // Registered with IANA in 2024.
  parquet: {
    extension: "parquet",
    contentType: "application/vnd.apache.parquet",
    name: "Parquet",
    description: "Parquet, typed columns for data tools"
  }
}

/** Every format, in the order a person is offered them. */
export const EXPORT_FORMATS = ExportFormat.literals
