// Every port on its in-memory adapter, plus the handles the simulator and tests inspect them through.
// Build it once per test or run: the adapters hold state.
import { Layer } from "effect"
import { JobIds } from "../../application/JobIds.js"
import { FaultInjection } from "./FaultInjection.js"
import { FileStoreMemory, MemoryFileStore } from "./MemoryFileStore.js"
import { JobQueueMemory, MemoryJobQueue } from "./MemoryJobQueue.js"
import { JobStoreMemory } from "./MemoryJobStore.js"
import {
  EmailSenderMemory,
  InAppNotifierMemory,
  MemoryEmailSender,
  MemoryInAppNotifier
} from "./MemoryNotifications.js"
import { ReportSourceMemory } from "./MemoryReportSource.js"
import type { OrderLineDataset } from "./MemoryReportSource.js"

export const MemoryAdapters = (dataset: OrderLineDataset) =>
  Layer.mergeAll(
    JobStoreMemory,
    JobQueueMemory,
    ReportSourceMemory(dataset),
    FileStoreMemory,
    InAppNotifierMemory,
    EmailSenderMemory,
    JobIds.Default
  ).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        MemoryJobQueue.Default,
        MemoryFileStore.Default,
        MemoryInAppNotifier.Default,
        MemoryEmailSender.Default
      )
    ),
    Layer.provideMerge(FaultInjection.Default)
  )
