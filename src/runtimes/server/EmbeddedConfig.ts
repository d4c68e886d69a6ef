// Settings of the embedded default (`npm start`): where it listens, where it keeps its data, and the secrets
// it makes for itself on first start so that no secret is ever a default shipped in the source.
import { Config, ConfigError, Data, Duration, Effect, Either, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { REPORT_FAULTS } from "../../adapters/faults/FaultyReportSource.js"
import type { ReportFault } from "../../adapters/faults/FaultyReportSource.js"
import { webAppDirConfig } from "../../adapters/http/WebAppRoute.js"
import { workerConcurrencyConfig } from "../../application/ExportWorker.js"
import { fileRetentionConfig } from "../../application/Retention.js"

export interface EmbeddedConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  /** The address users reach this server at; signed file links and notifications point there. */
  readonly publicBaseUrl: string
  readonly workerConcurrency: number
  readonly shutdownGrace: Duration.Duration
  /** How many order lines the demo dataset holds when it is first made. */
  readonly demoRows: number
  /** How long an exported file is kept on disk (FILE_RETENTION). */
  readonly fileRetention: Duration.Duration
  /** The built web app served at / (WEB_APP_DIR, the repository's web/dist unless set). */
  readonly webAppDir: string
  /** Failures to inject, for showing a failure path (EMBEDDED_FAULTS; none unless set). */
  readonly faults: ReadonlySet<ReportFault>
}

/**
 * EMBEDDED_FAULTS: a comma-separated list of faults the embedded server injects on purpose (ADR 37), for a browser
 * test or a demonstration of the failure paths: `query-timeout` (every export's query fails as one past
 * EXPORT_QUERY_TIMEOUT does), `preview-timeout` (every preview answers as one past PREVIEW_TIMEOUT does). Unset or
 * empty: none. Any other name stops start-up with the setting's name.
 */
export const embeddedFaultsConfig: Config.Config<ReadonlySet<ReportFault>> = Config.string("EMBEDDED_FAULTS").pipe(
  Config.mapOrFail((text) => {
    const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "")
    const unknown = names.filter((name) => !(REPORT_FAULTS as ReadonlyArray<string>).includes(name))
    return unknown.length > 0
      ? Either.left(
        ConfigError.InvalidData(
          ["EMBEDDED_FAULTS"],
          `unknown fault ${unknown.map((name) => JSON.stringify(name)).join(", ")}: use ${
            REPORT_FAULTS.join(" or ")
          }, ` +
            "separated by commas"
        )
      )
      : Either.right(new Set(names as Array<ReportFault>))
  }),
  Config.withDefault(new Set<ReportFault>() as ReadonlySet<ReportFault>)
)

export const embeddedConfig: Config.Config<EmbeddedConfig> = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  dataDir: Config.string("DATA_DIR").pipe(Config.withDefault(".data"), Config.map((dir) => resolve(dir))),
  publicBaseUrl: Config.option(Config.url("PUBLIC_BASE_URL")),
  workerConcurrency: workerConcurrencyConfig,
  shutdownGrace: Config.duration("SHUTDOWN_GRACE").pipe(Config.withDefault(Duration.seconds(30))),
  demoRows: Config.integer("DEMO_ROWS").pipe(
    Config.withDefault(1_200_000),
    Config.validate({ message: "must be from 1000 to 100000000", validation: (n) => n >= 1000 && n <= 100_000_000 })
  ),
  fileRetention: fileRetentionConfig,
  webAppDir: webAppDirConfig,
  faults: embeddedFaultsConfig
}).pipe(
  Config.map(({ publicBaseUrl, ...rest }) => ({
    ...rest,
    publicBaseUrl: publicBaseUrl._tag === "Some"
      ? publicBaseUrl.value.toString().replace(/\/$/, "")
      : `http://${rest.host.includes(":") ? `[${rest.host}]` : rest.host}:${rest.port}`
  }))
)

/** The data directory cannot be made or made private: start-up stops with the path and the reason. */
export class DataDirUnusable extends Data.TaggedError("DataDirUnusable")<{ readonly message: string }> {}

// Only this user may enter: the data holds merchants' exports, emails with full addresses and the secrets.
const PRIVATE_DIRECTORY = 0o700

// The mode is given at creation, and set again because a directory made by an older version, or under an odd
// umask, keeps whatever mode it has.
const makePrivate = (path: string): void => {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIRECTORY })
  chmodSync(path, PRIVATE_DIRECTORY)
}

/** Makes `path` (and its missing parents) a directory only this user can enter, mode 0700. */
export const privateDirectory = (path: string): Effect.Effect<void, DataDirUnusable> =>
  Effect.try({
    try: () => makePrivate(path),
    catch: (error) =>
      new DataDirUnusable({
        message: `DATA_DIR: cannot make ${path} a private directory (mode 0700): ${String(error)}`
      })
  })

/**
 * A secret kept in the data directory, made on first use (48 random bytes, readable by this user only). The
 * server and `npm run dev-token` share it, whichever runs first.
 */
export const localSecret = (dataDir: string, name: string): Effect.Effect<Redacted.Redacted<string>> =>
  Effect.sync(() => {
    const dir = join(dataDir, "secrets")
    const file = join(dir, name)
    makePrivate(dataDir)
    makePrivate(dir)
    try {
      writeFileSync(file, randomBytes(48).toString("base64url"), { flag: "wx", mode: 0o600 })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    // A secret written under an odd umask, or copied in by hand, is made readable by this user only all the same.
    chmodSync(file, 0o600)
    return Redacted.make(readFileSync(file, "utf8").trim())
  })
