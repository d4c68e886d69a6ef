// The behaviour every AuditTrail must have: a job's entries come back oldest first and only for that job, an entry is
// appended once (a repeat of its id keeps the first), and one past its retention is gone.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import type { Layer } from "effect"
import { AuditTrail } from "../../src/application/ports/AuditTrail.js"
import { EXPIRY_SWEEP_INTERVAL } from "../../src/application/Retention.js"
import { AuditEntry, BySignedLink, ByUser } from "../../src/domain/Audit.js"
import type { AuditAction } from "../../src/domain/Audit.js"
import type { ExportJobId } from "../../src/domain/Identifiers.js"
import { UserId } from "../../src/domain/Identifiers.js"
import { jobIdAt } from "./ContractSupport.js"
import type { RetentionSupport } from "./ContractSupport.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")
const DAY = 86_400_000

const entryOf = (jobId: ExportJobId, action: AuditAction, atMillis: number, entryId: string = action) =>
  new AuditEntry({
    jobId,
    entryId,
    action,
    actor: action === "file_downloaded" ? new BySignedLink() : new ByUser({ userId: UserId.make("alice") }),
    at: DateTime.unsafeMake(atMillis)
  })

const entryIds = (entries: ReadonlyArray<AuditEntry>) => entries.map((entry) => entry.entryId)

export const auditTrailContract = <E>(
  name: string,
  makeLayer: () => Layer.Layer<AuditTrail, E>,
  retention: RetentionSupport = { deletesExpired: true }
) =>
  describe(`AuditTrail contract: ${name}`, () => {
    const withTrail = <A, E2>(test: Effect.Effect<A, E2, AuditTrail>) => Effect.provide(test, makeLayer())

    it.effect("lists a job's entries oldest first, whatever order they were recorded in, and no other job's", () =>
      withTrail(Effect.gen(function*() {
        const trail = yield* AuditTrail
        const job = jobIdAt(BASE_MILLIS)
        const other = jobIdAt(BASE_MILLIS)
        const link = entryOf(job, "download_link_issued", BASE_MILLIS + 2_000, `download_link_issued/${jobIdAt(1)}`)
        const used = entryOf(job, "file_downloaded", BASE_MILLIS + 3_000, `file_downloaded/${jobIdAt(2)}`)
        const cancelled = entryOf(job, "cancelled", BASE_MILLIS + 1_000)
        for (const entry of [link, used, cancelled]) yield* trail.record(entry, BASE_MILLIS + DAY)
        yield* trail.record(entryOf(other, "cancelled", BASE_MILLIS), BASE_MILLIS + DAY)

        const listed = yield* trail.listFor(job)
        expect(entryIds(listed)).toStrictEqual([cancelled.entryId, link.entryId, used.entryId])
        // Read back as written, actor and time included.
        expect(listed[2]).toStrictEqual(used)
        expect(listed[0]!.actor).toStrictEqual(new ByUser({ userId: UserId.make("alice") }))
        expect(yield* trail.listFor(jobIdAt(BASE_MILLIS))).toStrictEqual([])
      })))

    it.effect("appends an entry once: recording the same id again keeps the first, as it was", () =>
      withTrail(Effect.gen(function*() {
        const trail = yield* AuditTrail
        const job = jobIdAt(BASE_MILLIS)
        const first = entryOf(job, "cancelled", BASE_MILLIS)
        yield* trail.record(first, BASE_MILLIS + DAY)
        yield* trail.record(entryOf(job, "cancelled", BASE_MILLIS + 5_000), BASE_MILLIS + 2 * DAY)
        yield* Effect.all(
          Array.from({ length: 4 }, () => trail.record(entryOf(job, "cancelled", BASE_MILLIS + 9_000), BASE_MILLIS)),
          { concurrency: "unbounded" }
        )
        expect(yield* trail.listFor(job)).toStrictEqual([first])
      })))

    // Only where records really go: a store whose deletion this cannot see checks its TTL attribute instead.
    if (retention.deletesExpired) {
      it.effect("an entry is gone within a sweep interval of its retention's end", () => {
        const SWEEP = Duration.toMillis(EXPIRY_SWEEP_INTERVAL)
        const job = jobIdAt(BASE_MILLIS)
        const olderUntil = BASE_MILLIS + DAY
        const older = entryOf(job, "cancelled", BASE_MILLIS)
        const newer = entryOf(job, "download_link_issued", BASE_MILLIS + 1, `download_link_issued/${jobIdAt(3)}`)
        // A trail grows by its records: the memory trail sweeps on one, the others on their own schedule.
        const grow = (trail: AuditTrail["Type"]) =>
          Effect.flatMap(DateTime.now, (now) =>
            trail.record(entryOf(jobIdAt(now.epochMillis), "cancelled", now.epochMillis), now.epochMillis + DAY))
        return TestClock.setTime(olderUntil - SWEEP).pipe(Effect.zipRight(withTrail(Effect.gen(function*() {
          const trail = yield* AuditTrail
          yield* trail.record(older, olderUntil)
          yield* trail.record(newer, olderUntil + DAY)

          yield* TestClock.setTime(olderUntil - 1)
          yield* grow(trail)
          expect(entryIds(yield* trail.listFor(job))).toStrictEqual([older.entryId, newer.entryId])

          yield* TestClock.setTime(olderUntil + SWEEP)
          yield* grow(trail)
          expect(entryIds(yield* trail.listFor(job))).toStrictEqual([newer.entryId])

          yield* TestClock.setTime(olderUntil + DAY + SWEEP)
          yield* grow(trail)
          expect(yield* trail.listFor(job)).toStrictEqual([])
        }))))
      })
    }
  })
