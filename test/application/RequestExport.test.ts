import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Ref, Schema } from "effect"
import { JobStoreMemory } from "../../src/adapters/memory/MemoryJobStore.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { JobIds } from "../../src/application/JobIds.js"
import { ExportMessage, JobQueue } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { QueueUnavailable } from "../../src/domain/Errors.js"
import { alice, ordersInput } from "../support/Fixtures.js"

/** The queue faked, as the design's testing notes ask: it records what it is given, or refuses it. */
const fakeQueue = (refuse: boolean) =>
  Effect.gen(function*() {
    const published = yield* Ref.make<ReadonlyArray<ExportMessage>>([])
    const layer = Layer.succeed(
      JobQueue,
      JobQueue.of({
        publish: (message) =>
          refuse
            ? Effect.fail(new QueueUnavailable({ detail: "fake queue refuses" }))
            : Ref.update(published, (list) => [...list, message])
      })
    )
    return { published, layer }
  })

const withFakeQueue = <A, E>(
  refuse: boolean,
  body: (published: Ref.Ref<ReadonlyArray<ExportMessage>>) => Effect.Effect<A, E, JobStore | JobQueue | JobIds>
) =>
  Effect.gen(function*() {
    const queue = yield* fakeQueue(refuse)
    return yield* body(queue.published).pipe(
      Effect.provide(Layer.mergeAll(queue.layer, JobStoreMemory, JobIds.Default, ExportSettings.layerWith()))
    )
  })

describe("RequestExport", () => {
  it.effect("records a Queued job and publishes exactly its message", () =>
    withFakeQueue(false, (published) =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, ordersInput())
        expect(job._tag).toBe("Queued")
        expect(job.owner).toStrictEqual(alice.owner)
        const stored = yield* (yield* JobStore).get(job.jobId)
        expect(Option.getOrThrow(stored)._tag).toBe("Queued")
        const messages = yield* Ref.get(published)
        expect(messages).toHaveLength(1)
        expect(Schema.encodeSync(ExportMessage)(messages[0]!)).toStrictEqual({
          jobId: job.jobId,
          userId: "alice",
          merchantId: "m-acme",
          report: { _tag: "orders", params: { dateFrom: "2024-01-01", dateTo: "2024-03-31", timezone: "UTC" } }
        })
      })))

  it.effect("rejects invalid input before writing or publishing anything", () =>
    withFakeQueue(false, (published) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(requestExport(alice, ordersInput({ dateTo: "2023-12-31" })))
        expect(error._tag).toBe("ValidationError")
        expect(yield* Ref.get(published)).toHaveLength(0)
        const page = yield* (yield* JobStore).listByOwner(alice.owner, { limit: 10, after: undefined })
        expect(page.jobs).toHaveLength(0)
      })))

  it.effect("answers QueueUnavailable when the queue refuses, and leaves no job Queued", () =>
    withFakeQueue(true, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(requestExport(alice, ordersInput()))
        expect(error._tag).toBe("QueueUnavailable")
        const page = yield* (yield* JobStore).listByOwner(alice.owner, { limit: 10, after: undefined })
        expect(page.jobs.map((job) => job._tag)).toStrictEqual(["Failed"])
        const [job] = page.jobs
        expect(job?._tag === "Failed" && job.failure.reason).toBe("QueueUnavailable")
        expect(job?._tag === "Failed" && job.notifications).toMatchObject({ inApp: "skipped", email: "skipped" })
      })))

  it.effect("gives every export its own time-ordered id", () =>
    withFakeQueue(false, () =>
      Effect.gen(function*() {
        const ids: Array<string> = []
        for (let i = 0; i < 20; i++) ids.push((yield* requestExport(alice, ordersInput())).jobId)
        expect(new Set(ids).size).toBe(20)
        expect([...ids].sort()).toStrictEqual(ids)
      })))
})
