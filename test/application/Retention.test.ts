// FILE_RETENTION: a file outlives every link signed for it. The default does for any EXPORT_LINK_TTL; a shorter
// setting is refused at start-up, naming the setting.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option } from "effect"
import { inspect } from "node:util"
import { MAX_LINK_TTL } from "../../src/application/ports/FileStore.js"
import {
  DEFAULT_FILE_RETENTION,
  FILE_RETENTION_MARGIN,
  fileRetentionConfig,
  retentionDays
} from "../../src/application/Retention.js"

const read = (settings: Record<string, string>) =>
  Effect.either(fileRetentionConfig).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings))))
  )

describe("FILE_RETENTION", () => {
  it.effect("defaults to the longest link a store may sign plus the margin: eight whole days", () =>
    Effect.gen(function*() {
      expect(DEFAULT_FILE_RETENTION).toStrictEqual(Duration.sum(MAX_LINK_TTL, FILE_RETENTION_MARGIN))
      expect(retentionDays(DEFAULT_FILE_RETENTION)).toBe(8)
      for (const ttl of ["1 hour", "24 hours", "7 days"]) {
        const retention = Either.getOrThrow(yield* read({ EXPORT_LINK_TTL: ttl }))
        expect(Duration.toMillis(retention)).toBe(Duration.toMillis(DEFAULT_FILE_RETENTION))
      }
    }))

  it.effect("takes a setting of at least EXPORT_LINK_TTL plus the margin", () =>
    Effect.gen(function*() {
      const retention = Either.getOrThrow(yield* read({ FILE_RETENTION: "2 days", EXPORT_LINK_TTL: "24 hours" }))
      expect(Duration.toMillis(retention)).toBe(Duration.toMillis(Duration.days(2)))
    }))

  it.effect("refuses a retention a link could outlive, naming FILE_RETENTION", () =>
    Effect.gen(function*() {
      for (
        const settings of [
          { FILE_RETENTION: "1 day" },
          { FILE_RETENTION: "47 hours", EXPORT_LINK_TTL: "24 hours" },
          { FILE_RETENTION: "7 days", EXPORT_LINK_TTL: "7 days" }
        ]
      ) {
        const refused = inspect(Option.getOrThrow(Either.getLeft(yield* read(settings))))
        expect(refused).toContain("FILE_RETENTION")
        expect(refused).toContain("outlive every link")
      }
    }))
})
