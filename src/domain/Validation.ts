// Turns a Schema parse failure into a ValidationError that names each failing field and the rule it broke,
// so a client can fix its request without reading our source.
import { Array as Arr, Either, Option, ParseResult, Schema, SchemaAST } from "effect"
import { FieldIssue, ValidationError } from "./Errors.js"

const fieldOf = (path: ReadonlyArray<PropertyKey>): string => path.map(String).join(".")

/**
 * The rule a client is told a value broke, and the message, for a refinement whose identifier cannot name it: an
 * identifier also names a definition in the JSON Schema (and the OpenAPI document). Applies to the refinement it
 * annotates and to the refinements under it (`Schema.Int.pipe(Schema.between(1, 10))` is one rule to a client), not
 * to a value of the wrong type.
 */
export const RuleAnnotationId: unique symbol = Symbol.for("async-data-export/Validation/Rule")

export interface RuleAnnotation {
  readonly rule: string
  readonly message: string
}

const ruleAnnotationOf = (ast: SchemaAST.AST): RuleAnnotation | undefined =>
  Option.getOrUndefined(SchemaAST.getAnnotation<RuleAnnotation>(RuleAnnotationId)(ast))

/** A predicate failed, this refinement's or one it refines; not a value of another type. */
const isBrokenRule = (issue: ParseResult.Refinement): boolean =>
  issue.kind === "Predicate" || issue.issue._tag === "Refinement" && isBrokenRule(issue.issue)

const literalsOf = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.LiteralValue> | undefined => {
  if (ast._tag === "Literal") return [ast.literal]
  if (ast._tag !== "Union") return undefined
  const literals: Array<SchemaAST.LiteralValue> = []
  for (const member of ast.types) {
    if (member._tag === "UndefinedKeyword") continue
    const inner = literalsOf(member)
    if (inner === undefined) return undefined
    literals.push(...inner)
  }
  return literals
}

const isObjectLike = (ast: SchemaAST.AST): boolean =>
  ast._tag === "TypeLiteral" || ast._tag === "Transformation" && isObjectLike(ast.to) ||
  ast._tag === "Union" && ast.types.every(isObjectLike) || ast._tag === "Refinement" && isObjectLike(ast.from)

/** A rule code and a short message for a value of the wrong type or shape. */
const typeIssue = (ast: SchemaAST.AST): { rule: string; message: string } | undefined => {
  const literals = literalsOf(ast)
  if (literals !== undefined) {
    return { rule: "one-of", message: `must be one of ${literals.map((l) => JSON.stringify(l)).join(", ")}` }
  }
  if (isObjectLike(ast)) return { rule: "object", message: "must be an object" }
  switch (ast._tag) {
    case "StringKeyword":
      return { rule: "string", message: "must be a string" }
    case "NumberKeyword":
      return { rule: "number", message: "must be a number" }
    case "BooleanKeyword":
      return { rule: "boolean", message: "must be true or false" }
    case "TupleType":
      return { rule: "array", message: "must be an array" }
    case "Union": {
      const defined = ast.types.filter((member) => member._tag !== "UndefinedKeyword")
      return defined.length === 1 ? typeIssue(defined[0]!) : undefined
    }
    default:
      return undefined
  }
}

const formatted = (issue: ParseResult.ParseIssue): ReadonlyArray<ParseResult.ArrayFormatterIssue> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue)

const collect = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey>,
  out: Array<FieldIssue>
): void => {
  switch (issue._tag) {
    case "Pointer":
      return collect(issue.issue, [...path, ...Arr.ensure(issue.path)], out)
    case "Composite": {
      // An optional field is a union with `undefined`; a wrong value fails both members, and only the defined
      // member's complaint helps the client. A union of literals is one rule: "one of these".
      if (issue.ast._tag === "Union") {
        const literals = literalsOf(issue.ast)
        const objectExpected = isObjectLike(issue.ast) &&
          (typeof issue.actual !== "object" || issue.actual === null || Array.isArray(issue.actual))
        if (literals !== undefined || objectExpected) {
          out.push(new FieldIssue({ field: fieldOf(path), ...typeIssue(issue.ast)! }))
          return
        }
      }
      for (const inner of Arr.ensure(issue.issues)) {
        if (!(inner._tag === "Type" && inner.ast._tag === "UndefinedKeyword")) collect(inner, path, out)
      }
      return
    }
    case "Refinement": {
      const annotated = ruleAnnotationOf(issue.ast)
      if (annotated !== undefined && isBrokenRule(issue)) {
        out.push(new FieldIssue({ field: fieldOf(path), rule: annotated.rule, message: annotated.message }))
        return
      }
      if (issue.kind === "Predicate") {
        const rule = Option.getOrElse(SchemaAST.getIdentifierAnnotation(issue.ast), () => "constraint")
        for (const entry of formatted(issue)) {
          out.push(new FieldIssue({ field: fieldOf([...path, ...entry.path]), rule, message: entry.message }))
        }
        return
      }
      return collect(issue.issue, path, out)
    }
    case "Transformation":
      return collect(issue.issue, path, out)
    case "Missing":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "required", message: "is required" }))
      return
    case "Unexpected":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "unknown-field", message: "is not an allowed field" }))
      return
    case "Forbidden":
      out.push(new FieldIssue({ field: fieldOf(path), rule: "forbidden", message: "cannot be checked" }))
      return
    case "Type": {
      const known = typeIssue(issue.ast)
      out.push(
        new FieldIssue({
          field: fieldOf(path),
          rule: known?.rule ?? "type",
          message: known?.message ?? formatted(issue)[0]?.message ?? "is invalid"
        })
      )
      return
    }
  }
}

export const validationErrorFromParseError = (error: ParseResult.ParseError): ValidationError => {
  const issues: Array<FieldIssue> = []
  collect(error.issue, [], issues)
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
