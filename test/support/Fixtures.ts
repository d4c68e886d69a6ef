import { Effect, Layer, Option, Redacted } from "effect"
import * as HttpExportLinks from "../../src/adapters/http/HttpExportLinks.js"
import { DEFAULT_APP_BASE_URL } from "../../src/adapters/http/HttpExportLinks.js"
import { demoOrderLines } from "../../src/adapters/memory/DemoOrders.js"
import * as MemoryAdapters from "../../src/adapters/memory/MemoryAdapters.js"
import { MemoryOutbox } from "../../src/adapters/memory/MemoryEmailSender.js"
import { MemoryInbox } from "../../src/adapters/memory/MemoryInAppNotifier.js"
import type { OrderLineDataset } from "../../src/adapters/memory/MemoryReportSource.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import type { Caller } from "../../src/application/RequestExport.js"
import type { ExportJob } from "../../src/domain/ExportJob.js"
import { EmailAddress, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { drainQueue as drainQueueUpTo } from "../../src/runtimes/local/InProcessWorker.js"

export const callerOf = (userId: string, merchantId: string, email = `${userId}@example.com`): Caller => ({
  owner: new Owner({ userId: UserId.make(userId), merchantId: MerchantId.make(merchantId) }),
  email: Redacted.make(EmailAddress.make(email))
})

export const alice = callerOf("alice", "m-acme")
export const bob = callerOf("bob", "m-globex")

/** 2024-01-01 to 2024-03-31 UTC, `lines` order lines per merchant. */
export const datasetOf = (lines: number): OrderLineDataset => (merchantId) => ({
  [Symbol.iterator]: () =>
    demoOrderLines({
      merchantId,
      lines,
      from: Date.parse("2024-01-01T00:00:00Z"),
      to: Date.parse("2024-03-31T23:59:59Z")
    })
})

/** 2024-01-01 plus `n` days, as YYYY-MM-DD: distinct ranges make distinct exports. */
export const dayOf2024 = (n: number): string => new Date(Date.UTC(2024, 0, 1 + n)).toISOString().slice(0, 10)

export const ordersInput = (params: Record<string, unknown> = {}) => ({
  reportType: "orders",
  format: "csv",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31", ...params }
})

/**
 * Tests of other behaviour start many exports for one user; the tenant limits (ADR 45) have tests of their own
 * (test/adapters/http/Limits.test.ts, the JobStore contract), which set them.
 */
const ROOMY_LIMITS = { ...ExportSettings.defaults.limits, exportsPerUser: 1000, exportsPerMerchant: 1000 }

/** A fresh set of in-memory adapters, default settings and the links of a web app at `appBaseUrl`. */
export const testLayer = (
  lines = 50,
  settings: Partial<typeof ExportSettings.defaults> = {},
  appBaseUrl = DEFAULT_APP_BASE_URL
) =>
  MemoryAdapters.layer(datasetOf(lines)).pipe(
    Layer.provideMerge(
      Layer.merge(ExportSettings.layerWith({ limits: ROOMY_LIMITS, ...settings }), HttpExportLinks.layer(appBaseUrl))
    )
  )

/** Runs the in-process worker over every waiting message until the queue is empty. */
export const drainQueue = drainQueueUpTo(1000)

/** The stored job, which must exist. */
export const storedJob = (jobId: ExportJob["jobId"]) =>
  Effect.flatMap(JobStore, (store) => store.get(jobId)).pipe(Effect.map(Option.getOrThrow))

/** What the memory adapters sent the job's user: its emails and in-app notices. */
export const sentTo = (jobId: string) =>
  Effect.gen(function*() {
    const emails = (yield* (yield* MemoryOutbox).outbox).filter((email) => email.jobId === jobId)
    const inApp = (yield* (yield* MemoryInbox).deliveries).filter((notice) => notice.jobId === jobId)
    return { emails, inApp }
  })
