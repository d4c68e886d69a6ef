// What bench/export.ts and its runs (bench/exportRuns.ts) say to each other: the run's settings in an environment
// variable, its result in one line on stdout.
import type { ExportFormat } from "../src/domain/FileFormats.js"
import type { CollectionCount } from "../test/support/Collections.js"

export const RESULT_PREFIX = "bench-result "

export type RunKind =
  | "clickhouse-csv"
  | "s3-upload"
  | "clickhouse-to-s3"
  | "pipeline"
  | "pipeline-rewrite"
  | "server-write"

/**
 * The engine the rows come from: Debian's ClickHouse 18.16 over HTTP, or chdb (ClickHouse 26.x) inside the run's
 * own process, which can also write the object to S3 itself (`server-write`, ADR 43).
 */
export type Engine = "clickhouse" | "chdb"

export interface RunSettings {
  readonly engine: Engine
  /** For chdb: the data directory holding the bench's table, opened by the run before it is timed. */
  readonly chdbDataDir: string
  readonly clickhouseUrl: string
  readonly s3Endpoint: string
  readonly bucket: string
  readonly accessKey: string
  /** The orders report of the whole table, without query parameters (ClickHouse 18.16 has none). */
  readonly ordersSql: string
  readonly merchantId: string
  readonly dateFrom: string
  readonly dateTo: string
  /** For s3-upload: the file whose bytes are uploaded. */
  readonly file: string
  readonly key: string
  readonly partSize: number
  readonly uploadConcurrency: number
  /** Where to write the run's memory every 50 ms, as CSV (`--trace-memory DIR`); none when empty. */
  readonly memoryTrace: string
  /** The pipeline's file format (ADR 50): `csv` for the runs the verdict reads, another for the formats' table. */
  readonly format: ExportFormat
}

/**
 * process.memoryUsage() and the kernel's split of the RSS (/proc/self/status) at one sample: V8's heap, the
 * buffers' memory (`arrayBuffers`, within `external`), and the anonymous memory that is neither (native code's
 * allocations, glibc's heap, V8's code and metadata), against the pages mapped from files (the node binary).
 */
export interface MemoryAtPeak {
  readonly rss: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
  readonly rssAnon: number
  readonly rssFile: number
}

export interface RunResult {
  readonly kind: RunKind
  readonly millis: number
  readonly rows: number
  readonly bytes: number
  readonly maxRssBytes: number
  /** CPU time of the run's process while measured (user + system), in milliseconds. */
  readonly cpuMillis: number
  /** process.memoryUsage() when RSS was at its highest, sampled every 50 ms: where the peak's memory is. */
  readonly atPeak: MemoryAtPeak
  /** V8's collections during the run. A buffer that outlives two young ones waits for a full one. */
  readonly collections: CollectionCount
  /** What the run published under `key`, for the pipeline, clickhouse-to-s3 and server-write. */
  readonly objectKey?: string
  /** The SHA-256 of the file, for the pipeline: what the job records, and what server-write must match. */
  readonly sha256?: string
}
