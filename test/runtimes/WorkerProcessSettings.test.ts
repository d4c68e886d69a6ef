// `npm run worker` starts its Node process with the worker's memory settings (ADR 19), the same ones the Lambda
// function gets from WorkerProcessSettings, and keeps whatever NODE_OPTIONS its caller set; and the heap growth the
// worker's entry modules set from inside (ADR 20) takes effect.
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { WORKER_ENVIRONMENT, WORKER_NODE_OPTIONS } from "../../src/runtimes/WorkerProcessSettings.js"

const LAUNCH = "tsx src/runtimes/node/workerMain.ts"
const PRINT_SETTINGS = `node -p "JSON.stringify({ env: process.env, heap: require('v8').getHeapStatistics() })"`

describe("npm run worker", () => {
  it("runs the worker with the worker's environment and Node options, after the caller's own", () => {
    const scripts = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts
    const worker = scripts["worker"] ?? ""
    expect(worker.endsWith(LAUNCH)).toBe(true)
    // The script as npm runs it (through sh), with the worker replaced by a Node process that prints its settings.
    const printed = execFileSync("sh", ["-c", worker.slice(0, -LAUNCH.length) + PRINT_SETTINGS], {
      env: { PATH: process.env["PATH"] ?? "", NODE_OPTIONS: "--max-old-space-size=300" },
      encoding: "utf8"
    })
    const { env, heap } = JSON.parse(printed) as {
      env: Record<string, string>
      heap: { heap_size_limit: number }
    }
    for (const [name, value] of Object.entries(WORKER_ENVIRONMENT)) expect(env[name]).toBe(value)
    expect(env["NODE_OPTIONS"]?.split(/\s+/).filter((option) => option !== "")).toEqual([
      ...WORKER_NODE_OPTIONS,
      "--max-old-space-size=300"
    ])
    // The caller's option took effect alongside the worker's: the old space is capped near 300 MiB.
    expect(heap.heap_size_limit).toBeLessThan(400 * 1024 * 1024)
  })
})

describe("applyWorkerHeapGrowth", () => {
  const fullCollections = (mode: "capped" | "default"): number => {
    const printed = execFileSync(
      process.execPath,
      [...WORKER_NODE_OPTIONS, "--import", "tsx", "test/support/programs/fullCollections.ts", mode],
      { encoding: "utf8" }
    )
    return (JSON.parse(printed) as { fullCollections: number }).fullCollections
  }

  it("makes V8 collect the old generation several times as often while an export's garbage is promoted", () => {
    const defaults = fullCollections("default")
    const capped = fullCollections("capped")
    // Measured: 4 with V8's own growth factor, 19-20 capped at 1.2. A setting that did not take would give equal counts.
    expect(defaults).toBeGreaterThan(0)
    expect(capped).toBeGreaterThanOrEqual(3 * defaults)
  })
})
