// Deleting what has outlived its retention (application/Retention.ts) from the embedded database, as DynamoDB's TTL
// does for the deployed service: each adapter deletes from its own table, at start and then every sweep interval.
import { Clock, Effect } from "effect"
import type { Scope } from "effect"
import { EXPIRY_SWEEP_INTERVAL } from "../../application/Retention.js"
import type { SqliteDatabaseService } from "./SqliteDatabase.js"

/**
 * Runs `purge` (given the Effect clock's time in epoch milliseconds, returning how many rows it deleted) in a
 * transaction now, for a server that was stopped for a while, then every EXPIRY_SWEEP_INTERVAL for as long as the
 * scope lives: a record goes at most that late. A purge that fails is logged and made again at the next sweep.
 */
export const purgeExpired = (
  db: SqliteDatabaseService,
  operation: string,
  purge: (nowMillis: number) => number
): Effect.Effect<void, never, Scope.Scope> => {
  const once = Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) => db.transaction(operation, () => purge(now))),
    Effect.flatMap((deleted) =>
      deleted > 0 ? Effect.logInfo("records past their retention deleted", { deleted }) : Effect.void
    ),
    Effect.catchTag(
      "SqliteError",
      (error) =>
        Effect.logWarning("could not delete records past their retention; trying again at the next sweep", {
          detail: error.message
        })
    ),
    Effect.annotateLogs({ operation })
  )
  return Effect.zipRight(
    once,
    Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(EXPIRY_SWEEP_INTERVAL), once))))
  )
}

/**
 * Gives each row `select` finds without a `retained_until` (written before schema version 2) the one `untilOf` works
 * out from its JSON, so that it expires as every later row does. `select` names each row's key `id` and its JSON
 * `record`; `update` takes the time and the key. A row whose time cannot be worked out keeps none and is never deleted.
 */
export const fillRetention = (
  db: SqliteDatabaseService,
  operation: string,
  statements: { readonly select: string; readonly update: string },
  untilOf: (record: unknown) => number | undefined
) =>
  db.transaction(operation, () => {
    const update = db.prepare(statements.update)
    let filled = 0
    for (const row of db.prepare(statements.select).all()) {
      const until = untilOf(row["record"])
      if (until === undefined) continue
      update.run(until, row["id"] as string)
      filled++
    }
    return filled
  }).pipe(
    Effect.tap((filled) =>
      filled > 0
        ? Effect.logInfo("rows written before retention was recorded now have theirs", { filled })
        : Effect.void
    ),
    Effect.annotateLogs({ operation })
  )
