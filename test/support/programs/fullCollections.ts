// Run as `node <worker's options> --import tsx fullCollections.ts [capped]`: promotes ~150 MB of short-lived objects
// over a steady live set, as an export's pieces are, and prints how many full collections V8 made meanwhile. With
// "capped", it first applies the worker's heap growth setting the way the worker's entry modules do.
import { applyWorkerHeapGrowth } from "../../../src/runtimes/WorkerProcessSettings.js"
import { countCollections } from "../Collections.js"

if (process.argv[2] === "capped") applyWorkerHeapGrowth()

const collecting = countCollections()
const live = Array.from({ length: 200_000 }, (_, i) => ({ i, label: `row ${i}` }))
// Each object outlives 20,000 newer ones (over a MiB): long enough to reach the old generation, then dead.
const recent = new Array<{ readonly i: number; readonly cells: ReadonlyArray<number> }>(20_000)
for (let i = 0; i < 2_000_000; i++) recent[i % recent.length] = { i, cells: [i, i + 1, i + 2] }
const { full } = await collecting.stop()
process.stdout.write(`${JSON.stringify({ fullCollections: full, live: live.length, recent: recent.length })}\n`)
