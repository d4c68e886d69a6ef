// What a function's startup snapshot runs once Node has deserialised it (ADR 52): the settings read now (the
// environment, SECRETS_ARN's secret), Effect's clock and random source made again, and the custom runtime's loop on
// AWS_LAMBDA_RUNTIME_API. Everything that reads the environment, a clock or a random source, or opens a socket, is
// here or later, never at the snapshot's build.
import type { ConfigProvider, Layer } from "effect"
import { startupSnapshot } from "node:v8"
import type { LambdaHandler } from "./LambdaBootstrap.js"
import { runLambdaRuntime } from "./LambdaBootstrap.js"
import { makeRuntimeApiClient } from "./RuntimeApiClient.js"
import { lambdaConfigProvider } from "./SecretSettings.js"
import { freshServices } from "./SnapshotServices.js"

const exitWith = (message: string) => {
  console.error(JSON.stringify({ level: "ERROR", message }))
  process.exit(1)
}

/** Sets the snapshot's main: the handler `make` makes, answering the Runtime API's invocations. */
export const setSnapshotMain = (
  make: (configProvider: ConfigProvider.ConfigProvider, services: Layer.Layer<never>) => LambdaHandler
): void =>
  startupSnapshot.setDeserializeMainFunction(() => {
    const address = process.env["AWS_LAMBDA_RUNTIME_API"]
    if (address === undefined || address === "") return exitWith("AWS_LAMBDA_RUNTIME_API is not set")
    runLambdaRuntime(
      makeRuntimeApiClient(address),
      async () => make(await lambdaConfigProvider(), freshServices())
    ).then(
      (made) => made ? undefined : exitWith("the function could not initialise (reported to Lambda)"),
      (cause: unknown) => exitWith(`the Runtime API failed: ${String(cause)}`)
    )
  })
