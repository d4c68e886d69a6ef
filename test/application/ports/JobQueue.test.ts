// The queue message as every JobQueue adapter writes it: exactly what the message schema's encoding writes, for the
// catalogue in use and for another.
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import { encodeMessage, ExportMessage, messageEncoderOf } from "../../../src/application/ports/JobQueue.js"
import { servedWithRefunds, withRefunds } from "../../support/ExtraReport.js"

describe("encodeMessage", () => {
  const encodedBySchema = Schema.encodeSync(Schema.parseJson(ExportMessage))

  it.prop(
    "writes exactly what the message schema's encoding writes, key order included",
    [Arbitrary.make(ExportMessage)],
    ([message]) => {
      expect(encodeMessage(message)).toBe(encodedBySchema(message))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "writes what the message schema of another catalogue writes, for its reports too",
    [Arbitrary.make(Schema.Struct({ ...ExportMessage.fields, report: withRefunds.ReportRequest }))],
    ([message]) => {
      const schema = Schema.parseJson(Schema.Struct({ ...ExportMessage.fields, report: withRefunds.ReportRequest }))
      expect(messageEncoderOf(servedWithRefunds)(new ExportMessage(message as ExportMessage, true))).toBe(
        Schema.encodeSync(schema)(message)
      )
    },
    { fastCheck: { numRuns: 200 } }
  )

  it("keeps the schema's order whatever the order the parameters were written in", () => {
    const message = Schema.decodeUnknownSync(ExportMessage)({
      jobId: "01890a5d-ac96-774b-bcce-b302099a8057",
      userId: "alice",
      merchantId: "m-acme",
      report: { params: { status: "paid", dateTo: "2024-01-31", dateFrom: "2024-01-01" }, _tag: "orders" }
    })
    const shuffled = new ExportMessage({
      ...message,
      report: {
        _tag: "orders",
        params: {
          status: "paid",
          timezone: message.report.params.timezone,
          dateTo: message.report.params.dateTo,
          dateFrom: message.report.params.dateFrom
        }
      }
    })
    expect(encodeMessage(shuffled)).toBe(encodedBySchema(shuffled))
  })
})
