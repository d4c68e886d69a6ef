// Idempotency keys are the owner's (ADR 25): the same key used by a colleague, or by the same user id in another
// merchant, neither finds nor blocks the first owner's job, in every JobStore.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import * as DynamoDbJobStore from "../../src/adapters/dynamodb/DynamoDbJobStore.js"
import * as MemoryJobStore from "../../src/adapters/memory/MemoryJobStore.js"
import * as SqliteJobStore from "../../src/adapters/sqlite/SqliteJobStore.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { newJob } from "../../src/domain/ExportJob.js"
import type { Owner } from "../../src/domain/Identifiers.js"
import { EmailAddress } from "../../src/domain/Identifiers.js"
import { ReportRequest } from "../../src/domain/Reports.js"
import { jobIdAt, uniqueOwners } from "../contracts/ContractSupport.js"
import { DynamoDbOnDynalite } from "../support/servers/DynaliteServer.js"
import { temporaryDatabase } from "./sqlite/SqliteSupport.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")

const report = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31", timezone: "UTC" }
})

const keyedJob = (owner: Owner, millis: number, idempotencyKey: string) =>
  newJob({
    jobId: jobIdAt(millis),
    owner,
    email: Redacted.make(EmailAddress.make(`${owner.userId}@example.com`)),
    report,
    format: "csv",
    requestedAt: DateTime.unsafeMake(millis),
    idempotencyKey
  })

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<JobStore, unknown>]> = [
  ["memory", () => MemoryJobStore.layer],
  ["dynamodb (dynalite)", () => DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDbOnDynalite))],
  ["sqlite", () => SqliteJobStore.layer.pipe(Layer.provide(temporaryDatabase))]
]

for (const [name, makeLayer] of stores) {
  describe(`JobStore tenancy: ${name}`, () => {
    it.effect("an idempotency key is found only by its owner, and others may use the same key for their own job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
        const hers = keyedJob(alice, BASE_MILLIS, "shared-key")
        yield* store.create(hers)
        expect(Option.map(yield* store.findByIdempotencyKey(alice, "shared-key"), (job) => job.jobId))
          .toStrictEqual(Option.some(hers.jobId))

        for (const [offset, other] of [[1, bobAtAcme], [2, aliceAtGlobex]] as const) {
          expect(Option.isNone(yield* store.findByIdempotencyKey(other, "shared-key"))).toBe(true)
          const theirs = keyedJob(other, BASE_MILLIS + offset, "shared-key")
          yield* store.create(theirs)
          expect(Option.map(yield* store.findByIdempotencyKey(other, "shared-key"), (job) => job.jobId))
            .toStrictEqual(Option.some(theirs.jobId))
        }
        expect(Option.map(yield* store.findByIdempotencyKey(alice, "shared-key"), (job) => job.jobId))
          .toStrictEqual(Option.some(hers.jobId))
      }).pipe(Effect.provide(makeLayer())))
  })
}
