// The ExportLinks port in this deployment's addresses: an in-app notice leads to the API's own endpoints, an email to
// the export's page in the web app at APP_BASE_URL.
import type { ConfigError } from "effect"
import { Config, Layer } from "effect"
import { ExportLinks } from "../../application/ports/ExportLinks.js"
import { downloadPath, exportPath } from "./ExportPaths.js"

/** The web app's address when APP_BASE_URL is not set: the app served on this machine. */
export const DEFAULT_APP_BASE_URL = "http://127.0.0.1:3000"

/** APP_BASE_URL, the web app's address, without a trailing slash; `fallback` when it is not set. */
export const appBaseUrlConfig = (fallback: string = DEFAULT_APP_BASE_URL): Config.Config<string> =>
  Config.url("APP_BASE_URL").pipe(
    Config.map((url) => url.toString().replace(/\/$/, "")),
    Config.withDefault(fallback)
  )

export const make = (appBaseUrl: string) =>
  ExportLinks.of({
    appPage: (jobId) => `${appBaseUrl}/exports/${jobId}`,
    inApp: (job) => job._tag === "Succeeded" ? downloadPath(job.jobId) : exportPath(job.jobId)
  })

/** The links with the web app at `appBaseUrl`. */
export const layer = (appBaseUrl: string): Layer.Layer<ExportLinks> => Layer.succeed(ExportLinks, make(appBaseUrl))

/** The links with the web app at APP_BASE_URL, or at `fallback` when it is not set. */
export const layerConfigWithDefault = (
  fallback: string = DEFAULT_APP_BASE_URL
): Layer.Layer<ExportLinks, ConfigError.ConfigError> =>
  Layer.effect(ExportLinks, Config.map(appBaseUrlConfig(fallback), make))

/** The links with the web app at APP_BASE_URL. */
export const layerConfig = layerConfigWithDefault()
