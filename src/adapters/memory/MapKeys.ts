// Map keys for the in-memory adapters, which index what they keep by owner and by the parts of a request.
import type { Owner } from "../../domain/Identifiers.js"

/**
 * A map key from its parts. Joined rather than written as a template: a template's result is kept as a rope of
 * its pieces (several hundred bytes for a request's key), and a key lives as long as its entry; a join is one flat
 * string.
 */
export const keyOf = (...parts: ReadonlyArray<string>): string => parts.join("\u0000")

export const ownerKey = (owner: Owner): string => keyOf(owner.merchantId, owner.userId)
