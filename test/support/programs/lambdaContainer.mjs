// A Lambda execution environment in miniature, for tests: a process of its own whose environment is exactly what the
// test gives it. Importing the bundle (argv[2]) is the function's initialisation; then each line on stdin is one
// invocation `{ event, remainingMillis }`, answered as one JSON line on file descriptor 3 (stdout and stderr carry
// the function's own logs, as CloudWatch would).
import dns from "node:dns"
import { writeSync } from "node:fs"
import { createInterface } from "node:readline"
import { pathToFileURL } from "node:url"

// The network's part, as the endpoint variables are: names under `.localhost` are the loopback address (RFC 6761),
// which glibc does not resolve by itself. fauxqs names its queues there, and the SQS client sends to the queue URL's
// host, as it sends to `sqs.<region>.amazonaws.com` in AWS.
const lookup = dns.lookup
dns.lookup = (hostname, options, callback) => {
  if (!hostname.endsWith(".localhost")) return lookup(hostname, options, callback)
  const done = typeof options === "function" ? options : callback
  const all = typeof options === "object" && options?.all === true
  return all ? done(null, [{ address: "127.0.0.1", family: 4 }]) : done(null, "127.0.0.1", 4)
}

const send = (message) => writeSync(3, `${JSON.stringify(message)}\n`)
const messageOf = (error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

let handler
try {
  ;({ handler } = await import(pathToFileURL(process.argv[2]).href))
} catch (error) {
  send({ initError: messageOf(error) })
  process.exit(1)
}
send({ ready: true })

let invocation = 0
for await (const line of createInterface({ input: process.stdin })) {
  const { event, remainingMillis } = JSON.parse(line)
  const deadline = Date.now() + remainingMillis
  invocation += 1
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn:
      `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: `request-${invocation}`,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now())
  }
  try {
    send({ result: await handler(event, context) })
  } catch (error) {
    send({ error: messageOf(error) })
  }
}
