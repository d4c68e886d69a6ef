// What went wrong with a call, in words a person can act on: the API's own message when it answered with its error
// shape, and a sentence of ours when it could not be reached or answered something we cannot read.
import { Predicate } from "effect"

export interface FieldProblem {
  readonly field: string
  readonly message: string
}

export class ApiProblem extends Error {
  constructor(
    message: string,
    /** The API's error code (`export_not_retryable`), when it answered one. */
    readonly code?: string,
    /** Each failing field, for a validation error. */
    readonly fields: ReadonlyArray<FieldProblem> = [],
    /** The HTTP status of an answer the API does not declare (a route this server does not have: 404). */
    readonly status?: number
  ) {
    super(message)
  }
}

const UNREACHABLE = "The server cannot be reached right now. Check your connection and try again."
const UNREADABLE = "The server answered something this page cannot read. Reload the page and try again."

/** The API's error shape: `{ error: { code, message, details? }, requestId }`. */
const isApiError = (error: unknown): error is {
  readonly error: { readonly code: string; readonly message: string; readonly details?: ReadonlyArray<FieldProblem> }
} => Predicate.hasProperty(error, "error") && Predicate.hasProperty(error, "requestId")

export const problemOf = (error: unknown): ApiProblem => {
  if (error instanceof ApiProblem) return error
  if (isApiError(error)) return new ApiProblem(error.error.message, error.error.code, error.error.details ?? [])
  if (Predicate.isTagged(error, "RequestError")) return new ApiProblem(UNREACHABLE, "unreachable")
  if (Predicate.isTagged(error, "ResponseError") && Predicate.hasProperty(error, "response")) {
    const { response } = error as { readonly response: { readonly status: number } }
    return new ApiProblem(
      `The server answered ${response.status}. Please try again in a moment.`,
      "unexpected_status",
      [],
      response.status
    )
  }
  return new ApiProblem(UNREADABLE, "unreadable")
}
