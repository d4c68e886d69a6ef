// One measured run of `npm run bench:export`, in a process of its own so that its peak RSS is its own: started by
// bench/export.ts (bundled with esbuild, run with plain node) as `node exportRuns.mjs <kind>` with its settings in
// BENCH_EXPORT_SETTINGS, it prints one result line and exits.
//   - clickhouse-csv: ClickHouse's own CSV of the query over HTTP, read and thrown away (the first baseline);
//   - s3-upload: a multipart upload of a file's bytes to the bucket with lib-storage (the second baseline);
//   - clickhouse-to-s3: the two baselines joined, the server's CSV straight into lib-storage with nothing between
//     (no rewriting, no checks, no hash): how fast any pipeline from this server to this bucket can go here;
//   - pipeline: the production streaming path, an export run by the application on the ClickHouse and S3 adapters;
//   - pipeline-rewrite (chdb-http only): the same, with the ClickHouse source told not to ask whether the server
//     writes the export's CSV itself: the server's CSV rewritten by the reader, as on 18.16 (ADR 17), for an A/B of
//     ADR 53 on one server;
//   - server-write (chdb only): the engine writes the export's file to the bucket itself, `INSERT INTO FUNCTION
//     s3(...)`, no row through the worker (ADR 43).
// With `--engine chdb`, the engine is chdb in the run's own process, on a data directory the bench loaded, opened
// before the run is timed (as the worker's engine is open before its first export).
import { S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { createReadStream, readFileSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import type { IncomingMessage } from "node:http"
import { performance } from "node:perf_hooks"
import * as ClickHouseClient from "../src/adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../src/adapters/clickhouse/ClickHouseReportSource.js"
import * as HttpExportLinks from "../src/adapters/http/HttpExportLinks.js"
import { DEFAULT_APP_BASE_URL } from "../src/adapters/http/HttpExportLinks.js"
import { FaultInjection } from "../src/adapters/memory/FaultInjection.js"
import * as MemoryEmailSender from "../src/adapters/memory/MemoryEmailSender.js"
import * as MemoryInAppNotifier from "../src/adapters/memory/MemoryInAppNotifier.js"
import * as MemoryJobQueue from "../src/adapters/memory/MemoryJobQueue.js"
import * as MemoryJobStore from "../src/adapters/memory/MemoryJobStore.js"
import * as S3FileStore from "../src/adapters/s3/S3FileStore.js"
import { ExportSettings } from "../src/application/ExportSettings.js"
import { handleDelivery } from "../src/application/ExportWorker.js"
import { JobIds } from "../src/application/JobIds.js"
import { ReportSource } from "../src/application/ports/ReportSource.js"
import { requestExport } from "../src/application/RequestExport.js"
import { EmailAddress, MerchantId, Owner, UserId } from "../src/domain/Identifiers.js"
import { definitionOf } from "../src/domain/Reports.js"
import type { ReportDefinition, ReportRequest } from "../src/domain/Reports.js"
import { applyWorkerHeapGrowth } from "../src/runtimes/WorkerProcessSettings.js"
import { countCollections } from "../test/support/Collections.js"
import { RESULT_PREFIX } from "./exportProtocol.js"
import type { MemoryAtPeak, RunKind, RunResult, RunSettings } from "./exportProtocol.js"
import type { ChdbRuns } from "./exportRunsChdb.js"

/** What a run measures itself; the process's CPU and memory are added around it. */
type Measured = Omit<RunResult, "kind" | "maxRssBytes" | "cpuMillis" | "atPeak" | "collections">

/** The line feeds in a piece of the server's CSV: its rows, since the bench's cells hold none. */
const linesIn = (chunk: Uint8Array): number => {
  let lines = 0
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
  return lines
}

const clickhouseCsv = async (settings: RunSettings): Promise<Measured> => {
  const started = performance.now()
  const response = await fetch(settings.clickhouseUrl, {
    method: "POST",
    body: `${settings.ordersSql}\nFORMAT CSV`
  })
  if (!response.ok || response.body === null) throw new Error(`ClickHouse answered ${response.status}`)
  let bytes = 0
  let rows = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.length
    rows += linesIn(chunk)
  }
  return { millis: performance.now() - started, rows, bytes }
}

/** The SDK's client of the bench's bucket, with its defaults, as a plain lib-storage user has it. */
const bucketClient = (settings: RunSettings) =>
  new S3Client({
    region: "us-east-1",
    endpoint: settings.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.accessKey }
  })

const s3Upload = async (settings: RunSettings): Promise<Measured> => {
  const client = bucketClient(settings)
  const started = performance.now()
  let bytes = 0
  const body = createReadStream(settings.file)
  body.on("data", (chunk) => (bytes += chunk.length))
  await new Upload({
    client,
    params: { Bucket: settings.bucket, Key: settings.key, Body: body, ContentType: "text/csv; charset=utf-8" },
    partSize: settings.partSize,
    queueSize: settings.uploadConcurrency,
    leavePartsOnError: false
  }).done()
  client.destroy()
  return { millis: performance.now() - started, rows: 0, bytes }
}

/** The query's CSV as node:http gives it, a Node stream with backpressure, as lib-storage reads a body. */
const clickhouseResponse = (settings: RunSettings) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(settings.clickhouseUrl, { method: "POST" }, (response) => {
      if (response.statusCode === 200) return resolve(response)
      response.resume()
      reject(new Error(`ClickHouse answered ${response.statusCode}`))
    })
    req.on("error", reject)
    req.end(`${settings.ordersSql}\nFORMAT CSV`)
  })

const clickhouseToS3 = async (settings: RunSettings, chdb: ChdbRuns | undefined): Promise<Measured> => {
  const client = bucketClient(settings)
  const objectKey = `${settings.key}.joined`
  const started = performance.now()
  let bytes = 0
  let rows = 0
  const body = chdb === undefined ? await clickhouseResponse(settings) : chdb.csv(settings)
  body.on("data", (chunk: Buffer) => {
    bytes += chunk.length
    rows += linesIn(chunk)
  })
  await new Upload({
    client,
    params: { Bucket: settings.bucket, Key: objectKey, Body: body, ContentType: "text/csv; charset=utf-8" },
    partSize: settings.partSize,
    queueSize: settings.uploadConcurrency,
    leavePartsOnError: false
  }).done()
  client.destroy()
  return { millis: performance.now() - started, rows, bytes, objectKey }
}

/**
 * An export of the orders report over the whole range, as the worker runs it: requested through the application
 * (job recorded, message queued, in memory), then run from its message on the ClickHouse and S3 adapters.
 */
const runPipeline = (settings: RunSettings, chdb: ChdbRuns | undefined, rewrite = false): Promise<Measured> => {
  // The catalogue's orders report with its SQL as the bench wrote it: literal values, since 18.16 binds none.
  const catalogue = (report: ReportRequest): ReportDefinition => ({ ...definitionOf(report), sql: settings.ordersSql })
  const reportSource = chdb !== undefined
    ? chdb.reportSource(settings, catalogue)
    : Layer.effect(
      ReportSource,
      ClickHouseReportSource.make({ catalogue, parametersOf: () => ({}), ...(rewrite ? { serverCsv: false } : {}) })
    ).pipe(
      Layer.provide(ClickHouseClient.layer({
        url: new URL(settings.clickhouseUrl),
        username: "default",
        password: Redacted.make(""),
        database: "default",
        requestTimeout: Duration.minutes(30),
        maxConnections: 4
      }))
    )
  const files = S3FileStore.layer({
    bucket: settings.bucket,
    region: "us-east-1",
    endpoint: Option.some(new URL(settings.s3Endpoint)),
    forcePathStyle: true,
    credentials: Option.some({
      accessKeyId: Redacted.make(settings.accessKey),
      secretAccessKey: Redacted.make(settings.accessKey)
    }),
    partSize: settings.partSize,
    uploadConcurrency: settings.uploadConcurrency,
    callTimeout: S3FileStore.DEFAULT_CALL_TIMEOUT,
    quickCallTimeout: S3FileStore.QUICK_CALL_TIMEOUT
  })
  const layers = Layer.mergeAll(
    reportSource,
    files,
    MemoryJobStore.layer,
    MemoryJobQueue.layer,
    MemoryInAppNotifier.layer,
    MemoryEmailSender.layer,
    JobIds.Default,
    HttpExportLinks.layer(DEFAULT_APP_BASE_URL),
    ExportSettings.layerWith({ queryTimeout: Duration.minutes(30) })
  ).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        MemoryJobQueue.MemoryQueue.Default,
        MemoryInAppNotifier.MemoryInbox.Default,
        MemoryEmailSender.MemoryOutbox.Default
      )
    ),
    Layer.provideMerge(FaultInjection.Default)
  )
  const program = Effect.gen(function*() {
    const caller = {
      owner: new Owner({ userId: UserId.make("bench-user"), merchantId: MerchantId.make(settings.merchantId) }),
      email: Redacted.make(EmailAddress.make("bench-user@example.com"))
    }
    yield* requestExport(caller, {
      reportType: "orders",
      format: settings.format,
      params: { dateFrom: settings.dateFrom, dateTo: settings.dateTo, timezone: "Europe/Paris" }
    })
    const queue = yield* MemoryJobQueue.MemoryQueue
    const [body] = yield* queue.published
    if (body === undefined) return yield* Effect.dieMessage("the request queued no message")
    const started = performance.now()
    const verdict = yield* handleDelivery(body)
    const millis = performance.now() - started
    if (verdict._tag !== "Ack" || verdict.outcome._tag !== "Finished" || verdict.outcome.job._tag !== "Succeeded") {
      return yield* Effect.dieMessage(`the export did not succeed: ${JSON.stringify(verdict)}`)
    }
    const { result } = verdict.outcome.job
    return { millis, rows: result.rowCount, bytes: result.byteSize, objectKey: result.objectKey, sha256: result.sha256 }
  })
  return Effect.runPromise(program.pipe(Effect.provide(layers), Effect.scoped))
}

// As the worker's entry modules do, before any export (ADR 20).
applyWorkerHeapGrowth()
const kind = process.argv[2] as RunKind
const settings = JSON.parse(process.env["BENCH_EXPORT_SETTINGS"] ?? "{}") as RunSettings
/** RssAnon and RssFile from /proc/self/status, in bytes (0 where there is no /proc). */
const rssSplit = (): { readonly rssAnon: number; readonly rssFile: number } => {
  let status = ""
  try {
    status = readFileSync("/proc/self/status", "utf8")
  } catch {
    return { rssAnon: 0, rssFile: 0 }
  }
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024
  return { rssAnon: kib("RssAnon"), rssFile: kib("RssFile") }
}
let atPeak: MemoryAtPeak = { rss: 0, heapTotal: 0, external: 0, arrayBuffers: 0, rssAnon: 0, rssFile: 0 }
const MEMORY_TRACE_HEADER = "ms,rss,heapTotal,heapUsed,external,arrayBuffers,rssAnon,rssFile\n"
const trace: Array<string> = []
const sampleStarted = performance.now()
const sampler = setInterval(() => {
  const { arrayBuffers, external, heapTotal, heapUsed, rss } = process.memoryUsage()
  const split = rssSplit()
  if (rss > atPeak.rss) atPeak = { rss, heapTotal, external, arrayBuffers, ...split }
  if (settings.memoryTrace !== "") {
    trace.push(
      [
        performance.now() - sampleStarted,
        rss,
        heapTotal,
        heapUsed,
        external,
        arrayBuffers,
        split.rssAnon,
        split.rssFile
      ]
        .map((x) => Math.round(x)).join(",")
    )
  }
}, 50)
const collecting = countCollections()
const cpuBefore = process.cpuUsage()
// chdb (its native library, ~200 MiB of RSS) is loaded by chdb runs only. Their engine is opened before the clock
// starts; the pipeline opens it with its layers.
const chdb = settings.engine === "chdb"
  ? (await import("./exportRunsChdb.js")).chdbRuns(settings, kind !== "pipeline")
  : undefined
const measured = kind === "clickhouse-csv"
  ? await clickhouseCsv(settings)
  : kind === "s3-upload"
  ? await s3Upload(settings)
  : kind === "clickhouse-to-s3"
  ? await clickhouseToS3(settings, chdb)
  : kind === "server-write" && chdb !== undefined
  ? await chdb.serverWrite(settings)
  : await runPipeline(settings, chdb, kind === "pipeline-rewrite")
const cpu = process.cpuUsage(cpuBefore)
chdb?.close()
clearInterval(sampler)
if (settings.memoryTrace !== "") {
  writeFileSync(settings.memoryTrace, MEMORY_TRACE_HEADER + trace.join("\n") + "\n")
  // Which mappings hold the memory once the run is over: the main heap, glibc's arenas, single mappings.
  writeFileSync(settings.memoryTrace.replace(/\.csv$/, ".smaps"), readFileSync("/proc/self/smaps", "utf8"))
}
const collections = await collecting.stop()
const result: RunResult = {
  kind,
  ...measured,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  cpuMillis: (cpu.user + cpu.system) / 1000,
  atPeak,
  collections
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`)
