import { assert, describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import {
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  FastCheck,
  Fiber,
  Layer,
  Option,
  Stream,
  TestClock
} from "effect"
import { createHash } from "node:crypto"
import { FaultInjection } from "../../src/adapters/memory/FaultInjection.js"
import type { FaultName, Faults } from "../../src/adapters/memory/FaultInjection.js"
import { MemoryOutbox } from "../../src/adapters/memory/MemoryEmailSender.js"
import { MemoryFiles } from "../../src/adapters/memory/MemoryFileStore.js"
import { MemoryQueue } from "../../src/adapters/memory/MemoryJobQueue.js"
import { handleDelivery, handleUnfinished } from "../../src/application/ExportWorker.js"
import { EmailSender } from "../../src/application/ports/EmailSender.js"
import { bytesReader, FileStore } from "../../src/application/ports/FileStore.js"
import type { FileMetadata } from "../../src/application/ports/FileStore.js"
import { encodeMessage } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { ReportSource } from "../../src/application/ports/ReportSource.js"
import { messageFor, requestExport } from "../../src/application/RequestExport.js"
import { encodeRow } from "../../src/domain/Csv.js"
import { JobStoreUnavailable, NotificationFailed } from "../../src/domain/Errors.js"
import type { ExportJob, ObjectKey } from "../../src/domain/ExportJob.js"
import {
  ChannelClaim,
  isLive,
  Lease,
  NotificationLedger,
  objectKeyFor,
  Started,
  SucceededJob,
  transition
} from "../../src/domain/ExportJob.js"
import { Orders } from "../../src/domain/Reports.js"
import { alice, bob, drainQueue, ordersInput, sentTo, storedJob, testLayer } from "../support/Fixtures.js"
import { makeLogCollector } from "../support/LogCollector.js"

const ROWS = 50

/** Runs `effect` while the test clock jumps far ahead, so retry backoffs and timeouts elapse at once. */
const withTimePassing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust(Duration.hours(1))
    return yield* Fiber.join(fiber)
  })

const forceTo = (job: ExportJob, next: ExportJob) =>
  Effect.flatMap(JobStore, (store) => store.update(next, job.revision))

/** The job as a worker leaves it that started it and died: Running, its lease ended at `at`. */
const startedByDeadWorker = (job: ExportJob, at: DateTime.Utc) =>
  Either.getOrThrow(transition(job, Started.make({ at, lease: new Lease({ holder: "dead-worker", expiresAt: at }) })))

/**
 * The memory source, counting its queries; the first one sends a first piece of the file (so that its upload is
 * under way), then stalls until `release`, as a slow query does.
 */
const slowSource = Effect.gen(function*() {
  const memory = yield* ReportSource
  const stalled = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()
  let queries = 0
  const source = ReportSource.of({
    rows: memory.rows,
    parquet: memory.parquet,
    preview: memory.preview,
    csv: (query) =>
      ++queries === 1
        ? Stream.concat(
          Stream.take(memory.csv(query), 1),
          Stream.unwrap(
            Deferred.succeed(stalled, undefined).pipe(
              Effect.zipRight(Deferred.await(release)),
              Effect.as(Stream.drop(memory.csv(query), 1))
            )
          )
        )
        : memory.csv(query)
  })
  return { source, stalled, release, queries: () => queries }
})

/**
 * Requests an export and starts its first delivery on a `slowSource`, returning once its query has stalled with the
 * upload under way; `store` stands in for the worker's job store when given.
 */
const slowExportRunning = (store?: JobStore["Type"]) =>
  Effect.gen(function*() {
    const job = yield* requestExport(alice, ordersInput())
    const body = encodeMessage(messageFor(job))
    const slow = yield* slowSource
    const delivery = handleDelivery(body, { receiveCount: 1, maxReceives: 3 }).pipe(
      Effect.provideService(ReportSource, slow.source)
    )
    const first = yield* Effect.fork(store === undefined ? delivery : Effect.provideService(delivery, JobStore, store))
    yield* Deferred.await(slow.stalled)
    return { job, body, slow, first }
  })

describe("RunExport", () => {
  it.effect("streams the report into a CSV file, signs a 24 h link and tells the user in-app and by email", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const verdicts = yield* drainQueue
      expect(verdicts.map((v) => v._tag)).toStrictEqual(["Ack"])

      const done = yield* storedJob(job.jobId)
      if (done._tag !== "Succeeded") return expect.fail(`job ended ${done._tag}`)
      const files = yield* MemoryFiles
      const file = Option.getOrThrow(yield* files.read(done.result.objectKey))
      expect(done.result.objectKey).toBe(`exports/m-acme/${job.jobId}/attempt-1.csv`)
      expect(file.contentType).toBe("text/csv; charset=utf-8")
      expect(file.downloadName).toBe("orders_2024-01-01_2024-03-31.csv")

      // The file holds exactly the rows the source gives, encoded, after the header.
      const source = yield* ReportSource
      const expectedRows = yield* Stream.runCollect(
        source.rows({
          jobId: job.jobId,
          merchantId: alice.owner.merchantId,
          report: job.report,
          timeout: Duration.minutes(1)
        })
      )
      const text = Buffer.from(file.bytes).toString("utf8")
      const parsed: Array<Array<string>> = parse(text)
      expect(parsed[0]).toStrictEqual(Orders.columns.map((c) => c.header))
      expect(parsed.slice(1)).toStrictEqual(
        Array.from(expectedRows, (row) => parse(encodeRow(row))[0])
      )
      expect(done.result.rowCount).toBe(ROWS)
      expect(done.result.byteSize).toBe(file.bytes.length)
      expect(done.result.sha256).toBe(createHash("sha256").update(file.bytes).digest("hex"))
      expect(DateTime.toEpochMillis(done.result.linkExpiresAt) - DateTime.toEpochMillis(done.finishedAt))
        .toBe(Duration.toMillis(Duration.hours(24)))

      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(emails).toHaveLength(1)
      expect(inApp).toHaveLength(1)
      expect(inApp[0]!.kind).toBe("export_succeeded")
      expect(inApp[0]!.link).toBe(`/api/v1/reports/exports/${job.jobId}/download`)
      expect(emails[0]!.text).toContain(`http://127.0.0.1:3000/exports/${job.jobId}`)
      const link = /memory:\/\/files\/\S+/.exec(emails[0]!.text)?.[0]
      expect(link).toBeDefined()
      expect(emails[0]!.html).toContain(link!)
      expect(emails[0]!.text).toContain("50 rows")
      expect(done.notifications).toMatchObject({ inApp: "sent", email: "sent" })

      // The link works for 24 hours, then no longer.
      expect((yield* files.open(link!)).bytes).toStrictEqual(file.bytes)
      yield* TestClock.adjust(Duration.sum(Duration.hours(24), Duration.millis(1)))
      expect(yield* Effect.flip(files.open(link!))).toBe("expired")
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("writes only the caller's merchant's rows", () =>
    Effect.gen(function*() {
      const mine = yield* requestExport(alice, ordersInput())
      const theirs = yield* requestExport(bob, ordersInput())
      yield* drainQueue
      const files = yield* MemoryFiles
      for (const [job, merchant] of [[mine, "m-acme"], [theirs, "m-globex"]] as const) {
        const done = yield* storedJob(job.jobId)
        assert(done._tag === "Succeeded")
        expect(done.result.objectKey.startsWith(`exports/${merchant}/`)).toBe(true)
        const file = Option.getOrThrow(yield* files.read(done.result.objectKey))
        const rows: Array<Array<string>> = parse(Buffer.from(file.bytes)).slice(1)
        expect(rows).toHaveLength(ROWS)
        for (const row of rows) expect(row[0]!.startsWith(`${merchant}-`)).toBe(true)
      }
    }).pipe(Effect.provide(testLayer(ROWS))))

  describe("a failure injected at any step", () => {
    type Step = { readonly faults: Faults; readonly times: Partial<Record<FaultName, number>> }
    const times = FastCheck.option(FastCheck.integer({ min: 1, max: 3 }), { nil: undefined })
    const step: FastCheck.Arbitrary<Step> = FastCheck.oneof(
      FastCheck.constant({ faults: {}, times: {} }),
      FastCheck.record({
        kind: FastCheck.constantFrom("timeout" as const, "error" as const, "hang" as const),
        afterRows: FastCheck.integer({ min: 0, max: ROWS + 5 }),
        retryable: FastCheck.boolean(),
        n: times
      }).map(({ n, ...query }) => ({ faults: { query }, times: n === undefined ? {} : { query: n } })),
      FastCheck.record({
        afterBytes: FastCheck.integer({ min: 0, max: 8_000 }),
        retryable: FastCheck.boolean(),
        n: times
      }).map(({ n, ...upload }) => ({ faults: { upload }, times: n === undefined ? {} : { upload: n } })),
      FastCheck.constantFrom("signing" as const, "email" as const, "inApp" as const).chain((name) =>
        times.map((n) => ({ faults: { [name]: true }, times: n === undefined ? {} : { [name]: n } }))
      )
    )

    it.effect.prop(
      "ends Failed with one failure notice per channel, or Succeeded with one success notice per channel, never both",
      [step],
      ([{ faults, times: counts }]) =>
        Effect.gen(function*() {
          const job = yield* requestExport(alice, ordersInput())
          yield* (yield* FaultInjection).set(faults, counts)
          yield* withTimePassing(drainQueue)
          const done = yield* storedJob(job.jobId)
          const { emails, inApp } = yield* sentTo(job.jobId)
          // Every run here is one attempt (no worker dies): the only file the job can have is its first attempt's.
          const file = yield* (yield* MemoryFiles).read(objectKeyFor({ ...job, attempts: 1 }))

          expect(["Succeeded", "Failed"]).toContain(done._tag)
          // A notice that fails a few times is tried again until it goes; one that never goes is given up.
          const emailOk = faults.email === undefined || counts.email !== undefined
          const inAppOk = faults.inApp === undefined || counts.inApp !== undefined
          expect(emails).toHaveLength(emailOk ? 1 : 0)
          expect(inApp).toHaveLength(inAppOk ? 1 : 0)
          const kinds = new Set([
            ...inApp.map((n) => n.kind),
            ...emails.map((m) => (m.subject.startsWith("Your export is ready") ? "export_succeeded" : "export_failed"))
          ])
          expect(kinds.size).toBeLessThanOrEqual(1)

          if (done._tag === "Succeeded") {
            if (kinds.size === 1) expect([...kinds]).toStrictEqual(["export_succeeded"])
            const bytes = Option.getOrThrow(file).bytes
            expect(done.result.sha256).toBe(createHash("sha256").update(bytes).digest("hex"))
            expect(done.result.rowCount).toBe(ROWS)
          } else if (done._tag === "Failed") {
            expect([...kinds]).toStrictEqual(["export_failed"])
            const expectedReason = faults.query !== undefined
              ? faults.query.kind === "error" ? "QueryFailed" : "QueryTimeout"
              : faults.upload !== undefined
              ? "UploadFailed"
              : "LinkSigningFailed"
            expect(done.failure.reason).toBe(expectedReason)
            // No half-written file is ever published; only a complete file can be left without a link.
            if (done.failure.reason !== "LinkSigningFailed") expect(Option.isNone(file)).toBe(true)
            expect(inApp[0]!.body).toContain(done.failure.userMessage)
          }
          // A hung query runs into its timeout while the test clock moves on, and its worker's progress timer wakes
          // every second meanwhile: a 30 s timeout keeps each case to a few dozen wakes instead of thousands.
        }).pipe(Effect.provide(testLayer(ROWS, { queryTimeout: Duration.seconds(30) }))),
      // 120 whole exports take 8-16 s on a loaded two-core machine: the file's 30 s default is too close for them.
      { timeout: 120_000, fastCheck: { numRuns: 120 } }
    )
  })

  it.effect.prop(
    "a message delivered again for a finished job causes no side effect",
    [FastCheck.integer({ min: 1, max: 4 }), FastCheck.boolean()],
    ([extraDeliveries, failIt]) =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        if (failIt) yield* (yield* FaultInjection).set({ query: { kind: "error", afterRows: 3, retryable: false } })
        yield* drainQueue
        yield* (yield* FaultInjection).clear
        const finished = yield* storedJob(job.jobId)
        const queue = yield* MemoryQueue
        for (let i = 0; i < extraDeliveries; i++) yield* queue.duplicate(encodeMessage(messageFor(job)))
        const verdicts = yield* drainQueue
        expect(verdicts.map((v) => v._tag === "Ack" && v.outcome._tag)).toStrictEqual(
          Array.from({ length: extraDeliveries }, () => "AlreadyFinished")
        )
        expect(yield* storedJob(job.jobId)).toStrictEqual(finished)
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect(emails).toHaveLength(1)
        expect(inApp).toHaveLength(1)
        expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(1)
      }).pipe(Effect.provide(testLayer(10))),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("after a crash between finishing and notifying, the next delivery sends what is owed, once", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      if (done._tag !== "Succeeded") return expect.fail(done._tag)
      // The state a worker leaves when it dies right after recording success.
      const crashed = new SucceededJob({
        ...done,
        revision: done.revision + 1,
        notifications: NotificationLedger.pending
      })
      yield* forceTo(done, crashed)
      yield* TestClock.adjust(Duration.hours(2))

      const queue = yield* MemoryQueue
      yield* queue.duplicate(encodeMessage(messageFor(job)))
      yield* queue.duplicate(encodeMessage(messageFor(job)))
      const verdicts = yield* drainQueue
      expect(verdicts.map((v) => v._tag === "Ack" && v.outcome._tag)).toStrictEqual(["Finished", "AlreadyFinished"])
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(emails).toHaveLength(2) // the first run's email and the one owed after the "crash"
      expect(inApp).toHaveLength(2)
      // The new link still expires when the first one promised, not 24 h after the redelivery.
      const url = /memory:\/\/files\/\S+/.exec(emails[1]!.text)![0]
      expect(url).toContain(`expires=${DateTime.toEpochMillis(done.result.linkExpiresAt)}`)
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("restarts a job whose worker died while running, once its lease has run out, and finishes it once", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const running = startedByDeadWorker(job, yield* DateTime.now)
      yield* forceTo(job, running)
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      expect(done._tag).toBe("Succeeded")
      expect(done.attempts).toBe(2)
      const { emails } = yield* sentTo(job.jobId)
      expect(emails).toHaveLength(1)
    }).pipe(Effect.provide(testLayer(10))))

  describe("leases", () => {
    it.effect("two deliveries racing never run the query twice while the lease is live", () =>
      Effect.gen(function*() {
        const { body, first, job, slow } = yield* slowExportRunning()
        const deliver = (receiveCount: number) =>
          handleDelivery(body, { receiveCount, maxReceives: 3 }).pipe(Effect.provideService(ReportSource, slow.source))
        // A copy of the message (at-least-once delivery) meets the job running: it is left for later.
        expect(yield* deliver(1)).toStrictEqual({ _tag: "Retry", reason: "job held by another delivery" })
        // Minutes on, long past an unrenewed lease: the first worker renews it, so the message coming back (its
        // visibility ran out) is left for later too.
        yield* TestClock.adjust(Duration.minutes(5))
        expect(yield* deliver(2)).toStrictEqual({ _tag: "Retry", reason: "job held by another delivery" })
        const running = yield* storedJob(job.jobId)
        expect(running._tag === "Running" && running.attempts).toBe(1)
        expect(slow.queries()).toBe(1)

        yield* Deferred.succeed(slow.release, undefined)
        const done = yield* Fiber.join(first)
        expect(done._tag === "Ack" && done.outcome._tag).toBe("Finished")
        const late = yield* deliver(2)
        expect(late._tag === "Ack" && late.outcome._tag).toBe("AlreadyFinished")
        expect(slow.queries()).toBe(1)
        expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(1)
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect([emails.length, inApp.length]).toStrictEqual([1, 1])
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("a worker that loses its lease stops at its next renewal and leaves no object", () =>
      Effect.gen(function*() {
        const { body, first, job } = yield* slowExportRunning()
        const files = yield* MemoryFiles
        expect(yield* files.uploadsStarted).toBe(1)

        // Another delivery changes the job under the worker: here the message's last receive, given up by a
        // runtime out of time, fails it.
        const gaveUp = yield* handleUnfinished(body, { receiveCount: 3, maxReceives: 3 }, "interrupted")
        expect(gaveUp._tag === "Ack" && gaveUp.outcome._tag).toBe("Finished")

        // The worker's next renewal finds the job changed: its export is interrupted, mid-upload.
        yield* TestClock.adjust(Duration.seconds(20))
        const lost = yield* Fiber.join(first)
        expect(lost._tag === "Ack" && lost.outcome._tag).toBe("Superseded")
        expect(Option.isNone(yield* files.read(objectKeyFor({ ...job, attempts: 1 })))).toBe(true)
        const done = yield* storedJob(job.jobId)
        expect(done._tag === "Failed" && done.failure.reason).toBe("Abandoned")
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect(inApp.map((n) => n.kind)).toStrictEqual(["export_failed"])
        expect(emails).toHaveLength(1)
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("a worker cut off from the store stops before its lease runs out; another then takes the job over", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        let cutOff = false
        const partitioned = JobStore.of({
          ...store,
          update: (next, expected) =>
            cutOff ? Effect.fail(new JobStoreUnavailable({ detail: "unreachable" })) : store.update(next, expected)
        })
        const { body, first, job } = yield* slowExportRunning(partitioned)
        cutOff = true

        // Renewals fail at 20 s and 40 s; at 40 s the lease (60 s) would run out before the next one: it stops.
        yield* TestClock.adjust(Duration.seconds(20))
        expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
        yield* TestClock.adjust(Duration.seconds(20))
        expect(yield* Fiber.join(first)).toStrictEqual({ _tag: "Retry", reason: "job store unavailable" })
        expect(Option.isNone(yield* (yield* MemoryFiles).read(objectKeyFor({ ...job, attempts: 1 })))).toBe(true)

        // Until the lease runs out the job is still held; then the message, back, takes it over.
        expect(yield* handleDelivery(body, { receiveCount: 2, maxReceives: 3 })).toStrictEqual({
          _tag: "Retry",
          reason: "job held by another delivery"
        })
        yield* TestClock.adjust(Duration.seconds(20))
        const taken = yield* handleDelivery(body, { receiveCount: 3, maxReceives: 3 })
        expect(taken._tag === "Ack" && taken.outcome._tag).toBe("Finished")
        const done = yield* storedJob(job.jobId)
        assert(done._tag === "Succeeded")
        expect([done.attempts, done.result.objectKey]).toStrictEqual([2, objectKeyFor({ ...job, attempts: 2 })])
        const { emails } = yield* sentTo(job.jobId)
        expect(emails).toHaveLength(1)
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("an interrupted worker lets its lease go, so that the message put back is taken over at once", () =>
      Effect.gen(function*() {
        const { body, first, job } = yield* slowExportRunning()
        yield* Fiber.interrupt(first)
        const released = yield* storedJob(job.jobId)
        assert(released._tag === "Running")
        expect(isLive(released.lease, yield* DateTime.now)).toBe(false)
        const again = yield* handleDelivery(body)
        expect(again._tag === "Ack" && again.outcome._tag).toBe("Finished")
        expect((yield* storedJob(job.jobId)).attempts).toBe(2)
      }).pipe(Effect.provide(testLayer(10))))
  })

  describe("notices", () => {
    it.effect("two deliveries racing over a finished job's notices send exactly one email and one notice", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        yield* drainQueue
        const done = yield* storedJob(job.jobId)
        assert(done._tag === "Succeeded")
        // As a worker leaves the job that died right after recording success.
        yield* forceTo(
          done,
          new SucceededJob({ ...done, revision: done.revision + 1, notifications: NotificationLedger.pending })
        )
        const before = yield* sentTo(job.jobId)

        // The email provider holds each send until told to go on, so that the deliveries meet while one sends.
        const outbox = yield* MemoryOutbox
        const sending = yield* Deferred.make<void>()
        const go = yield* Deferred.make<void>()
        const slowEmail = EmailSender.of({
          send: (message) =>
            Deferred.succeed(sending, undefined).pipe(
              Effect.zipRight(Deferred.await(go)),
              Effect.zipRight(outbox.send(message))
            )
        })
        const deliver = handleDelivery(encodeMessage(messageFor(job)), { receiveCount: 1, maxReceives: 3 }).pipe(
          Effect.provideService(EmailSender, slowEmail)
        )
        const racing = yield* Effect.fork(Effect.all([deliver, deliver], { concurrency: "unbounded" }))
        yield* Deferred.await(sending)
        yield* Effect.yieldNow({ priority: 1 })
        yield* Deferred.succeed(go, undefined)
        const verdicts = yield* Fiber.join(racing)
        expect(verdicts.every((v) => v._tag !== "Reject")).toBe(true)

        const after = yield* sentTo(job.jobId)
        expect(after.emails.length - before.emails.length).toBe(1)
        expect(after.inApp.length - before.inApp.length).toBe(1)
        expect((yield* storedJob(job.jobId)) as SucceededJob).toMatchObject({
          notifications: { inApp: "sent", email: "sent" }
        })
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("an email provider outage shorter than the retry window: the email goes once, when it is back", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        // Down for the first five tries: 0 s, 1 s, 3 s, 7 s and 15 s; the sixth, at 31 s, goes through.
        yield* (yield* FaultInjection).set({ email: true }, { email: 5 })
        const worker = yield* Effect.fork(drainQueue)
        yield* TestClock.adjust(Duration.seconds(30))
        const waiting = yield* storedJob(job.jobId)
        assert(waiting._tag === "Succeeded")
        expect(waiting.notifications.inApp).toBe("sent")
        expect(waiting.notifications.email).toBeInstanceOf(ChannelClaim)
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(0)
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(worker)
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
        expect((yield* storedJob(job.jobId)) as SucceededJob).toMatchObject({ notifications: { email: "sent" } })
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("an outage longer than the retry window: the email is given up, recorded failed and logged", () =>
      Effect.gen(function*() {
        const logs = makeLogCollector()
        const job = yield* requestExport(alice, ordersInput())
        yield* (yield* FaultInjection).set({ email: true })
        const worker = yield* Effect.fork(drainQueue.pipe(Effect.provide(logs.replacing)))
        const failedLines = () =>
          logs.lines.filter((line) => JSON.stringify(line.message).includes("notification failed"))
        // Still tried at 4 minutes (the window is 5).
        yield* TestClock.adjust(Duration.minutes(4))
        expect(failedLines()).toHaveLength(0)
        expect(((yield* storedJob(job.jobId)) as SucceededJob).notifications.email).toBeInstanceOf(ChannelClaim)
        yield* TestClock.adjust(Duration.minutes(2))
        yield* Fiber.join(worker)
        expect((yield* storedJob(job.jobId)) as SucceededJob).toMatchObject({
          notifications: { inApp: "sent", email: "failed" }
        })
        const [failed] = failedLines()
        expect(failedLines()).toHaveLength(1)
        expect([failed!.level, failed!.annotations["jobId"]]).toStrictEqual(["ERROR", job.jobId])
        const tries = logs.lines.filter((line) => JSON.stringify(line.message).includes("notification not delivered"))
        expect(tries.length).toBeGreaterThan(8)
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(0)
      }).pipe(Effect.provide(testLayer(10))))
  })

  describe("email refused", () => {
    /** An email provider that fails the first `failures` sends with `retryable`, then sends; it counts every try. */
    const refusingEmail = (failures: number, retryable: boolean) =>
      Effect.map(MemoryOutbox, (outbox) => {
        let tries = 0
        const sender = EmailSender.of({
          send: (message) =>
            ++tries <= failures
              ? Effect.fail(new NotificationFailed({ channel: "email", detail: "refused by the provider", retryable }))
              : outbox.send(message)
        })
        return { sender, tries: () => tries }
      })

    const deliverWith = (job: ExportJob, sender: EmailSender["Type"]) =>
      handleDelivery(encodeMessage(messageFor(job)), { receiveCount: 1, maxReceives: 3 }).pipe(
        Effect.provideService(EmailSender, sender),
        withTimePassing
      )

    it.effect("a refusal for good is tried once, recorded failed and logged at ERROR with its job", () =>
      Effect.gen(function*() {
        const logs = makeLogCollector()
        const job = yield* requestExport(alice, ordersInput())
        const email = yield* refusingEmail(Number.POSITIVE_INFINITY, false)
        yield* deliverWith(job, email.sender).pipe(Effect.provide(logs.replacing))
        expect(email.tries()).toBe(1)
        expect((yield* storedJob(job.jobId)) as SucceededJob).toMatchObject({
          notifications: { inApp: "sent", email: "failed" }
        })
        const refused = logs.lines.filter((line) => JSON.stringify(line.message).includes("refused for good"))
        expect(refused.map((line) => [line.level, line.annotations["jobId"]])).toStrictEqual([["ERROR", job.jobId]])
        expect(logs.lines.filter((line) => JSON.stringify(line.message).includes("not delivered"))).toHaveLength(0)
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("a passing failure is tried again, and the email goes once the provider takes it", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        const email = yield* refusingEmail(3, true)
        yield* deliverWith(job, email.sender)
        expect(email.tries()).toBe(4)
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
        expect((yield* storedJob(job.jobId)) as SucceededJob).toMatchObject({ notifications: { email: "sent" } })
      }).pipe(Effect.provide(testLayer(10))))
  })

  describe("the message's last receive", () => {
    /** A report source whose every query crashes the worker (a bug, say). */
    const crashingSource = Effect.map(
      ReportSource,
      (memory) => ReportSource.of({ ...memory, csv: () => Stream.die(new Error("boom")) })
    )

    it.effect("fails a job no delivery could finish, tells its user once, and acknowledges the message", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        const body = encodeMessage(messageFor(job))
        const crashing = yield* crashingSource
        const deliver = (receiveCount: number) =>
          handleDelivery(body, { receiveCount, maxReceives: 3 }).pipe(Effect.provideService(ReportSource, crashing))
        expect(yield* deliver(1)).toStrictEqual({ _tag: "Retry", reason: "defect" })
        expect(yield* deliver(2)).toStrictEqual({ _tag: "Retry", reason: "defect" })
        const last = yield* deliver(3)
        expect(last._tag === "Ack" && last.outcome._tag).toBe("Finished")

        const done = yield* storedJob(job.jobId)
        assert(done._tag === "Failed")
        expect(done.failure).toMatchObject({ reason: "Abandoned", retryable: true })
        expect(done.failure.userMessage).toContain("interrupted before it finished")
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect(inApp.map((n) => n.kind)).toStrictEqual(["export_failed"])
        expect(inApp[0]!.body).toContain(done.failure.userMessage)
        expect(emails).toHaveLength(1)

        // A copy delivered later finds it finished: nothing more is sent.
        const copy = yield* deliver(1)
        expect(copy._tag === "Ack" && copy.outcome._tag).toBe("AlreadyFinished")
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("a runtime with no time to start the last receive: the queued job is failed in words that fit", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        const body = encodeMessage(messageFor(job))
        expect(yield* handleUnfinished(body, { receiveCount: 2, maxReceives: 3 }, "not started")).toStrictEqual({
          _tag: "Retry",
          reason: "not started"
        })
        expect((yield* storedJob(job.jobId))._tag).toBe("Queued")
        const last = yield* handleUnfinished(body, { receiveCount: 3, maxReceives: 3 }, "not started")
        expect(last._tag).toBe("Ack")
        const done = yield* storedJob(job.jobId)
        assert(done._tag === "Failed")
        expect(done.failure.userMessage).toContain("could not start your export")
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect([emails.length, inApp.length]).toStrictEqual([1, 1])
        expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
      }).pipe(Effect.provide(testLayer(10))))

    it.effect("waits for a live worker rather than failing its healthy export", () =>
      Effect.gen(function*() {
        const { body, first, job, slow } = yield* slowExportRunning()
        // A copy of the message on its last receive: it waits while the worker renews its lease.
        const copy = yield* Effect.fork(handleDelivery(body, { receiveCount: 3, maxReceives: 3 }))
        yield* TestClock.adjust(Duration.minutes(3))
        expect(Option.isNone(yield* Fiber.poll(copy))).toBe(true)
        expect((yield* storedJob(job.jobId))._tag).toBe("Running")

        yield* Deferred.succeed(slow.release, undefined)
        expect((yield* Fiber.join(first))._tag).toBe("Ack")
        yield* TestClock.adjust(Duration.minutes(1))
        const waited = yield* Fiber.join(copy)
        expect(waited._tag === "Ack" && waited.outcome._tag).toBe("AlreadyFinished")
        expect((yield* storedJob(job.jobId))._tag).toBe("Succeeded")
        expect(slow.queries()).toBe(1)
        expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
      }).pipe(Effect.provide(testLayer(10))))
  })

  it.effect("fails a job, and tells the user, once it has been started as often as allowed", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      let current: ExportJob = job
      for (let i = 0; i < 3; i++) {
        const next: ExportJob = startedByDeadWorker(current, yield* DateTime.now)
        yield* forceTo(current, next)
        current = next
      }
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      expect(done._tag === "Failed" && done.failure.reason).toBe("AttemptsExhausted")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(emails).toHaveLength(1)
      expect(inApp.map((n) => n.kind)).toStrictEqual(["export_failed"])
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("times a silent query out when the query timeout elapses, not before", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* FaultInjection).set({ query: { kind: "hang", afterRows: 5 } })
      const worker = yield* Effect.fork(drainQueue)
      yield* TestClock.adjust(Duration.minutes(9))
      expect((yield* storedJob(job.jobId))._tag).toBe("Running")
      yield* TestClock.adjust(Duration.minutes(1))
      yield* Fiber.join(worker)
      const done = yield* storedJob(job.jobId)
      expect(done._tag === "Failed" && done.failure.reason).toBe("QueryTimeout")
      // The upload was under way when the deadline interrupted it, and left nothing.
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBeGreaterThan(0)
      expect(Option.isNone(yield* (yield* MemoryFiles).read(objectKeyFor({ ...job, attempts: 1 })))).toBe(true)
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("does not time out an upload still finishing after the query's last row: the timeout is the query's", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const worker = yield* Effect.fork(drainQueue)
      yield* TestClock.adjust(Duration.minutes(30))
      yield* Fiber.join(worker)
      const done = yield* storedJob(job.jobId)
      expect(done._tag === "Succeeded" && done.result.rowCount).toBe(20)
    }).pipe(
      // Each upload takes 15 minutes more once it has read the whole body, past the 10-minute query timeout.
      Effect.provide(Layer.effect(
        FileStore,
        Effect.map(MemoryFiles, (store) =>
          FileStore.of({
            upload: <A, E>(
              key: ObjectKey,
              body: Stream.Stream<A, E>,
              metadata: FileMetadata,
              bytesOf?: (piece: A) => Uint8Array
            ) =>
              Effect.zipLeft(
                store.upload(key, body, metadata, bytesReader(bytesOf)),
                Effect.sleep(Duration.minutes(15))
              ),
            signDownload: store.signDownload,
            remove: store.remove
          }))
      )),
      Effect.provide(testLayer(20))
    ))

  it.effect("retries a transient upload failure after 2 s and then succeeds", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* FaultInjection).set({ upload: { afterBytes: 100, retryable: true } }, { upload: 1 })
      const worker = yield* Effect.fork(drainQueue)
      yield* TestClock.adjust(Duration.millis(1999))
      const files = yield* MemoryFiles
      expect(yield* files.uploadsStarted).toBe(1)
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.join(worker)
      expect(yield* files.uploadsStarted).toBe(2)
      expect((yield* storedJob(job.jobId))._tag).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("gives up on a transient failure that lasts past the retry schedule (three attempts in all)", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* FaultInjection).set({ upload: { afterBytes: 100, retryable: true } })
      yield* withTimePassing(drainQueue)
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(3)
      const done = yield* storedJob(job.jobId)
      expect(done._tag === "Failed" && done.failure).toMatchObject({ reason: "UploadFailed", retryable: true })
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("discards a message whose owner does not match the job, touching nothing", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const queue = yield* MemoryQueue
      yield* queue.poll // the genuine message, set aside
      const forged = { ...messageFor(job), merchantId: bob.owner.merchantId }
      const verdict = yield* handleDelivery(encodeMessage(forged))
      expect(verdict).toMatchObject({ _tag: "Ack", outcome: { _tag: "Discarded", reason: "owner mismatch" } })
      expect((yield* storedJob(job.jobId))._tag).toBe("Queued")
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("rejects an undecodable message to the dead-letter path and keeps going", () =>
    Effect.gen(function*() {
      const queue = yield* MemoryQueue
      const job = yield* requestExport(alice, ordersInput())
      yield* queue.duplicate("{not json")
      yield* queue.duplicate(JSON.stringify({ jobId: "nope" }))
      const verdicts = yield* drainQueue
      expect(verdicts.map((v) => v._tag)).toStrictEqual(["Ack", "Reject", "Reject"])
      expect(yield* queue.deadLetters).toStrictEqual(["{not json", JSON.stringify({ jobId: "nope" })])
      expect((yield* storedJob(job.jobId))._tag).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("asks for the message again when the job store is down, even on its last receive: nothing can be recorded", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const down = Layer.succeed(JobStore, {
        ...(yield* JobStore),
        get: () => Effect.fail(new JobStoreUnavailable({ detail: "store down" }))
      })
      for (const delivery of [{}, { receiveCount: 3, maxReceives: 3 }]) {
        const verdict = yield* handleDelivery(encodeMessage(messageFor(job)), delivery).pipe(Effect.provide(down))
        expect(verdict).toStrictEqual({ _tag: "Retry", reason: "job store unavailable" })
      }
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("puts the jobId on every log line of a job and never the user's address", () =>
    Effect.gen(function*() {
      const logs = makeLogCollector()
      const job = yield* requestExport(alice, ordersInput()).pipe(Effect.provide(logs.replacing))
      yield* (yield* FaultInjection).set({ email: true })
      // Past the email's retry window.
      yield* withTimePassing(drainQueue.pipe(Effect.provide(logs.replacing)))
      const logged = logs.lines.map((line) => ({
        message: JSON.stringify(line.message),
        jobId: line.annotations["jobId"]
      }))
      expect(logged.length).toBeGreaterThan(5)
      for (const line of logged) {
        expect(line.jobId).toBe(job.jobId)
        expect(line.message).not.toContain("alice@example.com")
      }
      expect(logged.some((line) => line.message.includes("notification failed"))).toBe(true)
    }).pipe(Effect.provide(testLayer(10))))
})
