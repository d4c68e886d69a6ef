// `npm run bench:coldstart [-- --runs 7]`
//
// The cold start of each Lambda function beside a peer (issue 18, part 1): each cold start is a fresh `node`
// process (the pinned major, as the functions' runtime) that imports a bundle and answers its first event; its time
// is the import plus that first answer, measured inside the process. The functions are the bundles `npm run build`
// writes (run first, here); each peer (bench/coldstartPeers.ts) is bundled with the same esbuild options and loads
// the same AWS SDK clients as its function, and answers the same event with the same calls to the same servers.
// - The API's first event: an export POSTed through API Gateway's event shape, by a caller the gateway's JWT
//   authorizer passed (the stack's AUTH_TRUST_GATEWAY), of a merchant of its own each time: a DynamoDB query for the
//   same export in progress, a put, and an SQS message. Answered 202.
// - The worker's first event: an SQS batch of one record, the redelivered message of an export already finished
//   (cancelled): a consistent read of its job, and the record acknowledged.
// The servers are the tests' own on 127.0.0.1 (dynalite, fauxqs, s3rver, the local SES), started here and stopped
// at the end; ClickHouse's URL is a closed port, which neither first event reaches.
// Runs alternate (peer, function, for each function, the order turning each round), `--runs` each; the figure is
// the median. Every process, function or peer, runs with its function's process settings as the stack gives them
// (src/runtimes/lambda/LambdaProcessSettings.ts: NODE_OPTIONS and the like); `--source-maps` adds
// `--enable-source-maps` to show what it would cost (ADR 47). `--compile-cache` gives every function and peer a V8
// compile cache (NODE_COMPILE_CACHE) that one untimed cold start of its own wrote first, to show what shipping one
// would buy where the runtime could read it (ADR 47 says why the stack does not).
// `--snapshot` starts each function as the custom runtime ships it (ADR 52): `npm run build`'s
// dist/lambda/<function>-snapshot/bootstrap, the pinned Node on the function's startup snapshot, speaking the Runtime
// API to a fake of it here on 127.0.0.1 that hands it the same first event. The peers run as before, plain `node`, as
// on Lambda's stock runtime. A snapshot moves the import into Node's own start (the deserialisation), so this mode
// compares each process whole, from its spawn to its answer (for the function, its answer's POST to the Runtime
// API; for the peer, its answer's line), with CPU beside it (the function's from /proc, in 10 ms ticks).
// `--cpu-prof-dir DIR` runs every process under `node --cpu-prof`, one .cpuprofile per run in DIR (the functions'
// source maps name the modules; the peers have none).
// Prints a table and the verdict: each function's median at most 1.5 times its peer's, each bundle at most 1 MiB.
// Exits with 1 when a target is not met or a run is invalid (a wrong answer, a process that failed).
import { DateTime, Duration, Effect, Either, Layer, Redacted, Schema } from "effect"
import { build } from "esbuild"
import type { Metafile } from "esbuild"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { BUNDLE_LIMIT_BYTES, lambdaBundleOptions, outputsOf } from "../scripts/LambdaBundle.js"
import { SNAPSHOT_FILES } from "../scripts/LambdaSnapshot.js"
import { NODE_MAJOR } from "../scripts/NodeTarget.js"
import * as DynamoDb from "../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbJobStore from "../src/adapters/dynamodb/DynamoDbJobStore.js"
import { encodeMessage } from "../src/application/ports/JobQueue.js"
import { JobStore } from "../src/application/ports/JobStore.js"
import { messageFor } from "../src/application/RequestExport.js"
import { newJob, transition } from "../src/domain/ExportJob.js"
import { EmailAddress, makeExportJobId, Owner } from "../src/domain/Identifiers.js"
import { ReportRequest } from "../src/domain/Reports.js"
import { lambdaProcessEnvironment } from "../src/runtimes/lambda/LambdaProcessSettings.js"
import type { RecordedRequest } from "../test/runtimes/lambda/FakeRuntimeApi.js"
import { startFakeRuntimeApi } from "../test/runtimes/lambda/FakeRuntimeApi.js"
import { httpEvent, sqsEvent, sqsRecord } from "../test/runtimes/lambda/LambdaEvents.js"
import { DynaliteServer, DynaliteServerLive } from "../test/support/servers/DynaliteServer.js"
import { FauxqsServer, FauxqsServerLive } from "../test/support/servers/FauxqsServer.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "../test/support/servers/S3rverServer.js"
import { SesLocalServer } from "../test/support/servers/SesLocalServer.js"
import { answerHelp, integerFlags } from "./flags.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const RATIO_TARGET = 1.5
const RUN_LIMIT_MILLIS = 30_000
const USAGE =
  "Usage: npm run bench:coldstart -- [--runs 7] [--source-maps] [--compile-cache] [--snapshot] [--cpu-prof-dir DIR]"

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    "cpu-prof-dir": { type: "string" },
    "source-maps": { type: "boolean", default: false },
    "compile-cache": { type: "boolean", default: false },
    snapshot: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  },
  allowNegative: true,
  strict: true
})
answerHelp(flags.help, USAGE)
const runs = integerFlags(USAGE)("runs", flags.runs, 1, 25)
const cpuProfDir = flags["cpu-prof-dir"] === undefined ? undefined : resolve(flags["cpu-prof-dir"])

if (Number(process.versions.node.split(".")[0]) !== NODE_MAJOR) {
  process.stderr.write(`run under the pinned Node ${NODE_MAJOR} (npm run sets it), not ${process.version}\n`)
  process.exit(2)
}

const progress = (text: string) => process.stdout.write(`${text}\n`)

// ------------------------------------------------------------------------------------------------- bundles

const FUNCTIONS = ["api", "worker"] as const
type FunctionName = (typeof FUNCTIONS)[number]

const functionBundle = (name: FunctionName) => join(ROOT, "dist", "lambda", name, "index.mjs")

const buildFunctions = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/build.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`npm run build's bundles: exit ${code}`))))
  })

const work = mkdtempSync(join(tmpdir(), "bench-coldstart-"))

const buildPeer = async (name: FunctionName) => {
  const outdir = join(work, `peer-${name}`)
  const result = await build({
    stdin: {
      contents: `import { ${name}Peer } from "./coldstartPeers.ts"\n` +
        `export { loadedBesides } from "./coldstartPeers.ts"\nexport const handler = ${name}Peer()\n`,
      resolveDir: join(ROOT, "bench"),
      loader: "ts"
    },
    outdir,
    ...lambdaBundleOptions(join(ROOT, "src")),
    metafile: true
  })
  return { bundle: join(outdir, "index.mjs"), bytesAtStart: outputsOf(result.metafile).bytesAtStart }
}

/** `name` on the custom runtime, as `npm run build` wrote it: its bootstrap, Node and startup snapshot. */
const snapshotDirectory = (name: FunctionName) => join(ROOT, "dist", "lambda", `${name}-snapshot`)

/** What Node loads of a function's bundle before its handler exists, from the metafile `npm run build` wrote. */
const functionBytesAtStart = (name: FunctionName) =>
  outputsOf(JSON.parse(readFileSync(join(ROOT, "dist", "lambda", `${name}.meta.json`), "utf8")) as Metafile)
    .bytesAtStart

// The child: imports the bundle, answers the event, and prints what it took on its last line.
const RUNNER = join(work, "runner.mjs")
writeFileSync(
  RUNNER,
  `import { readFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { GCProfiler } from "node:v8"
const [bundle, eventFile] = process.argv.slice(2)
const event = JSON.parse(readFileSync(eventFile, "utf8"))
const context = {
  awsRequestId: "bench-" + process.pid, functionName: "bench", getRemainingTimeInMillis: () => 900000
}
// Every collection's time from the import to the answer.
const collections = new GCProfiler()
collections.start()
// Since the process's time origin: Node's own start, before any of the bundle.
const started = performance.now()
const { handler } = await import(pathToFileURL(bundle).href)
const imported = performance.now()
const answer = await handler(event, context)
const answered = performance.now()
const cpu = process.cpuUsage()
const gcMillis = collections.stop().statistics.reduce((sum, collection) => sum + collection.cost, 0) / 1000
process.stdout.write("\\nCOLDSTART " + JSON.stringify({ bootMillis: started, importMillis: imported - started, answerMillis: answered - imported, gcMillis, cpuMillis: (cpu.user + cpu.system) / 1000, answer }) + "\\n")
process.exit(0)
`
)

interface ColdStart {
  /** Node's own start, to the first statement of the runner (or of the snapshot's main). */
  readonly bootMillis: number
  readonly importMillis: number
  readonly answerMillis: number
  readonly gcMillis: number
  /** The process's CPU time (user + system) from its start to the answer. */
  readonly cpuMillis: number
  /** Measured here: from the spawn to the answer's line on the child's output. */
  readonly wallMillis: number
  readonly answer: unknown
}

const coldStart = (
  start: { readonly bundle: string },
  event: unknown,
  environment: Record<string, string>,
  profileName: string
) =>
  new Promise<ColdStart>((resolve, reject) => {
    const eventFile = join(work, `event-${randomBytes(6).toString("hex")}.json`)
    writeFileSync(eventFile, JSON.stringify(event))
    const profiling = cpuProfDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${profileName}.cpuprofile`]
    const spawned = performance.now()
    let answeredAt: number | undefined
    const child = spawn(process.execPath, [...profiling, RUNNER, start.bundle, eventFile], {
      cwd: dirname(start.bundle),
      env: environment,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
      if (answeredAt === undefined && output.includes("\nCOLDSTART ")) answeredAt = performance.now()
    })
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    const limit = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MILLIS)
    child.on("exit", (code) => {
      clearTimeout(limit)
      const line = output.split("\n").find((text) => text.startsWith("COLDSTART "))
      if (code !== 0 || line === undefined) {
        reject(new Error(`${JSON.stringify(start)} exited ${code}; its output:\n${output.slice(-2000)}`))
      } else {
        const measured = JSON.parse(line.slice("COLDSTART ".length)) as Omit<ColdStart, "wallMillis">
        resolve({ ...measured, wallMillis: (answeredAt ?? performance.now()) - spawned })
      }
    })
  })

/** The process's user + system CPU so far, from /proc (Linux), in milliseconds. */
const cpuMillisOf = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  // utime and stime, fields 14 and 15 of the line (11 and 12 after the command's name), in ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * A cold start on the custom runtime: `bootstrap` on a fake Runtime API that hands it `event`, timed from the spawn
 * to its answer's POST; the process is then killed (Lambda would freeze it).
 */
const bootstrapColdStart = async (
  directory: string,
  event: unknown,
  environment: Record<string, string>,
  profileName: string
): Promise<ColdStart> => {
  const runtimeApi = await startFakeRuntimeApi()
  const profiling = cpuProfDir === undefined
    ? ""
    : ` --cpu-prof --cpu-prof-dir=${cpuProfDir} --cpu-prof-name=${profileName}.cpuprofile`
  try {
    // The 15 minutes the runner's context gives: the worker starts no record with less than 2 minutes left.
    runtimeApi.enqueue({ requestId: profileName, event, deadlineMillis: Date.now() + 900_000 })
    const spawned = performance.now()
    const child = spawn(join(directory, SNAPSHOT_FILES.bootstrap), [], {
      cwd: directory,
      env: {
        ...environment,
        ...(profiling === "" ? {} : { NODE_OPTIONS: `${environment["NODE_OPTIONS"] ?? ""}${profiling}`.trim() }),
        LAMBDA_TASK_ROOT: directory,
        AWS_LAMBDA_RUNTIME_API: runtimeApi.address,
        AWS_LAMBDA_FUNCTION_NAME: profileName
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    const exited = new Promise<never>((_, reject) =>
      child.on("exit", (code) => reject(new Error(`${directory}/bootstrap exited ${code}:\n${output.slice(-2000)}`)))
    )
    exited.catch(() => undefined)
    const limit = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MILLIS)
    const [post] = await Promise.race<ReadonlyArray<RecordedRequest>>([runtimeApi.posts(1), exited])
    const wallMillis = performance.now() - spawned
    const cpuMillis = cpuMillisOf(child.pid!)
    clearTimeout(limit)
    if (profiling !== "") {
      // Node writes the profile when the process exits, not when a signal kills it: closing the Runtime API under
      // the next `next` makes the bootstrap exit on its own.
      const stopped = new Promise((resolve) => child.once("exit", resolve))
      await runtimeApi.close()
      await stopped
    } else {
      child.kill("SIGKILL")
    }
    if (!post!.path.endsWith("/response")) throw new Error(`${post!.path}: ${post!.body}\n${output.slice(-2000)}`)
    return {
      bootMillis: Number.NaN,
      importMillis: Number.NaN,
      answerMillis: Number.NaN,
      gcMillis: Number.NaN,
      cpuMillis,
      wallMillis,
      answer: JSON.parse(post!.body) as unknown
    }
  } finally {
    await runtimeApi.close()
  }
}

// ------------------------------------------------------------------------------------------------- events

const API_ID = "abc123"

const exportEvent = (run: number) =>
  httpEvent({
    method: "POST",
    rawPath: "/api/v1/reports/export",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      reportType: "orders",
      format: "csv",
      dateFrom: "2025-01-01",
      dateTo: "2025-01-31",
      timezone: "Europe/Paris"
    }),
    // A merchant of its own each time, so that no run finds the export of an earlier one in progress.
    claims: { sub: `cold-user-${run}`, merchant_id: `m-cold-${run}`, email: `cold-${run}@example.test` }
  })

/** A finished (cancelled) export in the job table, and its message as the queue would deliver it again. */
const finishedExportEvent = Effect.gen(function*() {
  const dynamo = yield* DynaliteServer
  const requestedAt = yield* DateTime.now
  const queued = newJob({
    jobId: makeExportJobId(requestedAt.epochMillis, randomBytes(10)),
    owner: Schema.decodeSync(Owner)({ userId: "cold-user", merchantId: "m-cold" }),
    email: Redacted.make(Schema.decodeSync(EmailAddress)("cold@example.test")),
    report: Schema.decodeUnknownSync(ReportRequest)({
      _tag: "orders",
      params: { dateFrom: "2025-01-01", dateTo: "2025-01-31" }
    }),
    format: "csv",
    requestedAt
  })
  const cancelled = Either.getOrThrow(transition(queued, { _tag: "Cancelled", at: yield* DateTime.now }))
  yield* JobStore.pipe(
    Effect.flatMap((store) => Effect.zipRight(store.create(queued), store.update(cancelled, queued.revision))),
    Effect.orDie,
    Effect.provide(DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDb.layer(dynamo.settings))))
  )
  return sqsEvent([sqsRecord(`bench-${queued.jobId}`, encodeMessage(messageFor(queued)), 2)])
})

// ------------------------------------------------------------------------------------------------- runs

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const isAccepted = (answer: unknown) => (answer as { statusCode?: number } | undefined)?.statusCode === 202
const isAcknowledged = (answer: unknown) =>
  JSON.stringify((answer as { batchItemFailures?: unknown } | undefined)?.batchItemFailures) === "[]"

const servers = Layer.mergeAll(
  S3rverServer.layer("exports"),
  FauxqsServerLive,
  SesLocalServer.layer,
  DynaliteServerLive
)

/** The functions' settings as the stack gives them (trusting the gateway), each service on its local server. */
const lambdaEnvironment = Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const sqs = yield* FauxqsServer
  const ses = yield* SesLocalServer
  const dynamo = yield* DynaliteServer
  const local = (service: string, region: string, endpoint: string, key = "local") => ({
    [`${service}_REGION`]: region,
    [`${service}_ENDPOINT`]: endpoint,
    [`${service}_ACCESS_KEY_ID`]: key,
    [`${service}_SECRET_ACCESS_KEY`]: key
  })
  return {
    PATH: process.env["PATH"] ?? "",
    AUTH_TRUST_GATEWAY: "true",
    AUTH_GATEWAY_API_ID: API_ID,
    AUTH_GATEWAY_STAGE: "$default",
    APP_BASE_URL: "https://app.example.test",
    ...local("S3", "us-east-1", s3.endpoint.href, S3RVER_ACCESS_KEY),
    S3_BUCKET: s3.bucket,
    S3_FORCE_PATH_STYLE: "true",
    ...local("SQS", sqs.settings.region, sqs.endpoint),
    SQS_QUEUE_URL: sqs.queueUrl,
    ...local("SES", "us-east-1", ses.endpoint.href),
    SES_FROM: "Exports <exports@example.test>",
    ...local("DYNAMODB", dynamo.settings.region, dynamo.endpoint),
    DYNAMODB_JOBS_TABLE: dynamo.settings.tables.jobs,
    DYNAMODB_NOTIFICATIONS_TABLE: dynamo.settings.tables.notifications,
    DYNAMODB_AUDIT_TABLE: dynamo.settings.tables.audit,
    // Neither first event reaches ClickHouse; its client connects only when asked.
    CLICKHOUSE_URL: "http://127.0.0.1:9/"
  }
})

/** The function's process settings as the stack gives them, with `--enable-source-maps` when `--source-maps` asks. */
const processEnvironment = (name: FunctionName): Record<string, string> => {
  const settings = lambdaProcessEnvironment(name)
  if (!flags["source-maps"]) return { ...settings }
  return { ...settings, NODE_OPTIONS: ["--enable-source-maps", settings["NODE_OPTIONS"] ?? ""].join(" ").trim() }
}

const program = Effect.gen(function*() {
  const environment = yield* lambdaEnvironment
  const workerEvent = yield* finishedExportEvent

  progress("building the functions (scripts/build.ts) and their peers")
  yield* Effect.promise(buildFunctions)
  const peers = {
    api: yield* Effect.promise(() => buildPeer("api")),
    worker: yield* Effect.promise(() => buildPeer("worker"))
  }
  const sizes = Object.fromEntries([
    ...FUNCTIONS.map((name) => [`function ${name}`, functionBytesAtStart(name)] as const),
    ...FUNCTIONS.map((name) => [`peer ${name}`, peers[name].bytesAtStart] as const)
  ])
  const blobBytes = Object.fromEntries(
    FUNCTIONS.map((name) => [
      name,
      flags.snapshot ? statSync(join(snapshotDirectory(name), SNAPSHOT_FILES.blob)).size : undefined
    ])
  )

  const targets = FUNCTIONS.flatMap((name) =>
    (["peer", "function"] as const).map((kind) => ({
      name,
      kind,
      start: kind === "peer" ? peers[name].bundle : functionBundle(name),
      environment: {
        ...environment,
        ...processEnvironment(name),
        ...(flags["compile-cache"] ? { NODE_COMPILE_CACHE: join(work, `compile-cache-${kind}-${name}`) } : {})
      },
      valid: name === "api" ? isAccepted : isAcknowledged
    }))
  )
  const results = new Map(targets.map((target) => [`${target.kind} ${target.name}`, [] as Array<ColdStart>]))
  if (flags["compile-cache"]) {
    progress("writing each one's compile cache with an untimed cold start")
    for (const [i, target] of targets.entries()) {
      const event = target.name === "api" ? exportEvent(runs * targets.length + i) : workerEvent
      yield* Effect.promise(() =>
        coldStart({ bundle: target.start }, event, target.environment, `${target.kind}-${target.name}-0`)
      )
    }
  }
  for (let run = 0; run < runs; run++) {
    // The order turns each round, so that no target always follows the same one.
    const order = targets.map((_, i) => targets[(i + run) % targets.length]!)
    for (const target of order) {
      const event = target.name === "api" ? exportEvent(run * targets.length + order.indexOf(target)) : workerEvent
      const profileName = `${target.kind}-${target.name}-${run + 1}`
      const result = yield* Effect.promise(() =>
        flags.snapshot && target.kind === "function"
          ? bootstrapColdStart(snapshotDirectory(target.name), event, target.environment, profileName)
          : coldStart({ bundle: target.start }, event, target.environment, profileName)
      )
      if (!target.valid(result.answer)) {
        return yield* Effect.dieMessage(`${target.kind} ${target.name} answered ${JSON.stringify(result.answer)}`)
      }
      results.get(`${target.kind} ${target.name}`)!.push(result)
    }
    progress(`round ${run + 1} of ${runs} done`)
  }
  return { results, sizes, blobBytes }
})

const { blobBytes, results, sizes } = await Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(servers), Effect.timeout(Duration.minutes(10)))
).finally(() => rmSync(work, { recursive: true, force: true }))

// ------------------------------------------------------------------------------------------------- report

const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
// Not measured (a function on the custom runtime is timed from outside): "-".
const ms = (n: number) => Number.isNaN(n) ? "-" : n.toFixed(0)
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`
const importAndAnswer = (r: ColdStart) => r.importMillis + r.answerMillis
// A snapshot moves the import into Node's own start: from a snapshot, each process is compared whole, from its spawn
// to its answer (the runner's own figures beside it, from the process's time origin).
const total = flags.snapshot ? (r: ColdStart) => r.wallMillis : importAndAnswer
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

progress("")
progress(row([
  "target",
  "loaded at start",
  "boot ms",
  "import ms",
  "first answer ms",
  "GC ms (in both)",
  "import + answer ms",
  "start to answer ms",
  "CPU ms",
  flags.snapshot ? "spawn to answer ms (median)" : "import + answer ms (median)",
  "all runs"
]))
progress(row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]))
for (const [key, list] of results) {
  const [kind, name] = key.split(" ") as ["peer" | "function", FunctionName]
  const blob = blobBytes[name]
  progress(row([
    key,
    kind === "function" && blob !== undefined ? `blob ${mib(blob)}` : kib(sizes[key]!),
    ms(median(list.map((r) => r.bootMillis))),
    ms(median(list.map((r) => r.importMillis))),
    ms(median(list.map((r) => r.answerMillis))),
    ms(median(list.map((r) => r.gcMillis))),
    ms(median(list.map(importAndAnswer))),
    ms(median(list.map((r) => r.bootMillis + r.importMillis + r.answerMillis))),
    ms(median(list.map((r) => r.cpuMillis))),
    ms(median(list.map(total))),
    list.map((r) => ms(total(r))).join(", ")
  ]))
}

const ratioOf = (name: FunctionName, measure: (r: ColdStart) => number) =>
  median(results.get(`function ${name}`)!.map(measure)) / median(results.get(`peer ${name}`)!.map(measure))
if (flags.snapshot) {
  progress("")
  for (const name of FUNCTIONS) {
    progress(
      `${name} from its snapshot: spawn to answer ${ratioOf(name, total).toFixed(2)}x its peer, CPU ` +
        `${ratioOf(name, (r) => r.cpuMillis).toFixed(2)}x`
    )
  }
}

const verdicts = FUNCTIONS.flatMap((name) => {
  const ratio = ratioOf(name, total)
  const size = sizes[`function ${name}`]!
  return [
    {
      text: `${name} ${ratio.toFixed(2)}x its peer${flags.snapshot ? " from its snapshot" : ""} (<= ${RATIO_TARGET})`,
      met: ratio <= RATIO_TARGET
    },
    { text: `${name} loads ${kib(size)} at start (<= ${kib(BUNDLE_LIMIT_BYTES)})`, met: size <= BUNDLE_LIMIT_BYTES }
  ]
})
const met = verdicts.every((verdict) => verdict.met)
progress("")
progress(
  `verdict: ${met ? "MET" : "NOT MET"}: ${verdicts.map((v) => `${v.text} ${v.met ? "met" : "NOT met"}`).join("; ")}`
)
process.exit(met ? 0 : 1)
