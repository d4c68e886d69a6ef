// `npm run dev-token -- --sub <user> --merchant <merchant> --email <address> [--ttl "8 hours"]`: prints a token
// that the embedded server (`npm start`) accepts. It signs with the server's local secret in DATA_DIR.
import { Duration, Effect, Option } from "effect"
import { parseArgs } from "node:util"
import { signDevToken } from "../../adapters/auth/JwtVerifier.js"
import { embeddedConfig, localSecret } from "./EmbeddedConfig.js"

const USAGE = "Usage: npm run dev-token -- --sub <user> --merchant <merchant> --email <address> [--ttl \"8 hours\"]"

const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    merchant: { type: "string" },
    email: { type: "string" },
    ttl: { type: "string" }
  },
  strict: true
})

if (values.sub === undefined || values.merchant === undefined || values.email === undefined) {
  process.stderr.write(`${USAGE}\n`)
  process.exit(2)
}
const ttl = Option.getOrUndefined(Duration.decodeUnknown(values.ttl ?? "8 hours"))
if (ttl === undefined) {
  process.stderr.write(`--ttl must be a duration such as "8 hours"\n${USAGE}\n`)
  process.exit(2)
}

const program = Effect.gen(function*() {
  const config = yield* embeddedConfig
  const secret = yield* localSecret(config.dataDir, "jwt-secret")
  return yield* Effect.promise(() =>
    signDevToken({ secret, sub: values.sub!, merchantId: values.merchant!, email: values.email!, ttl })
  )
})

Effect.runPromise(program).then(
  (token) => process.stdout.write(`${token}\n`),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
