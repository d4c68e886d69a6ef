// What bench/export.ts and its runs (bench/exportRuns.ts) say to each other: the run's settings in an environment
// variable, its result in one line on stdout.

export const RESULT_PREFIX = "bench-result "

export type RunKind = "clickhouse-csv" | "s3-upload" | "pipeline"

export interface RunSettings {
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
  readonly atPeak: { readonly rss: number; readonly heapTotal: number; readonly external: number }
  /**
   * V8's collections during the run: the young generation's (scavenges) and the full ones (mark-compact). A buffer
   * that outlives two scavenges waits for a full collection, so few full ones means buffers piling up.
   */
  readonly collections: { readonly young: number; readonly full: number }
  /** What the run published under `key`, for the pipeline. */
  readonly objectKey?: string
}
