// Turns a Schema parse failure into a ValidationError that names each failing field and the rule it broke,
// so a client can fix its request without reading our source.
import { Array as Arr, Either, Option, ParseResult, Schema, SchemaAST } from "effect"
import { FieldIssue, ValidationError } from "./Errors.js"

const fieldOf = (path: ReadonlyArray<PropertyKey>): string => path.map(String).join(".")

const typeRule = (ast: SchemaAST.AST): string => {
  const identifier = SchemaAST.getIdentifierAnnotation(ast)
  if (Option.isSome(identifier)) return identifier.value
  switch (ast._tag) {
    case "StringKeyword":
      return "string"
    case "NumberKeyword":
      return "number"
    case "BooleanKeyword":
      return "boolean"
    case "Literal":
    case "Union":
      return "one-of"
    case "TypeLiteral":
      return "object"
    case "TupleType":
      return "array"
    default:
      return "type"
  }
}

const formatted = (issue: ParseResult.ParseIssue): string =>
  ParseResult.ArrayFormatter.formatIssueSync(issue)[0]?.message ?? "is invalid"

const collect = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey>,
  rule: string | undefined,
  out: Array<FieldIssue>
): void => {
  switch (issue._tag) {
    case "Pointer":
      return collect(issue.issue, [...path, ...Arr.ensure(issue.path)], rule, out)
    case "Composite":
      for (const inner of Arr.ensure(issue.issues)) collect(inner, path, rule, out)
      return
    case "Refinement":
      if (issue.kind === "Predicate") {
        const identifier = SchemaAST.getIdentifierAnnotation(issue.ast)
        out.push(
          new FieldIssue({
            field: fieldOf(path),
            rule: Option.getOrElse(identifier, () => rule ?? "constraint"),
            message: formatted(issue)
          })
        )
        return
      }
      return collect(issue.issue, path, rule, out)
    case "Transformation":
      return collect(issue.issue, path, rule, out)
    case "Missing":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "required", message: "is required" }))
      return
    case "Unexpected":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "unknown-field", message: "is not an allowed field" }))
      return
    case "Forbidden":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "forbidden", message: formatted(issue) }))
      return
    case "Type":
      out.push(new FieldIssue({ field: fieldOf(path), rule: rule ?? typeRule(issue.ast), message: formatted(issue) }))
      return
  }
}

export const validationErrorFromParseError = (error: ParseResult.ParseError): ValidationError => {
  const issues: Array<FieldIssue> = []
  collect(error.issue, [], undefined, issues)
  return new ValidationError({
    issues: Arr.isNonEmptyArray(issues)
      ? issues
      : [new FieldIssue({ field: "", rule: "invalid", message: error.message })]
  })
}

/** Decodes untrusted input strictly: every error at once, unknown fields rejected. */
export const decodeInput = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown): Either.Either<A, ValidationError> =>
    Either.mapLeft(decode(input), validationErrorFromParseError)
}
