// The process's one change feed (ADR 33): every publisher (the stores' decorator, or the poller) tells it, and it
// fans each change out to its owner's open streams. Per owner it keeps a numbered log of recent changes while
// someone follows them, and for a while after, so that a client that reconnects gets exactly what it missed.
import { Clock, Duration, Effect, Layer, Option, Queue } from "effect"
import { randomBytes } from "node:crypto"
import type { Change, Sequenced, Subscription } from "../../application/ports/ChangeFeed.js"
import { ChangeFeed, ownerOfChange, TooManyStreams } from "../../application/ports/ChangeFeed.js"
import type { Owner } from "../../domain/Identifiers.js"
import { ownerKey } from "../memory/MapKeys.js"

export interface InProcessChangeFeedOptions {
  /** Changes kept per owner for resuming; a client further behind starts again from the current state. */
  readonly held: number
  /** How long an owner's log outlives their last stream: a reconnect within it resumes exactly. */
  readonly resumeWindow: Duration.Duration
  /** Changes a stream may have waiting; a stream further behind is ended, and its client reconnects. */
  readonly pending: number
}

export const defaults: InProcessChangeFeedOptions = {
  held: 1000,
  resumeWindow: Duration.minutes(2),
  pending: 1000
}

interface OwnerLog {
  readonly owner: Owner
  /** Random per log: a cursor of another log (another process, or an evicted log) is never taken for this one's. */
  readonly id: string
  seq: number
  /** The highest number no longer held. */
  floor: number
  readonly entries: Array<{ readonly seq: number; readonly item: Sequenced }>
  readonly subscribers: Set<Queue.Queue<Sequenced>>
  idleSince: number | undefined
}

const cursorOf = (log: OwnerLog, seq: number): string => `${log.id}.${seq}`

/** What followed `after` in `log`, when `after` is one of its cursors and nothing after it has been let go. */
const missedAfter = (log: OwnerLog, after: Option.Option<string>): Option.Option<ReadonlyArray<Sequenced>> => {
  if (Option.isNone(after)) return Option.none()
  const dot = after.value.lastIndexOf(".")
  if (after.value.slice(0, dot) !== log.id) return Option.none()
  const seqText = after.value.slice(dot + 1)
  if (!/^\d{1,15}$/.test(seqText)) return Option.none()
  const seq = Number(seqText)
  if (seq > log.seq || seq < log.floor) return Option.none()
  return Option.some(log.entries.filter((entry) => entry.seq > seq).map((entry) => entry.item))
}

export const make = (options: Partial<InProcessChangeFeedOptions> = {}) =>
  Effect.sync(() => {
    const { held, pending, resumeWindow } = { ...defaults, ...options }
    const windowMillis = Duration.toMillis(resumeWindow)
    const logs = new Map<string, OwnerLog>()

    const evictIdle = (now: number) => {
      for (const [key, log] of logs) {
        if (log.idleSince !== undefined && now - log.idleSince >= windowMillis) logs.delete(key)
      }
    }

    // Each step below runs synchronously once it has the time: a change is numbered, kept and handed to the owner's
    // subscribers in one step, so that no subscriber sees changes out of order or between its cursor and its queue.
    const publish = (change: Change) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        evictIdle(now)
        const log = logs.get(ownerKey(ownerOfChange(change)))
        if (log === undefined) return Effect.void
        log.seq += 1
        const item: Sequenced = { cursor: cursorOf(log, log.seq), change }
        log.entries.push({ seq: log.seq, item })
        if (log.entries.length > held) log.floor = log.entries.shift()!.seq
        const behind: Array<Queue.Queue<Sequenced>> = []
        for (const queue of log.subscribers) {
          if (!queue.unsafeOffer(item)) behind.push(queue)
        }
        for (const queue of behind) log.subscribers.delete(queue)
        return Effect.forEach(behind, Queue.shutdown, { discard: true })
      })

    const subscribe = (owner: Owner, { after, maxStreams }: { after: Option.Option<string>; maxStreams: number }) =>
      Effect.acquireRelease(
        Effect.gen(function*() {
          const queue = yield* Queue.bounded<Sequenced>(pending)
          const now = yield* Clock.currentTimeMillis
          evictIdle(now)
          const key = ownerKey(owner)
          const known = logs.get(key)
          if (known !== undefined && known.subscribers.size >= maxStreams) {
            return yield* new TooManyStreams({ limit: maxStreams })
          }
          const log: OwnerLog = known ?? {
            owner,
            id: randomBytes(6).toString("base64url"),
            seq: 0,
            floor: 0,
            entries: [],
            subscribers: new Set(),
            idleSince: undefined
          }
          logs.set(key, log)
          log.subscribers.add(queue)
          log.idleSince = undefined
          const subscription: Subscription = {
            cursor: cursorOf(log, log.seq),
            missed: missedAfter(log, after),
            changes: queue
          }
          return { log, queue, subscription }
        }),
        ({ log, queue }) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            log.subscribers.delete(queue)
            if (log.subscribers.size === 0) log.idleSince = now
            return Queue.shutdown(queue)
          })
      ).pipe(Effect.map(({ subscription }) => subscription))

    const watched = Effect.map(Clock.currentTimeMillis, (now) => {
      evictIdle(now)
      return [...logs.values()].map((log) => log.owner)
    })

    return ChangeFeed.of({ publish, subscribe, watched })
  })

export const layer = (options: Partial<InProcessChangeFeedOptions> = {}) => Layer.effect(ChangeFeed, make(options))
