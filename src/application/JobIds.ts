// Fresh job ids: UUIDv7 from the Effect clock (so TestClock controls them) and the platform's cryptographic
// random source (so ids cannot be guessed from one another). Ids made in the same millisecond continue from the
// previous one (RFC 9562, method 2), so ids from one process sort in creation order, as listings rely on.
import { Effect } from "effect"
import { makeExportJobId } from "../domain/Identifiers.js"

/** The 80 random bits, read as a big-endian number, plus one, in place. */
const increment = (bytes: Uint8Array): void => {
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff
    if (bytes[i] !== 0) break
  }
}

export class JobIds extends Effect.Service<JobIds>()("exports/JobIds", {
  effect: Effect.sync(() => {
    let lastMillis = -1
    const random = new Uint8Array(10)
    return {
      // One synchronous step: nothing runs between reading the last id's state and replacing it.
      next: Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          if (now > lastMillis) {
            lastMillis = now
            globalThis.crypto.getRandomValues(random)
          } else {
            increment(random)
          }
          return makeExportJobId(lastMillis, random)
        })
      )
    }
  })
}) {}
