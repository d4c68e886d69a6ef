// `npm run bench:web [-- --clicks 30]`
//
// Click-to-toast in the browser: `npm start`'s server (a child process, a free loopback port, a fresh DATA_DIR and a
// small dataset), the built web app in Debian's chromium (playwright-core), one person signed in on the Reports page.
// Each click on Export to CSV is a new export (top products with another limit each time); the app marks the click
// and measures, when the toast "Export in progress" has rendered, `click-to-toast` (web/src/app/Toaster.tsx). Prints
// each time and the median, p90 and max. Run `npm run build:web` first (or `npm start` once) so the build is current.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { launchChromium, newPerson, watchedPage } from "../test/support/browser/Browser.js"
import { chooseReport, clickToToast, expectToast, signIn, startServer } from "../test/support/browser/WebAppSteps.js"

const { values } = parseArgs({ options: { clicks: { type: "string", default: "30" } } })
const clicks = Number(values.clicks)

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const dataDir = mkdtempSync(join(tmpdir(), "ade-bench-web-"))
const { server, stop } = await startServer({ dataDir, demoRows: 20_000 })
const browser = await launchChromium()
try {
  const { page } = await watchedPage(await newPerson(browser))
  await page.goto(`${server.base}/`)
  await signIn(page, { user: "bench-user", merchant: "m-acme", email: "bench@example.com" })
  await chooseReport(page, { report: "Top products", from: "2025-01-01", to: "2025-01-31" })
  for (let click = 1; click <= clicks; click++) {
    await page.getByLabel("Limit").fill(String(click))
    await page.getByRole("button", { name: "Export to CSV" }).click()
    await expectToast(page, "Export in progress")
    while ((await clickToToast(page)).length < click) await page.waitForTimeout(10)
  }
  const times = [...(await clickToToast(page))]
  const sorted = [...times].sort((a, b) => a - b)
  process.stdout.write(`click-to-toast (ms): ${times.map((t) => t.toFixed(1)).join(" ")}\n`)
  process.stdout.write(
    `median ${quantile(sorted, 0.5).toFixed(1)} ms, p90 ${quantile(sorted, 0.9).toFixed(1)} ms, ` +
      `max ${sorted[sorted.length - 1]!.toFixed(1)} ms over ${times.length} clicks\n`
  )
} finally {
  await browser.close()
  await stop()
  rmSync(dataDir, { recursive: true, force: true })
}
