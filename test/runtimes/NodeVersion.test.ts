// The tests run on the one Node major the project pins (ADR 1), not on whatever `node` the machine has, and every
// native addon the project or its test servers load works on it: Node-API addons load on any major, others only on
// the one they were built for.
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NODE_MAJOR } from "../../scripts/NodeTarget.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..")
const require = createRequire(join(ROOT, "package.json"))

/** Every compiled addon under node_modules that npm installed for this platform (the pinned Node binary aside). */
const installedAddons = (): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".node")) found.push(path)
    }
  }
  walk(join(ROOT, "node_modules"))
  return found
}

describe("the Node the tests run on", () => {
  it("is the pinned LTS major, the one the bundles target and the Lambda functions run", () => {
    expect(NODE_MAJOR).toBeGreaterThanOrEqual(24)
    expect(Number(process.versions.node.split(".")[0])).toBe(NODE_MAJOR)
  })

  it("loads the native addons the service and its test servers use", () => {
    // chdb (the embedded ClickHouse), classic-level (dynalite's storage) and msgpackr-extract (fauxqs): each through
    // the package that loads it, as the code does, so a build for another ABI fails here rather than in a test server.
    const chdb = require("chdb") as { query: (sql: string, format: string) => string }
    expect(chdb.query("SELECT 40 + 2", "CSV").trim()).toBe("42")
    const { ClassicLevel } = require("classic-level") as { ClassicLevel: new(location: string) => object }
    expect(typeof ClassicLevel).toBe("function")
    const extract = require("msgpackr-extract") as { extractStrings: unknown }
    expect(typeof extract.extractStrings).toBe("function")
  })

  it("loads every other addon installed for this machine", () => {
    // Builds for one ABI (`node.abi115.*`) sit beside a Node-API build their loader picks instead; musl builds are
    // for another libc. Everything else must load as it is on the pinned major.
    const addons = installedAddons().filter((path) =>
      path.includes("linux-x64") && !path.includes("musl") && !/\.abi\d+\./.test(path)
    )
    expect(addons.length).toBeGreaterThan(0)
    const unloadable = addons.filter((path) => {
      try {
        require(path)
        return false
      } catch {
        return true
      }
    })
    expect(unloadable).toStrictEqual([])
  })
})
