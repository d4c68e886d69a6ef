// /ready is public: a burst of requests costs the dependencies one round of checks per READINESS_CACHE_TTL, whatever
// the round's outcome, and requests arriving during a round share it, even when the one that started it gives up.
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Deferred, Duration, Effect, Fiber, TestClock } from "effect"
import type { ReadinessCheck } from "../../../src/adapters/http/HealthHttp.js"
import { cachedReadiness, READINESS_CACHE_TTL, ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import { apiTestLayer } from "../../support/ApiHarness.js"
import { expectError, getRaw } from "./HttpSupport.js"

const NAMES = ["jobs", "notifications", "queue"] as const

/** Checks that count their calls and pass or fail as `state.healthy` says when they run. */
const countingChecks = () => {
  const state = { healthy: true }
  const calls: Record<string, number> = { jobs: 0, notifications: 0, queue: 0 }
  const checks: ReadonlyArray<ReadinessCheck> = NAMES.map((name) => ({
    name,
    check: Effect.suspend(() => {
      calls[name] = (calls[name] ?? 0) + 1
      return state.healthy ? Effect.void : Effect.fail(`${name} down`)
    })
  }))
  return { state, calls, checks }
}

const burst = (requests: number) =>
  Effect.forEach(Arr.range(1, requests), () => getRaw("/ready"), { concurrency: "unbounded" })

const justUnder = (ttl: Duration.Duration) => Duration.subtract(ttl, Duration.millis(1))

describe("HTTP API: /ready", () => {
  it.effect("answers a burst from one round of checks, and runs the next round once READINESS_CACHE_TTL has passed", () => {
    const { calls, checks } = countingChecks()
    return Effect.gen(function*() {
      const answers = yield* burst(20)
      expect(answers.map((answer) => answer.status)).toStrictEqual(Arr.replicate(200, 20))
      expect(answers[0]?.json).toStrictEqual({
        status: "ready",
        checks: { jobs: "ok", notifications: "ok", queue: "ok" }
      })
      expect(calls).toStrictEqual({ jobs: 1, notifications: 1, queue: 1 })

      yield* TestClock.adjust(justUnder(READINESS_CACHE_TTL))
      expect((yield* getRaw("/ready")).status).toBe(200)
      expect(calls).toStrictEqual({ jobs: 1, notifications: 1, queue: 1 })

      yield* TestClock.adjust(Duration.millis(1))
      yield* burst(5)
      expect(calls).toStrictEqual({ jobs: 2, notifications: 2, queue: 2 })
    }).pipe(Effect.provide(apiTestLayer(50, { readiness: ReadinessChecks.layer(checks) })))
  })

  it.effect("keeps a failed round's 503 for READINESS_CACHE_TTL too, then checks again and answers 200", () => {
    const { calls, checks, state } = countingChecks()
    state.healthy = false
    return Effect.gen(function*() {
      for (const answer of yield* burst(10)) {
        expectError(answer, "not_ready")
        expect(answer.headers["retry-after"]).toBe("30")
      }
      expect(calls).toStrictEqual({ jobs: 1, notifications: 1, queue: 1 })

      state.healthy = true
      yield* TestClock.adjust(justUnder(READINESS_CACHE_TTL))
      expectError(yield* getRaw("/ready"), "not_ready")
      expect(calls).toStrictEqual({ jobs: 1, notifications: 1, queue: 1 })

      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* getRaw("/ready")).status).toBe(200)
      expect(calls).toStrictEqual({ jobs: 2, notifications: 2, queue: 2 })
    }).pipe(Effect.provide(apiTestLayer(50, { readiness: ReadinessChecks.layer(checks) })))
  })

  it.effect("shares a round in flight: later requests wait for it, and it goes on when the one that started it gives up", () =>
    Effect.gen(function*() {
      let calls = 0
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const readiness = yield* cachedReadiness([{
        name: "jobs",
        check: Effect.sync(() => calls++).pipe(
          Effect.zipRight(Deferred.succeed(started, undefined)),
          Effect.zipRight(Deferred.await(gate))
        )
      }])

      const first = yield* Effect.fork(readiness)
      yield* Deferred.await(started)
      const later = yield* Effect.forEach(Arr.range(1, 5), () => Effect.fork(readiness))
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)

      expect(yield* Fiber.join(Fiber.all(later))).toStrictEqual(Arr.replicate([["jobs", "ok"]], 5))
      expect(yield* readiness).toStrictEqual([["jobs", "ok"]])
      expect(calls).toBe(1)

      yield* TestClock.adjust(READINESS_CACHE_TTL)
      expect(yield* readiness).toStrictEqual([["jobs", "ok"]])
      expect(calls).toBe(2)
    }))
})
