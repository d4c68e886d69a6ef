// GET /api/v1/events as server-sent events, and its tickets (ADR 33). The stream's events come from the application
// (`openEventStream`); this renders them with the API's own views, adds the heartbeat, and answers 501 on a runtime
// that provides no change feed (Lambda behind API Gateway, which cannot stream).
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { DateTime, Duration, Effect, identity, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { EventStreamSettings, openEventStream } from "../../application/EventStream.js"
import type { OwnerEvent } from "../../application/EventStream.js"
import { ChangeFeed } from "../../application/ports/ChangeFeed.js"
import { StreamTickets } from "../../application/ports/StreamTickets.js"
import { ExportApi, ExportView, NotificationView } from "./Api.js"
import {
  fail,
  notificationsUnavailable,
  retryAfterHeader,
  storeUnavailable,
  TOO_MANY_STREAMS_RETRY_AFTER,
  TooManyRequests,
  Unauthorized
} from "./ApiErrors.js"
import { Authentication, CurrentCaller } from "./Authentication.js"
import { EVENTS_PATH, EventStreamAuthentication, NotImplemented, StreamTicket } from "./EventsApi.js"
import { exportView, notificationView } from "./Views.js"

/** The fields of a job's view that an `export` event carries, whichever of them the view has. */
export const EXPORT_EVENT_FIELDS = ["jobId", "status", "progress"] as const
export const NOTIFICATION_EVENT_FIELDS = ["id", "jobId", "kind", "title"] as const

/** How long EventSource waits before it reconnects, told at the start of each stream. */
export const RECONNECT_DELAY = Duration.seconds(3)

const TICKET_REFUSED = "The stream ticket is not valid: it expired or was already used. Ask for a new one."

const picked = (encoded: Record<string, unknown>, fields: ReadonlyArray<string>) =>
  Object.fromEntries(fields.filter((field) => encoded[field] !== undefined).map((field) => [field, encoded[field]]))

const encodeExportView = Schema.encodeSync(ExportView)
const encodeNotificationView = Schema.encodeSync(NotificationView)

/** One event as the wire carries it. Ids are cursors of [A-Za-z0-9_-.]; JSON has no raw line breaks. */
const frame = (id: string, event: string, data: unknown) =>
  `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`

const render = (event: OwnerEvent, now: DateTime.Utc): { readonly key: string; readonly text: string } => {
  const { change } = event
  if (change._tag === "JobChanged") {
    const data = picked(encodeExportView(exportView(change.job, now)), EXPORT_EVENT_FIELDS)
    return { key: change.job.jobId, text: frame(event.id, "export", data) }
  }
  const data = picked(encodeNotificationView(notificationView(change.notification)), NOTIFICATION_EVENT_FIELDS)
  return { key: change.notification.id, text: frame(event.id, "notification", data) }
}

/**
 * The events as text, without the ones that would show a client nothing new: a job's revision moves on with
 * writes the API does not show (a lease renewed, a notice claimed).
 */
const rendered = <E, R>(events: Stream.Stream<OwnerEvent, E, R>) =>
  Stream.suspend(() => {
    const lastData = new Map<string, string>()
    return Stream.mapEffect(events, (event) =>
      Effect.map(DateTime.now, (now) => {
        const { key, text } = render(event, now)
        const data = text.slice(text.indexOf("\ndata: "))
        if (event.change._tag === "JobChanged" && lastData.get(key) === data) return Option.none<string>()
        lastData.set(key, data)
        return Option.some(text)
      })).pipe(Stream.filterMap(identity))
  })

const heartbeats = (every: Duration.Duration) =>
  Stream.fromSchedule(Schedule.spaced(every)).pipe(Stream.as(": keep-alive\n\n"))

/** The stream's authentication: a ticket when the request names one, the API's bearer check otherwise. */
export const layerAuthentication = Layer.effect(
  EventStreamAuthentication,
  Effect.gen(function*() {
    const authentication = yield* Authentication
    const tickets = yield* Effect.serviceOption(StreamTickets)
    const refused = fail(Unauthorized, "unauthorized", TICKET_REFUSED)
    return EventStreamAuthentication.of({
      ticket: (ticket) =>
        Redacted.value(ticket) === "" || Option.isNone(tickets)
          ? refused
          : Effect.flatMap(
            tickets.value.redeem(ticket),
            Option.match({ onNone: () => refused, onSome: (caller) => Effect.succeed(caller) })
          ),
      // Tried after the ticket: a request that named a ticket and sent no token was refused for its ticket.
      bearer: (token) =>
        Effect.flatMap(
          HttpServerRequest.HttpServerRequest,
          (request) =>
            request.headers["authorization"] === undefined &&
              new URL(request.url, "http://api").searchParams.has("ticket")
              ? refused
              : authentication.bearer(token)
        )
    })
  })
)

export const layer = HttpApiBuilder.group(ExportApi, "events", (handlers) =>
  Effect.gen(function*() {
    const live = Option.all({
      feed: yield* Effect.serviceOption(ChangeFeed),
      tickets: yield* Effect.serviceOption(StreamTickets),
      settings: yield* Effect.serviceOption(EventStreamSettings)
    })
    const unavailable = fail(
      NotImplemented,
      "events_unavailable",
      "This server cannot stream events. Poll GET /api/v1/reports/exports and GET /api/v1/notifications instead, " +
        "with If-None-Match."
    )
    return handlers
      .handle("streamEvents", ({ headers, urlParams }) =>
        Option.match(live, {
          onNone: () => unavailable,
          onSome: ({ feed, settings }) =>
            Effect.gen(function*() {
              const caller = yield* CurrentCaller
              const lastEventId = Option.orElse(
                Option.fromNullable(headers["last-event-id"]),
                () => Option.fromNullable(urlParams.lastEventId)
              )
              const events = yield* openEventStream(caller.owner, lastEventId).pipe(
                Effect.provideService(ChangeFeed, feed),
                Effect.provideService(EventStreamSettings, settings),
                Effect.catchTags({
                  TooManyStreams: (refused) =>
                    Effect.zipRight(
                      HttpApp.appendPreResponseHandler((_, response) =>
                        Effect.succeed(
                          HttpServerResponse.setHeader(
                            response,
                            "retry-after",
                            retryAfterHeader(TOO_MANY_STREAMS_RETRY_AFTER)
                          )
                        )
                      ),
                      fail(
                        TooManyRequests,
                        "too_many_streams",
                        `At most ${refused.limit} event streams may be open per user. Close one, or retry later.`
                      )
                    ),
                  JobStoreUnavailable: storeUnavailable,
                  NotificationFailed: notificationsUnavailable
                })
              )
              const body = Stream.merge(
                Stream.concat(Stream.make(`retry: ${Duration.toMillis(RECONNECT_DELAY)}\n\n`), rendered(events)),
                heartbeats(settings.heartbeat),
                { haltStrategy: "left" }
              )
              return HttpServerResponse.stream(Stream.encodeText(body), {
                contentType: "text/event-stream",
                headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
              })
            })
        }))
      .handle("createStreamTicket", () =>
        Option.match(live, {
          onNone: () => unavailable,
          onSome: ({ tickets }) =>
            Effect.gen(function*() {
              const caller = yield* CurrentCaller
              const issued = yield* tickets.issue(caller)
              const now = yield* DateTime.now
              yield* HttpApp.appendPreResponseHandler((_, response) =>
                Effect.succeed(HttpServerResponse.setHeader(response, "cache-control", "no-store"))
              )
              const ticket = Redacted.value(issued.ticket)
              return new StreamTicket({
                ticket,
                expiresAt: DateTime.addDuration(now, issued.expiresIn),
                streamUrl: `${EVENTS_PATH}?ticket=${encodeURIComponent(ticket)}`
              })
            })
        }))
  })).pipe(Layer.provide(layerAuthentication))
