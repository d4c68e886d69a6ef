// Expired exports leave the disk: a sweep deletes every object written longer than the retention ago (data and
// metadata, and the job folders it empties), keeps the younger ones, and the layer runs it at start and every hour.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Stream, TestClock } from "effect"
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"
import * as LocalFileStore from "../../../src/adapters/localfs/LocalFileStore.js"
import { LocalFiles, PARTIAL_DIRECTORY } from "../../../src/adapters/localfs/LocalFileStore.js"
import type { ObjectKey } from "../../../src/domain/ExportJob.js"
import { freshObjectKey } from "../../contracts/ContractSupport.js"
import { PUBLIC_BASE_URL, SECRET, temporaryDirectory } from "./LocalFsSupport.js"

const RETENTION = Duration.days(8)
const DAY = Duration.toMillis(Duration.days(1))
const metadata = { contentType: "text/csv; charset=utf-8", downloadName: "orders.csv" }
const CONTENT = new TextEncoder().encode("Order ID\r\n1\r\n")

/** Sets the modification time of the object's data and metadata files `daysAgo` days before `now`. */
const age = (root: string, key: ObjectKey, daysAgo: number, now: number) => {
  const when = new Date(now - daysAgo * DAY)
  for (const path of [NodePath.join(root, key), NodePath.join(root, `${key}.meta.json`)]) utimesSync(path, when, when)
}

const exists = (root: string, key: string) => existsSync(NodePath.join(root, key))

/** Waits, in real time, for the store's own fibers to finish their file work. */
const eventually = (condition: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !condition(); i++) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    expect(condition()).toBe(true)
  })

const upload = (key: ObjectKey) =>
  Effect.flatMap(LocalFiles, (files) => files.upload(key, Stream.make(CONTENT), metadata))

describe("LocalFileStore: expired files", () => {
  it.scoped("a sweep deletes objects written longer than the retention ago, with the job folders it empties", () =>
    Effect.gen(function*() {
      const root = yield* temporaryDirectory("localfs-sweep-")
      const now = Date.now()
      yield* TestClock.setTime(now)
      const [old, oldSibling, recent, legacy] = [freshObjectKey(), freshObjectKey(), freshObjectKey(), freshObjectKey()]
      yield* Effect.gen(function*() {
        const files = yield* LocalFiles
        // Another attempt of the same job as `recent`, written long ago: its folder stays for `recent`.
        const olderAttempt = recent.replace("attempt-1", "attempt-7") as ObjectKey
        // A key written before files were kept per attempt: in the merchant's folder itself.
        const legacyKey = legacy.replace("/attempt-1.csv", ".csv") as ObjectKey
        for (const key of [old, oldSibling, recent, olderAttempt, legacyKey]) yield* upload(key)
        age(root, old, 9, now)
        age(root, oldSibling, 8.01, now)
        age(root, olderAttempt, 30, now)
        age(root, legacyKey, 9, now)
        age(root, recent, 7.99, now)
        // Metadata a crash left without its data, and a partial upload: the first goes, the second is not its own.
        const orphan = `${freshObjectKey()}.meta.json`
        mkdirSync(NodePath.dirname(NodePath.join(root, orphan)), { recursive: true })
        writeFileSync(NodePath.join(root, orphan), "{}")
        const stale = new Date(now - 9 * DAY)
        utimesSync(NodePath.join(root, orphan), stale, stale)
        writeFileSync(NodePath.join(root, PARTIAL_DIRECTORY, "abc.data"), "x")

        expect(yield* files.sweepExpired(RETENTION)).toBe(4)
        for (const key of [old, oldSibling, olderAttempt, legacyKey]) {
          expect(exists(root, key)).toBe(false)
          expect(exists(root, `${key}.meta.json`)).toBe(false)
        }
        expect(exists(root, recent) && exists(root, `${recent}.meta.json`)).toBe(true)
        expect(exists(root, orphan)).toBe(false)
        expect(exists(root, NodePath.dirname(old))).toBe(false)
        expect(exists(root, NodePath.dirname(NodePath.dirname(old)))).toBe(true)
        expect(readdirSync(NodePath.join(root, PARTIAL_DIRECTORY))).toStrictEqual(["abc.data"])
        expect(yield* files.sweepExpired(RETENTION)).toBe(0)
      }).pipe(Effect.provide(LocalFileStore.layer({ root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET })))
    }))

  it.scoped("with a retention, the layer sweeps at start and then every hour on the clock", () =>
    Effect.gen(function*() {
      const root = yield* temporaryDirectory("localfs-sweeper-")
      const now = Date.now()
      yield* TestClock.setTime(now)
      const options = { root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET, fileRetention: RETENTION }
      const [old, fresh] = [freshObjectKey(), freshObjectKey()]
      // A file from an earlier run, already expired when the store starts.
      yield* Effect.scoped(
        Effect.provide(upload(old), LocalFileStore.layer({ root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET }))
      )
      age(root, old, 9, now)

      yield* Effect.gen(function*() {
        yield* eventually(() => !exists(root, old))
        yield* upload(fresh)
        // Eight days on, the file is past its retention; the sweep after the next hour takes it.
        yield* TestClock.adjust(RETENTION)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
        expect(exists(root, fresh)).toBe(true)
        yield* TestClock.adjust(Duration.hours(1))
        yield* eventually(() => !exists(root, fresh))
      }).pipe(Effect.provide(LocalFileStore.layer(options)))
    }))

  it.scoped("without a retention, the layer deletes nothing", () =>
    Effect.gen(function*() {
      const root = yield* temporaryDirectory("localfs-keep-")
      const now = Date.now()
      yield* TestClock.setTime(now)
      const key = freshObjectKey()
      const layer = LocalFileStore.layer({ root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET })
      yield* Effect.scoped(Effect.provide(upload(key), layer))
      age(root, key, 365, now)
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(Duration.days(2))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
        expect(exists(root, key)).toBe(true)
      }).pipe(Effect.provide(layer))
    }))
})
