// The development sign-in, POST /api/dev/session (ADR 34), as `npm start` composes its API for a listen address given
// as a parameter while the test server itself listens on 127.0.0.1: there only for a loopback HOST and a server that
// signs its own tokens, answering loopback names only, validating as the rest of the API does; absent elsewhere.
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import { DEV_SESSION_PATH, EmbeddedApi } from "../../../src/adapters/http/DevSessionApi.js"
import { DEV_SESSION_TTL } from "../../../src/adapters/http/DevSessionHttp.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import * as EmbeddedServer from "../../../src/runtimes/server/EmbeddedServer.js"
import { expectApiError, expectRefused, getRaw, issuesOf, send } from "../../adapters/http/HttpSupport.js"
import { apiTestLayer, TEST_SECRET, testJwtSettings } from "../../support/ApiHarness.js"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { testLayer } from "../../support/Fixtures.js"
import { errorBodyOf, loopbackServerTest, requestWithHost, serverPort } from "../../support/LoopbackServer.js"

/** The embedded API as composed for `HOST=bindHost`, signing with the test secret unless `signsOwnTokens` is false. */
const embeddedApiFor = (bindHost: string, signsOwnTokens = true) =>
  Layer.unwrapEffect(Effect.map(serverPort, (port) =>
    EmbeddedServer.layerApi(
      { host: bindHost, port },
      signsOwnTokens ? Option.some(TEST_SECRET) : Option.none()
    ))).pipe(
      Layer.provide(JwtAuthentication.layer),
      Layer.provide(JwtVerifier.layer(testJwtSettings)),
      Layer.provide(ReadinessChecks.none),
      Layer.provideMerge(testLayer(5)),
      Layer.provideMerge(loopbackServerTest)
    )

const ALICE = { user: "alice", merchant: "m-acme", email: "alice@example.com" }

const postSession = (body: unknown, contentType = "application/json") =>
  send(HttpClientRequest.post(DEV_SESSION_PATH).pipe(HttpClientRequest.bodyText(JSON.stringify(body), contentType)))

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, { readonly summary?: string; readonly description?: string }>>
}

describe("POST /api/dev/session on the embedded server, HOST on loopback", () => {
  it.effect("signs a token for the user, merchant and email given, valid 8 hours, that the API accepts", () =>
    Effect.gen(function*() {
      const before = yield* DateTime.now
      const response = yield* postSession(ALICE)
      expect(response.status, response.text).toBe(200)
      expect(response.headers["cache-control"]).toBe("no-store")
      const session = response.json as { token: string; expiresAt: string }
      expect(Object.keys(session).sort()).toStrictEqual(["expiresAt", "token"])
      const expiresIn = Date.parse(session.expiresAt) - DateTime.toEpochMillis(before)
      expect(expiresIn).toBeGreaterThan(Duration.toMillis(DEV_SESSION_TTL) - 2_000)
      expect(expiresIn).toBeLessThanOrEqual(Duration.toMillis(DEV_SESSION_TTL) + 1_000)

      const list = yield* getRaw("/api/v1/reports/exports", session.token)
      expect(list.status, list.text).toBe(200)
      const [, payload] = session.token.split(".")
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as Record<string, unknown>
      expect(claims).toMatchObject({ sub: "alice", merchant_id: "m-acme", email: "alice@example.com" })
      expect((claims["exp"] as number) * 1000).toBe(Date.parse(session.expiresAt))
    }).pipe(Effect.provide(embeddedApiFor("127.0.0.1"))))

  it.effect("is reached through the typed client derived from EmbeddedApi", () =>
    Effect.gen(function*() {
      const client = yield* HttpApiClient.make(EmbeddedApi)
      const session = yield* client.dev.createSession({ payload: ALICE })
      expect(session.token.split(".")).toHaveLength(3)
      const exports = yield* HttpApiClient.make(EmbeddedApi, {
        transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(session.token))
      })
      expect((yield* exports.exports.listExports({ urlParams: {} })).items).toStrictEqual([])
    }).pipe(Effect.provide(embeddedApiFor("127.0.0.1"))))

  it.effect("names each failing field and its rule in a 400, in the API's error shape", () =>
    Effect.gen(function*() {
      const wrong = yield* postSession({ user: " alice", merchant: "m acme", email: "alice" })
      expect(issuesOf(expectRefused(wrong, "invalid_request"))).toStrictEqual([
        { field: "user", rule: "user-id" },
        { field: "merchant", rule: "merchant-id" },
        { field: "email", rule: "email" }
      ])
      const tooLong = yield* postSession({ ...ALICE, user: "a".repeat(256), email: `${"a".repeat(250)}@example.com` })
      expect(issuesOf(expectRefused(tooLong, "invalid_request"))).toStrictEqual([
        { field: "user", rule: "user-id" },
        { field: "email", rule: "email" }
      ])
      const missing = yield* postSession({ user: "alice", extra: true })
      expect(issuesOf(expectRefused(missing, "invalid_request"))).toEqual(expect.arrayContaining([
        { field: "merchant", rule: "required" },
        { field: "email", rule: "required" },
        { field: "extra", rule: "unknown-field" }
      ]))
      const notAnObject = yield* postSession(["alice"])
      expect(issuesOf(expectRefused(notAnObject, "invalid_request"))).toStrictEqual([{ field: "", rule: "object" }])
      expectRefused(yield* postSession(ALICE, "text/plain"), "unsupported_media_type")
      const malformed = yield* send(
        HttpClientRequest.post(DEV_SESSION_PATH).pipe(HttpClientRequest.bodyText("{", "application/json"))
      )
      expectRefused(malformed, "malformed_json")
    }).pipe(Effect.provide(embeddedApiFor("127.0.0.1"))))

  it.effect("answers the loopback names and refuses any other Host with 421 (DNS rebinding)", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        const response = yield* requestWithHost(port, "POST", DEV_SESSION_PATH, host, ALICE)
        expect(response.status, host).toBe(200)
      }
      for (const host of ["evil.example", `evil.example:${port}`]) {
        const refused = yield* requestWithHost(port, "POST", DEV_SESSION_PATH, host, ALICE)
        expect(refused.status, host).toBe(421)
        expect(errorBodyOf(refused).error.code).toBe("misdirected_request")
        expect(refused.text).not.toContain("token")
      }
    }).pipe(Effect.provide(embeddedApiFor("127.0.0.1"))))

  it.effect("is in this server's OpenAPI document, marked development only", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      const operation = document.paths[DEV_SESSION_PATH]?.["post"]
      expect(operation?.summary).toMatch(/^Development only/)
      expect(operation?.description).toContain("npm run serve")
    }).pipe(Effect.provide(embeddedApiFor("127.0.0.1"))))
})

describe("POST /api/dev/session in the npm start composition", () => {
  it.scopedLive(
    "signs in on the server's own secret: the token reads the API; it names the demo data's days",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-dev-session-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 1000)
        const signedIn = yield* Effect.promise(() =>
          fetch(`${base}${DEV_SESSION_PATH}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(ALICE)
          })
        )
        expect(signedIn.status).toBe(200)
        const { demoDays, token } = (yield* Effect.promise(() => signedIn.json())) as {
          token: string
          demoDays: unknown
        }
        // The demo data's days, for the app's opening range: its seed's first and last day, at any DEMO_ROWS.
        expect(demoDays).toStrictEqual({ dateFrom: "2024-01-01", dateTo: "2025-12-31" })
        const list = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/reports/exports`, { headers: { authorization: `Bearer ${token}` } })
        )
        expect(list.status).toBe(200)
      }),
    { timeout: 60_000 }
  )
})

describe("POST /api/dev/session elsewhere: a JSON 404 like any unknown path", () => {
  const expectAbsent = Effect.gen(function*() {
    const port = yield* serverPort
    const response = yield* requestWithHost(port, "POST", DEV_SESSION_PATH, `127.0.0.1:${port}`, ALICE)
    expect(response.status).toBe(404)
    expect(errorBodyOf(response).error).toStrictEqual({
      code: "not_found",
      message: `No route for POST ${DEV_SESSION_PATH}.`
    })
    const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
    expect(document.paths[DEV_SESSION_PATH]).toBeUndefined()
  })

  for (const bindHost of ["0.0.0.0", "::", "192.168.1.10"]) {
    it.effect(`the embedded server with HOST=${bindHost}`, () =>
      expectAbsent.pipe(Effect.provide(embeddedApiFor(bindHost))))
  }

  it.effect("the embedded server on loopback with AUTH_JWT_SECRET or AUTH_JWKS_URL set (it signs no token)", () =>
    expectAbsent.pipe(Effect.provide(embeddedApiFor("127.0.0.1", false))))

  it.effect("the API as `npm run serve` and the Lambda function serve it", () =>
    Effect.gen(function*() {
      const response = yield* postSession(ALICE)
      expectApiError(response, 404, "not_found")
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      expect(document.paths[DEV_SESSION_PATH]).toBeUndefined()
    }).pipe(Effect.provide(apiTestLayer())))
})
