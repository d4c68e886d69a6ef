// Every AWS adapter takes its region from its own setting, else from AWS_REGION (which the Lambda runtime sets), so
// that a function the stack deploys needs no region of its own; S3 with an endpoint (R2) defaults to `auto`.
import { assert, describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Either } from "effect"
import type { Config } from "effect"
import { dynamoDbSettingsConfig } from "../../../src/adapters/dynamodb/DynamoDb.js"
import { s3FileStoreSettingsConfig } from "../../../src/adapters/s3/S3FileStore.js"
import { sesEmailSenderSettingsConfig } from "../../../src/adapters/ses/SesEmailSender.js"
import { sqsSettingsConfig } from "../../../src/adapters/sqs/SqsClient.js"

const read = <A>(config: Config.Config<A>, settings: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromJson(settings))))

const adapters = [
  {
    name: "DynamoDB",
    setting: "DYNAMODB_REGION",
    config: dynamoDbSettingsConfig,
    required: {
      DYNAMODB_JOBS_TABLE: "jobs",
      DYNAMODB_NOTIFICATIONS_TABLE: "notifications",
      DYNAMODB_AUDIT_TABLE: "audit"
    }
  },
  {
    name: "SES",
    setting: "SES_REGION",
    config: sesEmailSenderSettingsConfig,
    required: { SES_FROM: "exports@example.test" }
  },
  {
    name: "SQS",
    setting: "SQS_REGION",
    config: sqsSettingsConfig,
    required: {
      SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/exports"
    }
  },
  {
    name: "S3 without an endpoint",
    setting: "S3_REGION",
    config: s3FileStoreSettingsConfig,
    required: { S3_BUCKET: "exports" }
  }
] as const

/** The names of the settings a config error says are missing. */
const pathsOfMissing: ConfigError.ConfigErrorReducer<unknown, ReadonlyArray<string>> = {
  andCase: (_, left, right) => [...left, ...right],
  orCase: (_, left, right) => [...left, ...right],
  invalidDataCase: () => [],
  missingDataCase: (_, path) => [path.join(".")],
  sourceUnavailableCase: () => [],
  unsupportedCase: () => []
}

describe("the AWS adapters' regions", () => {
  for (const adapter of adapters) {
    const regionOf = (settings: Record<string, string>) =>
      Either.map(read(adapter.config as Config.Config<{ readonly region: string }>, settings), (s) => s.region)

    it(`${adapter.name}: its own setting, else AWS_REGION, else a start-up error naming both`, () => {
      expect(regionOf({ ...adapter.required, [adapter.setting]: "eu-central-1", AWS_REGION: "eu-west-1" }))
        .toStrictEqual(Either.right("eu-central-1"))
      expect(regionOf({ ...adapter.required, AWS_REGION: "eu-west-1" })).toStrictEqual(Either.right("eu-west-1"))
      const missing = regionOf(adapter.required)
      assert(Either.isLeft(missing), "no region at all must stop start-up")
      expect(ConfigError.reduceWithContext(missing.left, undefined, pathsOfMissing)).toEqual(
        expect.arrayContaining([adapter.setting, "AWS_REGION"])
      )
    })
  }

  it("S3 with an endpoint (R2): `auto` unless S3_REGION says otherwise, whatever AWS_REGION is", () => {
    const regionOf = (settings: Record<string, string>) =>
      Either.map(read(s3FileStoreSettingsConfig, { S3_BUCKET: "exports", ...settings }), (s) => s.region)
    const r2 = { S3_ENDPOINT: "https://account.r2.cloudflarestorage.com", AWS_REGION: "eu-west-1" }
    expect(regionOf(r2)).toStrictEqual(Either.right("auto"))
    expect(regionOf({ ...r2, S3_REGION: "weur" })).toStrictEqual(Either.right("weur"))
  })
})
