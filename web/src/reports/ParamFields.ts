// A report's parameters as form fields, read from the report's own schema in the catalogue (src/domain/Reports.ts):
// which fields, which are required, the choices of a literal, the bounds of a whole number, the longest range.
// Adding a report or a parameter there adds it here; validation runs the same schema (`decodeInput`) as the server.
import { Option, Schema, SchemaAST } from "effect"
import { CalendarDate, maxRangeDaysOf, TimeZone } from "../../../src/domain/Reports.ts"
import type { ReportDefinition } from "../../../src/domain/Reports.ts"

export type ParamField =
  | { readonly kind: "date"; readonly name: string; readonly required: boolean }
  | { readonly kind: "time-zone"; readonly name: string; readonly required: boolean }
  | {
    readonly kind: "choice"
    readonly name: string
    readonly required: boolean
    readonly options: ReadonlyArray<string>
  }
  | {
    readonly kind: "whole-number"
    readonly name: string
    readonly required: boolean
    readonly min: number | undefined
    readonly max: number | undefined
  }
  | { readonly kind: "text"; readonly name: string; readonly required: boolean }

const identifierOf = (ast: SchemaAST.AST): string | undefined =>
  Option.getOrUndefined(SchemaAST.getIdentifierAnnotation(ast))

const DATE = identifierOf(CalendarDate.ast)
const TIME_ZONE = identifierOf(TimeZone.ast)

const defined = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  ast._tag === "Union" ? ast.types.flatMap(defined) : ast._tag === "UndefinedKeyword" ? [] : [ast]

/** The refinements over a value, outermost first, and what they refine. */
const refinements = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  ast._tag === "Refinement" ? [ast, ...refinements(ast.from)] : [ast]

interface JsonSchemaBounds {
  readonly type?: string
  readonly minimum?: number
  readonly maximum?: number
}

const fieldOf = (property: SchemaAST.PropertySignature): ParamField => {
  const name = String(property.name)
  const required = !property.isOptional
  const members = defined(property.type)
  if (members.length > 0 && members.every((member) => member._tag === "Literal")) {
    return {
      kind: "choice",
      name,
      required,
      options: members.map((member) => String(member.literal))
    }
  }
  const chain = members.length === 1 ? refinements(members[0]!) : []
  const identifiers = chain.map(identifierOf)
  if (identifiers.includes(DATE)) return { kind: "date", name, required }
  if (identifiers.includes(TIME_ZONE)) return { kind: "time-zone", name, required }
  // The innermost refinement first, so that an outer one's bounds (between(1, 1000)) win over Int's.
  const bounds = chain.reduceRight<JsonSchemaBounds>(
    (merged, ast) => ({ ...merged, ...Option.getOrElse(SchemaAST.getJSONSchemaAnnotation(ast), () => ({})) }),
    {}
  )
  if (bounds.type === "integer") {
    return { kind: "whole-number", name, required, min: bounds.minimum, max: bounds.maximum }
  }
  return { kind: "text", name, required }
}

/** The fields of a report's parameters, in the schema's order. */
export const paramFieldsOf = (report: ReportDefinition): ReadonlyArray<ParamField> =>
  SchemaAST.getPropertySignatures(Schema.encodedBoundSchema(report.params).ast).map(fieldOf)

/** The most days the report's range may span. */
export const maxRangeDays = (report: ReportDefinition): number | undefined => maxRangeDaysOf(report.params)

/** The values the report takes when a parameter is left out (`granularity`: "day"), as text for the form. */
export const defaultsOf = (
  report: ReportDefinition,
  sample: Readonly<Record<string, string>>
): Readonly<Record<string, string>> => {
  const decoded = Schema.decodeUnknownOption(report.params)(sample)
  if (Option.isNone(decoded)) return {}
  const encoded = Schema.encodeUnknownOption(report.params)(decoded.value)
  return Option.match(encoded, {
    onNone: () => ({}),
    onSome: (values) =>
      Object.fromEntries(Object.entries(values as Record<string, unknown>).map(([key, value]) => [key, String(value)]))
  })
}
