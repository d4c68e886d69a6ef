// The API as an AWS Lambda function behind an API Gateway HTTP API (payload format 2.0): the same HttpApi app as the
// Node server, on the same production adapters, each event served as the app's own request (ApiGatewayHttp.ts).
// With AUTH_TRUST_GATEWAY=true (the stack's setting) the caller comes from the claims API Gateway's JWT authorizer
// verified, from events of the API and stage AUTH_GATEWAY_API_ID and AUTH_GATEWAY_STAGE name (ADR 22); otherwise the
// function verifies the bearer token itself, as the Node server does. Importing this module reads nothing of the
// environment: `makeApiHandler` does, so that both entries can use it, the stock runtime's (api.ts) and the startup
// snapshot's (ApiSnapshot.ts, ADR 52), where the import happens at build time and the settings only after the
// snapshot is deserialised.
import { HttpServer } from "@effect/platform"
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda"
import type { ConfigProvider } from "effect"
import { Config, Context, Effect, Layer, Option } from "effect"
import * as GatewayAuthentication from "../../adapters/auth/GatewayAuthentication.js"
import { GatewayRequestContext, gatewayTrustConfig } from "../../adapters/auth/GatewayAuthentication.js"
import * as JwtAuthentication from "../../adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../adapters/auth/JwtVerifier.js"
import * as ApiApp from "../../adapters/http/ApiApp.js"
import * as ApiAdapters from "../aws/ApiAdapters.js"
import * as JsonLogLines from "../JsonLogLines.js"
import { gatewayRequestOf, toGatewayHandler } from "./ApiGatewayHttp.js"

/**
 * API_BASE_PATH (none): a custom domain's API mapping, e.g. `exports`; and AUTH_TRUST_GATEWAY (false) with, when
 * true, where the gateway's claims may come from: AUTH_GATEWAY_API_ID is then required, so that a function set to
 * trust the gateway never starts trusting claims from anywhere.
 */
export const lambdaApiSettings = Effect.gen(function*() {
  const basePath = yield* Config.string("API_BASE_PATH").pipe(Config.withDefault(""))
  const trustGateway = yield* Config.boolean("AUTH_TRUST_GATEWAY").pipe(Config.withDefault(false))
  const gateway = trustGateway ? Option.some(yield* gatewayTrustConfig) : Option.none()
  return { basePath, gateway }
})

export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>

/**
 * The handler on `configProvider`'s settings (the environment with SECRETS_ARN's over it), read here, once: they do
 * not change for the container's life. `services` is laid under the app's layers (the snapshot's fresh clock and
 * random source, ADR 52). The layers are built on the first request and kept; building them does no network I/O.
 */
export const makeApiHandler = (
  configProvider: ConfigProvider.ConfigProvider,
  services: Layer.Layer<never> = Layer.empty
): ApiHandler => {
  const settings = Effect.runSync(lambdaApiSettings.pipe(Effect.withConfigProvider(configProvider)))
  const authentication = Option.match(settings.gateway, {
    onSome: GatewayAuthentication.layer,
    onNone: () => JwtAuthentication.layer.pipe(Layer.provide(JwtVerifier.layerConfig))
  })
  const layer = Layer.mergeAll(
    ApiApp.layerApp.pipe(
      Layer.provide(authentication),
      Layer.provide(ApiAdapters.layer),
      Layer.provide(Layer.setConfigProvider(configProvider))
    ),
    HttpServer.layerContext,
    // JSON lines for CloudWatch, as the Node runtimes log.
    JsonLogLines.layer,
    services
  )
  const { handler } = toGatewayHandler(layer)
  return (event) => {
    const context = Option.isSome(settings.gateway)
      ? Context.make(GatewayRequestContext, gatewayRequestOf(event))
      : Context.empty()
    return handler(event, settings.basePath, context)
  }
}
