// Fresh job ids: UUIDv7 from the Effect clock (so TestClock controls them) and the platform's cryptographic
// random source (so ids cannot be guessed from one another). Ids made in the same millisecond continue from the
// previous one (RFC 9562, method 2), so ids from one process sort in creation order, as listings rely on.
import { Clock, Effect, Ref } from "effect"
import { makeExportJobId } from "../domain/Identifiers.js"

/** The 80 random bits, read as a big-endian number, plus one. */
const increment = (bytes: Uint8Array): Uint8Array => {
  const next = Uint8Array.from(bytes)
  for (let i = next.length - 1; i >= 0; i--) {
    next[i] = (next[i]! + 1) & 0xff
    if (next[i] !== 0) break
  }
  return next
}

export class JobIds extends Effect.Service<JobIds>()("exports/JobIds", {
  effect: Effect.gen(function*() {
    const last = yield* Ref.make<{ readonly millis: number; readonly random: Uint8Array }>({
      millis: -1,
      random: new Uint8Array(10)
    })
    return {
      next: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(last, (previous) => {
          const state = now > previous.millis
            ? { millis: now, random: globalThis.crypto.getRandomValues(new Uint8Array(10)) }
            : { millis: previous.millis, random: increment(previous.random) }
          return [makeExportJobId(state.millis, state.random), state] as const
        }))
    }
  })
}) {}
