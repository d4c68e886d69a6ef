// The API's entry in its startup snapshot (ADR 52): `npm run build` evaluates this module, and with it every module
// of the function, into the blob; the handler is made after deserialisation (SnapshotMain.ts).
import { makeApiHandler } from "./ApiFunction.js"
import { setSnapshotMain } from "./SnapshotMain.js"

setSnapshotMain(makeApiHandler)
