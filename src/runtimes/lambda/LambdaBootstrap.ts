// The custom runtime's loop (provided.al2023, ADR 52): make the handler once, then take invocations from the Runtime
// API one at a time, as Lambda's own Node runtime does, and post each answer or error back. A handler that fails to
// be made is reported as the container's initialisation error. Nothing here knows a function.
import type { Context as LambdaContext } from "aws-lambda"
import type { Invocation, RuntimeApiClient } from "./RuntimeApiClient.js"

export type LambdaHandler = (event: never, context: LambdaContext) => Promise<unknown>

/** The context Lambda's Node runtime hands a handler, from the invocation and the function's environment. */
export const contextOf = (
  invocation: Invocation,
  env: Readonly<Record<string, string | undefined>>
): LambdaContext => ({
  awsRequestId: invocation.requestId,
  invokedFunctionArn: invocation.invokedFunctionArn,
  functionName: env["AWS_LAMBDA_FUNCTION_NAME"] ?? "",
  functionVersion: env["AWS_LAMBDA_FUNCTION_VERSION"] ?? "",
  memoryLimitInMB: env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] ?? "",
  logGroupName: env["AWS_LAMBDA_LOG_GROUP_NAME"] ?? "",
  logStreamName: env["AWS_LAMBDA_LOG_STREAM_NAME"] ?? "",
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => Math.max(0, invocation.deadlineMillis - Date.now()),
  // Callback-style completion is not supported: the functions are async.
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined
})

/**
 * Makes the handler (reading the settings: in a snapshot, only now, after deserialisation) and answers invocations
 * until `signal` aborts. Resolves false when the handler could not be made (its error posted as the init error),
 * true when stopped.
 */
export const runLambdaRuntime = async (
  client: RuntimeApiClient,
  makeHandler: () => Promise<LambdaHandler>,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal
): Promise<boolean> => {
  let handler: LambdaHandler
  try {
    handler = await makeHandler()
  } catch (cause) {
    await client.initError(cause)
    return false
  }
  const stopped = () => signal?.aborted === true
  signal?.addEventListener("abort", () => client.close(), { once: true })
  const answerNext = async () => {
    const invocation = await client.next()
    // What the X-Ray SDK and Lambda's own runtime read the invocation's trace from.
    if (invocation.traceId === undefined) delete env["_X_AMZN_TRACE_ID"]
    else env["_X_AMZN_TRACE_ID"] = invocation.traceId
    let result: unknown
    try {
      result = await handler(invocation.event as never, contextOf(invocation, env))
    } catch (cause) {
      return client.fail(invocation.requestId, cause)
    }
    return client.respond(invocation.requestId, result)
  }
  while (!stopped()) {
    try {
      await answerNext()
    } catch (cause) {
      // Stopping closes the connection under whatever call was open.
      if (stopped()) break
      throw cause
    }
  }
  return true
}
