// An upload's body cut into multipart-upload parts, each copied once into a buffer from a small fixed set that is
// reused as parts land: however long the export, an upload holds at most `limit × partSize` bytes of parts, and
// makes no new garbage per part for the collector to catch up with (ADR 18).
import { Channel, Chunk, Effect, Stream } from "effect"
import type { Cause } from "effect"

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
  /** A free buffer now, if there is one: one given back, else a new one while fewer than `limit` exist. */
  readonly poll: () => Buffer | undefined
  /** A free buffer: `poll`'s, else the next given back. */
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
  Effect.sync(() => {
    let made = 0
    const free: Array<Buffer> = []
    // Takers waiting for a buffer, first come first served; one leaves the line when interrupted.
    const waiting: Array<(buffer: Buffer) => void> = []
    const poll = (): Buffer | undefined => {
      const given = free.pop()
      if (given !== undefined) return given
      if (made < limit) {
        made++
        return Buffer.allocUnsafeSlow(partSize)
      }
      return undefined
    }
    return {
      poll,
      take: Effect.suspend(() => {
        const now = poll()
        if (now !== undefined) return Effect.succeed(now)
        return Effect.async<Buffer>((resume) => {
          const taker = (buffer: Buffer) => resume(Effect.succeed(buffer))
          waiting.push(taker)
          return Effect.sync(() => {
            const at = waiting.indexOf(taker)
            if (at >= 0) waiting.splice(at, 1)
          })
        })
      }),
      give: (buffer) =>
        Effect.sync(() => {
          const taker = waiting.shift()
          if (taker === undefined) free.push(buffer)
          else taker(buffer)
        }),
      made: () => made
    }
  })

/**
 * The body in parts of exactly `partSize` bytes but the last, copied into buffers from `buffers` as the bytes arrive.
 * One step of the stream for each pull of the body: its pieces are read through `bytesOf` (once each, in order) and
 * copied in one synchronous pass, the parts they fill passed on together at the pull's end. Only when no buffer is
 * free does the pass stop, pass on the parts filled so far (their upload is what frees one) and wait: that is what
 * holds the body back while every buffer is in flight. Every piece of a pull is copied before the body is pulled
 * again, so lent pieces (FileStore's Upload) are read while they hold their bytes: nothing may pull ahead of this.
 */
export const partsOf = <A, E, R>(
  body: Stream.Stream<A, E, R>,
  partSize: number,
  buffers: Pick<PartBuffers, "poll" | "take">,
  bytesOf: (piece: A) => Uint8Array
): Stream.Stream<Part, E, R> =>
  Stream.suspend(() => {
    let filling: Buffer | undefined
    let filled = 0
    let count = 0
    /** The parts filled by the pull being copied, not yet passed on. */
    let full: Array<Part> = []

    /** Copies `bytes` from `offset` on; returns where it stopped for want of a buffer (`bytes.length` when done). */
    const copy = (bytes: Uint8Array, offset: number): number => {
      while (offset < bytes.length) {
        if (filling === undefined) {
          filling = buffers.poll()
          if (filling === undefined) return offset
        }
        const length = Math.min(partSize - filled, bytes.length - offset)
        filling.set(length === bytes.length ? bytes : bytes.subarray(offset, offset + length), filled)
        filled += length
        offset += length
        if (filled === partSize) {
          full.push({ number: ++count, buffer: filling, length: partSize, whole: false })
          filling = undefined
          filled = 0
        }
      }
      return offset
    }

    const passOn = (): Channel.Channel<Chunk.Chunk<Part>> => {
      if (full.length === 0) return Channel.void
      const parts = Chunk.unsafeFromArray(full)
      full = []
      return Channel.write(parts)
    }

    /** Copies `pieces` from the `index`th's `offset` on, passing the parts they fill on. */
    const fill = (
      pieces: ReadonlyArray<Uint8Array>,
      index: number,
      offset: number
    ): Channel.Channel<Chunk.Chunk<Part>> => {
      for (let i = index, at = offset; i < pieces.length; i++, at = 0) {
        const piece = pieces[i]!
        const stopped = copy(piece, at)
        if (stopped < piece.length) {
          return Channel.zipRight(
            passOn(),
            Channel.flatMap(Channel.fromEffect(buffers.take), (buffer) => {
              filling = buffer
              return fill(pieces, i, stopped)
            })
          )
        }
      }
      return passOn()
    }

    const last = (): Channel.Channel<Chunk.Chunk<Part>> => {
      if (filling !== undefined) {
        const number = count + 1
        return Channel.write(Chunk.of({ number, buffer: filling, length: filled, whole: number === 1 }))
      }
      return count === 0
        ? Channel.write(Chunk.of({ number: 1, buffer: Buffer.alloc(0), length: 0, whole: true }))
        : Channel.void
    }

    const read: Channel.Channel<Chunk.Chunk<Part>, Chunk.Chunk<A>, E, E, unknown, unknown> = Channel.readWithCause({
      onInput: (pull: Chunk.Chunk<A>) => {
        const pieces: Array<Uint8Array> = []
        for (const piece of pull) pieces.push(bytesOf(piece))
        return Channel.zipRight(fill(pieces, 0, 0), read)
      },
      onFailure: (cause: Cause.Cause<E>) => Channel.failCause(cause),
      onDone: last
    })

    return Stream.pipeThroughChannel(body, read)
  })
