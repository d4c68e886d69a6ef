// The audit trail as the use cases write it (ADR 46): the request from the job's record, a cancel once however often
// it is repeated, each download link its owner asked for; each entry kept as long as its job; the trail its owner's
// alone; and an act refused, not done unrecorded, while the trail cannot be written.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { FaultInjection } from "../../src/adapters/memory/FaultInjection.js"
import { cancelExport } from "../../src/application/CancelExport.js"
import { downloadExport } from "../../src/application/DownloadExport.js"
import { readAudit, recordSignedLinkUse } from "../../src/application/ExportAudit.js"
import { AuditTrail } from "../../src/application/ports/AuditTrail.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { finishedJobRetainedUntil } from "../../src/application/Retention.js"
import type { AuditEntry } from "../../src/domain/Audit.js"
import { BySignedLink, ByUser } from "../../src/domain/Audit.js"
import type { FinishedJob } from "../../src/domain/ExportJob.js"
import { alice, bob, drainQueue, ordersInput, storedJob, testLayer } from "../support/Fixtures.js"

const actionsOf = (entries: ReadonlyArray<AuditEntry>) => entries.map((entry) => entry.action)

describe("the audit trail of an export", () => {
  it.effect("records a cancel once, at the moment it took effect, however often it is repeated", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const cancelled = yield* cancelExport(alice.owner, job.jobId)
      yield* cancelExport(alice.owner, job.jobId)
      const { entries } = yield* readAudit(alice.owner, job.jobId)
      expect(entries).toHaveLength(1)
      expect(entries[0]).toMatchObject({
        action: "cancelled",
        actor: new ByUser({ userId: alice.owner.userId }),
        at: cancelled._tag === "Cancelled" ? cancelled.finishedAt : undefined
      })
    }).pipe(Effect.provide(testLayer())))

  it.effect("records each download link its owner asked for, and keeps each entry as long as its job", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      yield* downloadExport(alice.owner, job.jobId)
      yield* downloadExport(alice.owner, job.jobId)
      const { entries } = yield* readAudit(alice.owner, job.jobId)
      expect(actionsOf(entries)).toStrictEqual(["download_link_issued", "download_link_issued"])
      expect(new Set(entries.map((entry) => entry.entryId)).size).toBe(2)
      expect(entries.every((entry) => entry.actor._tag === "User" && entry.actor.userId === alice.owner.userId))
        .toBe(true)
    }).pipe(Effect.provide(testLayer())))

  it.effect("keeps every entry until its job's own retention ends", () =>
    Effect.gen(function*() {
      const noted: Array<{ entryId: string; retainedUntil: number }> = []
      const layer = Layer.effect(
        AuditTrail,
        Effect.map(AuditTrail, (trail) =>
          AuditTrail.of({
            record: (entry, retainedUntil) =>
              Effect.zipRight(
                Effect.sync(() => noted.push({ entryId: entry.entryId, retainedUntil })),
                trail.record(entry, retainedUntil)
              ),
            listFor: trail.listFor
          }))
      )
      yield* Effect.gen(function*() {
        const done = yield* requestExport(alice, ordersInput())
        yield* drainQueue
        yield* downloadExport(alice.owner, done.jobId)
        const stopped = yield* requestExport(alice, ordersInput({ dateTo: "2024-03-30" }))
        yield* cancelExport(alice.owner, stopped.jobId)
        const retentions = [
          finishedJobRetainedUntil((yield* storedJob(done.jobId)) as FinishedJob),
          finishedJobRetainedUntil((yield* storedJob(stopped.jobId)) as FinishedJob)
        ]
        expect(noted.map((one) => one.retainedUntil)).toStrictEqual(retentions)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.provide(testLayer())))

  it.effect("is its owner's alone: another user is told the export does not exist", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const error = yield* Effect.flip(readAudit(bob.owner, job.jobId))
      expect(error._tag).toBe("JobNotFound")
    }).pipe(Effect.provide(testLayer())))

  it.effect("records a signed link's use on the current file only, by whoever held the link", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      if (done._tag !== "Succeeded") return expect.fail(`job is ${done._tag}`)
      yield* recordSignedLinkUse(done.result.objectKey)
      // An earlier attempt's key, and keys of no job: nothing.
      yield* recordSignedLinkUse(done.result.objectKey.replace("attempt-1", "attempt-0"))
      yield* recordSignedLinkUse("exports/m-acme/not-a-job/attempt-1.csv")
      yield* recordSignedLinkUse("elsewhere.csv")
      const { entries } = yield* readAudit(alice.owner, job.jobId)
      expect(entries.map((entry) => [entry.action, entry.actor])).toStrictEqual([
        ["file_downloaded", new BySignedLink()]
      ])
    }).pipe(Effect.provide(testLayer())))

  it.effect("while the trail cannot be written: no download link is given, and the cancel asked again records it", () =>
    Effect.gen(function*() {
      const faults = yield* FaultInjection
      const done = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const running = yield* requestExport(alice, ordersInput({ dateTo: "2024-03-30" }))
      yield* faults.set({ audit: true })
      expect((yield* Effect.flip(downloadExport(alice.owner, done.jobId)))._tag).toBe("AuditTrailUnavailable")
      expect((yield* Effect.flip(cancelExport(alice.owner, running.jobId)))._tag).toBe("AuditTrailUnavailable")
      yield* faults.clear
      expect((yield* readAudit(alice.owner, done.jobId)).entries).toStrictEqual([])
      expect((yield* storedJob(running.jobId))._tag).toBe("Cancelled")
      yield* cancelExport(alice.owner, running.jobId)
      expect(actionsOf((yield* readAudit(alice.owner, running.jobId)).entries)).toStrictEqual(["cancelled"])
    }).pipe(Effect.provide(testLayer())))
})
