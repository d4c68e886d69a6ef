// aws-ses-v2-local, the SES API emulator, started in this process on 127.0.0.1 and a free port for as long as a
// scope lives, and the test's own view of what it received (`GET /store`), read apart from the adapter.
import { Context, Effect, Layer, Schema } from "effect"
import type { Server } from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import type { EmailAddress } from "../../../src/domain/Identifiers.js"

interface SesLocalModule {
  readonly default: (config?: { readonly host?: string; readonly port?: number }) => Promise<Server>
}

// A CommonJS package whose default export ESM loaders and vitest see differently: `require` has one meaning.
const loadCommonJs = createRequire(import.meta.url)

/** One message as the emulator stored it. Its store is a module-wide list: filter by a recipient unique to the test. */
export class StoredEmail extends Schema.Class<StoredEmail>("StoredEmail")({
  messageId: Schema.String,
  from: Schema.String,
  destination: Schema.Struct({
    to: Schema.Array(Schema.String),
    cc: Schema.Array(Schema.String),
    bcc: Schema.Array(Schema.String)
  }),
  subject: Schema.String,
  body: Schema.Struct({ text: Schema.optional(Schema.String), html: Schema.optional(Schema.String) }),
  at: Schema.Number
}) {}

const Store = Schema.Struct({ emails: Schema.Array(StoredEmail) })
const decodeStore = Schema.decodeUnknown(Store)

export interface SesLocalServerService {
  /** Where to point the SESv2 client. */
  readonly endpoint: URL
  /** Every message the emulator received, oldest first. */
  readonly store: Effect.Effect<ReadonlyArray<StoredEmail>>
  /** The messages with `recipient` among their To addresses, oldest first. */
  readonly sentTo: (recipient: EmailAddress) => Effect.Effect<ReadonlyArray<StoredEmail>>
}

const listen = Effect.acquireRelease(
  Effect.promise(() => (loadCommonJs("aws-ses-v2-local") as SesLocalModule).default({ host: "127.0.0.1", port: 0 })),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

export const make = Effect.gen(function*() {
  const server = yield* listen
  const { port } = server.address() as AddressInfo
  const endpoint = new URL(`http://127.0.0.1:${port}`)
  const store = Effect.tryPromise(async () => {
    const response = await fetch(new URL("/store", endpoint))
    if (!response.ok) throw new Error(`GET /store answered ${response.status}`)
    return (await response.json())
  }).pipe(
    Effect.flatMap(decodeStore),
    Effect.map((snapshot) => snapshot.emails),
    Effect.orDie
  )
  const sentTo = (recipient: EmailAddress) =>
    Effect.map(store, (emails) => emails.filter((email) => email.destination.to.includes(recipient)))
  return { endpoint, store, sentTo } satisfies SesLocalServerService
})

export class SesLocalServer extends Context.Tag("test/SesLocalServer")<SesLocalServer, SesLocalServerService>() {
  static readonly layer: Layer.Layer<SesLocalServer> = Layer.scoped(SesLocalServer, make)
}
