// `npm start`: the service on its embedded defaults. Prints where it listens and a command to try it.
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { join } from "node:path"
import * as SqliteDatabase from "../../adapters/sqlite/SqliteDatabase.js"
import * as JsonLogLines from "../JsonLogLines.js"
import type { EmbeddedConfig } from "./EmbeddedConfig.js"
import { embeddedConfig } from "./EmbeddedConfig.js"
import * as EmbeddedServer from "./EmbeddedServer.js"

// The outbox page answers only under loopback names, so its address is the listen address, not PUBLIC_BASE_URL.
const outboxLine = (config: EmbeddedConfig) =>
  EmbeddedServer.servesDevPages(config)
    ? `  sent emails   http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}/dev/outbox`
    : `  sent emails   ${join(config.dataDir, "outbox")}   (/dev pages are served only when HOST is a loopback address)`

const banner = (config: EmbeddedConfig) => {
  const base = config.publicBaseUrl
  return [
    "",
    `async-data-export is running on its embedded defaults at ${base}`,
    `  API docs      ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
    outboxLine(config),
    `  data          ${config.dataDir}   (jobs, notifications and the queue in ${SqliteDatabase.DATABASE_FILE})`,
    ...(config.faults.size === 0 ? [] : [
      `  faults        ${[...config.faults].join(", ")}   (EMBEDDED_FAULTS: these fail on purpose, as a timeout does)`
    ]),
    "",
    "Try it:",
    "  TOKEN=$(npm run -s dev-token -- --sub demo-user --merchant m-acme --email demo@example.com)",
    `  curl -s -X POST ${base}/api/v1/reports/export -H "Authorization: Bearer $TOKEN" \\`,
    "    -H 'Content-Type: application/json' \\",
    "    -d '{\"reportType\":\"orders\",\"format\":\"csv\",\"dateFrom\":\"2025-01-01\",\"dateTo\":\"2025-03-31\"}'",
    `  curl -s ${base}/api/v1/reports/exports -H "Authorization: Bearer $TOKEN"`,
    ""
  ].join("\n")
}

const program = Effect.gen(function*() {
  const config = yield* embeddedConfig
  yield* Effect.logInfo("starting", { dataDir: config.dataDir, port: config.port })
  return yield* Layer.launch(
    EmbeddedServer.layer(config).pipe(
      Layer.tap(() => Console.log(banner(config)))
    )
  )
})

NodeRuntime.runMain(
  program.pipe(Effect.provide(JsonLogLines.layer)),
  { disablePrettyLogger: true }
)
