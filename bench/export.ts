// `npm run bench:export [-- --rows 1000000,10000000 --rounds 1 --part-size-mib 8 --upload-concurrency 4
//   --engine clickhouse|chdb --runs KIND,... --formats FORMAT,...|none --cpu-prof-dir DIR --trace-memory DIR]`
//
// Streams an orders export of N generated order lines through the production pipeline (the ClickHouse adapter's
// HTTP stream -> the application's CSV -> the S3 adapter's multipart upload) and, in the same command, two
// baselines: ClickHouse's own CSV of the same query read over HTTP and thrown away, and a raw lib-storage multipart
// upload of that CSV's bytes to the same bucket. A third run joins the two baselines (the server's CSV straight into
// lib-storage, nothing between): the joined run, the peer the pipeline's target is set against (issue 18). The
// servers are Debian's ClickHouse 18.16 and s3rver, both on 127.0.0.1 and free ports, started here and stopped at
// the end. 18.16 has no query parameters, so the pipeline runs the orders report's SQL with literal values through
// the same streaming code.
// `--engine chdb-http` runs every run as on ClickHouse, over HTTP, but against a server that writes the export's CSV
// itself (ADR 53): chdb (ClickHouse 26.x) behind a streaming front of ClickHouse's HTTP interface
// (bench/chdbHttpFront.ts), in a process of its own, its CPU counted as the server's.
// `--engine chdb` runs the same query shape on chdb (ClickHouse 26.x) inside each run's process instead, for the
// joined run, the pipeline (the chdb report source) and `server-write`: the engine writes the export's file to the
// bucket itself (ADR 43), read back afterwards and checked against the pipeline's SHA-256, byte for byte.
// Each run is a child process of its own, so that its peak RSS is its own, started with the worker's process
// settings (ADR 19: a 1 MiB young generation, glibc's fixed mmap threshold), as production starts the worker.
// Production runs bundled JavaScript, not TypeScript through a loader: bench/exportRuns.ts is bundled once with
// esbuild (minified, as scripts/build.ts does, without source maps; chdb left external for its native addon) and
// every run is plain `node <bundle>`, so that peak RSS and CPU are the pipeline's, not tsx's. Loading the bundle
// alone (Effect, the AWS SDK, the ClickHouse client) takes a process to ~90-100 MiB RSS: that is in every run's peak.
// Every step prints a progress line with its time; a step that does not finish within its limit fails the command
// with the step's name (a hung run is killed by its pid). `--cpu-prof-dir DIR` runs the children under
// `node --cpu-prof` (the bundle then not minified, for the functions' names), one .cpuprofile per run in DIR;
// `--trace-memory DIR` has each run write its memory every 50 ms (RSS, V8's heap, buffers, anonymous and file-backed
// pages) and its /proc/self/smaps at the end, to DIR; `--runs` keeps some of the runs (no verdict without the
// pipeline and the joined run).
// At the smallest N, in the first round, the pipeline also runs once in each other format (`--formats`, by default
// every format the engine writes: csv-excel, csv.gz and jsonl, and parquet on chdb), each object read back and
// checked against the run's size and SHA-256: a table for information beside the csv pipeline, not in the verdict.
// Prints every run, then one verdict line on issue 18's targets: the pipeline reaches at least 0.95 of the joined
// run's rows/s at every N (medians over the rounds), its peak RSS stays under 150 MiB at every N and within 10% from
// the smallest N to the largest. Exits with 0 when they are met, 1 when not, or when a run is invalid (an export
// that did not succeed, a row count, object size or hash that does not match, a child that failed or hung).
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { Cause, Duration, Effect } from "effect"
import { build } from "esbuild"
import type { Plugin } from "esbuild"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { request } from "node:http"
import { cpus, tmpdir, totalmem } from "node:os"
import { dirname, join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { pipeline as pipeStreams } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { ESBUILD_NODE_TARGET } from "../scripts/NodeTarget.js"
import { DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY } from "../src/adapters/s3/S3FileStore.js"
import { EXPORT_FORMATS } from "../src/domain/FileFormats.js"
import type { ExportFormat } from "../src/domain/FileFormats.js"
import { WORKER_ENVIRONMENT, WORKER_NODE_OPTIONS } from "../src/runtimes/WorkerProcessSettings.js"
import { startClickHouseServer } from "../test/support/servers/ClickHouseServer.js"
import { S3RVER_ACCESS_KEY, startS3rver } from "../test/support/servers/S3rverServer.js"
import { RESULT_PREFIX } from "./exportProtocol.js"
import type { Engine, RunKind, RunResult, RunSettings } from "./exportProtocol.js"
import { answerHelp, integerFlags } from "./flags.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
/** Issue 18's targets: the pipeline at least this share of the joined run's rows/s, at every N (median of rounds). */
const RATIO_TARGET = 0.95
const RSS_CEILING_MIB = 150
const RSS_FLATNESS = 0.1
const MERCHANT = "m-bench"
const TABLE = "bench_order_lines"

const USAGE = "Usage: npm run bench:export -- [--rows 1000000,10000000] [--rounds 1] " +
  `[--part-size-mib ${DEFAULT_PART_SIZE / (1024 * 1024)}] [--upload-concurrency ${DEFAULT_UPLOAD_CONCURRENCY}] ` +
  "[--engine clickhouse|chdb-http|chdb] [--runs KIND,...] [--formats FORMAT,...|none] [--cpu-prof-dir DIR] [--trace-memory DIR]"

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000,10000000" },
    rounds: { type: "string", default: "1" },
    // Production's own defaults (S3_PART_SIZE, S3_UPLOAD_CONCURRENCY), for both the pipeline and lib-storage's runs.
    "part-size-mib": { type: "string", default: String(DEFAULT_PART_SIZE / (1024 * 1024)) },
    "upload-concurrency": { type: "string", default: String(DEFAULT_UPLOAD_CONCURRENCY) },
    engine: { type: "string", default: "clickhouse" },
    "cpu-prof-dir": { type: "string" },
    "trace-memory": { type: "string" },
    runs: { type: "string" },
    formats: { type: "string" },
    help: { type: "boolean", default: false }
  },
  strict: true
})

answerHelp(flags.help, USAGE)
const integerFlag = integerFlags(USAGE)

const rowCounts = flags.rows.split(",").map((n) => integerFlag("rows", n.trim(), 1000, 50_000_000))
const rounds = integerFlag("rounds", flags.rounds, 1, 5)
const partSize = integerFlag("part-size-mib", flags["part-size-mib"], 5, 64) * 1024 * 1024
const uploadConcurrency = integerFlag("upload-concurrency", flags["upload-concurrency"], 1, 16)
const cpuProfDir = flags["cpu-prof-dir"] === undefined ? undefined : resolve(flags["cpu-prof-dir"])
const memoryTraceDir = flags["trace-memory"] === undefined ? undefined : resolve(flags["trace-memory"])
if (flags.engine !== "clickhouse" && flags.engine !== "chdb" && flags.engine !== "chdb-http") {
  process.stderr.write(`--engine must be clickhouse, chdb-http or chdb\n${USAGE}\n`)
  process.exit(2)
}
/** The engine the bench names; the runs of `chdb-http` read a server over HTTP, as those of `clickhouse` do. */
const engineFlag = flags.engine
const engine: Engine = engineFlag === "chdb" ? "chdb" : "clickhouse"
/**
 * The runs of each round, one after the other. On chdb the engine lives in the run's process, so the two baselines
 * that measure a server alone are left out; the engine writing the object itself is added (ADR 43).
 */
const ENGINE_KINDS: ReadonlyArray<RunKind> = engineFlag === "clickhouse"
  ? ["clickhouse-csv", "s3-upload", "clickhouse-to-s3", "pipeline"]
  : engineFlag === "chdb-http"
  ? ["clickhouse-csv", "s3-upload", "clickhouse-to-s3", "pipeline", "pipeline-rewrite"]
  : ["clickhouse-to-s3", "pipeline", "server-write"]
/**
 * Beside the csv runs, one pipeline run in each other format (ADR 50), at the smallest N in the first round: for
 * information, beside the csv pipeline's run, never in the verdict. Parquet only on chdb: 18.16 has none.
 */
const ENGINE_FORMATS: ReadonlyArray<ExportFormat> = EXPORT_FORMATS.filter((format) =>
  format !== "csv" && (format !== "parquet" || engine === "chdb")
)
const FORMATS: ReadonlyArray<ExportFormat> = flags.formats === undefined
  ? ENGINE_FORMATS
  : flags.formats === "none"
  ? []
  : ENGINE_FORMATS.filter((format) => flags.formats!.split(",").map((f) => f.trim()).includes(format))
if (flags.formats !== undefined && flags.formats !== "none" && FORMATS.length !== flags.formats.split(",").length) {
  process.stderr.write(`--formats must name formats this engine writes: ${ENGINE_FORMATS.join(", ")}\n${USAGE}\n`)
  process.exit(2)
}
/**
 * `--runs` keeps some of them, for a look at one run (a profile, a memory trace); the verdict needs the joined run
 * and the pipeline, and says "not measured" without them.
 */
const KINDS: ReadonlyArray<RunKind> = flags.runs === undefined
  ? ENGINE_KINDS
  : ENGINE_KINDS.filter((kind) => flags.runs!.split(",").map((k) => k.trim()).includes(kind))
if (KINDS.length === 0 || (flags.runs !== undefined && KINDS.length !== flags.runs.split(",").length)) {
  process.stderr.write(`--runs must name runs of this engine: ${ENGINE_KINDS.join(", ")}\n${USAGE}\n`)
  process.exit(2)
}

// ------------------------------------------------------------------------------------------------- progress

const benchStarted = performance.now()
const progress = (text: string) =>
  process.stdout.write(`[${((performance.now() - benchStarted) / 1000).toFixed(1).padStart(7)} s] ${text}\n`)

/**
 * One step of the bench, announced, timed and bounded: past `limit` the command fails with the step's name rather
 * than sitting there. The effect is interrupted; what it started outside Effect is the caller's to stop.
 */
const step = <A, E, R>(name: string, limit: Duration.DurationInput, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    progress(`${name} ...`)
    const started = performance.now()
    return effect.pipe(
      Effect.timeoutFail({
        duration: limit,
        onTimeout: () => new Error(`bench step "${name}" did not finish within ${Duration.format(limit)}`)
      }),
      Effect.tap(() => progress(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`))
    )
  })

/** Time limits that grow with the data: generous (several times the slowest run seen), never unbounded. */
const limitFor = (rows: number, rowsPerSecond: number) => Duration.seconds(60 + Math.ceil(rows / rowsPerSecond))

// ------------------------------------------------------------------------------------------------- the data

// The production table's columns, in types 18.16 has (no DateTime64, no LowCardinality by default).
const TABLE_DDL = `
CREATE TABLE ${TABLE} (
  merchant_id String, order_id String, line_number UInt32, ordered_at DateTime('UTC'), status String,
  customer_id String, product_id String, sku String, product_name String, quantity UInt32,
  unit_price Decimal(18, 2), line_total Decimal(18, 2), currency String
) ENGINE = MergeTree PARTITION BY toYYYYMM(ordered_at) ORDER BY (merchant_id, ordered_at, order_id, line_number)`

// Three lines per order, an order every 2 s from 2024-01-01: 10M lines span about 77 days. Product names carry
// quotes and commas so that the CSV has cells to quote, as real catalogues do.
const FIRST_INSTANT = Date.UTC(2024, 0, 1) / 1000
const loadSql = (rows: number) => `
INSERT INTO ${TABLE} SELECT
  '${MERCHANT}', concat('${MERCHANT}-', toString(intDiv(number, 3))), toUInt32(number % 3 + 1),
  toDateTime(${FIRST_INSTANT} + intDiv(number, 3) * 2, 'UTC'), ['paid', 'shipped', 'refunded'][number % 3 + 1],
  concat('c-', toString(number % 5000)), concat('p-', toString(number % 400)), concat('SKU-', toString(number % 400)),
  concat('Product "', toString(number % 400), '", large'), toUInt32(number % 5 + 1),
  toDecimal64((number % 9000) / 100 + 1, 2), toDecimal64(((number % 9000) / 100 + 1) * (number % 5 + 1), 2), 'EUR'
FROM numbers(${rows})`

const lastDay = (rows: number) => new Date((FIRST_INSTANT + Math.ceil(rows / 3) * 2) * 1000).toISOString().slice(0, 10)

// 18.16 cannot read a table in its sort key's order (newer servers can: the key starts with the merchant and the
// time), so it sorts the whole result first: in memory, 10M rows pass the test server's 2 GB limit per query. Past
// this size it sorts on disk. The three runs sort the same way; the time to the first byte is in all of them.
const EXTERNAL_SORT_BYTES = 500_000_000

// The catalogue's orders SQL (src/domain/Reports.ts) with its parameters written in: merchant, range, time zone.
const ordersSql = (dateFrom: string, dateTo: string) => `
SELECT
  order_id, line_number,
  formatDateTime(ordered_at, '%Y-%m-%d %H:%M:%S', 'Europe/Paris') AS ordered_at_local,
  status, customer_id, product_id, sku, product_name, quantity,
  toString(unit_price) AS unit_price, toString(line_total) AS line_total, currency
FROM ${TABLE}
WHERE merchant_id = '${MERCHANT}'
  AND toDate(ordered_at, 'Europe/Paris') >= toDate('${dateFrom}')
  AND toDate(ordered_at, 'Europe/Paris') <= toDate('${dateTo}')
ORDER BY ordered_at, order_id, line_number
SETTINGS max_bytes_before_external_sort = ${EXTERNAL_SORT_BYTES}`

const clickhouse = (url: string, sql: string) =>
  Effect.tryPromise((signal) =>
    fetch(url, { method: "POST", body: sql, signal }).then(async (response) => {
      const text = await response.text()
      if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${text.slice(0, 500)}`)
      return text
    })
  )

/**
 * The query's CSV written to `file`, through node:http straight into a file stream (a plain Node stream with
 * backpressure, no web-stream adapter), aborted when interrupted.
 */
const dumpCsv = (url: string, sql: string, file: string) =>
  Effect.async<number, Error>((resume, signal) => {
    let bytes = 0
    const req = request(url, { method: "POST", signal }, (response) => {
      if (response.statusCode !== 200) {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (text += chunk))
        response.on("end", () => resume(Effect.fail(new Error(`ClickHouse answered ${response.statusCode}: ${text}`))))
        return
      }
      response.on("data", (chunk: Buffer) => (bytes += chunk.length))
      pipeStreams(response, createWriteStream(file)).then(
        () => resume(Effect.succeed(bytes)),
        (error: unknown) => resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
      )
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(`${sql}\nFORMAT CSV`)
  })

/**
 * A statement on chdb, on a session opened for it alone and closed after: each run opens the same data directory in
 * its own process, and libchdb holds one directory per process.
 */
const chdbSql = (dataDir: string, sql: string) =>
  Effect.tryPromise(async () => {
    const { drainPending, Session } = await import("chdb")
    mkdirSync(dataDir, { recursive: true })
    const session = new Session(dataDir)
    try {
      return (await session.queryAsync(sql, { format: "TSV" })).text()
    } finally {
      session.close()
      await drainPending()
    }
  })

/** An object's SHA-256, size and line count, read from the bucket as a stream. */
const objectDigest = (client: S3Client, bucket: string, key: string) =>
  Effect.tryPromise(async () => {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    const digest = createHash("sha256")
    let bytes = 0
    let lines = 0
    for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
      digest.update(chunk)
      bytes += chunk.length
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
    }
    return { sha256: digest.digest("hex"), bytes, lines }
  })

// ------------------------------------------------------------------------------------------------- the bundle

/**
 * bench/exportRuns.ts and everything it imports, bundled as production bundles its entry points (esbuild, ESM for
 * Node), so that each run is plain `node` without a TypeScript loader in its memory and CPU.
 */
const CHDB_THREAD_SOURCE = "\"./ChdbThread.ts\""
const CHDB_HTTP_FRONT_BUILT = "chdbHttpFront.mjs"
const CHDB_THREAD_BUILT = "ChdbThread.mjs"

/** The engine's module, naming the JavaScript build of its thread's file; it fails the build if it names none. */
const chdbThreadBuilt: Plugin = {
  name: "chdb-thread-built",
  setup: (build) => {
    build.onLoad({ filter: /[\\/]ChdbEngine\.ts$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      if (!source.includes(CHDB_THREAD_SOURCE)) throw new Error(`ChdbEngine.ts no longer names ${CHDB_THREAD_SOURCE}`)
      return { contents: source.replace(CHDB_THREAD_SOURCE, `"./${CHDB_THREAD_BUILT}"`), loader: "ts" }
    })
  }
}

const bundleRuns = Effect.tryPromise(async () => {
  // Inside the project, so that the bundle finds chdb, whose native addon is loaded from node_modules, not bundled.
  const outdir = join(ROOT, "node_modules", ".cache", "bench-export")
  rmSync(outdir, { recursive: true, force: true })
  await build({
    entryPoints: [join(ROOT, "bench", "exportRuns.ts")],
    outdir,
    // bench/exportRunsChdb.ts in a chunk of its own, loaded by chdb runs only: chdb's native library would
    // otherwise be in every run's process and its peak RSS.
    splitting: true,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: ESBUILD_NODE_TARGET,
    // As scripts/build.ts bundles the Lambda handlers, but for source maps: Node with --enable-source-maps holds
    // a parsed map of the whole bundle (~70 MiB here), which would be measured as the pipeline's memory.
    // Profiles keep the functions' names.
    minify: cpuProfDir === undefined,
    legalComments: "none",
    logLevel: "warning",
    external: ["chdb"],
    plugins: [chdbThreadBuilt],
    // CommonJS dependencies (the AWS SDK's, among others) call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __benchCreateRequire } from \"node:module\"; " +
        "const require = __benchCreateRequire(import.meta.url);"
    }
  })
  // Beside the runs, so that each finds chdb in node_modules: the chdb engine's thread, which the engine starts from
  // the TypeScript file beside its module (ADR 44), which Node strips of its types but not under node_modules; and
  // the chdb-http engine's server.
  for (
    const [entry, built] of [
      [join(ROOT, "src", "adapters", "chdb", "ChdbThread.ts"), CHDB_THREAD_BUILT],
      [join(ROOT, "bench", "chdbHttpFront.ts"), CHDB_HTTP_FRONT_BUILT]
    ] as const
  ) {
    await build({
      entryPoints: [entry],
      outfile: join(outdir, built),
      bundle: true,
      platform: "node",
      format: "esm",
      target: ESBUILD_NODE_TARGET,
      logLevel: "warning",
      external: ["chdb"]
    })
  }
  return join(outdir, "exportRuns.mjs")
})

/** The chdb-http engine's server (bench/chdbHttpFront.ts) on `dataDir`, in a process of its own, killed on release. */
const startChdbHttpFront = (bundle: string, dataDir: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: URL; readonly pid: number; readonly kill: () => void }, Error>((resume) => {
      mkdirSync(dataDir, { recursive: true })
      const child = spawn(process.execPath, [join(dirname(bundle), CHDB_HTTP_FRONT_BUILT), dataDir], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"]
      })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
        const port = /^(\d+)\n/.exec(output)?.[1]
        if (port !== undefined && child.pid !== undefined) {
          resume(Effect.succeed({
            url: new URL(`http://127.0.0.1:${port}/`),
            pid: child.pid,
            kill: () => void child.kill("SIGKILL")
          }))
        }
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`the chdb HTTP front ended with code ${code}`))))
    }),
    (front) => Effect.sync(() => front.kill())
  )

// ------------------------------------------------------------------------------------------------- the runs

const runChild = (bundle: string, kind: RunKind, settings: RunSettings, limit: Duration.Duration) =>
  Effect.async<RunResult, Error>((resume) => {
    const profiling = cpuProfDir === undefined
      ? []
      : [
        "--cpu-prof",
        "--cpu-prof-dir",
        cpuProfDir,
        "--cpu-prof-name",
        `${kind}-${settings.key.replace(/\W/g, "_")}.cpuprofile`
      ]
    // Every run, baselines included, is a process started as the worker's is in production (ADR 19).
    const child = spawn(process.execPath, [...WORKER_NODE_OPTIONS, ...profiling, bundle, kind], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...WORKER_ENVIRONMENT,
        BENCH_EXPORT_SETTINGS: JSON.stringify(settings)
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, Duration.toMillis(limit))
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.once("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error))
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      const line = output.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
      if (timedOut) {
        resume(Effect.fail(new Error(`${kind} run (pid ${child.pid}) hung: killed after ${Duration.format(limit)}`)))
      } else if (code !== 0 || line === undefined) {
        resume(Effect.fail(new Error(`${kind} run ended with ${signal ?? `code ${code}`}:\n${output.slice(-2000)}`)))
      } else {
        resume(Effect.succeed(JSON.parse(line.slice(RESULT_PREFIX.length)) as RunResult))
      }
    })
    // Interrupted (another step failed, Ctrl-C): the run goes too.
    return Effect.sync(() => {
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  })

/**
 * CPU time (ms) of the two servers so far: ClickHouse's process, read from /proc, and this process, which runs
 * s3rver (and otherwise only waits for the run's child). The machine's cores are shared by all three during a
 * pipeline run, and by two during a baseline: the servers' share is what the run's own process cannot use.
 */
const serversCpuMillis = (clickhousePid: number | undefined) => {
  // utime and stime, in clock ticks (100 a second on Linux), after the command name, which may hold spaces.
  const stat = clickhousePid === undefined ? undefined : readFileSync(`/proc/${clickhousePid}/stat`, "utf8")
  const fields = stat === undefined ? [] : stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const own = process.cpuUsage()
  return {
    clickhouse: stat === undefined ? 0 : (Number(fields[11]) + Number(fields[12])) * 10,
    s3rver: (own.user + own.system) / 1000
  }
}

interface Row {
  readonly n: number
  readonly round: number
  readonly result: RunResult
  /** CPU ms the servers used during the run. */
  readonly servers: { readonly clickhouse: number; readonly s3rver: number }
}

const MIB = 1024 * 1024
const rowsPerSecond = (r: RunResult, n: number) => n / (r.millis / 1000)
const fmt = (x: number, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits })

const printTable = (rows: ReadonlyArray<Row>) => {
  const header = "| rows | round | run | seconds | rows/s | MB/s | CPU s | ClickHouse CPU s | s3rver CPU s | " +
    "all CPU / cores, s | peak RSS MiB |"
  process.stdout.write(`\n${header}\n| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n`)
  for (const { n, result, round, servers } of rows) {
    const seconds = result.millis / 1000
    const all = (result.cpuMillis + servers.clickhouse + servers.s3rver) / 1000
    process.stdout.write(
      `| ${fmt(n)} | ${round} | ${result.kind} | ${fmt(seconds, 2)} | ${fmt(rowsPerSecond(result, n))} | ` +
        `${fmt(result.bytes / MIB / seconds, 1)} | ${fmt(result.cpuMillis / 1000, 2)} | ` +
        `${fmt(servers.clickhouse / 1000, 2)} | ${fmt(servers.s3rver / 1000, 2)} | ${fmt(all / cpus().length, 2)} | ` +
        `${fmt(result.maxRssBytes / MIB)} |\n`
    )
  }
}

interface FormatRow {
  readonly n: number
  readonly format: ExportFormat
  readonly result: RunResult
}

/** The formats' runs beside the csv pipeline's of the same N and round 1: information, not in the verdict. */
const printFormats = (rows: ReadonlyArray<FormatRow>, runs: ReadonlyArray<Row>) => {
  if (rows.length === 0) return
  process.stdout.write(
    "\nOne export in each format (ADR 50), beside the csv pipeline's first round; information, not judged:\n\n" +
      "| rows | format | seconds | rows/s | of csv's rows/s | CPU s | peak RSS MiB | file MiB |\n" +
      "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
  )
  for (const { format, n, result } of rows) {
    const csv = runs.find((run) => run.n === n && run.round === 1 && run.result.kind === "pipeline")
    const ratio = csv === undefined ? "–" : fmt(rowsPerSecond(result, n) / rowsPerSecond(csv.result, n), 2)
    process.stdout.write(
      `| ${fmt(n)} | ${format} | ${fmt(result.millis / 1000, 2)} | ${fmt(rowsPerSecond(result, n))} | ${ratio} | ` +
        `${fmt(result.cpuMillis / 1000, 2)} | ${fmt(result.maxRssBytes / MIB)} | ${fmt(result.bytes / MIB, 1)} |\n`
    )
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const program = Effect.gen(function*() {
  const s3 = yield* step("starting s3rver", "30 seconds", startS3rver("bench-exports"))
  const workDir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-export-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const chdbDataDir = join(workDir, "chdb")
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true })
  if (memoryTraceDir !== undefined) mkdirSync(memoryTraceDir, { recursive: true })
  const bundle = yield* step("bundling bench/exportRuns.ts with esbuild", "2 minutes", bundleRuns)
  const server = engineFlag === "clickhouse"
    ? yield* step("starting ClickHouse 18.16", "2 minutes", startClickHouseServer)
    : engineFlag === "chdb-http"
    ? yield* step("starting the chdb HTTP front", "1 minute", startChdbHttpFront(bundle, chdbDataDir))
    : undefined
  const clickhouseUrl = server?.url.href ?? ""
  /** A statement on the engine, its result as text: over HTTP, or on a chdb session opened for it alone. */
  const engineSql = (sql: string) => server === undefined ? chdbSql(chdbDataDir, sql) : clickhouse(clickhouseUrl, sql)
  const s3Client = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new S3Client({
        region: "us-east-1",
        endpoint: s3.endpoint.href,
        forcePathStyle: true,
        credentials: { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: S3RVER_ACCESS_KEY }
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const version = (yield* step("asking the version", "30 seconds", engineSql("SELECT version()"))).trim()
  process.stdout.write(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${fmt(totalmem() / 1024 ** 3, 1)} GiB, ` +
      `Node ${process.version}; ` +
      `${
        engineFlag === "chdb"
          ? "chdb, in each run's process"
          : engineFlag === "chdb-http"
          ? "chdb behind the bench's HTTP front"
          : "ClickHouse"
      } ${version}; ` +
      `part size ${partSize / MIB} MiB, ${uploadConcurrency} parts at once; runs: ` +
      `${Object.entries(WORKER_ENVIRONMENT).map(([name, value]) => `${name}=${value}`).join(" ")} ` +
      `node ${WORKER_NODE_OPTIONS.join(" ")} ${bundle} (the worker's process settings, ADR 19)\n`
  )
  yield* step("creating the table", "30 seconds", engineSql(TABLE_DDL))

  const results: Array<Row> = []
  const formatResults: Array<FormatRow> = []
  let invalid = false
  for (const n of rowCounts) {
    yield* step("emptying the table", "1 minute", engineSql(`TRUNCATE TABLE ${TABLE}`))
    yield* step(`loading ${fmt(n)} order lines`, limitFor(n, 50_000), engineSql(loadSql(n)))
    const dateFrom = "2024-01-01"
    const dateTo = lastDay(n)
    const sql = ordersSql(dateFrom, dateTo)
    const file = join(workDir, `orders-${n}.csv`)
    const csvBytes = KINDS.includes("s3-upload")
      ? yield* step(
        `dumping the query's CSV (${dateFrom} to ${dateTo}) to a file`,
        limitFor(n, 20_000),
        dumpCsv(clickhouseUrl, sql, file)
      )
      : 0
    if (csvBytes > 0) progress(`${fmt(csvBytes / MIB, 1)} MiB of CSV for ${fmt(n)} rows`)

    for (let round = 1; round <= rounds; round++) {
      const settings: RunSettings = {
        engine,
        chdbDataDir,
        clickhouseUrl,
        s3Endpoint: s3.endpoint.href,
        bucket: s3.bucket,
        accessKey: S3RVER_ACCESS_KEY,
        ordersSql: sql,
        merchantId: MERCHANT,
        dateFrom,
        dateTo,
        file,
        key: `baseline/${n}-${round}.csv`,
        partSize,
        uploadConcurrency,
        memoryTrace: "",
        format: "csv"
      }
      let pipelineSha256: string | undefined
      for (const kind of KINDS) {
        // The slowest run seen did 140k rows/s; a run at a tenth of that has hung or gone badly wrong.
        const limit = limitFor(n, 14_000)
        const before = serversCpuMillis(server?.pid)
        let result = yield* step(
          `${fmt(n)} rows, round ${round}: ${kind} run`,
          Duration.sum(limit, "10 seconds"),
          runChild(bundle, kind, {
            ...settings,
            memoryTrace: memoryTraceDir === undefined ? "" : join(memoryTraceDir, `${kind}-${n}-${round}.csv`)
          }, limit)
        )
        const after = serversCpuMillis(server?.pid)
        const servers = { clickhouse: after.clickhouse - before.clickhouse, s3rver: after.s3rver - before.s3rver }
        progress(
          `${kind}: ${fmt(rowsPerSecond(result, n))} rows/s, CPU ${fmt(result.cpuMillis / 1000, 2)} s, peak RSS ` +
            `${fmt(result.maxRssBytes / MIB)} MiB (sampled at its highest: ${fmt(result.atPeak.rss / MIB)} MiB, ` +
            `V8 heap ${fmt(result.atPeak.heapTotal / MIB)} MiB, buffers ${fmt(result.atPeak.arrayBuffers / MIB)} MiB ` +
            `of ${fmt(result.atPeak.external / MIB)} external, anonymous ${fmt(result.atPeak.rssAnon / MIB)} MiB, ` +
            `file-backed ${fmt(result.atPeak.rssFile / MIB)} MiB); ` +
            `collections: ${fmt(result.collections.young)} young, ${fmt(result.collections.full)} full`
        )
        const key = kind === "s3-upload" ? settings.key : result.objectKey
        if (kind === "pipeline") pipelineSha256 = result.sha256
        if (kind === "pipeline" || kind === "pipeline-rewrite") progress(`${kind}: the file's SHA-256 ${result.sha256}`)
        if (kind === "pipeline-rewrite" && result.sha256 !== pipelineSha256) {
          process.stderr.write(`pipeline-rewrite: the file's SHA-256 is not the pipeline's\n`)
          invalid = true
        }
        if (kind === "server-write" && key !== undefined) {
          // The engine tells no row count or hash: read back (after the clock), the file must be the pipeline's.
          const file = yield* step(
            "reading the engine's object back",
            limitFor(n, 50_000),
            objectDigest(s3Client, s3.bucket, key)
          )
          if (file.sha256 !== pipelineSha256) {
            process.stderr.write(`server-write: the object's SHA-256 is not the pipeline's file's\n`)
            invalid = true
          }
          result = { ...result, bytes: file.bytes, rows: file.lines - 1 }
        }
        results.push({ n, round, result, servers })
        if (kind !== "clickhouse-csv" && key !== undefined) {
          const head = yield* step(
            `checking the object's size`,
            "2 minutes",
            Effect.tryPromise(() => s3Client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })))
          )
          if (head.ContentLength !== result.bytes) {
            process.stderr.write(`${kind}: object holds ${head.ContentLength} bytes, the run wrote ${result.bytes}\n`)
            invalid = true
          }
          // Keep the disk free: s3rver keeps every object it is given.
          yield* step(
            "deleting the object",
            "1 minute",
            Effect.tryPromise(() => s3Client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key })))
          )
        }
        const expectedRows = kind === "s3-upload" ? 0 : n
        if (result.rows !== expectedRows) {
          process.stderr.write(`${kind}: ${result.rows} rows, expected ${expectedRows}\n`)
          invalid = true
        }
      }
      if (round > 1 || n !== rowCounts[0]) continue
      for (const format of FORMATS) {
        const limit = limitFor(n, 14_000)
        const result = yield* step(
          `${fmt(n)} rows: the pipeline in ${format}`,
          Duration.sum(limit, "10 seconds"),
          runChild(bundle, "pipeline", { ...settings, format }, limit)
        )
        progress(`${format}: ${fmt(rowsPerSecond(result, n))} rows/s, ${fmt(result.bytes / MIB, 1)} MiB`)
        formatResults.push({ n, format, result })
        // The object must be the file the run says it wrote, whole: its size and SHA-256.
        const file = result.objectKey === undefined
          ? undefined
          : yield* step(
            "reading the object back",
            limitFor(n, 50_000),
            objectDigest(s3Client, s3.bucket, result.objectKey)
          )
        if (file === undefined || file.sha256 !== result.sha256 || file.bytes !== result.bytes || result.rows !== n) {
          process.stderr.write(`${format}: the object is not the run's file of ${n} rows\n`)
          invalid = true
        }
        if (result.objectKey !== undefined) {
          yield* step(
            "deleting the object",
            "1 minute",
            Effect.tryPromise(() =>
              s3Client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: result.objectKey }))
            )
          )
        }
      }
    }
    rmSync(file, { force: true })
  }

  printTable(results)
  printFormats(formatResults, results)
  process.stdout.write("\n")
  if (!KINDS.includes("pipeline") || !KINDS.includes("clickhouse-to-s3")) {
    process.stdout.write(`verdict (${engineFlag}): not measured, --runs left out the pipeline or the joined run\n`)
    return true
  }
  const speed = (n: number, kind: RunKind) =>
    median(results.filter((r) => r.n === n && r.result.kind === kind).map((r) => rowsPerSecond(r.result, n)))
  const ratios = rowCounts.map((n) => speed(n, "pipeline") / speed(n, "clickhouse-to-s3"))
  const peaks = rowCounts.map((n) =>
    Math.max(...results.filter((r) => r.n === n && r.result.kind === "pipeline").map((r) => r.result.maxRssBytes))
  )
  for (const [i, n] of rowCounts.entries()) {
    const others = KINDS.filter((kind) => kind !== "pipeline" && kind !== "clickhouse-to-s3")
      .map((kind) => `${kind} ${(speed(n, kind) / speed(n, "clickhouse-to-s3")).toFixed(2)}`)
    process.stdout.write(
      `${fmt(n)} rows, medians: joined run (clickhouse-to-s3) ${fmt(speed(n, "clickhouse-to-s3"))} rows/s, ` +
        `pipeline ${fmt(speed(n, "pipeline"))} rows/s; of the joined run: pipeline ${ratios[i]!.toFixed(2)}` +
        `${others.length === 0 ? "" : `, ${others.join(", ")}`}\n`
    )
  }
  const spread = (Math.max(...peaks) - Math.min(...peaks)) / Math.min(...peaks)
  const met = ratios.every((ratio) => ratio >= RATIO_TARGET) && peaks.every((rss) => rss < RSS_CEILING_MIB * MIB) &&
    spread <= RSS_FLATNESS
  const atEach = (values: ReadonlyArray<string>) =>
    values.map((value, i) => `${value} at ${fmt(rowCounts[i]! / 1e6, 3)}M`).join(", ")
  // The verdict on issue 18's targets, in one line.
  process.stdout.write(
    `verdict (${engineFlag}, ${rounds} round${rounds === 1 ? "" : "s"}): targets ${met ? "met" : "NOT met"}` +
      `${invalid ? "; a run was INVALID" : ""}: pipeline ÷ joined run ${atEach(ratios.map((r) => r.toFixed(2)))} ` +
      `(>= ${RATIO_TARGET}); peak RSS ${atEach(peaks.map((rss) => `${fmt(rss / MIB)} MiB`))} ` +
      `(< ${RSS_CEILING_MIB} MiB); ${fmt(rowCounts[0]! / 1e6, 3)}M to ${fmt(rowCounts.at(-1)! / 1e6, 3)}M ` +
      `${(spread * 100).toFixed(1)}% apart (within ${RSS_FLATNESS * 100}%)\n`
  )
  return invalid || !met
})

const exit = await Effect.runPromiseExit(Effect.scoped(program))
if (exit._tag === "Failure") {
  const failure = Cause.squash(exit.cause)
  process.stderr.write(`bench:export failed: ${failure instanceof Error ? failure.message : String(failure)}\n`)
  process.exit(1)
}
process.exit(exit.value ? 1 : 0)
