// `npx cdk synth` / `npx cdk deploy` entry (see docs/deploy.md): the stack's settings come from CDK context
// (`-c name=value` or cdk.context.json), and the function code from `npm run build`.
import { App } from "aws-cdk-lib"
import { Code } from "aws-cdk-lib/aws-lambda"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ExportsStack } from "./ExportsStack.js"

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

new ExportsStack(app, setting("stackName"), {
  apiCode: bundle("api"),
  workerCode: bundle("worker"),
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
