// Imported first by ProbeSnapshot.ts: while the snapshot is built, the monotonic clock reads as another machine's
// would (about 11.6 days more uptime), and after deserialisation as this one's again, as when a blob built on a CI
// machine starts on Lambda.
import { startupSnapshot } from "node:v8"

const real = process.hrtime.bigint.bind(process.hrtime)
process.hrtime.bigint = () => real() + 1_000_000_000_000_000n
startupSnapshot.addDeserializeCallback(() => {
  process.hrtime.bigint = real
})
