import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    reporters: process.env["VITEST_JSON_REPORT"]
      ? ["default", ["json", { outputFile: process.env["VITEST_JSON_REPORT"] }]]
      : ["default"]
  }
})
