import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // Installs Debian's clickhouse-server when it is missing, once and before any test's timeout starts.
    globalSetup: ["test/support/servers/ClickHouseServer.ts"],
    reporters: process.env["VITEST_JSON_REPORT"]
      ? ["default", ["json", { outputFile: process.env["VITEST_JSON_REPORT"] }]]
      : ["default"]
  }
})
