// A free loopback port, for servers the tests and benches start. Apart from EndToEnd.ts, which needs vitest's
// `expect`, so that a program run outside vitest (`npm run bench:web`) can use it too.
import { Effect } from "effect"
import { createServer } from "node:net"

export const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * A loopback port nothing listens on, for a provider that is down: a free port, left free. Connections to it are
 * refused (ECONNREFUSED) unless another process on the machine binds it meanwhile, which the tests accept: one of
 * about 28,000 ephemeral ports, in the seconds a test uses it.
 */
export const closedPort: Effect.Effect<number> = freePort
