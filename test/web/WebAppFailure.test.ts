// The failure path of the web app in chromium, against `npm start` with its fault switch `EMBEDDED_FAULTS=query-timeout`
// (every export's query times out): the export is accepted with the toast, the failure notice arrives without a
// reload and says why in words, and Try again exports it again, to the same end. A server of its own: the switch
// is per process.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  launchChromium,
  newPerson,
  screenshotsOf,
  seriousAxeViolations,
  watchedPage
} from "../support/browser/Browser.js"
import {
  chooseReport,
  expectToast,
  notificationsButton,
  signIn,
  startServer,
  unreadCountOf
} from "../support/browser/WebAppSteps.js"

const screenshot = screenshotsOf("failure")
const PERSON = { user: "unlucky-user", merchant: "m-globex", email: "unlucky@example.com" }

const dataDir = mkdtempSync(join(tmpdir(), "ade-web-faults-"))
let base: string
let stopServer: () => Promise<void>
let browser: Browser

beforeAll(async () => {
  const [started, launched] = await Promise.all([
    startServer({ dataDir, demoRows: 20_000, env: { EMBEDDED_FAULTS: "query-timeout" } }),
    launchChromium()
  ])
  base = started.server.base
  stopServer = started.stop
  browser = launched
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await stopServer?.()
  rmSync(dataDir, { recursive: true, force: true })
})

describe("the web app when an export's query times out", () => {
  it("tells the user why in words, and Try again exports it again", async () => {
    const { page, problems } = await watchedPage(await newPerson(browser))
    await page.goto(`${base}/`)
    await signIn(page, PERSON)
    await chooseReport(page, { report: "Orders", from: "2025-02-01", to: "2025-02-28" })
    await page.getByRole("button", { name: "Export to CSV" }).click()
    await expectToast(page, "Export in progress")

    await expect.poll(() => unreadCountOf(page), { timeout: 60_000 }).toBe(1)
    await notificationsButton(page).click()
    const notice = page.getByRole("region", { name: "Notifications" }).getByRole("listitem").first()
    await expect.poll(() => notice.getByRole("button", { name: "Try again" }).isVisible()).toBe(true)
    const words = (await notice.textContent()) ?? ""
    expect(words).toMatch(/took too long/i)
    await screenshot(page, "failure-notice")
    expect(await seriousAxeViolations(page)).toStrictEqual([])

    await notice.getByRole("button", { name: "Try again" }).click()
    await expectToast(page, "Export in progress")
    await page.getByRole("link", { name: "My exports" }).click()
    const items = page.getByRole("article")
    await expect.poll(() => items.count()).toBe(2)
    await expect.poll(() => items.first().getByText("Failed", { exact: true }).isVisible(), { timeout: 60_000 })
      .toBe(true)
    // The list's button for a failure uses the notice's words.
    expect(await items.first().getByRole("button", { name: "Try again" }).isVisible()).toBe(true)
    expect(await items.first().textContent()).toMatch(/took too long/i)
    await screenshot(page, "failure-my-exports")
    expect(problems).toStrictEqual([])
  })
})
