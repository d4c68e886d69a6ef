import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // A poll that waits on a server and a re-render (the browser tests) gets more than vitest's 1 s by default: the
    // suite runs on two cores shared with the servers it starts.
    expect: { poll: { timeout: 10_000 } },
    // Install Debian's clickhouse-server and chromium when they are missing, and build the web app when its build is
    // missing or stale, once and before any test's timeout starts.
    globalSetup: ["test/support/servers/ClickHouseServer.ts", "test/support/browser/WebAppSetup.ts"],
    reporters: process.env["VITEST_JSON_REPORT"]
      ? ["default", ["json", { outputFile: process.env["VITEST_JSON_REPORT"] }]]
      : ["default"]
  }
})
