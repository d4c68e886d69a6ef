// The handler of GET /api/v1/reports/{reportType}/preview (ADR 35): the query string read as the export request's
// body would be (a parameter the report takes as a number is read as one), the use case's answer as the API's view.
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Schema, SchemaAST } from "effect"
import { CurrentCatalogue, perCatalogue } from "../../application/CurrentCatalogue.js"
import { previewReport } from "../../application/PreviewReport.js"
import { ExportApi, ReportPreview } from "./Api.js"
import { invalidRequest, previewTimedOut, reportUnavailable } from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"
import { previewView } from "./Views.js"

const isNumeric = (ast: SchemaAST.AST): boolean =>
  ast._tag === "NumberKeyword" || ast._tag === "Union" && ast.types.some(isNumeric)

/** Per report, the parameters it takes as numbers (top-products' `limit`): a query string holds only text. */
const numericParamsOf = perCatalogue((catalogue) =>
  new Map(catalogue.definitions.map((definition) => [
    definition.reportType as string,
    new Set(
      SchemaAST.getPropertySignatures(SchemaAST.encodedAST(definition.params.ast))
        .filter((property) => isNumeric(property.type))
        .map((property) => String(property.name))
    )
  ]))
)

const NUMBER = /^-?\d+(\.\d+)?$/

/**
 * The query as the body of an export request would hold it: every parameter as sent (a repeated one as a list, which
 * the rules refuse, an unknown one too), those the report takes as numbers read as numbers when they are written as
 * one; anything else is left as text for the rules to name.
 */
const paramsOf = (query: URLSearchParams, numeric: ReadonlySet<string>): Record<string, unknown> => {
  const params: Record<string, unknown> = {}
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name)
    const value = values.length === 1 ? values[0]! : values
    params[name] = typeof value === "string" && numeric.has(name) && NUMBER.test(value) ? Number(value) : value
  }
  return params
}

/** Field paths as the client wrote them: "params.dateTo" is the query's "dateTo". */
const queryField = (field: string): string => field.replace(/^params\.?/, "")

const encodePreview = Schema.encode(ReportPreview)

export const layer = HttpApiBuilder.group(
  ExportApi,
  "reports",
  (handlers) =>
    handlers.handleRaw("previewReport", ({ path, request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const numeric = numericParamsOf(yield* CurrentCatalogue).get(path.reportType) ?? new Set()
        const params = paramsOf(new URL(request.url, "http://localhost").searchParams, numeric)
        const preview = yield* previewReport(caller, { reportType: path.reportType, params }).pipe(
          Effect.tapErrorTag(
            "QueryFailed",
            (error) => Effect.logWarning("preview query failed", { reportType: path.reportType, detail: error.detail })
          ),
          Effect.catchTags({
            ValidationError: (error) => invalidRequest(error, queryField),
            QueryTimeout: previewTimedOut,
            QueryFailed: reportUnavailable
          })
        )
        const body = yield* Effect.orDie(encodePreview(previewView(preview)))
        // A merchant's data, read for this caller: kept by no cache.
        return HttpServerResponse.unsafeJson(body, { headers: { "cache-control": "private, no-store" } })
      }))
)
