// The functions run without `--enable-source-maps` (ADR 47): a stack trace in their logs names the bundle's minified
// positions, and `npm run decode-stack` maps it back to the sources with the `.map` files `npm run build` ships.
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..")
const API = join(ROOT, "dist", "lambda", "api")

/** The stack of what the built API's handler throws on a non-event, as a process started like the function logs it. */
const loggedTrace = () => {
  const thrown = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      "import('./index.mjs').then((m) => m.handler(null)).catch((e) => console.log(e.stack))"
    ],
    { cwd: API, env: { PATH: process.env["PATH"] ?? "" }, encoding: "utf8" }
  )
  return thrown.stdout
}

describe("decode-stack", () => {
  it("maps a trace of the built bundle back to the project's sources", () => {
    const trace = loggedTrace()
    expect(trace).toMatch(/index\.mjs:\d+:\d+/)
    expect(trace).not.toContain("src/runtimes/lambda/")
    const decoded = spawnSync(
      process.execPath,
      [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/decode-stack.ts", API],
      { cwd: ROOT, input: trace, encoding: "utf8" }
    )
    expect(decoded.status).toBe(0)
    expect(decoded.stdout).toMatch(/src\/runtimes\/lambda\/ApiGatewayHttp\.ts:\d+:\d+/)
    // The handler that called it (made in ApiFunction.ts, the module the entry api.ts makes it with).
    expect(decoded.stdout).toMatch(/src\/runtimes\/lambda\/ApiFunction\.ts:\d+:\d+/)
  })
})
