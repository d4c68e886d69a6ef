// The body cut into multipart-upload parts from a fixed set of buffers: the bytes, the part sizes, and the bound on
// buffers and on how far the body is read ahead of the parts in flight.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, FastCheck, Fiber, identity, Ref, Stream } from "effect"
import { bytesOf, makePartBuffers, partsOf } from "../../../src/adapters/s3/PartBuffers.js"

/** The parts of `chunks`, each copied out and its buffer given back at once, from a set of `limit` buffers. */
const cut = (chunks: ReadonlyArray<Uint8Array>, partSize: number, limit: number) =>
  Effect.gen(function*() {
    const buffers = yield* makePartBuffers(partSize, limit)
    const parts = yield* partsOf(Stream.fromIterable(chunks), partSize, buffers, identity).pipe(
      Stream.mapEffect((part) => Effect.as(buffers.give(part.buffer), { ...part, bytes: Buffer.from(bytesOf(part)) })),
      Stream.runCollect
    )
    return { parts: Chunk.toArray(parts), made: buffers.made() }
  })

const chunksArbitrary = FastCheck.array(FastCheck.uint8Array({ maxLength: 40 }), { maxLength: 20 })

/** `chunks` cut into pulls of `sizes[i]` pieces each (the rest in one pull), as a source hands several on at once. */
const pullsOf = <A>(chunks: ReadonlyArray<A>, sizes: ReadonlyArray<number>) => {
  const pulls: Array<Chunk.Chunk<A>> = []
  let at = 0
  for (const size of sizes) {
    if (at >= chunks.length) break
    pulls.push(Chunk.unsafeFromArray(chunks.slice(at, at + size)))
    at += size
  }
  if (at < chunks.length) pulls.push(Chunk.unsafeFromArray(chunks.slice(at)))
  return Stream.fromChunks(...pulls)
}

describe("partsOf", () => {
  it.effect.prop(
    "the parts hold the body's bytes in order, every part but the last exactly partSize long",
    [chunksArbitrary, FastCheck.integer({ min: 1, max: 17 }), FastCheck.integer({ min: 1, max: 3 })],
    ([chunks, partSize, limit]) =>
      Effect.gen(function*() {
        const { made, parts } = yield* cut(chunks, partSize, limit)
        const body = Buffer.concat(chunks)
        expect(Buffer.concat(parts.map((part) => part.bytes)).equals(body)).toBe(true)
        expect(parts.map((part) => part.number)).toEqual(parts.map((_, i) => i + 1))
        expect(parts.slice(0, -1).every((part) => part.length === partSize)).toBe(true)
        expect(parts.length).toBe(Math.max(1, Math.ceil(body.length / partSize)))
        // Only a body shorter than one part is sent whole; one that fills parts exactly has no empty last part.
        expect(parts.map((part) => part.whole)).toEqual(parts.map(() => body.length < partSize))
        expect(made).toBeLessThanOrEqual(limit)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect.prop(
    "a pull of many pieces spanning more parts than there are buffers is cut, the parts passed on as buffers run out",
    [
      chunksArbitrary,
      FastCheck.array(FastCheck.integer({ min: 1, max: 8 }), { maxLength: 10 }),
      FastCheck.integer({ min: 1, max: 9 }),
      FastCheck.integer({ min: 1, max: 2 })
    ],
    ([chunks, sizes, partSize, limit]) =>
      Effect.gen(function*() {
        const buffers = yield* makePartBuffers(partSize, limit)
        // Each part's buffer is given back only once the part has been taken downstream: a pull that needs more
        // buffers than there are must pass its full parts on before it waits for one.
        const parts = yield* partsOf(pullsOf(chunks, sizes), partSize, buffers, identity).pipe(
          Stream.mapEffect((part) => Effect.as(buffers.give(part.buffer), Buffer.from(bytesOf(part)))),
          Stream.runCollect
        )
        expect(Buffer.concat(Chunk.toArray(parts)).equals(Buffer.concat(chunks))).toBe(true)
        expect(buffers.made()).toBeLessThanOrEqual(limit)
      }),
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("reads each piece through bytesOf once, in the body's order", () =>
    Effect.gen(function*() {
      const pieces = Array.from(
        { length: 30 },
        (_, i) => ({ id: i, bytes: Uint8Array.from({ length: i % 7 }, () => i) })
      )
      const read: Array<number> = []
      const buffers = yield* makePartBuffers(8, 2)
      const parts = yield* partsOf(pullsOf(pieces, [1, 5, 3, 10]), 8, buffers, (piece) => {
        read.push(piece.id)
        return piece.bytes
      }).pipe(
        Stream.mapEffect((part) => Effect.as(buffers.give(part.buffer), Buffer.from(bytesOf(part)))),
        Stream.runCollect
      )
      expect(read).toEqual(pieces.map((piece) => piece.id))
      expect(Buffer.concat(Chunk.toArray(parts)).equals(Buffer.concat(pieces.map((piece) => piece.bytes)))).toBe(true)
    }))

  it.effect("an empty body is one empty part, sent whole", () =>
    Effect.gen(function*() {
      const { parts } = yield* cut([], 8, 2)
      expect(parts.map(({ length, number, whole }) => ({ length, number, whole }))).toEqual([
        { length: 0, number: 1, whole: true }
      ])
    }))

  it.effect("a chunk longer than several parts is spread over them", () =>
    Effect.gen(function*() {
      const chunk = Uint8Array.from({ length: 25 }, (_, i) => i)
      const { made, parts } = yield* cut([chunk], 10, 1)
      expect(parts.map((part) => [...part.bytes])).toEqual([
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
        [20, 21, 22, 23, 24]
      ])
      expect(made).toBe(1)
    }))

  it.effect("the body is not read further while every buffer is held by a part in flight", () =>
    Effect.gen(function*() {
      const partSize = 4
      const limit = 3
      const pulled = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const buffers = yield* makePartBuffers(partSize, limit)
      // One part per chunk, 20 of them; no part lands (and gives its buffer back) until released.
      const body = Stream.range(1, 20).pipe(
        Stream.tap(() => Ref.update(pulled, (n) => n + 1)),
        Stream.map(() => new Uint8Array(partSize))
      )
      const landed = yield* partsOf(body, partSize, buffers, identity).pipe(
        Stream.mapEffect((part) => Effect.zipRight(Deferred.await(release), buffers.give(part.buffer)), {
          concurrency: 2
        }),
        Stream.runCount,
        Effect.fork
      )
      yield* Effect.repeat(Ref.get(pulled), { until: (n) => n >= limit })
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      // Three buffers, all taken: the fourth chunk may be pulled, but it cannot be copied anywhere.
      expect(yield* Ref.get(pulled)).toBeLessThanOrEqual(limit + 1)
      expect(buffers.made()).toBe(limit)
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(landed)).toBe(20)
      expect(buffers.made()).toBe(limit)
    }))
})

describe("makePartBuffers", () => {
  it.effect("a taker interrupted while it waits leaves the line: the next buffer given back is free again", () =>
    Effect.gen(function*() {
      const buffers = yield* makePartBuffers(4, 1)
      const only = yield* buffers.take
      const waiting = yield* Effect.fork(buffers.take)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      yield* buffers.give(only)
      expect(buffers.poll()).toBe(only)
      expect(buffers.made()).toBe(1)
    }))
})
