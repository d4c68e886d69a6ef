// The export's timings that code outside the worker's run also keeps to: the API's cancel retries its notice as the
// worker does, and the ClickHouse source reports progress at the pace the worker writes it. A module of their own,
// so that keeping to them does not bring the whole export run into the API's bundle.
import { Duration, Schedule } from "effect"

/** An in-app notice goes to a store of ours: four more tries, 200 ms to 1.6 s apart, ride out a blip. */
export const inAppRetry = Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(4)))

/**
 * How often a running attempt's progress is written, at most, and how often its worker looks whether the job was
 * cancelled: a cancel is noticed within about this long, on every runtime, since every store is read the same way.
 */
export const PROGRESS_INTERVAL = Duration.seconds(1)
