// GET /api/v1/events read by a real HTTP client (node's fetch, body read as it streams) from the API served on
// node:http, over the memory adapters whose stores publish to the in-process change feed, as the embedded server's do.
import type { HttpServer } from "@effect/platform"
import { HttpServer as Server } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Logger, Option, Scope } from "effect"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import * as ApiNodeServer from "../../../src/adapters/http/ApiNodeServer.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import * as InProcessChangeFeed from "../../../src/adapters/inprocess/InProcessChangeFeed.js"
import * as InProcessStreamTickets from "../../../src/adapters/inprocess/InProcessStreamTickets.js"
import * as PublishingStores from "../../../src/adapters/inprocess/PublishingStores.js"
import type { EventStreamSettingsShape } from "../../../src/application/EventStream.js"
import { EventStreamSettings } from "../../../src/application/EventStream.js"
import { apiTestLayer, testJwtSettings, tokenFor } from "../../support/ApiHarness.js"
import { awaitEvents, eventStream, exportEvents, openEventStream, statusesOf } from "../../support/EventStreamClient.js"
import { alice, bob, callerOf, dayOf2024, drainQueue, testLayer } from "../../support/Fixtures.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import { expectApiError, ordersBody, postExport } from "./HttpSupport.js"

const EVENTS = "/api/v1/events"

const eventsApiLayer = (settings: Partial<EventStreamSettingsShape> = {}) => {
  const events = PublishingStores.layer.pipe(
    Layer.provideMerge(Layer.merge(InProcessChangeFeed.layer(), InProcessStreamTickets.layer)),
    Layer.provideMerge(EventStreamSettings.layerWith(settings))
  )
  // apiTestLayer's API over the memory adapters, with the stores replaced by their publishing decorators.
  return ApiServer.layer.pipe(
    Layer.provideMerge(ApiNodeServer.layerServerTest),
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(events),
    Layer.provideMerge(testLayer())
  )
}

const baseUrl = Effect.map(Server.HttpServer, (server: HttpServer.HttpServer) => {
  const address = server.address as HttpServer.TcpAddress
  return `http://127.0.0.1:${address.port}`
})

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

const acceptedJobId = (response: { readonly json: unknown }) => (response.json as { jobId: string }).jobId

describe("GET /api/v1/events", () => {
  it.scopedLive("an export's events arrive queued, running, succeeded, then its notification, each with an id", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const token = yield* tokenFor(alice)
      const stream = yield* eventStream(`${base}${EVENTS}`, bearer(token))
      expect(stream.status).toBe(200)
      expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/)
      const jobId = acceptedJobId(yield* postExport(token, ordersBody()))
      yield* awaitEvents(stream, (s) => statusesOf(s, jobId).includes("queued"))
      yield* drainQueue
      yield* awaitEvents(stream, (s) => s.events.some((event) => event.event === "notification"))
      expect(statusesOf(stream, jobId)).toStrictEqual(["queued", "running", "succeeded"])
      const notice = stream.events.find((event) => event.event === "notification")!
      expect(notice.data).toMatchObject({ jobId, kind: "export_succeeded" })
      expect(Object.keys(notice.data).sort()).toStrictEqual(["id", "jobId", "kind", "title"])
      expect(stream.events.every((event) => event.id !== undefined && /^[A-Za-z0-9_-]+\.\d+$/.test(event.id))).toBe(
        true
      )
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer())))

  it.scopedLive("resumes after Last-Event-ID with exactly what followed it, and starts from the current state otherwise", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const token = yield* tokenFor(alice)
      const earlier = acceptedJobId(yield* postExport(token, ordersBody(dayOf2024(0), dayOf2024(10))))
      const first = yield* eventStream(`${base}${EVENTS}`, bearer(token))
      // A fresh stream starts with the current state: the export already queued.
      yield* awaitEvents(first, (s) => statusesOf(s, earlier).includes("queued"))
      const jobId = acceptedJobId(yield* postExport(token, ordersBody()))
      yield* awaitEvents(first, (s) => statusesOf(s, jobId).includes("queued"))
      const lastSeen = first.events[first.events.length - 1]!.id!
      first.close()
      // While nobody listens, both exports run.
      yield* drainQueue
      const resumed = yield* eventStream(`${base}${EVENTS}`, { ...bearer(token), "last-event-id": lastSeen })
      yield* awaitEvents(resumed, (s) => s.events.filter((event) => event.event === "notification").length === 2)
      // Exactly the changes after the last event seen, in the order they happened: nothing of the state it had.
      const exportsOrder = resumed.events.filter((event) => event.event === "export").map((event) =>
        `${event.data["jobId"] === earlier ? "earlier" : "later"} ${String(event.data["status"])}`
      )
      expect(exportsOrder).toStrictEqual(["earlier running", "earlier succeeded", "later running", "later succeeded"])
      const ids = resumed.events.map((event) => Number(event.id!.split(".")[1]))
      expect(ids).toStrictEqual([...ids].sort((a, b) => a - b))
      expect(ids[0]).toBeGreaterThan(Number(lastSeen.split(".")[1]))

      // An id this process never gave (another process's, or from before a restart): the current state.
      const fresh = yield* eventStream(`${base}${EVENTS}`, { ...bearer(token), "last-event-id": "elsewhere.3" })
      yield* awaitEvents(fresh, (s) => statusesOf(s, earlier).length > 0 && statusesOf(s, jobId).length > 0)
      expect([statusesOf(fresh, earlier), statusesOf(fresh, jobId)]).toStrictEqual([["succeeded"], ["succeeded"]])
      yield* awaitEvents(fresh, (s) => s.events.filter((event) => event.event === "notification").length === 2)
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer())))

  it.scopedLive("sends a keep-alive comment every heartbeat interval", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const stream = yield* eventStream(`${base}${EVENTS}`, bearer(yield* tokenFor(alice)))
      yield* awaitEvents(stream, (s) => s.comments.filter((comment) => comment === "keep-alive").length >= 2, 2000)
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer({ heartbeat: Duration.millis(100) }))))

  it.scopedLive("refuses a user's stream beyond the cap with 429 and Retry-After, and counts each user apart", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const token = yield* tokenFor(alice)
      const first = yield* eventStream(`${base}${EVENTS}`, bearer(token))
      yield* eventStream(`${base}${EVENTS}`, bearer(token))
      const third = yield* eventStream(`${base}${EVENTS}`, bearer(token))
      expect(third.status).toBe(429)
      expect(third.headers.get("retry-after")).toBe("10")
      expectApiError(
        {
          status: third.status,
          headers: Object.fromEntries(third.headers),
          text: third.text,
          json: JSON.parse(third.text)
        },
        429,
        "too_many_streams"
      )
      const bobs = yield* eventStream(`${base}${EVENTS}`, bearer(yield* tokenFor(bob)))
      expect(bobs.status).toBe(200)
      // A closed stream frees its place.
      first.close()
      yield* Effect.promise(() =>
        (async () => {
          // The server notices the client leave on its own time: up to 10 s on a loaded machine.
          for (let attempt = 0; attempt < 500; attempt++) {
            const again = await openEventStream(`${base}${EVENTS}`, bearer(token))
            again.close()
            if (again.status === 200) return
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
          throw new Error("the closed stream's place was never freed")
        })()
      )
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer({ streamsPerUser: 2 }))))

  it.scopedLive("never shows a user another owner's exports or notifications, of another merchant or the same one", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const aliceToken = yield* tokenFor(alice)
      const colleague = callerOf("carol", alice.owner.merchantId)
      const others = [yield* tokenFor(bob), yield* tokenFor(colleague), yield* tokenFor(callerOf("alice", "m-other"))]
      const othersBefore = yield* Effect.forEach(others, (token) => postExport(token, ordersBody()))
      const stream = yield* eventStream(`${base}${EVENTS}`, bearer(aliceToken))
      const othersAfter = yield* Effect.forEach(
        others,
        (token) => postExport(token, ordersBody(dayOf2024(1), dayOf2024(2)))
      )
      const mine = acceptedJobId(yield* postExport(aliceToken, ordersBody()))
      yield* drainQueue
      yield* awaitEvents(stream, (s) => s.events.some((event) => event.event === "notification"))
      const foreign = new Set([...othersBefore, ...othersAfter].map(acceptedJobId))
      expect(stream.events.filter((event) => foreign.has(String(event.data["jobId"])))).toStrictEqual([])
      expect(statusesOf(stream, mine)).toStrictEqual(["queued", "running", "succeeded"])
      expect(stream.events.filter((event) => event.event === "notification").length).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer())))

  it.scopedLive("answers 401 in the API's error shape without a token or ticket", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const stream = yield* eventStream(`${base}${EVENTS}`)
      expect(stream.status).toBe(401)
      expect((JSON.parse(stream.text) as { error: { code: string } }).error.code).toBe("unauthorized")
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer())))

  it.live("a server that stops ends its open streams rather than waiting for their clients to leave", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(eventsApiLayer(), scope)
      const base = yield* baseUrl.pipe(Effect.provide(context))
      const token = yield* tokenFor(alice).pipe(Effect.provide(context))
      const stream = yield* Effect.promise(() => openEventStream(`${base}${EVENTS}`, bearer(token)))
      expect(stream.status).toBe(200)
      // An EventSource never leaves by itself: the stop must not wait on it (it reconnects to a live server).
      const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
      const stopped = yield* Fiber.await(stopping).pipe(Effect.timeout(Duration.seconds(5)), Effect.option)
      stream.close()
      yield* Fiber.await(stopping)
      expect(Option.isSome(stopped)).toBe(true)
    }))
})

describe("stream tickets", () => {
  const issueTicket = (base: string, token: string) =>
    Effect.promise(async () => {
      const response = await fetch(`${base}/api/v1/events/tickets`, { method: "POST", headers: bearer(token) })
      return {
        status: response.status,
        cacheControl: response.headers.get("cache-control"),
        body: (await response.json()) as { ticket: string; expiresAt: string; streamUrl: string }
      }
    })

  it.scopedLive("opens one stream for its user, once, and never appears in a log line", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const base = yield* baseUrl
      const token = yield* tokenFor(alice)
      const issued = yield* issueTicket(base, token)
      expect(issued.status).toBe(201)
      expect(issued.cacheControl).toBe("no-store")
      expect(issued.body.streamUrl).toBe(`${EVENTS}?ticket=${issued.body.ticket}`)
      const jobId = acceptedJobId(yield* postExport(token, ordersBody()))
      const stream = yield* eventStream(`${base}${issued.body.streamUrl}`)
      expect(stream.status).toBe(200)
      yield* awaitEvents(stream, (s) => statusesOf(s, jobId).includes("queued"))
      const again = yield* eventStream(`${base}${issued.body.streamUrl}`)
      expect(again.status).toBe(401)
      expect(JSON.parse(again.text)).toMatchObject({ error: { code: "unauthorized" } })
      // A ticket another user's token was sent with is still judged alone: bob's ticket opens bob's stream.
      const bobsToken = yield* tokenFor(bob)
      const bobs = yield* issueTicket(base, bobsToken)
      const bobStream = yield* eventStream(`${base}${bobs.body.streamUrl}`)
      // A stream opens with its user's exports as they are: bob's own export arriving after that says the opening
      // has been read, and alice's was not in it.
      const bobsJobId = acceptedJobId(yield* postExport(bobsToken, ordersBody()))
      yield* awaitEvents(bobStream, (s) => statusesOf(s, bobsJobId).includes("queued"))
      expect(exportEvents(bobStream, jobId)).toStrictEqual([])
      // The server's lines are collected (its access lines name the stream's path), and none holds the ticket.
      expect(JSON.stringify(logs.lines)).toContain(EVENTS)
      expect(JSON.stringify(logs.lines)).not.toContain(issued.body.ticket)
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer()), Effect.provide(Logger.add(logs.logger)))
  })

  it.scopedLive("is refused once expired", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const issued = yield* issueTicket(base, yield* tokenFor(alice))
      yield* Effect.sleep(Duration.millis(300))
      const stream = yield* eventStream(`${base}${issued.body.streamUrl}`)
      expect(stream.status).toBe(401)
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer({ ticketTtl: Duration.millis(200) }))))
})

describe("the OpenAPI document", () => {
  it.scopedLive("describes the stream as text/event-stream with its errors, and the ticket route", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const document = yield* Effect.promise(() =>
        fetch(`${base}/openapi.json`).then((r) => r.json())
      ) as Effect.Effect<{
        paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>
      }>
      const stream = document.paths[EVENTS]!["get"]!
      expect(Object.keys(stream.responses["200"]!.content!)).toStrictEqual(["text/event-stream"])
      expect(Object.keys(stream.responses).sort()).toEqual(expect.arrayContaining(["401", "429", "501", "503"]))
      expect(Object.keys(document.paths["/api/v1/events/tickets"]!["post"]!.responses)).toContain("201")
    }).pipe(Effect.scoped, Effect.provide(eventsApiLayer())))
})

describe("a runtime without a change feed (Lambda)", () => {
  it.scopedLive("answers 501 events_unavailable for the stream and its tickets", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const token = yield* tokenFor(alice)
      const stream = yield* eventStream(`${base}${EVENTS}`, bearer(token))
      expect(stream.status).toBe(501)
      expect(JSON.parse(stream.text)).toMatchObject({ error: { code: "events_unavailable" } })
      const ticket = yield* Effect.promise(() =>
        fetch(`${base}/api/v1/events/tickets`, { method: "POST", headers: bearer(token) }).then((r) => r.status)
      )
      expect(ticket).toBe(501)
    }).pipe(Effect.scoped, Effect.provide(apiTestLayer())))
})
