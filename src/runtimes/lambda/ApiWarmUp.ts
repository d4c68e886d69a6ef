// The API's first answers, given once while its startup snapshot is built (ADR 55): the same app as the function's
// (ApiApp's layers, the gateway's authentication, ApiGatewayHttp's translation) on in-memory ports, no settings, the
// logs off, asked what a first event usually asks: an export, then its status and the list. What this leaves behind
// in the heap (the schemas' parsers, the platform's and Effect's lazily made values) is in the blob, so the
// function's first answer does not make it again. The app itself is thrown away: its ports and authentication are
// the function's settings', read only after deserialisation. Every request names its `x-request-id`, so that no
// random id is drawn here (`crypto.randomUUID` would fill its pool of ids into the blob, ADR 52).
import { HttpServer } from "@effect/platform"
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda"
import { ConfigProvider, Context, Layer, Logger, LogLevel, Option } from "effect"
import * as GatewayAuthentication from "../../adapters/auth/GatewayAuthentication.js"
import { GatewayRequestContext } from "../../adapters/auth/GatewayAuthentication.js"
import * as ApiApp from "../../adapters/http/ApiApp.js"
import { ReadinessChecks } from "../../adapters/http/HealthHttp.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as MemoryAdapters from "../../adapters/memory/MemoryAdapters.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { gatewayRequestOf, toGatewayHandler } from "./ApiGatewayHttp.js"

const API_ID = "warm-up"
const HOST = "warm-up.invalid"
const CLAIMS = { sub: "warm-up", merchant_id: "m-warm-up", email: "warm-up@example.invalid" }

/** API Gateway's event (HTTP API, payload 2.0) for `method` on `path`, from the JWT authorizer's `CLAIMS`. */
const gatewayEvent = (
  method: string,
  path: string,
  body?: string
): APIGatewayProxyEventV2WithJWTAuthorizer => ({
  version: "2.0",
  routeKey: "$default",
  rawPath: path,
  rawQueryString: "",
  headers: {
    host: HOST,
    "x-request-id": "warm-up",
    ...(body === undefined ? {} : { "content-type": "application/json" })
  },
  requestContext: {
    accountId: "000000000000",
    apiId: API_ID,
    authorizer: { principalId: "", integrationLatency: 0, jwt: { claims: CLAIMS, scopes: [] } },
    domainName: HOST,
    domainPrefix: "warm-up",
    http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "warm-up" },
    requestId: "warm-up",
    routeKey: "$default",
    stage: "$default",
    time: "01/Jan/2026:00:00:00 +0000",
    timeEpoch: 0
  },
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false
})

// UTC: a name in the domain's list of zones (Reports.ts), so checking it builds that list into the blob, and with it
// every listed zone's first check, without an Intl.DateTimeFormat, whose ICU state no snapshot keeps.
const EXPORT = JSON.stringify({
  reportType: "orders",
  format: "csv",
  dateFrom: "2025-01-01",
  dateTo: "2025-01-31",
  timezone: "UTC"
})

/** Serves the warm-up's requests; fails (and with it the snapshot's build) on any answer but the one expected. */
export const warmUpApi = async (): Promise<void> => {
  const ports = Layer.mergeAll(
    MemoryAdapters.layer(() => []),
    ExportSettings.layer,
    HttpExportLinks.layerConfigWithDefault(),
    ReadinessChecks.none
  )
  const authentication = GatewayAuthentication.layer({
    apiId: API_ID,
    stage: Option.none(),
    names: { merchantClaim: "merchant_id", emailClaim: "email" }
  })
  const { dispose, handler } = toGatewayHandler(Layer.mergeAll(
    ApiApp.layerApp.pipe(
      Layer.provide(authentication),
      Layer.provide(ports),
      // Every setting at its default: nothing of the building machine's environment.
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
    ),
    HttpServer.layerContext,
    Logger.minimumLogLevel(LogLevel.None)
  ))
  const ask = async (event: APIGatewayProxyEventV2WithJWTAuthorizer, expected: number) => {
    const answer = await handler(event, "", Context.make(GatewayRequestContext, gatewayRequestOf(event)))
    if (answer.statusCode !== expected) {
      throw new Error(`the API's warm-up: ${event.rawPath} answered ${answer.statusCode}: ${answer.body}`)
    }
    return JSON.parse(answer.body ?? "null") as unknown
  }
  try {
    const { jobId } = await ask(gatewayEvent("POST", "/api/v1/reports/export", EXPORT), 202) as { jobId: string }
    await ask(gatewayEvent("GET", `/api/v1/reports/exports/${jobId}`), 200)
    await ask(gatewayEvent("GET", "/api/v1/reports/exports"), 200)
  } finally {
    await dispose()
  }
}
