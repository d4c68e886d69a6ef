// The worker's pipeline over real servers: rows from clickhouse-server 18.16 through the ClickHouse adapter's
// streaming code, CSV, the S3 adapter's multipart upload into s3rver; jobs, notices and emails in memory. A query
// that times out on the server after megabytes were uploaded leaves nothing in the bucket, and the user is told; a
// job whose rows stream for seconds shows the server's progress in its record as they do.
import { assert, expect, layer } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import type { Stream } from "effect"
import { Duration, Effect, Fiber, Layer, Option, Schedule } from "effect"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import * as HttpExportLinks from "../../../src/adapters/http/HttpExportLinks.js"
import { DEFAULT_APP_BASE_URL } from "../../../src/adapters/http/HttpExportLinks.js"
import * as MemoryAdapters from "../../../src/adapters/memory/MemoryAdapters.js"
import * as S3FileStore from "../../../src/adapters/s3/S3FileStore.js"
import { ExportSettings } from "../../../src/application/ExportSettings.js"
import { bytesReader, FileStore } from "../../../src/application/ports/FileStore.js"
import type { FileMetadata } from "../../../src/application/ports/FileStore.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { requestExport } from "../../../src/application/RequestExport.js"
import { objectKeyFor } from "../../../src/domain/ExportJob.js"
import type { ObjectKey } from "../../../src/domain/ExportJob.js"
import type { Progress } from "../../../src/domain/ExportJob.js"
import { definitionOf } from "../../../src/domain/Reports.js"
import type { Column } from "../../../src/domain/Reports.js"
import { alice, datasetOf, drainQueue, ordersInput, sentTo, storedJob } from "../../support/Fixtures.js"
import { pendingUploads, S3rverServer } from "../../support/servers/S3rverServer.js"
import { headObject, PART_SIZE, readBack, settingsFor } from "../s3/S3Support.js"
import { clientOn1816, freshTableName, numbersTable, ordersShaped, readSlowly } from "./ClickHouseTestSupport.js"

/** The server stops it after 2 s, however long the export's own timeout: by then, many parts are uploaded. */
const TIMES_OUT_MID_UPLOAD = ordersShaped(
  "system.numbers",
  "SETTINGS max_execution_time = 2, timeout_overflow_mode = 'throw'"
)

const uploadedBytes = { count: 0 }

/** The S3 store on the file's s3rver, counting the bytes it takes from the body it uploads. */
const countingS3Store = Layer.effect(
  FileStore,
  Effect.map(FileStore, (store) =>
    FileStore.of({
      ...store,
      upload: <A, E>(
        key: ObjectKey,
        body: Stream.Stream<A, E>,
        metadata: FileMetadata,
        bytesOf?: (piece: A) => Uint8Array
      ) => {
        const read = bytesReader(bytesOf)
        return store.upload(key, body, metadata, (piece) => {
          const bytes = read(piece)
          uploadedBytes.count += bytes.length
          return bytes
        })
      }
    }))
).pipe(
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(S3rverServer, (info) => S3FileStore.layer(settingsFor(info)))))
)

/**
 * Every port in memory but the report source (ClickHouse 18.16 running `sql`, of the orders report's columns unless
 * `columns` says otherwise) and the file store (S3).
 */
const workerOn = (sql: string, columns?: ReadonlyArray<Column>) =>
  MemoryAdapters.layer(datasetOf(1)).pipe(
    Layer.merge(
      Layer.mergeAll(
        Layer.effect(
          ReportSource,
          ClickHouseReportSource.make({
            catalogue: (report) => ({ ...definitionOf(report), sql, ...(columns === undefined ? {} : { columns }) }),
            parametersOf: () => ({})
          })
        ),
        countingS3Store
      )
    ),
    Layer.provideMerge(
      Layer.merge(
        ExportSettings.layerWith({ queryTimeout: Duration.seconds(30) }),
        HttpExportLinks.layer(DEFAULT_APP_BASE_URL)
      )
    )
  )

const servers = Layer.merge(clientOn1816, S3rverServer.layer())

layer(servers, { timeout: Duration.seconds(60), excludeTestServices: true })("export over 18.16 and s3rver", (it) => {
  it.effect("a query timing out on the server after parts were uploaded leaves no object and no upload", () =>
    Effect.gen(function*() {
      const s3 = yield* S3rverServer
      uploadedBytes.count = 0
      const job = yield* requestExport(alice, ordersInput())
      // Watches the bucket while the export runs: the multipart upload must have been under way.
      let sawUpload = false
      const watching = yield* Effect.fork(
        Effect.sync(() => void (sawUpload ||= pendingUploads(s3).length > 0)).pipe(
          Effect.repeat(Schedule.spaced(Duration.millis(50)))
        )
      )
      yield* drainQueue
      yield* Fiber.interrupt(watching)

      const failed = yield* storedJob(job.jobId)
      assert(failed._tag === "Failed", `job ended ${failed._tag}`)
      expect(failed.failure.reason).toBe("QueryTimeout")
      expect(uploadedBytes.count).toBeGreaterThan(3 * PART_SIZE)
      expect(sawUpload).toBe(true)
      expect(yield* headObject(objectKeyFor(failed))).toEqual(Option.none())
      expect(pendingUploads(s3)).toEqual([])

      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(inApp.map((notice) => notice.kind)).toEqual(["export_failed"])
      expect(emails).toHaveLength(1)
      expect(emails[0]!.text).toContain("shorter date range")
    }).pipe(Effect.provide(workerOn(TIMES_OUT_MID_UPLOAD))))

  it.effect("the same pipeline on a query that ends uploads the whole file, row for row", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      assert(done._tag === "Succeeded", `job ended ${done._tag}`)
      expect(done.result.rowCount).toBe(50_000)
      const file = Option.getOrThrow(yield* readBack(done.result.objectKey))
      expect(file.length).toBe(done.result.byteSize)
      const rows: Array<Array<string>> = parse(Buffer.from(file).toString("utf8"))
      expect(rows).toHaveLength(50_001)
      expect(rows[1]).toEqual([
        "m-acme-0",
        "1",
        "2024-01-01 00:00:00",
        "delivered",
        "C0",
        "P0",
        "SKU-0",
        "Desk lamp, \"large\"",
        "1",
        "12.50",
        "25.00",
        "EUR"
      ])
      expect(rows[50_000]![0]).toBe("m-acme-49999")
      const s3 = yield* S3rverServer
      expect(pendingUploads(s3)).toEqual([])
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect([emails.length, inApp.map((notice) => notice.kind)]).toEqual([1, ["export_succeeded"]])
    }).pipe(Effect.provide(workerOn(ordersShaped("numbers(50000)")))))

  it.effect("a job's progress while its rows stream: rows written, the total the server will read, a percent that rises", () => {
    const total = 300_000
    // The table is made before the job, in the test's own effect: the worker's SQL only names it.
    const table = freshTableName()
    return Effect.gen(function*() {
      yield* numbersTable(total, table)
      const job = yield* requestExport(alice, ordersInput())
      // What a reader of the job store saw while the export ran, every 100 ms.
      const seen: Array<Progress> = []
      const watching = yield* Effect.fork(
        storedJob(job.jobId).pipe(
          Effect.tap((stored) =>
            Effect.sync(() => {
              if (stored._tag === "Running" && stored.progress !== undefined) seen.push(stored.progress)
            })
          ),
          Effect.repeat(Schedule.spaced(Duration.millis(100)))
        )
      )
      yield* drainQueue
      yield* Fiber.interrupt(watching)

      const done = yield* storedJob(job.jobId)
      assert(done._tag === "Succeeded", `job ended ${done._tag}`)
      expect(done.result.rowCount).toBe(total)
      // About 6 s of rows (50 000 a second), written at most once a second.
      const percents = seen.flatMap((progress) => progress.percent === undefined ? [] : [progress.percent])
      expect(percents).toEqual([...percents].sort((a, b) => a - b))
      expect(new Set(percents).size).toBeGreaterThanOrEqual(3)
      expect(Math.max(...percents)).toBeLessThanOrEqual(100)
      expect(Math.min(...percents)).toBeLessThan(100)
      // Once the server has said what it will read (in whole granules of 8192 rows), it stays said.
      const told = seen.findIndex((progress) => progress.totalRows !== undefined)
      expect(told).toBeGreaterThanOrEqual(0)
      expect(new Set(seen.slice(told).map((progress) => progress.totalRows))).toEqual(
        new Set([Math.ceil(total / 8192) * 8192])
      )
      // Reported while the rows streamed.
      expect(seen.some((progress) => progress.rows > 0 && progress.rows < total && progress.percent !== undefined))
        .toBe(true)
    }).pipe(Effect.provide(workerOn(
      `SELECT number, concat('line-', toString(number), '-padding-padding-padding-padding-padding-padding')
       FROM ${readSlowly(table, 50_000)} SETTINGS max_threads = 1`,
      [{ name: "n", type: "integer", header: "N" }, { name: "text", type: "string", header: "Text" }]
    )))
  })
})
