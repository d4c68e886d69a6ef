// What a person does in the web app, step by step, found by role and name as a screen reader finds it: shared by
// the browser tests and the click-to-toast bench. Waits are playwright's own, so it runs outside vitest too.
import { Effect, Exit, Scope } from "effect"
import type { Locator, Page } from "playwright-core"
import { startEmbedded } from "../EmbeddedProcess.js"
import type { EmbeddedProcess, EmbeddedSettings } from "../EmbeddedProcess.js"
import { freePort } from "../FreePort.js"

export interface Person {
  readonly user: string
  readonly merchant: string
  readonly email: string
}

/** `npm start`'s server as a child process on a free port, until `stop`. */
export const startServer = async (settings: Omit<EmbeddedSettings, "port">) => {
  const scope = Effect.runSync(Scope.make())
  const port = await Effect.runPromise(freePort)
  const server: EmbeddedProcess = await Effect.runPromise(
    Scope.extend(startEmbedded({ ...settings, port }), scope)
  )
  return { server, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const signIn = async (page: Page, person: Person): Promise<void> => {
  await page.getByLabel("User").fill(person.user)
  await page.getByLabel("Merchant").fill(person.merchant)
  await page.getByLabel("Email").fill(person.email)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.getByRole("button", { name: "Sign out" }).waitFor()
}

export interface ReportChoice {
  readonly report: string
  readonly from: string
  readonly to: string
  readonly zone?: string
}

export const chooseReport = async (page: Page, choice: ReportChoice): Promise<void> => {
  await page.getByLabel("Report").selectOption({ label: choice.report })
  await page.getByLabel("From").fill(choice.from)
  await page.getByLabel("To").fill(choice.to)
  await page.getByLabel("Time zone").selectOption(choice.zone ?? "UTC")
}

/** The durations of the "click-to-toast" measures the app took in this page, in milliseconds. */
export const clickToToast = (page: Page): Promise<ReadonlyArray<number>> =>
  page.evaluate(() => performance.getEntriesByName("click-to-toast").map((entry) => entry.duration))

/** Waits until the toast region says `text`. */
export const expectToast = (page: Page, text: string): Promise<void> =>
  page.getByRole("status").filter({ hasText: text }).waitFor()

/** The Notifications control's name once it counts `unread` unread notices ("Notifications, 1 unread"). */
export const notificationsButton = (page: Page): Locator => page.getByRole("button", { name: /^Notifications/ })

export const unreadCountOf = async (page: Page): Promise<number> => {
  const name = (await notificationsButton(page).textContent()) ?? ""
  const match = /(\d+) unread/.exec(name)
  return match === null ? 0 : Number(match[1])
}

/** The export whose title (report, range, zone) is `title`, the newest first. */
export const exportArticles = (page: Page, title: string): Locator =>
  page.getByRole("article").filter({ has: page.getByRole("heading", { name: title, exact: true }) })

/** An export's job id, from the link to its page. */
export const jobIdOf = async (article: Locator): Promise<string> => {
  const href = await article.getByRole("heading").getByRole("link").getAttribute("href")
  return decodeURIComponent(href!.split("/").pop()!)
}
