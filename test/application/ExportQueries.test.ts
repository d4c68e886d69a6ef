import { describe, expect, it } from "@effect/vitest"
import { Effect, Encoding, Schema, TestClock } from "effect"
import { getExport, listExports } from "../../src/application/ExportQueries.js"
import type { ExportPage } from "../../src/application/ExportQueries.js"
import { requestExport } from "../../src/application/RequestExport.js"
import type { Caller } from "../../src/application/RequestExport.js"
import { JobNotFound } from "../../src/domain/Errors.js"
import { ExportJob } from "../../src/domain/ExportJob.js"
import { makeExportJobId } from "../../src/domain/Identifiers.js"
import { alice, bob, callerOf, dayOf2024, drainQueue, ordersInput, testLayer } from "../support/Fixtures.js"

/** Same merchant as alice, another user. */
const carol = callerOf("carol", "m-acme")
/** Same userId as alice, another merchant. */
const aliceAtGlobex = callerOf("alice", "m-globex")

const encodeJob = Schema.encodeSync(ExportJob)

/**
 * One export per caller, in order, 1 ms apart: each job gets its own creation time, hence its own id order. Each
 * asks for a different range, since an identical export still in progress is answered with the first job.
 */
const requestInOrder = (callers: ReadonlyArray<Caller>) =>
  Effect.forEach(
    callers,
    (caller, i) =>
      requestExport(caller, ordersInput({ dateFrom: dayOf2024(i) })).pipe(Effect.zipLeft(TestClock.adjust("1 millis")))
  )

const idsOf = (jobs: ReadonlyArray<{ readonly jobId: string }>) => jobs.map((job) => job.jobId)

/** Newest first: the reverse of the order they were requested in. */
const newestFirst = (jobs: ReadonlyArray<{ readonly jobId: string }>) => idsOf(jobs).reverse()

/** Follows `nextCursor` until the last page (bounded, so that a cursor bug cannot loop forever). */
const walkPages = (caller: Caller, limit: string) =>
  Effect.gen(function*() {
    const pages: Array<ExportPage> = []
    let cursor: string | undefined = undefined
    for (let i = 0; i < 100; i++) {
      const page: ExportPage = yield* listExports(caller.owner, cursor === undefined ? { limit } : { limit, cursor })
      pages.push(page)
      if (page.nextCursor === undefined) return pages
      cursor = page.nextCursor
    }
    return yield* Effect.dieMessage("pagination did not end in 100 pages")
  })

describe("getExport", () => {
  it.effect("gives the owner their job as it was recorded", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const found = yield* getExport(alice.owner, job.jobId)
      expect(found._tag).toBe("Queued")
      expect(encodeJob(found)).toEqual(encodeJob(job))
    }).pipe(Effect.provide(testLayer())))

  it.effect("gives the owner the job's current state once it has run", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const found = yield* getExport(alice.owner, job.jobId)
      expect(found.jobId).toBe(job.jobId)
      expect(found._tag).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer(5))))

  it.effect("answers JobNotFound to anyone but the owner, exactly as for an id that does not exist", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const unknownId = makeExportJobId(Date.parse("2024-05-01T00:00:00Z"), new Uint8Array(10))
      const unknown = yield* Effect.flip(getExport(alice.owner, unknownId))
      expect(unknown).toEqual(new JobNotFound({ jobId: unknownId }))

      for (const stranger of [carol, aliceAtGlobex, bob]) {
        const error = yield* Effect.flip(getExport(stranger.owner, job.jobId))
        expect(error).toEqual(new JobNotFound({ jobId: job.jobId }))
      }
      // The job is there all along: only the caller differs.
      expect((yield* getExport(alice.owner, job.jobId)).jobId).toBe(job.jobId)
    }).pipe(Effect.provide(testLayer())))

  it.effect("answers JobNotFound to a malformed id, never a defect or another error", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const malformed = [
        "../x",
        "",
        "3b241101-e2bb-4255-8caf-4136c566a962", // a UUIDv4
        job.jobId.toUpperCase(),
        `${job.jobId}/../x`,
        ` ${job.jobId}`
      ]
      for (const jobId of malformed) {
        // A defect would make `flip` die and the test fail.
        const error = yield* Effect.flip(getExport(alice.owner, jobId))
        expect(error).toEqual(new JobNotFound({ jobId }))
      }
    }).pipe(Effect.provide(testLayer())))
})

describe("listExports", () => {
  it.effect("lists the caller's jobs newest first", () =>
    Effect.gen(function*() {
      const jobs = yield* requestInOrder([alice, alice, alice, alice])
      const page = yield* listExports(alice.owner, {})
      expect(idsOf(page.jobs)).toEqual(newestFirst(jobs))
      expect(page.nextCursor).toBeUndefined()
    }).pipe(Effect.provide(testLayer())))

  it.effect("lists only the caller's jobs, not those of other users or merchants", () =>
    Effect.gen(function*() {
      const callers = [alice, bob, carol, aliceAtGlobex, alice, carol, bob, aliceAtGlobex, alice]
      const jobs = yield* requestInOrder(callers)
      for (const caller of [alice, bob, carol, aliceAtGlobex]) {
        const page = yield* listExports(caller.owner, { limit: "100" })
        const own = jobs.filter((job) => caller.owner.isOwnerOf(job))
        expect(own.length).toBeGreaterThan(0)
        expect(idsOf(page.jobs)).toEqual(newestFirst(own))
        expect(page.jobs.every((job) => caller.owner.isOwnerOf(job))).toBe(true)
      }
      const stranger = callerOf("dave", "m-initech")
      expect((yield* listExports(stranger.owner, {})).jobs).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.effect("walks every job exactly once, page by page, and ends with no cursor", () =>
    Effect.gen(function*() {
      const jobs = yield* requestInOrder([alice, bob, alice, alice, carol, alice, alice, bob, alice, alice])
      const own = jobs.filter((job) => alice.owner.isOwnerOf(job))
      expect(own.length).toBe(7)

      const pages = yield* walkPages(alice, "3")
      expect(pages.map((page) => page.jobs.length)).toEqual([3, 3, 1])
      expect(pages.flatMap((page) => idsOf(page.jobs))).toEqual(newestFirst(own))
      expect(pages.slice(0, -1).every((page) => typeof page.nextCursor === "string")).toBe(true)
      expect(pages[pages.length - 1]!.nextCursor).toBeUndefined()
    }).pipe(Effect.provide(testLayer())))

  it.effect("ends with a full last page and no cursor when the jobs fill the pages exactly", () =>
    Effect.gen(function*() {
      const jobs = yield* requestInOrder([alice, alice, bob, alice, alice])
      const own = jobs.filter((job) => alice.owner.isOwnerOf(job))
      const pages = yield* walkPages(alice, "2")
      expect(pages.map((page) => page.jobs.length)).toEqual([2, 2])
      expect(pages.flatMap((page) => idsOf(page.jobs))).toEqual(newestFirst(own))
      expect(pages[1]!.nextCursor).toBeUndefined()
    }).pipe(Effect.provide(testLayer())))

  it.effect("pages by 20 when no limit is given", () =>
    Effect.gen(function*() {
      const jobs = yield* requestInOrder(Array.from({ length: 21 }, () => alice))
      const first = yield* listExports(alice.owner, {})
      expect(idsOf(first.jobs)).toEqual(newestFirst(jobs).slice(0, 20))
      expect(first.nextCursor).toBeDefined()
      const second = yield* listExports(alice.owner, { cursor: first.nextCursor })
      expect(idsOf(second.jobs)).toEqual([jobs[0]!.jobId])
      expect(second.nextCursor).toBeUndefined()
    }).pipe(Effect.provide(testLayer())))

  it.effect("accepts a limit from 1 to 100", () =>
    Effect.gen(function*() {
      yield* requestInOrder([alice, alice])
      expect((yield* listExports(alice.owner, { limit: "1" })).jobs.length).toBe(1)
      expect((yield* listExports(alice.owner, { limit: "100" })).jobs.length).toBe(2)
    }).pipe(Effect.provide(testLayer())))

  it.effect("rejects a limit that is not a whole number from 1 to 100, naming the field and a rule", () =>
    Effect.gen(function*() {
      yield* requestInOrder([alice])
      for (const limit of ["0", "101", "abc", "2.5"]) {
        const error = yield* Effect.flip(listExports(alice.owner, { limit }))
        expect(error._tag).toBe("ValidationError")
        if (error._tag !== "ValidationError") return
        expect(error.issues.map(({ field, message, rule }) => ({ field, message, rule }))).toStrictEqual([
          { field: "limit", rule: "limit-range", message: "must be a whole number from 1 to 100" }
        ])
      }
    }).pipe(Effect.provide(testLayer())))

  it.effect("rejects a cursor that no page gave out, naming the field and a rule", () =>
    Effect.gen(function*() {
      const [job] = yield* requestInOrder([alice])
      const garbage = ["!!!", "garbage", Encoding.encodeBase64Url("not-a-job-id"), job!.jobId, ""]
      for (const cursor of garbage) {
        const error = yield* Effect.flip(listExports(alice.owner, { cursor }))
        expect(error._tag).toBe("ValidationError")
        if (error._tag !== "ValidationError") return
        // The message says what to do without revealing what a cursor is made of.
        expect(error.issues.map(({ field, message, rule }) => ({ field, message, rule }))).toStrictEqual([
          { field: "cursor", rule: "cursor", message: "must be a cursor from a previous page" }
        ])
      }
    }).pipe(Effect.provide(testLayer())))

  it.effect("never reveals an owner's jobs to another owner who reuses their cursor", () =>
    Effect.gen(function*() {
      const callers = [alice, bob, carol, alice, bob, aliceAtGlobex, alice, carol, bob, alice, bob, alice]
      const jobs = yield* requestInOrder(callers)
      const alicePage = yield* listExports(alice.owner, { limit: "2" })
      const cursor = alicePage.nextCursor
      expect(cursor).toBeDefined()
      const cursorJob = alicePage.jobs[alicePage.jobs.length - 1]!

      for (const other of [bob, carol, aliceAtGlobex]) {
        const page = yield* listExports(other.owner, { limit: "100", cursor })
        expect(page.jobs.every((job) => other.owner.isOwnerOf(job))).toBe(true)
        expect(page.jobs.some((job) => alice.owner.isOwnerOf(job))).toBe(false)
        // At most their own jobs older than the cursor's position: the cursor is a position, not a key.
        const theirsOlder = jobs.filter((job) => other.owner.isOwnerOf(job) && job.jobId < cursorJob.jobId)
        expect(idsOf(page.jobs)).toEqual(newestFirst(theirsOlder))
      }
    }).pipe(Effect.provide(testLayer())))
})
