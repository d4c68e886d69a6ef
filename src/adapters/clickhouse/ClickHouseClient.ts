// The @clickhouse/client HTTP client the ClickHouse adapter runs its queries on, and the settings it is made from.
// Creating it does no network I/O; it is closed (its sockets with it) when the layer is released.
import { ClickHouseLogLevel, createClient } from "@clickhouse/client"
import type { ClickHouseClient as Client, ClickHouseClientConfigOptions } from "@clickhouse/client"
import { Config, Context, Duration, Effect, Layer, Redacted } from "effect"
import type { ConfigError } from "effect"

export interface ClickHouseSettings {
  /** The server's HTTP(S) interface, e.g. `https://<host>:8443`. */
  readonly url: URL
  readonly username: string
  readonly password: Redacted.Redacted<string>
  readonly database: string
  /**
   * The longest the connection of a query may stay silent (no header, no byte). Progress headers come every
   * PROGRESS_INTERVAL while a query reads, but a final sort or merge can be silent for longer: keep it at least
   * the export's query timeout.
   */
  readonly requestTimeout: Duration.Duration
  /**
   * Sockets open at once: one per running export, and one more for each KILL and each read of a query's progress (a
   * few milliseconds a second per export).
   */
  readonly maxConnections: number
}

export const DEFAULT_REQUEST_TIMEOUT = Duration.minutes(10)
export const DEFAULT_MAX_CONNECTIONS = 16
const MAX_CONNECTIONS = 256

/**
 * Progress headers keep a load balancer from closing a connection that waits on a long aggregation before its
 * first byte; at one per 30 s, a 10-minute query adds a few kilobytes of headers.
 */
const PROGRESS_INTERVAL = Duration.seconds(30)
const MAX_RESPONSE_HEADERS_SIZE = 256 * 1024

const isHttpUrl = (url: URL) => url.protocol === "http:" || url.protocol === "https:"

/** Reads CLICKHOUSE_* from the environment; a missing or malformed variable fails start-up with its name. */
export const clickHouseSettingsConfig: Config.Config<ClickHouseSettings> = Config.all({
  url: Config.url("CLICKHOUSE_URL").pipe(Config.validate({ message: "must be an http(s) URL", validation: isHttpUrl })),
  username: Config.nonEmptyString("CLICKHOUSE_USER").pipe(Config.withDefault("default")),
  password: Config.redacted("CLICKHOUSE_PASSWORD").pipe(Config.withDefault(Redacted.make(""))),
  database: Config.nonEmptyString("CLICKHOUSE_DATABASE").pipe(Config.withDefault("default")),
  requestTimeout: Config.duration("CLICKHOUSE_REQUEST_TIMEOUT").pipe(
    // Validated before the default, or the failure would lose the variable's name.
    Config.validate({
      message: "must be a positive duration",
      validation: (d) => Duration.toMillis(d) > 0 && Duration.isFinite(d)
    }),
    Config.withDefault(DEFAULT_REQUEST_TIMEOUT)
  ),
  maxConnections: Config.integer("CLICKHOUSE_MAX_CONNECTIONS").pipe(
    Config.validate({
      message: `must be an integer from 1 to ${MAX_CONNECTIONS}`,
      validation: (n) => n >= 1 && n <= MAX_CONNECTIONS
    }),
    Config.withDefault(DEFAULT_MAX_CONNECTIONS)
  )
})

/** The client's options; the password is unwrapped here only. */
export const clientOptions = (settings: ClickHouseSettings): ClickHouseClientConfigOptions => ({
  url: settings.url,
  username: settings.username,
  password: Redacted.value(settings.password),
  database: settings.database,
  application: "async-data-export",
  request_timeout: Duration.toMillis(settings.requestTimeout),
  max_open_connections: settings.maxConnections,
  // Compressing a result costs the server CPU for little gain on the network between it and the workers.
  compression: { request: false, response: false },
  clickhouse_settings: {
    send_progress_in_http_headers: 1,
    http_headers_progress_interval_ms: String(Duration.toMillis(PROGRESS_INTERVAL))
  },
  max_response_headers_size: MAX_RESPONSE_HEADERS_SIZE,
  // Every failure comes back to the adapter, which logs it with the job's id; the client's own log would repeat it,
  // aborted requests of interrupted exports included.
  log: { level: ClickHouseLogLevel.OFF }
})

/** The client, closed when the layer that made it is released. */
export class ClickHouseClient extends Context.Tag("exports/clickhouse/ClickHouseClient")<ClickHouseClient, Client>() {}

/** A client made by `create` (a custom connection, in tests), closed on release. */
export const layerFromClient = (create: () => Client): Layer.Layer<ClickHouseClient> =>
  Layer.scoped(
    ClickHouseClient,
    Effect.acquireRelease(Effect.sync(create), (client) => Effect.promise(() => client.close()))
  )

/** A client on explicit settings. */
export const layer = (settings: ClickHouseSettings): Layer.Layer<ClickHouseClient> =>
  layerFromClient(() => createClient(clientOptions(settings)))

/** A client on the environment's CLICKHOUSE_* settings. */
export const layerConfig: Layer.Layer<ClickHouseClient, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(clickHouseSettingsConfig, layer)
)
