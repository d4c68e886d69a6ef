import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { JobIds } from "../../src/application/JobIds.js"
import { ExportJobId, exportJobIdTime } from "../../src/domain/Identifiers.js"

describe("JobIds", () => {
  it.effect("ids carry the clock's time, are valid UUIDv7s and sort in creation order, within a millisecond too", () =>
    Effect.gen(function*() {
      const ids = yield* JobIds
      yield* TestClock.setTime(Date.parse("2024-05-01T09:00:00Z"))
      const made: Array<string> = []
      // Hundreds of ids in each of a few milliseconds.
      for (let ms = 0; ms < 4; ms++) {
        for (let i = 0; i < 300; i++) made.push(yield* ids.next)
        yield* TestClock.adjust(1)
      }
      expect(made.every(Schema.is(ExportJobId))).toBe(true)
      expect(new Set(made).size).toBe(made.length)
      expect([...made].sort()).toEqual(made)
      for (let ms = 0; ms < 4; ms++) {
        const inMs = made.slice(ms * 300, (ms + 1) * 300)
        expect(inMs.every((id) => exportJobIdTime(ExportJobId.make(id)) === Date.parse("2024-05-01T09:00:00Z") + ms))
          .toBe(true)
      }
    }).pipe(Effect.provide(JobIds.Default)))

  it.effect("each millisecond's first id has random bits of its own, past the batch they are read in", () =>
    Effect.gen(function*() {
      const ids = yield* JobIds
      const randomBits = (id: string) => id.slice(14, 18) + id.slice(19, 23) + id.slice(24)
      const seen = new Set<string>()
      // Several batches' worth of milliseconds, one id each: none may reuse another's random bits.
      for (let ms = 0; ms < 400; ms++) {
        seen.add(randomBits(yield* ids.next))
        yield* TestClock.adjust(1)
      }
      expect(seen.size).toBe(400)
    }).pipe(Effect.provide(JobIds.Default)))

  it.effect("an id made in the same millisecond is the previous one plus one", () =>
    Effect.gen(function*() {
      const ids = yield* JobIds
      const first = yield* ids.next
      const second = yield* ids.next
      const lowBits = (id: string) => BigInt(`0x${id.slice(-12)}`)
      // The last 48 bits are random only, so they count up unless they were all ones (a 2^-48 chance).
      expect(lowBits(second)).toBe((lowBits(first) + 1n) % (1n << 48n))
      expect(second > first).toBe(true)
    }).pipe(Effect.provide(JobIds.Default)))
})
