// The embedded queues' retry backoff: doubling from the first wait after each receive, never above the cap, and
// the default the memory and SQLite queues both follow.
import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import { DEFAULT_QUEUE_BACKOFF, retryDelay } from "../../src/application/QueueBackoff.js"

describe("retryDelay", () => {
  const backoff = { first: Duration.seconds(1), cap: Duration.seconds(3) }

  it("waits the first delay after the first receive, then doubles after each further one, up to the cap", () => {
    expect([1, 2, 3, 4, 40].map((receive) => Duration.toMillis(retryDelay(backoff, receive))))
      .toStrictEqual([1_000, 2_000, 3_000, 3_000, 3_000])
  })

  it("treats a count below one as the first receive, and a huge one as the cap without overflowing", () => {
    expect(retryDelay(backoff, 0)).toStrictEqual(Duration.seconds(1))
    expect(retryDelay(backoff, Number.MAX_SAFE_INTEGER)).toStrictEqual(Duration.seconds(3))
  })

  it("by default: 1 s, 2 s, 4 s ... never more than a minute", () => {
    expect([1, 2, 3, 6, 7, 20].map((receive) => Duration.toSeconds(retryDelay(DEFAULT_QUEUE_BACKOFF, receive))))
      .toStrictEqual([1, 2, 4, 32, 60, 60])
  })
})
