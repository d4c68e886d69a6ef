// The audit trail in DynamoDB (the table layout is in DynamoDbTables.ts): one item per entry under its job, put only
// when new, so a repeat keeps the first; never updated; deleted by TTL once its retention is over.
import { PutCommand } from "@aws-sdk/lib-dynamodb"
import { Effect, Layer, Schema } from "effect"
import { AuditTrail } from "../../application/ports/AuditTrail.js"
import { AuditEntry } from "../../domain/Audit.js"
import { AuditTrailUnavailable } from "../../domain/Errors.js"
import { DynamoDb, queryPages } from "./DynamoDb.js"
import type { DynamoDbError, DynamoItem } from "./DynamoDb.js"

const EntryJson = Schema.parseJson(AuditEntry)
const encodeEntry = Schema.encode(EntryJson)
const decodeEntry = Schema.decodeUnknown(EntryJson)

const unavailable = (error: DynamoDbError) =>
  new AuditTrailUnavailable({ detail: `DynamoDB ${error.operation}: ${error.name}: ${error.detail}` })

const entryOf = (item: DynamoItem) =>
  decodeEntry(item["entry"]).pipe(
    Effect.mapError((error) =>
      new AuditTrailUnavailable({ detail: `undecodable audit entry ${String(item["entryId"])}: ${error.message}` })
    )
  )

export const make = Effect.gen(function*() {
  const db = yield* DynamoDb
  const TableName = db.tables.audit

  return AuditTrail.of({
    record: (entry, retainedUntil) =>
      Effect.gen(function*() {
        const json = yield* Effect.orDie(encodeEntry(entry))
        yield* db.call("PutItem", (documents, options) =>
          documents.send(
            new PutCommand({
              TableName,
              Item: {
                jobId: entry.jobId,
                entryId: entry.entryId,
                entry: json,
                expiresAt: Math.ceil(retainedUntil / 1000)
              },
              ConditionExpression: "attribute_not_exists(entryId)"
            }),
            options
          ))
      }).pipe(
        // Recorded before: the first entry stays as it is.
        Effect.catchIf((error) => error.conditionFailed, () => Effect.void),
        Effect.mapError(unavailable),
        Effect.withSpan("AuditTrail.record")
      ),

    listFor: (jobId) =>
      queryPages(db, {
        TableName,
        KeyConditionExpression: "jobId = :job",
        ExpressionAttributeValues: { ":job": jobId },
        ConsistentRead: true
      }).pipe(
        Effect.mapError(unavailable),
        Effect.flatMap((items) => Effect.forEach(items, entryOf)),
        // Few per job; stored by id, read back oldest first (a stable sort keeps ties in id order).
        Effect.map((entries) => [...entries].sort((a, b) => a.at.epochMillis - b.at.epochMillis)),
        Effect.withSpan("AuditTrail.listFor")
      )
  })
})

/** The AuditTrail on the audit table of the DynamoDb client's settings. */
export const layer = Layer.effect(AuditTrail, make)
