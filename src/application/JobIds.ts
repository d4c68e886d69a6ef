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

/** How many ids' random bits one read of the platform's random source fills. */
const RANDOM_BATCH = 128

export class JobIds extends Effect.Service<JobIds>()("exports/JobIds", {
  effect: Effect.sync(() => {
    let lastMillis = -1
    const random = new Uint8Array(10)
    // The random bits of the next RANDOM_BATCH milliseconds' first ids, read at once and each used once, as Node's
    // own randomUUID batches its reads: under load nearly every id starts a millisecond, and a read of the random
    // source of its own costs each of them a call into the platform (ADR 54).
    const batch = new Uint8Array(random.length * RANDOM_BATCH)
    let used = RANDOM_BATCH
    const fresh = (): void => {
      if (used === RANDOM_BATCH) {
        globalThis.crypto.getRandomValues(batch)
        used = 0
      }
      random.set(batch.subarray(used * random.length, (used + 1) * random.length))
      used++
    }
    return {
      // One synchronous step: nothing runs between reading the last id's state and replacing it.
      next: Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          if (now > lastMillis) {
            lastMillis = now
            fresh()
          } else {
            increment(random)
          }
          return makeExportJobId(lastMillis, random)
        })
      )
    }
  })
}) {}
