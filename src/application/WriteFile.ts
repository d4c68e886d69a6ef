// One attempt's file: the report's rows streamed from the ReportSource into the FileStore, counted and hashed on the
// way, under the query deadline (docs/adr/0021-query-deadline-races-the-attempt.md).
import { Duration, Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import { QueryTimeout } from "../domain/Errors.js"
import type { RunningJob } from "../domain/ExportJob.js"
import { objectKeyFor } from "../domain/ExportJob.js"
import { FILE_FORMATS } from "../domain/FileFormats.js"
import { downloadFileName } from "../domain/Reports.js"
import { CurrentCatalogue } from "./CurrentCatalogue.js"
import { fileBody } from "./ExportFileBody.js"
import { ExportSettings } from "./ExportSettings.js"
import { FileStore } from "./ports/FileStore.js"
import { ReportSource } from "./ports/ReportSource.js"
import type { FilePiece, SourceProgress } from "./ports/ReportSource.js"

/**
 * What an attempt has written so far, counted as the rows stream by; the worker's progress timer reads it (RunExport).
 * A plain object, not an effectful Ref: the counting costs the rows' path two additions per piece and nothing more.
 */
export interface Tally {
  rows: number
  bytes: number
  /** The source's own count of the rows it read, when it tells one. */
  source: SourceProgress | undefined
}

export const newTally = (): Tally => ({ rows: 0, bytes: 0, source: undefined })

/**
 * Streams the report into the file store and returns what the file holds; runs once per attempt. Fails with
 * QueryTimeout when the source's rows have not all come within the query timeout, and never once they have: the
 * deadline races the whole upload, not each pull of the rows (ADR 21), and the upload's last parts are not the
 * query's time (each has a limit of its own in the file store, ADR 4).
 */
export const writeFile = (job: RunningJob, tally: Tally = newTally()) =>
  Effect.gen(function*() {
    const settings = yield* ExportSettings
    const source = yield* ReportSource
    const files = yield* FileStore
    const objectKey = objectKeyFor(job)
    const definition = (yield* CurrentCatalogue).definitionOf(job.report)
    // Counted afresh on each try of the attempt; what was reported of an earlier try never goes back (`transition`).
    tally.rows = 0
    tally.bytes = 0
    const digest = createHash("sha256")

    // Set when the source's stream ends, however it ends: from then on the deadline waits for ever.
    let queryEnded = false
    const queryDeadline = Effect.sleep(settings.queryTimeout).pipe(
      Effect.zipRight(Effect.suspend(() =>
        queryEnded ? Effect.never : Effect.fail(
          new QueryTimeout({
            jobId: job.jobId,
            afterMillis: Duration.toMillis(settings.queryTimeout),
            rowsBeforeTimeout: tally.rows
          })
        )
      ))
    )
    const query = {
      jobId: job.jobId,
      merchantId: job.owner.merchantId,
      report: job.report,
      timeout: settings.queryTimeout,
      onProgress: (progress: SourceProgress) => void (tally.source = progress)
    }
    // A piece is a read of the source's input, many rows at once, so the stream's cost per piece stays small beside
    // the rows'. The store reads each piece as it takes it in, in order: the rows, the bytes and the SHA-256 are
    // counted there, in its pass over the pull, rather than in stream steps of their own (FileStore's Upload).
    const body = fileBody(source, query, job.format, definition.columns, { csvBom: settings.csvBom }).pipe(
      Stream.ensuring(Effect.sync(() => void (queryEnded = true)))
    )
    const counted = (piece: FilePiece): Uint8Array => {
      digest.update(piece.bytes)
      tally.rows += piece.rows
      tally.bytes += piece.bytes.length
      return piece.bytes
    }

    yield* files.upload(objectKey, body, {
      contentType: FILE_FORMATS[job.format].contentType,
      downloadName: downloadFileName(job.report, job.format)
    }, counted).pipe(Effect.raceFirst(queryDeadline))
    yield* Effect.logInfo("file uploaded", { objectKey, rows: tally.rows, bytes: tally.bytes })
    return { objectKey, rowCount: tally.rows, byteSize: tally.bytes, sha256: digest.digest("hex") }
  }).pipe(Effect.withSpan("Exports.writeFile"))
