// dynalite (DynamoDB on an in-memory LevelDB) in this process, on a free loopback port, with the adapters' tables
// created: a scoped layer, closed when the test's scope ends.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { Context, Effect, Layer, Redacted } from "effect"
import type { Server } from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import type { DynamoDbSettings } from "../../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDb from "../../../src/adapters/dynamodb/DynamoDb.js"
import { createTables } from "../../../src/adapters/dynamodb/DynamoDbTables.js"

// dynalite ships no types; this is the part of its API used here.
const dynalite = createRequire(import.meta.url)("dynalite") as (options: { readonly createTableMs: number }) => Server

/** Credentials dynalite accepts (it checks the signature's shape, not the keys). */
const LOCAL_CREDENTIALS = { accessKeyId: Redacted.make("local"), secretAccessKey: Redacted.make("local") }

export class DynaliteServer extends Context.Tag("test/DynaliteServer")<DynaliteServer, {
  readonly endpoint: string
  /** Settings for `DynamoDb.layer` that reach this server's tables. */
  readonly settings: DynamoDbSettings
}>() {}

const start = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = dynalite({ createTableMs: 0 })
    server.once("error", (error) => resume(Effect.die(error)))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

/** A fresh server with empty tables. */
export const DynaliteServerLive: Layer.Layer<DynaliteServer> = Layer.scoped(
  DynaliteServer,
  Effect.gen(function*() {
    const server = yield* start
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const settings: DynamoDbSettings = {
      region: "local",
      endpoint,
      tables: { jobs: "export-jobs", notifications: "export-notifications", audit: "export-audit" },
      credentials: LOCAL_CREDENTIALS
    }
    yield* Effect.acquireUseRelease(
      Effect.sync(() =>
        new DynamoDBClient({
          region: settings.region,
          endpoint,
          credentials: { accessKeyId: "local", secretAccessKey: "local" }
        })
      ),
      (client) => Effect.promise(() => createTables(client, settings.tables)),
      (client) => Effect.sync(() => client.destroy())
    )
    return { endpoint, settings }
  })
)

/** The DynamoDb client on a fresh dynalite, and the server itself (to reach its tables directly). */
export const DynamoDbOnDynalite: Layer.Layer<DynamoDb.DynamoDb | DynaliteServer> = Layer.unwrapEffect(
  Effect.map(DynaliteServer, (server) => DynamoDb.layer(server.settings))
).pipe(Layer.provideMerge(DynaliteServerLive))
