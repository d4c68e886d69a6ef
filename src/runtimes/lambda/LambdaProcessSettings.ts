// The settings each Lambda function's Node process reads before any of its code runs (NODE_OPTIONS and the like):
// the stack gives them to the functions (infra/ExportsStack.ts) and `npm run bench:coldstart` starts every cold start
// with them, functions and peers alike, so that the bench measures the functions as they are deployed.
import { WORKER_ENVIRONMENT, WORKER_NODE_OPTIONS } from "../WorkerProcessSettings.js"

/**
 * None for both. Not `--enable-source-maps`: Effect reads an `Error().stack` while its modules load, and under that
 * flag Node then parses the bundle's whole source map (1.5 MiB) on every cold start, about a third of a second
 * (ADR 47). The logs' stack traces name the bundle's minified positions; `npm run decode-stack` maps them to the
 * sources with the `.map` files shipped beside the bundle.
 */
export const LAMBDA_NODE_OPTIONS: ReadonlyArray<string> = []

export type LambdaFunctionName = "api" | "worker"

/** The variables of `name`'s process settings, NODE_OPTIONS among them when it has any; the worker's add ADR 19's. */
export const lambdaProcessEnvironment = (name: LambdaFunctionName): Readonly<Record<string, string>> => {
  const options = [...LAMBDA_NODE_OPTIONS, ...(name === "worker" ? WORKER_NODE_OPTIONS : [])]
  return {
    ...(name === "worker" ? WORKER_ENVIRONMENT : {}),
    ...(options.length === 0 ? {} : { NODE_OPTIONS: options.join(" ") })
  }
}
