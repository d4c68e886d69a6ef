// What requestExport leaves in traces and logs: its `Exports.request` span around the whole request, and the job's
// id on every span and log line made while the job is recorded and queued (by the store and queue adapters too),
// on none made before or after.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as MemoryJobStore from "../../src/adapters/memory/MemoryJobStore.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { JobIds } from "../../src/application/JobIds.js"
import { JobQueue } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { QueueUnavailable } from "../../src/domain/Errors.js"
import { alice, ordersInput } from "../support/Fixtures.js"
import { observed } from "../support/Observed.js"
import { outcomeOf, parentIdOf } from "../support/RecordingTracer.js"
import type { RecordedSpan } from "../support/RecordingTracer.js"

/** The in-memory store, with a span and a log line around each create, as a durable adapter has. */
const tracedStore = Layer.effect(
  JobStore,
  Effect.map(Effect.provide(JobStore, MemoryJobStore.layer), (store) =>
    JobStore.of({
      ...store,
      create: (job, checks) =>
        store.create(job, checks).pipe(
          Effect.zipLeft(Effect.logDebug("store.create")),
          Effect.withSpan("test.create", { captureStackTrace: false })
        )
    }))
)

const tracedQueue = (refuse: boolean) =>
  Layer.succeed(
    JobQueue,
    JobQueue.of({
      publish: () =>
        Effect.logDebug("queue.publish").pipe(
          Effect.zipRight(refuse ? Effect.fail(new QueueUnavailable({ detail: "refused" })) : Effect.void),
          Effect.withSpan("test.publish", { captureStackTrace: false })
        )
    })
  )

/** Runs `program` with the traced adapters, a recording tracer and a logger that keeps every line. */
const observe = <A, E>(
  refuse: boolean,
  program: Effect.Effect<A, E, JobStore | JobQueue | JobIds | ExportSettings>
) =>
  Effect.exit(program).pipe(
    Effect.provide(Layer.mergeAll(tracedStore, tracedQueue(refuse), JobIds.Default, ExportSettings.layerWith())),
    observed,
    Effect.map(({ lines, result, spans }) => ({
      exit: result,
      spans,
      lines: lines.map((line) => ({ message: line.message, level: line.level, jobId: line.annotations["jobId"] }))
    }))
  )

const shape = (spans: ReadonlyArray<RecordedSpan>) => {
  const names = new Map(spans.map((span) => [span.spanId, span.name]))
  return spans.map((span) => ({
    name: span.name,
    parent: names.get(parentIdOf(span) ?? "") ?? null,
    kind: span.kind,
    attributes: Object.fromEntries(span.attributes),
    outcome: outcomeOf(span)
  }))
}

describe("RequestExport's spans and log annotations", () => {
  it.effect("puts the store's and queue's spans and lines under Exports.request, each with the job's id", () =>
    Effect.gen(function*() {
      const { exit, lines, spans } = yield* observe(
        false,
        Effect.withSpan(requestExport(alice, ordersInput()), "caller", { captureStackTrace: false }).pipe(
          Effect.zipLeft(Effect.logDebug("after"))
        )
      )
      expect(exit._tag).toBe("Success")
      const jobId = exit._tag === "Success" ? exit.value.jobId : "?"
      expect(shape(spans)).toStrictEqual([
        { name: "caller", parent: null, kind: "internal", attributes: {}, outcome: "success" },
        { name: "Exports.request", parent: "caller", kind: "internal", attributes: {}, outcome: "success" },
        { name: "test.create", parent: "Exports.request", kind: "internal", attributes: { jobId }, outcome: "success" },
        { name: "test.publish", parent: "Exports.request", kind: "internal", attributes: { jobId }, outcome: "success" }
      ])
      expect(lines).toStrictEqual([
        { message: ["store.create"], level: "DEBUG", jobId },
        { message: ["queue.publish"], level: "DEBUG", jobId },
        { message: ["export accepted", { reportType: "orders" }], level: "INFO", jobId },
        { message: ["after"], level: "DEBUG", jobId: undefined }
      ])
    }))

  it.effect("keeps the job's id on the refusal's lines, and ends Exports.request as failed", () =>
    Effect.gen(function*() {
      const { exit, lines, spans } = yield* observe(true, requestExport(alice, ordersInput()))
      expect(exit._tag).toBe("Failure")
      const jobId = lines[0]?.jobId
      expect(typeof jobId).toBe("string")
      expect(shape(spans)).toStrictEqual([
        { name: "Exports.request", parent: null, kind: "internal", attributes: {}, outcome: "failure" },
        { name: "test.create", parent: "Exports.request", kind: "internal", attributes: { jobId }, outcome: "success" },
        { name: "test.publish", parent: "Exports.request", kind: "internal", attributes: { jobId }, outcome: "failure" }
      ])
      expect(lines.map((line) => [line.message, line.level, line.jobId])).toStrictEqual([
        [["store.create"], "DEBUG", jobId],
        [["queue.publish"], "DEBUG", jobId],
        [["queue refused the export; marking the job failed", { detail: "refused" }], "WARN", jobId]
      ])
    }))

  it.effect("names the job in progress on the line of a request answered with it; its create's span, the id it tried", () =>
    Effect.gen(function*() {
      const { lines, spans } = yield* observe(
        false,
        Effect.zipRight(requestExport(alice, ordersInput()), requestExport(alice, ordersInput()))
      )
      const first = lines[0]?.jobId
      const shown = shape(spans).map((span) => [span.name, span.attributes])
      // The store answers with the export in progress from the create itself, so the second request's create has a
      // span, with the id it would have recorded: nothing was recorded under it, and no line names it.
      const tried = shown[4]?.[1] as { readonly jobId?: unknown } | undefined
      expect(typeof tried?.jobId).toBe("string")
      expect(tried?.jobId).not.toBe(first)
      expect(shown).toStrictEqual([
        ["Exports.request", {}],
        ["test.create", { jobId: first }],
        ["test.publish", { jobId: first }],
        ["Exports.request", {}],
        ["test.create", { jobId: tried?.jobId }]
      ])
      expect(lines.slice(3)).toStrictEqual([
        { message: ["store.create"], level: "DEBUG", jobId: tried?.jobId },
        { message: ["answering with the existing export", { status: "Queued" }], level: "INFO", jobId: first }
      ])
    }))
})
