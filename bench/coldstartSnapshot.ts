// The functions as `bench:coldstart --snapshot` starts them (ADR 52): each function's modules evaluated into a V8
// startup snapshot at build time, and, once Node has deserialised it, a main that does what the bench's runner does
// for a bundle: reads the settings (as the function's entry does), makes the handler, answers the event in the file
// `process.argv[1]` names, and prints what it took on its last line. Bundled by the bench with
// `lambdaSnapshotBundleOptions`; `FUNCTION` is replaced by the function's name at bundle time.
import { readFileSync } from "node:fs"
import { GCProfiler, startupSnapshot } from "node:v8"
import { makeApiHandler } from "../src/runtimes/lambda/ApiFunction.js"
import { lambdaConfigProvider } from "../src/runtimes/lambda/SecretSettings.js"
import { freshServices } from "../src/runtimes/lambda/SnapshotServices.js"
import { makeWorkerHandler } from "../src/runtimes/lambda/WorkerFunction.js"

declare const FUNCTION: "api" | "worker"

startupSnapshot.setDeserializeMainFunction(async () => {
  const booted = performance.now()
  const collections = new GCProfiler()
  collections.start()
  const event = JSON.parse(readFileSync(process.argv[1]!, "utf8")) as never
  const context = {
    awsRequestId: `bench-${process.pid}`,
    functionName: "bench",
    getRemainingTimeInMillis: () => 900_000
  } as never
  const configProvider = await lambdaConfigProvider()
  const handler: (event: never, context: never) => Promise<unknown> = FUNCTION === "api"
    ? makeApiHandler(configProvider, freshServices())
    : makeWorkerHandler(configProvider, freshServices())
  const imported = performance.now()
  const answer = await handler(event, context)
  const answered = performance.now()
  const cpu = process.cpuUsage()
  const gcMillis = collections.stop().statistics.reduce((sum, collection) => sum + collection.cost, 0) / 1000
  process.stdout.write(
    "\nCOLDSTART " + JSON.stringify({
      bootMillis: booted,
      importMillis: imported - booted,
      answerMillis: answered - imported,
      gcMillis,
      cpuMillis: (cpu.user + cpu.system) / 1000,
      answer
    }) + "\n"
  )
  process.exit(0)
})
