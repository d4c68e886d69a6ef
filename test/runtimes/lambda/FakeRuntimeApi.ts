// A fake of the Lambda Runtime API on 127.0.0.1, real HTTP: it hands out the invocations queued on it, one per
// `next` (holding a `next` open while none is queued, as Lambda does), and records every request it was sent.
import { createServer } from "node:http"
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export interface QueuedInvocation {
  readonly requestId: string
  readonly event: unknown
  readonly deadlineMillis?: number
  readonly traceId?: string
}

export const startFakeRuntimeApi = async () => {
  const queue: Array<QueuedInvocation> = []
  const waiting: Array<ServerResponse> = []
  const recorded: Array<RecordedRequest> = []
  const listeners: Array<() => void> = []
  const hand = (response: ServerResponse, invocation: QueuedInvocation) => {
    response.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.requestId,
      "lambda-runtime-deadline-ms": String(invocation.deadlineMillis ?? Date.now() + 60_000),
      "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:123456789012:function:fake",
      ...(invocation.traceId === undefined ? {} : { "lambda-runtime-trace-id": invocation.traceId })
    })
    response.end(JSON.stringify(invocation.event))
  }
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      recorded.push({
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8")
      })
      for (const listener of listeners.splice(0)) listener()
      if (request.method === "GET" && request.url === "/2018-06-01/runtime/invocation/next") {
        const invocation = queue.shift()
        if (invocation === undefined) waiting.push(response)
        else hand(response, invocation)
        return
      }
      response.writeHead(202, { "content-type": "application/json" })
      response.end("{\"status\":\"OK\"}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    recorded,
    enqueue: (invocation: QueuedInvocation) => {
      const response = waiting.shift()
      if (response === undefined) queue.push(invocation)
      else hand(response, invocation)
    },
    /** Resolves once the posts (requests other than `next`) number `count`. */
    posts: async (count: number): Promise<ReadonlyArray<RecordedRequest>> => {
      const posted = () => recorded.filter((request) => request.method === "POST")
      while (posted().length < count) await new Promise<void>((resolve) => listeners.push(resolve))
      return posted()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
