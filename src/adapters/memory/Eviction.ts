// When the in-memory stores drop what has outlived its retention (application/Retention.ts). They keep everything
// of the embedded server's lifetime otherwise; a sweep looks at what they hold, so it runs at most once an interval.
import { Clock, Duration, Effect } from "effect"

/** How often a store sweeps at most: what it evicts goes at most this late, as DynamoDB's TTL deletes late too. */
export const EVICTION_INTERVAL = Duration.hours(1)

/**
 * A gate for one store's sweeps: `whenDue(sweep)` runs `sweep` with the Effect clock's time in epoch milliseconds
 * when EVICTION_INTERVAL has passed since the last one (the first call always sweeps).
 */
export const makeEviction = () => {
  let nextSweepAt = Number.NEGATIVE_INFINITY
  return (sweep: (nowMillis: number) => void): Effect.Effect<void> =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (now < nextSweepAt) return
      nextSweepAt = now + Duration.toMillis(EVICTION_INTERVAL)
      sweep(now)
    })
}
