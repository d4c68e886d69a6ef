// What `npm run build` put in each Lambda bundle, read from esbuild's metafiles: a handler, and nothing of the
// embedded default or of the test servers.
import { describe, expect, it } from "@effect/vitest"
import { readFileSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const DIST = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda")

const inputsOf = (name: string): Array<string> =>
  Object.keys((JSON.parse(readFileSync(join(DIST, `${name}.meta.json`), "utf8")) as { inputs: object }).inputs)

const FORBIDDEN = [
  /node_modules\/chdb\//,
  /src\/adapters\/(memory|chdb|localfs|eml)\//,
  /src\/runtimes\/(node|server|local)\//,
  /node_modules\/(s3rver|fauxqs|dynalite|aws-ses-v2-local|vitest|@effect\/vitest|tsx)\//
]

describe("the Lambda bundles", () => {
  for (const name of ["api", "worker"] as const) {
    it(`${name}: an ES module exporting handler, with its zip, and only the Lambda composition inside`, async () => {
      const module = (await import(`${pathToFileURL(join(DIST, name, "index.mjs")).href}?inspect`)) as {
        handler?: unknown
      }
      expect(typeof module.handler).toBe("function")
      expect(statSync(join(DIST, `${name}.zip`)).size).toBeGreaterThan(0)
      const inputs = inputsOf(name)
      expect(inputs).toContain(`src/runtimes/lambda/${name}.ts`)
      for (const pattern of FORBIDDEN) expect(inputs.filter((input) => pattern.test(input))).toStrictEqual([])
    })
  }

  it("both hold the ClickHouse client (the API for previews, ADR 35); the worker no HTTP server", () => {
    expect(inputsOf("worker").some((input) => input.includes("node_modules/@clickhouse/client"))).toBe(true)
    expect(inputsOf("api").some((input) => input.includes("node_modules/@clickhouse/client"))).toBe(true)
    // Of the HTTP adapter, only what a notice's links are written with: the API's paths, not its declaration.
    expect(inputsOf("worker").filter((input) => input.includes("src/adapters/http/")).sort()).toStrictEqual([
      "src/adapters/http/ExportPaths.ts",
      "src/adapters/http/HttpExportLinks.ts"
    ])
  })
})
