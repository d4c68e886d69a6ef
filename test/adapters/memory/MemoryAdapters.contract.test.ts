// The port contracts run against the in-memory adapters, each test on a fresh layer without injected faults.
import { Effect, Layer, Option, Redacted } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import * as MemoryAuditTrail from "../../../src/adapters/memory/MemoryAuditTrail.js"
import * as MemoryEmailSender from "../../../src/adapters/memory/MemoryEmailSender.js"
import * as MemoryFileStore from "../../../src/adapters/memory/MemoryFileStore.js"
import * as MemoryInAppNotifier from "../../../src/adapters/memory/MemoryInAppNotifier.js"
import * as MemoryJobQueue from "../../../src/adapters/memory/MemoryJobQueue.js"
import * as MemoryJobStore from "../../../src/adapters/memory/MemoryJobStore.js"
import * as MemoryReportSource from "../../../src/adapters/memory/MemoryReportSource.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { auditTrailContract } from "../../contracts/AuditTrailContract.js"
import { emailSenderContract } from "../../contracts/EmailSenderContract.js"
import { fileStoreContract } from "../../contracts/FileStoreContract.js"
import { inAppNotifierContract } from "../../contracts/InAppNotifierContract.js"
import { jobQueueContract } from "../../contracts/JobQueueContract.js"
import { jobStoreContract } from "../../contracts/JobStoreContract.js"
import { reportSourceContract } from "../../contracts/ReportSourceContract.js"
import { datasetOf } from "../../support/Fixtures.js"

jobStoreContract("memory", () => MemoryJobStore.layer)

fileStoreContract(
  "memory",
  () =>
    MemoryFileStore.layer.pipe(
      Layer.provideMerge(MemoryFileStore.MemoryFiles.Default),
      Layer.provide(FaultInjection.Default)
    ),
  (key) =>
    Effect.flatMap(MemoryFileStore.MemoryFiles, (store) => store.read(key)).pipe(
      Effect.map(Option.map((file) => file.bytes))
    )
)

// 600 lines per merchant over 2024-01-01..2024-03-31: February has lines, and so do the months either side.
reportSourceContract(
  "memory",
  () => MemoryReportSource.layer(datasetOf(600)).pipe(Layer.provide(FaultInjection.Default)),
  {
    merchantId: MerchantId.make("m-acme"),
    otherMerchantId: MerchantId.make("m-globex"),
    dateFrom: "2024-02-01",
    dateTo: "2024-02-29",
    writesParquet: false
  }
)

auditTrailContract("memory", () => MemoryAuditTrail.layer.pipe(Layer.provide(FaultInjection.Default)))

inAppNotifierContract(
  "memory",
  () =>
    MemoryInAppNotifier.layer.pipe(
      Layer.provide(MemoryInAppNotifier.MemoryInbox.Default),
      Layer.provide(FaultInjection.Default)
    )
)

emailSenderContract(
  "memory",
  () =>
    MemoryEmailSender.layer.pipe(
      Layer.provideMerge(MemoryEmailSender.MemoryOutbox.Default),
      Layer.provide(FaultInjection.Default)
    ),
  (recipient) =>
    Effect.map(Effect.flatMap(MemoryEmailSender.MemoryOutbox, (sender) => sender.outbox), (outbox) =>
      outbox
        .filter((message) => Redacted.value(message.to) === recipient)
        .map((message) => ({
          to: [Redacted.value(message.to)],
          subject: message.subject,
          text: message.text,
          html: message.html
        })))
)

jobQueueContract(
  "memory",
  () =>
    MemoryJobQueue.layer.pipe(
      Layer.provideMerge(MemoryJobQueue.MemoryQueue.Default),
      Layer.provide(FaultInjection.Default)
    ),
  Effect.flatMap(MemoryJobQueue.MemoryQueue, (queue) =>
    Effect.gen(function*() {
      const bodies: Array<string> = []
      for (let delivery = yield* queue.poll; Option.isSome(delivery); delivery = yield* queue.poll) {
        bodies.push(delivery.value.body)
        yield* delivery.value.ack
      }
      return bodies
    }))
)
