// Tenancy in the worker (ADR 25): a queue message names a job, but the job's record decides whose export it is.
// A message that names no merchant, or that names the job with another user of the same merchant, runs nothing.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { MemoryFiles } from "../../src/adapters/memory/MemoryFileStore.js"
import { MemoryQueue } from "../../src/adapters/memory/MemoryJobQueue.js"
import { handleDelivery } from "../../src/application/ExportWorker.js"
import { encodeMessage } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { messageFor, requestExport } from "../../src/application/RequestExport.js"
import { alice, callerOf, ordersInput, testLayer } from "../support/Fixtures.js"

const storedTag = (jobId: string) =>
  Effect.flatMap(JobStore, (store) => store.get(jobId as never)).pipe(
    Effect.map((job) => Option.getOrThrow(job)._tag)
  )

describe("worker tenancy", () => {
  it.effect("discards a message naming alice's job with another user of her merchant, touching nothing", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* MemoryQueue).poll // the genuine message, set aside
      const carol = callerOf("carol", alice.owner.merchantId).owner
      const forged = { ...messageFor(job), userId: carol.userId }
      const verdict = yield* handleDelivery(encodeMessage(forged))
      expect(verdict).toMatchObject({ _tag: "Ack", outcome: { _tag: "Discarded", reason: "owner mismatch" } })
      expect(yield* storedTag(job.jobId)).toBe("Queued")
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
    }).pipe(Effect.provide(testLayer(10))))

  it.effect("rejects a message that names no merchant, or a malformed one, as undecodable, touching nothing", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* MemoryQueue).poll
      const genuine = JSON.parse(encodeMessage(messageFor(job))) as Record<string, unknown>
      const { merchantId: _, ...withoutMerchant } = genuine
      for (const body of [withoutMerchant, { ...genuine, merchantId: "" }, { ...genuine, merchantId: 42 }]) {
        const verdict = yield* handleDelivery(JSON.stringify(body))
        expect(verdict).toStrictEqual({ _tag: "Reject", reason: "undecodable message" })
      }
      expect(yield* storedTag(job.jobId)).toBe("Queued")
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
    }).pipe(Effect.provide(testLayer(10))))
})
