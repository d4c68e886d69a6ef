// Every port on its in-memory adapter, plus the handles the simulator and tests inspect them through.
// Build it once per test or run: the adapters hold state.
import { Layer } from "effect"
import { JobIds } from "../../application/JobIds.js"
import { FaultInjection } from "./FaultInjection.js"
import * as MemoryAuditTrail from "./MemoryAuditTrail.js"
import * as MemoryEmailSender from "./MemoryEmailSender.js"
import * as MemoryFileStore from "./MemoryFileStore.js"
import * as MemoryInAppNotifier from "./MemoryInAppNotifier.js"
import * as MemoryJobQueue from "./MemoryJobQueue.js"
import * as MemoryJobStore from "./MemoryJobStore.js"
import * as MemoryReportSource from "./MemoryReportSource.js"
import type { OrderLineDataset } from "./MemoryReportSource.js"

export const layer = (dataset: OrderLineDataset) =>
  Layer.mergeAll(
    MemoryJobStore.layer,
    MemoryJobQueue.layer,
    MemoryReportSource.layer(dataset),
    MemoryFileStore.layer,
    MemoryInAppNotifier.layer,
    MemoryEmailSender.layer,
    MemoryAuditTrail.layer,
    JobIds.Default
  ).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        MemoryJobQueue.MemoryQueue.Default,
        MemoryFileStore.MemoryFiles.Default,
        MemoryInAppNotifier.MemoryInbox.Default,
        MemoryEmailSender.MemoryOutbox.Default
      )
    ),
    Layer.provideMerge(FaultInjection.Default)
  )
