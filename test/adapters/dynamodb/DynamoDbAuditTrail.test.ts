// What the DynamoDB audit trail writes that its contract cannot see: each item's TTL, the job's retention in whole
// seconds (never earlier), since dynalite never deletes by it and DynamoDB deletes up to days late.
import { GetCommand } from "@aws-sdk/lib-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { DynamoDb } from "../../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbAuditTrail from "../../../src/adapters/dynamodb/DynamoDbAuditTrail.js"
import { AuditTrail } from "../../../src/application/ports/AuditTrail.js"
import { AuditEntry, ByUser } from "../../../src/domain/Audit.js"
import { UserId } from "../../../src/domain/Identifiers.js"
import { jobIdAt } from "../../contracts/ContractSupport.js"
import { DynamoDbOnDynalite } from "../../support/servers/DynaliteServer.js"

describe("DynamoDB audit trail items", () => {
  it.effect("carry their job's retention as their TTL, rounded up to a whole second", () =>
    Effect.gen(function*() {
      const trail = yield* AuditTrail
      const db = yield* DynamoDb
      const jobId = jobIdAt(Date.parse("2024-04-02T10:00:00Z"))
      const retainedUntil = Date.parse("2024-05-02T10:00:00.250Z")
      yield* trail.record(
        new AuditEntry({
          jobId,
          entryId: "cancelled",
          action: "cancelled",
          actor: new ByUser({ userId: UserId.make("alice") }),
          at: DateTime.unsafeMake("2024-04-02T10:00:01Z")
        }),
        retainedUntil
      )
      const item = yield* Effect.promise(() =>
        db.documents.send(new GetCommand({ TableName: db.tables.audit, Key: { jobId, entryId: "cancelled" } }))
      )
      expect(item.Item?.["expiresAt"]).toBe(Math.ceil(retainedUntil / 1000))
    }).pipe(Effect.provide(DynamoDbAuditTrail.layer.pipe(Layer.provideMerge(DynamoDbOnDynalite)))))
})
