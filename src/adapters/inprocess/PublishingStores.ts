// The job store and the in-app notifier of a process that runs its own workers (the embedded server), each telling
// the change feed what it wrote once the write has succeeded (ADR 33). Decorates whatever stores it is given.
import { Context, Effect, Layer, Option } from "effect"
import { ChangeFeed } from "../../application/ports/ChangeFeed.js"
import { InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { JobStore } from "../../application/ports/JobStore.js"

/** Provides JobStore and InAppNotifier over the ones it needs, publishing every create, update and delivery. */
export const layer = Layer.effectContext(
  Effect.gen(function*() {
    const store = yield* JobStore
    const notifier = yield* InAppNotifier
    const feed = yield* ChangeFeed
    const publishing = JobStore.of({
      ...store,
      // A create answered with the same export in progress recorded nothing: there is no change to tell.
      create: (job, checks) =>
        Effect.tap(
          store.create(job, checks),
          (inProgress) => Option.isNone(inProgress) ? feed.publish({ _tag: "JobChanged", job }) : Effect.void
        ),
      update: (next, expectedRevision) =>
        Effect.tap(store.update(next, expectedRevision), () => feed.publish({ _tag: "JobChanged", job: next }))
    })
    const telling = InAppNotifier.of({
      ...notifier,
      deliver: (notification) =>
        Effect.tap(notifier.deliver(notification), () => feed.publish({ _tag: "NotificationAdded", notification }))
    })
    return Context.make(JobStore, publishing).pipe(Context.add(InAppNotifier, telling))
  })
)
