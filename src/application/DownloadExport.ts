// A download, decided at click time: the owner, the file still within the expiry the user was promised, and a
// fresh link that lives only minutes, so a link copied out of a browser is soon worthless. Each is in the export's
// audit trail before its link is signed.
import { DateTime, Duration, Effect } from "effect"
import { ExportExpired, ExportNotReady } from "../domain/Errors.js"
import type { Owner } from "../domain/Identifiers.js"
import { recordLinkIssued } from "./ExportAudit.js"
import { getExport } from "./ExportQueries.js"
import { FileStore } from "./ports/FileStore.js"

export const CLICK_LINK_TTL = Duration.minutes(5)

export const downloadExport = Effect.fn("Exports.download")(function*(owner: Owner, jobId: string) {
  const job = yield* getExport(owner, jobId)
  if (job._tag !== "Succeeded") return yield* new ExportNotReady({ jobId, status: job._tag })
  const now = yield* DateTime.now
  if (DateTime.greaterThanOrEqualTo(now, job.result.linkExpiresAt)) return yield* new ExportExpired({ jobId })
  yield* recordLinkIssued(job)
  const files = yield* FileStore
  const remaining = DateTime.distanceDuration(now, job.result.linkExpiresAt)
  return yield* files.signDownload(job.result.objectKey, Duration.min(CLICK_LINK_TTL, remaining))
})
