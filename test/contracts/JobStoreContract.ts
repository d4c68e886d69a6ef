// The behaviour every JobStore must have: conditional writes on the revision, owner-scoped listings newest first,
// pages that visit every job once, the email kept as it was given, and idempotency keys held by their job for the
// window, until the queue refuses it, and a finished job gone once its retention is over. Run against every store.
import { assert, describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Equal, Option, Redacted, Schema, TestClock } from "effect"
import type { Layer } from "effect"
import { JobStore } from "../../src/application/ports/JobStore.js"
import type { JobPage } from "../../src/application/ports/JobStore.js"
import { EXPIRY_SWEEP_INTERVAL, jobRetainedUntil } from "../../src/application/Retention.js"
import {
  abandonedFailure,
  attemptsExhaustedFailure,
  Cancelled,
  ChannelClaim,
  Completed,
  ExportJob,
  ExportResult,
  Failed,
  IDEMPOTENCY_WINDOW_MILLIS,
  JobFailure,
  Lease,
  LeaseRenewed,
  newJob,
  NotificationClaimed,
  NotificationSettled,
  objectKeyFor,
  QueuedJob,
  queueUnavailableFailure,
  Started,
  transition
} from "../../src/domain/ExportJob.js"
import type { JobEvent } from "../../src/domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../src/domain/Identifiers.js"
import { EmailAddress, firstExportJobIdAt } from "../../src/domain/Identifiers.js"
import { ReportRequest } from "../../src/domain/Reports.js"
import type { ActiveExportLimits } from "../../src/domain/TenantLimits.js"
import { expectSame, jobIdAt, uniqueOwners } from "./ContractSupport.js"
import type { RetentionSupport } from "./ContractSupport.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")

const report = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31", timezone: "Europe/Paris", status: "paid" }
})

const queuedJob = (owner: Owner, millis = BASE_MILLIS, jobId: ExportJobId = jobIdAt(millis)): QueuedJob =>
  newJob({
    jobId,
    owner,
    email: Redacted.make(EmailAddress.make(`${owner.userId}@example.com`)),
    report,
    format: "csv",
    requestedAt: DateTime.unsafeMake(millis)
  })

const keyedJob = (owner: Owner, millis: number, idempotencyKey: string): QueuedJob =>
  new QueuedJob({ ...queuedJob(owner, millis), idempotencyKey })

const after = (job: ExportJob, event: JobEvent): ExportJob => Either.getOrThrow(transition(job, event))

/** Completed at `millis`, with a link that expires `linkExpiresAfter` milliseconds after BASE_MILLIS (7 days). */
const completedAt = (job: ExportJob, millis: number, linkExpiresAfter = 7 * 86_400_000) =>
  Completed.make({
    at: at(millis),
    result: new ExportResult({
      objectKey: objectKeyFor({ ...job, attempts: 1 }),
      rowCount: 1234,
      byteSize: 56_789,
      sha256: "0123456789abcdef".repeat(4),
      linkExpiresAt: at(linkExpiresAfter)
    })
  })

const at = (millis: number) => DateTime.unsafeMake(BASE_MILLIS + millis)

const WORKER = "worker-1"
/** Started at `millis` by WORKER, holding a minute's lease. */
const startedAt = (millis: number) =>
  Started.make({ at: at(millis), lease: new Lease({ holder: WORKER, expiresAt: at(millis + 60_000) }) })

const idsOf = (page: JobPage): ReadonlyArray<ExportJobId> => page.jobs.map((job) => job.jobId)

/** Every page of the owner's listing, first to last (bounded, so that a store that loops cannot hang the test). */
const allPages = (owner: Owner, limit: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const pages: Array<JobPage> = []
    let next: ExportJobId | undefined = undefined
    do {
      const page: JobPage = yield* store.listByOwner(owner, { limit, after: next })
      pages.push(page)
      next = page.continueAfter
    } while (next !== undefined && pages.length < 100)
    return pages
  })

export const jobStoreContract = <E>(
  name: string,
  makeLayer: () => Layer.Layer<JobStore, E>,
  retention: RetentionSupport = { deletesExpired: true }
) =>
  describe(`JobStore contract: ${name}`, () => {
    const withStore = <A, E2>(test: Effect.Effect<A, E2, JobStore>) => Effect.provide(test, makeLayer())

    it.effect("create then get returns an equal job", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const job = queuedJob(uniqueOwners().alice)
        yield* store.create(job)
        const stored = yield* store.get(job.jobId)
        expect(Option.isSome(stored)).toBe(true)
        expectSame(ExportJob, Option.getOrThrow(stored), job)
      })))

    it.effect("create twice with the same id fails with JobConflict and keeps the first job", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, bobAtAcme } = uniqueOwners()
        const first = queuedJob(alice)
        yield* store.create(first)
        const error = yield* Effect.flip(store.create(queuedJob(bobAtAcme, BASE_MILLIS + 5, first.jobId)))
        expect(error._tag).toBe("JobConflict")
        expect(error._tag === "JobConflict" && error.jobId).toBe(first.jobId)
        expectSame(ExportJob, Option.getOrThrow(yield* store.get(first.jobId)), first)
      })))

    it.effect("update with the expected revision lands, through every state a job can reach", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const queued = queuedJob(uniqueOwners().alice)
        const running = after(queued, startedAt(1_000))
        const renewed = after(
          running,
          LeaseRenewed.make({ lease: new Lease({ holder: WORKER, expiresAt: at(80_000) }) })
        )
        const succeeded = after(
          renewed,
          completedAt(queued, 9_000)
        )
        // The lease, and a channel's claim, are stored and read back like the rest of the job.
        const claimed = after(
          succeeded,
          NotificationClaimed.make({
            channel: "email",
            at: at(9_000),
            claim: new ChannelClaim({ holder: WORKER, expiresAt: at(369_000) })
          })
        )
        const emailed = after(claimed, NotificationSettled.make({ channel: "email", holder: WORKER, outcome: "sent" }))
        yield* store.create(queued)
        const steps = [[queued, running], [running, renewed], [renewed, succeeded], [succeeded, claimed], [
          claimed,
          emailed
        ]] as const
        for (const [previous, next] of steps) {
          yield* store.update(next, previous.revision)
          expectSame(ExportJob, Option.getOrThrow(yield* store.get(queued.jobId)), next)
        }
        expect(Option.getOrThrow(yield* store.get(queued.jobId)).revision).toBe(5)
      })))

    it.effect("update with a stale revision fails with JobConflict and leaves the stored job unchanged", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const queued = queuedJob(uniqueOwners().alice)
        const running = after(queued, startedAt(1_000))
        yield* store.create(queued)
        yield* store.update(running, queued.revision)
        // A second worker computed its change from the queued job it read before the first one wrote.
        const lateCancel = after(queued, Cancelled.make({ at: at(2_000) }))
        const error = yield* Effect.flip(store.update(lateCancel, queued.revision))
        expect(error._tag).toBe("JobConflict")
        expect(error._tag === "JobConflict" && error.jobId).toBe(queued.jobId)
        expectSame(ExportJob, Option.getOrThrow(yield* store.get(queued.jobId)), running)
      })))

    it.effect("update with a revision ahead of the stored one fails with JobConflict", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const queued = queuedJob(uniqueOwners().alice)
        yield* store.create(queued)
        const running = after(queued, startedAt(1_000))
        const error = yield* Effect.flip(store.update(running, queued.revision + 1))
        expect(error._tag).toBe("JobConflict")
        expectSame(ExportJob, Option.getOrThrow(yield* store.get(queued.jobId)), queued)
      })))

    it.effect("update of a job never created fails with JobConflict and creates nothing", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const queued = queuedJob(uniqueOwners().alice)
        const running = after(queued, startedAt(1_000))
        const error = yield* Effect.flip(store.update(running, queued.revision))
        expect(error._tag).toBe("JobConflict")
        expect(Option.isNone(yield* store.get(queued.jobId))).toBe(true)
      })))

    it.effect("get of an unknown id is None", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.create(queuedJob(uniqueOwners().alice))
        expect(Option.isNone(yield* store.get(jobIdAt(BASE_MILLIS)))).toBe(true)
      })))

    describe("the same export in progress (a create with inProgressDeadline)", () => {
      const DEADLINE = Duration.hours(6)
      const answering = { inProgressDeadline: DEADLINE }
      const otherReport = Schema.decodeUnknownSync(ReportRequest)({
        _tag: "orders",
        params: { dateFrom: "2024-01-01", dateTo: "2024-03-31", timezone: "Europe/Paris" }
      })

      /** Creates `job` expecting the answer `inProgress`, and nothing of `job` stored. */
      const expectAnswered = (job: QueuedJob, inProgress: ExportJob) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const answer = yield* store.create(job, answering)
          expectSame(ExportJob, Option.getOrThrow(answer), inProgress)
          expect(Option.isNone(yield* store.get(job.jobId))).toBe(true)
        })

      /** Creates `job` with the check, expecting it recorded. */
      const expectRecorded = (job: QueuedJob) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          expect(yield* store.create(job, answering)).toStrictEqual(Option.none())
          expectSame(ExportJob, Option.getOrThrow(yield* store.get(job.jobId)), job)
        })

      it.effect("answers with the owner's same export while it is in progress, recording nothing; else records the job", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
          const first = queuedJob(alice, BASE_MILLIS)
          yield* expectRecorded(first)
          yield* expectAnswered(queuedJob(alice, BASE_MILLIS + 1_000), first)
          const running = after(first, startedAt(2_000))
          yield* store.update(running, first.revision)
          yield* expectAnswered(queuedJob(alice, BASE_MILLIS + 3_000), running)
          // Nothing of it in progress: another report, a colleague, a namesake elsewhere.
          yield* expectRecorded(newJob({
            jobId: jobIdAt(BASE_MILLIS + 4_000),
            owner: alice,
            email: first.email,
            report: otherReport,
            format: "csv",
            requestedAt: DateTime.unsafeMake(BASE_MILLIS + 4_000)
          }))
          yield* expectRecorded(queuedJob(bobAtAcme, BASE_MILLIS + 5_000))
          yield* expectRecorded(queuedJob(aliceAtGlobex, BASE_MILLIS + 6_000))
          // Once it is finished, the next one is recorded, and answers the one after it.
          yield* store.update(after(running, Cancelled.make({ at: at(7_000) })), running.revision)
          const again = queuedJob(alice, BASE_MILLIS + 8_000)
          yield* expectRecorded(again)
          yield* expectAnswered(queuedJob(alice, BASE_MILLIS + 9_000), again)
        })))

      it.effect("an export in progress past the deadline with no live lease answers nothing: the newer job answers next", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, bobAtAcme } = uniqueOwners()
          const stale = queuedJob(alice, BASE_MILLIS)
          yield* expectRecorded(stale)
          const late = queuedJob(alice, BASE_MILLIS + Duration.toMillis(DEADLINE) + 1)
          yield* expectRecorded(late)
          // The stale one is still Queued: the newest same export in progress answers.
          yield* expectAnswered(queuedJob(alice, BASE_MILLIS + Duration.toMillis(DEADLINE) + 2), late)
          // A job running under a live lease is moving, however old its request.
          const slow = queuedJob(bobAtAcme, BASE_MILLIS)
          yield* expectRecorded(slow)
          const leased = after(slow, startedAt(Duration.toMillis(DEADLINE)))
          yield* store.update(leased, slow.revision)
          yield* expectAnswered(queuedJob(bobAtAcme, BASE_MILLIS + Duration.toMillis(DEADLINE) + 1), leased)
        })))

      it.effect("answers before the caps are judged: a repeat at the cap is answered, not refused", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const first = queuedJob(alice, BASE_MILLIS)
          const caps = { exportsPerUser: 1, exportsPerMerchant: 1 }
          yield* store.create(first, { ...answering, limits: caps })
          const answer = yield* store.create(queuedJob(alice, BASE_MILLIS + 1), { ...answering, limits: caps })
          expectSame(ExportJob, Option.getOrThrow(answer), first)
        })))

      it.effect("identical creates racing: one records its job, every other answers with it", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const racers = Array.from({ length: 6 }, (_, i) => queuedJob(alice, BASE_MILLIS + i))
          const answers = yield* Effect.all(racers.map((job) => store.create(job, answering)), {
            concurrency: "unbounded"
          })
          const recorded = racers.filter((_, i) => Option.isNone(answers[i]!))
          expect(recorded).toHaveLength(1)
          for (const answer of answers) {
            if (Option.isSome(answer)) expect(answer.value.jobId).toBe(recorded[0]!.jobId)
          }
          expect(idsOf(yield* store.listByOwner(alice, { limit: 10, after: undefined }))).toStrictEqual([
            recorded[0]!.jobId
          ])
        })))
    })

    it.effect("listByOwner returns only that owner's jobs: neither a colleague's nor a namesake's elsewhere", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
        const jobs = [
          queuedJob(alice, BASE_MILLIS + 1),
          queuedJob(bobAtAcme, BASE_MILLIS + 2),
          queuedJob(alice, BASE_MILLIS + 3),
          queuedJob(aliceAtGlobex, BASE_MILLIS + 4),
          queuedJob(bobAtAcme, BASE_MILLIS + 5)
        ]
        yield* Effect.forEach(jobs, (job) => store.create(job), { discard: true })
        for (const owner of [alice, bobAtAcme, aliceAtGlobex]) {
          const page = yield* store.listByOwner(owner, { limit: 100, after: undefined })
          const expected = jobs.filter((job) => owner.isOwnerOf(job)).map((job) => job.jobId)
          expect([...idsOf(page)].sort()).toEqual([...expected].sort())
          expect(page.continueAfter).toBeUndefined()
        }
      })))

    it.effect("listByOwner of an owner without jobs is an empty last page", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, bobAtAcme } = uniqueOwners()
        yield* store.create(queuedJob(alice))
        const page = yield* store.listByOwner(bobAtAcme, { limit: 10, after: undefined })
        expect(page.jobs).toEqual([])
        expect(page.continueAfter).toBeUndefined()
      })))

    it.effect("listByOwner lists newest first, whatever the order of creation, with the stored jobs", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice } = uniqueOwners()
        const jobs = [3, 1, 4, 0, 2].map((minutes) => queuedJob(alice, BASE_MILLIS + minutes * 60_000))
        yield* Effect.forEach(jobs, (job) => store.create(job), { discard: true })
        const page = yield* store.listByOwner(alice, { limit: 100, after: undefined })
        const newestFirst = [...jobs].sort((a, b) => b.requestedAt.epochMillis - a.requestedAt.epochMillis)
        expect(idsOf(page)).toEqual(newestFirst.map((job) => job.jobId))
        page.jobs.forEach((job, i) => expectSame(ExportJob, job, newestFirst[i]!))
      })))

    it.effect("listByOwner pages with limit and after; walking every page yields every job once", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, bobAtAcme } = uniqueOwners()
        const jobs = Array.from({ length: 7 }, (_, i) => queuedJob(alice, BASE_MILLIS + ((i * 5) % 7) * 1_000))
        yield* Effect.forEach(jobs, (job) => store.create(job), { discard: true })
        yield* store.create(queuedJob(bobAtAcme, BASE_MILLIS + 3_500))
        const pages = yield* allPages(alice, 3)
        expect(pages.map((page) => page.jobs.length)).toEqual([3, 3, 1])
        expect(pages.map((page) => page.continueAfter)).toEqual([
          pages[0]!.jobs[2]!.jobId,
          pages[1]!.jobs[2]!.jobId,
          undefined
        ])
        const newestFirst = [...jobs].sort((a, b) => b.requestedAt.epochMillis - a.requestedAt.epochMillis)
        expect(pages.flatMap(idsOf)).toEqual(newestFirst.map((job) => job.jobId))
      })))

    it.effect("listByOwner says no more pages when the last page is exactly full", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice } = uniqueOwners()
        const jobs = Array.from({ length: 4 }, (_, i) => queuedJob(alice, BASE_MILLIS + i * 1_000))
        yield* Effect.forEach(jobs, (job) => store.create(job), { discard: true })
        const pages = yield* allPages(alice, 2)
        expect(pages.map((page) => page.jobs.length)).toEqual([2, 2])
        expect(pages[1]!.continueAfter).toBeUndefined()
        const whole = yield* store.listByOwner(alice, { limit: 4, after: undefined })
        expect(whole.jobs.length).toBe(4)
        expect(whole.continueAfter).toBeUndefined()
      })))

    it.effect("listByOwner after a job returns only older jobs", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice } = uniqueOwners()
        const jobs = Array.from({ length: 5 }, (_, i) => queuedJob(alice, BASE_MILLIS + i * 1_000))
        yield* Effect.forEach(jobs, (job) => store.create(job), { discard: true })
        const page = yield* store.listByOwner(alice, { limit: 10, after: jobs[2]!.jobId })
        expect(idsOf(page)).toEqual([jobs[1]!.jobId, jobs[0]!.jobId])
        expect(page.continueAfter).toBeUndefined()
      })))

    it.effect("the email address survives the round trip, and stays redacted in the decoded job", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const job = new QueuedJob({
          ...queuedJob(uniqueOwners().alice),
          email: Redacted.make(EmailAddress.make("Jane.O'Doe+exports@example.co.uk"))
        })
        yield* store.create(job)
        const stored = Option.getOrThrow(yield* store.get(job.jobId))
        expect(Redacted.value(stored.email)).toBe("Jane.O'Doe+exports@example.co.uk")
        expect(Equal.equals(stored.email, job.email)).toBe(true)
        expect(JSON.stringify({ email: stored.email })).toBe(`{"email":"<redacted>"}`)
      })))

    it.effect("listActive lists the owner's Queued and Running jobs, newest first, and drops finished ones", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, bobAtAcme } = uniqueOwners()
        const [a, b, c] = [0, 1, 2].map((i) => queuedJob(alice, BASE_MILLIS + i * 1_000))
        yield* Effect.forEach([a!, b!, c!, queuedJob(bobAtAcme)], (job) => store.create(job), { discard: true })
        yield* store.update(after(b!, startedAt(5_000)), b!.revision)
        yield* store.update(after(c!, Cancelled.make({ at: at(5_000) })), c!.revision)
        const active = yield* store.listActive(alice)
        expect(active.map((job) => [job.jobId, job._tag])).toEqual([[b!.jobId, "Running"], [a!.jobId, "Queued"]])
      })))

    it.effect("listActiveCreatedBefore lists every owner's jobs in progress created before a time, oldest first, by pages", () =>
      withStore(Effect.gen(function*() {
        const store = yield* JobStore
        const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
        // A window of time no other test's jobs are in, since a real store is shared by every test.
        const base = Date.parse("2001-01-01T00:00:00Z") + Math.floor(Math.random() * 1e11)
        const windowStart = firstExportJobIdAt(base - 1)
        const [first, second, third, late] = [0, 1_000, 2_000, 3_000].map((offset, i) =>
          queuedJob([alice, bobAtAcme, aliceAtGlobex, alice][i]!, base + offset)
        )
        const finished = queuedJob(alice, base + 500)
        yield* Effect.forEach([late!, third!, finished, second!, first!], (job) => store.create(job), { discard: true })
        yield* store.update(after(second!, startedAt(5_000)), second!.revision)
        yield* store.update(after(finished, Cancelled.make({ at: at(5_000) })), finished.revision)

        const before = DateTime.unsafeMake(base + 2_500)
        const all = yield* store.listActiveCreatedBefore(before, 10, windowStart)
        expect(all.map((job) => [job.jobId, job._tag])).toEqual([
          [first!.jobId, "Queued"],
          [second!.jobId, "Running"],
          [third!.jobId, "Queued"]
        ])
        const firstPage = yield* store.listActiveCreatedBefore(before, 2, windowStart)
        expect(firstPage.map((job) => job.jobId)).toEqual([first!.jobId, second!.jobId])
        const nextPage = yield* store.listActiveCreatedBefore(before, 2, second!.jobId)
        expect(nextPage.map((job) => job.jobId)).toEqual([third!.jobId])
        expect(yield* store.listActiveCreatedBefore(before, 2, third!.jobId)).toEqual([])
        expect(yield* store.listActiveCreatedBefore(before, 0, windowStart)).toEqual([])
        // Without a start, the oldest jobs in progress of all come first, and this window's are among them.
        const fromStart = yield* store.listActiveCreatedBefore(DateTime.unsafeMake(base + 2_500), 1_000)
        const ids = fromStart.map((job) => job.jobId)
        expect(ids).toEqual([...ids].sort())
        expect(ids.filter((id) => [first, second, third, late].some((job) => job!.jobId === id))).toEqual(
          [first!.jobId, second!.jobId, third!.jobId]
        )
      })))

    // Only where records really go: a store whose deletion this cannot see checks its TTL attribute instead.
    if (retention.deletesExpired) {
      it.effect(
        "a finished job is gone within a sweep interval of its retention's end; a job in progress never goes",
        () => {
          const DAY = Duration.toMillis(Duration.days(1))
          const HOUR = Duration.toMillis(Duration.hours(1))
          const SWEEP = Duration.toMillis(EXPIRY_SWEEP_INTERVAL)
          const { alice } = uniqueOwners()
          const queued = queuedJob(alice)
          // A link that expires after 23 days: kept until 30 days after the request, 3 hours before the failed job.
          const succeeding = queuedJob(alice, BASE_MILLIS + 1)
          const started = after(succeeding, startedAt(1_000))
          const succeeded = after(started, completedAt(succeeding, 9_000, 23 * DAY))
          const failing = queuedJob(alice, BASE_MILLIS + 2)
          const failure = new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: false })
          const failed = after(failing, Failed.make({ at: at(3 * HOUR), failure }))
          const succeededUntil = jobRetainedUntil(succeeded)!
          const failedUntil = jobRetainedUntil(failed)!
          expect([succeededUntil, failedUntil]).toStrictEqual([
            BASE_MILLIS + 30 * DAY,
            BASE_MILLIS + 30 * DAY + 3 * HOUR
          ])
          const kept = (store: JobStore["Type"]) =>
            Effect.forEach([queued, succeeded, failed], (job) => Effect.map(store.get(job.jobId), Option.isSome))
          // A store grows by its creates: the memory store sweeps on one, the others on their own schedule.
          const grow = (store: JobStore["Type"]) =>
            Effect.flatMap(DateTime.now, (now) => store.create(queuedJob(uniqueOwners().alice, now.epochMillis)))
          // The clock is set before the store is built, an hour before the first retention ends.
          return TestClock.setTime(succeededUntil - SWEEP).pipe(Effect.zipRight(withStore(Effect.gen(function*() {
            const store = yield* JobStore
            yield* Effect.forEach([queued, succeeding, failing], (job) => store.create(job), { discard: true })
            yield* store.update(started, succeeding.revision)
            yield* store.update(succeeded, started.revision)
            yield* store.update(failed, failing.revision)

            yield* TestClock.setTime(succeededUntil - 1)
            yield* grow(store)
            expect(yield* kept(store)).toStrictEqual([true, true, true])

            yield* TestClock.setTime(succeededUntil + SWEEP)
            yield* grow(store)
            expect(yield* kept(store)).toStrictEqual([true, false, true])
            expect(idsOf(yield* store.listByOwner(alice, { limit: 10, after: undefined })))
              .toStrictEqual([failed.jobId, queued.jobId])

            yield* TestClock.setTime(failedUntil + SWEEP)
            yield* grow(store)
            expect(yield* kept(store)).toStrictEqual([true, false, false])
            expect(Option.map(yield* store.get(queued.jobId), (job) => job._tag)).toStrictEqual(Option.some("Queued"))
          }))))
        }
      )
    }

    describe("limits on exports in progress (ADR 45)", () => {
      const limits = (exportsPerUser: number, exportsPerMerchant: number): ActiveExportLimits => ({
        exportsPerUser,
        exportsPerMerchant
      })

      /** Creates `job` under `caps`, expecting ExportLimitReached for `scope`, and nothing of it stored. */
      const expectLimited = (job: QueuedJob, caps: ActiveExportLimits, scope: "user" | "merchant") =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const error = yield* Effect.flip(store.create(job, { limits: caps }))
          expect(error).toMatchObject({
            _tag: "ExportLimitReached",
            scope,
            limit: scope === "user" ? caps.exportsPerUser : caps.exportsPerMerchant
          })
          expect(Option.isNone(yield* store.get(job.jobId))).toBe(true)
        })

      it.effect("a user at their cap is refused, naming the user's limit; a colleague and another merchant are not", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
          const caps = limits(2, 10)
          yield* store.create(queuedJob(alice, BASE_MILLIS), { limits: caps })
          const running = queuedJob(alice, BASE_MILLIS + 1)
          yield* store.create(running, { limits: caps })
          // Running holds its slot as Queued does.
          yield* store.update(after(running, startedAt(5)), running.revision)
          yield* expectLimited(queuedJob(alice, BASE_MILLIS + 2), caps, "user")
          yield* store.create(queuedJob(bobAtAcme, BASE_MILLIS + 3), { limits: caps })
          yield* store.create(queuedJob(aliceAtGlobex, BASE_MILLIS + 4), { limits: caps })
          expect(yield* store.listActive(alice)).toHaveLength(2)
        })))

      it.effect("a merchant at its cap is refused for every one of its users, naming the merchant's limit", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
          const caps = limits(5, 3)
          yield* store.create(queuedJob(alice, BASE_MILLIS), { limits: caps })
          yield* store.create(queuedJob(alice, BASE_MILLIS + 1), { limits: caps })
          yield* store.create(queuedJob(bobAtAcme, BASE_MILLIS + 2), { limits: caps })
          yield* expectLimited(queuedJob(bobAtAcme, BASE_MILLIS + 3), caps, "merchant")
          yield* expectLimited(queuedJob(alice, BASE_MILLIS + 4), caps, "merchant")
          yield* store.create(queuedJob(aliceAtGlobex, BASE_MILLIS + 5), { limits: caps })
        })))

      it.effect("every way a job finishes gives its slot back: completed, failed, cancelled, refused, swept, dead-lettered", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const queryFailed = new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: true })
          const endings: ReadonlyArray<readonly [string, (queued: QueuedJob) => ReadonlyArray<ExportJob>]> = [
            ["completed", (queued) => {
              const running = after(queued, startedAt(10))
              return [running, after(running, completedAt(queued, 20))]
            }],
            ["failed running", (queued) => {
              const running = after(queued, startedAt(10))
              return [running, after(running, Failed.make({ at: at(20), failure: queryFailed }))]
            }],
            ["cancelled queued", (queued) => [after(queued, Cancelled.make({ at: at(10) }))]],
            ["cancelled running", (queued) => {
              const running = after(queued, startedAt(10))
              return [running, after(running, Cancelled.make({ at: at(20) }))]
            }],
            [
              "refused by the queue",
              (queued) => [after(queued, Failed.make({ at: at(10), failure: queueUnavailableFailure }))]
            ],
            [
              "abandoned (the sweeper)",
              (queued) => [after(queued, Failed.make({ at: at(10), failure: abandonedFailure(queued) }))]
            ],
            ["attempts exhausted (the last receive)", (queued) => {
              const running = after(queued, startedAt(10))
              return [running, after(running, Failed.make({ at: at(20), failure: attemptsExhaustedFailure }))]
            }]
          ]
          const keptTheirSlot: Array<string> = []
          for (const [ending, steps] of endings) {
            const { alice } = uniqueOwners()
            const caps = limits(1, 1)
            const first = queuedJob(alice, BASE_MILLIS)
            yield* store.create(first, { limits: caps })
            yield* expectLimited(queuedJob(alice, BASE_MILLIS + 1), caps, "user")
            let current: ExportJob = first
            for (const next of steps(first)) {
              yield* store.update(next, current.revision)
              current = next
            }
            // A finished job's later writes (its notices' claims, where it has any) take nothing again.
            const claimed = transition(
              current,
              NotificationClaimed.make({
                at: at(30),
                channel: "email",
                claim: new ChannelClaim({ holder: WORKER, expiresAt: at(90_000) })
              })
            )
            if (Either.isRight(claimed)) yield* store.update(claimed.right, current.revision)
            const next = queuedJob(alice, BASE_MILLIS + 2)
            const refused = yield* Effect.either(store.create(next, { limits: caps }))
            if (Either.isLeft(refused)) keptTheirSlot.push(ending)
            else yield* expectLimited(queuedJob(alice, BASE_MILLIS + 3), caps, "user")
          }
          expect(keptTheirSlot).toStrictEqual([])
        })))

      it.effect("creates racing for the user's last slot: exactly one wins", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const caps = limits(2, 100)
          yield* store.create(queuedJob(alice, BASE_MILLIS), { limits: caps })
          const racers = Array.from({ length: 6 }, (_, i) => queuedJob(alice, BASE_MILLIS + 1 + i))
          const results = yield* Effect.all(racers.map((job) => store.create(job, { limits: caps })), {
            concurrency: "unbounded",
            mode: "either"
          })
          expect(results.filter(Either.isRight)).toHaveLength(1)
          for (const result of results) if (Either.isLeft(result)) expect(result.left._tag).toBe("ExportLimitReached")
          expect(yield* store.listActive(alice)).toHaveLength(2)
        })))

      it.effect("creates of two users racing for their merchant's last slot: exactly one wins", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, bobAtAcme } = uniqueOwners()
          const caps = limits(10, 2)
          yield* store.create(queuedJob(alice, BASE_MILLIS), { limits: caps })
          const racers = Array.from({ length: 6 }, (_, i) =>
            queuedJob(i % 2 === 0 ? alice : bobAtAcme, BASE_MILLIS + 1 + i))
          const results = yield* Effect.all(
            racers.map((job) =>
              store.create(job, { limits: caps })
            ),
            {
              concurrency: "unbounded",
              mode: "either"
            }
          )
          expect(results.filter(Either.isRight)).toHaveLength(1)
          for (const result of results) if (Either.isLeft(result)) expect(result.left._tag).toBe("ExportLimitReached")
          const active = [...(yield* store.listActive(alice)), ...(yield* store.listActive(bobAtAcme))]
          expect(active).toHaveLength(2)
        })))

      it.effect("a create refused by its idempotency key, or by the merchant's cap, holds no slot", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice, bobAtAcme } = uniqueOwners()
          yield* store.create(keyedJob(alice, BASE_MILLIS, "k"), { limits: limits(2, 3) })
          const refused = yield* Effect.flip(
            store.create(keyedJob(alice, BASE_MILLIS + 1, "k"), { limits: limits(2, 3) })
          )
          expect(refused._tag).toBe("JobConflict")
          // Had the refused create kept a user slot, this would be Alice's third.
          yield* store.create(queuedJob(alice, BASE_MILLIS + 2), { limits: limits(2, 3) })
          // Refused by the merchant's cap once Alice's own slot is taken: that slot is given back.
          yield* expectLimited(queuedJob(alice, BASE_MILLIS + 3), limits(3, 2), "merchant")
          yield* store.create(queuedJob(alice, BASE_MILLIS + 4), { limits: limits(3, 10) })
          yield* expectLimited(queuedJob(alice, BASE_MILLIS + 5), limits(3, 10), "user")
          yield* store.create(queuedJob(bobAtAcme, BASE_MILLIS + 6), { limits: limits(1, 4) })
          yield* expectLimited(queuedJob(bobAtAcme, BASE_MILLIS + 7), limits(2, 4), "merchant")
        })))
    })

    describe("idempotency keys", () => {
      const holderOf = (owner: Owner, key: string) =>
        Effect.flatMap(JobStore, (store) => store.findByIdempotencyKey(owner, key)).pipe(
          Effect.map(Option.map((job) => job.jobId))
        )

      /** Creates `next`, expecting the key to refuse it: JobConflict, and nothing of it stored. */
      const expectRefused = (next: QueuedJob, holder: ExportJobId) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const error = yield* Effect.flip(store.create(next))
          expect(error._tag).toBe("JobConflict")
          expect(Option.isNone(yield* store.get(next.jobId))).toBe(true)
          expect(yield* holderOf(next.owner, next.idempotencyKey!)).toStrictEqual(Option.some(holder))
        })

      /** A job created with key "k" that the queue refused: Failed with QueueUnavailable, as RequestExport leaves it. */
      const refusedByQueue = (owner: Owner) =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const refused = keyedJob(owner, BASE_MILLIS, "k")
          yield* store.create(refused)
          const failed = after(refused, Failed.make({ at: at(50), failure: queueUnavailableFailure }))
          yield* store.update(failed, refused.revision)
          return failed
        })

      it.effect("a key the owner's job holds within the window refuses another job, storing nothing of it", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const first = keyedJob(alice, BASE_MILLIS, "k")
          yield* store.create(first)
          expect(yield* holderOf(alice, "k")).toStrictEqual(Option.some(first.jobId))
          yield* expectRefused(keyedJob(alice, BASE_MILLIS + 60_000, "k"), first.jobId)
        })))

      it.effect("a key older than the window does not block, then names the newest job; an older one created late fails", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const old = keyedJob(alice, BASE_MILLIS, "daily")
          const fresh = keyedJob(alice, BASE_MILLIS + IDEMPOTENCY_WINDOW_MILLIS, "daily")
          yield* store.create(old)
          yield* store.create(fresh)
          expect(yield* holderOf(alice, "daily")).toStrictEqual(Option.some(fresh.jobId))
          yield* expectRefused(keyedJob(alice, BASE_MILLIS + 1, "daily"), fresh.jobId)
        })))

      it.effect("creates racing with one key: exactly one job is stored", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const jobs = Array.from({ length: 6 }, (_, i) => keyedJob(alice, BASE_MILLIS + i, "k"))
          const results = yield* Effect.all(jobs.map((job) => store.create(job)), {
            concurrency: "unbounded",
            mode: "either"
          })
          expect(results.filter(Either.isRight)).toHaveLength(1)
          for (const result of results) if (Either.isLeft(result)) expect(result.left._tag).toBe("JobConflict")
          const winner = jobs[results.findIndex(Either.isRight)]
          assert(winner !== undefined)
          expect(idsOf(yield* store.listByOwner(alice, { limit: 10, after: undefined }))).toStrictEqual([winner.jobId])
          expect(yield* holderOf(alice, "k")).toStrictEqual(Option.some(winner.jobId))
        })))

      it.effect("a key whose job failed with QueueUnavailable is taken by the next job created with it", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const failed = yield* refusedByQueue(alice)
          // The failed job is still the key's latest, for callers to judge; it no longer holds it.
          expect(yield* holderOf(alice, "k")).toStrictEqual(Option.some(failed.jobId))

          const retried = keyedJob(alice, BASE_MILLIS + 5_000, "k")
          yield* store.create(retried)
          expectSame(ExportJob, Option.getOrThrow(yield* store.get(retried.jobId)), retried)
          expect(yield* holderOf(alice, "k")).toStrictEqual(Option.some(retried.jobId))
          // The new job holds the key as any other does; the failed one stays as history.
          yield* expectRefused(keyedJob(alice, BASE_MILLIS + 10_000, "k"), retried.jobId)
          expectSame(ExportJob, Option.getOrThrow(yield* store.get(failed.jobId)), failed)
        })))

      it.effect("a key whose job is running, succeeded, cancelled or failed any other way still refuses", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const queryFailed = new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: true })
          const endings: ReadonlyArray<(queued: QueuedJob) => ReadonlyArray<ExportJob>> = [
            (queued) => [after(queued, startedAt(10))],
            (queued) => {
              const running = after(queued, startedAt(10))
              return [running, after(running, completedAt(queued, 20))]
            },
            (queued) => [after(queued, Cancelled.make({ at: at(10) }))],
            (queued) => [after(queued, Failed.make({ at: at(10), failure: queryFailed }))]
          ]
          for (const ending of endings) {
            const { alice } = uniqueOwners()
            const first = keyedJob(alice, BASE_MILLIS, "k")
            yield* store.create(first)
            let current: ExportJob = first
            for (const next of ending(first)) {
              yield* store.update(next, current.revision)
              current = next
            }
            yield* expectRefused(keyedJob(alice, BASE_MILLIS + 5_000, "k"), first.jobId)
          }
        })))

      it.effect("creates racing for a key its job gave up: exactly one takes it", () =>
        withStore(Effect.gen(function*() {
          const store = yield* JobStore
          const { alice } = uniqueOwners()
          const refused = yield* refusedByQueue(alice)
          const retries = Array.from({ length: 6 }, (_, i) => keyedJob(alice, BASE_MILLIS + 5_000 + i, "k"))
          const results = yield* Effect.all(retries.map((job) => store.create(job)), {
            concurrency: "unbounded",
            mode: "either"
          })
          expect(results.filter(Either.isRight)).toHaveLength(1)
          for (const result of results) if (Either.isLeft(result)) expect(result.left._tag).toBe("JobConflict")
          const winner = retries[results.findIndex(Either.isRight)]
          assert(winner !== undefined)
          expect(yield* holderOf(alice, "k")).toStrictEqual(Option.some(winner.jobId))
          const listed = yield* store.listByOwner(alice, { limit: 10, after: undefined })
          expect(idsOf(listed)).toStrictEqual([winner.jobId, refused.jobId])
        })))
    })
  })
