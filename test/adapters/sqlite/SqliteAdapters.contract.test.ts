// The JobStore, JobQueue and InAppNotifier contracts against the SQLite adapters, each test on a database of its own.
import { Layer } from "effect"
import * as SqliteInAppNotifier from "../../../src/adapters/sqlite/SqliteInAppNotifier.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import * as SqliteJobStore from "../../../src/adapters/sqlite/SqliteJobStore.js"
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
