// Bearer authentication at the HTTP edge: every way a token can be wrong is refused in the one error shape,
// without data; a valid token works, within the clock skew too; and no token ever reaches a log line.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Logger, LogLevel, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import { DEV_AUDIENCE, DEV_ISSUER } from "../../../src/adapters/auth/JwtVerifier.js"
import { apiTestLayer, TEST_SECRET, tokenFor } from "../../support/ApiHarness.js"
import { alice, callerOf } from "../../support/Fixtures.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import { withTamperedJwtSignature } from "../../support/Tampering.js"
import { expectRefused, EXPORTS_PATH, getRaw, ordersBody, postExport, send } from "./HttpSupport.js"

const secretKey = (secret: string) => new TextEncoder().encode(secret)
const OTHER_SECRET = "another-secret-that-is-long-enough-9876543210"

interface TokenOptions {
  readonly claims?: Record<string, unknown>
  readonly omit?: ReadonlyArray<string>
  readonly issuer?: string
  readonly audience?: string
  readonly secret?: string
  readonly ttl?: Duration.Duration
}

/** A JWT signed with jose directly, at the Effect clock's now: alice's claims unless told otherwise. */
const signed = (options: TokenOptions = {}) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.promise(() => {
      const issuedAt = Math.floor(now / 1000)
      const claims: Record<string, unknown> = {
        merchant_id: alice.owner.merchantId,
        email: Redacted.value(alice.email),
        ...options.claims
      }
      for (const name of options.omit ?? []) delete claims[name]
      return new Jose.SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(alice.owner.userId)
        .setIssuer(options.issuer ?? DEV_ISSUER)
        .setAudience(options.audience ?? DEV_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + Math.floor(Duration.toSeconds(options.ttl ?? Duration.hours(1))))
        .sign(secretKey(options.secret ?? Redacted.value(TEST_SECRET)))
    }))

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** An unsecured JWT (`alg: none`) with otherwise valid claims and an empty signature. */
const unsecured = Effect.map(Clock.currentTimeMillis, (now) => {
  const iat = Math.floor(now / 1000)
  const payload = {
    sub: alice.owner.userId,
    merchant_id: alice.owner.merchantId,
    email: Redacted.value(alice.email),
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    iat,
    exp: iat + 3600
  }
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`
})

/** A token with valid claims signed RS256 with a fresh key pair, where HS256 is the only algorithm accepted. */
const rs256 = Effect.flatMap(Clock.currentTimeMillis, (now) =>
  Effect.promise(async () => {
    const { privateKey } = await Jose.generateKeyPair("RS256")
    const iat = Math.floor(now / 1000)
    return new Jose.SignJWT({ merchant_id: alice.owner.merchantId, email: Redacted.value(alice.email) })
      .setProtectedHeader({ alg: "RS256", typ: "JWT" })
      .setSubject(alice.owner.userId)
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(privateKey)
  }))

/** GET the caller's exports with exactly this Authorization header (none when undefined). */
const listWithAuthorization = (authorization: string | undefined) =>
  send(
    HttpClientRequest.get(EXPORTS_PATH).pipe((request) =>
      authorization === undefined ? request : HttpClientRequest.setHeader(request, "authorization", authorization)
    )
  )

const refusals: ReadonlyArray<{ readonly name: string; readonly authorization: Effect.Effect<string | undefined> }> = [
  { name: "no Authorization header", authorization: Effect.succeed(undefined) },
  { name: "\"Bearer \" with an empty token", authorization: Effect.succeed("Bearer ") },
  { name: "a token that is not a JWT (\"abc\")", authorization: Effect.succeed("Bearer abc") },
  { name: "three garbage segments", authorization: Effect.succeed("Bearer aaa.bbb.ccc") },
  { name: "an alg: none token", authorization: Effect.map(unsecured, (token) => `Bearer ${token}`) },
  {
    name: "a token signed with another secret",
    authorization: Effect.map(signed({ secret: OTHER_SECRET }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token of another issuer",
    authorization: Effect.map(signed({ issuer: "https://evil.example.com" }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token for another audience",
    authorization: Effect.map(signed({ audience: "another-api" }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token without the merchant claim",
    authorization: Effect.map(signed({ omit: ["merchant_id"] }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token whose merchant claim is not a merchant id",
    authorization: Effect.map(signed({ claims: { merchant_id: "../m-globex" } }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token without the email claim",
    authorization: Effect.map(signed({ omit: ["email"] }), (token) => `Bearer ${token}`)
  },
  {
    name: "a token with an invalid email claim",
    authorization: Effect.map(signed({ claims: { email: "not-an-email" } }), (token) => `Bearer ${token}`)
  },
  { name: "an RS256 token when HS256 is pinned", authorization: Effect.map(rs256, (token) => `Bearer ${token}`) },
  {
    name: "a token whose signature was altered",
    authorization: Effect.map(signed(), (token) => `Bearer ${withTamperedJwtSignature(token)}`)
  },
  {
    name: "a token whose payload was altered (another merchant)",
    authorization: Effect.map(signed(), (token) => {
      const [header, payload, signature] = token.split(".")
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as Record<string, unknown>
      return `Bearer ${header}.${base64url({ ...claims, merchant_id: "m-globex" })}.${signature}`
    })
  }
]

describe("HTTP API: authentication", () => {
  it.effect("serves a caller with a valid token", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* listWithAuthorization(`Bearer ${token}`)
      expect(response.status).toBe(200)
      expect(response.json).toStrictEqual({ items: [] })
    }).pipe(Effect.provide(apiTestLayer())))

  for (const { authorization, name } of refusals) {
    it.effect(`refuses ${name}, saying so in the error shape and revealing nothing`, () =>
      Effect.gen(function*() {
        // Something to reveal: alice has an export.
        const good = yield* tokenFor(alice)
        expect((yield* postExport(good, ordersBody())).status).toBe(202)

        const response = yield* listWithAuthorization(yield* authorization)
        const error = expectRefused(response, "unauthorized")
        expect(error.error.details).toBeUndefined()
        expect(response.text).not.toContain("items")
        expect(response.text).not.toContain("jobId")
      }).pipe(Effect.provide(apiTestLayer())))
  }

  it.effect("refuses every protected endpoint without a token, and starts no export", () =>
    Effect.gen(function*() {
      const good = yield* tokenFor(alice)
      const jobId = ((yield* postExport(good, ordersBody())).json as { jobId: string }).jobId
      const requests = [
        HttpClientRequest.post("/api/v1/reports/export").pipe(
          HttpClientRequest.bodyText(JSON.stringify(ordersBody("2024-02-01", "2024-02-29")), "application/json")
        ),
        HttpClientRequest.get(EXPORTS_PATH),
        HttpClientRequest.get(`${EXPORTS_PATH}/${jobId}`),
        HttpClientRequest.get(`${EXPORTS_PATH}/${jobId}/download`),
        HttpClientRequest.get("/api/v1/notifications"),
        HttpClientRequest.post("/api/v1/notifications/anything/read")
      ]
      for (const request of requests) expectRefused(yield* send(request), "unauthorized")
      const listed = (yield* getRaw(EXPORTS_PATH, good)).json as { items: Array<{ jobId: string }> }
      expect(listed.items.map((item) => item.jobId)).toStrictEqual([jobId])
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("accepts a token expired by less than the 30 s clock skew, and refuses it past the skew", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice, { ttl: Duration.minutes(10) })
      yield* TestClock.adjust(Duration.sum(Duration.minutes(10), Duration.seconds(20)))
      expect((yield* getRaw(EXPORTS_PATH, token)).status).toBe(200)
      yield* TestClock.adjust(Duration.seconds(11))
      const error = expectRefused(yield* getRaw(EXPORTS_PATH, token), "token_expired")
      expect(error.error.message).toMatch(/expired/i)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("refuses a token long expired as expired, and a fresh token of the same user works", () =>
    Effect.gen(function*() {
      const old = yield* tokenFor(alice, { ttl: Duration.hours(1) })
      yield* TestClock.adjust(Duration.hours(2))
      expectRefused(yield* getRaw(EXPORTS_PATH, old), "token_expired")
      expect((yield* getRaw(EXPORTS_PATH, yield* tokenFor(alice))).status).toBe(200)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("takes the caller from the token: a token for carol of m-acme sees carol's exports only", () =>
    Effect.gen(function*() {
      const carol = callerOf("carol", "m-acme")
      expect((yield* postExport(yield* tokenFor(alice), ordersBody())).status).toBe(202)
      expect((yield* postExport(yield* tokenFor(carol), ordersBody("2024-02-01", "2024-02-29"))).status).toBe(202)
      const carols = (yield* getRaw(EXPORTS_PATH, yield* tokenFor(carol))).json as {
        items: Array<{ params: Record<string, unknown> }>
      }
      expect(carols.items.map((item) => item.params["dateFrom"])).toStrictEqual(["2024-02-01"])
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: tokens in logs", () => {
  it.effect("never writes a token, good or bad, into a log line", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const good = yield* tokenFor(alice)
      const forged = yield* signed({ secret: OTHER_SECRET })
      const expiring = yield* tokenFor(alice, { ttl: Duration.minutes(1) })
      expect((yield* getRaw(EXPORTS_PATH, good)).status).toBe(200)
      expect((yield* postExport(good, ordersBody())).status).toBe(202)
      expectRefused(yield* getRaw(EXPORTS_PATH, forged), "unauthorized")
      expectRefused(yield* postExport(forged, ordersBody()), "unauthorized")
      yield* TestClock.adjust(Duration.minutes(2))
      expectRefused(yield* getRaw(EXPORTS_PATH, expiring), "token_expired")

      const lines = logs.lines.map((line) =>
        [JSON.stringify(line.message), JSON.stringify(line.annotations), line.cause ?? ""].join(" ")
      )
      // The capture did see the requests, the refusals included.
      expect(lines.some((line) => line.includes("bearer token rejected"))).toBe(true)
      expect(lines.filter((line) => line.includes("\"http\"")).length).toBeGreaterThanOrEqual(5)
      for (const token of [good, forged, expiring]) {
        const signature = token.split(".")[2]!
        for (const line of lines) {
          expect(line).not.toContain(token)
          expect(line).not.toContain(signature)
        }
      }
    }).pipe(
      Effect.provide(apiTestLayer()),
      // Outside the server's layer, so that the server's request fibers log through the capture too.
      Effect.provide(logs.replacing),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })
})
