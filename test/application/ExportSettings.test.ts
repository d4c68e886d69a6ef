import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { EventStreamSettings } from "../../src/application/EventStream.js"
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
          ["EMAIL_RETRY_WINDOW", "2 hours"],
          ["EXPORTS_PER_USER", "0"],
          ["EXPORTS_PER_MERCHANT", "1001"],
          ["ROWS_PER_EXPORT", "-1"],
          ["EVENT_STREAMS_PER_USER", "101"]
        ] as const
      ) {
        const error = yield* Effect.flip(read(ExportSettings.config, { [name]: value }))
        expect(String(error)).toContain(name)
      }
      expect(String(yield* Effect.flip(read(queueMaxReceivesConfig, { QUEUE_MAX_RECEIVES: "0" }))))
        .toContain("QUEUE_MAX_RECEIVES")
    }))

  it.effect("the tenant limits are read in one place: the event streams' cap is the same setting", () =>
    Effect.gen(function*() {
      const defaults = yield* read(ExportSettings.config, {})
      expect(defaults.limits).toStrictEqual({
        exportsPerUser: 5,
        exportsPerMerchant: 20,
        rowsPerExport: 50_000_000,
        eventStreamsPerUser: 5
      })
      const settings = { EXPORTS_PER_USER: "2", ROWS_PER_EXPORT: "1000", EVENT_STREAMS_PER_USER: "7" }
      const set = yield* read(ExportSettings.config, settings)
      expect([set.limits.exportsPerUser, set.limits.rowsPerExport, set.limits.eventStreamsPerUser])
        .toStrictEqual([2, 1000, 7])
      expect((yield* read(EventStreamSettings.config, settings)).streamsPerUser).toBe(7)
    }))
})
