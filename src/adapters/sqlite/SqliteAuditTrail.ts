// The audit trail in the embedded database: each entry its schema's encoded JSON beside its job, id and time. An
// entry is inserted once (a repeat of the same job and id is ignored) and never updated; it is deleted once its
// retention is over (application/Retention.ts), as DynamoDB's TTL deletes it.
import { Effect, Layer, Schema } from "effect"
import { AuditTrail } from "../../application/ports/AuditTrail.js"
import { AuditEntry } from "../../domain/Audit.js"
import { AuditTrailUnavailable } from "../../domain/Errors.js"
import { SqliteDatabase } from "./SqliteDatabase.js"
import type { SqliteError } from "./SqliteDatabase.js"
import { purgeExpired } from "./SqliteExpiry.js"

const EntryJson = Schema.parseJson(AuditEntry)
const encodeEntry = Schema.encodeSync(EntryJson)
const decodeEntry = Schema.decodeUnknownSync(EntryJson)

const unavailable = (error: SqliteError) => new AuditTrailUnavailable({ detail: `SQLite ${error.message}` })

export const make = Effect.gen(function*() {
  const db = yield* SqliteDatabase
  const insert = db.prepare(
    `INSERT OR IGNORE INTO audit_entries (job_id, entry_id, at, retained_until, entry) VALUES (?, ?, ?, ?, ?)`
  )
  const oldestFirst = db.prepare("SELECT entry FROM audit_entries WHERE job_id = ? ORDER BY at, seq")
  const deleteExpired = db.prepare("DELETE FROM audit_entries WHERE retained_until <= ?")

  yield* purgeExpired(db, "AuditTrail.expire", (now) => Number(deleteExpired.run(now).changes))

  return AuditTrail.of({
    record: (entry, retainedUntil) =>
      Effect.suspend(() => {
        const json = encodeEntry(entry)
        return db.use("AuditTrail.record", () => {
          insert.run(entry.jobId, entry.entryId, entry.at.epochMillis, retainedUntil, json)
        })
      }).pipe(Effect.mapError(unavailable)),
    listFor: (jobId) =>
      db.use("AuditTrail.listFor", () => oldestFirst.all(jobId).map((row) => decodeEntry(row["entry"]))).pipe(
        Effect.mapError(unavailable)
      )
  })
})

/** The AuditTrail on the database in context, deleting expired entries for as long as it lives. */
export const layer = Layer.scoped(AuditTrail, make)
