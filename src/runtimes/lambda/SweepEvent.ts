// The event the stack's schedule sends the worker function to have it sweep overdue jobs (ADR 30), rather than a
// batch of SQS records: one function, one bundle and one set of grants for both.
import { DEFAULT_SWEEP_INTERVAL } from "../../application/SweepOverdueJobs.js"

export const SWEEP_EVENT = { sweep: "overdue-jobs" } as const
export type SweepEvent = typeof SWEEP_EVENT

/** How often the schedule sends it: as often as a Node runtime sweeps. */
export const SWEEP_SCHEDULE = DEFAULT_SWEEP_INTERVAL

export const isSweepEvent = (event: unknown): event is SweepEvent =>
  typeof event === "object" && event !== null && (event as Record<string, unknown>)["sweep"] === SWEEP_EVENT.sweep
