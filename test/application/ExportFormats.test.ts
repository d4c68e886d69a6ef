// An export in each format on the in-memory adapters (ADR 50), each file read back with a standard reader and
// compared with the rows the source gives when queried directly: the gzip unpacks to the CSV export's very bytes,
// the Excel profile splits at ";" into the same cells, JSON Lines hold the report's typed values. A source that
// writes no Parquet fails the export with words that say so, once, and publishes nothing. A source that lends its
// pieces (ADR 57: valid until its stream is pulled again) gives every CSV format the same file.
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Chunk, Duration, Effect, Option, Stream } from "effect"
import { createHash } from "node:crypto"
import { gunzipSync } from "node:zlib"
import { MemoryFiles } from "../../src/adapters/memory/MemoryFileStore.js"
import { ReportSource } from "../../src/application/ports/ReportSource.js"
import { requestExport } from "../../src/application/RequestExport.js"
import type { ExportJob } from "../../src/domain/ExportJob.js"
import { objectKeyFor } from "../../src/domain/ExportJob.js"
import type { ExportFormat } from "../../src/domain/FileFormats.js"
import { FILE_FORMATS } from "../../src/domain/FileFormats.js"
import { Orders } from "../../src/domain/Reports.js"
import { alice, drainQueue, ordersInput, sentTo, storedJob, testLayer } from "../support/Fixtures.js"
import { lentPieces } from "../support/LentPieces.js"

const ROWS = 400

/** The orders report exported in `format`: the finished job and its file. */
const exported = (format: ExportFormat) =>
  Effect.gen(function*() {
    const job = yield* requestExport(alice, { ...ordersInput(), format })
    yield* drainQueue
    const done = yield* storedJob(job.jobId)
    if (done._tag !== "Succeeded") return yield* Effect.dieMessage(`the ${format} export ended ${done._tag}`)
    const file = Option.getOrThrow(yield* (yield* MemoryFiles).read(done.result.objectKey))
    expect(file.contentType).toBe(FILE_FORMATS[format].contentType)
    expect(file.downloadName).toBe(`orders_2024-01-01_2024-03-31.${FILE_FORMATS[format].extension}`)
    expect(done.result.objectKey.endsWith(`.${FILE_FORMATS[format].extension}`)).toBe(true)
    expect(done.result.rowCount).toBe(ROWS)
    expect(done.result.byteSize).toBe(file.bytes.length)
    expect(done.result.sha256).toBe(createHash("sha256").update(file.bytes).digest("hex"))
    return { job: done, bytes: file.bytes }
  })

/** The report's rows as the source gives them, queried directly. */
const queried = (job: ExportJob) =>
  Effect.flatMap(ReportSource, (source) =>
    Stream.runCollect(
      source.rows({
        jobId: job.jobId,
        merchantId: job.owner.merchantId,
        report: job.report,
        timeout: Duration.minutes(1)
      })
    )).pipe(Effect.map(Chunk.toReadonlyArray))

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8")

describe("an export in each format", () => {
  it.effect("csv.gz: a gzip that unpacks to exactly the csv export's bytes", () =>
    Effect.gen(function*() {
      const csv = yield* exported("csv")
      const gz = yield* exported("csv.gz")
      expect(gz.bytes.subarray(0, 2)).toStrictEqual(new Uint8Array([0x1f, 0x8b]))
      expect(gunzipSync(gz.bytes).equals(Buffer.from(csv.bytes))).toBe(true)
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("csv-excel: a byte order mark, then the csv's cells split at \";\" with decimal commas, CRLF", () =>
    Effect.gen(function*() {
      const csv = yield* exported("csv")
      const excel = yield* exported("csv-excel")
      expect(excel.bytes.subarray(0, 3)).toStrictEqual(new Uint8Array([0xef, 0xbb, 0xbf]))
      const lines = text(excel.bytes).slice(1).split("\r\n")
      expect(lines).toHaveLength(ROWS + 2)
      expect(lines.at(-1)).toBe("")
      const decimals = new Set(
        Orders.columns.flatMap((column, i) => column.type === "decimal" ? [i] : [])
      )
      const plain: Array<Array<string>> = parse(text(csv.bytes))
      const expected = plain.map((row, r) =>
        r === 0 ? row : row.map((cell, c) => decimals.has(c) ? cell.replace(".", ",") : cell)
      )
      expect(parse(text(excel.bytes), { delimiter: ";", bom: true })).toStrictEqual(expected)
      expect(lines[1]).toMatch(/;\d+;"\d+,\d+";"\d+(,\d+)?";"EUR"$/)
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("a source that lends its CSV pieces gives csv, csv-excel and csv.gz the same files as one that gives them", () =>
    Effect.gen(function*() {
      // Each piece a pull of its own, then lent: its bytes are written over at the next pull and at the end.
      const lending = (source: ReportSource["Type"]): ReportSource["Type"] =>
        ReportSource.of({
          ...source,
          csv: (query) =>
            lentPieces(Stream.rechunk(source.csv(query), 1), (piece) => piece.bytes, (piece, bytes) => ({
              ...piece,
              bytes
            }))
        })
      for (const format of ["csv", "csv-excel", "csv.gz"] as const) {
        const given = yield* exported(format)
        const lent = yield* Effect.updateService(exported(format), ReportSource, lending)
        const plain = (bytes: Uint8Array) => format === "csv.gz" ? gunzipSync(bytes) : Buffer.from(bytes)
        expect(text(plain(lent.bytes)), format).toBe(text(plain(given.bytes)))
      }
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("jsonl: one object a line, keyed by column name, typed by column type, equal to the rows queried", () =>
    Effect.gen(function*() {
      const { bytes, job } = yield* exported("jsonl")
      const lines = text(bytes).split("\n")
      expect(lines.pop()).toBe("")
      const rows = yield* queried(job)
      expect(lines.map((line): unknown => JSON.parse(line))).toStrictEqual(
        rows.map((row) =>
          Object.fromEntries(Orders.columns.map((column, i) => {
            const cell = row[i]
            return [column.name, column.type === "integer" || column.type === "decimal" ? Number(cell) : cell]
          }))
        )
      )
      // Decimals are written with every digit the source gave, cents included.
      expect(lines[0]).toContain(`"unit_price":${String(rows[0]![9])},`)
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("the notice and the email name the export's format, so two formats of one report are told apart", () =>
    Effect.gen(function*() {
      const { job } = yield* exported("jsonl")
      const { emails, inApp } = yield* sentTo(job.jobId)
      const described = "Orders (2024-01-01 to 2024-03-31) as JSON Lines"
      expect(inApp.map((notice) => notice.body.startsWith(`${described}: ${ROWS} rows`))).toStrictEqual([true])
      expect(emails.map((email) => email.subject)).toStrictEqual([`Your export is ready: ${described}`])
      expect(emails[0]!.html).toContain(">Download the JSON Lines file</a>")
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("parquet from a source that writes none: the job fails for good, its user is told once, no file is left", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, { ...ordersInput(), format: "parquet" })
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      if (done._tag !== "Failed") return expect.fail(`the export ended ${done._tag}`)
      expect(done.failure).toMatchObject({ reason: "FormatUnavailable", retryable: false })
      expect(done.failure.userMessage).toContain("Parquet")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect([emails.length, inApp.length]).toStrictEqual([1, 1])
      expect(emails[0]!.subject).toBe("Your export failed: Orders (2024-01-01 to 2024-03-31) as Parquet")
      expect(Option.isNone(yield* (yield* MemoryFiles).read(objectKeyFor({ ...done, attempts: 1 })))).toBe(true)
    }).pipe(Effect.provide(testLayer(ROWS))))
})
