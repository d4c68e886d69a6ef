// The audit trail (ADR 46): entries appended where what they record happens, and the whole trail read by the
// export's owner. An entry is written before the act it records completes (the link is signed, the file served), so
// a trail that cannot be written refuses the act rather than let it go unrecorded; a cancel, already done when it is
// recorded, is recorded again by the same cancel repeated.
import { DateTime, Effect, Option } from "effect"
import type { AuditAction, AuditActor } from "../domain/Audit.js"
import { AuditEntry, BySignedLink, ByUser } from "../domain/Audit.js"
import type { CancelledJob, FinishedJob, SucceededJob } from "../domain/ExportJob.js"
import { jobIdOfObjectKey } from "../domain/ExportJob.js"
import type { Owner } from "../domain/Identifiers.js"
import { getExport } from "./ExportQueries.js"
import { JobIds } from "./JobIds.js"
import { AuditTrail } from "./ports/AuditTrail.js"
import { JobStore } from "./ports/JobStore.js"
import { finishedJobRetainedUntil } from "./Retention.js"

const append = (job: FinishedJob, entry: Omit<ConstructorParameters<typeof AuditEntry>[0], "jobId">) =>
  Effect.flatMap(
    AuditTrail,
    (trail) => trail.record(new AuditEntry({ jobId: job.jobId, ...entry }), finishedJobRetainedUntil(job))
  )

/** An entry of an action that can happen many times: its id is the action and a fresh, time-ordered id. */
const appendAnother = (job: FinishedJob, action: AuditAction, actor: AuditActor) =>
  Effect.gen(function*() {
    const id = yield* (yield* JobIds).next
    yield* append(job, { entryId: `${action}/${id}`, action, actor, at: yield* DateTime.now })
  })

/** The cancel, once per job, at the moment it took effect: the same cancel repeated keeps the first entry. */
export const recordCancel = (job: CancelledJob) =>
  append(job, {
    entryId: "cancelled",
    action: "cancelled",
    actor: new ByUser({ userId: job.owner.userId }),
    at: job.finishedAt
  })

/** The owner asked for the file through the API (only its owner can), and is about to get a signed link. */
export const recordLinkIssued = (job: SucceededJob) =>
  appendAnother(job, "download_link_issued", new ByUser({ userId: job.owner.userId }))

/**
 * A signed link to `objectKey` is being served, by a file store that serves its own links: the file of a succeeded
 * job, whoever holds the link. A key of no current job's file (an earlier attempt's, a stray) records nothing.
 */
export const recordSignedLinkUse = Effect.fn("Audit.signedLinkUse")(function*(objectKey: string) {
  const jobId = jobIdOfObjectKey(objectKey)
  if (Option.isNone(jobId)) return
  const job = yield* (yield* JobStore).get(jobId.value)
  if (Option.isNone(job) || job.value._tag !== "Succeeded" || job.value.result.objectKey !== objectKey) return
  yield* appendAnother(job.value, "file_downloaded", new BySignedLink())
})

/** The export and its trail, for its owner only (another owner's export is not found, as getExport). */
export const readAudit = Effect.fn("Audit.read")(function*(owner: Owner, jobId: string) {
  const job = yield* getExport(owner, jobId)
  const entries = yield* (yield* AuditTrail).listFor(job.jobId)
  return { job, entries }
})
