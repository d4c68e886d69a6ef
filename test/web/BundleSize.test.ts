// The first page's JavaScript budget (issue 17): at most 200 KiB gzipped, on the build `npm start` serves. The
// globalSetup built it from the current sources.
import { describe, expect, it } from "vitest"
import { firstPageScripts } from "../../scripts/WebBuild.js"

const BUDGET_BYTES = 200 * 1024

describe("the web app's build", () => {
  it("loads at most 200 KiB of JavaScript, gzipped, on its first page", () => {
    const scripts = firstPageScripts()
    const total = scripts.reduce((sum, script) => sum + script.gzipBytes, 0)
    const listing = scripts.map((script) => `${script.file}: ${(script.gzipBytes / 1024).toFixed(1)} KiB`).join("\n")
    expect(scripts.length, "index.html loads no script").toBeGreaterThan(0)
    expect(total, `first page's JavaScript, gzipped:\n${listing}`).toBeLessThanOrEqual(BUDGET_BYTES)
  })
})
