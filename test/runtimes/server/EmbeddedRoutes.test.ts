// The routes `npm start` adds to the API, composed for a listen address given as a parameter while the test server
// itself listens on 127.0.0.1: the development pages exist only for a loopback HOST and answer loopback names only;
// signed file links exist for every HOST and answer the server's own names and PUBLIC_BASE_URL's host.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Stream } from "effect"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import { LocalFiles } from "../../../src/adapters/localfs/LocalFileStore.js"
import { ObjectKey } from "../../../src/domain/ExportJob.js"
import * as EmbeddedServer from "../../../src/runtimes/server/EmbeddedServer.js"
import { emlEmailSenderInTempDir } from "../../adapters/eml/EmlSupport.js"
import { localFileStoreInTempDir } from "../../adapters/localfs/LocalFsSupport.js"
import { testJwtSettings } from "../../support/ApiHarness.js"
import { testLayer } from "../../support/Fixtures.js"
import type { HostResponse } from "../../support/LoopbackServer.js"
import { errorBodyOf, getWithHost, loopbackServerTest, serverPort } from "../../support/LoopbackServer.js"

/** No app is built here: the routes under test are the server's own. */
const NO_WEB_APP = "/nonexistent/web/dist"

/** The embedded routes as they are composed for `HOST=bindHost` (and PUBLIC_BASE_URL when given). */
const serverFor = (bindHost: string, publicBaseUrl?: string) =>
  Layer.mergeAll(
    ApiServer.layer,
    Layer.unwrapEffect(Effect.map(serverPort, (port) =>
      EmbeddedServer.layerRoutes({
        host: bindHost,
        port,
        publicBaseUrl: publicBaseUrl ?? `http://${bindHost.includes(":") ? `[${bindHost}]` : bindHost}:${port}`,
        webAppDir: NO_WEB_APP
      })))
  ).pipe(
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(Layer.merge(localFileStoreInTempDir(), emlEmailSenderInTempDir())),
    Layer.provideMerge(testLayer(5)),
    Layer.provideMerge(loopbackServerTest)
  )

const CONTENT = "Order ID,Total\r\n1,9.99\r\n"

/** The path and query of a valid signed link to a stored file. */
const signedPath = Effect.gen(function*() {
  const store = yield* LocalFiles
  const key = ObjectKey.make("exports/m-acme/01900000-0000-7000-8000-000000000001.csv")
  yield* store.upload(key, Stream.make(new TextEncoder().encode(CONTENT)), {
    contentType: "text/csv; charset=utf-8",
    downloadName: "orders.csv"
  })
  const url = new URL((yield* store.signDownload(key, Duration.hours(1))).url)
  return `${url.pathname}${url.search}`
})

const expectMisdirected = (response: HostResponse) => {
  expect(response.status).toBe(421)
  expect(errorBodyOf(response).error.code).toBe("misdirected_request")
}

describe("embedded routes, HOST on loopback", () => {
  it.effect("the outbox answers the loopback names and refuses any other Host with 421", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        const page = yield* getWithHost(port, "/dev/outbox", host)
        expect(page.status, host).toBe(200)
        expect(page.text).toContain("<h1>Outbox</h1>")
      }
      for (const host of ["evil.example", `evil.example:${port}`]) {
        expectMisdirected(yield* getWithHost(port, "/dev/outbox", host))
      }
    }).pipe(Effect.provide(serverFor("127.0.0.1"))))

  it.effect("a valid signed link is served under the loopback names and refused under another Host", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      const path = yield* signedPath
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        const file = yield* getWithHost(port, path, host)
        expect(file.status, host).toBe(200)
        expect(file.text).toBe(CONTENT)
      }
      for (const host of ["evil.example", `evil.example:${port}`]) {
        const refused = yield* getWithHost(port, path, host)
        expectMisdirected(refused)
        expect(refused.text).not.toContain("Order ID")
      }
    }).pipe(Effect.provide(serverFor("127.0.0.1"))))

  it.effect("with PUBLIC_BASE_URL elsewhere (a tunnel), links answer its host and the outbox does not", () =>
    Effect.gen(function*() {
      const port = yield* serverPort
      const file = yield* getWithHost(port, yield* signedPath, "exports.example.com")
      expect(file.status).toBe(200)
      expect(file.text).toBe(CONTENT)
      expectMisdirected(yield* getWithHost(port, "/dev/outbox", "exports.example.com"))
    }).pipe(Effect.provide(serverFor("127.0.0.1", "https://exports.example.com"))))
})

describe("embedded routes, HOST on every interface or a LAN address", () => {
  for (const bindHost of ["0.0.0.0", "::", "192.168.1.10"]) {
    it.effect(`HOST=${bindHost}: /dev/* is 404 like any unknown path, even under a loopback name`, () =>
      Effect.gen(function*() {
        const port = yield* serverPort
        const unknown = yield* getWithHost(port, "/no-such-page", `127.0.0.1:${port}`)
        expect(unknown.status).toBe(404)
        for (const path of ["/dev/outbox", "/dev/outbox/20240506T070809010Z-000000000-0123abcd.eml"]) {
          const response = yield* getWithHost(port, path, `127.0.0.1:${port}`)
          expect(response.status, path).toBe(404)
          expect(errorBodyOf(response).error).toStrictEqual({
            code: "not_found",
            message: `No route for GET ${path}.`
          })
        }
      }).pipe(Effect.provide(serverFor(bindHost))))

    it.effect(`HOST=${bindHost}: signed links are still served, under the server's own names only`, () =>
      Effect.gen(function*() {
        const port = yield* serverPort
        const path = yield* signedPath
        const own = bindHost === "192.168.1.10" ? [`192.168.1.10:${port}`, `127.0.0.1:${port}`] : [`127.0.0.1:${port}`]
        for (const host of own) {
          const file = yield* getWithHost(port, path, host)
          expect(file.status, host).toBe(200)
          expect(file.text).toBe(CONTENT)
        }
        for (const host of ["evil.example", `evil.example:${port}`]) {
          expectMisdirected(yield* getWithHost(port, path, host))
        }
      }).pipe(Effect.provide(serverFor(bindHost))))
  }
})
