// `npm run simulate -- [options]`: export scenarios end to end on the in-memory adapters, with a timeline per
// job and a one-line JSON summary. Exits non-zero when a job ends anywhere its scenario did not call for.
import { NodeRuntime } from "@effect/platform-node"
import { ConfigProvider, Console, Effect, Layer, Logger } from "effect"
import { parseArgs } from "node:util"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import { demoOrderLines } from "../../adapters/memory/DemoOrders.js"
import * as MemoryAdapters from "../../adapters/memory/MemoryAdapters.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { ReportType } from "../../domain/Reports.js"
import { SCENARIOS } from "./Scenarios.js"
import { simulate } from "./Simulator.js"
import { timelineLogger } from "./TimelineLogger.js"

const USAGE = `Usage: npm run simulate -- [options]
  --rows N            order lines per merchant in the demo data (default 20000)
  --scenario NAME     run only this scenario; repeat or comma-separate for several (default: all)
  --jobs N            jobs per scenario (default 1)
  --report TYPE       ${ReportType.literals.join(" | ")} (default orders)
  --list              list the scenarios and exit
Scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`

const fail = (problem: string): never => {
  process.stderr.write(`${problem}\n\n${USAGE}\n`)
  process.exit(2)
}

const positiveInt = (flag: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback
  const value = Number(text)
  return Number.isSafeInteger(value) && value > 0
    ? value
    : fail(`--${flag} must be a positive whole number, got "${text}"`)
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        rows: { type: "string" },
        scenario: { type: "string", multiple: true },
        jobs: { type: "string" },
        report: { type: "string" },
        list: { type: "boolean" },
        help: { type: "boolean" }
      },
      strict: true
    })
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()

if (values.help === true) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
if (values.list === true) {
  for (const scenario of SCENARIOS) process.stdout.write(`${scenario.name.padEnd(18)} ${scenario.description}\n`)
  process.exit(0)
}

const rows = positiveInt("rows", values.rows, 20_000)
const requested = (values.scenario ?? []).flatMap((names) => names.split(",")).filter((name) => name.length > 0)
const scenarios = requested.length === 0
  ? SCENARIOS
  : requested.map((name) => SCENARIOS.find((s) => s.name === name) ?? fail(`unknown scenario "${name}"`))
const reportType = values.report === undefined
  ? "orders"
  : ReportType.literals.find((type) => type === values.report) ?? fail(`unknown report "${values.report}"`)

const dataset = (merchantId: Parameters<typeof demoOrderLines>[0]["merchantId"]) => ({
  [Symbol.iterator]: () =>
    demoOrderLines({
      merchantId,
      lines: rows,
      from: Date.parse("2024-01-01T00:00:00Z"),
      to: Date.parse("2024-03-31T23:59:59Z")
    })
})

const program = Effect.gen(function*() {
  const { summary } = yield* simulate({
    scenarios,
    jobsPerScenario: positiveInt("jobs", values.jobs, 1),
    reportType,
    dateFrom: "2024-01-01",
    dateTo: "2024-03-31"
  })
  yield* Console.log(JSON.stringify(summary))
  if (summary.unexpected > 0) return yield* Effect.fail(`${summary.unexpected} job(s) ended unexpectedly`)
})

/**
 * Under the environment, the simulator's own defaults: the email-down scenario tries the email for seconds, not the
 * five minutes a real provider's outage is given.
 */
const simulatorDefaults = Layer.setConfigProvider(
  ConfigProvider.fromEnv().pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map([["EMAIL_RETRY_WINDOW", "3 seconds"]])))
  )
)

const simulation = MemoryAdapters.layer(dataset).pipe(
  Layer.provideMerge(Layer.merge(ExportSettings.layer, HttpExportLinks.layerConfig)),
  Layer.provide(simulatorDefaults),
  Layer.merge(Logger.replace(Logger.defaultLogger, timelineLogger((line) => process.stdout.write(`${line}\n`))))
)

NodeRuntime.runMain(program.pipe(Effect.provide(simulation)), { disablePrettyLogger: true })
