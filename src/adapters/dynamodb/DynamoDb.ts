// The DynamoDB client the job store and the notifications share, as a scoped layer (destroyed on release), with its
// settings read from Config. Building it does no network I/O: the tables are made by infrastructure.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { QueryCommand } from "@aws-sdk/lib-dynamodb"
import type { NativeAttributeValue } from "@aws-sdk/lib-dynamodb"
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb"
import type { Scope } from "effect"
import { Config, ConfigError, Context, Data, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { regionConfig } from "../aws/AwsRegion.js"

export interface DynamoDbTableNames {
  readonly jobs: string
  readonly notifications: string
  readonly audit: string
}

export interface DynamoDbCredentials {
  readonly accessKeyId: Redacted.Redacted<string>
  readonly secretAccessKey: Redacted.Redacted<string>
}

export interface DynamoDbSettings {
  readonly region: string
  /** A local server (dynalite, DynamoDB Local); the region's AWS endpoint when absent. */
  readonly endpoint?: string | undefined
  readonly tables: DynamoDbTableNames
  /** The SDK's default provider chain (role, environment, profile) when absent. */
  readonly credentials?: DynamoDbCredentials | undefined
  /** SDK attempts per request, the first included; the SDK's default (3) when absent. */
  readonly maxAttempts?: number | undefined
}

const credentialsConfig: Config.Config<DynamoDbCredentials | undefined> = Config.all({
  accessKeyId: Config.option(Config.redacted("DYNAMODB_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("DYNAMODB_SECRET_ACCESS_KEY"))
}).pipe(
  Config.mapOrFail(({ accessKeyId, secretAccessKey }) => {
    if (Option.isSome(accessKeyId) && Option.isSome(secretAccessKey)) {
      return Either.right({ accessKeyId: accessKeyId.value, secretAccessKey: secretAccessKey.value })
    }
    if (Option.isNone(accessKeyId) && Option.isNone(secretAccessKey)) return Either.right(undefined)
    return Either.left(ConfigError.InvalidData(
      [Option.isSome(accessKeyId) ? "DYNAMODB_SECRET_ACCESS_KEY" : "DYNAMODB_ACCESS_KEY_ID"],
      "DYNAMODB_ACCESS_KEY_ID and DYNAMODB_SECRET_ACCESS_KEY go together: set both or neither"
    ))
  })
)

/**
 * DYNAMODB_REGION (else AWS_REGION), DYNAMODB_JOBS_TABLE, DYNAMODB_NOTIFICATIONS_TABLE, DYNAMODB_AUDIT_TABLE; optional
 * DYNAMODB_ENDPOINT (a URL) and
 * DYNAMODB_ACCESS_KEY_ID with DYNAMODB_SECRET_ACCESS_KEY (both or neither).
 */
export const dynamoDbSettingsConfig: Config.Config<DynamoDbSettings> = Config.all({
  region: regionConfig("DYNAMODB_REGION"),
  endpoint: Config.option(Config.url("DYNAMODB_ENDPOINT")),
  jobs: Config.nonEmptyString("DYNAMODB_JOBS_TABLE"),
  notifications: Config.nonEmptyString("DYNAMODB_NOTIFICATIONS_TABLE"),
  audit: Config.nonEmptyString("DYNAMODB_AUDIT_TABLE"),
  credentials: credentialsConfig
}).pipe(Config.map(({ audit, credentials, endpoint, jobs, notifications, region }) => ({
  region,
  endpoint: Option.getOrUndefined(Option.map(endpoint, (url) => url.href)),
  tables: { jobs, notifications, audit },
  credentials
})))

/** A failed DynamoDB call, before an adapter turns it into its port's error. */
export class DynamoDbError extends Data.TaggedError("DynamoDbError")<{
  readonly operation: string
  /** The SDK's exception name (ConditionalCheckFailedException, ...), or the Node error code. */
  readonly name: string
  readonly detail: string
}> {
  get conditionFailed(): boolean {
    return this.name === "ConditionalCheckFailedException"
  }
}

/**
 * The longest one call may take, all of the SDK's own retries included: past it the HTTP request is aborted and the
 * call fails, so that a hung connection never holds a worker or an API request.
 */
export const DYNAMODB_CALL_TIMEOUT = Duration.seconds(10)

const errorOf = (operation: string, cause: unknown): DynamoDbError => {
  const error = cause instanceof Error ? cause : undefined
  const code = (error as { readonly code?: unknown } | undefined)?.code
  return new DynamoDbError({
    operation,
    name: typeof code === "string" && error?.name === "Error" ? code : error?.name ?? "Unknown",
    detail: error?.message || String(cause)
  })
}

export class DynamoDb extends Context.Tag("exports/dynamodb/DynamoDb")<DynamoDb, {
  readonly documents: DynamoDBDocumentClient
  readonly tables: DynamoDbTableNames
  /** Runs one SDK call, aborted when the fiber is interrupted or after DYNAMODB_CALL_TIMEOUT. */
  readonly call: <A>(
    operation: string,
    run: (documents: DynamoDBDocumentClient, options: { readonly abortSignal: AbortSignal }) => Promise<A>
  ) => Effect.Effect<A, DynamoDbError>
}>() {}

/** The client for `settings`, destroyed (its sockets closed) when the scope closes. */
export const make = (settings: DynamoDbSettings): Effect.Effect<DynamoDb["Type"], never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        new DynamoDBClient({
          region: settings.region,
          ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
          ...(settings.maxAttempts === undefined ? {} : { maxAttempts: settings.maxAttempts }),
          ...(settings.credentials === undefined ? {} : {
            credentials: {
              accessKeyId: Redacted.value(settings.credentials.accessKeyId),
              secretAccessKey: Redacted.value(settings.credentials.secretAccessKey)
            }
          })
        })
      ),
      (client) => Effect.sync(() => client.destroy())
    ),
    (client) => {
      const documents = DynamoDBDocumentClient.from(client, {
        marshallOptions: { removeUndefinedValues: true }
      })
      return DynamoDb.of({
        documents,
        tables: settings.tables,
        call: (operation, run) =>
          Effect.tryPromise({
            try: (abortSignal) => run(documents, { abortSignal }),
            catch: (cause) => errorOf(operation, cause)
          }).pipe(
            Effect.timeoutFail({
              duration: DYNAMODB_CALL_TIMEOUT,
              onTimeout: () =>
                new DynamoDbError({
                  operation,
                  name: "TimeoutError",
                  detail: `no answer within ${Duration.format(DYNAMODB_CALL_TIMEOUT)}`
                })
            }),
            Effect.withSpan(`DynamoDb.${operation}`)
          )
      })
    }
  )

/** The client for `settings` as a layer, destroyed when the layer's scope closes. */
export const layer = (settings: DynamoDbSettings): Layer.Layer<DynamoDb> => Layer.scoped(DynamoDb, make(settings))

/** The client with its settings from the environment; a missing or malformed setting fails with its name. */
export const layerConfig: Layer.Layer<DynamoDb, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(dynamoDbSettingsConfig, layer)
)

export type DynamoItem = Record<string, NativeAttributeValue>

/**
 * Every page of a query, or pages until `wanted` items: DynamoDB answers a query in pages of at most 1 MB, so a
 * single call can come back short even when more items match.
 */
export const queryPages = (
  db: DynamoDb["Type"],
  input: ConstructorParameters<typeof QueryCommand>[0],
  wanted = Number.POSITIVE_INFINITY
) =>
  Effect.gen(function*() {
    const items: Array<DynamoItem> = []
    let startKey: DynamoItem | undefined = undefined
    do {
      const output = yield* db.call("Query", (documents, options) =>
        documents.send(
          new QueryCommand({
            ...input,
            ...(Number.isFinite(wanted) ? { Limit: wanted - items.length } : {}),
            ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey })
          }),
          options
        ))
      items.push(...(output.Items ?? []))
      startKey = output.LastEvaluatedKey
    } while (startKey !== undefined && items.length < wanted)
    return items
  })
