// Settings a Lambda function must not hold in plain environment variables (passwords, access keys) come from the
// Secrets Manager secret SECRETS_ARN names: a JSON object of setting name to string value, laid over the
// environment. It is read once per container, while the function initialises and before any layer is built, so
// that building the layers does no network I/O and every setting is read with `Config` under its usual name.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager"
import { ConfigProvider } from "effect"

const SETTING_NAME = /^[A-Z][A-Z0-9_]*$/

/** The settings a secret's JSON holds; anything else than an object of string values is refused, by key. */
export const settingsOfSecret = (secretString: string): Map<string, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(secretString)
  } catch {
    throw new Error("SECRETS_ARN: the secret is not JSON; it must be an object of setting name to string value")
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("SECRETS_ARN: the secret must be a JSON object of setting name to string value")
  }
  const settings = new Map<string, string>()
  for (const [name, value] of Object.entries(parsed)) {
    if (!SETTING_NAME.test(name)) throw new Error(`SECRETS_ARN: ${JSON.stringify(name)} is not a setting name`)
    if (typeof value !== "string") throw new Error(`SECRETS_ARN: the value of ${name} must be a string`)
    settings.set(name, value)
  }
  return settings
}

/**
 * The longest the read may take, the SDK's retries included: a Secrets Manager that does not answer fails the
 * function's initialisation (which Lambda reports and retries) instead of using up the invocation's whole timeout.
 */
export const SECRET_READ_TIMEOUT_MILLIS = 10_000

export const readSecretString = async (
  secretId: string,
  timeoutMillis = SECRET_READ_TIMEOUT_MILLIS
): Promise<string> => {
  const client = new SecretsManagerClient({})
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }), {
      abortSignal: AbortSignal.timeout(timeoutMillis)
    })
    if (SecretString === undefined) throw new Error("SECRETS_ARN: the secret has no string value")
    return SecretString
  } finally {
    client.destroy()
  }
}

/**
 * The environment, with the secret's settings over it when SECRETS_ARN is set. Fails (and with it the function's
 * initialisation, which Lambda reports and retries) when the secret cannot be read or is malformed, naming why but
 * never a value.
 */
export const lambdaConfigProvider = async (
  env: Readonly<Record<string, string | undefined>> = process.env,
  readSecret: (secretId: string) => Promise<string> = readSecretString
): Promise<ConfigProvider.ConfigProvider> => {
  const environment = ConfigProvider.fromMap(
    new Map(Object.entries(env).flatMap(([name, value]) => (value === undefined ? [] : [[name, value] as const])))
  )
  const secretId = env["SECRETS_ARN"]
  if (secretId === undefined || secretId === "") return environment
  const secretString = await readSecret(secretId).catch((cause: unknown) => {
    const name = cause instanceof Error ? cause.name : "Error"
    throw new Error(`SECRETS_ARN: the secret could not be read (${name})`)
  })
  return ConfigProvider.orElse(ConfigProvider.fromMap(settingsOfSecret(secretString)), () => environment)
}
