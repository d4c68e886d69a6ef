// vitest's globalSetup for the web app's tests: the app built as `npm start` would build it (only when its build is
// missing or stale), and Debian's chromium installed when missing, once and before any test's timeout starts.
import { ensureWebBuild } from "../../../scripts/WebBuild.js"
import { ensureDebianPackage } from "../DebianPackages.js"

export const CHROMIUM_BINARY = "/usr/bin/chromium"

export const setup = (): void => {
  ensureWebBuild((line) => process.stdout.write(`${line}\n`))
  ensureDebianPackage("chromium", CHROMIUM_BINARY)
}
