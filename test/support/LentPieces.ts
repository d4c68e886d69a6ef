// A body whose pieces are lent, as FileStore's `Upload` and ReportSource's FilePiece allow (ADR 57): each pull's
// pieces are views of buffers the body reuses, and the body writes over every byte it ever lent at its next pull and
// once more when it ends. Whatever reads a piece after that reads the marker, not the piece.
import { Chunk, Effect, Stream } from "effect"

/** The byte the body writes over what it lent: "~", which no test's expected bytes hold in its place. */
export const OVERWRITTEN = 0x7e

/**
 * `body` with each pull's pieces moved into buffers the body keeps and reuses: the same bytes, valid only until the
 * next pull. `bytesOf` reads a piece's bytes and `withBytes` makes the piece again around other bytes.
 */
export const lentPieces = <A, E, R>(
  body: Stream.Stream<A, E, R>,
  bytesOf: (piece: A) => Uint8Array,
  withBytes: (piece: A, bytes: Uint8Array) => A
): Stream.Stream<A, E, R> =>
  Stream.suspend(() => {
    // Every buffer lent so far: one that grew is overwritten too, so that no old view keeps its bytes.
    const buffers: Array<Uint8Array> = []
    const overwrite = () => {
      for (const buffer of buffers) buffer.fill(OVERWRITTEN)
    }
    return body.pipe(
      Stream.mapChunks((pull) => {
        overwrite()
        const size = Chunk.reduce(pull, 0, (sum, piece) => sum + bytesOf(piece).length)
        if ((buffers.at(-1)?.length ?? 0) < size) buffers.push(new Uint8Array(size))
        const buffer = buffers.at(-1)!
        let at = 0
        return Chunk.map(pull, (piece) => {
          const bytes = bytesOf(piece)
          buffer.set(bytes, at)
          at += bytes.length
          return withBytes(piece, buffer.subarray(at - bytes.length, at))
        })
      }),
      Stream.concat(Stream.execute(Effect.sync(overwrite)))
    )
  })

/** A body of bytes, lent. */
export const lentBytes = <E, R>(body: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  lentPieces(body, (bytes) => bytes, (_, bytes) => bytes)

/** A stream's pieces, kept as a consumer that keeps them must (ReportSource's FilePiece): each copied as it comes. */
export const collectedCopies = <A extends { readonly bytes: Uint8Array }, E, R>(
  pieces: Stream.Stream<A, E, R>
): Effect.Effect<ReadonlyArray<A>, E, R> =>
  Effect.map(
    Stream.runCollect(Stream.map(pieces, (piece) => ({ ...piece, bytes: piece.bytes.slice() }))),
    Chunk.toReadonlyArray
  )
