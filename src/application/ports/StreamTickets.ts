// Short-lived, single-use tickets that stand for a signed-in caller on the one request a browser's EventSource can
// make without headers (ADR 33). Issued against the bearer token; redeemed once, within their time to live.
import type { Duration, Effect, Option, Redacted } from "effect"
import { Context } from "effect"
import type { Caller } from "../RequestExport.js"

export interface IssuedTicket {
  readonly ticket: Redacted.Redacted<string>
  readonly expiresIn: Duration.Duration
}

export class StreamTickets extends Context.Tag("exports/StreamTickets")<StreamTickets, {
  readonly issue: (caller: Caller) => Effect.Effect<IssuedTicket>
  /** The caller the ticket was issued to, once: a second redemption, or one after its expiry, finds nothing. */
  readonly redeem: (ticket: Redacted.Redacted<string>) => Effect.Effect<Option.Option<Caller>>
}>() {}
