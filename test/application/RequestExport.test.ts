import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Ref, Schema, TestClock } from "effect"
import { MemoryQueue } from "../../src/adapters/memory/MemoryJobQueue.js"
import * as MemoryJobStore from "../../src/adapters/memory/MemoryJobStore.js"
import { CurrentCatalogue } from "../../src/application/CurrentCatalogue.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import type { ExportSettingsShape } from "../../src/application/ExportSettings.js"
import { JobIds } from "../../src/application/JobIds.js"
import { ExportMessage, JobQueue } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { QueueUnavailable } from "../../src/domain/Errors.js"
import { ReportCatalogue } from "../../src/domain/Reports.js"
import { RefundsInUse } from "../support/ExtraReport.js"
import { alice, bob, dayOf2024, drainQueue, ordersInput, testLayer } from "../support/Fixtures.js"

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
  body: (
    published: Ref.Ref<ReadonlyArray<ExportMessage>>
  ) => Effect.Effect<A, E, JobStore | JobQueue | JobIds | ExportSettings>,
  // Roomy unless a test is about the tenant limits (ADR 45).
  limits: Partial<ExportSettingsShape["limits"]> = { exportsPerUser: 100, exportsPerMerchant: 100 }
) =>
  Effect.gen(function*() {
    const queue = yield* fakeQueue(refuse)
    const settings = ExportSettings.layerWith({ limits: { ...ExportSettings.defaults.limits, ...limits } })
    return yield* body(queue.published).pipe(
      Effect.provide(Layer.mergeAll(queue.layer, MemoryJobStore.layer, JobIds.Default, settings))
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
        for (let i = 0; i < 20; i++) {
          ids.push((yield* requestExport(alice, ordersInput({ dateFrom: dayOf2024(i) }))).jobId)
        }
        expect(new Set(ids).size).toBe(20)
        expect([...ids].sort()).toStrictEqual(ids)
      })))

  describe("the tenant limits (ADR 45)", () => {
    it.effect("a new export past the user's cap fails with ExportLimitReached and stores nothing", () =>
      withFakeQueue(false, (published) =>
        Effect.gen(function*() {
          yield* requestExport(alice, ordersInput({ dateFrom: dayOf2024(0) }))
          const error = yield* Effect.flip(requestExport(alice, ordersInput({ dateFrom: dayOf2024(1) })))
          expect(error).toMatchObject({ _tag: "ExportLimitReached", scope: "user", limit: 1 })
          expect(yield* (yield* JobStore).listActive(alice.owner)).toHaveLength(1)
          expect(yield* Ref.get(published)).toHaveLength(1)
        }), { exportsPerUser: 1 }))

    it.effect("a job the queue refused gives its slot back: the next request reaches the queue again", () =>
      withFakeQueue(true, () =>
        Effect.gen(function*() {
          const first = yield* Effect.flip(requestExport(alice, ordersInput({ dateFrom: dayOf2024(0) })))
          expect(first._tag).toBe("QueueUnavailable")
          const second = yield* Effect.flip(requestExport(alice, ordersInput({ dateFrom: dayOf2024(1) })))
          expect(second._tag).toBe("QueueUnavailable")
        }), { exportsPerUser: 1 }))
  })

  describe("repeated requests", () => {
    it.effect("answers the same Idempotency-Key and body within a day with the same job, published once", () =>
      Effect.gen(function*() {
        const first = yield* requestExport(alice, ordersInput(), { idempotencyKey: "click-1" })
        yield* drainQueue
        const again = yield* requestExport(alice, ordersInput(), { idempotencyKey: "click-1" })
        expect(again.jobId).toBe(first.jobId)
        expect(again._tag).toBe("Succeeded")
        expect(yield* (yield* MemoryQueue).published).toHaveLength(1)
      }).pipe(Effect.provide(testLayer(5))))

    it.effect("refuses the same Idempotency-Key with another body", () =>
      Effect.gen(function*() {
        const first = yield* requestExport(alice, ordersInput(), { idempotencyKey: "click-1" })
        const error = yield* Effect.flip(
          requestExport(alice, ordersInput({ dateFrom: "2024-02-01" }), { idempotencyKey: "click-1" })
        )
        expect(error).toMatchObject({ _tag: "IdempotencyKeyReused", jobId: first.jobId })
      }).pipe(Effect.provide(testLayer(5))))

    it.effect("forgets an Idempotency-Key after 24 hours", () =>
      Effect.gen(function*() {
        const first = yield* requestExport(alice, ordersInput(), { idempotencyKey: "click-1" })
        yield* drainQueue
        yield* TestClock.adjust(Duration.hours(24))
        const later = yield* requestExport(alice, ordersInput({ dateFrom: "2024-02-01" }), {
          idempotencyKey: "click-1"
        })
        expect(later.jobId).not.toBe(first.jobId)
      }).pipe(Effect.provide(testLayer(5))))

    it.effect("keeps one user's Idempotency-Key apart from another's", () =>
      Effect.gen(function*() {
        const mine = yield* requestExport(alice, ordersInput(), { idempotencyKey: "click-1" })
        const theirs = yield* requestExport(bob, ordersInput({ dateFrom: "2024-02-01" }), { idempotencyKey: "click-1" })
        expect(theirs.jobId).not.toBe(mine.jobId)
        expect(theirs.owner).toStrictEqual(bob.owner)
      }).pipe(Effect.provide(testLayer(5))))

    it.effect("answers an identical export with the one still in progress, and starts a new one once it finished", () =>
      Effect.gen(function*() {
        const first = yield* requestExport(alice, ordersInput())
        const second = yield* requestExport(alice, ordersInput())
        expect(second.jobId).toBe(first.jobId)
        const other = yield* requestExport(alice, ordersInput({ timezone: "Europe/Paris" }))
        expect(other.jobId).not.toBe(first.jobId)
        yield* drainQueue
        const third = yield* requestExport(alice, ordersInput())
        expect(third.jobId).not.toBe(first.jobId)
        expect(third._tag).toBe("Queued")
      }).pipe(Effect.provide(testLayer(5))))

    it.effect("rejects a malformed Idempotency-Key, naming it", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(requestExport(alice, ordersInput(), { idempotencyKey: "has space" }))
        expect(error._tag === "ValidationError" && error.issues.map((i) => [i.field, i.rule])).toStrictEqual([[
          "Idempotency-Key",
          "idempotency-key"
        ]])
      }).pipe(Effect.provide(testLayer(5))))
  })

  describe("the catalogue in use", () => {
    const refunds = {
      reportType: "refunds",
      format: "csv",
      params: { dateFrom: "2024-03-01", dateTo: "2024-03-31", minQuantity: 2 }
    }

    it.effect("decides which reports a request may ask for", () =>
      Effect.gen(function*() {
        const job = yield* requestExport(alice, refunds)
        expect(job.report).toStrictEqual({
          _tag: "refunds",
          params: { dateFrom: "2024-03-01", dateTo: "2024-03-31", timezone: "UTC", minQuantity: 2 }
        })
        const refused = yield* Effect.flip(
          requestExport(alice, refunds).pipe(Effect.provideService(CurrentCatalogue, ReportCatalogue))
        )
        expect(refused._tag === "ValidationError" && refused.issues.map((i) => [i.field, i.rule])).toStrictEqual([[
          "reportType",
          "one-of"
        ]])
      }).pipe(Effect.provide(testLayer(5).pipe(Layer.provideMerge(RefundsInUse)))))

    it.effect("gives the reports it adds their own rules", () =>
      Effect.gen(function*() {
        const issuesOf = (params: Record<string, unknown>) =>
          Effect.map(
            Effect.flip(requestExport(alice, { ...refunds, params: { ...refunds.params, ...params } })),
            (error) => error._tag === "ValidationError" && error.issues.map((i) => [i.field, i.rule])
          )
        expect(yield* issuesOf({ minQuantity: 51 })).toStrictEqual([["params.minQuantity", "min-quantity-range"]])
        expect(yield* issuesOf({ dateTo: "2024-04-01" })).toStrictEqual([["params.dateTo", "max-range"]])
      }).pipe(Effect.provide(testLayer(5).pipe(Layer.provideMerge(RefundsInUse)))))
  })
})
