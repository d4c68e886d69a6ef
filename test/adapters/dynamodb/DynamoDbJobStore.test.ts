// What the DynamoDB adapters promise beyond the port contracts (which hold idempotency keys, their races and the email
// address for every store): races on one revision have one winner, a claim left half-way does not block its key, an
// unreachable server is an expected failure, the TTL attribute follows DynamoDbTables.ts, and the settings come from
// Config.
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb"
import { assert, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Duration, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import { inspect } from "node:util"
import * as DynamoDb from "../../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbInAppNotifier from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { InAppNotification, InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import {
  Cancelled,
  Completed,
  ExportResult,
  Failed,
  isLive,
  JobFailure,
  Lease,
  objectKeyFor,
  Started,
  transition
} from "../../../src/domain/ExportJob.js"
import type { ExportJob, JobEvent } from "../../../src/domain/ExportJob.js"
import type { ExportJobId } from "../../../src/domain/Identifiers.js"
import { jobIdAt, queuedJobOf, uniqueOwners } from "../../contracts/ContractSupport.js"
import { closedPort } from "../../support/FreePort.js"
import { DynamoDbOnDynalite } from "../../support/servers/DynaliteServer.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")
const DAY = 86_400_000

const after = (job: ExportJob, event: JobEvent): ExportJob => Either.getOrThrow(transition(job, event))
const at = (millis: number) => DateTime.unsafeMake(BASE_MILLIS + millis)
/** Started at `millis` by one worker, holding a minute's lease. */
const startedAt = (millis: number) =>
  Started.make({ at: at(millis), lease: new Lease({ holder: "worker-1", expiresAt: at(millis + 60_000) }) })

const stores = Layer.mergeAll(DynamoDbJobStore.layer, DynamoDbInAppNotifier.layer).pipe(
  Layer.provideMerge(DynamoDbOnDynalite)
)

/** The raw item under `jobId` in the jobs table, as the adapter wrote it. */
const rawItem = (table: "jobs" | "notifications", key: Record<string, string>) =>
  Effect.flatMap(
    DynamoDb.DynamoDb,
    (db) =>
      db.call("GetItem", (documents, options) =>
        documents.send(new GetCommand({ TableName: db.tables[table], Key: key, ConsistentRead: true }), options))
  )
    .pipe(Effect.map((output) =>
      output.Item
    ))

const epochSeconds = (millis: number) => Math.floor(millis / 1000)

describe("DynamoDB JobStore", () => {
  it.effect("two updates from the same revision, sent at once: exactly one lands", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      for (let round = 0; round < 5; round++) {
        const queued = queuedJobOf(uniqueOwners().alice)
        yield* store.create(queued)
        const started = after(queued, startedAt(1_000))
        const cancelled = after(queued, Cancelled.make({ at: at(1_000) }))
        const results = yield* Effect.all(
          [store.update(started, queued.revision), store.update(cancelled, queued.revision)],
          { concurrency: "unbounded", mode: "either" }
        )
        const winners = results.filter(Either.isRight)
        expect(winners.length).toBe(1)
        const loser = results.find(Either.isLeft)
        assert(loser !== undefined && loser.left._tag === "JobConflict")
        const stored = Option.getOrThrow(yield* store.get(queued.jobId))
        expect(stored.revision).toBe(1)
        expect(stored._tag).toBe(Either.isRight(results[0]) ? "Running" : "Cancelled")
      }
    }).pipe(Effect.provide(stores)))

  it.effect("stores a running job's lease and a channel's claim, and reads records written before either", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const db = yield* DynamoDb.DynamoDb
      const queued = queuedJobOf(uniqueOwners().alice)
      yield* store.create(queued)
      const running = after(queued, startedAt(1_000))
      yield* store.update(running, queued.revision)
      const item = (yield* rawItem("jobs", { jobId: queued.jobId }))!
      const written = JSON.parse(item["job"] as string) as Record<string, unknown>
      expect(written["lease"]).toStrictEqual({ holder: "worker-1", expiresAt: "2024-04-02T10:01:01.000Z" })

      // The same record as a worker from before leases wrote it: no lease, which reads as held by no one.
      const { lease: _, ...before } = written
      yield* db.call("PutItem", (documents, options) =>
        documents.send(
          new PutCommand({ TableName: db.tables.jobs, Item: { ...item, job: JSON.stringify(before) } }),
          options
        ))
      const read = Option.getOrThrow(yield* store.get(queued.jobId))
      assert(read._tag === "Running")
      expect(read.lease).toBeUndefined()
      expect(isLive(read.lease, at(1_000))).toBe(false)
      expect(Either.isRight(transition(read, startedAt(1_001)))).toBe(true)
    }).pipe(Effect.provide(stores)))

  it.effect("a claim left by a create that died half-way does not block the key", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const db = yield* DynamoDb.DynamoDb
      const { alice } = uniqueOwners()
      const vanished: ExportJobId = jobIdAt(BASE_MILLIS)
      yield* db.call("PutItem", (documents, options) =>
        documents.send(
          new PutCommand({
            TableName: db.tables.jobs,
            Item: {
              jobId: `idem#${JSON.stringify([alice.merchantId, alice.userId, "orphan"])}`,
              claimedBy: vanished,
              requestedAtMillis: BASE_MILLIS
            }
          }),
          options
        ))
      expect(Option.isNone(yield* store.findByIdempotencyKey(alice, "orphan"))).toBe(true)
      const job = queuedJobOf(alice, { millis: BASE_MILLIS + 1_000, idempotencyKey: "orphan" })
      yield* store.create(job)
      expect(Option.map(yield* store.findByIdempotencyKey(alice, "orphan"), (found) => found.jobId))
        .toEqual(Option.some(job.jobId))
    }).pipe(Effect.provide(stores)))

  it.effect("slots whose jobs finished or vanished without giving them back are freed by a create at the cap", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const db = yield* DynamoDb.DynamoDb
      const { alice } = uniqueOwners()
      const limits = { exportsPerUser: 2, exportsPerMerchant: 10 }
      // A process died between writing these jobs' ends and releasing their slots (or rolled a create back).
      const finished = queuedJobOf(alice, { millis: BASE_MILLIS })
      yield* store.create(finished)
      yield* store.update(after(finished, Cancelled.make({ at: at(1_000) })), finished.revision)
      const vanished: ExportJobId = jobIdAt(BASE_MILLIS + 1)
      yield* db.call("PutItem", (documents, options) =>
        documents.send(
          new PutCommand({
            TableName: db.tables.jobs,
            Item: {
              jobId: `slots#user#${JSON.stringify([alice.merchantId, alice.userId])}`,
              jobIds: new Set([finished.jobId, vanished])
            }
          }),
          options
        ))
      yield* store.create(queuedJobOf(alice, { millis: BASE_MILLIS + 2_000 }), { limits: limits })
      yield* store.create(queuedJobOf(alice, { millis: BASE_MILLIS + 3_000 }), { limits: limits })
      // The two slots held by jobs in progress are not freed.
      const refused = yield* Effect.flip(
        store.create(queuedJobOf(alice, { millis: BASE_MILLIS + 4_000 }), { limits: limits })
      )
      expect(refused).toMatchObject({ _tag: "ExportLimitReached", scope: "user", limit: 2 })
    }).pipe(Effect.provide(stores)))

  it.effect("sets the TTL attribute as DynamoDbTables.ts documents it", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const { alice } = uniqueOwners()
      const queued = queuedJobOf(alice, { idempotencyKey: "ttl" })
      yield* store.create(queued)
      expect((yield* rawItem("jobs", { jobId: queued.jobId }))?.["expiresAt"]).toBeUndefined()
      const claim = yield* rawItem("jobs", { jobId: `idem#${JSON.stringify([alice.merchantId, alice.userId, "ttl"])}` })
      expect(claim?.["expiresAt"]).toBe(epochSeconds(BASE_MILLIS + 30 * DAY))

      const running = after(queued, startedAt(1_000))
      yield* store.update(running, queued.revision)
      expect((yield* rawItem("jobs", { jobId: queued.jobId }))?.["expiresAt"]).toBeUndefined()
      const succeeded = after(
        running,
        Completed.make({
          at: at(9_500),
          result: new ExportResult({
            objectKey: objectKeyFor({ ...queued, attempts: 1 }),
            rowCount: 1,
            byteSize: 10,
            sha256: "ab".repeat(32),
            linkExpiresAt: at(DAY)
          })
        })
      )
      yield* store.update(succeeded, running.revision)
      const succeededItem = yield* rawItem("jobs", { jobId: queued.jobId })
      expect(succeededItem?.["expiresAt"]).toBe(epochSeconds(BASE_MILLIS + DAY + 7 * DAY))
      expect(succeededItem?.["jobStatus"]).toBe("Succeeded")
      expect(succeededItem?.["activeOwnerKey"]).toBeUndefined()

      const failing = queuedJobOf(alice, { millis: BASE_MILLIS + 1 })
      yield* store.create(failing)
      const failure = new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: false })
      yield* store.update(after(failing, Failed.make({ at: at(60_000), failure })), failing.revision)
      expect((yield* rawItem("jobs", { jobId: failing.jobId }))?.["expiresAt"])
        .toBe(epochSeconds(BASE_MILLIS + 60_000 + 30 * DAY))

      const notifier = yield* InAppNotifier
      const notification = new InAppNotification({
        id: `${queued.jobId}:export_succeeded`,
        owner: alice,
        jobId: queued.jobId,
        kind: "export_succeeded",
        title: "ready",
        body: "ready",
        link: `/exports/${queued.jobId}`,
        createdAt: at(10_000)
      })
      yield* notifier.deliver(notification)
      expect((yield* rawItem("notifications", { id: notification.id }))?.["expiresAt"])
        .toBe(epochSeconds(BASE_MILLIS + 10_000 + 90 * DAY))
    }).pipe(Effect.provide(stores)))
})

describe("DynamoDB adapters, server unreachable", () => {
  const unreachable = Effect.map(
    closedPort,
    (port) =>
      Layer.mergeAll(DynamoDbJobStore.layer, DynamoDbInAppNotifier.layer).pipe(
        Layer.provide(DynamoDb.layer({
          region: "local",
          endpoint: `http://127.0.0.1:${port}`,
          tables: { jobs: "jobs", notifications: "notifications", audit: "audit" },
          credentials: { accessKeyId: Redacted.make("local"), secretAccessKey: Redacted.make("local") },
          maxAttempts: 1
        }))
      )
  )

  it.effect("every JobStore call fails with JobStoreUnavailable, not a defect", () =>
    Effect.gen(function*() {
      const layer = yield* unreachable
      const { alice } = uniqueOwners()
      const job = queuedJobOf(alice, { idempotencyKey: "k" })
      const calls = Effect.gen(function*() {
        const store = yield* JobStore
        const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          store.create(job),
          store.create(job, { inProgressDeadline: Duration.hours(6) }),
          store.get(job.jobId),
          store.update(after(job, startedAt(1)), 0),
          store.listByOwner(alice, { limit: 10, after: undefined }),
          store.listActive(alice),
          store.findByIdempotencyKey(alice, "k")
        ]
        return calls
      })
      for (const call of yield* Effect.provide(calls, layer)) {
        const exit = yield* Effect.exit(Effect.provide(call, layer))
        assert(Exit.isFailure(exit))
        const failure = Option.getOrThrow(
          Exit.causeOption(exit).pipe(
            Option.flatMap((cause) => cause._tag === "Fail" ? Option.some(cause.error) : Option.none())
          )
        )
        expect(failure._tag).toBe("JobStoreUnavailable")
      }
    }))

  it.effect("the notifier fails with NotificationFailed", () =>
    Effect.gen(function*() {
      const layer = yield* unreachable
      const { alice } = uniqueOwners()
      const error = yield* Effect.flip(
        Effect.flatMap(InAppNotifier, (notifier) => notifier.listFor(alice)).pipe(Effect.provide(layer))
      )
      expect(error._tag).toBe("NotificationFailed")
    }))
})

describe("DynamoDb settings", () => {
  const env = {
    DYNAMODB_REGION: "eu-west-1",
    DYNAMODB_JOBS_TABLE: "jobs",
    DYNAMODB_NOTIFICATIONS_TABLE: "notifications",
    DYNAMODB_AUDIT_TABLE: "audit"
  }
  const build = (values: Record<string, string>) =>
    Layer.build(DynamoDb.layerConfig).pipe(
      Effect.scoped,
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values))))
    )

  it.effect("builds from the environment without reaching the server", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      yield* build({ ...env, DYNAMODB_ENDPOINT: `http://127.0.0.1:${port}` })
      yield* build({ ...env, DYNAMODB_ACCESS_KEY_ID: "id", DYNAMODB_SECRET_ACCESS_KEY: "secret" })
    }))

  it.effect("a missing table name fails with the variable's name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(build({ DYNAMODB_REGION: "eu-west-1", DYNAMODB_JOBS_TABLE: "jobs" }))
      expect(inspect(error)).toContain("DYNAMODB_NOTIFICATIONS_TABLE")
    }))

  it.effect("half a pair of credentials fails with the missing half's name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(build({ ...env, DYNAMODB_ACCESS_KEY_ID: "id" }))
      expect(inspect(error)).toContain("DYNAMODB_SECRET_ACCESS_KEY")
    }))
})
