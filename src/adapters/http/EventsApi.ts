// The event stream's part of the API (ADR 33): GET /api/v1/events, a text/event-stream of the caller's export and
// notification events, authenticated by the bearer token or by a single-use ticket in the query (for EventSource,
// which cannot send headers); POST /api/v1/events/tickets issues such a ticket.
import {
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"
import { errorFields, ServiceUnavailable, TooManyRequests, Unauthorized } from "./ApiErrors.js"
import { Authentication, CurrentCaller } from "./Authentication.js"

export const EVENTS_PATH = "/api/v1/events"
export const TICKETS_PATH = "/api/v1/events/tickets"

/** On a runtime that cannot hold a response open (Lambda behind API Gateway's HTTP API). */
export class NotImplemented extends Schema.Class<NotImplemented>("NotImplemented")(
  errorFields("events_unavailable"),
  HttpApiSchema.annotations({ status: 501 })
) {}

export class StreamTicket extends Schema.Class<StreamTicket>("StreamTicket")({
  /** Valid once, until `expiresAt`: pass it as `?ticket=` to GET /api/v1/events. */
  ticket: Schema.String,
  expiresAt: Schema.DateTimeUtc,
  /** The stream's path with the ticket: what to give `new EventSource(...)`. */
  streamUrl: Schema.String
}) {}

/**
 * The stream's authentication: a ticket from POST /api/v1/events/tickets in the query, or the bearer token. The
 * ticket is tried first; a request that names one is judged by it alone.
 */
export class EventStreamAuthentication
  extends HttpApiMiddleware.Tag<EventStreamAuthentication>()("exports/http/EventStreamAuthentication", {
    failure: Schema.Union(Unauthorized, ServiceUnavailable),
    provides: CurrentCaller,
    security: {
      ticket: HttpApiSecurity.apiKey({ key: "ticket", in: "query" }).pipe(
        HttpApiSecurity.annotate(
          OpenApi.Description,
          "A single-use stream ticket from POST /api/v1/events/tickets, for EventSource, which cannot send headers."
        )
      ),
      bearer: HttpApiSecurity.bearer
    }
  })
{}

const EventStreamText = HttpApiSchema.Text({ contentType: "text/event-stream" }).annotations({
  description: "Server-sent events. `event: export` with `data: { jobId, status, progress? }` (the job as " +
    "GET /api/v1/reports/exports/{jobId} shows those fields); `event: notification` with " +
    "`data: { id, jobId, kind, title }`; every event has an `id:`, and `: keep-alive` comments come between them."
})

export class EventsGroup extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("streamEvents", EVENTS_PATH)
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Schema.String) }))
      // A new EventSource cannot send Last-Event-ID: a client that opens one with a fresh ticket names it here.
      .setUrlParams(Schema.Struct({ lastEventId: Schema.optional(Schema.String) }))
      .addSuccess(EventStreamText)
      .addError(TooManyRequests)
      .middleware(EventStreamAuthentication)
      .annotate(OpenApi.Summary, "The caller's live export and notification events")
      .annotate(
        OpenApi.Description,
        "A text/event-stream for the signed-in user. A fresh stream starts with the state of the user's newest and " +
          "in-progress exports and unread notifications, then sends each change. Reconnecting with `Last-Event-ID` " +
          "(or `?lastEventId=`, for a new EventSource) continues after that event when the server still holds what " +
          "followed, and starts from the current state otherwise. A `: keep-alive` comment comes every 15 seconds. At most `EVENT_STREAMS_PER_USER` (5) streams " +
          "per user at once: one more is a 429 with Retry-After. Authenticate with the bearer token, or with " +
          "`?ticket=` from POST /api/v1/events/tickets (EventSource). On API Gateway (Lambda) the stream is " +
          "unavailable (501): poll the exports and notifications with If-None-Match instead."
      )
  )
  .add(
    HttpApiEndpoint.post("createStreamTicket", TICKETS_PATH)
      .addSuccess(StreamTicket, { status: 201 })
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "A single-use ticket to open the event stream from a browser")
      .annotate(
        OpenApi.Description,
        "For `new EventSource(streamUrl)`, which cannot send the Authorization header: the ticket opens one stream, " +
          "within a minute. Ask for a new one for each (re)connection."
      )
  )
  .addError(NotImplemented)
  .addError(ServiceUnavailable)
{}
