import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { queueMaxReceivesConfig } from "../../src/application/ExportWorker.js"

const read = <A>(config: Effect.Effect<A, unknown>, settings: Record<string, string>) =>
  Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(settings))))

describe("export settings", () => {
  it.effect("defaults: a minute's lease, five minutes of email retries, three receives", () =>
    Effect.gen(function*() {
      const settings = yield* read(ExportSettings.config, {})
      expect([settings.lease, settings.emailRetryWindow]).toStrictEqual([Duration.seconds(60), Duration.minutes(5)])
      expect(yield* read(queueMaxReceivesConfig, {})).toBe(3)
      const set = yield* read(ExportSettings.config, { EXPORT_LEASE: "2 seconds", EMAIL_RETRY_WINDOW: "0 seconds" })
      expect([set.lease, set.emailRetryWindow]).toStrictEqual([Duration.seconds(2), Duration.seconds(0)])
    }))

  it.effect("a value out of range fails with the setting's name", () =>
    Effect.gen(function*() {
      for (
        const [name, value] of [
          ["EXPORT_LINK_TTL", "8 days"],
          ["EXPORT_QUERY_TIMEOUT", "0 seconds"],
          ["EXPORT_MAX_ATTEMPTS", "11"],
          ["EXPORT_LEASE", "500 millis"],
          ["EMAIL_RETRY_WINDOW", "2 hours"]
        ] as const
      ) {
        const error = yield* Effect.flip(read(ExportSettings.config, { [name]: value }))
        expect(String(error)).toContain(name)
      }
      expect(String(yield* Effect.flip(read(queueMaxReceivesConfig, { QUEUE_MAX_RECEIVES: "0" }))))
        .toContain("QUEUE_MAX_RECEIVES")
    }))
})
