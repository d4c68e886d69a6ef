// The embedded database itself: its settings (WAL, synchronous, busy timeout, foreign keys, an exclusive lock), its
// file modes, its migrations (a database at any older version is brought to the latest, a newer one is refused, a
// failing step leaves the version before it), its transactions, its checkpoints off the commits' path, and one
// process at a time on a data directory.
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { chmodSync, existsSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as SqliteDatabase from "../../../src/adapters/sqlite/SqliteDatabase.js"
import { MIGRATIONS } from "../../../src/adapters/sqlite/SqliteSchema.js"
import type { Migration } from "../../../src/adapters/sqlite/SqliteSchema.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { modeOf } from "../../support/FileModes.js"

const steps: ReadonlyArray<Migration> = [
  { version: 1, name: "notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT;" },
  { version: 2, name: "note authors", sql: "ALTER TABLE notes ADD COLUMN author TEXT;" },
  {
    version: 3,
    name: "tags",
    sql: "CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes (id), tag TEXT NOT NULL) STRICT;"
  }
]

/** The database at `path` opened with `migrations`, for as long as the returned scope is open. */
const openAt = (
  path: string,
  migrations?: ReadonlyArray<Migration>,
  checkpointInterval?: SqliteDatabase.SqliteDatabaseOptions["checkpointInterval"]
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      SqliteDatabase.layer({
        path,
        ...(migrations === undefined ? {} : { migrations }),
        ...(checkpointInterval === undefined ? {} : { checkpointInterval })
      }),
      scope
    )
    return { db: Context.get(context, SqliteDatabase.SqliteDatabase), scope }
  })

/** A pragma's value; `column` when its answer is not named after it (busy_timeout answers `timeout`). */
const pragma = (db: SqliteDatabase.SqliteDatabaseService, name: string, column = name): unknown =>
  db.prepare(`PRAGMA ${name}`).get()?.[column]

const tablesOf = (db: SqliteDatabase.SqliteDatabaseService): ReadonlyArray<string> =>
  db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all().map((row) =>
    String(row["name"])
  )

/** What a plain connection, outside the adapter, reads of a closed database file. */
const versionOnDisk = (path: string): number => {
  const db = new DatabaseSync(path)
  try {
    return Number(db.prepare("PRAGMA user_version").get()?.["user_version"])
  } finally {
    db.close()
  }
}

describe("SqliteDatabase", () => {
  it.scoped("opens in WAL mode, synchronous NORMAL, with a busy timeout, foreign keys and an exclusive lock", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { db, scope } = yield* openAt(join(dir, "exports.sqlite"))
      expect(pragma(db, "journal_mode")).toBe("wal")
      // 1 is NORMAL.
      expect(pragma(db, "synchronous")).toBe(1)
      expect(pragma(db, "busy_timeout", "timeout")).toBe(SqliteDatabase.BUSY_TIMEOUT_MILLIS)
      expect(pragma(db, "foreign_keys")).toBe(1)
      expect(pragma(db, "locking_mode")).toBe("exclusive")
      expect(pragma(db, "wal_autocheckpoint")).toBe(SqliteDatabase.WAL_AUTOCHECKPOINT_PAGES)
      expect(pragma(db, "user_version")).toBe(SqliteDatabase.latestVersion())
      expect(tablesOf(db)).toStrictEqual(["audit_entries", "dead_letters", "jobs", "messages", "notifications"])
      yield* Scope.close(scope, Exit.void)
    }))

  it.scoped("makes the file 0600 in a 0700 folder, narrows a wider file, and its WAL is 0600 too", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "data", "exports.sqlite")
      const first = yield* openAt(path)
      yield* first.db.transaction("write", () => first.db.prepare("DELETE FROM messages").run())
      expect(modeOf(join(dir, "data"))).toBe("700")
      expect(modeOf(path)).toBe("600")
      expect(modeOf(`${path}-wal`)).toBe("600")
      // An exclusive connection keeps its WAL index in memory: no -shm file.
      expect(existsSync(`${path}-shm`)).toBe(false)
      yield* Scope.close(first.scope, Exit.void)

      chmodSync(path, 0o644)
      const second = yield* openAt(path)
      expect(modeOf(path)).toBe("600")
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.scoped("brings a database at an older version to the latest, one step at a time", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "notes.sqlite")
      const old = yield* openAt(path, steps.slice(0, 1))
      old.db.prepare("INSERT INTO notes (text) VALUES (?)").run("written at version 1")
      yield* Scope.close(old.scope, Exit.void)
      expect(versionOnDisk(path)).toBe(1)

      const current = yield* openAt(path, steps)
      expect(pragma(current.db, "user_version")).toBe(3)
      expect(tablesOf(current.db)).toStrictEqual(["notes", "tags"])
      expect(current.db.prepare("SELECT text, author FROM notes").all().map((row) => ({ ...row }))).toStrictEqual([
        { text: "written at version 1", author: null }
      ])
      yield* Scope.close(current.scope, Exit.void)
    }))

  it.scoped("refuses a database from a newer version, saying so, and leaves it as it was", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "exports.sqlite")
      const newer = new DatabaseSync(path)
      newer.exec("PRAGMA user_version = 99")
      newer.close()
      const failure = yield* Effect.flip(openAt(path))
      expect(failure._tag).toBe("SqliteDatabaseUnusable")
      expect(failure.message).toContain(
        `has schema version 99, newer than this version's ${SqliteDatabase.latestVersion(MIGRATIONS)}`
      )
      expect(versionOnDisk(path)).toBe(99)
    }))

  it.scoped("a step that fails leaves the version before it, and start-up fails with the step's name", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "notes.sqlite")
      const broken: ReadonlyArray<Migration> = [
        ...steps.slice(0, 2),
        { version: 3, name: "a broken step", sql: "CREATE TABLE tags (tag TEXT); CREATE TABLE oops (" }
      ]
      const failure = yield* Effect.flip(openAt(path, broken))
      expect(failure.message).toContain("migration 3 (a broken step) failed")
      expect(versionOnDisk(path)).toBe(2)
      const check = new DatabaseSync(path)
      expect(check.prepare("SELECT name FROM sqlite_schema WHERE name = 'tags'").get()).toBeUndefined()
      check.close()
    }))

  it.scoped("a transaction commits what its body did, and a body that throws leaves nothing", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { db } = yield* openAt(join(dir, "notes.sqlite"), steps)
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      yield* db.transaction("both", () => {
        insert.run("one")
        insert.run("two")
      })
      const failure = yield* Effect.flip(db.transaction("half", () => {
        insert.run("three")
        throw new Error("the body gave up")
      }))
      expect(failure).toMatchObject({ _tag: "SqliteError", operation: "half", detail: "the body gave up" })
      expect(db.prepare("SELECT text FROM notes ORDER BY id").all().map((row) => row["text"])).toStrictEqual([
        "one",
        "two"
      ])
      // Foreign keys are enforced.
      const orphan = yield* Effect.flip(db.use("orphan", () => db.prepare("INSERT INTO tags VALUES (42, 'x')").run()))
      expect(orphan.detail).toContain("FOREIGN KEY constraint failed")
    }))

  it.scoped("bodies grouped in one turn each see those before them, and one that throws leaves only its own writes out", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { db } = yield* openAt(join(dir, "notes.sqlite"), steps)
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      const count = () => Number(db.prepare("SELECT COUNT(*) AS n FROM notes").get()?.["n"])
      // Started together, so all three are given in the same turn of the event loop: one group.
      const [first, second, third] = yield* Effect.all([
        db.groupTransaction("first", () => {
          insert.run("one")
          return count()
        }),
        Effect.either(db.groupTransaction("second", () => {
          insert.run("two")
          throw new Error("the body gave up")
        })),
        db.groupTransaction("third", () => {
          insert.run("three")
          return count()
        })
      ], { concurrency: "unbounded" })
      expect(first).toBe(1)
      expect(second).toMatchObject({ _tag: "Left", left: { _tag: "SqliteError", operation: "second" } })
      // The second's note was rolled back with its savepoint before the third ran.
      expect(third).toBe(2)
      expect(db.prepare("SELECT text FROM notes ORDER BY id").all().map((row) => row["text"])).toStrictEqual([
        "one",
        "three"
      ])
    }))

  it.scoped("a group that cannot commit fails every body in it and leaves nothing", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { db } = yield* openAt(join(dir, "notes.sqlite"), steps)
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      const results = yield* Effect.all([
        Effect.either(db.groupTransaction("note", () => insert.run("one"))),
        Effect.either(db.groupTransaction("orphan tag", () => {
          // A foreign key checked only at COMMIT: the whole group's commit fails.
          db.prepare("PRAGMA defer_foreign_keys = ON").run()
          db.prepare("INSERT INTO tags VALUES (42, 'x')").run()
        }))
      ], { concurrency: "unbounded" })
      expect(results.map((result) => result._tag)).toStrictEqual(["Left", "Left"])
      expect(results[0]).toMatchObject({ left: { operation: "note" } })
      expect(String(results[1]._tag === "Left" ? results[1].left.detail : "")).toContain("FOREIGN KEY")
      expect(db.prepare("SELECT COUNT(*) AS n FROM notes").get()?.["n"]).toBe(0)
      // The database takes the next group as usual.
      yield* db.groupTransaction("again", () => insert.run("two"))
      expect(db.prepare("SELECT text FROM notes").all().map((row) => row["text"])).toStrictEqual(["two"])
    }))

  it.scoped("a body interrupted before its group ran is never run", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { db } = yield* openAt(join(dir, "notes.sqlite"), steps)
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      const fiber = yield* Effect.fork(db.groupTransaction("gone", () => insert.run("never")))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      yield* db.groupTransaction("kept", () => insert.run("kept"))
      expect(db.prepare("SELECT text FROM notes").all().map((row) => row["text"])).toStrictEqual(["kept"])
    }))

  it.scoped("a second connection to a database in use is refused with a clear error, and succeeds once it closed", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "exports.sqlite")
      const first = yield* openAt(path)
      const refused = yield* Effect.flip(openAt(path))
      expect(refused.message).toBe(
        `${path} is in use by another process: one embedded server per DATA_DIR. Stop the other server, or start ` +
          "this one with another DATA_DIR."
      )
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* openAt(path)
      expect(pragma(second.db, "user_version")).toBe(SqliteDatabase.latestVersion())
    }))

  it.scoped("a file that is not a database is refused at start-up with its path", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "exports.sqlite")
      writeFileSync(path, "not a database, only text long enough to fill a header of one hundred bytes ".repeat(3))
      const refused = yield* Effect.flip(openAt(path))
      expect(refused.message).toContain(`cannot open ${path}: file is not a database`)
    }))

  // The commits' pages reach the database file on the checkpointer's interval (ADR 60), long before the WAL holds
  // the 10,000 pages at which SQLite would checkpoint inside a commit, on the event loop.
  it.scopedLive("commits reach the database file within a few checkpoint intervals, not at the autocheckpoint", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "notes.sqlite")
      const { db } = yield* openAt(path, steps, "10 millis")
      const before = statSync(path).size
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      // ~200 KiB: some 50 pages, far below the autocheckpoint's 10,000.
      yield* db.transaction("notes", () => {
        for (let i = 0; i < 200; i++) insert.run(`note ${i} `.padEnd(1_000, "."))
      })
      yield* Effect.promise(() => expect.poll(() => statSync(path).size).toBeGreaterThan(before + 150_000))
    }))

  it.scopedLive("closed while the checkpointer runs, the database keeps every commit and reopens whole", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, "notes.sqlite")
      const { db, scope } = yield* openAt(path, steps, "1 millis")
      const insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
      // Commits one at a time, each a turn apart, so checkpoints and their flushes fall between them and the scope
      // closes with one of them likely in flight.
      for (let i = 0; i < 300; i++) {
        yield* db.transaction("note", () => insert.run(`note ${i}`))
        if (i % 10 === 0) yield* Effect.sleep("1 millis")
      }
      yield* Scope.close(scope, Exit.void)
      const plain = new DatabaseSync(path)
      try {
        expect(plain.prepare("SELECT count(*) AS n FROM notes").get()?.["n"]).toBe(300)
        expect(plain.prepare("PRAGMA integrity_check").get()?.["integrity_check"]).toBe("ok")
      } finally {
        plain.close()
      }
    }))
})
