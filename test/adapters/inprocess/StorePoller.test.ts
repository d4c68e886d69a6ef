// The poller of `npm run serve`: the workers write the stores from other processes (here, the in-process worker on
// the undecorated memory stores; then a client of its own on the DynamoDB adapters over dynalite), and the poller's
// rounds turn what they wrote into the feed's changes. It reads nothing while nobody follows anyone.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, DateTime, Duration, Effect, Either, Layer, Option, Queue } from "effect"
import * as DynamoDb from "../../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbInAppNotifier from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import * as InProcessChangeFeed from "../../../src/adapters/inprocess/InProcessChangeFeed.js"
import * as StorePoller from "../../../src/adapters/inprocess/StorePoller.js"
import { cancelledNotificationFor, inAppNotificationFor } from "../../../src/application/Messages.js"
import { ChangeFeed } from "../../../src/application/ports/ChangeFeed.js"
import type { Change, Subscription } from "../../../src/application/ports/ChangeFeed.js"
import { InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { requestExport } from "../../../src/application/RequestExport.js"
import {
  Cancelled,
  Completed,
  ExportResult,
  Lease,
  objectKeyFor,
  Progress,
  ProgressReported,
  Started,
  transition
} from "../../../src/domain/ExportJob.js"
import type { CancelledJob, ExportJob, JobEvent, SucceededJob } from "../../../src/domain/ExportJob.js"
import type { Owner } from "../../../src/domain/Identifiers.js"
import { queuedJobOf, uniqueOwners } from "../../contracts/ContractSupport.js"
import { alice, bob, drainQueue, ordersInput, testLayer } from "../../support/Fixtures.js"
import { DynaliteServer, DynaliteServerLive } from "../../support/servers/DynaliteServer.js"

/** The memory job store, counting the calls made to it. */
const counted = (calls: { count: number }) =>
  Layer.effect(
    JobStore,
    Effect.map(JobStore, (store) =>
      JobStore.of(
        Object.fromEntries(
          Object.entries(store).map(([name, method]) => [
            name,
            (...args: Array<never>) => {
              calls.count += 1
              return (method as (...a: Array<never>) => unknown)(...args)
            }
          ])
        ) as unknown as JobStore["Type"]
      ))
  )

const describeChange = (change: Change) =>
  change._tag === "JobChanged" ? `${change.job.owner.userId} ${change.job._tag}` : `notice ${change.notification.kind}`

describe("StorePoller", () => {
  it.scoped("publishes what other processes wrote for a followed owner, and reads nothing while nobody follows", () => {
    const calls = { count: 0 }
    return Effect.gen(function*() {
      const feed = yield* ChangeFeed
      const round = yield* StorePoller.make
      yield* requestExport(alice, ordersInput())
      calls.count = 0
      yield* round
      expect(calls.count).toBe(0)

      const subscription = yield* feed.subscribe(alice.owner, { after: Option.none(), maxStreams: 5 })
      yield* requestExport(bob, ordersInput())
      yield* round
      yield* drainQueue
      // The job left the active index between rounds: read once more; its notice arrives with it.
      yield* round
      yield* round
      const changes = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription.changes)).map(({ change }) =>
        describeChange(change)
      )
      expect(changes).toStrictEqual(["alice Queued", "alice Succeeded", "notice export_succeeded"])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(InProcessChangeFeed.layer()).pipe(
          Layer.provideMerge(counted(calls).pipe(Layer.provideMerge(testLayer())))
        )
      )
    )
  })
})

/** What the API process asks DynamoDB, and a write of another process to make right after its next call. */
interface Recorder {
  readonly calls: Array<string>
  afterNextCall: Effect.Effect<void> | undefined
}

const newRecorder = (): Recorder => ({ calls: [], afterNextCall: undefined })

/** The DynamoDb client in context, recording the operation of each call made through it. */
const recording = (recorder: Recorder) =>
  Layer.effect(
    DynamoDb.DynamoDb,
    Effect.map(DynamoDb.DynamoDb, (db) =>
      DynamoDb.DynamoDb.of({
        ...db,
        call: (operation, run) =>
          Effect.suspend(() => {
            recorder.calls.push(operation)
            return db.call(operation, run)
          }).pipe(Effect.zipLeft(Effect.suspend(() => {
            const write = recorder.afterNextCall ?? Effect.void
            recorder.afterNextCall = undefined
            return write
          })))
      }))
  )

/**
 * The API process of `npm run serve` on DynamoDB: its feed (an owner no longer followed is let go at once) and the
 * adapters the poller reads, on a client of their own whose calls are recorded; and the dynalite they reach.
 */
const apiOnDynalite = (recorder: Recorder) =>
  Layer.mergeAll(
    InProcessChangeFeed.layer({ resumeWindow: Duration.millis(1) }),
    DynamoDbJobStore.layer,
    DynamoDbInAppNotifier.layer
  ).pipe(
    Layer.provide(
      Layer.unwrapEffect(
        Effect.map(
          DynaliteServer,
          (server) => recording(recorder).pipe(Layer.provide(DynamoDb.layer(server.settings)))
        )
      )
    ),
    Layer.provideMerge(DynaliteServerLive)
  )

/**
 * A worker in another process, on a DynamoDB client of its own: it creates jobs, moves them on as a worker does and
 * delivers their notices. Each job is known by a label, for the changes' descriptions.
 */
const otherProcess = Effect.gen(function*() {
  const server = yield* DynaliteServer
  const context = yield* Layer.build(
    Layer.mergeAll(DynamoDbJobStore.layer, DynamoDbInAppNotifier.layer).pipe(
      Layer.provide(DynamoDb.layer(server.settings))
    )
  )
  const jobs = Context.get(context, JobStore)
  const notices = Context.get(context, InAppNotifier)
  const labels = new Map<string, string>()
  const write = <J extends ExportJob>(job: ExportJob, event: JobEvent) =>
    Effect.gen(function*() {
      const next = Either.getOrThrow(transition(job, event))
      yield* jobs.update(next, job.revision)
      return next as J
    }).pipe(Effect.orDie)
  const holder = "worker-1"
  return {
    create: (label: string, owner: Owner) =>
      Effect.gen(function*() {
        const job = queuedJobOf(owner, { millis: Date.now() })
        labels.set(job.jobId, label)
        yield* Effect.orDie(jobs.create(job))
        return job
      }),
    start: (job: ExportJob) =>
      Effect.flatMap(
        DateTime.now,
        (at) =>
          write(job, Started.make({ at, lease: new Lease({ holder, expiresAt: DateTime.add(at, { minutes: 1 }) }) }))
      ),
    report: (job: ExportJob, rows: number, percent: number) =>
      write(
        job,
        ProgressReported.make({
          holder,
          progress: new Progress({ rows, bytes: rows * 100, totalRows: 10_000, percent })
        })
      ),
    /** Completes the job and delivers its notice, as its worker does. */
    complete: (job: ExportJob) =>
      Effect.gen(function*() {
        const at = yield* DateTime.now
        const result = new ExportResult({
          objectKey: objectKeyFor({ ...job, attempts: 1 }),
          rowCount: 10_000,
          byteSize: 1_000_000,
          sha256: "ab".repeat(32),
          linkExpiresAt: DateTime.add(at, { days: 1 })
        })
        const succeeded = yield* write<SucceededJob>(job, Completed.make({ at, result }))
        yield* Effect.orDie(notices.deliver(inAppNotificationFor(succeeded, "Orders", "/exports", at)))
        return succeeded
      }),
    /** Cancels the job and delivers its notice, as the API does. */
    cancel: (job: ExportJob) =>
      Effect.gen(function*() {
        const at = yield* DateTime.now
        const cancelled = yield* write<CancelledJob>(job, Cancelled.make({ at }))
        yield* Effect.orDie(notices.deliver(cancelledNotificationFor(cancelled, "Orders", "/exports", at)))
        return cancelled
      }),
    describe: (change: Change) =>
      change._tag === "JobChanged"
        ? [
          labels.get(change.job.jobId),
          change.job._tag,
          ...(change.job._tag === "Running" && change.job.progress !== undefined
            ? [`${change.job.progress.rows} rows`, `${change.job.progress.percent}%`]
            : [])
        ].join(" ")
        : `notice ${change.notification.kind} of ${labels.get(change.notification.jobId)}`
  }
})

const takeAll = (subscription: Subscription) =>
  Effect.map(
    Queue.takeAll(subscription.changes),
    (changes) => Chunk.toReadonlyArray(changes).map(({ change }) => change)
  )

describe("StorePoller over DynamoDB (dynalite)", () => {
  it.scopedLive("what another process writes reaches a followed owner's feed in order, each state once", () => {
    const recorder = newRecorder()
    return Effect.gen(function*() {
      const feed = yield* ChangeFeed
      const round = yield* StorePoller.make
      const worker = yield* otherProcess
      const { alice: owner, bobAtAcme: other } = uniqueOwners()

      let first: ExportJob = yield* worker.create("first", owner)
      let others: ExportJob = yield* worker.create("other's", other)
      yield* round
      expect(recorder.calls).toEqual([])

      const changes = yield* Effect.scoped(Effect.gen(function*() {
        const subscription = yield* feed.subscribe(owner, { after: Option.none(), maxStreams: 5 })
        yield* round
        first = yield* worker.start(first)
        others = yield* worker.start(others)
        yield* round
        first = yield* worker.report(first, 1_000, 10)
        others = yield* worker.report(others, 5_000, 50)
        yield* round
        // Nothing new: nothing published.
        yield* round
        first = yield* worker.report(first, 6_000, 60)
        const second = yield* worker.create("second", owner)
        yield* round
        yield* worker.complete(first)
        yield* worker.complete(others)
        yield* round
        yield* worker.cancel(second)
        yield* round
        yield* round
        return yield* takeAll(subscription)
      }))
      expect(changes.map(worker.describe)).toStrictEqual([
        "first Queued",
        "first Running",
        "first Running 1000 rows 10%",
        "first Running 6000 rows 60%",
        "second Queued",
        "first Succeeded",
        "notice export_succeeded of first",
        "second Cancelled",
        "notice export_cancelled of second"
      ])

      // The last stream has closed: the owner is let go, and the next rounds read nothing.
      yield* Effect.sleep(Duration.millis(5))
      recorder.calls.length = 0
      yield* round
      yield* round
      expect(recorder.calls).toEqual([])
    }).pipe(Effect.provide(apiOnDynalite(recorder)))
  })

  it.scopedLive("a job that finishes while a round reads is published finished once, with its notice", () => {
    const recorder = newRecorder()
    return Effect.gen(function*() {
      const feed = yield* ChangeFeed
      const round = yield* StorePoller.make
      const worker = yield* otherProcess
      const { alice: owner } = uniqueOwners()
      const subscription = yield* feed.subscribe(owner, { after: Option.none(), maxStreams: 5 })
      const job = yield* worker.start(yield* worker.create("job", owner))
      yield* round
      // Finished after the round read the jobs in progress, before it read the notices.
      recorder.afterNextCall = Effect.asVoid(worker.complete(job))
      yield* round
      yield* round
      expect((yield* takeAll(subscription)).map(worker.describe)).toStrictEqual([
        "job Running",
        "notice export_succeeded of job",
        "job Succeeded"
      ])
    }).pipe(Effect.provide(apiOnDynalite(recorder)))
  })
})
