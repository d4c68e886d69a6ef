// A TCP relay on 127.0.0.1 in front of one local server, which a test can switch off and on: a provider or a store
// that goes down for a while and comes back with what it held, for the clients pointed at the relay only.
import { Effect } from "effect"
import { connect, createServer } from "node:net"
import type { AddressInfo, Socket } from "node:net"

export interface TcpSwitch {
  /** `http://127.0.0.1:<port>`: the relay, to give the clients that should see the outage. */
  readonly endpoint: string
  /**
   * `false` resets every open connection and every new one at once (a server that went away); `true` relays again.
   */
  readonly setUp: (up: boolean) => Effect.Effect<void>
  /** Connections refused while down, since start: evidence that a client really met the outage. */
  readonly refused: () => number
}

/** A relay to `target` (an `http://host:port` URL) for as long as the scope lives. */
export const tcpSwitch = (target: string) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly server: ReturnType<typeof createServer>
      readonly open: Set<Socket>
      readonly relay: TcpSwitch
    }>((resume) => {
      const { hostname, port } = new URL(target)
      const open = new Set<Socket>()
      const state = { up: true, refused: 0 }
      const server = createServer((client) => {
        if (!state.up) {
          state.refused++
          client.resetAndDestroy()
          return
        }
        const upstream = connect(Number(port), hostname)
        const pair = [client, upstream]
        for (const socket of pair) {
          open.add(socket)
          socket.on("error", () => pair.forEach((s) => s.destroy()))
          socket.on("close", () => {
            open.delete(socket)
            pair.forEach((s) => s.destroy())
          })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      server.listen(0, "127.0.0.1", () => {
        const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resume(Effect.succeed({
          server,
          open,
          relay: {
            endpoint,
            refused: () => state.refused,
            setUp: (up) =>
              Effect.sync(() => {
                state.up = up
                if (!up) { for (const socket of [...open]) socket.resetAndDestroy() }
              })
          }
        }))
      })
    }),
    ({ open, server }) =>
      Effect.async<void>((resume) => {
        for (const socket of [...open]) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ relay }) => relay))
