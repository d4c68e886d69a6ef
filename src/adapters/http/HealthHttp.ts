// Liveness answers as long as the process serves; readiness runs the checks the runtime registered for the
// adapters it composed (a database session open, a directory writable, ...).
import { HttpApiBuilder } from "@effect/platform"
import { Context, Duration, Effect, Layer } from "effect"
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

export const HealthHttp = HttpApiBuilder.group(ExportApi, "health", (handlers) =>
  Effect.gen(function*() {
    const checks = yield* ReadinessChecks
    return handlers
      .handle("health", () => Effect.succeed(new Health({ status: "ok" })))
      .handle("ready", () =>
        Effect.gen(function*() {
          const results = yield* Effect.forEach(checks, ({ check, name }) =>
            check.pipe(
              Effect.timeout(Duration.seconds(2)),
              Effect.as([name, "ok"] as const),
              Effect.catchAllCause(() => Effect.succeed([name, "unavailable"] as const))
            ), { concurrency: "unbounded" })
          const failing = results.filter(([, state]) => state !== "ok").map(([name]) => name)
          if (failing.length > 0) {
            return yield* fail(ServiceUnavailable, "not_ready", `Not ready: ${failing.join(", ")} unavailable.`)
          }
          return new Readiness({ status: "ready", checks: Object.fromEntries(results) })
        }))
  }))
