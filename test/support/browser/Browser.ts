// Debian's chromium driven by playwright-core, for the web app's tests: one browser per test file, a context per
// person (its own sessionStorage), pages that record what the Content-Security-Policy refused and what threw, a
// screenshot per step (gitignored, under .artifacts/web/<suite>), axe-core's verdict, and keyboard-only moves.
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { chromium } from "playwright-core"
import type { Browser, BrowserContext, Locator, Page } from "playwright-core"
import { CHROMIUM_BINARY } from "./WebAppSetup.js"

export const ARTIFACTS = join(import.meta.dirname, "..", "..", "..", ".artifacts", "web")

/** As root, with no sandbox; no calls home, which this machine's closed network refuses one by one. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM_BINARY, args: CHROMIUM_ARGS, headless: true })

export interface WatchedPage {
  readonly page: Page
  /** Content-Security-Policy refusals and uncaught errors, as the page reported them. */
  readonly problems: Array<string>
}

export const newPerson = (browser: Browser): Promise<BrowserContext> =>
  browser.newContext({
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    locale: "en-GB",
    timezoneId: "UTC"
  })

export const watchedPage = async (context: BrowserContext): Promise<WatchedPage> => {
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) problems.push(message.text())
  })
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`))
  return { page, problems }
}

/**
 * A test file's screenshots, each of the whole page as `.artifacts/web/<suite>/NN-name.png`, numbered in the order
 * taken. The suite's folder is emptied first, so what is there is one run's steps, not an earlier run's beside them.
 */
export const screenshotsOf = (suite: string) => {
  const folder = join(ARTIFACTS, suite)
  rmSync(folder, { recursive: true, force: true })
  mkdirSync(folder, { recursive: true })
  let shots = 0
  return async (page: Page, name: string): Promise<string> => {
    const path = join(folder, `${String(++shots).padStart(2, "0")}-${name}.png`)
    await page.screenshot({ path, fullPage: true })
    return path
  }
}

/** What the functions run in the page use of it; this program is typed for Node, without the DOM's types. */
interface InPage {
  readonly axe?: {
    readonly run: (context: unknown) => Promise<{ readonly violations: Array<AxeViolation> }>
  }
  readonly document: { readonly activeElement: unknown }
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly nodes: ReadonlyArray<{ readonly target: ReadonlyArray<unknown> }>
}

/**
 * axe-core's serious and critical violations on the page as it is. Injected through the DevTools protocol, which
 * the page's Content-Security-Policy does not govern: the page itself stays as strict as it is served.
 */
export const seriousAxeViolations = async (page: Page): Promise<ReadonlyArray<string>> => {
  if (!(await page.evaluate(() => (globalThis as unknown as InPage).axe !== undefined))) await page.evaluate(AXE_SOURCE)
  const violations = await page.evaluate(async () => {
    const inPage = globalThis as unknown as InPage
    return (await inPage.axe!.run(inPage.document)).violations
  })
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) =>
      `${violation.impact} ${violation.id}: ${violation.help} (${
        violation.nodes.map((node) => JSON.stringify(node.target)).join(", ")
      })`
    )
}

/** Whether `locator`'s element has the keyboard focus. */
export const isFocused = (locator: Locator): Promise<boolean> =>
  locator.evaluate((element) => element === (globalThis as unknown as InPage).document.activeElement)

/**
 * Presses Tab (Shift+Tab with `backwards`) until `target` has the focus, as a keyboard user moves through a page;
 * fails after `most` presses.
 */
export const tabTo = async (
  page: Page,
  target: Locator,
  options: { readonly most?: number; readonly backwards?: boolean } = {}
) => {
  for (let presses = 0; presses < (options.most ?? 40); presses++) {
    if (await isFocused(target)) return
    await page.keyboard.press(options.backwards === true ? "Shift+Tab" : "Tab")
  }
  if (!(await isFocused(target))) throw new Error(`Tab never reached ${target.toString()}`)
}
