// The API's entry in its startup snapshot (ADR 52): `npm run build` evaluates this module, and with it every module
// of the function, into the blob; the handler is made after deserialisation (SnapshotMain.ts). Before the blob is
// written the app answers a few requests on in-memory ports (ApiWarmUp.ts, ADR 55); Node takes the snapshot once
// they are answered (its event loop is empty), and a failed warm-up fails the build.
import { makeApiHandler } from "./ApiFunction.js"
import { warmUpApi } from "./ApiWarmUp.js"
import { setSnapshotMain } from "./SnapshotMain.js"

setSnapshotMain(makeApiHandler)
warmUpApi().catch((cause: unknown) => {
  console.error(cause)
  process.exit(1)
})
