// The audit trail kept in memory: each job's entries in the order they were appended, dropped once their retention
// is over (application/Retention.ts), as DynamoDB's TTL deletes them.
import { Effect, Layer, Option } from "effect"
import { AuditTrail } from "../../application/ports/AuditTrail.js"
import type { AuditEntry } from "../../domain/Audit.js"
import { AuditTrailUnavailable } from "../../domain/Errors.js"
import { makeEviction } from "./Eviction.js"
import { FaultInjection } from "./FaultInjection.js"

interface Kept {
  readonly entry: AuditEntry
  readonly retainedUntil: number
}

export const make = Effect.gen(function*() {
  const faults = yield* FaultInjection
  const byJob = new Map<string, Array<Kept>>()
  const whenEvictionDue = makeEviction()

  const evictExpired = (now: number): void => {
    for (const [jobId, kept] of byJob) {
      const live = kept.filter((one) => one.retainedUntil > now)
      if (live.length === 0) byJob.delete(jobId)
      else if (live.length < kept.length) byJob.set(jobId, live)
    }
  }

  const unavailable = Effect.flatMap(
    faults.fire("audit"),
    Option.match({
      onNone: () => Effect.void,
      onSome: () => Effect.fail(new AuditTrailUnavailable({ detail: "injected fault: audit trail down" }))
    })
  )

  return AuditTrail.of({
    record: (entry, retainedUntil) =>
      Effect.gen(function*() {
        yield* unavailable
        // Only a record makes the trail grow, so it is where expired entries are swept.
        yield* whenEvictionDue(evictExpired)
        const kept = byJob.get(entry.jobId) ?? []
        if (kept.some((one) => one.entry.entryId === entry.entryId)) return
        byJob.set(entry.jobId, [...kept, { entry, retainedUntil }])
      }),
    listFor: (jobId) =>
      Effect.zipRight(
        unavailable,
        Effect.sync(() =>
          (byJob.get(jobId) ?? []).map((one) => one.entry).sort((a, b) => a.at.epochMillis - b.at.epochMillis)
        )
      )
  })
})

export const layer = Layer.effect(AuditTrail, make)
