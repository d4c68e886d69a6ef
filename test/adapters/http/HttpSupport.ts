// Helpers for the API tests: raw requests that keep status, headers and the text of the response, and checks of
// the one error shape every failure answers with.
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { expect } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import { CalendarDate } from "../../../src/domain/Reports.js"

export const EXPORT_PATH = "/api/v1/reports/export"
export const EXPORTS_PATH = "/api/v1/reports/exports"
export const NOTIFICATIONS_PATH = "/api/v1/notifications"

/** A well-formed orders export, typed for the client; other dates make another export. */
export const ordersBody = (dateFrom = "2024-01-01", dateTo = "2024-03-31") => ({
  reportType: "orders" as const,
  format: "csv" as const,
  dateFrom: CalendarDate.make(dateFrom),
  dateTo: CalendarDate.make(dateTo)
})

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The body parsed as JSON; undefined when it is not JSON. */
  readonly json: unknown
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Sends `request` to the test server and reads the whole response. */
export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(request)
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text, json: parseJson(text) } satisfies RawResponse
  })

/** GET `path`, with a bearer token when one is given, and extra headers. */
export const getRaw = (path: string, token?: string, headers: Record<string, string> = {}) =>
  send(
    HttpClientRequest.get(path).pipe(
      (request) => token === undefined ? request : HttpClientRequest.bearerToken(request, token),
      HttpClientRequest.setHeaders(headers)
    )
  )

/** POST `path` without a body, with a bearer token. */
export const postEmpty = (path: string, token: string) =>
  send(HttpClientRequest.post(path).pipe(HttpClientRequest.bearerToken(token)))

/** POST /api/v1/reports/export with `body` serialised as JSON, and extra headers. */
export const postExport = (token: string, body: unknown, headers: Record<string, string> = {}) =>
  send(
    HttpClientRequest.post(EXPORT_PATH).pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bodyText(JSON.stringify(body), "application/json")
    )
  )

export interface FieldIssue {
  readonly field: string
  readonly rule: string
  readonly message: string
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: ReadonlyArray<FieldIssue> }
  readonly requestId: string
}

/** The error shape: `{ error: { code, message, details? }, requestId }` and nothing else, as JSON. */
const expectErrorShape = (response: RawResponse, code: string): ErrorBody => {
  expect(response.headers["content-type"]).toMatch(/^application\/json/)
  const body = response.json as ErrorBody
  expect(Object.keys(body).sort()).toStrictEqual(["error", "requestId"])
  expect(Object.keys(body.error).every((key) => ["code", "message", "details"].includes(key))).toBe(true)
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe("string")
  expect(body.error.message.length).toBeGreaterThan(0)
  expect(typeof body.requestId).toBe("string")
  expect(body.requestId.length).toBeGreaterThan(0)
  return body
}

/** An error answered with exactly `status` and `code`, in the one error shape. Returns the body. */
export const expectApiError = (response: RawResponse, status: number, code: string): ErrorBody => {
  expect(response.status, response.text).toBe(status)
  return expectErrorShape(response, code)
}

/** The status each error code is answered with: part of the API's contract. */
export const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  invalid_request: 400,
  malformed_json: 400,
  unreadable_body: 400,
  unauthorized: 401,
  token_expired: 401,
  export_not_found: 404,
  notification_not_found: 404,
  not_found: 404,
  misdirected_request: 421,
  idempotency_key_reused: 409,
  export_not_ready: 409,
  export_finished: 409,
  export_not_retryable: 409,
  export_expired: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_exports: 429,
  too_many_streams: 429,
  queue_unavailable: 503,
  store_unavailable: 503,
  notifications_unavailable: 503,
  download_unavailable: 503,
  not_ready: 503,
  auth_unavailable: 503,
  audit_unavailable: 503
}

const statusOfCode = (code: string): number => {
  const status = STATUS_OF_CODE[code]
  if (status === undefined) throw new Error(`no status known for error code ${code}`)
  return status
}

/** A client error with `code`, answered with that code's status, in the one error shape. */
export const expectRefused = (response: RawResponse, code: string): ErrorBody => {
  expect(statusOfCode(code)).toBeLessThan(500)
  return expectApiError(response, statusOfCode(code), code)
}

/** An error with `code`, answered with that code's status, in the one error shape. */
export const expectError = (response: RawResponse, code: string): ErrorBody =>
  expectApiError(response, statusOfCode(code), code)

/** The `(field, rule)` pairs of an error's details, without their messages. */
export const issuesOf = (body: ErrorBody): Array<{ field: string; rule: string }> =>
  (body.error.details ?? []).map(({ field, rule }) => ({ field, rule }))

export const epochMillisOf = (iso: string): number => DateTime.toEpochMillis(DateTime.unsafeMake(iso))
