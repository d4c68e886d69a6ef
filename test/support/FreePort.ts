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
