// How the embedded queues (memory for the simulator and tests, SQLite for `npm start`) space out the receives of a
// message its worker asked to retry: one rule, so that both behave as the worker expects, whichever runs it.
import { Duration } from "effect"

export interface QueueBackoff {
  /** The wait after a message's first receive; doubled after each further one. */
  readonly first: Duration.Duration
  /** The longest wait between two receives. */
  readonly cap: Duration.Duration
}

/** 1 s doubling, never more than a minute: a passing failure (a defect, a store away) is tried again soon. */
export const DEFAULT_QUEUE_BACKOFF: QueueBackoff = { first: Duration.seconds(1), cap: Duration.minutes(1) }

/**
 * The wait before a message retried after its `receiveCount`-th receive is handed out again: exponential and capped,
 * as `Schedule.exponential(first)` unioned with `Schedule.spaced(cap)` would step, computed from the count the
 * message carries rather than from a schedule's state, which a message put back (or stored) cannot keep.
 */
export const retryDelay = (backoff: QueueBackoff, receiveCount: number): Duration.Duration =>
  Duration.min(Duration.times(backoff.first, 2 ** Math.min(Math.max(receiveCount - 1, 0), 30)), backoff.cap)
