// The web app in Debian's chromium, against `npm start` (the embedded server as a child process, on a free port and
// a fresh DATA_DIR, its demo data large enough that a year of orders runs for seconds): sign in, preview, export,
// the toast, the notice without a reload, the download checked against the rows queried directly, cancel, export
// again, the e-mail's deep link, a keyboard-only run and axe-core. One server and one browser for the whole file;
// a browser context per person. Screenshots of each step in .artifacts/web/app; click-to-toast times in
// .artifacts/web/click-to-toast.json (docs/performance.md).
import { parse } from "csv-parse/sync"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ChdbEngine } from "../../src/adapters/chdb/ChdbEngine.js"
import { EXPORT_FORMATS } from "../../src/domain/FileFormats.js"
import { Orders } from "../../src/domain/Reports.js"
import { readEml } from "../adapters/eml/EmlSupport.js"
import {
  ARTIFACTS,
  isFocused,
  launchChromium,
  newPerson,
  screenshotsOf,
  seriousAxeViolations,
  tabTo,
  watchedPage
} from "../support/browser/Browser.js"
import type { WatchedPage } from "../support/browser/Browser.js"
import {
  chooseReport,
  clickToToast,
  expectToast,
  exportArticles,
  jobIdOf,
  notificationsButton,
  signIn,
  startServer,
  unreadCountOf
} from "../support/browser/WebAppSteps.js"
import { emailsFor } from "../support/EmbeddedProcess.js"
import { expectOrdersCsvAsQueried } from "../support/EndToEnd.js"

const screenshot = screenshotsOf("app")
/** About 1.2 million order lines a merchant a year: a year of orders exports for seconds, long enough to cancel. */
const DEMO_ROWS = 7_200_000
const PERSON = { user: "web-user", merchant: "m-acme", email: "web-user@example.com" }
const WEEK = { report: "Orders", from: "2025-01-01", to: "2025-01-07" }
const WEEK_TITLE = "Orders, 2025-01-01 to 2025-01-07, UTC"
const YEAR = { report: "Orders", from: "2025-01-01", to: "2025-12-31" }
const YEAR_TITLE = "Orders, 2025-01-01 to 2025-12-31, UTC"
const YEAR_BEFORE = { report: "Orders", from: "2024-01-01", to: "2024-12-31" }
const FEBRUARY_WEEK = { report: "Orders", from: "2025-02-01", to: "2025-02-07" }
const FEBRUARY_WEEK_TITLE = "Orders, 2025-02-01 to 2025-02-07, UTC"
/** A common phone's window (CSS pixels), the narrowest the app is checked at. */
const PHONE = { viewport: { width: 360, height: 780 } }
/** Cases that wait on exports. */
const EXPORTING = 60_000

const dataDir = mkdtempSync(join(tmpdir(), "ade-web-"))
let base: string
let stopServer: () => Promise<void>
let browser: Browser
let person: BrowserContext
let main: WatchedPage
const clicksToToast: Array<number> = []
/** The CSV downloaded through the UI, checked once the server has stopped (chdb: one process per data directory). */
let downloaded: string | undefined
/** The title of the export cancelled while it ran. */
let cancelledTitle = ""

const page = (): Page => main.page

beforeAll(async () => {
  const [started, launched] = await Promise.all([startServer({ dataDir, demoRows: DEMO_ROWS }), launchChromium()])
  base = started.server.base
  stopServer = started.stop
  browser = launched
  person = await newPerson(browser)
  main = await watchedPage(person)
}, 180_000)

afterAll(async () => {
  writeFileSync(join(ARTIFACTS, "click-to-toast.json"), `${JSON.stringify(clicksToToast)}\n`)
  await browser?.close()
  await stopServer?.()
  rmSync(dataDir, { recursive: true, force: true })
})

describe("the web app on npm start, in chromium", () => {
  it("signs in, previews a report, exports it and says \"Export in progress\"", async () => {
    await page().goto(`${base}/`)
    await screenshot(page(), "sign-in")
    await signIn(page(), PERSON)
    await expect.poll(() => page().getByRole("heading", { name: "Reports", level: 1 }).isVisible()).toBe(true)
    // It opens on the demo data's last month (the data ends before last month), and that preview has rows.
    expect([await page().getByLabel("From").inputValue(), await page().getByLabel("To").inputValue()])
      .toStrictEqual(["2025-12-01", "2025-12-31"])
    await expect.poll(() => page().getByRole("table", { name: /: (first|all) \d+ rows$/ }).isVisible(), {
      timeout: 15_000
    }).toBe(true)

    await chooseReport(page(), WEEK)
    const table = page().getByRole("table", { name: "Orders: first 100 rows" })
    await expect.poll(() => table.isVisible(), { timeout: 15_000 }).toBe(true)
    expect(await table.getByRole("row").count()).toBe(101)
    expect(await table.getByRole("columnheader").first().textContent()).toBe("Order ID")
    await screenshot(page(), "preview")

    // A reload would lose this: the notice must arrive without one.
    await page().evaluate(() => Object.assign(globalThis, { stillTheSamePage: true }))
    await page().getByRole("button", { name: "Export to CSV" }).click()
    await expectToast(page(), "Export in progress")
    await screenshot(page(), "export-in-progress")
    const measured = await clickToToast(page())
    expect(measured).toHaveLength(1)
    clicksToToast.push(...measured)
  }, EXPORTING)

  it("shows the notice without a reload, lists it and marks it read", async () => {
    await expect.poll(() => unreadCountOf(page()), { timeout: 30_000 }).toBe(1)
    expect(await page().evaluate(() => "stillTheSamePage" in globalThis)).toBe(true)
    await notificationsButton(page()).click()
    const panel = page().getByRole("region", { name: "Notifications" })
    const notice = panel.getByRole("listitem").filter({ hasText: "Export ready" })
    await expect.poll(() => notice.isVisible()).toBe(true)
    expect(await notice.textContent()).toContain("Orders (2025-01-01 to 2025-01-07) as CSV")
    // Unread until the panel closes, and the words apart: "New: Export ready", not "New:Export ready".
    expect(await notice.locator(".notice-title").textContent()).toBe("New: Export ready")
    await expect.poll(() => unreadCountOf(page())).toBe(0)
    await screenshot(page(), "notice")
  }, EXPORTING)

  it("downloads the file through the notice's Download button", async () => {
    const notice = page().getByRole("region", { name: "Notifications" }).getByRole("listitem").first()
    const [download] = await Promise.all([
      page().waitForEvent("download"),
      notice.getByRole("button", { name: "Download" }).click()
    ])
    const path = join(dataDir, "downloaded.csv")
    await download.saveAs(path)
    downloaded = readFileSync(path, "utf8")
    const [, ...rows]: Array<Array<string>> = parse(downloaded)

    await page().getByRole("link", { name: "My exports" }).click()
    await expect.poll(() => page().getByRole("heading", { name: "My exports", level: 1 }).isVisible()).toBe(true)
    const item = exportArticles(page(), WEEK_TITLE)
    await expect.poll(() => item.count()).toBe(1)
    expect(await item.getByRole("progressbar").getAttribute("value")).toBe("100")
    expect(await item.getByText("Ready", { exact: true }).isVisible()).toBe(true)
    expect(await item.textContent()).toContain(`Rows${rows.length.toLocaleString("en-US")}`)
    expect(await item.getByRole("button", { name: "Download" }).isVisible()).toBe(true)
    await screenshot(page(), "my-exports")
  })

  it("shows a running export's progress, starts it once however often it is clicked, and cancels it", async () => {
    await page().getByRole("link", { name: "Reports" }).click()
    await chooseReport(page(), YEAR)
    await page().getByRole("button", { name: "Export to CSV" }).click()
    await expectToast(page(), "Export in progress")
    clicksToToast.push(...(await clickToToast(page())).slice(-1))
    // While it runs the button says so and is disabled to assistive technology; a click on it starts nothing. (Forced:
    // Playwright would wait for an enabled button; a person can still click it.)
    const busy = page().getByRole("button", { name: /^Exporting…/ })
    await busy.waitFor()
    expect(await busy.getAttribute("aria-disabled")).toBe("true")
    await busy.click({ force: true })
    await busy.click({ force: true })
    await screenshot(page(), "exporting")
    // A second year queued behind it on the one worker: whichever of the two runs when we look is cancelled.
    await chooseReport(page(), YEAR_BEFORE)
    await page().getByRole("button", { name: "Export to CSV" }).click()

    await page().getByRole("link", { name: "My exports" }).click()
    const running = page().getByRole("article").filter({ has: page().getByText("Running", { exact: true }) })
    await expect.poll(() => running.count(), { timeout: 20_000 }).toBe(1)
    expect(await running.getByRole("progressbar").getAttribute("aria-valuetext")).toMatch(/rows written|Starting/)
    cancelledTitle = (await running.getByRole("heading").textContent()) ?? ""
    await screenshot(page(), "running")
    await running.getByRole("button", { name: "Cancel" }).click()
    const item = exportArticles(page(), cancelledTitle)
    await expect.poll(() => item.getByText("Cancelled", { exact: true }).isVisible()).toBe(true)
    await expectToast(page(), "Export cancelled")
    expect(await item.getByRole("button", { name: "Export again" }).isVisible()).toBe(true)
    await screenshot(page(), "cancelled")
    expect(await exportArticles(page(), YEAR_TITLE).count(), "one export however often it was clicked").toBe(1)
  }, EXPORTING)

  it("exports a cancelled export again", async () => {
    await exportArticles(page(), cancelledTitle).getByRole("button", { name: "Export again" }).click()
    await expectToast(page(), "Export in progress")
    clicksToToast.push(...(await clickToToast(page())).slice(-1))
    const both = exportArticles(page(), cancelledTitle)
    await expect.poll(() => both.count()).toBe(2)
    await expect.poll(() => both.first().getByRole("button", { name: "Cancel" }).isVisible()).toBe(true)
    await screenshot(page(), "exported-again")
    // Not waited for: the next steps need the worker.
    await both.first().getByRole("button", { name: "Cancel" }).click()
    await expect.poll(() => both.first().getByText("Cancelled", { exact: true }).isVisible()).toBe(true)
    expect(main.problems).toStrictEqual([])
  }, EXPORTING)

  it("opens the e-mail's link to an export, after signing in", async () => {
    await page().getByRole("link", { name: "My exports" }).click()
    const jobId = await jobIdOf(exportArticles(page(), WEEK_TITLE))
    const [email] = emailsFor(dataDir, jobId)
    expect(email).toBeDefined()
    const text = (await Effect.runPromise(readEml(readFileSync(join(dataDir, "outbox", email!), "utf8")))).text ?? ""
    const link = /in the app: (\S+)/.exec(text)?.[1]
    expect(link).toBe(`${base}/exports/${jobId}`)

    const reader = await newPerson(browser)
    const opened = await watchedPage(reader)
    await opened.page.goto(link!)
    await screenshot(opened.page, "deep-link-sign-in")
    await signIn(opened.page, PERSON)
    const item = opened.page.getByRole("article", { name: WEEK_TITLE })
    await expect.poll(() => item.getByText("Ready", { exact: true }).isVisible()).toBe(true)
    expect(await item.getByRole("progressbar").getAttribute("value")).toBe("100")
    expect(await item.getByRole("button", { name: "Download" }).isVisible()).toBe(true)
    expect(opened.page.url()).toBe(link)
    await screenshot(opened.page, "deep-link")
    expect(opened.problems).toStrictEqual([])
    await reader.close()
  })

  it("works with the keyboard alone", async () => {
    const context = await newPerson(browser)
    const { page: keys, problems } = await watchedPage(context)
    await keys.goto(`${base}/`)
    await tabTo(keys, keys.getByLabel("User"))
    await keys.keyboard.press("Control+A")
    await keys.keyboard.type("keyboard-user")
    await tabTo(keys, keys.getByRole("button", { name: "Sign in" }))
    await keys.keyboard.press("Enter")
    await expect.poll(() => keys.getByRole("button", { name: "Sign out" }).isVisible()).toBe(true)

    const report = keys.getByLabel("Report")
    await tabTo(keys, report)
    while ((await report.inputValue()) !== "top-products") await keys.keyboard.press("ArrowDown")
    // A date field is three parts and its picker's button; Debian's chromium lays them out as its own locale does,
    // month, day, year (en-US), and typing fills them in turn.
    await tabTo(keys, keys.getByLabel("From"))
    await keys.keyboard.type("01012025")
    await tabTo(keys, keys.getByLabel("To"))
    await keys.keyboard.type("03312025")
    expect([await keys.getByLabel("From").inputValue(), await keys.getByLabel("To").inputValue()])
      .toStrictEqual(["2025-01-01", "2025-03-31"])
    // The demo data sells fewer products than the limit: all of them, however many.
    await expect.poll(() => keys.getByRole("table", { name: /^Top products: all \d+ rows/ }).isVisible(), {
      timeout: 15_000
    }).toBe(true)
    await tabTo(keys, keys.getByRole("button", { name: "Export to CSV" }), { backwards: true })
    await keys.keyboard.press("Enter")
    await expectToast(keys, "Export in progress")
    clicksToToast.push(...await clickToToast(keys))

    const bell = notificationsButton(keys)
    await expect.poll(() => unreadCountOf(keys), { timeout: 30_000 }).toBe(1)
    await tabTo(keys, bell, { backwards: true })
    await keys.keyboard.press("Enter")
    const download = keys.getByRole("region", { name: "Notifications" }).getByRole("button", { name: "Download" })
    await tabTo(keys, download)
    await screenshot(keys, "keyboard-notice")
    await keys.keyboard.press("Escape")
    expect(await isFocused(bell)).toBe(true)
    expect(await keys.getByRole("region", { name: "Notifications" }).isVisible()).toBe(false)

    await tabTo(keys, keys.getByRole("link", { name: "My exports" }), { backwards: true })
    await keys.keyboard.press("Enter")
    const heading = keys.getByRole("heading", { name: "My exports", level: 1 })
    await expect.poll(() => isFocused(heading)).toBe(true)
    await tabTo(keys, keys.getByRole("article").first().getByRole("button", { name: "Download" }))
    await screenshot(keys, "keyboard-my-exports")
    expect(problems).toStrictEqual([])
    await context.close()
  }, EXPORTING)

  it("has no serious or critical axe-core violation on any page", async () => {
    const context = await newPerson(browser)
    const { page: checked, problems } = await watchedPage(context)
    const violations: Array<string> = []
    const check = async (what: string) =>
      violations.push(...(await seriousAxeViolations(checked)).map((v) => `${what}: ${v}`))
    await checked.goto(`${base}/`)
    await check("sign-in")
    await signIn(checked, PERSON)
    // A quarter by day: fewer periods than a preview's 100 rows, so the chart and table show all of them.
    await chooseReport(checked, { report: "Sales trend", from: "2025-01-01", to: "2025-03-31" })
    await expect.poll(() => checked.getByRole("table", { name: /^Sales trend: all \d+ rows/ }).isVisible(), {
      timeout: 15_000
    }).toBe(true)
    await expect.poll(() => checked.getByRole("img", { name: /^Revenue per period/ }).isVisible()).toBe(true)
    await screenshot(checked, "sales-trend")
    await check("reports")
    await notificationsButton(checked).click()
    await check("notifications")
    await checked.getByRole("link", { name: "My exports" }).click()
    await expect.poll(() => checked.getByRole("article").count()).toBeGreaterThan(1)
    await check("my exports")
    await checked.getByRole("article").first().getByRole("heading").getByRole("link").click()
    await expect.poll(() => checked.getByRole("heading", { name: "Export", level: 1 }).isVisible()).toBe(true)
    await check("an export")
    expect(violations).toStrictEqual([])
    expect(problems).toStrictEqual([])
    await context.close()
  })

  it("fits a phone's width: no page scrolls sideways, whichever format is chosen; valid parameters are never called wrong", async () => {
    const context = await browser.newContext({ ...PHONE, acceptDownloads: true, locale: "en-GB", timezoneId: "UTC" })
    // Whether the preview ever asked to fix parameters that were valid: from the first render on, not by chance.
    await context.addInitScript({
      content: `new MutationObserver(() => {
        if (document.body?.textContent?.includes("Fix the parameters")) globalThis.askedToFix = true
      }).observe(document, { childList: true, subtree: true, characterData: true })`
    })
    const { page: phone, problems } = await watchedPage(context)
    const overflows: Array<string> = []
    // The document wider than the window: the whole page pans sideways (a wide table scrolls in its own box).
    const check = async (what: string) => {
      const [scrolled, window] = await phone.evaluate<[number, number]>(
        "[document.documentElement.scrollWidth, innerWidth]"
      )
      if (scrolled > window) overflows.push(`${what}: ${scrolled} px in a ${window} px window`)
    }
    await phone.goto(`${base}/`)
    await check("sign-in")
    await signIn(phone, PERSON)
    await chooseReport(phone, WEEK)
    for (const format of EXPORT_FORMATS) {
      await phone.getByLabel("File format").selectOption(format)
      await check(`reports, ${format}`)
    }
    await expect.poll(() => phone.getByRole("table", { name: "Orders: first 100 rows" }).isVisible()).toBe(true)
    await screenshot(phone, "phone-reports")
    expect(await phone.evaluate(() => "askedToFix" in globalThis)).toBe(false)
    await notificationsButton(phone).click()
    await check("notifications")
    await phone.getByRole("link", { name: "My exports" }).click()
    await expect.poll(() => phone.getByRole("article").count()).toBeGreaterThan(0)
    await check("my exports")
    await phone.getByRole("article").first().getByRole("heading").getByRole("link").click()
    await expect.poll(() => phone.getByRole("heading", { name: "Export", level: 1 }).isVisible()).toBe(true)
    await check("an export")
    await screenshot(phone, "phone-export")
    expect(overflows).toStrictEqual([])
    expect(problems).toStrictEqual([])
    await context.close()
  })

  it("exports a report as JSON Lines: the format's own button, its name in the list, its file", async () => {
    await page().getByRole("link", { name: "Reports" }).click()
    await chooseReport(page(), FEBRUARY_WEEK)
    await page().getByLabel("File format").selectOption("jsonl")
    await page().getByRole("button", { name: "Export to JSON Lines" }).click()
    await expectToast(page(), "Export in progress")
    await page().getByRole("link", { name: "My exports" }).click()
    const item = exportArticles(page(), FEBRUARY_WEEK_TITLE)
    await expect.poll(() => item.getByText("Ready", { exact: true }).isVisible(), { timeout: 30_000 }).toBe(true)
    expect(await item.textContent()).toContain("FormatJSON Lines")
    const [download] = await Promise.all([
      page().waitForEvent("download"),
      item.getByRole("button", { name: "Download" }).click()
    ])
    expect(download.suggestedFilename()).toBe("orders_2025-02-01_2025-02-07.jsonl")
    const path = join(dataDir, "downloaded.jsonl")
    await download.saveAs(path)
    const objects = readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0).map((line) =>
      JSON.parse(line) as Record<string, unknown>
    )
    expect(objects.length).toBeGreaterThan(0)
    expect(Object.keys(objects[0]!)).toStrictEqual(Orders.columns.map((column) => column.name))
    expect(await item.textContent()).toContain(`Rows${objects.length.toLocaleString("en-US")}`)
    await screenshot(page(), "jsonl-export")
  }, EXPORTING)

  it("downloaded exactly the rows the report's SQL gives when queried directly", async () => {
    await stopServer()
    expect(downloaded).toBeDefined()
    await Effect.runPromise(
      expectOrdersCsvAsQueried(downloaded!, { dateFrom: WEEK.from, dateTo: WEEK.to, timezone: "UTC" }, PERSON.merchant)
        .pipe(Effect.provide(ChdbEngine.Default(join(dataDir, "clickhouse"))), Effect.scoped)
    )
  })
})
