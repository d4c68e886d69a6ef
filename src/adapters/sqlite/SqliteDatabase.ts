// The embedded server's one SQLite database (Node's built-in node:sqlite, ADR 27): opened private to this user, in
// WAL mode, held exclusively by one process, migrated to this version's schema, and closed when its layer is released.
import { Clock, Context, Data, Effect, Either, Layer, Schedule } from "effect"
import type { Duration, Scope } from "effect"
import { chmodSync, close, closeSync, fsync, mkdirSync, open as openFile, openSync } from "node:fs"
import * as NodePath from "node:path"
import { DatabaseSync } from "node:sqlite"
import type { StatementSync } from "node:sqlite"
import { MIGRATIONS } from "./SqliteSchema.js"
import type { Migration } from "./SqliteSchema.js"

/** The file the embedded server keeps its jobs, queue and notifications in, under DATA_DIR. */
export const DATABASE_FILE = "exports.sqlite"

// The database holds merchants' jobs and users' email addresses: only this user may read it. SQLite gives its WAL
// file the database's own mode.
const PRIVATE_FILE = 0o600
const PRIVATE_DIRECTORY = 0o700

/**
 * How long a statement waits for a lock another connection holds before it fails. Only another process can hold
 * one (this process has one connection); it covers a previous server still closing when the next one starts.
 */
export const BUSY_TIMEOUT_MILLIS = 2_000

/**
 * How many WAL pages make a commit checkpoint on its own: a backstop only, for a WAL that grows faster than the
 * checkpointer below keeps up with.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000

/**
 * How often the database checkpoints its WAL when something was written (ADR 60): its WAL flushed to disk on libuv's
 * thread pool first, then a PASSIVE checkpoint on the event loop that has only the pages written since to sync and a
 * quarter-second's pages to copy.
 */
export const CHECKPOINT_INTERVAL: Duration.DurationInput = "250 millis"

// SQLite's primary result code for a lock it could not get (SQLITE_BUSY); extended codes keep it in the low byte.
const SQLITE_BUSY = 5

/** A statement or transaction failed. Never leaves an adapter: each maps it to its port's error. */
export class SqliteError extends Data.TaggedError("SqliteError")<{
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.operation}: ${this.detail}`
  }
}

/** The database cannot be opened or brought to this version's schema: start-up stops with the reason. */
export class SqliteDatabaseUnusable extends Data.TaggedError("SqliteDatabaseUnusable")<{
  readonly message: string
}> {}

const detailOf = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { readonly errcode?: unknown }).errcode
    return typeof code === "number" ? `${error.message} (SQLite code ${code})` : error.message
  }
  return String(error)
}

const isBusy = (error: unknown): boolean => {
  const code = (error as { readonly errcode?: unknown } | null)?.errcode
  return typeof code === "number" && (code & 0xff) === SQLITE_BUSY
}

export interface SqliteDatabaseOptions {
  /** The database file; made with mode 0600 (and its folder 0700) when missing. */
  readonly path: string
  /** The schema's steps, oldest first; this version's own unless a test gives others. */
  readonly migrations?: ReadonlyArray<Migration>
  /** How often the WAL is checkpointed off the commits' path; `CHECKPOINT_INTERVAL` unless a test gives another. */
  readonly checkpointInterval?: Duration.DurationInput
}

export interface SqliteDatabaseService {
  readonly path: string
  /** A statement compiled once and kept for the connection's life. */
  readonly prepare: (sql: string) => StatementSync
  /** Runs `body`, one statement or a few reads, outside an explicit transaction. */
  readonly use: <A>(operation: string, body: () => A) => Effect.Effect<A, SqliteError>
  /**
   * Runs `body` in one write transaction (`BEGIN IMMEDIATE`), committed when it returns and rolled back when it
   * throws. The body is synchronous, so no other fiber of this process can run inside it.
   */
  readonly transaction: <A>(operation: string, body: () => A) => Effect.Effect<A, SqliteError>
  /**
   * Runs `body` in the write transaction of this turn of the event loop (a group commit, ADR 48): every body given
   * before the turn ends shares one `BEGIN IMMEDIATE` ... `COMMIT`, run in the order given, each in a savepoint of its
   * own, so that a body that throws rolls back its own writes only and each body sees the writes of those before it.
   * The effect ends once the group has committed: nothing a body wrote is answered or published before it is
   * durable. A group that cannot begin or commit fails every body in it.
   */
  readonly groupTransaction: <A>(operation: string, body: () => A) => Effect.Effect<A, SqliteError>
}

export class SqliteDatabase extends Context.Tag("exports/sqlite/SqliteDatabase")<
  SqliteDatabase,
  SqliteDatabaseService
>() {}

/** The schema version of this code: the last migration's. */
export const latestVersion = (migrations: ReadonlyArray<Migration> = MIGRATIONS): number =>
  migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version

const inTransaction = <A>(db: DatabaseSync, body: () => A): A => {
  db.exec("BEGIN IMMEDIATE")
  try {
    const result = body()
    db.exec("COMMIT")
    return result
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK")
    throw error
  }
}

const userVersion = (db: DatabaseSync): number => Number(db.prepare("PRAGMA user_version").get()?.["user_version"])

/**
 * Brings the database to the last migration, each step in a transaction of its own with the version it reaches, so
 * that a step that fails leaves the database at the version before it. A database from a newer version is refused.
 */
export const migrate = (db: DatabaseSync, path: string, migrations: ReadonlyArray<Migration>): number => {
  const latest = latestVersion(migrations)
  const current = userVersion(db)
  if (current > latest) {
    throw new SqliteDatabaseUnusable({
      message: `${path} has schema version ${current}, newer than this version's ${latest}: it was written by a ` +
        "newer async-data-export. Run that version, or move the file away to start empty (jobs and notifications " +
        "in it would be lost)."
    })
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue
    try {
      inTransaction(db, () => {
        db.exec(migration.sql)
        // A pragma takes no parameter; the version is a number from our own list.
        db.exec(`PRAGMA user_version = ${Math.trunc(migration.version)}`)
      })
    } catch (error) {
      throw new SqliteDatabaseUnusable({
        message: `${path}: migration ${migration.version} (${migration.name}) failed: ${detailOf(error)}`
      })
    }
  }
  return latest
}

const createPrivate = (path: string): void => {
  mkdirSync(NodePath.dirname(path), { recursive: true, mode: PRIVATE_DIRECTORY })
  // Made before SQLite opens it, so that it never exists with a wider mode; set again for a file copied in by hand.
  closeSync(openSync(path, "a", PRIVATE_FILE))
  chmodSync(path, PRIVATE_FILE)
}

const open = (options: SqliteDatabaseOptions): DatabaseSync => {
  const { path } = options
  createPrivate(path)
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MILLIS, enableForeignKeyConstraints: true })
  try {
    // Before WAL is first used: an exclusive connection keeps the WAL index in its own memory (no -shm file) and
    // holds its lock until it closes, so a second process on the same data directory is refused, not interleaved.
    // The lock is the operating system's, released when the process dies, even by SIGKILL.
    db.exec("PRAGMA locking_mode = EXCLUSIVE")
    const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.["journal_mode"]
    if (mode !== "wal") throw new Error(`journal_mode is ${String(mode)}, not wal`)
    // In WAL mode NORMAL survives a crash of the process with every commit; see ADR 27 for why not FULL.
    db.exec("PRAGMA synchronous = NORMAL")
    // The checkpointer below keeps the WAL far from this; it is a backstop, high so that a commit seldom pays for a
    // checkpoint of its own (ADR 27, ADR 60).
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    migrate(db, path, options.migrations ?? MIGRATIONS)
    return db
  } catch (error) {
    db.close()
    if (error instanceof SqliteDatabaseUnusable) throw error
    throw new SqliteDatabaseUnusable({
      message: isBusy(error)
        ? `${path} is in use by another process: one embedded server per DATA_DIR. Stop the other server, or ` +
          "start this one with another DATA_DIR."
        : `cannot open ${path}: ${detailOf(error)}`
    })
  }
}

/** What `operation` failing with `error` is to the adapters above. */
export const failed = (operation: string) => (error: unknown) => new SqliteError({ operation, detail: detailOf(error) })

interface GroupMember {
  readonly operation: string
  readonly body: () => unknown
  readonly done: (result: Either.Either<unknown, SqliteError>) => void
}

/**
 * Runs the bodies of one group in one transaction, a savepoint each when there are several, and hands each its
 * result once the transaction has committed, or every one the failure when it could not begin or commit.
 */
const commitGroup = (db: DatabaseSync, members: ReadonlyArray<GroupMember>): void => {
  const results: Array<Either.Either<unknown, SqliteError>> = []
  try {
    db.exec("BEGIN IMMEDIATE")
    if (members.length === 1) {
      // Alone in its group, the body's failure is the transaction's: no savepoint needed to undo it alone.
      const only = members[0]!
      try {
        results.push(Either.right(only.body()))
      } catch (error) {
        db.exec("ROLLBACK")
        only.done(Either.left(failed(only.operation)(error)))
        return
      }
    } else {
      for (const member of members) {
        db.exec("SAVEPOINT member")
        try {
          const value = member.body()
          db.exec("RELEASE member")
          results.push(Either.right(value))
        } catch (error) {
          db.exec("ROLLBACK TO member")
          db.exec("RELEASE member")
          results.push(Either.left(failed(member.operation)(error)))
        }
      }
    }
    db.exec("COMMIT")
  } catch (error) {
    // The database may have been closed (the server stopping) since the group was begun: then there is nothing to
    // roll back, and the bodies fail with the reason.
    if (db.isOpen && db.isTransaction) db.exec("ROLLBACK")
    for (const member of members) member.done(Either.left(failed(member.operation)(error)))
    return
  }
  members.forEach((member, i) => member.done(results[i]!))
}

/**
 * Flushes the WAL file's written pages to disk on libuv's thread pool. Only a head start for the checkpoint's own
 * fsync, which still runs and is what makes the checkpoint safe: opened for reading (fsync flushes the file, whichever
 * descriptor asks), and a WAL not there yet has nothing to flush. Uninterruptible, so its descriptor is always closed
 * and never outlives the database.
 */
const flushFile = (path: string): Effect.Effect<void> =>
  Effect.uninterruptible(
    Effect.async<void>((resume) =>
      openFile(path, "r", (openError, fd) => {
        if (openError !== null) return resume(Effect.void)
        fsync(fd, () => close(fd, () => resume(Effect.void)))
      })
    )
  )

/**
 * Checkpoints the WAL every `interval` when something was committed since the last time (ADR 60). SQLite's own
 * checkpoint, every `WAL_AUTOCHECKPOINT_PAGES`, runs inside the commit that crosses it, on the event loop, with an
 * fsync of the whole WAL and a copy of every page changed since the last one: a stall of 40-60 ms every few seconds
 * at 1,000 commits/s. Here the WAL is flushed off the event loop first, and the checkpoint that follows (PASSIVE: it
 * copies what it can and never waits) syncs only what was written meanwhile and copies a quarter-second's pages. A
 * checkpoint changes no committed data, and the statements are synchronous, so it never runs inside a transaction.
 * One that fails is left to the next one, or to SQLite's own.
 */
const checkpointer = (db: DatabaseSync, walPath: string, interval: Duration.DurationInput): Effect.Effect<void> => {
  const changes = db.prepare("SELECT total_changes() AS changes")
  const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)")
  let checkpointedAt = -1
  const once = Effect.try(() => Number(changes.get()?.["changes"])).pipe(
    Effect.flatMap((now) =>
      now === checkpointedAt ? Effect.void : flushFile(walPath).pipe(
        Effect.andThen(Effect.try(() => {
          checkpoint.get()
          checkpointedAt = now
        }))
      )
    ),
    Effect.catchAll((error) =>
      Effect.logDebug("WAL checkpoint failed; the next one, or SQLite's own, will retry", error)
    )
  )
  // On the machine's clock whatever clock the fiber has: it is upkeep of a file, and a test's clock set days ahead
  // must not spin it.
  return Effect.repeat(once, Schedule.spaced(interval)).pipe(Effect.asVoid, Effect.withClock(Clock.make()))
}

/** Opens (and migrates) the database for the life of the scope. */
export const make = (
  options: SqliteDatabaseOptions
): Effect.Effect<SqliteDatabaseService, SqliteDatabaseUnusable, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => open(options),
        catch: (error) =>
          error instanceof SqliteDatabaseUnusable
            ? error
            : new SqliteDatabaseUnusable({ message: `cannot open ${options.path}: ${detailOf(error)}` })
      }),
      (db) => Effect.sync(() => db.close())
    ).pipe(
      // Forked after the database was opened, so interrupted (its flush finished) before the database is closed.
      Effect.tap((db) =>
        Effect.forkScoped(checkpointer(db, `${options.path}-wal`, options.checkpointInterval ?? CHECKPOINT_INTERVAL))
      )
    ),
    (db) => {
      const statements = new Map<string, StatementSync>()
      const prepare = (sql: string): StatementSync => {
        let statement = statements.get(sql)
        if (statement === undefined) {
          statement = db.prepare(sql)
          statements.set(sql, statement)
        }
        return statement
      }
      // The bodies given during this turn of the event loop; committed together once the turn's I/O has been read.
      let group: Array<GroupMember> | undefined
      const commitPending = () => {
        const members = group ?? []
        group = undefined
        // Every body of the group may have been interrupted meanwhile: then there is nothing to commit.
        if (members.length > 0) commitGroup(db, members)
      }
      const groupTransaction = <A>(operation: string, body: () => A): Effect.Effect<A, SqliteError> =>
        Effect.async<A, SqliteError>((resume) => {
          const member: GroupMember = {
            operation,
            body,
            done: (result) =>
              resume(Either.match(result, { onLeft: Effect.fail, onRight: (a) => Effect.succeed(a as A) }))
          }
          if (group === undefined) {
            group = []
            // setImmediate runs once the turn's ready sockets have been read and their fibers have run as far as
            // they can: the requests that arrived together commit together.
            setImmediate(commitPending)
          }
          group.push(member)
          // Interrupted before its group ran: it leaves the group, and nothing of it is written.
          return Effect.sync(() => {
            const at = group?.indexOf(member) ?? -1
            if (at >= 0) group!.splice(at, 1)
          })
        })
      return {
        path: options.path,
        prepare,
        use: (operation, body) => Effect.try({ try: body, catch: failed(operation) }),
        transaction: (operation, body) => Effect.try({ try: () => inTransaction(db, body), catch: failed(operation) }),
        groupTransaction
      }
    }
  )

export const layer = (options: SqliteDatabaseOptions) => Layer.scoped(SqliteDatabase, make(options))
