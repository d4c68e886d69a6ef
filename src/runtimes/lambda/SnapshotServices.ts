// Effect's default clock and random source, made again in a process started from a V8 startup snapshot (ADR 52).
// `effect` captures both when its modules are evaluated, which for a snapshot is at build time, on the build machine:
// the clock's nanosecond origin (`Date.now()` minus `process.hrtime`, the build machine's monotonic clock) and the
// random source's seed (`Math.random()` then). Every container started from the blob would share one random sequence,
// and read nanoseconds (span times, `Effect.timed`'s origin) off another machine's clock. These take their origin
// and seed after deserialisation, where V8 has reseeded `Math.random`.
import type { Duration } from "effect"
import { Clock, Effect, Layer, Random } from "effect"

/** A clock whose nanoseconds count from this process's own reading of the wall clock and the monotonic clock. */
export const freshClock = (): Clock.Clock => {
  const sleeper = Clock.make()
  const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
  const nanos = () => origin + process.hrtime.bigint()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => Date.now(),
    currentTimeMillis: Effect.sync(() => Date.now()),
    unsafeCurrentTimeNanos: nanos,
    currentTimeNanos: Effect.sync(nanos),
    sleep: (duration: Duration.Duration) => sleeper.sleep(duration)
  }
}

/** The clock and random source for every fiber of the runtime it is merged into; call it after deserialisation. */
export const freshServices = (): Layer.Layer<never> =>
  Layer.merge(Layer.setClock(freshClock()), Layer.setRandom(Random.make(Math.random())))
