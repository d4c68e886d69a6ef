// When the in-memory stores drop what has outlived its retention (application/Retention.ts). They keep everything
// of the embedded server's lifetime otherwise; a sweep looks at what they hold, so it runs at most once an interval.
import { Clock, Duration, Effect } from "effect"
import { EXPIRY_SWEEP_INTERVAL } from "../../application/Retention.js"

/**
 * A gate for one store's sweeps: `whenDue(sweep)` runs `sweep` with the Effect clock's time in epoch milliseconds
 * when EXPIRY_SWEEP_INTERVAL has passed since the last one (the first call always sweeps).
 */
export const makeEviction = () => {
  let nextSweepAt = Number.NEGATIVE_INFINITY
  return (sweep: (nowMillis: number) => void): Effect.Effect<void> =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (now < nextSweepAt) return
      nextSweepAt = now + Duration.toMillis(EXPIRY_SWEEP_INTERVAL)
      sweep(now)
    })
}
