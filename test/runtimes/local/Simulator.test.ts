import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Logger, TestClock } from "effect"
import { spawnSync } from "node:child_process"
import { SCENARIOS } from "../../../src/runtimes/local/Scenarios.js"
import { simulate } from "../../../src/runtimes/local/Simulator.js"
import { testLayer } from "../../support/Fixtures.js"

const quietly = Logger.replace(Logger.defaultLogger, Logger.none)

const simulateAll = (scenarios = SCENARIOS) =>
  Effect.gen(function*() {
    const run = yield* Effect.fork(
      simulate({ scenarios, jobsPerScenario: 1, reportType: "orders", dateFrom: "2024-01-01", dateTo: "2024-03-31" })
    )
    yield* TestClock.adjust(Duration.hours(1))
    return yield* Fiber.join(run)
  }).pipe(Effect.provide(testLayer(200)), Effect.provide(quietly))

describe("simulator", () => {
  it.effect("walks every scenario to the end its flags call for", () =>
    Effect.gen(function*() {
      const { reports, summary } = yield* simulateAll()
      expect(reports.filter((r) => r.problems.length > 0)).toStrictEqual([])
      expect(summary).toStrictEqual({
        jobs: SCENARIOS.length,
        succeeded: SCENARIOS.filter((s) => s.expect.status === "Succeeded").length,
        failed: SCENARIOS.filter((s) => s.expect.status !== "Succeeded").length,
        emails: SCENARIOS.reduce((sum, s) => sum + s.expect.emails, 0),
        inApp: SCENARIOS.reduce((sum, s) => sum + s.expect.inApp, 0),
        unexpected: 0
      })
      expect(reports.find((r) => r.scenario === "success")?.rows).toBe(200)
    }))

  it.effect("reports a job that ends anywhere its scenario did not call for", () =>
    Effect.gen(function*() {
      const wrong = {
        ...SCENARIOS[0]!,
        expect: { status: "Failed" as const, reason: "QueryTimeout" as const, emails: 1, inApp: 1 }
      }
      const { reports, summary } = yield* simulateAll([wrong])
      expect(summary.unexpected).toBe(1)
      expect(reports[0]!.problems).toStrictEqual([
        "ended Succeeded, expected Failed",
        "reason none, expected QueryTimeout"
      ])
    }))
})

describe("npm run simulate", () => {
  const cli = (...args: Array<string>) =>
    spawnSync(process.execPath, ["--import", "tsx", "src/runtimes/local/simulate.ts", ...args], {
      encoding: "utf8",
      timeout: 60_000
    })

  it("prints a timeline and a one-line JSON summary, and exits 0 when every job ends as expected", () => {
    const run = cli("--scenario", "success,query-timeout", "--rows", "300")
    expect(run.status).toBe(0)
    const lines = run.stdout.trim().split("\n")
    expect(JSON.parse(lines[lines.length - 1]!)).toStrictEqual({
      jobs: 2,
      succeeded: 1,
      failed: 1,
      emails: 2,
      inApp: 2,
      unexpected: 0
    })
    for (
      const step of ["export accepted", "export running", "file uploaded", "download link signed", "notification sent"]
    ) {
      expect(run.stdout).toContain(step)
    }
    expect(run.stdout).not.toMatch(/sim-success-1@example\.com/)
  })

  it("refuses an unknown flag or scenario with exit code 2 and the usage", () => {
    const run = cli("--scenario", "meteor-strike")
    expect(run.status).toBe(2)
    expect(run.stderr).toContain("unknown scenario \"meteor-strike\"")
    expect(run.stderr).toContain("Usage: npm run simulate")
  })
})
