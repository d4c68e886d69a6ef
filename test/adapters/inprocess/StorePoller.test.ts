// The poller of `npm run serve`: the workers write the stores from other processes (here, the in-process worker on
// the undecorated memory stores), and the poller's rounds turn what they wrote into the feed's changes. It reads
// nothing while nobody follows anyone.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Queue } from "effect"
import * as InProcessChangeFeed from "../../../src/adapters/inprocess/InProcessChangeFeed.js"
import * as StorePoller from "../../../src/adapters/inprocess/StorePoller.js"
import { ChangeFeed } from "../../../src/application/ports/ChangeFeed.js"
import type { Change } from "../../../src/application/ports/ChangeFeed.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { requestExport } from "../../../src/application/RequestExport.js"
import { alice, bob, drainQueue, ordersInput, testLayer } from "../../support/Fixtures.js"

/** The memory job store, counting the calls made to it. */
const counted = (calls: { count: number }) =>
  Layer.effect(
    JobStore,
    Effect.map(JobStore, (store) =>
      JobStore.of(
        Object.fromEntries(
          Object.entries(store).map(([name, method]) => [
            name,
            (...args: Array<never>) => {
              calls.count += 1
              return (method as (...a: Array<never>) => unknown)(...args)
            }
          ])
        ) as unknown as JobStore["Type"]
      ))
  )

const describeChange = (change: Change) =>
  change._tag === "JobChanged" ? `${change.job.owner.userId} ${change.job._tag}` : `notice ${change.notification.kind}`

describe("StorePoller", () => {
  it.scoped("publishes what other processes wrote for a followed owner, and reads nothing while nobody follows", () => {
    const calls = { count: 0 }
    return Effect.gen(function*() {
      const feed = yield* ChangeFeed
      const round = yield* StorePoller.make
      yield* requestExport(alice, ordersInput())
      calls.count = 0
      yield* round
      expect(calls.count).toBe(0)

      const subscription = yield* feed.subscribe(alice.owner, { after: Option.none(), maxStreams: 5 })
      yield* requestExport(bob, ordersInput())
      yield* round
      yield* drainQueue
      // The job left the active index between rounds: read once more; its notice arrives with it.
      yield* round
      yield* round
      const changes = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription.changes)).map(({ change }) =>
        describeChange(change)
      )
      expect(changes).toStrictEqual(["alice Queued", "alice Succeeded", "notice export_succeeded"])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(InProcessChangeFeed.layer()).pipe(
          Layer.provideMerge(counted(calls).pipe(Layer.provideMerge(testLayer())))
        )
      )
    )
  })
})
