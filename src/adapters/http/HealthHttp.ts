// Liveness answers as long as the process serves; readiness runs the checks the runtime registered for the
// adapters it composed (a database session open, a directory writable, ...). /ready is public, so its outcome is
// kept for a few seconds: however often it is asked, the dependencies see one round of checks per interval.
import { HttpApiBuilder } from "@effect/platform"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import { ExportApi, Health, Readiness } from "./Api.js"
import { fail, ServiceUnavailable } from "./ApiErrors.js"

export interface ReadinessCheck {
  readonly name: string
  readonly check: Effect.Effect<void, unknown>
}

export class ReadinessChecks extends Context.Tag("exports/http/ReadinessChecks")<
  ReadinessChecks,
  ReadonlyArray<ReadinessCheck>
>() {
  static readonly none = Layer.succeed(ReadinessChecks, [])
  static readonly layer = (checks: ReadonlyArray<ReadinessCheck>) => Layer.succeed(ReadinessChecks, checks)
}

/** One check that takes longer than this counts as unavailable. */
export const READINESS_CHECK_TIMEOUT = Duration.seconds(2)

/**
 * How long one round's outcome, success or failure, answers /ready. Short enough that an orchestrator sees an
 * outage within seconds; long enough that a flood of requests to the public probe costs the tables and the queue
 * one call each per interval.
 */
export const READINESS_CACHE_TTL = Duration.seconds(5)

/** Each check's name and its state, in the order the checks were registered. */
export type ReadinessOutcome = ReadonlyArray<readonly [name: string, state: "ok" | "unavailable"]>

const runChecks = (checks: ReadonlyArray<ReadinessCheck>): Effect.Effect<ReadinessOutcome> =>
  Effect.forEach(checks, ({ check, name }) =>
    check.pipe(
      Effect.timeout(READINESS_CHECK_TIMEOUT),
      Effect.as([name, "ok"] as const),
      Effect.catchAllCause(() => Effect.succeed([name, "unavailable"] as const))
    ), { concurrency: "unbounded" })

/**
 * The checks' outcome, shared: the first request after the outcome has aged starts a round, requests arriving
 * during it wait for that same round, and its outcome answers every request for `READINESS_CACHE_TTL` from the
 * round's start. What is cached is the round's fiber, not a request's wait for it: a client that hangs up stops
 * waiting, and the round goes on for the others.
 */
export const cachedReadiness = (
  checks: ReadonlyArray<ReadinessCheck>
): Effect.Effect<Effect.Effect<ReadinessOutcome>> =>
  Effect.map(
    Effect.cachedWithTTL(Effect.forkDaemon(runChecks(checks)), READINESS_CACHE_TTL),
    (round) => Effect.flatMap(round, Fiber.join)
  )

export const layer = HttpApiBuilder.group(ExportApi, "health", (handlers) =>
  Effect.gen(function*() {
    const readiness = yield* cachedReadiness(yield* ReadinessChecks)
    return handlers
      .handle("health", () => Effect.succeed(new Health({ status: "ok" })))
      .handle("ready", () =>
        Effect.gen(function*() {
          const outcome = yield* readiness
          const failing = outcome.filter(([, state]) => state !== "ok").map(([name]) => name)
          if (failing.length > 0) {
            return yield* fail(ServiceUnavailable, "not_ready", `Not ready: ${failing.join(", ")} unavailable.`)
          }
          return new Readiness({ status: "ready", checks: Object.fromEntries(outcome) })
        }))
  }))
