// `npm run bench:accept [-- --rate 1000 --rounds 2 --closed-rounds 1 --duration 10 --warmup 3 --connections 50]`
//
// Loads POST /api/v1/reports/export of the embedded default (`npm start`: HTTP API, in-process workers, chdb,
// local files). The verdict comes from open-loop runs: the service alone, offered `--rate` requests per second in
// all over 50 connections, one request every 1/rate s, each timed from when it was due (bench/openLoop.ts; not
// autocannon's overallRate, which sends each second's requests in a burst at its start: ADR 51), against issue 18's
// targets:
//   - p99 under 20 ms at an offered 1,000 requests/s, with at least 95% of the offered rate answered;
//   - the server's event-loop delay p99 under 10 ms meanwhile (monitorEventLoopDelay, preloaded into the server by
//     bench/loopDelayProbe.ts, so the server's code is the one `npm start` runs).
// Then, as information, closed-loop runs (autocannon) beside a baseline: a bare node:http server that parses the
// same JSON body and answers 202, each as fast as it can; `--open-baseline` also runs that baseline in the open loop,
// the machine's floor. Each server runs in a child process of its own, started fresh for every
// run, one at a time, on 127.0.0.1 and a free port; load goes to loopback only, for a bounded time and number of
// connections. Every request is a new export (a different user, day or time zone each time), so the service never
// answers from an export already in progress. Prints one verdict line; exits with 0 when the targets are met, 1
// when they are not or a run is invalid (a response other than 202, a connection error or timeout, a job id seen
// twice, a server that died).
import autocannon from "autocannon"
import { Duration, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { signDevToken } from "../src/adapters/auth/JwtVerifier.js"
import { localSecret } from "../src/runtimes/server/EmbeddedConfig.js"
import {
  ACCEPT_SERVER_WORKERS_OFF,
  isLoopDelayReply,
  isStatsReply,
  LOOP_DELAY_RESOLUTION_MS,
  READY_PREFIX
} from "./childProtocol.js"
import type { GcWindow, LoopDelayReply, LoopDelayRequest, ReadyLine, StatsReply } from "./childProtocol.js"
import { answerHelp, integerFlags } from "./flags.js"
import { openLoop } from "./openLoop.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const PATH = "/api/v1/reports/export"
const P99_TARGET_MS = 20
const LOOP_DELAY_P99_TARGET_MS = 10
/** The share of the offered rate that must be answered for a run to count as carrying that load. */
const RATE_KEPT_TARGET = 0.95
/** Seconds before an unanswered request counts as timed out (the run is then invalid). */
const REQUEST_TIMEOUT_SECONDS = 10

// ---------------------------------------------------------------------------------------------------- options

const USAGE = "Usage: npm run bench:accept -- [--rate 1000] [--rounds 2] [--closed-rounds 1] [--duration 10] " +
  "[--warmup 3] [--connections 50] [--worker-concurrency 1 (0: none)] [--demo-rows 20000] [--cpu-prof] " +
  "[--sender scheduled|autocannon] [--open-baseline] [--service-node-flags '--flag ...']"

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    rate: { type: "string", default: "1000" },
    rounds: { type: "string", default: "2" },
    "closed-rounds": { type: "string", default: "1" },
    "cpu-prof": { type: "boolean", default: false },
    "worker-concurrency": { type: "string", default: "1" },
    "demo-rows": { type: "string", default: "20000" },
    sender: { type: "string", default: "scheduled" },
    "open-baseline": { type: "boolean", default: false },
    "service-node-flags": { type: "string", default: "" },
    help: { type: "boolean", default: false }
  },
  strict: true
})

answerHelp(flags.help, USAGE)
const integerFlag = integerFlags(USAGE)

const senderFlag = (value: string): "scheduled" | "autocannon" => {
  if (value === "scheduled" || value === "autocannon") return value
  process.stderr.write(`--sender must be scheduled or autocannon\n${USAGE}\n`)
  return process.exit(2)
}

const options = {
  duration: integerFlag("duration", flags.duration, 1, 120),
  warmup: integerFlag("warmup", flags.warmup, 0, 60),
  connections: integerFlag("connections", flags.connections, 1, 200),
  rate: integerFlag("rate", flags.rate, 10, 20_000),
  rounds: integerFlag("rounds", flags.rounds, 1, 10),
  closedRounds: integerFlag("closed-rounds", flags["closed-rounds"], 0, 10),
  cpuProfile: flags["cpu-prof"],
  // 0: no in-process workers, the accept path alone; for information (what taking the workers off the event loop
  // could give at most), never the verdict's composition.
  workerConcurrency: integerFlag("worker-concurrency", flags["worker-concurrency"], 0, 16),
  demoRows: integerFlag("demo-rows", flags["demo-rows"], 1000, 10_000_000),
  // How the open loop sends (ADR 51): "scheduled", one request every 1/rate s (the verdict's), or "autocannon", its
  // overallRate, which sends each second's requests in a burst at its start, for comparison.
  sender: senderFlag(flags.sender),
  // Also runs the bare node:http baseline in the open loop, once a round: the floor of this machine, for information.
  openBaseline: flags["open-baseline"],
  // Node or V8 flags for the service's process (`--trace-gc`, `--max-semi-space-size=8`, ...), space-separated:
  // to try a setting before it becomes the composition's.
  serviceNodeFlags: flags["service-node-flags"].split(" ").filter((flag) => flag !== "")
}

// --------------------------------------------------------------------------------------------------- requests

// Every request is a different export: request i is made by user i % USERS and asks for one day (in the demo
// data's two years) in one time zone, so no two requests of a run share user, day and time zone. One-day ranges
// also keep the exports that the in-process workers run meanwhile small. Each user is a merchant of their own, and the
// tenant caps (ADR 45) are set to their most, so that a run's backlog (tens of thousands of exports the workers have
// not reached) is never refused: the caps' own check is on the measured path all the same.
const USERS = 120
const TENANT_CAP = "1000"
const TIME_ZONES = [
  "UTC",
  "Europe/Paris",
  "America/New_York",
  "Asia/Tokyo",
  "Australia/Sydney",
  "America/Sao_Paulo",
  "Africa/Lagos",
  "Asia/Kolkata"
] as const
const DAYS: ReadonlyArray<string> = (() => {
  const days: Array<string> = []
  for (let t = Date.UTC(2024, 0, 1); t <= Date.UTC(2025, 11, 31); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10))
  }
  return days
})()
const DISTINCT_REQUESTS = USERS * DAYS.length * TIME_ZONES.length

const bodyOf = (i: number): string => {
  const k = Math.floor(i / USERS)
  const day = DAYS[k % DAYS.length]!
  const timezone = TIME_ZONES[Math.floor(k / DAYS.length) % TIME_ZONES.length]!
  return JSON.stringify({ reportType: "orders", format: "csv", dateFrom: day, dateTo: day, timezone })
}

const tokensFor = (dataDir: string): Promise<Array<string>> =>
  Effect.runPromise(localSecret(dataDir, "jwt-secret")).then((secret) =>
    Promise.all(
      Array.from({ length: USERS }, (_, u) =>
        signDevToken({
          secret,
          sub: `bench-user-${u}`,
          merchantId: `m-bench-${u}`,
          email: `bench-${u}@example.com`,
          ttl: Duration.hours(1)
        }))
    )
  )

// ----------------------------------------------------------------------------------------------- the children

type ServerKind = "baseline" | "service"

interface Child {
  readonly process: ChildProcess
  readonly port: number
  /** Lines the child wrote other than its ready line, stdout and stderr, each with when it came. */
  readonly lines: Array<{ readonly at: number; readonly text: string }>
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined
}

/** What runs now, for the signal handlers: the server child and the run's data directory. */
const running: { child: Pick<Child, "process" | "exited"> | undefined; dataDir: string | undefined } = {
  child: undefined,
  dataDir: undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const childEnv = (kind: ServerKind, dataDir: string, port: number): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The tokens are signed with the data directory's local secret: the server must not be told to use another.
  for (const name of ["AUTH_JWT_SECRET", "AUTH_JWKS_URL", "PUBLIC_BASE_URL", "APP_BASE_URL", "HOST", "PORT"]) {
    delete env[name]
  }
  if (kind === "baseline") return env
  return {
    ...env,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: dataDir,
    DEMO_ROWS: String(options.demoRows),
    ...(options.workerConcurrency === 0
      ? { [ACCEPT_SERVER_WORKERS_OFF]: "1" }
      : { WORKER_CONCURRENCY: String(options.workerConcurrency) }),
    SHUTDOWN_GRACE: "2 seconds",
    EXPORTS_PER_USER: TENANT_CAP,
    EXPORTS_PER_MERCHANT: TENANT_CAP
  }
}

/** Where `--cpu-prof` writes the service's CPU profiles: one file a thread and run, kept after the bench. */
const PROFILE_DIR = join(tmpdir(), "ade-bench-accept-profiles")

const startChild = async (kind: ServerKind, dataDir: string): Promise<Child> => {
  const entry = join(ROOT, "bench", kind === "baseline" ? "baselineServer.ts" : "acceptServer.ts")
  const port = kind === "service" ? await freePort() : 0
  const profile = options.cpuProfile && kind === "service" ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : []
  if (profile.length > 0) mkdirSync(PROFILE_DIR, { recursive: true })
  if (kind === "service") profile.push(...options.serviceNodeFlags)
  const probe = ["--import", "./bench/loopDelayProbe.ts"]
  const child = spawn(process.execPath, [...profile, "--import", "tsx", ...probe, entry], {
    cwd: ROOT,
    env: childEnv(kind, dataDir, port),
    stdio: ["ignore", "pipe", "pipe", "ipc"]
  })
  const lines: Child["lines"] = []
  const exited = new Promise<NonNullable<Child["exit"]>>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  running.child = { process: child, exited }
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not get ready within 120 s`)), 120_000)
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith(READY_PREFIX)) {
        clearTimeout(timer)
        resolve(JSON.parse(line.slice(READY_PREFIX.length)) as ReadyLine)
      } else {
        lines.push({ at: Date.now(), text: line })
      }
    })
    createInterface({ input: child.stderr! }).on("line", (line) => lines.push({ at: Date.now(), text: line }))
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${kind} exited before it was ready (code ${code}, signal ${signal})`))
    })
  })
  const handle: Child = { process: child, port, lines, exited, exit: undefined }
  void exited.then((exit) => (handle.exit = exit))
  try {
    const line = await ready
    return { ...handle, port: line.port }
  } catch (error) {
    await stopChild(handle)
    const output = lines.map((l) => `  | ${l.text}`).join("\n")
    throw new Error(`${String(error)}${output.length > 0 ? `\n${output}` : ""}`)
  }
}

/** Sends `request` to the child and waits up to 5 s for the reply that `isReply` recognises. */
const ask = <A>(child: Child, request: string, isReply: (message: unknown) => message is A): Promise<A | undefined> =>
  new Promise((resolve) => {
    if (child.exit !== undefined || !child.process.connected) return resolve(undefined)
    const timer = setTimeout(() => {
      child.process.off("message", onMessage)
      resolve(undefined)
    }, 5_000)
    const onMessage = (message: unknown) => {
      if (!isReply(message)) return
      clearTimeout(timer)
      child.process.off("message", onMessage)
      resolve(message)
    }
    child.process.on("message", onMessage)
    child.process.send(request)
  })

const statsOf = (child: Child): Promise<StatsReply | undefined> => ask(child, "stats", isStatsReply)

const loopDelayOf = (child: Child): Promise<LoopDelayReply | undefined> =>
  ask(child, "loop-delay" satisfies LoopDelayRequest, isLoopDelayReply)

const resetLoopDelay = (child: Child): void => {
  if (child.exit === undefined && child.process.connected) {
    child.process.send("loop-delay-reset" satisfies LoopDelayRequest)
  }
}

/** SIGTERM to the child by its handle, then SIGKILL if it has not exited 30 s later. */
const stopChild = async (child: Pick<Child, "process" | "exited">): Promise<void> => {
  if (child.process.exitCode === null && child.process.signalCode === null) {
    child.process.kill("SIGTERM")
    const timer = setTimeout(() => child.process.kill("SIGKILL"), 30_000)
    await child.exited
    clearTimeout(timer)
  }
  if (running.child?.process === child.process) running.child = undefined
}

/** Stops the server child, if any, removes the run's data directory and exits. */
const abandon = async (code: number): Promise<never> => {
  if (running.child !== undefined) await stopChild(running.child)
  if (running.dataDir !== undefined) rmSync(running.dataDir, { recursive: true, force: true })
  process.exit(code)
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void abandon(130))
}

// ------------------------------------------------------------------------------------------------------- load

interface Load {
  readonly seconds: number
  /** Every response's time in milliseconds (autocannon's histogram keeps whole ms only, so they are kept here). */
  readonly latencies: Float64Array
  /** The scheduled open loop only: each response's time from its actual sending, and each send's lag (ms). */
  readonly fromSend: Float64Array | undefined
  readonly sendLag: Float64Array | undefined
  readonly statuses: Map<number, number>
  readonly perSecond: Array<number>
  readonly loadgenCpu: number
  readonly errors: number
  readonly timeouts: number
}

interface RunState {
  next: number
  readonly tokens: ReadonlyArray<string>
  readonly jobIds: Set<string>
  duplicateJobIds: number
  missingJobIds: number
}

const JOB_ID = /"jobId":"([^"]+)"/

const headersOf = (state: RunState, i: number): Record<string, string> => ({
  authorization: `Bearer ${state.tokens[i % USERS]!}`,
  "content-type": "application/json"
})

const recordJob = (state: RunState, status: number, body: string): void => {
  if (status !== 202) return
  const jobId = JOB_ID.exec(body)?.[1]
  if (jobId === undefined) state.missingJobIds++
  else if (state.jobIds.has(jobId)) state.duplicateJobIds++
  else state.jobIds.add(jobId)
}

/**
 * Load for `seconds`: as fast as the server answers (`rate` undefined), or `rate` requests per second in all: on a
 * schedule (bench/openLoop.ts, the verdict's open loop), or with autocannon's `overallRate` (`--sender autocannon`:
 * each connection's quota of the second sent back to back at its start, for comparison; ADR 51).
 */
const load = (port: number, seconds: number, state: RunState, rate: number | undefined): Promise<Load> =>
  rate !== undefined && options.sender === "scheduled"
    ? scheduledLoad(port, seconds, state, rate)
    : autocannonLoad(port, seconds, state, rate)

const scheduledLoad = (port: number, seconds: number, state: RunState, rate: number): Promise<Load> => {
  const first = state.next
  state.next += Math.round(rate * seconds)
  return openLoop({
    port,
    connections: options.connections,
    rate,
    seconds,
    timeoutSeconds: REQUEST_TIMEOUT_SECONDS,
    request: (k) => ({ path: PATH, headers: headersOf(state, first + k), body: bodyOf(first + k) }),
    onResponse: (status, body) => recordJob(state, status, body)
  })
}

const autocannonLoad = (port: number, seconds: number, state: RunState, rate: number | undefined): Promise<Load> =>
  new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16)
    let count = 0
    const statuses = new Map<number, number>()
    const perSecond: Array<number> = []
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    const instance = autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: options.connections,
      duration: seconds,
      pipelining: 1,
      timeout: REQUEST_TIMEOUT_SECONDS,
      ...(rate === undefined ? {} : { overallRate: rate }),
      requests: [{
        method: "POST",
        path: PATH,
        setupRequest: (request) => {
          const i = state.next++
          return { ...request, headers: { ...request.headers, ...headersOf(state, i) }, body: bodyOf(i) }
        },
        onResponse: (status, body) => recordJob(state, status, body)
      }]
    }, (error, result) => {
      if (error !== null) return reject(error)
      const cpu = process.cpuUsage(cpuBefore)
      const wallMicros = (performance.now() - started) * 1000
      resolve({
        seconds: result.duration,
        latencies: latencies.subarray(0, count),
        fromSend: undefined,
        sendLag: undefined,
        statuses,
        perSecond,
        loadgenCpu: (cpu.user + cpu.system) / wallMicros,
        errors: result.errors,
        timeouts: result.timeouts
      })
    })
    instance.on("response", (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (count === latencies.length) {
        const larger = new Float64Array(latencies.length * 2)
        larger.set(latencies)
        latencies = larger
      }
      latencies[count++] = responseTime
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      const second = Math.floor((performance.now() - started) / 1000)
      perSecond[second] = (perSecond[second] ?? 0) + 1
    })
  })

// ------------------------------------------------------------------------------------------------------- runs

interface Run {
  readonly round: number
  readonly kind: ServerKind
  /** The open loop's offered requests per second; undefined for a closed-loop run. */
  readonly offeredRate: number | undefined
  readonly loopDelay: LoopDelayReply | undefined
  readonly responses: number
  readonly seconds: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** The scheduled open loop only: p99 of the responses' times from their actual sending, and of the sends' lag. */
  readonly fromSendP99: number | undefined
  readonly sendLagP99: number | undefined
  readonly statuses: string
  readonly non202: number
  readonly errors: number
  readonly timeouts: number
  readonly perSecond: ReadonlyArray<number>
  readonly loadgenCpu: number
  readonly serverCpu: number | undefined
  readonly peakRssBytes: number | undefined
  /** The server's main thread over the measured run: ms on a core, and ms runnable but waiting for one. */
  readonly mainThread: { readonly onCpuMs: number; readonly waitingMs: number } | undefined
  readonly rssAtReadyBytes: number | undefined
  readonly distinctJobs: number
  readonly duplicateJobIds: number
  readonly missingJobIds: number
  /** Service only: exports the workers had finished (an email written) by the end of the run. */
  readonly exportsFinished: number | undefined
  readonly warmupNon202: number
  readonly serverOutput: ReadonlyArray<string>
  readonly died: string | undefined
  readonly problems: ReadonlyArray<string>
}

const percentile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

/**
 * The server's main thread's scheduler counters (Linux's /proc schedstat: ns on a core, ns runnable but waiting for
 * one): how much of a run the main thread lost to other processes. Undefined where /proc has no such file.
 */
const schedstatOf = (pid: number | undefined): { readonly onCpu: number; readonly waiting: number } | undefined => {
  try {
    const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ").map(Number)
    return onCpu === undefined || waiting === undefined ? undefined : { onCpu, waiting }
  } catch {
    return undefined
  }
}

const countFiles = (dir: string, suffix: string): number => {
  try {
    return readdirSync(dir).filter((name) => name.endsWith(suffix)).length
  } catch {
    return 0
  }
}

const statusesOf = (statuses: Map<number, number>): string =>
  [...statuses.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(" ")

const non202Of = (statuses: Map<number, number>): number =>
  [...statuses.entries()].reduce((sum, [status, n]) => (status === 202 ? sum : sum + n), 0)

const measure = async (kind: ServerKind, round: number, offeredRate: number | undefined): Promise<Run> => {
  const dataDir = mkdtempSync(join(tmpdir(), `ade-bench-${kind}-`))
  running.dataDir = dataDir
  try {
    const state: RunState = {
      next: 0,
      tokens: await tokensFor(dataDir),
      jobIds: new Set(),
      duplicateJobIds: 0,
      missingJobIds: 0
    }
    const loop = offeredRate === undefined ? "closed loop" : `open loop at ${int(offeredRate)} req/s`
    process.stdout.write(`round ${round} ${kind}, ${loop}: starting… `)
    const child = await startChild(kind, dataDir)
    try {
      process.stdout.write(`pid ${child.process.pid} on 127.0.0.1:${child.port}; `)
      const atReady = await statsOf(child)
      let warmupNon202 = 0
      if (options.warmup > 0) {
        process.stdout.write(`warm-up ${options.warmup} s… `)
        const warm = await load(child.port, options.warmup, state, offeredRate)
        warmupNon202 = non202Of(warm.statuses) + warm.errors
      }
      const before = await statsOf(child)
      const schedBefore = schedstatOf(child.process.pid)
      resetLoopDelay(child)
      const runStarted = Date.now()
      process.stdout.write(`load ${options.duration} s… `)
      const measured = await load(child.port, options.duration, state, offeredRate)
      const loopDelay = await loopDelayOf(child)
      const after = await statsOf(child)
      const schedAfter = schedstatOf(child.process.pid)
      const exportsFinished = kind === "service" ? countFiles(join(dataDir, "outbox"), ".eml") : undefined
      const died = child.exit === undefined
        ? undefined
        : `exited during the run (code ${child.exit.code}, signal ${child.exit.signal})`
      process.stdout.write("done\n")

      const sorted = Float64Array.from(measured.latencies).sort()
      const non202 = non202Of(measured.statuses)
      const responses = measured.latencies.length
      const serverOutput = child.lines.filter((line) => line.at >= runStarted - options.warmup * 1000 - 1000)
        .map((line) => line.text)
      const problems: Array<string> = []
      if (non202 > 0) problems.push(`${non202} responses other than 202 (${statusesOf(measured.statuses)})`)
      if (warmupNon202 > 0) problems.push(`${warmupNon202} responses other than 202 or errors during the warm-up`)
      if (measured.errors > 0) {
        problems.push(`${measured.errors} connection errors (${measured.timeouts} timeouts)`)
      }
      if (state.duplicateJobIds > 0) problems.push(`${state.duplicateJobIds} job ids answered twice`)
      if (state.missingJobIds > 0) problems.push(`${state.missingJobIds} 202 responses without a job id`)
      if (state.next > DISTINCT_REQUESTS) problems.push(`more requests than distinct exports (${DISTINCT_REQUESTS})`)
      if (died !== undefined) problems.push(`the ${kind} ${died}`)
      return {
        round,
        kind,
        offeredRate,
        loopDelay,
        responses,
        seconds: measured.seconds,
        rps: responses / measured.seconds,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
        fromSendP99: measured.fromSend === undefined ? undefined : percentile(measured.fromSend.slice().sort(), 0.99),
        sendLagP99: measured.sendLag === undefined ? undefined : percentile(measured.sendLag.slice().sort(), 0.99),
        statuses: statusesOf(measured.statuses),
        non202,
        errors: measured.errors,
        timeouts: measured.timeouts,
        perSecond: measured.perSecond,
        loadgenCpu: measured.loadgenCpu,
        serverCpu: before !== undefined && after !== undefined
          ? (after.cpuMicros - before.cpuMicros) / (measured.seconds * 1e6)
          : undefined,
        peakRssBytes: after?.maxRssBytes,
        mainThread: schedBefore !== undefined && schedAfter !== undefined
          ? {
            onCpuMs: (schedAfter.onCpu - schedBefore.onCpu) / 1e6,
            waitingMs: (schedAfter.waiting - schedBefore.waiting) / 1e6
          }
          : undefined,
        rssAtReadyBytes: atReady?.rssBytes,
        distinctJobs: state.jobIds.size,
        duplicateJobIds: state.duplicateJobIds,
        missingJobIds: state.missingJobIds,
        exportsFinished,
        warmupNon202,
        serverOutput,
        died,
        problems
      }
    } finally {
      await stopChild(child)
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
    running.dataDir = undefined
  }
}

// ---------------------------------------------------------------------------------------------------- report

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const ms = (value: number): string => value.toFixed(2)
const int = (value: number): string => Math.round(value).toLocaleString("en-US")
const mib = (bytes: number | undefined): string => (bytes === undefined ? "n/a" : `${(bytes / 2 ** 20).toFixed(0)}`)
const pct = (value: number | undefined): string => (value === undefined ? "n/a" : `${(value * 100).toFixed(0)}%`)

const loopCells = (run: Run): string =>
  run.loopDelay === undefined ? "n/a | n/a" : `${ms(run.loopDelay.p99Ms)} | ${ms(run.loopDelay.maxMs)}`

const rowOf = (run: Run): string =>
  `| ${run.round} | ${run.kind} | ${int(run.responses)} | ${int(run.rps)} | ${ms(run.p50)} | ${ms(run.p99)} | ` +
  `${ms(run.max)} | ${loopCells(run)} | ${run.non202} | ${run.errors} | ${pct(run.serverCpu)} | ` +
  `${pct(run.loadgenCpu)} | ${mib(run.peakRssBytes)} | ${
    run.exportsFinished === undefined ? "" : int(run.exportsFinished)
  } |`

/** The main thread's collections over a run, and what it allocated a response (the figure the load does not move). */
const gcText = (gc: GcWindow, responses: number): string =>
  `main thread allocated ${int(gc.allocatedBytes / 2 ** 20)} MiB, ` +
  `${responses === 0 ? "n/a" : int(gc.allocatedBytes / responses / 1024)} KiB a response; ` +
  `${gc.young} young and ${gc.full} full collections, ${int(gc.pauseMs)} ms in all, the longest ` +
  `${ms(gc.maxPauseMs)} ms; `

const TABLE_HEAD = [
  "| run | server | responses | req/s | p50 ms | p99 ms | max ms | loop delay p99 ms | loop delay max ms | non-202 | " +
  "errors | server CPU | loadgen CPU | peak RSS MiB | exports finished |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
]

const medianOf = (list: ReadonlyArray<Run>, pick: (run: Run) => number) => median(list.map(pick))

const medianRow = (kind: ServerKind, list: ReadonlyArray<Run>) =>
  `| median | ${kind} | ${int(medianOf(list, (r) => r.responses))} | ${int(medianOf(list, (r) => r.rps))} | ` +
  `${ms(medianOf(list, (r) => r.p50))} | ${ms(medianOf(list, (r) => r.p99))} | ` +
  `${ms(medianOf(list, (r) => r.max))} | ${ms(medianOf(list, (r) => r.loopDelay?.p99Ms ?? Number.NaN))} | ` +
  `${ms(medianOf(list, (r) => r.loopDelay?.maxMs ?? Number.NaN))} | | | | | | |`

/** The one verdict line, from the open-loop runs' medians, and whether every target is met. */
const verdictOf = (open: ReadonlyArray<Run>): { readonly line: string; readonly met: boolean } => {
  const p99 = medianOf(open, (r) => r.p99)
  const loopP99 = medianOf(open, (r) => r.loopDelay?.p99Ms ?? Number.NaN)
  const kept = medianOf(open, (r) => r.rps) / options.rate
  const checks = [
    { met: p99 < P99_TARGET_MS, text: `p99 ${ms(p99)} ms (< ${P99_TARGET_MS})` },
    {
      met: loopP99 < LOOP_DELAY_P99_TARGET_MS,
      text: `loop delay p99 ${ms(loopP99)} ms (< ${LOOP_DELAY_P99_TARGET_MS})`
    },
    { met: kept >= RATE_KEPT_TARGET, text: `${pct(kept)} of the offered rate answered (≥ ${pct(RATE_KEPT_TARGET)})` }
  ]
  const workersOff = options.workerConcurrency === 0
  const met = !workersOff && checks.every((check) => check.met)
  return {
    met,
    line:
      `bench:accept verdict: ${
        workersOff ? "NOT JUDGED (no in-process workers: not npm start's composition)" : met ? "MET" : "NOT MET"
      } at ${int(options.rate)} req/s offered, ` +
      `${options.connections} connections, median of ${open.length}: ` +
      checks.map((check) => `${check.text} ${check.met ? "met" : "NOT met"}`).join("; ")
  }
}

const main = async () => {
  const cpuList = cpus()
  const machine = `${cpuList.length} × ${cpuList[0]?.model.trim() ?? "unknown CPU"}, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`
  process.stdout.write(
    [
      `bench:accept  ${new Date().toISOString()}  (load average before: ${
        loadavg().map((l) => l.toFixed(2)).join(" ")
      })`,
      `machine: ${machine}`,
      `load: ${options.connections} connections, pipelining 1, ${options.warmup} s warm-up then ` +
      `${options.duration} s measured, POST ${PATH} on 127.0.0.1; servers in child processes, one at a time, ` +
      `a fresh process per run. Open loop: ${int(options.rate)} req/s offered in all, ` +
      (options.sender === "scheduled"
        ? "one request every 1/rate s, each timed from when it was due (bench/openLoop.ts)"
        : "autocannon's overallRate (each connection's quota of a second sent back to back at its start)") +
      `, ${options.rounds} run(s) of the service` + (options.openBaseline ? " and of the baseline" : "") +
      `; closed loop (autocannon): ${options.closedRounds} baseline/service pair(s)`,
      `requests: every one a new export: ${USERS} users (tokens pre-signed with the data directory's jwt-secret), ` +
      `one-day "orders" ranges over 2024-2025, ${TIME_ZONES.length} time zones; user, day and zone never repeat ` +
      `in a run (${int(DISTINCT_REQUESTS)} distinct bodies); the same requests go to the baseline`,
      options.workerConcurrency === 0
        ? `service: the npm start composition WITHOUT its in-process workers (--worker-concurrency 0), ` +
          `DEMO_ROWS=${options.demoRows}, logs at warning and above; the accepted exports stay queued`
        : `service: the npm start composition, DEMO_ROWS=${options.demoRows}, ` +
          `WORKER_CONCURRENCY=${options.workerConcurrency}, logs at warning and above; its in-process workers run ` +
          "the accepted (one-day) exports in the background during the load and share the CPU",
      ...(options.serviceNodeFlags.length === 0 ? [] : [`service's node flags: ${options.serviceNodeFlags.join(" ")}`]),
      ""
    ].join("\n") + "\n"
  )

  const open: Array<Run> = []
  const openBaseline: Array<Run> = []
  for (let round = 1; round <= options.rounds; round++) {
    if (options.openBaseline) openBaseline.push(await measure("baseline", round, options.rate))
    open.push(await measure("service", round, options.rate))
  }
  const closed: Array<Run> = []
  for (let round = 1; round <= options.closedRounds; round++) {
    for (const kind of ["baseline", "service"] as const) closed.push(await measure(kind, round, undefined))
  }
  const runs = [...openBaseline, ...open, ...closed]
  const of = (kind: ServerKind) => closed.filter((run) => run.kind === kind)
  const baseline = of("baseline")
  const service = of("service")
  const invalid = runs.filter((run) => run.problems.length > 0)
  const verdict = verdictOf(open)

  const lines = [
    "",
    `open loop, ${int(options.rate)} req/s offered (the verdict):`,
    ...TABLE_HEAD,
    ...openBaseline.map(rowOf),
    ...(openBaseline.length === 0 ? [] : [medianRow("baseline", openBaseline)]),
    ...open.map(rowOf),
    medianRow("service", open),
    ...(closed.length === 0 ? [] : [
      "",
      "closed loop, as fast as each server answers (information):",
      ...TABLE_HEAD,
      ...closed.map(rowOf),
      medianRow("baseline", baseline),
      medianRow("service", service),
      "",
      `closed loop, service / baseline requests/s: ${int(medianOf(service, (r) => r.rps))} / ` +
      `${int(medianOf(baseline, (r) => r.rps))} = ${
        (medianOf(service, (r) => r.rps) / medianOf(baseline, (r) => r.rps)).toFixed(2)
      }`
    ]),
    "",
    "per run:",
    ...runs.map((run) =>
      `  ${run.round} ${run.kind.padEnd(8)} ${run.offeredRate === undefined ? "closed" : "open  "} statuses ` +
      `${run.statuses || "none"}; ${int(run.distinctJobs)} distinct job ids over warm-up and run; ` +
      `loop delay p50 ${run.loopDelay === undefined ? "n/a" : ms(run.loopDelay.p50Ms)} ms over ` +
      `${run.loopDelay === undefined ? "n/a" : int(run.loopDelay.samples)} samples; ` +
      (run.fromSendP99 === undefined || run.sendLagP99 === undefined ? "" : (
        `p99 from the actual send ${ms(run.fromSendP99)} ms, send lag p99 ${ms(run.sendLagP99)} ms; `
      )) +
      (run.loopDelay?.gc === undefined ? "" : gcText(run.loopDelay.gc, run.responses)) +
      (run.mainThread === undefined ? "" : (
        `main thread on a core ${int(run.mainThread.onCpuMs)} ms, waiting for one ${int(run.mainThread.waitingMs)} ms; `
      )) +
      `RSS once ready ` +
      `${mib(run.rssAtReadyBytes)} MiB; responses in each second of the ${run.seconds} s run: ` +
      Array.from(run.perSecond, (n) => n ?? 0).join(" ")
    ),
    "",
    (options.sender === "scheduled"
      ? "Open-loop latencies are every response's time from when its request was due (a send delayed behind a " +
        "connection's earlier request counts as waiting); closed-loop ones from the request's sending, as " +
        "autocannon measures. "
      : "Latencies are every response's time as autocannon measured it, from the request's sending (an open " +
        "loop's late sends are not counted as waiting). ") +
    "requests/s is responses / run time. Loop delay is " +
    `monitorEventLoopDelay in the server process over the measured run, sampled every ${LOOP_DELAY_RESOLUTION_MS} ms ` +
    "(each sample includes that interval). server CPU is the server process's CPU time over the run (every thread, " +
    "100% = one core); loadgen CPU is this process's (the load generator's). The main thread's time on a core and " +
    "waiting for one (runnable, other processes on the cores) is the server's main thread's schedstat over the " +
    "run. Exports finished: emails the workers wrote by the end of the run, warm-up included." +
    (options.cpuProfile ? ` CPU profiles of the service: ${PROFILE_DIR}.` : "")
  ]
  for (const run of runs) {
    if (run.serverOutput.length > 0) {
      lines.push(
        "",
        `round ${run.round} ${run.kind} wrote ${run.serverOutput.length} line(s) at warning level or above ` +
          "(or to stderr) from its warm-up on; the first 10:",
        ...run.serverOutput.slice(0, 10).map((text) => `  | ${text.slice(0, 400)}`)
      )
    }
  }
  const loadgenBound = baseline.filter((run) => run.loadgenCpu >= 0.9 && (run.serverCpu ?? 1) < 0.9)
  if (loadgenBound.length > 0) {
    lines.push(
      "",
      `The baseline was limited by the load generator in ${loadgenBound.length} of ${baseline.length} runs ` +
        "(autocannon near one core, the baseline server below): its req/s is a lower bound of what it could serve."
    )
  }
  lines.push("")
  if (invalid.length > 0) {
    lines.push("INVALID:")
    for (const run of invalid) lines.push(`  round ${run.round} ${run.kind}: ${run.problems.join("; ")}`)
  } else {
    lines.push("valid: every response was a 202 with a new job id; no connection error, no timeout.")
  }
  lines.push(verdict.line + (invalid.length > 0 ? " (but a run was invalid)" : ""))
  process.stdout.write(lines.join("\n") + "\n")
  process.exitCode = invalid.length === 0 && verdict.met ? 0 : 1
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:accept failed: ${error instanceof Error ? error.message : String(error)}\n`)
  return abandon(1)
})
