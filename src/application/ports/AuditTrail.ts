import type { Effect } from "effect"
import { Context } from "effect"
import type { AuditEntry } from "../../domain/Audit.js"
import type { AuditTrailUnavailable } from "../../domain/Errors.js"
import type { ExportJobId } from "../../domain/Identifiers.js"

/** Append-only record of what happened to each export (ADR 46). */
export class AuditTrail extends Context.Tag("exports/AuditTrail")<AuditTrail, {
  /**
   * Appends `entry`, kept until `retainedUntil` (epoch milliseconds: its job's own retention). An entry whose job
   * already has one of the same `entryId` is not written again: the first stays as it was.
   */
  readonly record: (entry: AuditEntry, retainedUntil: number) => Effect.Effect<void, AuditTrailUnavailable>
  /** The job's entries, oldest first. Callers acting for a user check that it is theirs first. */
  readonly listFor: (jobId: ExportJobId) => Effect.Effect<ReadonlyArray<AuditEntry>, AuditTrailUnavailable>
}>() {}
