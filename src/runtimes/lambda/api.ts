// The API's entry on Lambda's stock Node runtime (the handler `index.handler`): the environment with SECRETS_ARN's
// settings over it, read once while the function initialises, and the handler on them (ApiFunction.ts).
import { makeApiHandler } from "./ApiFunction.js"
import { lambdaConfigProvider } from "./SecretSettings.js"

export const handler = makeApiHandler(await lambdaConfigProvider())
