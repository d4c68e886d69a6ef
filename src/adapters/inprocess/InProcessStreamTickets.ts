// Stream tickets kept in the process that issued them (ADR 33): 32 random bytes, stored only as their SHA-256, each
// taken out of the map by its one redemption. A deployment with several API processes needs the ticket and the
// stream to reach the same process, or a shared store behind this port.
import { Clock, Duration, Effect, Layer, Option, Redacted } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { EventStreamSettings } from "../../application/EventStream.js"
import { StreamTickets } from "../../application/ports/StreamTickets.js"
import type { Caller } from "../../application/RequestExport.js"
import { ownerKey } from "../memory/MapKeys.js"

/** Tickets a user may hold unused at once; issuing one more forgets their oldest. */
export const OUTSTANDING_PER_USER = 10

interface Issued {
  readonly caller: Caller
  readonly owner: string
  readonly expiresAt: number
}

const digest = (ticket: string): string => createHash("sha256").update(ticket).digest("base64url")

export const make = Effect.gen(function*() {
  const { ticketTtl } = yield* EventStreamSettings
  const ttlMillis = Duration.toMillis(ticketTtl)
  // In issue order: Map keeps insertion order, so the first of an owner's entries is their oldest.
  const issued = new Map<string, Issued>()

  const forgetExpired = (now: number) => {
    for (const [key, entry] of issued) if (entry.expiresAt <= now) issued.delete(key)
  }

  const issue = (caller: Caller) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      forgetExpired(now)
      const owner = ownerKey(caller.owner)
      const mine = [...issued].filter(([, entry]) => entry.owner === owner)
      if (mine.length >= OUTSTANDING_PER_USER) issued.delete(mine[0]![0])
      const ticket = randomBytes(32).toString("base64url")
      issued.set(digest(ticket), { caller, owner, expiresAt: now + ttlMillis })
      return { ticket: Redacted.make(ticket), expiresIn: ticketTtl }
    })

  const redeem = (ticket: Redacted.Redacted<string>) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const key = digest(Redacted.value(ticket))
      const entry = issued.get(key)
      issued.delete(key)
      return entry === undefined || entry.expiresAt <= now ? Option.none() : Option.some(entry.caller)
    })

  return StreamTickets.of({ issue, redeem })
})

export const layer = Layer.effect(StreamTickets, make)
