// The `npm start` composition built in the test's own process, on a free loopback port over `dataDir`, with one
// worker, and a token of the server's own secret: for tests that drive it over HTTP and look at its data directory.
import { Duration, Effect, Layer } from "effect"
import { signDevToken } from "../../src/adapters/auth/JwtVerifier.js"
import type { ReportFault } from "../../src/adapters/faults/FaultyReportSource.js"
import { DEFAULT_WEB_APP_DIR } from "../../src/adapters/http/WebAppRoute.js"
import { DEFAULT_FILE_RETENTION } from "../../src/application/Retention.js"
import { localSecret } from "../../src/runtimes/server/EmbeddedConfig.js"
import * as EmbeddedServer from "../../src/runtimes/server/EmbeddedServer.js"
import { freePort } from "./EndToEnd.js"

export const embeddedServerIn = (
  dataDir: string,
  demoRows: number,
  options: { readonly webAppDir?: string; readonly faults?: ReadonlySet<ReportFault> } = {}
) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const base = `http://127.0.0.1:${port}`
    const context = yield* Layer.build(EmbeddedServer.layer({
      host: "127.0.0.1",
      port,
      dataDir,
      publicBaseUrl: base,
      workerConcurrency: 1,
      shutdownGrace: Duration.seconds(5),
      demoRows,
      fileRetention: DEFAULT_FILE_RETENTION,
      webAppDir: options.webAppDir ?? DEFAULT_WEB_APP_DIR,
      faults: options.faults ?? new Set()
    }))
    return { base, port, context }
  })

/** A token for `sub` of merchant m-acme, signed with the server's own secret in `dataDir`. */
export const embeddedTokenFor = (dataDir: string, sub: string, email: string) =>
  Effect.flatMap(
    localSecret(dataDir, "jwt-secret"),
    (secret) => Effect.promise(() => signDevToken({ secret, sub, merchantId: "m-acme", email, ttl: Duration.hours(1) }))
  )
