// Email through Amazon SES (API v2): each message is one `SendEmail` call with simple content, tagged with its
// job. The client is built without network I/O and destroyed with its scope.
import { SendEmailCommand, SESv2Client } from "@aws-sdk/client-sesv2"
import type { SendEmailCommandInput } from "@aws-sdk/client-sesv2"
import type { Scope } from "effect"
import { Config, ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import type { EmailMessage } from "../../application/ports/EmailSender.js"
import { EmailSender } from "../../application/ports/EmailSender.js"
import { NotificationFailed } from "../../domain/Errors.js"
import { maskEmail } from "../../domain/Identifiers.js"
import { regionConfig } from "../aws/AwsRegion.js"

export interface SesCredentials {
  readonly accessKeyId: Redacted.Redacted<string>
  readonly secretAccessKey: Redacted.Redacted<string>
}

export interface SesClientSettings {
  /** The SES region the sender identity is verified in. */
  readonly region: string
  /** Another endpoint than AWS's, for a local server. */
  readonly endpoint?: URL
  /** Static keys; without them the SDK's default credential chain (environment, profile, role) is used. */
  readonly credentials?: SesCredentials
}

export interface SesEmailSenderSettings extends SesClientSettings {
  /** The verified sender: `exports@example.com` or `Exports <exports@example.com>`. */
  readonly from: string
  /** The configuration set that routes SES events (deliveries, bounces, complaints) somewhere. */
  readonly configurationSet?: string
}

// Attempts of one send, made by the SDK's standard retry mode, which knows SES's throttling and transient errors.
// An email cannot be un-sent, so a retry after a lost answer may duplicate it: ADR 3 prefers that to silence.
const SEND_MAX_ATTEMPTS = 3
// Bounds one send, all of its attempts and backoff included: a stuck provider must not hold a worker.
export const SEND_TIMEOUT = Duration.seconds(20)
const UTF8 = "UTF-8"
export const JOB_ID_TAG = "jobId"

const SENDER = /^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/
// Anything shaped like an address, wherever a provider's message puts it.
const ADDRESS_LIKE = /[^\s@<>"'(),;:[\]]+@[^\s@<>"'(),;:[\]]+/g

/** The SESv2 client the sender calls. */
export class SesClient extends Context.Tag("exports/ses/SesClient")<SesClient, SESv2Client>() {}

/** The client for `settings`, destroyed (its sockets closed) when the scope closes. */
export const makeClient = (settings: SesClientSettings): Effect.Effect<SESv2Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new SESv2Client({
        region: settings.region,
        maxAttempts: SEND_MAX_ATTEMPTS,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint.href }),
        ...(settings.credentials === undefined ? {} : {
          credentials: {
            accessKeyId: Redacted.value(settings.credentials.accessKeyId),
            secretAccessKey: Redacted.value(settings.credentials.secretAccessKey)
          }
        })
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

/** The client for `settings`: one per scope, destroyed (its sockets closed) on release. */
const clientLayer = (settings: SesClientSettings): Layer.Layer<SesClient> =>
  Layer.scoped(SesClient, makeClient(settings))

/** The request for one message. Pure, so that what the local server does not keep (tags, configuration set) is tested. */
export const sendEmailInput = (
  settings: Pick<SesEmailSenderSettings, "from" | "configurationSet">,
  message: EmailMessage
): SendEmailCommandInput => ({
  FromEmailAddress: settings.from,
  Destination: { ToAddresses: [Redacted.value(message.to)] },
  Content: {
    Simple: {
      Subject: { Data: message.subject, Charset: UTF8 },
      Body: {
        Text: { Data: message.text, Charset: UTF8 },
        Html: { Data: message.html, Charset: UTF8 }
      }
    }
  },
  // Tag values allow only [A-Za-z0-9_-]: a job id (a UUID) fits as it is.
  EmailTags: [{ Name: JOB_ID_TAG, Value: message.jobId }],
  ...(settings.configurationSet === undefined ? {} : { ConfigurationSetName: settings.configurationSet })
})

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Masks the recipient and anything else shaped like an address: SES names unverified identities in its errors. */
const withoutAddresses = (text: string, recipient: string): string =>
  text
    .replace(new RegExp(escapeRegExp(recipient), "gi"), maskEmail(recipient))
    .replace(ADDRESS_LIKE, (address) => maskEmail(address))

const fieldOf = (cause: unknown, field: string): unknown =>
  typeof cause === "object" && cause !== null && field in cause ? (cause as Record<string, unknown>)[field] : undefined

/** What went wrong, for the logs: the error's name, code and HTTP status, and its message without addresses. */
export const failureDetail = (cause: unknown, recipient: string): string => {
  const name = cause instanceof Error ? cause.name : "UnknownError"
  const code = fieldOf(cause, "code")
  const status = fieldOf(fieldOf(cause, "$metadata"), "httpStatusCode")
  const message = cause instanceof Error ? cause.message : String(cause)
  const parts = [
    name,
    typeof code === "string" && code !== name ? ` ${code}` : "",
    typeof status === "number" ? ` (HTTP ${status})` : "",
    message === "" ? "" : `: ${message}`
  ]
  return withoutAddresses(`SES SendEmail failed: ${parts.join("")}`, recipient)
}

// Refusals SES answers with a 4xx that pass with time: its sending rate and quotas.
const THROTTLING = new Set(["TooManyRequestsException", "LimitExceededException", "ThrottlingException", "Throttling"])

/**
 * Whether trying the send again may succeed: no answer (the network, a timeout), a 5xx, or throttling. Any other
 * answer refuses the message itself, for good: MessageRejected, MailFromDomainNotVerifiedException,
 * BadRequestException (an invalid address), and the account's state (AccountSuspended, SendingPaused), which needs
 * someone to act. The SDK has already retried what it knows to be transient (SEND_MAX_ATTEMPTS).
 */
export const isRetryable = (cause: unknown): boolean => {
  const status = fieldOf(fieldOf(cause, "$metadata"), "httpStatusCode")
  if (typeof status !== "number") return true
  return status >= 500 || status === 429 || (cause instanceof Error && THROTTLING.has(cause.name))
}

export const make = (settings: Pick<SesEmailSenderSettings, "from" | "configurationSet">) =>
  Effect.gen(function*() {
    const client = yield* SesClient

    const send = Effect.fn("SesEmailSender.send")(function*(message: EmailMessage) {
      const recipient = Redacted.value(message.to)
      const logged = { to: maskEmail(recipient), jobId: message.jobId }
      const failed = (detail: string, retryable = true) =>
        new NotificationFailed({ channel: "email", detail, retryable })
      const sent = yield* Effect.tryPromise({
        // The signal aborts the request (and the SDK's retries) when the send is interrupted or times out.
        try: (signal) => client.send(new SendEmailCommand(sendEmailInput(settings, message)), { abortSignal: signal }),
        catch: (cause) => failed(failureDetail(cause, recipient), isRetryable(cause))
      }).pipe(
        Effect.timeoutFail({
          duration: SEND_TIMEOUT,
          onTimeout: () => failed(`SES SendEmail failed: no answer within ${Duration.format(SEND_TIMEOUT)}`)
        }),
        Effect.tapError((error) =>
          Effect.logWarning("email not sent via SES", { ...logged, detail: error.detail, retryable: error.retryable })
        )
      )
      yield* Effect.logInfo("email sent via SES", { ...logged, messageId: sent.MessageId ?? "" })
    })

    return EmailSender.of({ send })
  })

const credentialsConfig: Config.Config<Option.Option<SesCredentials>> = Config.all({
  accessKeyId: Config.option(Config.redacted("SES_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("SES_SECRET_ACCESS_KEY"))
}).pipe(
  Config.mapOrFail(({ accessKeyId, secretAccessKey }) => {
    if (Option.isSome(accessKeyId) && Option.isSome(secretAccessKey)) {
      return Either.right(Option.some({ accessKeyId: accessKeyId.value, secretAccessKey: secretAccessKey.value }))
    }
    if (Option.isNone(accessKeyId) && Option.isNone(secretAccessKey)) return Either.right(Option.none())
    const [missing, given] = Option.isNone(accessKeyId)
      ? ["SES_ACCESS_KEY_ID", "SES_SECRET_ACCESS_KEY"]
      : ["SES_SECRET_ACCESS_KEY", "SES_ACCESS_KEY_ID"]
    return Either.left(ConfigError.MissingData([missing], `${missing} must be set when ${given} is`))
  })
)

/** The settings from the environment; a missing or malformed one fails start-up with its name. */
export const sesEmailSenderSettingsConfig: Config.Config<SesEmailSenderSettings> = Config.all({
  region: regionConfig("SES_REGION"),
  endpoint: Config.option(Config.url("SES_ENDPOINT")),
  from: Config.nonEmptyString("SES_FROM").pipe(
    Config.validate({
      message: "must be an address, as `exports@example.com` or `Exports <exports@example.com>`",
      validation: (from) => SENDER.test(from.trim())
    })
  ),
  configurationSet: Config.option(Config.nonEmptyString("SES_CONFIGURATION_SET")),
  credentials: credentialsConfig
}).pipe(
  Config.map(({ configurationSet, credentials, endpoint, from, region }): SesEmailSenderSettings => ({
    region,
    from: from.trim(),
    ...Option.match(endpoint, { onNone: () => ({}), onSome: (url) => ({ endpoint: url }) }),
    ...Option.match(configurationSet, { onNone: () => ({}), onSome: (name) => ({ configurationSet: name }) }),
    ...Option.match(credentials, { onNone: () => ({}), onSome: (keys) => ({ credentials: keys }) })
  }))
)

/** The EmailSender on its own SESv2 client, from explicit settings (tests, other runtimes). */
export const layer = (settings: SesEmailSenderSettings): Layer.Layer<EmailSender> =>
  Layer.effect(EmailSender, make(settings)).pipe(Layer.provide(clientLayer(settings)))

/** The production EmailSender: SES, with its settings read from `Config`. */
export const layerConfig: Layer.Layer<EmailSender, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(sesEmailSenderSettingsConfig, layer)
)
