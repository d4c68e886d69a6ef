// The API's warm-up, run as `npm run build` runs it while the startup snapshot is built (ADR 55): it answers on
// in-memory ports with no settings, and draws no random id whose pool would be built into the blob (ADR 52).
import { describe, expect, it, vi } from "@effect/vitest"
import { warmUpApi } from "../../../src/runtimes/lambda/ApiWarmUp.js"

describe("the API's warm-up", () => {
  it("answers an export, its status and the list without reading the environment or drawing a random UUID", async () => {
    const randomUUID = vi.spyOn(globalThis.crypto, "randomUUID")
    const environment = { ...process.env }
    try {
      // A setting the warm-up would trip on if it read the environment: a malformed limit.
      process.env["EXPORTS_PER_USER"] = "not a number"
      await expect(warmUpApi()).resolves.toBeUndefined()
      expect(randomUUID).not.toHaveBeenCalled()
    } finally {
      process.env = environment
      randomUUID.mockRestore()
    }
  })
})
