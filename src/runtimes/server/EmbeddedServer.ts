// The embedded default: API and worker in one process, report data from chdb (seeded on first start), files on
// the local disk behind signed links, emails as .eml files, jobs, notifications and queue in SQLite (ADR 27).
// A composition of layers and nothing else: every rule lives in the application.
import type { Redacted } from "effect"
import { Config, Duration, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import * as JwtAuthentication from "../../adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../adapters/auth/JwtVerifier.js"
import { DEV_AUDIENCE, DEV_ISSUER } from "../../adapters/auth/JwtVerifier.js"
import { ChdbEngine } from "../../adapters/chdb/ChdbEngine.js"
import * as ChdbReportSource from "../../adapters/chdb/ChdbReportSource.js"
import { DEMO_SEED, demoSeedOfSize } from "../../adapters/chdb/DemoSeed.js"
import * as EmlEmailSender from "../../adapters/eml/EmlEmailSender.js"
import * as OutboxRoute from "../../adapters/eml/OutboxRoute.js"
import * as FaultyReportSource from "../../adapters/faults/FaultyReportSource.js"
import { allowedHosts, isLoopbackAddress } from "../../adapters/http/AllowedHosts.js"
import * as ApiNodeServer from "../../adapters/http/ApiNodeServer.js"
import * as ApiServer from "../../adapters/http/ApiServer.js"
import { DemoDays } from "../../adapters/http/DevSessionApi.js"
import * as DevSessionHttp from "../../adapters/http/DevSessionHttp.js"
import { ReadinessChecks } from "../../adapters/http/HealthHttp.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as WebAppRoute from "../../adapters/http/WebAppRoute.js"
import * as InProcessEvents from "../../adapters/inprocess/InProcessEvents.js"
import * as FilesRoute from "../../adapters/localfs/FilesRoute.js"
import * as LocalFileStore from "../../adapters/localfs/LocalFileStore.js"
import * as SqliteAuditTrail from "../../adapters/sqlite/SqliteAuditTrail.js"
import * as SqliteDatabase from "../../adapters/sqlite/SqliteDatabase.js"
import * as SqliteInAppNotifier from "../../adapters/sqlite/SqliteInAppNotifier.js"
import * as SqliteJobQueue from "../../adapters/sqlite/SqliteJobQueue.js"
import * as SqliteJobStore from "../../adapters/sqlite/SqliteJobStore.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { JobIds } from "../../application/JobIds.js"
import * as SweepOverdueJobs from "../../application/SweepOverdueJobs.js"
import { CalendarDate } from "../../domain/Reports.js"
import * as InProcessWorker from "../local/InProcessWorker.js"
import type { EmbeddedConfig } from "./EmbeddedConfig.js"
import { localSecret, privateDirectory } from "./EmbeddedConfig.js"

/**
 * The secret this server signs and checks its own tokens with (`npm run dev-token` signs with it too), or None when
 * AUTH_JWT_SECRET or AUTH_JWKS_URL is set: then tokens come from elsewhere and the server signs none.
 */
const localSigningSecret = (config: EmbeddedConfig) =>
  Effect.gen(function*() {
    const secret = yield* Config.option(Config.string("AUTH_JWT_SECRET"))
    const jwks = yield* Config.option(Config.string("AUTH_JWKS_URL"))
    return Option.isSome(secret) || Option.isSome(jwks)
      ? Option.none()
      : Option.some(yield* localSecret(config.dataDir, "jwt-secret"))
  })

/** The verifier on the local secret, or on the AUTH_* settings when there is none. */
const jwtVerifierFor = (localSigning: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(localSigning, {
    onNone: () => JwtVerifier.layerConfig,
    onSome: (secret) =>
      JwtVerifier.layer({
        keys: { _tag: "SharedSecret", secret },
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        clockSkew: Duration.seconds(30),
        merchantClaim: "merchant_id",
        emailClaim: "email"
      })
  })

/**
 * The development pages show every email in full: they exist only on a server that other machines cannot reach.
 * A server listening on 0.0.0.0 or a LAN address answers /dev/* with 404, like any path it does not have.
 */
export const servesDevPages = (config: Pick<EmbeddedConfig, "host">): boolean => isLoopbackAddress(config.host)

/**
 * The routes the embedded server adds to the API. Signed file links are for users, so they also answer under the
 * host of PUBLIC_BASE_URL; the development pages answer only under loopback names (a tunnel or proxy to a loopback
 * server must not publish them). Any other Host header is refused, whatever address a browser resolved it to. The
 * web app answers the paths nothing else does (ADR 36).
 */
export const layerRoutes = (config: Pick<EmbeddedConfig, "host" | "port" | "publicBaseUrl" | "webAppDir">) => {
  const files = FilesRoute.layer(
    allowedHosts({ bindHost: config.host, port: config.port, publicBaseUrl: config.publicBaseUrl })
  )
  const routes = Layer.merge(files, WebAppRoute.layer({ root: config.webAppDir }))
  return servesDevPages(config)
    ? Layer.merge(routes, OutboxRoute.layer(allowedHosts({ bindHost: config.host, port: config.port })))
    : routes
}

/**
 * The API this server serves: with the development sign-in (POST /api/dev/session, ADR 34) when it listens on
 * loopback and signs its own tokens; the production API otherwise, where that path is a 404 like any unknown one.
 * Needs an HttpServer.
 */
export const layerApi = (
  config: Pick<EmbeddedConfig, "host" | "port">,
  localSigning: Option.Option<Redacted.Redacted<string>>,
  demoDays?: DemoDays
) =>
  servesDevPages(config) && Option.isSome(localSigning)
    ? ApiServer.layerWithDevSession(
      DevSessionHttp.layer({
        secret: localSigning.value,
        hosts: allowedHosts({ bindHost: config.host, port: config.port }),
        demoDays
      })
    )
    : ApiServer.layer

/** The demo data's days (at any DEMO_ROWS, the seed spans the same range), for the app's opening range. */
const DEMO_DAYS = DemoDays.make({
  dateFrom: CalendarDate.make(DEMO_SEED.from.slice(0, 10)),
  dateTo: CalendarDate.make(DEMO_SEED.to.slice(0, 10))
})

export interface EmbeddedOptions {
  /**
   * Whether the in-process workers run the queued exports (true unless said otherwise). Only bench:accept leaves them
   * out, to measure the accept path alone; the exports then wait in the queue for the next start.
   */
  readonly workers?: boolean
}

export const layer = (config: EmbeddedConfig, options: EmbeddedOptions = {}) => {
  const chdbDir = join(config.dataDir, "clickhouse")
  // Made before any adapter writes into them, so that nothing is ever created in a directory others can read.
  const dataDir = Layer.effectDiscard(Effect.zipRight(privateDirectory(config.dataDir), privateDirectory(chdbDir)))
  const chdb = ChdbReportSource.layerDemo(chdbDir, demoSeedOfSize(config.demoRows))
  // EMBEDDED_FAULTS' failures over the engine's source, which the readiness check still queries directly (ADR 37).
  const reports = config.faults.size === 0
    ? chdb
    : Layer.merge(chdb, FaultyReportSource.layer(config.faults).pipe(Layer.provide(chdb)))

  const files = Layer.unwrapEffect(
    Effect.map(
      localSecret(config.dataDir, "link-secret"),
      (secret) =>
        LocalFileStore.layer({
          root: join(config.dataDir, "files"),
          publicBaseUrl: config.publicBaseUrl,
          secret,
          fileRetention: config.fileRetention
        })
    )
  )
  const email = EmlEmailSender.layer({
    outbox: join(config.dataDir, "outbox"),
    from: "Exports <exports@localhost>"
  })
  // One database for them all, so that a job and its message are written in one transaction. The stores tell the
  // event streams what they write (ADR 33).
  const durable = Layer.mergeAll(
    InProcessEvents.layerPublishing.pipe(Layer.provide(Layer.merge(SqliteJobStore.layer, SqliteInAppNotifier.layer))),
    SqliteJobQueue.layer(),
    SqliteAuditTrail.layer,
    JobIds.Default
  )
  // Opened before anything else uses the data directory: a second server on it stops here, with SQLite's lock
  // saying why, rather than wherever another adapter happens to trip over the first server.
  const database = SqliteDatabase.layer({ path: join(config.dataDir, SqliteDatabase.DATABASE_FILE) })
  // Unless told otherwise, the "app" that emails link to is this server.
  const links = HttpExportLinks.layerConfigWithDefault(config.publicBaseUrl)
  const adapters = Layer.mergeAll(reports, files, email, durable, links, ExportSettings.layer)
  const readiness = Layer.effect(
    ReadinessChecks,
    Effect.map(ChdbEngine, (chdb) => [{ name: "clickhouse", check: chdb.ping }])
  )

  const http = Layer.unwrapEffect(
    Effect.map(localSigningSecret(config), (localSigning) =>
      layerApi(config, localSigning, DEMO_DAYS).pipe(
        // Built before the API's app reads its router, so that the app has every route.
        Layer.provide(layerRoutes(config)),
        Layer.provide(ApiNodeServer.layerServer({ port: config.port, host: config.host })),
        Layer.provide(JwtAuthentication.layer),
        Layer.provide(jwtVerifierFor(localSigning)),
        Layer.provide(readiness)
      ))
  )

  const workers = InProcessWorker.layer({ concurrency: config.workerConcurrency, shutdownGrace: config.shutdownGrace })

  const services = options.workers === false
    ? Layer.merge(http, SweepOverdueJobs.layerConfig)
    : Layer.mergeAll(http, workers, SweepOverdueJobs.layerConfig)
  return services.pipe(
    Layer.provideMerge(adapters),
    Layer.provide(database),
    Layer.provide(dataDir)
  )
}
