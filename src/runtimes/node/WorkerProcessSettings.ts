// The worker's process settings (ADR 19). Node and glibc read them before any of our code runs, so each launcher of
// a worker applies them: the Lambda function's environment (infra/ExportsStack.ts), `npm run worker`
// (package.json; a test keeps the two in step) and bench:export's runs.

/**
 * A young generation of 1 MiB instead of V8's 16: an export allocates little JavaScript but a buffer per piece of
 * the body, and a buffer's memory is freed only when a collection finds it dead, so the collections must come
 * often. Measured from 1M to 10M rows: V8's heap 58-64 MiB → 27-29 MiB, peak RSS 2-5% apart (2 MiB: 5-24%), CPU
 * within 5%.
 */
export const WORKER_NODE_OPTIONS: ReadonlyArray<string> = ["--max-semi-space-size=1"]

/**
 * glibc maps every block of 128 KiB or more on its own and unmaps it when freed. By default it raises that threshold
 * after the first such block is freed, and the export's pieces (hundreds of KiB, thousands of them) then come from
 * its heap, which they leave fragmented. Measured at 10M rows: the memory outside V8's heap and buffers
 * 93-108 MiB → 57-60 MiB.
 */
export const WORKER_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" }
