// The custom runtime's loop (ADR 52) against a fake Runtime API on 127.0.0.1: each invocation answered in turn with
// the context Lambda's Node runtime gives, a handler's error posted as the invocation's error with the loop going on,
// and a handler that cannot be made posted as the initialisation error.
import { describe, expect, it } from "@effect/vitest"
import type { Context as LambdaContext } from "aws-lambda"
import { runLambdaRuntime } from "../../../src/runtimes/lambda/LambdaBootstrap.js"
import { makeRuntimeApiClient } from "../../../src/runtimes/lambda/RuntimeApiClient.js"
import { startFakeRuntimeApi } from "./FakeRuntimeApi.js"

const ENV = { AWS_LAMBDA_FUNCTION_NAME: "exports-api", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512" }

describe("the custom runtime's loop", () => {
  it("answers each invocation in turn, with its request id, deadline and trace, and goes on after an error", async () => {
    const api = await startFakeRuntimeApi()
    const stop = new AbortController()
    const env: NodeJS.ProcessEnv = { ...ENV }
    const seen: Array<{ event: unknown; context: LambdaContext; trace: string | undefined; remaining: number }> = []
    const running = runLambdaRuntime(
      makeRuntimeApiClient(api.address),
      () =>
        Promise.resolve((event: { readonly fail?: boolean; readonly n: number }, context: LambdaContext) => {
          seen.push({ event, context, trace: env["_X_AMZN_TRACE_ID"], remaining: context.getRemainingTimeInMillis() })
          return event.fail === true
            ? Promise.reject(new TypeError(`event ${event.n} is not wanted`))
            : Promise.resolve({ answered: event.n })
        }),
      env,
      stop.signal
    )
    const enqueued = Date.now()
    const deadline = enqueued + 30_000
    api.enqueue({ requestId: "req-1", event: { n: 1 }, deadlineMillis: deadline, traceId: "Root=1-abc" })
    api.enqueue({ requestId: "req-2", event: { n: 2, fail: true } })
    api.enqueue({ requestId: "req-3", event: { n: 3 } })
    const posts = await api.posts(3)
    stop.abort()
    expect(await running).toBe(true)
    await api.close()

    expect(posts.map((post) => post.path)).toEqual([
      "/2018-06-01/runtime/invocation/req-1/response",
      "/2018-06-01/runtime/invocation/req-2/error",
      "/2018-06-01/runtime/invocation/req-3/response"
    ])
    expect(JSON.parse(posts[0]!.body)).toEqual({ answered: 1 })
    expect(JSON.parse(posts[2]!.body)).toEqual({ answered: 3 })
    expect(posts[1]!.headers["lambda-runtime-function-error-type"]).toBe("TypeError")
    expect(JSON.parse(posts[1]!.body)).toMatchObject({ errorType: "TypeError", errorMessage: "event 2 is not wanted" })

    expect(seen.map(({ event }) => event)).toEqual([{ n: 1 }, { n: 2, fail: true }, { n: 3 }])
    const first = seen[0]!
    expect(first.context.awsRequestId).toBe("req-1")
    expect(first.context.functionName).toBe("exports-api")
    expect(first.context.memoryLimitInMB).toBe("512")
    expect(first.context.invokedFunctionArn).toBe("arn:aws:lambda:us-east-1:123456789012:function:fake")
    // Counted down to the deadline Lambda gave: at most what was left when it was queued, and not yet spent.
    expect(first.remaining).toBeLessThanOrEqual(deadline - enqueued)
    expect(first.remaining).toBeGreaterThan(0)
    expect(first.trace).toBe("Root=1-abc")
    // The next invocation has no trace of its own: the first one's is not left behind.
    expect(seen[1]!.trace).toBeUndefined()
    // Only `next`, answers and errors were asked, in that order.
    expect(api.recorded.map((request) => `${request.method} ${request.path.split("/").at(-1)}`).slice(0, 6)).toEqual([
      "GET next",
      "POST response",
      "GET next",
      "POST error",
      "GET next",
      "POST response"
    ])
  })

  it("posts a handler that cannot be made as the initialisation error, and asks for no invocation", async () => {
    const api = await startFakeRuntimeApi()
    const made = await runLambdaRuntime(
      makeRuntimeApiClient(api.address),
      () => Promise.reject(new Error("DYNAMODB_JOBS_TABLE is missing")),
      { ...ENV }
    )
    await api.close()
    expect(made).toBe(false)
    expect(api.recorded).toHaveLength(1)
    expect(api.recorded[0]).toMatchObject({ method: "POST", path: "/2018-06-01/runtime/init/error" })
    expect(api.recorded[0]!.headers["lambda-runtime-function-error-type"]).toBe("Error")
    expect(JSON.parse(api.recorded[0]!.body)).toMatchObject({ errorMessage: "DYNAMODB_JOBS_TABLE is missing" })
  })
})
