// The worker's entry on Lambda's stock Node runtime (the handler `index.handler`): the environment with SECRETS_ARN's
// settings over it, read once while the function initialises, and the handler on them (WorkerFunction.ts).
import { lambdaConfigProvider } from "./SecretSettings.js"
import { makeWorkerHandler } from "./WorkerFunction.js"

export const handler = makeWorkerHandler(await lambdaConfigProvider())
