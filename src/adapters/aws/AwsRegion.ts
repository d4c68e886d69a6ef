// The region of an AWS client: the adapter's own setting when given, else AWS_REGION, which the Lambda runtime (and
// ECS) set for every function, so that a function deployed by the stack needs no region setting of its own.
import { Config } from "effect"

export const AWS_REGION = "AWS_REGION"

/** `name` (e.g. DYNAMODB_REGION), falling back to AWS_REGION; missing both fails with both names. */
export const regionConfig = (name: string): Config.Config<string> =>
  Config.nonEmptyString(name).pipe(Config.orElse(() => Config.nonEmptyString(AWS_REGION)))
