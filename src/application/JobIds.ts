// Fresh job ids: time-ordered UUIDv7 from the Effect clock (so TestClock controls them) and the platform's
// cryptographic random source (so ids cannot be guessed from one another).
import { Clock, Effect } from "effect"
import { makeExportJobId } from "../domain/Identifiers.js"

export class JobIds extends Effect.Service<JobIds>()("exports/JobIds", {
  succeed: {
    next: Effect.map(
      Clock.currentTimeMillis,
      (now) => makeExportJobId(now, globalThis.crypto.getRandomValues(new Uint8Array(10)))
    )
  }
}) {}
