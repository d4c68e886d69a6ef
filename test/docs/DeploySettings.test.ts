// docs/deploy.md's "Every setting" table against the code: every name `src/` reads from its environment (through
// `Config`, or the environment itself) has a row, and no row names a setting the code does not read. Names are found
// in the sources' syntax trees, so a new setting cannot be added without its row.
import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..")

const sourceFiles = (directory: string): ReadonlyArray<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith(".ts") ? [path] : []
  })

/** Config's constructors whose first argument is a setting's name. */
const NAMED = new Set([
  "string",
  "nonEmptyString",
  "number",
  "integer",
  "boolean",
  "date",
  "duration",
  "url",
  "port",
  "redacted",
  "secret",
  "logLevel"
])

const isConfigCall = (node: ts.CallExpression, names: ReadonlySet<string>) =>
  ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.expression) &&
  node.expression.expression.text === "Config" && names.has(node.expression.name.text)

/**
 * The setting names the sources read. A name is a string literal, a constant holding one, or the parameter of a
 * helper (`regionConfig(name)`) whose calls pass literals; anything else is reported as unreadable.
 */
const settingsReadBySources = () => {
  const names = new Set<string>()
  const unreadable: Array<string> = []
  const helpers = new Set<string>()
  const files = sourceFiles(join(ROOT, "src")).map((path) =>
    ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true)
  )
  const constants = new Map<string, string>()
  const visitAll = (visit: (node: ts.Node, file: ts.SourceFile) => void) => {
    for (const file of files) {
      const walk = (node: ts.Node) => {
        visit(node, file)
        ts.forEachChild(node, walk)
      }
      walk(file)
    }
  }
  visitAll((node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer !== undefined) {
      if (ts.isStringLiteral(node.initializer)) constants.set(node.name.text, node.initializer.text)
    }
  })
  const nameOf = (argument: ts.Expression | undefined, file: ts.SourceFile): string | undefined => {
    if (argument === undefined) return undefined
    if (ts.isStringLiteral(argument)) return argument.text
    if (ts.isIdentifier(argument)) {
      const constant = constants.get(argument.text)
      if (constant !== undefined) return constant
      // A helper's parameter: its callers name the settings.
      let scope: ts.Node | undefined = argument.parent
      while (scope !== undefined && !ts.isArrowFunction(scope) && !ts.isFunctionDeclaration(scope)) {
        scope = scope.parent
      }
      const declaration = scope?.parent
      if (scope !== undefined && declaration !== undefined && ts.isVariableDeclaration(declaration)) {
        if (ts.isIdentifier(declaration.name)) {
          helpers.add(declaration.name.text)
          return ""
        }
      }
      if (scope !== undefined && ts.isFunctionDeclaration(scope) && scope.name !== undefined) {
        helpers.add(scope.name.text)
        return ""
      }
    }
    unreadable.push(`${file.fileName}: ${argument.getText(file)}`)
    return undefined
  }
  const add = (name: string | undefined) => {
    if (name !== undefined && name !== "") names.add(name)
  }
  visitAll((node, file) => {
    if (ts.isCallExpression(node)) {
      if (isConfigCall(node, NAMED)) add(nameOf(node.arguments[0], file))
      // Config.literal("a", "b")("NAME")
      if (ts.isCallExpression(node.expression) && isConfigCall(node.expression, new Set(["literal"]))) {
        add(nameOf(node.arguments[0], file))
      }
      if (isConfigCall(node, new Set(["nested"]))) unreadable.push(`${file.fileName}: Config.nested prefixes names`)
    }
    // env["NAME"] and process.env.NAME
    if (ts.isElementAccessExpression(node) && /\benv$/.test(node.expression.getText(file))) {
      add(nameOf(node.argumentExpression, file))
    }
    if (ts.isPropertyAccessExpression(node) && node.expression.getText(file) === "process.env") add(node.name.text)
  })
  visitAll((node, file) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && helpers.has(node.expression.text)) {
      add(nameOf(node.arguments[0], file))
    }
  })
  return { names, unreadable }
}

/** The names in the first column of deploy.md's "Every setting" table. */
const settingsInDeployGuide = () => {
  const guide = readFileSync(join(ROOT, "docs", "deploy.md"), "utf8")
  const section = guide.split(/^## /m).find((part) => part.startsWith("6. Every setting"))
  expect(section, "deploy.md has a section \"6. Every setting\"").toBeDefined()
  const names = new Set<string>()
  for (const line of section!.split("\n")) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1] ?? ""
    for (const match of firstCell.matchAll(/`(_?[A-Z][A-Z0-9_]*)`/g)) names.add(match[1]!)
  }
  return names
}

describe("docs/deploy.md's table of settings", () => {
  const code = settingsReadBySources()
  const guide = settingsInDeployGuide()

  it("finds every setting the sources read by its literal name", () => {
    expect(code.unreadable).toStrictEqual([])
    // The scan itself: settings read in each of its ways.
    expect([...code.names]).toEqual(
      expect.arrayContaining(["S3_BUCKET", "REPORT_SOURCE", "SQS_WAIT_SECONDS", "DYNAMODB_REGION", "SECRETS_ARN"])
    )
  })

  it("has a row for every setting the code reads", () => {
    expect([...code.names].filter((name) => !guide.has(name)).sort()).toStrictEqual([])
  })

  it("names no setting the code does not read", () => {
    expect([...guide].filter((name) => !code.names.has(name)).sort()).toStrictEqual([])
  })
})
