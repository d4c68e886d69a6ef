// The development sign-in (ADR 34): POST /api/dev/session signs a token for any user, merchant and email, so it is
// declared apart from the API and added only by the embedded runtime (`npm start`) listening on loopback.
// `EmbeddedApi` is the API with it, for that runtime's server, its /openapi.json and the web app's typed client.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { EmailAddress, MerchantId, UserId } from "../../domain/Identifiers.js"
import { CalendarDate } from "../../domain/Reports.js"
import { RuleAnnotationId } from "../../domain/Validation.js"
import { ExportApi } from "./Api.js"
import { BadRequest, MisdirectedRequest, PayloadTooLarge, UnsupportedMediaType } from "./ApiErrors.js"

export const DEV_SESSION_PATH = "/api/dev/session"

const ruled = <S extends Schema.Schema.Any>(schema: S, rule: string, message: string) =>
  schema.annotations({ [RuleAnnotationId]: { rule, message } }) as S

/**
 * Who to sign in as: the token's `sub`, merchant and email claims, each with the rule a client is told it broke
 * (the identifiers' own checks, whichever of them failed).
 */
export const DevSessionFields = Schema.Struct({
  user: ruled(UserId, "user-id", "must be 1 to 255 characters, not starting or ending with spaces"),
  merchant: ruled(MerchantId, "merchant-id", "must be 1 to 64 letters, digits, '_' or '-'"),
  email: ruled(EmailAddress, "email", "must be an email address of at most 254 characters")
})

/** The body as a client writes it: plain strings, with the rules the server checks (and the OpenAPI shows). */
export const DevSessionRequest = Schema.encodedBoundSchema(DevSessionFields).annotations({
  identifier: "DevSessionRequest"
})

/** The days the embedded server's demo data covers, both included: a client opens on a range that has rows. */
export class DemoDays extends Schema.Class<DemoDays>("DemoDays")({
  dateFrom: CalendarDate,
  dateTo: CalendarDate
}) {}

export class DevSession extends Schema.Class<DevSession>("DevSession")({
  /** A bearer token for every /api route, signed as `npm run dev-token` signs it. */
  token: Schema.String,
  expiresAt: Schema.DateTimeUtc,
  demoDays: Schema.optional(DemoDays)
}) {}

export class DevSessionGroup extends HttpApiGroup.make("dev")
  .add(
    HttpApiEndpoint.post("createSession", DEV_SESSION_PATH)
      .setPayload(DevSessionRequest)
      .addSuccess(DevSession)
      .addError(BadRequest)
      .addError(MisdirectedRequest)
      .addError(PayloadTooLarge)
      .addError(UnsupportedMediaType)
      .annotate(OpenApi.Summary, "Development only: sign in as anyone")
      .annotate(
        OpenApi.Description,
        "Exists only in the embedded server (`npm start`) listening on a loopback address with its generated secret, " +
          "and answers only requests naming it 127.0.0.1, localhost or [::1] (421 otherwise). Signs a token for the " +
          "given user, merchant and email, valid 8 hours, as `npm run dev-token` does. Never part of a production " +
          "API: `npm run serve` and the Lambda function answer 404."
      )
  )
  .annotate(OpenApi.Description, "Development only (embedded server on loopback)")
{}

/** The API of the embedded server on loopback: the production API and the development sign-in. */
export class EmbeddedApi extends ExportApi.add(DevSessionGroup) {}
