// The notice and the e-mail of one finished export name it the way the web app's list does: its report, its dates
// and its format without brackets inside brackets, its rows grouped, its size in the list's own units.
import { DateTime, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { inAppNotificationFor, successEmailFor } from "../../src/application/Messages.js"
import { SucceededJob } from "../../src/domain/ExportJob.js"
import { fileSize } from "../../src/domain/Quantities.js"
import { jobIdAt } from "../contracts/ContractSupport.js"

const BYTES = 366_182

const gzippedOrders = (rowCount: number): SucceededJob => {
  const jobId = jobIdAt(Date.parse("2026-11-28T10:00:00Z"))
  return Schema.decodeUnknownSync(SucceededJob)({
    _tag: "Succeeded",
    jobId,
    owner: { userId: "alice", merchantId: "m-acme" },
    email: "alice@example.com",
    report: { _tag: "orders", params: { dateFrom: "2025-12-01", dateTo: "2025-12-31" } },
    format: "csv.gz",
    requestedAt: "2026-11-28T10:00:00.000Z",
    attempts: 1,
    revision: 3,
    startedAt: "2026-11-28T10:00:01.000Z",
    finishedAt: "2026-11-28T10:02:00.000Z",
    notifications: { inApp: "pending", email: "pending" },
    result: {
      objectKey: `exports/m-acme/${jobId}.csv.gz`,
      rowCount,
      byteSize: BYTES,
      sha256: "a".repeat(64),
      linkExpiresAt: "2026-11-29T10:02:00.000Z"
    }
  })
}

const link = { url: "https://files.example.com/signed", expiresAt: DateTime.unsafeMake("2026-11-29T10:02:00Z") }

describe("the messages of a finished export", () => {
  it("name the format after the dates, so a format with brackets in its name reads plainly", () => {
    const job = gzippedOrders(25_291)
    const notice = inAppNotificationFor(job, "Orders", "/exports/x", DateTime.unsafeMake(0))
    const email = successEmailFor(job, "Orders", link, "https://app.example.com/exports/x")
    expect(notice.body).toMatch(/^Orders \(2025-12-01 to 2025-12-31\) as CSV \(gzip\): /)
    expect(email.subject).toBe("Your export is ready: Orders (2025-12-01 to 2025-12-31) as CSV (gzip)")
  })

  it("count rows and bytes as the web app's list does: 25,291 rows, 366 KB", () => {
    const job = gzippedOrders(25_291)
    const notice = inAppNotificationFor(job, "Orders", "/exports/x", DateTime.unsafeMake(0))
    const email = successEmailFor(job, "Orders", link, "https://app.example.com/exports/x")
    // The list's size is the same function's: the two can only agree.
    expect(fileSize(BYTES)).toBe("366 KB")
    expect(notice.body).toContain(": 25,291 rows, 366 KB. ")
    expect(email.text).toContain("is ready (25,291 rows, 366 KB).")
    expect(email.html).toContain("is ready (25,291 rows, 366 KB).")
  })

  it("say row for a single row", () => {
    const notice = inAppNotificationFor(gzippedOrders(1), "Orders", "/exports/x", DateTime.unsafeMake(0))
    expect(notice.body).toContain(": 1 row, 366 KB. ")
  })
})
