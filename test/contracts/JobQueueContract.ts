// The behaviour every JobQueue must have: what is published arrives as the encoded export message, each message
// once per publish, whatever else is on the queue.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Redacted, Schema } from "effect"
import type { Layer } from "effect"
import { JobQueue } from "../../src/application/ports/JobQueue.js"
import { ExportMessage } from "../../src/application/ports/JobQueue.js"
import { messageFor } from "../../src/application/RequestExport.js"
import { newJob } from "../../src/domain/ExportJob.js"
import { EmailAddress, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { ReportRequest } from "../../src/domain/Reports.js"
import { jobIdAt } from "./ContractSupport.js"

/** Takes every message body waiting on the queue under test. */
export type ReceiveBodies<R> = Effect.Effect<ReadonlyArray<string>, never, R>

const decode = Schema.decodeUnknownSync(Schema.parseJson(ExportMessage))

const messageAt = (millis: number, merchant: string, dateFrom: string) =>
  messageFor(newJob({
    jobId: jobIdAt(millis),
    owner: new Owner({ userId: UserId.make("contract-user"), merchantId: MerchantId.make(merchant) }),
    email: Redacted.make(EmailAddress.make("contract@example.com")),
    report: Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: { dateFrom, dateTo: "2024-03-31" } }),
    format: "csv",
    requestedAt: DateTime.unsafeMake(millis)
  }))

export const jobQueueContract = <E, R>(
  name: string,
  makeLayer: () => Layer.Layer<JobQueue | R, E>,
  receiveBodies: ReceiveBodies<R>
) =>
  describe(`JobQueue contract: ${name}`, () => {
    it.effect("delivers a published message as the encoded export message", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const message = messageAt(Date.parse("2024-05-01T10:00:00Z"), "m-acme", "2024-01-01")
        yield* queue.publish(message)
        const bodies = yield* receiveBodies
        expect(bodies.map((body) => decode(body))).toStrictEqual([message])
      }).pipe(Effect.provide(makeLayer())))

    it.effect("delivers each of several messages once, tenants' messages apart", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const messages = [
          messageAt(Date.parse("2024-05-01T10:00:00Z"), "m-acme", "2024-01-01"),
          messageAt(Date.parse("2024-05-01T10:00:01Z"), "m-globex", "2024-02-01"),
          messageAt(Date.parse("2024-05-01T10:00:02Z"), "m-acme", "2024-03-01")
        ]
        for (const message of messages) yield* queue.publish(message)
        const received = (yield* receiveBodies).map((body) => decode(body))
        const byId = (list: ReadonlyArray<ExportMessage>) => [...list].sort((a, b) => (a.jobId < b.jobId ? -1 : 1))
        expect(byId(received)).toStrictEqual(byId(messages))
      }).pipe(Effect.provide(makeLayer())))
  })
