// docs/reliability.md's matrix is the fault matrix the suite runs: the same rows, in the same order, with the counts
// each row must end with; and every suite of rows has its test file.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { expectedCounts, FAULT_MATRIX, SUITES } from "./FaultMatrix.js"

const ROOT = join(import.meta.dirname, "..", "..")
const HEADER = "| Fault | Stack | Jobs lost | Stuck | Run twice | Emails duplicated | Emails lost | Partial objects |"

const matrixRows = () => {
  const lines = readFileSync(join(ROOT, "docs", "reliability.md"), "utf8").split("\n")
  const start = lines.indexOf(HEADER)
  expect(start, "docs/reliability.md has the matrix's header").toBeGreaterThanOrEqual(0)
  const rows: Array<ReadonlyArray<string>> = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break
    rows.push(line.split("|").slice(1, -1).map((cell) => cell.trim()))
  }
  return rows
}

describe("docs/reliability.md", () => {
  it("names exactly the scenarios the fault matrix runs, with the counts each must end with", () => {
    const documented = matrixRows().map(([name, _stack, ...counts]) => [name, counts.map(Number)])
    const run = FAULT_MATRIX.map((scenario) => {
      const counts = expectedCounts(scenario)
      return [scenario.name, [
        counts.jobsLost,
        counts.stuck,
        counts.runTwice,
        counts.emailsDuplicated,
        counts.emailsLost,
        counts.partialObjects
      ]]
    })
    expect(documented).toStrictEqual(run)
  })

  it("has a test file for every suite of the matrix", () => {
    for (const suite of SUITES) {
      expect(existsSync(join(import.meta.dirname, `FaultMatrix.${suite}.test.ts`)), suite).toBe(true)
    }
  })
})
