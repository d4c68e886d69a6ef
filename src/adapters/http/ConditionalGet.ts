// What a conditional GET looks like to clients, for the reads a client polls (an export's status, the list, the
// notifications): the If-None-Match it may send, the ETag and Cache-Control it gets, and the 304 (ADR 32).
// Declaration only, so that the API's declaration stays free of Node modules; `EntityTags.ts` answers.
import { OpenApi } from "@effect/platform"
import { Context } from "effect"

/** Only the caller's own cache may keep the answer, and it asks again each time, cheaply, with If-None-Match. */
export const CONDITIONAL_CACHE_CONTROL = "private, no-cache"

const responseHeaders = {
  ETag: {
    description: "A strong tag of this answer for this caller: it changes whenever the answer does.",
    schema: { type: "string" }
  },
  "Cache-Control": { description: CONDITIONAL_CACHE_CONTROL, schema: { type: "string" } }
}

interface Operation {
  readonly parameters?: ReadonlyArray<unknown>
  readonly responses?: Readonly<Record<string, object>>
}

/** The endpoint's OpenAPI operation with the conditional request and its answers added. */
const documentConditionalGet = (spec: Record<string, unknown>): Record<string, unknown> => {
  const operation = spec as Operation
  return {
    ...spec,
    parameters: [
      ...(operation.parameters ?? []),
      {
        name: "If-None-Match",
        in: "header",
        required: false,
        description: "The ETag of the answer the client holds: 304 with no body while it is still the answer.",
        schema: { type: "string" }
      }
    ],
    responses: {
      ...operation.responses,
      "200": { ...operation.responses?.["200"], headers: responseHeaders },
      "304": { description: "Not Modified: the answer is still the one whose ETag was sent.", headers: responseHeaders }
    }
  }
}

/** Annotations for an endpoint answered with `EntityTags.conditionalJson`. */
export const conditionalGet = Context.make(OpenApi.Transform, documentConditionalGet)
