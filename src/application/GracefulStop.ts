// How every worker runtime ends: wait for running exports up to a grace period, then interrupt what is left
// (their messages come back to the queue). Shared because the subtle part is easy to get wrong: finalizers run
// uninterruptibly, so the wait must be made interruptible for its timeout to be able to end it.
import type { Duration } from "effect"
import { Effect, Option } from "effect"

export const waitThenInterrupt = (options: {
  readonly wait: Effect.Effect<unknown>
  readonly grace: Duration.Duration
  readonly interrupt: Effect.Effect<unknown>
}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const finished = yield* options.wait.pipe(Effect.interruptible, Effect.timeout(options.grace), Effect.option)
    if (Option.isNone(finished)) {
      yield* Effect.logWarning("exports still running after the grace period; putting their messages back")
      yield* options.interrupt
    }
  })
