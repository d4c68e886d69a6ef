// A startup snapshot of `effect` alone (SnapshotServices.test.ts): once deserialised, prints the default random
// source's next number and the clock's nanoseconds beside `Date.now()`, read with SnapshotServices' fresh ones, or
// with Effect's own when PROBE_SERVICES is "default".
import "./OtherMachineClock.js"
import { Clock, Effect, Layer, Random } from "effect"
import { startupSnapshot } from "node:v8"
import { freshServices } from "../../../../src/runtimes/lambda/SnapshotServices.js"

startupSnapshot.setDeserializeMainFunction(() => {
  const services = process.env["PROBE_SERVICES"] === "default" ? Layer.empty : freshServices()
  const [random, nanos] = Effect.runSync(
    Effect.all([Random.next, Clock.currentTimeNanos]).pipe(Effect.provide(services))
  )
  process.stdout.write(JSON.stringify({ random, nanos: String(nanos), now: Date.now() }))
})
