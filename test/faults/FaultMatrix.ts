// The fault matrix of issue 15 (item 7) as one table: each row a fault, how it is produced, the stack it runs on, and
// the audit's counts it must end with. docs/reliability.md's table lists exactly these rows with these counts
// (ReliabilityDoc.test.ts keeps the two together). Adding a fault is one entry here, in one of the suites, and its
// row in the doc: each suite is one test file (`FaultMatrix.<suite>.test.ts`), so that no file runs long.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { countFaults, NO_FAULTS } from "../support/FaultAudit.js"
import type { FaultCounts, Observed } from "../support/FaultAudit.js"
import { embeddedKilledAndRestarted } from "./EmbeddedFaults.js"
import {
  deadLetterAverted,
  deadLetteredStoreDown,
  deliveriesRace,
  sesDownPastWindow,
  sesDownWithinWindow,
  sweeperBesideLiveJobs,
  workerKilledAndRestarted
} from "./NodeFaults.js"

export const SUITES = ["processes", "ses", "dead-letters", "sweeper", "embedded"] as const
export type Suite = (typeof SUITES)[number]

export interface FaultScenario {
  /** The row's name in docs/reliability.md. */
  readonly name: string
  readonly suite: Suite
  /** Produces the fault, asserts it happened, and returns what the stores and servers hold afterwards. */
  readonly run: Effect.Effect<Observed, unknown>
  /**
   * Counts that are not 0, with the reason the doc gives: only for a loss the design leaves to a part not built on
   * this branch. Every other count is 0.
   */
  readonly notZero?: { readonly counts: Partial<FaultCounts>; readonly because: string }
  /** For the test's timeout; the suite's file stays under a minute. */
  readonly seconds: number
}

export const FAULT_MATRIX: ReadonlyArray<FaultScenario> = [
  {
    name: "worker process killed mid-export, restarted",
    suite: "processes",
    run: workerKilledAndRestarted,
    seconds: 45
  },
  { name: "deliveries race: two workers, visibility runs out", suite: "processes", run: deliveriesRace, seconds: 45 },
  { name: "SES down longer than a send, back within the window", suite: "ses", run: sesDownWithinWindow, seconds: 60 },
  { name: "SES down past the retry window", suite: "ses", run: sesDownPastWindow, seconds: 30 },
  {
    name: "every receive stopped mid-export; the last gives up",
    suite: "dead-letters",
    run: deadLetterAverted,
    seconds: 45
  },
  {
    name: "dead-lettered: job store down through the last receive; swept once it is back",
    suite: "dead-letters",
    run: deadLetteredStoreDown,
    seconds: 45
  },
  { name: "sweeper beside a live export past its deadline", suite: "sweeper", run: sweeperBesideLiveJobs, seconds: 60 },
  { name: "npm start killed mid-export, restarted", suite: "embedded", run: embeddedKilledAndRestarted, seconds: 60 }
]

/** The counts a scenario must end with. */
export const expectedCounts = (scenario: FaultScenario): FaultCounts => ({ ...NO_FAULTS, ...scenario.notZero?.counts })

/** The suite's scenarios as tests: each audited, and its counts compared with its row's. */
export const runSuite = (suite: Suite) =>
  describe(`fault matrix: ${suite}`, () => {
    for (const scenario of FAULT_MATRIX.filter((entry) => entry.suite === suite)) {
      it.live(
        scenario.name,
        () =>
          Effect.gen(function*() {
            const audit = countFaults(yield* scenario.run)
            expect(audit.counts, JSON.stringify(audit.jobs)).toStrictEqual(expectedCounts(scenario))
          }),
        { timeout: scenario.seconds * 1000 }
      )
    }
  })
