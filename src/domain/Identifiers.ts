// The identities an export job is keyed and scoped by. Pure: generating ids needs a clock and randomness,
// which the application supplies.
import { Schema } from "effect"

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A UUIDv7: its first 48 bits are the creation time in milliseconds, so ids sort by age. */
export const ExportJobId = Schema.String.pipe(
  Schema.pattern(UUID_V7, { identifier: "uuid-v7", message: () => "must be a UUIDv7 in lower-case hex form" }),
  Schema.brand("ExportJobId", { identifier: "uuid-v7" })
)
export type ExportJobId = typeof ExportJobId.Type

/**
 * Builds a UUIDv7 (RFC 9562) from a Unix time in milliseconds and at least 10 random bytes.
 * Kept pure so that the id layout is unit-tested; callers supply the clock and the entropy.
 */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

export const makeExportJobId = (unixMillis: number, random: Uint8Array): ExportJobId => {
  if (random.length < 10) throw new RangeError("makeExportJobId needs 10 random bytes")
  const bytes = new Uint8Array(16)
  let millis = Math.max(0, Math.floor(unixMillis))
  for (let i = 5; i >= 0; i--) {
    bytes[i] = millis % 256
    millis = Math.floor(millis / 256)
  }
  bytes.set(random.subarray(0, 10), 6)
  bytes[6] = 0x70 | (bytes[6]! & 0x0f)
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  let hex = ""
  for (const byte of bytes) hex += HEX[byte]!
  // Laid out as a UUIDv7 by construction (the tests check the layout), so not matched against the pattern again.
  return ExportJobId.make(
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    true
  )
}

/**
 * The lowest id of a millisecond: every id made before `unixMillis` sorts below it, and every id made at or after it
 * does not. Stores that keep ids in order select the jobs created before a time with it.
 */
export const firstExportJobIdAt = (unixMillis: number): ExportJobId => makeExportJobId(unixMillis, new Uint8Array(10))

/** The creation time encoded in a UUIDv7, in Unix milliseconds. */
export const exportJobIdTime = (jobId: ExportJobId): number =>
  Number.parseInt(jobId.slice(0, 8) + jobId.slice(9, 13), 16)

/** The subject of the caller's token. Opaque to us; bounded so that it can key storage. */
export const UserId = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(255, { message: () => "must be at most 255 characters" }),
  Schema.pattern(/^\S(.*\S)?$/s, { identifier: "trimmed", message: () => "must not start or end with spaces" }),
  Schema.brand("UserId")
)
export type UserId = typeof UserId.Type

/** A merchant (tenant). It appears in object keys, so its alphabet is restricted to path-safe characters. */
export const MerchantId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
    identifier: "merchant-id",
    message: () => "must be 1 to 64 letters, digits, '_' or '-'"
  }),
  Schema.brand("MerchantId", { identifier: "merchant-id" })
)
export type MerchantId = typeof MerchantId.Type

export const EmailAddress = Schema.String.pipe(
  Schema.maxLength(254, { message: () => "must be at most 254 characters" }),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { identifier: "email", message: () => "must be an email address" }),
  Schema.brand("EmailAddress", { identifier: "email" })
)
export type EmailAddress = typeof EmailAddress.Type

/** "jane.doe@example.com" -> "j***@example.com": enough to tell addresses apart in a log, not enough to mail one. */
export const maskEmail = (address: string): string => {
  const at = address.lastIndexOf("@")
  if (at <= 0) return "***"
  return `${address[0]}***${address.slice(at)}`
}

/** Who a job belongs to. Every read of a job or its file is checked against both parts. */
export class Owner extends Schema.Class<Owner>("Owner")({
  userId: UserId,
  merchantId: MerchantId
}) {
  isOwnerOf(other: { readonly owner: Owner }): boolean {
    return other.owner.userId === this.userId && other.owner.merchantId === this.merchantId
  }
}
