// The SQLite adapters as the tests build them: a database in a temporary directory of its own, removed with the
// layer, and the queue's messages taken as a worker would.
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { join } from "node:path"
import * as SqliteDatabase from "../../../src/adapters/sqlite/SqliteDatabase.js"
import * as SqliteInAppNotifier from "../../../src/adapters/sqlite/SqliteInAppNotifier.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import * as SqliteJobStore from "../../../src/adapters/sqlite/SqliteJobStore.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"

/** A fresh database in a temporary directory, closed and removed with the layer. */
export const temporaryDatabase = Layer.unwrapScoped(
  Effect.map(
    temporaryDataDir("ade-sqlite-"),
    (dir) => SqliteDatabase.layer({ path: join(dir, SqliteDatabase.DATABASE_FILE) })
  )
)

/** Takes every message visible on the queue, acknowledging each, and returns their bodies. */
export const receiveAllBodies = Effect.gen(function*() {
  const queue = yield* SqliteJobQueue.SqliteQueue
  const bodies: Array<string> = []
  for (let delivery = yield* queue.poll; Option.isSome(delivery); delivery = yield* queue.poll) {
    bodies.push(delivery.value.body)
    yield* delivery.value.ack
  }
  return bodies
})

/** The three SQLite adapters on the database at `path`. */
export const adaptersAt = (path: string) =>
  Layer.mergeAll(SqliteJobStore.layer, SqliteJobQueue.layer(), SqliteInAppNotifier.layer).pipe(
    Layer.provideMerge(SqliteDatabase.layer({ path }))
  )

/** The SQLite adapters on a database of the test's own, for as long as the returned scope is open. */
export const openAdapters = (path: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(adaptersAt(path), scope)
    return { context, close: Scope.close(scope, Exit.void) }
  })
