// The audit trail of an export: who did what to it, and when. Its request needs no entry here: the job's record is
// written once, naming its owner and `requestedAt`, and those never change (ExportJob's transitions keep them). The
// entries are what happens to the export afterwards, each appended once and never changed (ADR 46).
import { Schema } from "effect"
import { ExportJobId, UserId } from "./Identifiers.js"

/**
 * `cancelled`: the owner cancelled it. `download_link_issued`: the owner asked for its file through the API, which
 * signed a short link. `file_downloaded`: a signed link to its file was used, where the file store can see it (the
 * embedded server serves its own links; S3 and R2 serve theirs unseen).
 */
export const AuditAction = Schema.Literal("cancelled", "download_link_issued", "file_downloaded")
export type AuditAction = typeof AuditAction.Type

/** A signed-in user, by the token's subject. */
export class ByUser extends Schema.TaggedClass<ByUser>()("User", { userId: UserId }) {}
/** Whoever held a signed link: a link names no one, and may have been forwarded. */
export class BySignedLink extends Schema.TaggedClass<BySignedLink>()("SignedLink", {}) {}
export const AuditActor = Schema.Union(ByUser, BySignedLink)
export type AuditActor = typeof AuditActor.Type

export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")({
  jobId: ExportJobId,
  /**
   * Unique within its job. An action that can happen once per job (its cancel) is named by the action alone, so that
   * recording it again, as a repeated cancel does, keeps the one entry.
   */
  entryId: Schema.String.pipe(Schema.pattern(/^[a-z_]+(\/[0-9a-f-]{36})?$/)),
  action: AuditAction,
  actor: AuditActor,
  at: Schema.DateTimeUtc
}) {}
