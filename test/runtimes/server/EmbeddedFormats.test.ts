// The same report exported in every format on the `npm start` composition (chdb), each file downloaded through its
// signed link and opened with a standard tool (ADR 50): csv-parse, zlib, JSON.parse and hyparquet. Every file holds
// the rows the catalogue's SQL gives when run directly on the engine, and is served under its own media type and name.
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { EXPORT_FORMATS, FILE_FORMATS } from "../../../src/domain/FileFormats.js"
import type { ExportFormat } from "../../../src/domain/FileFormats.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { Orders, queryParametersOf, ReportRequest } from "../../../src/domain/Reports.js"
import type { Cell } from "../../../src/domain/Reports.js"
import { embeddedServerIn, embeddedTokenFor } from "../../support/EmbeddedInProcess.js"
import { expectOrdersCsvAsQueried, temporaryDataDir } from "../../support/EndToEnd.js"
import { comparableObjects, comparableRows, readParquet } from "../../support/ParquetFiles.js"

const PARAMS = { dateFrom: "2025-01-01", dateTo: "2025-01-31", timezone: "Europe/Paris" }

describe("npm start composition: one report in every format", () => {
  it.scopedLive(
    "each file opens with a standard tool and holds the rows the engine gives, under its media type and name",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-embedded-formats-"), "data")
        const { base, context } = yield* embeddedServerIn(dataDir, 20_000)
        const engine = yield* Effect.provide(ChdbEngine, context)
        const auth = { authorization: `Bearer ${yield* embeddedTokenFor(dataDir, "formats", "f@example.com")}` }
        const json = <A>(path: string, init: RequestInit = {}) =>
          Effect.promise(() =>
            fetch(`${base}${path}`, { ...init, headers: { ...auth, ...init.headers } }).then((r) => r.json() as A)
          )

        /** The report exported in `format`, downloaded through its signed link: the response and its bytes. */
        const download = (format: ExportFormat) =>
          Effect.gen(function*() {
            const accepted = yield* json<{ statusUrl: string }>("/api/v1/reports/export", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ reportType: "orders", format, ...PARAMS })
            })
            let status = ""
            for (let i = 0; i < 200 && status !== "succeeded"; i++) {
              status = (yield* json<{ status: string }>(accepted.statusUrl)).status
              expect(status).not.toBe("failed")
              if (status !== "succeeded") yield* Effect.sleep("100 millis")
            }
            const link = yield* json<{ url: string }>(`${accepted.statusUrl}/download`, {
              headers: { accept: "application/json" }
            })
            const response = yield* Effect.promise(() => fetch(link.url))
            expect(response.status).toBe(200)
            expect(response.headers.get("content-type")).toBe(FILE_FORMATS[format].contentType)
            expect(response.headers.get("content-disposition")).toContain(
              `filename="orders_2025-01-01_2025-01-31.${FILE_FORMATS[format].extension}"`
            )
            return new Uint8Array(yield* Effect.promise(() => response.arrayBuffer()))
          })

        const files = new Map<ExportFormat, Uint8Array>()
        for (const format of EXPORT_FORMATS) files.set(format, yield* download(format))
        const text = (format: ExportFormat) => Buffer.from(files.get(format)!).toString("utf8")
        const body = { ...PARAMS }

        const csvRows = yield* expectOrdersCsvAsQueried(text("csv"), body, "m-acme").pipe(
          Effect.provideService(ChdbEngine, engine)
        )
        expect(csvRows.length).toBeGreaterThan(100)
        expect(gunzipSync(files.get("csv.gz")!).equals(Buffer.from(files.get("csv")!))).toBe(true)
        const excel: Array<Array<string>> = parse(text("csv-excel"), { delimiter: ";", bom: true })
        const decimal = Orders.columns.map((column) => column.type === "decimal")
        expect(excel.slice(1)).toStrictEqual(
          csvRows.map((row) => row.map((cell, i) => decimal[i] ? cell.replace(".", ",") : cell))
        )

        const report = Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: PARAMS })
        const direct =
          (yield* engine.query(Orders.sql, queryParametersOf(MerchantId.make("m-acme"), report))) as ReadonlyArray<
            ReadonlyArray<Cell>
          >
        const expected = comparableRows(Orders.columns, direct)
        const lines = text("jsonl").split("\n").filter((line) => line.length > 0)
        expect(comparableObjects(Orders.columns, lines.map((line) => JSON.parse(line) as Record<string, unknown>)))
          .toStrictEqual(expected)
        const parquet = yield* readParquet(files.get("parquet")!)
        expect(comparableObjects(Orders.columns, parquet.rows)).toStrictEqual(expected)
      }),
    { timeout: 90_000 }
  )
})
