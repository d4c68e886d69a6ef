// What `npm run build` put in each Lambda bundle, read from esbuild's metafiles: a handler, nothing of the
// embedded default or of the test servers, and no more than a cold start should load (ADR 42).
import { describe, expect, it } from "@effect/vitest"
import type { Metafile } from "esbuild"
import { readFileSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { BUNDLE_LIMIT_BYTES, outputsOf } from "../../../scripts/LambdaBundle.js"

const DIST = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda")

const metafileOf = (name: string) => JSON.parse(readFileSync(join(DIST, `${name}.meta.json`), "utf8")) as Metafile

const inputsOf = (name: string): Array<string> => Object.keys(metafileOf(name).inputs)

/** The source files of which some code is in the bundle's output files (esbuild also lists those it shook out). */
const bundledInputsOf = (name: string): Array<string> =>
  Object.values(metafileOf(name).outputs).flatMap((output) =>
    Object.entries(output.inputs).flatMap(([input, { bytesInOutput }]) => (bytesInOutput > 0 ? [input] : []))
  )

// Test-only code and a page for people: never in a function (ADR 42).
const NOT_IN_PRODUCTION = [
  /node_modules\/(fast-check|pure-rand)\//,
  /node_modules\/@effect\/platform\/dist\/esm\/(HttpApiSwagger|internal\/httpApiSwagger)\.js$/,
  // The HTTP client of @effect/platform-node's root, which no function uses.
  /node_modules\/undici\//
]

// What the AWS SDK loads with import() only on paths a function does not take: the only code left out of a cold start.
const LOADED_ONLY_IF_ASKED = /^node_modules\/(@aws-sdk|@smithy|bowser)\//
// The API's file store signs links without an S3 client (ADR 61); the uploads it never makes would load S3FileStore.
const API_LOADED_ONLY_IF_UPLOADING = /^src\/adapters\/s3\/(S3FileStore|PartBuffers)\.ts$/
const loadedOnlyIfAsked = (name: "api" | "worker") => (input: string) =>
  LOADED_ONLY_IF_ASKED.test(input) || (name === "api" && API_LOADED_ONLY_IF_UPLOADING.test(input))

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

  for (const name of ["api", "worker"] as const) {
    it(`${name}: at most 1 MiB loaded at start, without fast-check, Swagger UI or undici`, () => {
      const outputs = outputsOf(metafileOf(name))
      expect(outputs.bytesAtStart).toBeGreaterThan(0)
      expect(outputs.bytesAtStart).toBeLessThanOrEqual(BUNDLE_LIMIT_BYTES)
      const bundled = bundledInputsOf(name)
      for (const pattern of NOT_IN_PRODUCTION) expect(bundled.filter((input) => pattern.test(input))).toStrictEqual([])
      // The chunks left for later are the SDK's own, so that nothing of the function's hides from the limit there.
      expect(outputs.loadedLater.length).toBeGreaterThan(0)
      const later = outputs.inputsOf(outputs.loadedLater)
      expect(later.filter((input) => !loadedOnlyIfAsked(name)(input))).toStrictEqual([])
    })
  }

  it("the API loads no S3 client at start: its links are signed with SigV4 alone (ADR 61)", () => {
    const outputs = outputsOf(metafileOf("api"))
    const atStart = outputs.inputsOf(outputs.loadedAtStart)
    expect(atStart.filter((input) => /node_modules\/@aws-sdk\/(client-s3|s3-request-presigner)\//.test(input)))
      .toStrictEqual([])
    expect(atStart.filter((input) => input.startsWith("src/adapters/s3/"))).toStrictEqual([
      "src/adapters/s3/S3LinkFileStore.ts",
      "src/adapters/s3/S3Settings.ts"
    ])
  })

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
