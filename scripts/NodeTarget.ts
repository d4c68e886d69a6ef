// The one Node LTS major the project develops, tests, benchmarks and deploys on (ADR 1, ADR 15): the major of the
// `node` package pinned in package.json, which npm scripts run on. The bundlers target it and the stack's functions
// run it (a test checks the stack against it).
import { readFileSync } from "node:fs"

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  readonly devDependencies: Readonly<Record<string, string>>
}

/** The pinned version, e.g. 24.21.0: the binary a function's startup snapshot is built with and ships with (ADR 52). */
export const NODE_VERSION = manifest.devDependencies["node"] ?? ""

/** The pinned major, e.g. 24. */
export const NODE_MAJOR = Number(manifest.devDependencies["node"]?.split(".")[0])

/** esbuild's `target` for code that runs on that major. */
export const ESBUILD_NODE_TARGET = `node${NODE_MAJOR}`
