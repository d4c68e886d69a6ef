// An upload's body cut into multipart-upload parts, each copied once into a buffer from a small fixed set that is
// reused as parts land: however long the export, an upload holds at most `limit × partSize` bytes of parts, and
// makes no new garbage per part for the collector to catch up with (ADR 18).
import { Effect, identity, Option, Queue, Stream } from "effect"

/** One part of the upload: the first `length` bytes of `buffer`, which goes back to the set once it has landed. */
export interface Part {
  readonly number: number
  readonly buffer: Buffer
  readonly length: number
  /**
   * The body's only part, shorter than a part (or empty): sent as one PutObject rather than a multipart upload.
   * A body that fills whole parts is always a multipart upload, even of one part, since its end is only known after.
   */
  readonly whole: boolean
}

export const bytesOf = (part: Part): Buffer => part.buffer.subarray(0, part.length)

export interface PartBuffers {
  /** A free buffer: one given back if any, else a new one while fewer than `limit` exist, else the next given back. */
  readonly take: Effect.Effect<Buffer>
  readonly give: (buffer: Buffer) => Effect.Effect<void>
  /** How many buffers this set has made so far. */
  readonly made: () => number
}

/**
 * At most `limit` buffers of `partSize` bytes, made on first need. A buffer is allocated outside the JavaScript heap
 * and the kernel backs only the pages written, so the first buffer of a small export costs what it holds.
 */
export const makePartBuffers = (partSize: number, limit: number): Effect.Effect<PartBuffers> =>
  Effect.map(Queue.bounded<Buffer>(limit), (free) => {
    let made = 0
    return {
      take: Effect.flatMap(Queue.poll(free), (given) => {
        if (given._tag === "Some") return Effect.succeed(given.value)
        if (made < limit) {
          made++
          return Effect.sync(() => Buffer.allocUnsafeSlow(partSize))
        }
        return Queue.take(free)
      }),
      give: (buffer) => Queue.offer(free, buffer),
      made: () => made
    }
  })

/**
 * The body in parts of exactly `partSize` bytes but the last, copied into buffers from `take` as the bytes arrive.
 * Waiting for a buffer is what holds the body back while every buffer is in flight.
 */
export const partsOf = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  partSize: number,
  take: Effect.Effect<Buffer>
): Stream.Stream<Part, E, R> =>
  Stream.suspend(() => {
    // A chunk is first cut where parts end, so that each piece fills at most one part: a full part is passed on
    // before the next buffer is taken, which a chunk spanning more parts than there are buffers needs.
    let cutAt = 0
    const piecesOf = (chunk: Uint8Array): Array<Uint8Array> => {
      const pieces: Array<Uint8Array> = []
      for (let offset = 0; offset < chunk.length;) {
        const length = Math.min(partSize - (cutAt % partSize), chunk.length - offset)
        pieces.push(chunk.subarray(offset, offset + length))
        offset += length
        cutAt += length
      }
      return pieces
    }

    let filling: Buffer | undefined
    let filled = 0
    let count = 0
    const copy = (piece: Uint8Array) =>
      Effect.map(
        Effect.suspend(() => filling === undefined ? take : Effect.succeed(filling)),
        (buffer): Option.Option<Part> => {
          buffer.set(piece, filled)
          filled += piece.length
          if (filled < partSize) {
            filling = buffer
            return Option.none()
          }
          filling = undefined
          filled = 0
          return Option.some({ number: ++count, buffer, length: partSize, whole: false })
        }
      )

    const rest = Stream.suspend((): Stream.Stream<Part> => {
      if (filling !== undefined) {
        const number = count + 1
        return Stream.make({ number, buffer: filling, length: filled, whole: number === 1 })
      }
      return count === 0 ? Stream.make({ number: 1, buffer: Buffer.alloc(0), length: 0, whole: true }) : Stream.empty
    })

    return body.pipe(
      Stream.mapConcat(piecesOf),
      Stream.mapEffect(copy),
      Stream.filterMap(identity),
      Stream.concat(rest)
    )
  })
