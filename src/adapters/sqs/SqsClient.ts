// The SQS client shared by the publisher and the consumer, and the settings both read. Building it does no
// network I/O: a Lambda container whose layer failed to build stays poisoned.
import { SQSClient } from "@aws-sdk/client-sqs"
import type { Scope } from "effect"
import { Config, ConfigError, Context, Data, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { regionConfig } from "../aws/AwsRegion.js"

export interface SqsCredentials {
  readonly accessKeyId: Redacted.Redacted<string>
  readonly secretAccessKey: Redacted.Redacted<string>
  readonly sessionToken?: Redacted.Redacted<string> | undefined
}

export interface SqsSettingsShape {
  readonly queueUrl: string
  readonly region: string
  /** A local server (fauxqs, ElasticMQ, LocalStack); AWS's own endpoint when absent. */
  readonly endpoint?: string | undefined
  /** The SDK's default chain (environment, IAM role) when absent. */
  readonly credentials?: SqsCredentials | undefined
  /** Long-poll wait of one ReceiveMessage, 0 to 20 seconds. */
  readonly waitSeconds: number
  /** How long a received message stays hidden; a running handler extends it every third of it. */
  readonly visibilitySeconds: number
  /** Messages asked for by one ReceiveMessage, 1 to 10 (never more than free handler slots). */
  readonly maxMessages: number
  /**
   * The longest one call may take, the SDK's own attempts included; a ReceiveMessage gets its long-poll wait more.
   * SQS_CALL_TIMEOUT, but for tests.
   */
  readonly callTimeout: Duration.Duration
}

/**
 * The limit on every SQS call. SendMessage is made while an API request waits for its answer, and the consumer's
 * calls are small: an SQS that has not answered in this long is treated as unavailable (QueueUnavailable for a
 * publish; the consumer logs it and backs off, retries or lets the message come back).
 */
export const SQS_CALL_TIMEOUT = Duration.seconds(5)

const integerIn = (name: string, min: number, max: number, fallback: number) =>
  Config.integer(name).pipe(
    // Validated before the default, or the failure would lose the variable's name.
    Config.validate({ message: `must be an integer from ${min} to ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

const isUrl = (text: string) => Either.isRight(Either.try(() => new URL(text)))

const credentialsConfig = Config.all({
  accessKeyId: Config.option(Config.redacted("SQS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("SQS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.redacted("SQS_SESSION_TOKEN"))
}).pipe(
  Config.mapOrFail(({ accessKeyId, secretAccessKey, sessionToken }) => {
    if (Option.isSome(accessKeyId) && Option.isSome(secretAccessKey)) {
      return Either.right(Option.some<SqsCredentials>({
        accessKeyId: accessKeyId.value,
        secretAccessKey: secretAccessKey.value,
        sessionToken: Option.getOrUndefined(sessionToken)
      }))
    }
    if (Option.isNone(accessKeyId) && Option.isNone(secretAccessKey)) return Either.right(Option.none())
    return Either.left(
      ConfigError.InvalidData([], "SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY must be set together")
    )
  })
)

/** Reads SQS_* from the environment (SQS_REGION falls back to AWS_REGION). */
export const sqsSettingsConfig: Config.Config<SqsSettingsShape> = Config.all({
  queueUrl: Config.string("SQS_QUEUE_URL").pipe(Config.validate({ message: "must be a URL", validation: isUrl })),
  region: regionConfig("SQS_REGION"),
  endpoint: Config.option(
    Config.string("SQS_ENDPOINT").pipe(Config.validate({ message: "must be a URL", validation: isUrl }))
  ),
  credentials: credentialsConfig,
  waitSeconds: integerIn("SQS_WAIT_SECONDS", 0, 20, 20),
  visibilitySeconds: integerIn("SQS_VISIBILITY_SECONDS", 1, 43_200, 120),
  maxMessages: integerIn("SQS_MAX_MESSAGES", 1, 10, 10)
}).pipe(
  Config.map(({ credentials, endpoint, ...rest }): SqsSettingsShape => ({
    ...rest,
    endpoint: Option.getOrUndefined(endpoint),
    credentials: Option.getOrUndefined(credentials),
    callTimeout: SQS_CALL_TIMEOUT
  }))
)

export class SqsSettings extends Context.Tag("exports/sqs/SqsSettings")<SqsSettings, SqsSettingsShape>() {}

/** Explicit settings, for tests and other runtimes; the consumer's settings default as in the environment. */
export const layerSettings = (
  settings: Pick<SqsSettingsShape, "queueUrl" | "region"> & Partial<SqsSettingsShape>
): Layer.Layer<SqsSettings> =>
  Layer.succeed(SqsSettings, {
    waitSeconds: 20,
    visibilitySeconds: 120,
    maxMessages: 10,
    callTimeout: SQS_CALL_TIMEOUT,
    ...settings
  })

/** The settings from the environment; a missing or malformed variable fails start-up with its name. */
export const layerSettingsConfig: Layer.Layer<SqsSettings, ConfigError.ConfigError> = Layer.effect(
  SqsSettings,
  sqsSettingsConfig
)

export class SqsClient extends Context.Tag("exports/sqs/SqsClient")<SqsClient, SQSClient>() {}

/**
 * One attempt of the SDK's, from the request to the answer's headers. Long polls hold a request open for up to 20 s;
 * anything much longer than that is a dead connection. Thrown as a TimeoutError: without throwOnRequestTimeout the
 * SDK only logs a warning and goes on waiting.
 */
const REQUEST_TIMEOUT_MILLIS = 30_000
const CONNECTION_TIMEOUT_MILLIS = 3_000

/** The SDK client on `settings`, destroyed (its sockets closed) when the scope closes. */
export const make = (settings: SqsSettingsShape): Effect.Effect<SQSClient, never, Scope.Scope> => {
  const credentials = settings.credentials
  return Effect.acquireRelease(
    Effect.sync(() =>
      new SQSClient({
        region: settings.region,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
        ...(credentials === undefined ? {} : {
          credentials: {
            accessKeyId: Redacted.value(credentials.accessKeyId),
            secretAccessKey: Redacted.value(credentials.secretAccessKey),
            ...(credentials.sessionToken === undefined
              ? {}
              : { sessionToken: Redacted.value(credentials.sessionToken) })
          }
        }),
        requestHandler: {
          connectionTimeout: CONNECTION_TIMEOUT_MILLIS,
          requestTimeout: REQUEST_TIMEOUT_MILLIS,
          throwOnRequestTimeout: true
        }
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
}

/** The SDK client on the SqsSettings in context, destroyed (its sockets closed) when the layer is released. */
export const layer: Layer.Layer<SqsClient, never, SqsSettings> = Layer.scoped(
  SqsClient,
  Effect.flatMap(SqsSettings, make)
)

/** A short description of an SDK or network error: its name and code, never its message (it holds addresses). */
export const describeSdkError = (operation: string, error: unknown): string => {
  if (typeof error !== "object" || error === null) return `${operation} failed`
  const name = "name" in error && typeof error.name === "string" ? error.name : "Error"
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined
  const status = "$metadata" in error && typeof error.$metadata === "object" && error.$metadata !== null &&
      "httpStatusCode" in error.$metadata && typeof error.$metadata.httpStatusCode === "number"
    ? error.$metadata.httpStatusCode
    : undefined
  return `${operation} failed: ${name}${code === undefined || code === name ? "" : ` (${code})`}` +
    (status === undefined ? "" : ` [HTTP ${status}]`)
}

/** An SDK call that failed; it never leaves this adapter (the publisher turns it into QueueUnavailable). */
export class SqsCallFailed extends Data.TaggedError("SqsCallFailed")<{ readonly detail: string }> {}

/**
 * One SDK call as an Effect, failed after `limit`; interrupting it aborts the HTTP request. The call is interruptible
 * inside its limit, so that the limit ends it wherever it runs, in a finalizer too.
 */
export const sqsCall = <A>(operation: string, limit: Duration.Duration, call: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({
    try: call,
    catch: (error) => new SqsCallFailed({ detail: describeSdkError(operation, error) })
  }).pipe(
    Effect.interruptible,
    Effect.timeoutFail({
      duration: limit,
      onTimeout: () => new SqsCallFailed({ detail: `${operation} failed: no answer within ${Duration.format(limit)}` })
    })
  )

/** A ReceiveMessage's limit: its long-poll wait, and then the limit of any call. */
export const receiveTimeout = (settings: Pick<SqsSettingsShape, "waitSeconds" | "callTimeout">): Duration.Duration =>
  Duration.sum(Duration.seconds(settings.waitSeconds), settings.callTimeout)

/** The client on the environment's settings, both provided: what a runtime composes the publisher and consumer on. */
export const layerConfig: Layer.Layer<SqsClient | SqsSettings, ConfigError.ConfigError> = layer.pipe(
  Layer.provideMerge(layerSettingsConfig)
)
