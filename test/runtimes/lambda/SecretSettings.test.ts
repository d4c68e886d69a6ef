import { describe, expect, it } from "@effect/vitest"
import { Config, Effect, Redacted } from "effect"
import {
  lambdaConfigProvider,
  readSecretString,
  settingsOfSecret
} from "../../../src/runtimes/lambda/SecretSettings.js"
import { SilentServer } from "../../support/servers/SilentServer.js"

const read = (provider: Awaited<ReturnType<typeof lambdaConfigProvider>>) =>
  Effect.runSync(
    Config.all({
      password: Config.redacted("CLICKHOUSE_PASSWORD"),
      url: Config.string("CLICKHOUSE_URL")
    }).pipe(Effect.withConfigProvider(provider))
  )

/** `variables` set in this process's environment until the scope closes, then put back as they were. */
const withEnvironment = (variables: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]))
      Object.assign(process.env, variables)
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

describe("a Lambda function's settings", () => {
  it("come from the environment alone when no secret is named, without reading one", async () => {
    let reads = 0
    const provider = await lambdaConfigProvider(
      { CLICKHOUSE_URL: "https://ch.example.test", CLICKHOUSE_PASSWORD: "from-env" },
      () => {
        reads++
        return Promise.resolve("{}")
      }
    )
    const settings = read(provider)
    expect(Redacted.value(settings.password)).toBe("from-env")
    expect(reads).toBe(0)
  })

  it("take the secret's values over the environment's, and the environment's for the rest", async () => {
    const asked: Array<string> = []
    const provider = await lambdaConfigProvider(
      { SECRETS_ARN: "arn:secret", CLICKHOUSE_URL: "https://ch.example.test", CLICKHOUSE_PASSWORD: "stale" },
      (id) => {
        asked.push(id)
        return Promise.resolve(JSON.stringify({ CLICKHOUSE_PASSWORD: "from-secret" }))
      }
    )
    const settings = read(provider)
    expect(asked).toStrictEqual(["arn:secret"])
    expect(Redacted.value(settings.password)).toBe("from-secret")
    expect(settings.url).toBe("https://ch.example.test")
  })

  it("fail the function's start, naming SECRETS_ARN and never a value, when the secret is unreadable or malformed", async () => {
    await expect(
      lambdaConfigProvider({ SECRETS_ARN: "arn:secret" }, () => Promise.reject(new Error("AccessDeniedException")))
    ).rejects.toThrow(/SECRETS_ARN: the secret could not be read/)
    expect(() => settingsOfSecret("not json")).toThrow(/SECRETS_ARN: the secret is not JSON/)
    expect(() => settingsOfSecret("[1]")).toThrow(/must be a JSON object/)
    expect(() => settingsOfSecret(JSON.stringify({ CLICKHOUSE_PASSWORD: 42 }))).toThrow(
      /the value of CLICKHOUSE_PASSWORD must be a string/
    )
    expect(() => settingsOfSecret(JSON.stringify({ "lower-case": "s3cr3t" }))).toThrow(/is not a setting name/)
    const refusal = (() => {
      try {
        settingsOfSecret(JSON.stringify({ OTHER: "s3cr3t-value", PASSWORD: 1234 }))
        return "accepted"
      } catch (error) {
        return String(error)
      }
    })()
    expect(refusal).toMatch(/PASSWORD must be a string/)
    expect(refusal).not.toContain("s3cr3t-value")
  })

  it.scoped("fail within their time limit when Secrets Manager does not answer", () =>
    Effect.gen(function*() {
      const silent = yield* SilentServer
      // What the Lambda runtime would set, with Secrets Manager's endpoint on a server that never answers.
      yield* withEnvironment({
        AWS_ENDPOINT_URL_SECRETS_MANAGER: silent.endpoint.href,
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: "ASIAEXAMPLEROLEKEY",
        AWS_SECRET_ACCESS_KEY: "role-secret"
      })
      const started = Date.now()
      const read = yield* Effect.promise(() =>
        readSecretString("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", 500).then(
          () => "answered",
          (error: unknown) => (error instanceof Error ? error.name : "thrown")
        )
      )
      expect(read).toBe("AbortError")
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(silent.accepted()).toBeGreaterThan(0)
    }).pipe(Effect.provide(SilentServer.layer)))
})
