// The development outbox page over HTTP: it lists and shows the messages to a browser on this machine, and answers
// 421 in the API's error shape, showing nothing, to a request whose Host names another server (DNS rebinding).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import { EmlOutbox } from "../../../src/adapters/eml/EmlEmailSender.js"
import * as OutboxRoute from "../../../src/adapters/eml/OutboxRoute.js"
import { allowedHosts } from "../../../src/adapters/http/AllowedHosts.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import { EmailSender } from "../../../src/application/ports/EmailSender.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { jobIdAt } from "../../contracts/ContractSupport.js"
import { testJwtSettings } from "../../support/ApiHarness.js"
import { testLayer } from "../../support/Fixtures.js"
import { errorBodyOf, getWithHost, loopbackServerTest, serverPort } from "../../support/LoopbackServer.js"
import { emlEmailSenderInTempDir } from "./EmlSupport.js"

const outboxRoute = Layer.unwrapEffect(
  Effect.map(serverPort, (port) => OutboxRoute.layer(allowedHosts({ bindHost: "127.0.0.1", port })))
)

const serverLayer = () =>
  Layer.mergeAll(ApiServer.layer, outboxRoute).pipe(
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(emlEmailSenderInTempDir()),
    Layer.provideMerge(testLayer(5)),
    Layer.provideMerge(loopbackServerTest)
  )

const SUBJECT = "Your orders export is ready"
const RECIPIENT = "private.person@example.com"

/** Sends one message through the outbox; returns its file name. */
const sendOne = Effect.gen(function*() {
  yield* (yield* EmailSender).send({
    to: Redacted.make(EmailAddress.make(RECIPIENT)),
    subject: SUBJECT,
    text: "Your export is ready.",
    html: "<p>Your export is ready.</p>",
    jobId: jobIdAt(Date.parse("2024-05-06T07:08:09.010Z"))
  })
  const [entry] = yield* (yield* EmlOutbox).listOutbox(1)
  return entry!.file
})

describe("/dev/outbox route", () => {
  it.effect("lists and shows the messages under the loopback names with the server's port", () =>
    Effect.gen(function*() {
      const file = yield* sendOne
      const port = yield* serverPort
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        const page = yield* getWithHost(port, "/dev/outbox", host)
        expect(page.status).toBe(200)
        expect(page.text).toContain(SUBJECT)
        expect(page.text).toContain(RECIPIENT)
        const message = yield* getWithHost(port, `/dev/outbox/${file}`, host)
        expect(message.status).toBe(200)
        expect(message.headers["content-type"]).toContain("message/rfc822")
        expect(message.text).toContain(`To: ${RECIPIENT}`)
      }
    }).pipe(Effect.provide(serverLayer())))

  it.effect("answers 421 and shows nothing when the Host names another server (DNS rebinding)", () =>
    Effect.gen(function*() {
      const file = yield* sendOne
      const port = yield* serverPort
      const hosts = ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]
      for (const host of hosts) {
        for (const path of ["/dev/outbox", `/dev/outbox/${file}`]) {
          const refused = yield* getWithHost(port, path, host)
          expect(refused.status).toBe(421)
          const body = errorBodyOf(refused)
          expect(body.error.code).toBe("misdirected_request")
          expect(body.requestId).toBe(refused.headers["x-request-id"])
          expect(refused.text).not.toContain(RECIPIENT)
        }
      }
    }).pipe(Effect.provide(serverLayer())))
})
