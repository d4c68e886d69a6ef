// `npx cdk synth` / `npx cdk deploy` entry (see docs/deploy.md): the stack's settings come from CDK context
// (`-c name=value` or cdk.context.json), and the function code from `npm run build`.
import { App } from "aws-cdk-lib"
import { Code } from "aws-cdk-lib/aws-lambda"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { readSnapshotManifest } from "../scripts/LambdaSnapshot.js"
import { lambdaProcessEnvironment } from "../src/runtimes/lambda/LambdaProcessSettings.js"
import { ExportsStack } from "./ExportsStack.js"
import type { FunctionRuntime } from "./ExportsStack.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const app = new App()

const setting = (name: string): string => {
  const value: unknown = app.node.tryGetContext(name)
  if (typeof value !== "string" || value.trim() === "") {
    throw new Error(`missing CDK context '${name}': pass -c ${name}=... (see docs/deploy.md)`)
  }
  return value
}

/** A setting that may be left out: absent or blank is undefined. */
const optionalSetting = (name: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(name)
  return typeof value === "string" && value.trim() !== "" ? value : undefined
}

const bundle = (name: "api" | "worker") => {
  const directory = join(ROOT, "dist", "lambda", name)
  if (!existsSync(join(directory, "index.mjs"))) throw new Error(`${directory}/index.mjs is missing: run npm run build`)
  return Code.fromAsset(directory)
}

/**
 * `-c functionRuntime=snapshot`: the custom runtime of ADR 52, on the architecture its blobs were built on, and only
 * when they were built under the options the stack gives the functions: Node 24 started the worker's blob under
 * other flags in a check (ADR 52), but nothing promises that a heap laid out under some flags runs under others.
 */
const snapshot = (name: "api" | "worker"): { readonly code: Code; readonly architecture: "x64" | "arm64" } => {
  const directory = join(ROOT, "dist", "lambda", `${name}-snapshot`)
  if (!existsSync(join(directory, "manifest.json"))) {
    throw new Error(`${directory}/manifest.json is missing: run npm run build`)
  }
  const manifest = readSnapshotManifest(directory)
  const options = lambdaProcessEnvironment(name)["NODE_OPTIONS"] ?? ""
  const architecture = manifest.arch === "x64" || manifest.arch === "arm64" ? manifest.arch : undefined
  if (manifest.platform !== "linux" || architecture === undefined) {
    throw new Error(`${directory} was built for ${manifest.platform}-${manifest.arch}; Lambda runs linux-x64 or -arm64`)
  }
  if (manifest.nodeOptions !== options) {
    throw new Error(`${directory} was built with NODE_OPTIONS ${JSON.stringify(manifest.nodeOptions)}: rebuild it`)
  }
  return { code: Code.fromAsset(directory), architecture }
}

const functionRuntimeSetting = optionalSetting("functionRuntime") ?? "nodejs"
if (functionRuntimeSetting !== "nodejs" && functionRuntimeSetting !== "snapshot") {
  throw new Error(`functionRuntime is 'nodejs' (the default) or 'snapshot', not '${functionRuntimeSetting}'`)
}
const functions = ((): { apiCode: Code; workerCode: Code; functionRuntime: FunctionRuntime } => {
  if (functionRuntimeSetting === "nodejs") {
    return { apiCode: bundle("api"), workerCode: bundle("worker"), functionRuntime: { kind: "nodejs" } }
  }
  const [api, worker] = [snapshot("api"), snapshot("worker")]
  if (api.architecture !== worker.architecture) throw new Error("the two snapshots were built on other architectures")
  return {
    apiCode: api.code,
    workerCode: worker.code,
    functionRuntime: { kind: "snapshot", architecture: api.architecture }
  }
})()

new ExportsStack(app, setting("stackName"), {
  ...functions,
  jwtIssuer: setting("jwtIssuer"),
  jwtAudience: setting("jwtAudience").split(","),
  // R2: both. S3: no storageEndpoint, and the stack makes the bucket (named `bucket` if given).
  storageEndpoint: optionalSetting("storageEndpoint"),
  bucket: optionalSetting("storageEndpoint") === undefined ? optionalSetting("bucket") : setting("bucket"),
  clickhouseUrl: setting("clickhouseUrl"),
  sesIdentity: setting("sesIdentity"),
  emailFrom: setting("emailFrom"),
  appBaseUrl: setting("appBaseUrl"),
  env: {
    ...(process.env["CDK_DEFAULT_ACCOUNT"] === undefined ? {} : { account: process.env["CDK_DEFAULT_ACCOUNT"] }),
    ...(process.env["CDK_DEFAULT_REGION"] === undefined ? {} : { region: process.env["CDK_DEFAULT_REGION"] })
  }
})
