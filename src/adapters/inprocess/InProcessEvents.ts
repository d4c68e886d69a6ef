// What a Node API process needs to serve GET /api/v1/events (ADR 33): its change feed, stream tickets and the
// stream settings from `Config`. `layerPublishing` is for a process that runs its own workers; `layerPolling` for
// one that only serves the API over a store that other processes write.
import { Layer } from "effect"
import { EventStreamSettings } from "../../application/EventStream.js"
import * as InProcessChangeFeed from "./InProcessChangeFeed.js"
import * as InProcessStreamTickets from "./InProcessStreamTickets.js"
import * as PublishingStores from "./PublishingStores.js"
import * as StorePoller from "./StorePoller.js"

const feedAndTickets = Layer.merge(InProcessChangeFeed.layer(), InProcessStreamTickets.layer).pipe(
  Layer.provideMerge(EventStreamSettings.layer)
)

/**
 * The feed, tickets and settings, with JobStore and InAppNotifier decorated to publish to the feed: provide it the
 * stores to decorate.
 */
export const layerPublishing = PublishingStores.layer.pipe(Layer.provideMerge(feedAndTickets))

/** The feed, tickets and settings, with the poller that feeds it from the stores (EVENT_POLL_INTERVAL). */
export const layerPolling = StorePoller.layerConfig.pipe(Layer.provideMerge(feedAndTickets))
