// A TCP server on 127.0.0.1 that accepts every connection, reads what it is sent and never answers: a remote service
// that hangs. A scoped layer, its sockets destroyed and the server closed on release; `divert` sends one operation of
// an AWS SDK client to it while the client's other calls reach their real endpoint.
import { S3Client } from "@aws-sdk/client-s3"
import type { SQSClient } from "@aws-sdk/client-sqs"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:net"
import type { AddressInfo, Socket } from "node:net"

export interface SilentServerService {
  /** `http://127.0.0.1:<port>/`, for an SDK client's endpoint. */
  readonly endpoint: URL
  readonly port: number
  /** Connections accepted since start. */
  readonly accepted: () => number
}

const make = Effect.gen(function*() {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = yield* Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        // Ignore a reset from a client that gave up; read what arrives so that a request is sent whole.
        socket.on("error", () => {})
        socket.resume()
      })
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  return {
    endpoint: new URL(`http://127.0.0.1:${port}/`),
    port,
    accepted: () => accepted
  } satisfies SilentServerService
})

export class SilentServer extends Context.Tag("test/SilentServer")<SilentServer, SilentServerService>() {
  static readonly layer: Layer.Layer<SilentServer> = Layer.scoped(SilentServer, make)
}

/**
 * Sends the next `times` requests of `commandName` (`"UploadPartCommand"`, `"DeleteMessageCommand"`, ...) that
 * `client` makes to `server` instead of their endpoint: one operation that hangs while the rest of the service
 * answers. Added after signing, so the request is the one the client would have sent. Returns how many were diverted.
 */
export const divert = (client: S3Client | SQSClient, commandName: string, server: SilentServerService, times = 1) => {
  let diverted = 0
  const middleware = <A extends { readonly request: unknown }, R>(
    next: (args: A) => Promise<R>,
    context: { readonly commandName?: string }
  ) =>
  (args: A) => {
    if (diverted < times && context.commandName === commandName) {
      diverted++
      Object.assign(args.request as object, { hostname: "127.0.0.1", port: server.port, protocol: "http:" })
    }
    return next(args)
  }
  const options = { step: "finalizeRequest", name: `divert${commandName}`, priority: "low" } as const
  if (client instanceof S3Client) client.middlewareStack.add(middleware, options)
  else client.middlewareStack.add(middleware, options)
  return () => diverted
}
