// The embedded server's /files route over HTTP: a signed link downloads the file with its name and type; a
// tampered link is 403, an expired one 410, a link to a deleted file 404, a request under another host name 421,
// each in the API's error shape.
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Stream, TestClock } from "effect"
import { rmSync } from "node:fs"
import { join } from "node:path"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import { allowedHosts } from "../../../src/adapters/http/AllowedHosts.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import * as FilesRoute from "../../../src/adapters/localfs/FilesRoute.js"
import { LocalFiles } from "../../../src/adapters/localfs/LocalFileStore.js"
import { ObjectKey } from "../../../src/domain/ExportJob.js"
import { testJwtSettings } from "../../support/ApiHarness.js"
import { testLayer } from "../../support/Fixtures.js"
import { errorBodyOf, getWithHost, loopbackServerTest, serverPort } from "../../support/LoopbackServer.js"
import { withTamperedSignature } from "../../support/Tampering.js"
import { localFileStoreInTempDir } from "./LocalFsSupport.js"

// The route answers the loopback names with the port the test server got.
const filesRoute = Layer.unwrapEffect(
  Effect.map(serverPort, (port) => FilesRoute.layer(allowedHosts({ bindHost: "127.0.0.1", port })))
)

const serverLayer = () =>
  Layer.mergeAll(ApiServer.layer, filesRoute).pipe(
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(localFileStoreInTempDir()),
    Layer.provideMerge(testLayer(5)),
    Layer.provideMerge(loopbackServerTest)
  )

const key = ObjectKey.make("exports/m-acme/01900000-0000-7000-8000-000000000001.csv")
const content = "Name,Note\r\nCafé,\"a, b\"\r\n"

const uploadAndSign = (ttl: Duration.Duration) =>
  Effect.gen(function*() {
    const store = yield* LocalFiles
    yield* store.upload(key, Stream.make(new TextEncoder().encode(content)), {
      contentType: "text/csv; charset=utf-8",
      downloadName: "orders_café.csv"
    })
    const link = yield* store.signDownload(key, ttl)
    return new URL(link.url)
  })

const get = (url: URL) =>
  Effect.flatMap(
    HttpClient.HttpClient,
    (client) => client.execute(HttpClientRequest.get(`${url.pathname}${url.search}`))
  )

describe("/files route", () => {
  it.effect("serves a signed link with the file's type, name and bytes", () =>
    Effect.gen(function*() {
      const response = yield* get(yield* uploadAndSign(Duration.hours(1)))
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toBe("text/csv; charset=utf-8")
      expect(response.headers["content-disposition"]).toBe(
        "attachment; filename=\"orders_caf_.csv\"; filename*=UTF-8''orders_caf%C3%A9.csv"
      )
      expect(response.headers["cache-control"]).toBe("private, no-store")
      expect(yield* response.text).toBe(content)
    }).pipe(Effect.provide(serverLayer())))

  it.effect("answers a tampered link with 403 before reading anything", () =>
    Effect.gen(function*() {
      const url = yield* uploadAndSign(Duration.hours(1))
      const tampered = [
        new URL(url.href.replace("m-acme", "m-globex")),
        new URL(url.href.replace(/expires=\d+/, (m) => `${m}9`)),
        new URL(withTamperedSignature(url.href))
      ]
      for (const link of tampered) {
        const response = yield* get(link)
        expect(response.status).toBe(403)
        const body = (yield* response.json) as { error: { code: string }; requestId: string }
        expect(body.error.code).toBe("link_invalid")
        expect(body.requestId).toBe(response.headers["x-request-id"])
      }
    }).pipe(Effect.provide(serverLayer())))

  it.effect("answers 410 once the link has expired", () =>
    Effect.gen(function*() {
      const url = yield* uploadAndSign(Duration.hours(1))
      yield* TestClock.adjust(Duration.sum(Duration.hours(1), Duration.seconds(2)))
      const response = yield* get(url)
      expect(response.status).toBe(410)
      expect(((yield* response.json) as { error: { code: string } }).error.code).toBe("link_expired")
    }).pipe(Effect.provide(serverLayer())))

  it.effect("answers 404 when the file is gone", () =>
    Effect.gen(function*() {
      const url = yield* uploadAndSign(Duration.hours(1))
      const store = yield* LocalFiles
      rmSync(join(store.root, key))
      const response = yield* get(url)
      expect(response.status).toBe(404)
      expect(((yield* response.json) as { error: { code: string } }).error.code).toBe("file_not_found")
    }).pipe(Effect.provide(serverLayer())))

  it.effect("answers a valid link only under the server's own names: another Host is 421 (DNS rebinding)", () =>
    Effect.gen(function*() {
      const url = yield* uploadAndSign(Duration.hours(1))
      const port = yield* serverPort
      const path = `${url.pathname}${url.search}`
      for (const host of ["evil.example", `evil.example:${port}`]) {
        const refused = yield* getWithHost(port, path, host)
        expect(refused.status).toBe(421)
        const body = errorBodyOf(refused)
        expect(body.error.code).toBe("misdirected_request")
        expect(body.requestId).toBe(refused.headers["x-request-id"])
        expect(refused.text).not.toContain("Café")
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        const served = yield* getWithHost(port, path, host)
        expect(served.status).toBe(200)
        expect(served.text).toBe(content)
      }
    }).pipe(Effect.provide(serverLayer())))
})
