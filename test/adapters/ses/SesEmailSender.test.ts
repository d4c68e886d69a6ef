// The SES EmailSender beyond the contract: the real emails as SES receives them, what is sent besides the
// content, failures without addresses in details or logs, and settings read from the environment.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Either, Layer, Redacted, Schema } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { SesEmailSenderSettings } from "../../../src/adapters/ses/SesEmailSender.js"
import * as SesEmailSender from "../../../src/adapters/ses/SesEmailSender.js"
import { failureEmailFor, successEmailFor } from "../../../src/application/Messages.js"
import { EmailSender } from "../../../src/application/ports/EmailSender.js"
import type { EmailMessage } from "../../../src/application/ports/EmailSender.js"
import { FailedJob, SucceededJob } from "../../../src/domain/ExportJob.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { jobIdAt, uniqueSuffix } from "../../contracts/ContractSupport.js"
import { closedPort } from "../../support/FreePort.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import type { LogCollector } from "../../support/LogCollector.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"
import { FROM, sesEmailSenderOnLocalServer, settingsFor } from "./SesSupport.js"

const finishedJobFields = (recipient: EmailAddress) => {
  const jobId = jobIdAt(Date.parse("2026-11-28T10:00:00Z"))
  return {
    jobId,
    owner: { userId: "alice", merchantId: "m-acme" },
    email: recipient,
    report: { _tag: "orders", params: { dateFrom: "2025-01-01", dateTo: "2025-03-31" } },
    format: "csv",
    requestedAt: "2026-11-28T10:00:00.000Z",
    attempts: 1,
    revision: 3,
    startedAt: "2026-11-28T10:00:01.000Z",
    finishedAt: "2026-11-28T10:02:00.000Z",
    notifications: { inApp: "pending", email: "pending" }
  }
}

const succeededJob = (recipient: EmailAddress): SucceededJob => {
  const fields = finishedJobFields(recipient)
  return Schema.decodeUnknownSync(SucceededJob)({
    _tag: "Succeeded",
    ...fields,
    result: {
      objectKey: `exports/m-acme/${fields.jobId}.csv`,
      rowCount: 48213,
      byteSize: 5_242_880,
      sha256: "a".repeat(64),
      linkExpiresAt: "2026-11-29T10:02:00.000Z"
    }
  })
}

const failedJob = (recipient: EmailAddress): FailedJob =>
  Schema.decodeUnknownSync(FailedJob)({
    _tag: "Failed",
    ...finishedJobFields(recipient),
    failure: {
      reason: "QueryTimeout",
      userMessage:
        "The report took too long to prepare. Try a shorter date range, or split the export into several parts.",
      retryable: false
    }
  })

const uniqueRecipient = () => EmailAddress.make(`jane.doe-${uniqueSuffix()}@example.com`)

/** Every line `logs` kept, each rendered whole (level, message, annotations, spans, cause), one line after another. */
const renderedLines = (logs: LogCollector) => logs.lines.map((line) => JSON.stringify(line)).join("\n")

const messageTo = (recipient: EmailAddress): EmailMessage => ({
  to: Redacted.make(recipient),
  subject: "Your export is ready",
  text: "Ready.",
  html: "<p>Ready.</p>",
  jobId: jobIdAt(Date.now())
})

describe("SesEmailSender on aws-ses-v2-local", () => {
  it.effect("a success email arrives with both parts, the download link, the row count and the expiry", () =>
    Effect.gen(function*() {
      const server = yield* SesLocalServer
      const sender = yield* EmailSender
      const recipient = uniqueRecipient()
      const link = {
        url: "https://files.example.com/exports/m-acme/file.csv?X-Amz-Signature=abc&X-Amz-Expires=86400",
        expiresAt: DateTime.unsafeMake("2026-11-29T10:02:00Z")
      }
      const message = successEmailFor(succeededJob(recipient), "Orders", link, "https://app.example.com/exports/1")
      yield* sender.send(message)

      const [email, ...others] = yield* server.sentTo(recipient)
      expect(others).toEqual([])
      expect(email?.from).toBe(FROM)
      expect(email?.destination).toEqual({ to: [recipient], cc: [], bcc: [] })
      expect(email?.subject).toBe(message.subject)
      expect(email?.body.text).toBe(message.text)
      expect(email?.body.html).toBe(message.html)
      const text = email?.body.text ?? ""
      expect(text).toContain(link.url)
      expect(text).toContain("48,213 rows")
      expect(text).toContain("2026-11-29 10:02 UTC")
      expect(email?.body.html).toContain(`href="${link.url.replaceAll("&", "&amp;")}"`)
    }).pipe(Effect.provide(sesEmailSenderOnLocalServer())))

  it.effect("a failure email arrives with both parts and the message the user can act on", () =>
    Effect.gen(function*() {
      const server = yield* SesLocalServer
      const sender = yield* EmailSender
      const recipient = uniqueRecipient()
      const message = failureEmailFor(failedJob(recipient), "Orders", "https://app.example.com/exports/1")
      yield* sender.send(message)

      const emails = yield* server.sentTo(recipient)
      expect(emails.map((email) => [email.subject, email.body.text, email.body.html])).toEqual([
        [message.subject, message.text, message.html]
      ])
      expect(emails[0]?.body.text).toContain("Try a shorter date range")
      expect(emails[0]?.body.html).toContain("Try a shorter date range")
    }).pipe(Effect.provide(sesEmailSenderOnLocalServer())))

  it.effect("a sent email is logged with the address masked, never in full", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const sender = yield* EmailSender
      const recipient = uniqueRecipient()
      yield* sender.send(messageTo(recipient))
      expect(renderedLines(logs)).toContain("j***@example.com")
      expect(renderedLines(logs)).not.toContain(recipient)
    }).pipe(Effect.provide(Layer.merge(sesEmailSenderOnLocalServer(), logs.replacing)))
  })
})

describe("SesEmailSender when SES fails", () => {
  it.effect("SES down: NotificationFailed on the email channel, and no log line holds the address", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const port = yield* closedPort
      const recipient = uniqueRecipient()
      const sender = SesEmailSender.layer(settingsFor(new URL(`http://127.0.0.1:${port}`)))
      const error = yield* Effect.flatMap(EmailSender, (email) => email.send(messageTo(recipient))).pipe(
        Effect.provide(sender),
        Effect.flip
      )
      expect(error._tag).toBe("NotificationFailed")
      expect(error.channel).toBe("email")
      expect(error.detail).toContain("ECONNREFUSED")
      expect(error.retryable).toBe(true)
      expect(error.detail).not.toContain(recipient)
      const logged = renderedLines(logs)
      expect(logged).toContain("j***@example.com")
      expect(logged).toContain("ECONNREFUSED")
      expect(logged).not.toContain(recipient)
    }).pipe(Effect.provide(logs.replacing))
  })

  it.scoped("an SES error naming the address has it masked in the detail and the logs", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const recipient = uniqueRecipient()
      // What SES answers in its sandbox to an unverified recipient: the address is in the message.
      const rejecting = createServer((_, response) => {
        response.writeHead(400, { "content-type": "application/json", "x-amzn-errortype": "MessageRejected" })
        response.end(JSON.stringify({
          message: `Email address is not verified. The following identities failed the check in region `
            + `EU-WEST-1: ${recipient.toUpperCase()}, ${recipient}`
        }))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          rejecting.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () =>
          Effect.async<void>((resume) => {
            rejecting.closeAllConnections()
            rejecting.close(() => resume(Effect.void))
          })
      )
      const { port } = rejecting.address() as AddressInfo
      const sender = SesEmailSender.layer(settingsFor(new URL(`http://127.0.0.1:${port}`)))
      const error = yield* Effect.flatMap(EmailSender, (email) => email.send(messageTo(recipient))).pipe(
        Effect.provide(sender),
        Effect.flip
      )
      expect(error.channel).toBe("email")
      expect(error.detail).toContain("MessageRejected")
      expect(error.detail).toContain("HTTP 400")
      expect(error.retryable).toBe(false)
      expect(error.detail).toContain("j***@example.com")
      expect(error.detail.toLowerCase()).not.toContain(recipient.toLowerCase())
      expect(renderedLines(logs).toLowerCase()).not.toContain(recipient.toLowerCase())
    }).pipe(Effect.provide(logs.replacing))
  })
})

describe("SesEmailSender: whether a failure is worth trying again", () => {
  it.effect("a message the local server refuses (no subject) is refused for good", () =>
    Effect.gen(function*() {
      const sender = yield* EmailSender
      const recipient = uniqueRecipient()
      const error = yield* Effect.flip(sender.send({ ...messageTo(recipient), subject: "" }))
      expect(error.detail).toContain("HTTP 400")
      expect(error.retryable).toBe(false)
      expect(yield* (yield* SesLocalServer).sentTo(recipient)).toStrictEqual([])
    }).pipe(Effect.provide(sesEmailSenderOnLocalServer())))

  it("refusals of the message or the account are for good; no answer, 5xx and throttling are not", () => {
    const answered = (name: string, httpStatusCode: number) =>
      Object.assign(new Error("refused"), { name, $metadata: { httpStatusCode } })
    const verdicts = [
      answered("MessageRejected", 400),
      answered("MailFromDomainNotVerifiedException", 400),
      answered("BadRequestException", 400),
      answered("AccountSuspendedException", 400),
      answered("NotFoundException", 404),
      answered("TooManyRequestsException", 429),
      answered("LimitExceededException", 400),
      answered("InternalFailure", 500),
      answered("ServiceUnavailable", 503),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      Object.assign(new Error("aborted"), { name: "AbortError" })
    ].map(SesEmailSender.isRetryable)
    expect(verdicts).toStrictEqual([false, false, false, false, false, true, true, true, true, true, true])
  })
})

describe("SesEmailSender request", () => {
  it("is simple content in UTF-8, to the one recipient, tagged with the job, in the configuration set", () => {
    const message = messageTo(EmailAddress.make("jane.doe@example.com"))
    const input = SesEmailSender.sendEmailInput({ from: FROM, configurationSet: "exports" }, message)
    expect(input).toEqual({
      FromEmailAddress: FROM,
      Destination: { ToAddresses: ["jane.doe@example.com"] },
      Content: {
        Simple: {
          Subject: { Data: message.subject, Charset: "UTF-8" },
          Body: { Text: { Data: message.text, Charset: "UTF-8" }, Html: { Data: message.html, Charset: "UTF-8" } }
        }
      },
      EmailTags: [{ Name: SesEmailSender.JOB_ID_TAG, Value: message.jobId }],
      ConfigurationSetName: "exports"
    })
    expect(message.jobId).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(SesEmailSender.sendEmailInput({ from: FROM }, message)).not.toHaveProperty("ConfigurationSetName")
  })
})

describe("SesEmailSender settings", () => {
  const settingsFrom = (env: Record<string, string>) =>
    Effect.withConfigProvider(
      SesEmailSender.sesEmailSenderSettingsConfig,
      ConfigProvider.fromMap(new Map(Object.entries(env)))
    )
  const read = (env: Record<string, string>) => Effect.either(settingsFrom(env))

  it.effect("are read from the environment, the keys as Redacted", () =>
    Effect.gen(function*() {
      const settings = yield* settingsFrom({
        SES_REGION: "eu-west-1",
        SES_ENDPOINT: "http://127.0.0.1:8005",
        SES_FROM: FROM,
        SES_CONFIGURATION_SET: "exports",
        SES_ACCESS_KEY_ID: "AKIDEXAMPLE",
        SES_SECRET_ACCESS_KEY: "secret"
      })
      expect(settings.region).toBe("eu-west-1")
      expect(settings.endpoint?.href).toBe("http://127.0.0.1:8005/")
      expect(settings.from).toBe(FROM)
      expect(settings.configurationSet).toBe("exports")
      expect(Redacted.value(settings.credentials!.secretAccessKey)).toBe("secret")
      expect(String(settings.credentials?.secretAccessKey as unknown)).not.toContain("secret")
    }))

  it.effect("need only the region and the sender; the default credential chain is used without keys", () =>
    Effect.gen(function*() {
      const settings = yield* read({ SES_REGION: "eu-west-1", SES_FROM: "exports@example.com" })
      expect(settings).toEqual(Either.right({ region: "eu-west-1", from: "exports@example.com" }))
    }))

  it.effect("name the setting that is missing or malformed", () =>
    Effect.gen(function*() {
      const failure = (env: Record<string, string>) =>
        Effect.map(read(env), (result) => Either.isLeft(result) ? String(result.left as unknown) : "no error")
      expect(yield* failure({ SES_FROM: FROM })).toContain("SES_REGION")
      expect(yield* failure({ SES_REGION: "eu-west-1" })).toContain("SES_FROM")
      expect(yield* failure({ SES_REGION: "eu-west-1", SES_FROM: "not an address" })).toContain("SES_FROM")
      expect(yield* failure({ SES_REGION: "eu-west-1", SES_FROM: FROM, SES_ENDPOINT: "::" })).toContain("SES_ENDPOINT")
      expect(yield* failure({ SES_REGION: "eu-west-1", SES_FROM: FROM, SES_ACCESS_KEY_ID: "AKIDEXAMPLE" }))
        .toContain("SES_SECRET_ACCESS_KEY")
    }))

  it.effect("building the layer does no network I/O: it builds with SES unreachable and no credentials", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const settings: SesEmailSenderSettings = {
        region: "eu-west-1",
        endpoint: new URL(`http://127.0.0.1:${port}`),
        from: FROM
      }
      const sender = yield* Effect.scoped(Layer.build(SesEmailSender.layer(settings)))
      expect(typeof sender.unsafeMap.get(EmailSender.key)).toBe("object")
    }))
})
