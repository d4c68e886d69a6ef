// The stores of a process with its own workers tell the change feed what they wrote (ADR 33), and only that: a create
// answered with the same export in progress wrote nothing, so a stream must not be told of a job that does not exist.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import * as PublishingStores from "../../../src/adapters/inprocess/PublishingStores.js"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import * as MemoryInAppNotifier from "../../../src/adapters/memory/MemoryInAppNotifier.js"
import * as MemoryJobStore from "../../../src/adapters/memory/MemoryJobStore.js"
import type { Change } from "../../../src/application/ports/ChangeFeed.js"
import { ChangeFeed } from "../../../src/application/ports/ChangeFeed.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { JOBS_BASE_MILLIS, queuedJobOf, uniqueOwners } from "../../contracts/ContractSupport.js"

describe("PublishingStores", () => {
  it.effect("tells the feed of a job created, not of one answered with the same export in progress", () =>
    Effect.gen(function*() {
      const told: Array<Change> = []
      const feed = Layer.succeed(
        ChangeFeed,
        ChangeFeed.of({
          publish: (change) => Effect.sync(() => told.push(change)),
          subscribe: () => Effect.die("not subscribed in this test"),
          watched: Effect.succeed([])
        })
      )
      const stores = PublishingStores.layer.pipe(
        Layer.provide(Layer.mergeAll(MemoryJobStore.layer, MemoryInAppNotifier.layer, feed)),
        Layer.provide(MemoryInAppNotifier.MemoryInbox.Default),
        Layer.provide(FaultInjection.Default)
      )
      const { alice } = uniqueOwners()
      const first = queuedJobOf(alice)
      const repeat = queuedJobOf(alice, { millis: JOBS_BASE_MILLIS + 1_000 })
      const answer = yield* Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.create(first)
        return yield* store.create(repeat, { inProgressDeadline: Duration.hours(6) })
      }).pipe(Effect.provide(stores))
      expect(Option.map(answer, (job) => job.jobId)).toStrictEqual(Option.some(first.jobId))
      expect(told.map((change) => change._tag === "JobChanged" ? change.job.jobId : change._tag)).toStrictEqual([
        first.jobId
      ])
    }))
})
