// What the port contracts share: ids and owners unique to each test, so that a real store shared by every test
// and every run (one DynamoDB table, one bucket) needs no cleaning between them, and equality by value.
import { expect } from "@effect/vitest"
import { DateTime, Equal, Redacted, Schema, Utils } from "effect"
import { randomBytes } from "node:crypto"
import { newJob, objectKeyFor } from "../../src/domain/ExportJob.js"
import type { ObjectKey, QueuedJob } from "../../src/domain/ExportJob.js"
import type { ExportJobId } from "../../src/domain/Identifiers.js"
import { EmailAddress, makeExportJobId, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { ReportRequest } from "../../src/domain/Reports.js"

/** What a store's tests can see of its retention (application/Retention.ts). */
export interface RetentionSupport {
  /**
   * Whether the store deletes a record past its retention by one EXPIRY_SWEEP_INTERVAL later, on the Effect clock,
   * given it grew in between (the memory stores sweep on a create or a delivery). False for DynamoDB: its TTL
   * deletes up to days late, and dynalite never; its tests check the TTL attribute it writes instead.
   */
  readonly deletesExpired: boolean
}

/** A UUIDv7 made at `millis`, with fresh random bits. */
export const jobIdAt = (millis: number): ExportJobId => makeExportJobId(millis, randomBytes(10))

export const uniqueSuffix = (): string => randomBytes(6).toString("hex")

export interface Owners {
  readonly alice: Owner
  /** Another user of Alice's merchant. */
  readonly bobAtAcme: Owner
  /** Alice's user id in another merchant. */
  readonly aliceAtGlobex: Owner
}

/** Three owners no other test uses, two of which share the merchant and two the user id. */
export const uniqueOwners = (): Owners => {
  const suffix = uniqueSuffix()
  const acme = MerchantId.make(`m-acme-${suffix}`)
  const globex = MerchantId.make(`m-globex-${suffix}`)
  const aliceId = UserId.make(`alice-${suffix}`)
  return {
    alice: new Owner({ userId: aliceId, merchantId: acme }),
    bobAtAcme: new Owner({ userId: UserId.make(`bob-${suffix}`), merchantId: acme }),
    aliceAtGlobex: new Owner({ userId: aliceId, merchantId: globex })
  }
}

/**
 * Asserts that two values are equal by value. The encoded forms are compared first for a readable diff; the
 * `Equal` check then catches what they hide (vitest's own equality sees no difference between two Redacted).
 */
export const expectSame = <A, I>(schema: Schema.Schema<A, I, never>, actual: A, expected: A): void => {
  const encode = Schema.encodeSync(schema)
  expect(encode(actual)).toEqual(encode(expected))
  // A report's parameters are a plain struct: outside a structural region Equal compares it by reference, which
  // only a store handing back the very instance it was given could pass.
  expect(Utils.structuralRegion(() => Equal.equals(actual, expected))).toBe(true)
}

/** A key no test has written yet: a first attempt's file of a new job of a new owner. */
export const freshObjectKey = (): ObjectKey =>
  objectKeyFor({ jobId: jobIdAt(Date.now()), owner: uniqueOwners().alice, attempts: 1, format: "csv" })

/** When the store tests' jobs are requested, unless a test says otherwise. */
export const JOBS_BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")

const firstQuarterOrders = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" }
})

/**
 * A queued export of `owner`'s 2024 first-quarter orders, requested at `millis`, with an idempotency key or an email
 * address of the test's choice.
 */
export const queuedJobOf = (
  owner: Owner,
  options: { readonly millis?: number; readonly idempotencyKey?: string; readonly email?: string } = {}
): QueuedJob => {
  const millis = options.millis ?? JOBS_BASE_MILLIS
  return newJob({
    jobId: jobIdAt(millis),
    owner,
    email: Redacted.make(EmailAddress.make(options.email ?? `${owner.userId}@example.com`)),
    report: firstQuarterOrders,
    format: "csv",
    requestedAt: DateTime.unsafeMake(millis),
    idempotencyKey: options.idempotencyKey
  })
}
