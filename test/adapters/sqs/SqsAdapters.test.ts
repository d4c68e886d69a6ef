// The SQS publisher and consumer against fauxqs in this process, with every other port in memory: what is put on
// the queue, exports run end to end, duplicates, poison messages, long exports, shutdown and an unreachable queue.
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import type { ReceiveMessageCommandOutput } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Duration, Effect, Either, Exit, Layer, Option, Scope } from "effect"
import { MemoryOutbox } from "../../../src/adapters/memory/MemoryEmailSender.js"
import * as SqsClient from "../../../src/adapters/sqs/SqsClient.js"
import type { SqsSettingsShape } from "../../../src/adapters/sqs/SqsClient.js"
import * as SqsConsumer from "../../../src/adapters/sqs/SqsConsumer.js"
import * as SqsJobQueue from "../../../src/adapters/sqs/SqsJobQueue.js"
import { EmailSender } from "../../../src/application/ports/EmailSender.js"
import { encodeMessage } from "../../../src/application/ports/JobQueue.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { messageFor, requestExport } from "../../../src/application/RequestExport.js"
import { Lease, Started, transition } from "../../../src/domain/ExportJob.js"
import type { ExportJobId } from "../../../src/domain/Identifiers.js"
import { alice, ordersInput, testLayer } from "../../support/Fixtures.js"
import { closedPort } from "../../support/FreePort.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import type { LoggedLine } from "../../support/LogCollector.js"
import { FauxqsServer, FauxqsServerLive, MAX_RECEIVE_COUNT } from "../../support/servers/FauxqsServer.js"
import { divert, SilentServer } from "../../support/servers/SilentServer.js"

/** Messages handed out by ReceiveMessage through the adapter's client, counted apart from the consumer. */
let received = 0
/** How many of the next ReceiveMessage calls fail as if SQS throttled them. */
let failNextReceives = 0

const countingClient = Layer.effect(
  SqsClient.SqsClient,
  Effect.map(SqsClient.SqsClient, (client) => {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "ReceiveMessageCommand" && failNextReceives > 0) {
          failNextReceives--
          throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })
        }
        const result = await next(args)
        if (context.commandName === "ReceiveMessageCommand") {
          received += (result.output as ReceiveMessageCommandOutput).Messages?.length ?? 0
        }
        return result
      },
      { step: "initialize", name: "countReceives" }
    )
    return client
  })
).pipe(Layer.provide(SqsClient.layer))

/** Log lines of the current test, kept instead of printed; `envOf` starts a new collector for each test. */
let logs = makeLogCollector()
/** A line's message parts as one text. */
const textOf = (line: LoggedLine) => JSON.stringify(line.message)

/** The in-memory adapters, the SQS publisher in place of the memory queue, and fauxqs behind it. */
const envOf = (
  options: {
    readonly settings?: Partial<SqsSettingsShape>
    readonly emailDelay?: Duration.Duration
  } = {}
) => {
  const memory = testLayer(20)
  const settings = Layer.unwrapEffect(
    Effect.map(FauxqsServer, (server) => SqsClient.layerSettings({ ...server.settings, ...options.settings }))
  )
  const sqs = SqsJobQueue.layer.pipe(Layer.provideMerge(countingClient), Layer.provideMerge(settings))
  const slowEmail = Layer.effect(
    EmailSender,
    Effect.map(MemoryOutbox, (sender) =>
      EmailSender.of({
        send: (message) => Effect.sleep(options.emailDelay ?? Duration.zero).pipe(Effect.zipRight(sender.send(message)))
      }))
  ).pipe(Layer.provide(memory))
  logs = makeLogCollector()
  return Layer.mergeAll(memory, slowEmail, sqs, logs.replacing).pipe(Layer.provideMerge(FauxqsServerLive))
}

const statusOf = (jobId: ExportJobId) =>
  Effect.flatMap(JobStore, (store) => store.get(jobId)).pipe(
    Effect.map((job) => Option.match(job, { onNone: () => "missing", onSome: (found) => found._tag }))
  )

const emails = Effect.flatMap(MemoryOutbox, (sender) => sender.outbox)

/** Polls `check` with real time until it holds, or dies after `within`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, within = Duration.seconds(15)) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(within)
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met in time")
      yield* Effect.sleep(Duration.millis(50))
    }
  })

const queueEmpty = (url: "queueUrl" | "dlqUrl" = "queueUrl") =>
  Effect.flatMap(FauxqsServer, (server) => server.depth(server[url])).pipe(
    Effect.map((depth) => depth.visible === 0 && depth.inFlight === 0)
  )

const sendRaw = (body: string) =>
  Effect.flatMap(
    FauxqsServer,
    (server) =>
      Effect.promise(() => server.client.send(new SendMessageCommand({ QueueUrl: server.queueUrl, MessageBody: body })))
  )

const startConsumer = (concurrency = 2, shutdownGrace = Duration.seconds(5)) =>
  Layer.build(SqsConsumer.layer({ concurrency, shutdownGrace, maxReceives: MAX_RECEIVE_COUNT }))

describe("SqsJobQueue", () => {
  it.live("publishes the encoded message with the jobId as an attribute", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const server = yield* FauxqsServer
      const messages = yield* server.peek(server.queueUrl)
      expect(messages).toHaveLength(1)
      expect(messages[0]?.Body).toBe(encodeMessage(messageFor(job)))
      expect(messages[0]?.MessageAttributes?.[SqsJobQueue.JOB_ID_ATTRIBUTE]).toEqual({
        DataType: "String",
        StringValue: job.jobId
      })
    }).pipe(Effect.provide(envOf())))

  it.live("answers QueueUnavailable when the queue cannot be reached, naming no address", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const endpoint = `http://127.0.0.1:${port}`
      const env = envOf({ settings: { endpoint, queueUrl: `${endpoint}/000000000000/exports` } })
      const error = yield* requestExport(alice, ordersInput()).pipe(Effect.flip, Effect.provide(env))
      expect(error._tag).toBe("QueueUnavailable")
      if (error._tag !== "QueueUnavailable") return
      expect(error.detail).toMatch(/^SendMessage /)
      expect(error.detail).not.toContain("127.0.0.1")
      expect(error.detail).not.toContain(String(port))
    }))

  it.live("answers QueueUnavailable at the call's limit when the queue never answers", () =>
    Effect.gen(function*() {
      const silent = yield* SilentServer
      const endpoint = silent.endpoint.origin
      const env = envOf({
        settings: { endpoint, queueUrl: `${endpoint}/000000000000/exports`, callTimeout: Duration.millis(300) }
      })
      const started = Date.now()
      const error = yield* requestExport(alice, ordersInput()).pipe(Effect.flip, Effect.provide(env))
      const took = Date.now() - started
      expect(error).toMatchObject({ _tag: "QueueUnavailable", detail: "SendMessage failed: no answer within 300ms" })
      expect(silent.accepted()).toBe(1)
      expect(took).toBeGreaterThanOrEqual(250)
      expect(took).toBeLessThan(10_000)
    }).pipe(Effect.provide(SilentServer.layer)))
})

describe("SqsConsumer", () => {
  it.live("runs a published export to the end and deletes its message", () =>
    Effect.gen(function*() {
      yield* startConsumer()
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      expect(yield* emails).toHaveLength(1)
      // Every line about the message names its job, and none holds the message itself.
      const aboutMessage = logs.lines.filter((line) => "messageId" in line.annotations)
      expect(aboutMessage.length).toBeGreaterThan(0)
      expect(aboutMessage.every((line) => line.annotations["jobId"] === job.jobId)).toBe(true)
      const body = encodeMessage(messageFor(job))
      const texts = logs.lines.map(textOf)
      expect(texts.some((text) => text.includes(body) || text.includes(JSON.stringify(body)))).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(envOf())))

  it.live("handles the same message delivered three times once, and deletes all three", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const body = encodeMessage(messageFor(job))
      yield* sendRaw(body)
      yield* sendRaw(body)
      yield* startConsumer(3)
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      expect(yield* emails).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(envOf())))

  it.live("leaves a receive of a job whose lease is live for later; a receive after it ran out takes the job over", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      // As a worker that took the job and died leaves it: its lease runs out in half a second, before the message
      // comes back (its visibility is a second).
      const now = yield* DateTime.now
      const lease = new Lease({ holder: "dead-worker", expiresAt: DateTime.add(now, { millis: 500 }) })
      const running = Either.getOrThrow(transition(job, Started.make({ at: now, lease })))
      yield* Effect.flatMap(JobStore, (store) => store.update(running, job.revision))
      yield* startConsumer(1)
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      const deferred = logs.lines.filter((line) => textOf(line).includes("leaving this copy for later"))
      expect(deferred.map((line) => line.annotations["receiveCount"])).toEqual([1])
      const done = yield* Effect.flatMap(JobStore, (store) => store.get(job.jobId)).pipe(Effect.map(Option.getOrThrow))
      expect(done.attempts).toBe(2)
      expect(yield* emails).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(envOf())))

  it.live("keeps going after an undecodable message, which the redrive policy moves to the DLQ", () =>
    Effect.gen(function*() {
      const server = yield* FauxqsServer
      received = 0
      yield* sendRaw("{ not an export message")
      yield* startConsumer(1)
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      const dead = yield* server.peek(server.dlqUrl)
      expect(dead.map((message) => message.Body)).toEqual(["{ not an export message"])
      // The good message once, the bad one on each of its maxReceiveCount receives.
      expect(received).toBe(1 + MAX_RECEIVE_COUNT)
      const rejections = logs.lines.filter((line) => textOf(line).includes("redrive policy"))
      expect(rejections.map((line) => line.annotations["receiveCount"])).toEqual([1, 2, 3])
    }).pipe(Effect.scoped, Effect.provide(envOf())))

  it.live("backs off and keeps receiving when SQS fails", () =>
    Effect.gen(function*() {
      failNextReceives = 2
      yield* startConsumer()
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      const backoffs = logs.lines.filter((line) => textOf(line).includes("backing off"))
      expect(backoffs.map(textOf)).toEqual([
        expect.stringContaining("ReceiveMessage failed: ThrottlingException"),
        expect.stringContaining("ReceiveMessage failed: ThrottlingException")
      ])
    }).pipe(Effect.scoped, Effect.provide(envOf())))

  it.live("extends the visibility of a handler slower than it, so the message is not delivered twice", () =>
    Effect.gen(function*() {
      received = 0
      yield* startConsumer(2)
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      expect(received).toBe(1)
      expect(yield* emails).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(envOf({ emailDelay: Duration.millis(3500) }))))

  it.live("on release, stops receiving and puts back what outlives the grace period", () =>
    Effect.gen(function*() {
      const server = yield* FauxqsServer
      const scope = yield* Scope.make()
      yield* startConsumer(1, Duration.millis(500)).pipe(Scope.extend(scope))
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - started
      expect(took).toBeGreaterThanOrEqual(400)
      expect(took).toBeLessThan(10_000)
      expect(yield* emails).toHaveLength(0)
      // Visible again at once, not after its visibility; and no consumer takes it any more.
      const back = yield* server.peek(server.queueUrl)
      expect(back.map((message) => message.MessageAttributes?.[SqsJobQueue.JOB_ID_ATTRIBUTE]?.StringValue)).toEqual([
        job.jobId
      ])
      expect(back[0]?.Attributes?.["ApproximateReceiveCount"]).toBe("2")
    }).pipe(Effect.provide(envOf({ settings: { visibilitySeconds: 30 }, emailDelay: Duration.seconds(20) }))))
})

describe("SqsConsumer when SQS does not answer", () => {
  const SHORT = Duration.millis(300)

  it.live("a ReceiveMessage without an answer ends at the long-poll wait plus the call's limit, and is made again", () =>
    Effect.gen(function*() {
      const silent = yield* SilentServer
      const endpoint = silent.endpoint.origin
      const env = envOf({
        settings: { endpoint, queueUrl: `${endpoint}/000000000000/exports`, waitSeconds: 1, callTimeout: SHORT }
      })
      const started = Date.now()
      const firstFailedAfter = yield* Effect.gen(function*() {
        yield* startConsumer(1)
        yield* eventually(Effect.sync(() => logs.lines.some((line) => textOf(line).includes("backing off"))))
        const took = Date.now() - started
        // The receiver backs off (1 s, jittered) and receives again: the consumer was not stuck on the first call.
        yield* eventually(Effect.sync(() => silent.accepted() >= 2))
        return took
      }).pipe(Effect.scoped, Effect.provide(env))
      expect(firstFailedAfter).toBeGreaterThanOrEqual(1_250)
      expect(firstFailedAfter).toBeLessThan(8_000)
      const backoffs = logs.lines.filter((line) => textOf(line).includes("backing off")).map(textOf)
      expect(backoffs[0]).toContain("ReceiveMessage failed: no answer within 1s 300ms")
    }).pipe(Effect.provide(SilentServer.layer)))

  it.live("a DeleteMessage without an answer is retried, and the next message is still handled", () =>
    Effect.gen(function*() {
      received = 0
      const diverted = divert(yield* SqsClient.SqsClient, "DeleteMessageCommand", yield* SilentServer)
      // One handler: a handler stuck on its DeleteMessage would hold the only slot, and nothing more would be received.
      yield* startConsumer(1)
      const first = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(first.jobId), (status) => status === "Succeeded"))
      const second = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(second.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      expect(diverted()).toBe(1)
      // Each message received once: the first was deleted by the retry, not left to come back.
      expect(received).toBe(2)
      expect(yield* emails).toHaveLength(2)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.merge(envOf({ settings: { callTimeout: SHORT, visibilitySeconds: 30 } }), SilentServer.layer)
      )
    ))

  it.live("a ChangeMessageVisibility without an answer does not stop the heartbeat, so the message stays hidden", () =>
    Effect.gen(function*() {
      received = 0
      const diverted = divert(yield* SqsClient.SqsClient, "ChangeMessageVisibilityCommand", yield* SilentServer)
      yield* startConsumer(2)
      const job = yield* requestExport(alice, ordersInput())
      yield* eventually(Effect.map(statusOf(job.jobId), (status) => status === "Succeeded"))
      yield* eventually(queueEmpty())
      expect(diverted()).toBe(1)
      // The handler outlived the visibility (4 s): the heartbeat after the unanswered one extended it in time.
      expect(received).toBe(1)
      expect(yield* emails).toHaveLength(1)
      const warnings = logs.lines.filter((line) => textOf(line).includes("could not extend"))
      expect(warnings.map(textOf)).toEqual([
        expect.stringContaining("ChangeMessageVisibility failed: no answer within 300ms")
      ])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.merge(
          envOf({ settings: { callTimeout: SHORT, visibilitySeconds: 4 }, emailDelay: Duration.seconds(5) }),
          SilentServer.layer
        )
      )
    ))
})

describe("SqsSettings", () => {
  const read = (env: Record<string, string>) =>
    SqsClient.SqsSettings.pipe(
      Effect.provide(SqsClient.layerSettingsConfig),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.either
    )
  const queueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/exports"

  it.effect("reads the queue, falls back to AWS_REGION and defaults the consumer's settings", () =>
    Effect.gen(function*() {
      const settings = yield* Effect.flatten(read({ SQS_QUEUE_URL: queueUrl, AWS_REGION: "eu-west-1" }))
      expect(settings).toEqual({
        queueUrl,
        region: "eu-west-1",
        endpoint: undefined,
        credentials: undefined,
        waitSeconds: 20,
        visibilitySeconds: 120,
        maxMessages: 10,
        callTimeout: Duration.seconds(5)
      })
    }))

  it.effect("fails with the variable's name when one is missing or malformed", () =>
    Effect.gen(function*() {
      const missing = yield* read({ SQS_REGION: "eu-west-1" })
      expect(String(missing)).toContain("SQS_QUEUE_URL")
      const tooMany = yield* read({ SQS_QUEUE_URL: queueUrl, SQS_REGION: "eu-west-1", SQS_MAX_MESSAGES: "11" })
      expect(String(tooMany)).toContain("SQS_MAX_MESSAGES")
      const halfCredentials = yield* read({ SQS_QUEUE_URL: queueUrl, SQS_REGION: "eu-west-1", SQS_ACCESS_KEY_ID: "k" })
      expect(String(halfCredentials)).toContain("SQS_SECRET_ACCESS_KEY")
    }))

  it.effect("builds the client and the publisher without reaching the network", () =>
    Effect.gen(function*() {
      const client = yield* SqsClient.SqsClient
      expect(client.config.region).toBeDefined()
    }).pipe(
      Effect.provide(
        SqsJobQueue.layer.pipe(
          Layer.provideMerge(SqsClient.layer),
          Layer.provide(
            SqsClient.layerSettings({ queueUrl: "http://192.0.2.1:9/000000000000/exports", region: "local" })
          )
        )
      )
    ))
})
