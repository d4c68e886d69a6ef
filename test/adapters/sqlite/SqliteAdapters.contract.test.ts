// The JobStore, JobQueue, InAppNotifier and AuditTrail contracts against the SQLite adapters, each test on a database of its own.
import { Layer } from "effect"
import * as SqliteAuditTrail from "../../../src/adapters/sqlite/SqliteAuditTrail.js"
import * as SqliteInAppNotifier from "../../../src/adapters/sqlite/SqliteInAppNotifier.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import * as SqliteJobStore from "../../../src/adapters/sqlite/SqliteJobStore.js"
import { auditTrailContract } from "../../contracts/AuditTrailContract.js"
import { inAppNotifierContract } from "../../contracts/InAppNotifierContract.js"
import { jobQueueContract } from "../../contracts/JobQueueContract.js"
import { jobStoreContract } from "../../contracts/JobStoreContract.js"
import { receiveAllBodies, temporaryDatabase } from "./SqliteSupport.js"

jobStoreContract("sqlite", () => SqliteJobStore.layer.pipe(Layer.provide(temporaryDatabase)))

jobQueueContract(
  "sqlite",
  () => SqliteJobQueue.layer().pipe(Layer.provide(temporaryDatabase)),
  receiveAllBodies
)

inAppNotifierContract("sqlite", () => SqliteInAppNotifier.layer.pipe(Layer.provide(temporaryDatabase)))

auditTrailContract("sqlite", () => SqliteAuditTrail.layer.pipe(Layer.provide(temporaryDatabase)))
