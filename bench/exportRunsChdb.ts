// bench:export's runs on chdb (`--engine chdb`), in a module of their own: bench/exportRuns.ts imports it only for
// those runs, so that the ClickHouse runs do not load chdb's native library into the process they measure.
import { Session } from "chdb"
import { Layer } from "effect"
import { Readable } from "node:stream"
import { ChdbEngine } from "../src/adapters/chdb/ChdbEngine.js"
import * as ChdbReportSource from "../src/adapters/chdb/ChdbReportSource.js"
import { ExportSettings } from "../src/application/ExportSettings.js"
import { ReportSource } from "../src/application/ports/ReportSource.js"
import { definitionOf } from "../src/domain/Reports.js"
import type { ReportDefinition, ReportRequest } from "../src/domain/Reports.js"
import type { RunSettings } from "./exportProtocol.js"
import { serverWriteSql } from "./exportServerWrite.js"

export type ChdbRuns = ReturnType<typeof chdbRuns>

/** The chdb side of the runs; `open`: a session on the bench's data directory, opened now, before the clock. */
export const chdbRuns = (settings: RunSettings, open: boolean) => {
  const session = open ? new Session(settings.chdbDataDir) : undefined
  const opened = () => {
    if (session === undefined) throw new Error("no chdb session was opened for this run")
    return session
  }
  return {
    /** chdb's CSV of the query, chunk by chunk as the engine streams it, as a Node stream. */
    csv: (settings: RunSettings) =>
      Readable.from(
        (async function*() {
          for await (const chunk of opened().queryStream(settings.ordersSql, { format: "CSV" })) yield chunk.raw()
        })(),
        { objectMode: false }
      ),
    /** The chdb report source on the bench's data directory, opened when the layer is built. */
    reportSource: (settings: RunSettings, catalogue: (report: ReportRequest) => ReportDefinition) =>
      Layer.effect(ReportSource, ChdbReportSource.make(catalogue)).pipe(
        Layer.provide(ChdbEngine.Default(settings.chdbDataDir))
      ),
    /**
     * The engine writes the file to the bucket itself: the orders report's SQL in the export's dialect, formulas
     * neutralised in SQL, `INSERT INTO FUNCTION s3(...)` (ADR 43). Nothing of the file passes through this process
     * but the engine's own work. chdb tells no written-rows count; the bench counts the object's rows after the run.
     */
    serverWrite: async (settings: RunSettings) => {
      const objectKey = `${settings.key}.server`
      const sql = serverWriteSql(settings.ordersSql, definitionOf({ _tag: "orders" }).columns, {
        bom: ExportSettings.defaults.csvBom
      }, {
        url: `${settings.s3Endpoint}${settings.bucket}/${objectKey}`,
        partSize: settings.partSize,
        concurrency: settings.uploadConcurrency,
        credentials: { accessKey: settings.accessKey, secretKey: settings.accessKey }
      })
      const started = performance.now()
      await opened().queryAsync(sql, { format: "Null" })
      return { millis: performance.now() - started, rows: 0, bytes: 0, objectKey }
    },
    close: () => session?.close()
  }
}
