// The API as the Node servers serve it: the app (ApiApp.ts) with the interactive /docs page, which stays off the
// Lambda function (ADR 42).
import type { HttpApiGroup } from "@effect/platform"
import { HttpApiBuilder, HttpApiSwagger } from "@effect/platform"
import { Layer } from "effect"
import { groupHandlers, layerHandlers, layerMiddlewareAndOpenApi } from "./ApiApp.js"
import { EmbeddedApi } from "./DevSessionApi.js"

// The documents describe whichever API the app serves.
const layerDocuments = Layer.merge(layerMiddlewareAndOpenApi, HttpApiSwagger.layer({ path: "/docs" }))

/** The API's app: its endpoints, its documents (/openapi.json and the /docs page) and its request middleware. */
export const layerApp = layerDocuments.pipe(Layer.provideMerge(layerHandlers))

/** Serves the API's app. Needs an HttpServer. */
export const layer = HttpApiBuilder.serve().pipe(Layer.provide(layerApp))

/**
 * Serves the embedded server's API on loopback (`EmbeddedApi`): the API's app with the development sign-in, whose
 * handler is given (ADR 34). Needs an HttpServer.
 */
export const layerWithDevSession = <E, R>(
  devSession: Layer.Layer<HttpApiGroup.ApiGroup<"async-data-export", "dev">, E, R>
) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(
      layerDocuments.pipe(
        Layer.provideMerge(
          HttpApiBuilder.api(EmbeddedApi).pipe(Layer.provide(groupHandlers), Layer.provide(devSession))
        )
      )
    )
  )
