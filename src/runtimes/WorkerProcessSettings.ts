// The worker's process settings: docs/adr/0019-worker-process-memory-settings.md and
// docs/adr/0020-worker-heap-growth-capped.md. Node and glibc read the first two before any of our code runs, so each
// launcher of a worker applies them: the Lambda function's environment (infra/ExportsStack.ts), `npm run worker`
// (package.json; a test keeps the two in step) and bench:export's runs. The third is set by the worker's entry
// modules themselves, first thing (applyWorkerHeapGrowth).
import { setFlagsFromString } from "node:v8"

/**
 * A young generation of 1 MiB instead of V8's 16: an export allocates little JavaScript but a buffer per piece of
 * the body, and a buffer's memory is freed only when a collection finds it dead, so the collections must come often
 * for what a run holds at its peak not to depend on its length (ADR 19).
 */
export const WORKER_NODE_OPTIONS: ReadonlyArray<string> = ["--max-semi-space-size=1"]

/**
 * glibc's heap, kept from growing with the export's length (ADR 19, retuned for Node 24 by ADR 49):
 * - `MALLOC_MMAP_THRESHOLD_`: a block of this size or more that the heap's top has no room for is mapped on its own
 *   and unmapped when freed. By default glibc raises the threshold after the first such block is freed, and the
 *   export's pieces then come from its heap, which they leave fragmented, more so the longer the export. The
 *   socket's reads are buffers of up to 64 KiB, thousands a second, freed only when the collector finds them dead:
 *   at 32 KiB, they are mapped too.
 * - `MALLOC_TOP_PAD_`: glibc grows its heap by this much more than a small block needs (128 KiB by default), and
 *   a block above the threshold is served from that spare room before it would be mapped: with no padding, it is
 *   mapped.
 */
export const WORKER_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "32768",
  MALLOC_TOP_PAD_: "0"
}

/**
 * V8 lets its old generation grow by a factor it picks between 1.1 and 4 after each full collection, and a buffer
 * the young collections missed waits there for the next one. Capped at 1.2, few dead buffers wait at any time, so
 * a long export peaks where a short one does (ADR 20).
 */
export const WORKER_HEAP_GROWTH_FLAG = "--heap-growing-percent=20"

/**
 * Sets WORKER_HEAP_GROWTH_FLAG in this process. Node refuses the flag in NODE_OPTIONS, the only way Lambda passes
 * options, so the worker sets it from inside; V8 reads it at every full collection, so it holds from the next one.
 */
export const applyWorkerHeapGrowth = (): void => setFlagsFromString(WORKER_HEAP_GROWTH_FLAG)
