// The Lambda Runtime API (version 2018-06-01), as a custom runtime's bootstrap speaks it to the Lambda service at
// AWS_LAMBDA_RUNTIME_API: ask for the next invocation, post its answer or its error, or report that the function
// could not initialise. Plain HTTP/1.1 on one kept-alive connection; nothing here knows a function.
import { Agent, request } from "node:http"
import type { IncomingHttpHeaders } from "node:http"

const VERSION = "2018-06-01"

/** One invocation as `next` hands it over: the event and what its headers say of it. */
export interface Invocation {
  readonly requestId: string
  /** When Lambda stops the invocation, in milliseconds since the epoch. */
  readonly deadlineMillis: number
  readonly invokedFunctionArn: string
  readonly traceId: string | undefined
  readonly event: unknown
}

/** The body Lambda expects for a function's or an initialisation's error. */
export interface ErrorReport {
  readonly errorType: string
  readonly errorMessage: string
  readonly stackTrace: ReadonlyArray<string>
}

export const errorReportOf = (cause: unknown): ErrorReport =>
  cause instanceof Error
    ? {
      errorType: cause.name,
      errorMessage: cause.message,
      stackTrace: (cause.stack ?? "").split("\n").slice(1).map((line) => line.trim())
    }
    : { errorType: "Error", errorMessage: String(cause), stackTrace: [] }

export interface RuntimeApiClient {
  readonly next: () => Promise<Invocation>
  readonly respond: (requestId: string, result: unknown) => Promise<void>
  readonly fail: (requestId: string, cause: unknown) => Promise<void>
  readonly initError: (cause: unknown) => Promise<void>
  /** Closes the kept-alive connection (an open `next` ends with an error). */
  readonly close: () => void
}

const single = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** A client of the Runtime API at `address` (`host:port`, AWS_LAMBDA_RUNTIME_API). Opens nothing until asked. */
export const makeRuntimeApiClient = (address: string): RuntimeApiClient => {
  // `next` may wait minutes for an invocation: no timeout, one connection kept for the container's life.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const call = (method: "GET" | "POST", path: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<{ readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: string }>(
      (resolve, reject) => {
        const sent = request(`http://${address}/${VERSION}${path}`, {
          method,
          agent,
          headers: body === undefined
            ? headers
            : { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }
        }, (response) => {
          const chunks: Array<Buffer> = []
          response.on("data", (chunk: Buffer) => chunks.push(chunk))
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks).toString("utf8")
            }))
          response.on("error", reject)
        })
        sent.on("error", reject)
        sent.end(body)
      }
    )
  const post = async (path: string, body: string, headers?: Record<string, string>) => {
    const answer = await call("POST", path, body, headers)
    if (answer.status !== 202) throw new Error(`Runtime API: POST ${path} answered ${answer.status}: ${answer.body}`)
  }
  const postError = (path: string, cause: unknown) => {
    const report = errorReportOf(cause)
    return post(path, JSON.stringify(report), { "lambda-runtime-function-error-type": report.errorType })
  }
  return {
    next: async () => {
      const answer = await call("GET", "/runtime/invocation/next")
      const requestId = single(answer.headers, "lambda-runtime-aws-request-id")
      if (answer.status !== 200 || requestId === undefined) {
        throw new Error(`Runtime API: next answered ${answer.status}: ${answer.body}`)
      }
      return {
        requestId,
        deadlineMillis: Number(single(answer.headers, "lambda-runtime-deadline-ms")),
        invokedFunctionArn: single(answer.headers, "lambda-runtime-invoked-function-arn") ?? "",
        traceId: single(answer.headers, "lambda-runtime-trace-id"),
        event: JSON.parse(answer.body) as unknown
      }
    },
    respond: (requestId, result) =>
      post(`/runtime/invocation/${encodeURIComponent(requestId)}/response`, JSON.stringify(result ?? null)),
    fail: (requestId, cause) => postError(`/runtime/invocation/${encodeURIComponent(requestId)}/error`, cause),
    initError: (cause) => postError("/runtime/init/error", cause),
    close: () => agent.destroy()
  }
}
