// The stack synthesised offline, and its resources checked against what the service relies on.
import { afterAll, describe, expect, it } from "@effect/vitest"
import { App } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import { Code } from "aws-cdk-lib/aws-lambda"
import { Duration } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { DEFAULT_STAGE, EXPORTS_PREFIX, ExportsStack, MAX_RECEIVE_COUNT } from "../../infra/ExportsStack.js"
import type { ExportsStackProps } from "../../infra/ExportsStack.js"
import { NODE_MAJOR } from "../../scripts/NodeTarget.js"
import {
  ACTIVE_JOBS_BY_OWNER_INDEX,
  ACTIVE_JOBS_INDEX,
  JOBS_BY_OWNER_INDEX,
  NOTIFICATIONS_BY_OWNER_INDEX,
  TTL_ATTRIBUTE
} from "../../src/adapters/dynamodb/DynamoDbTables.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { MAX_LINK_TTL } from "../../src/application/ports/FileStore.js"
import { DEFAULT_FILE_RETENTION, retentionDays } from "../../src/application/Retention.js"
import { objectKeyFor } from "../../src/domain/ExportJob.js"
import { makeExportJobId, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { lambdaProcessEnvironment } from "../../src/runtimes/lambda/LambdaProcessSettings.js"
import { SWEEP_EVENT, SWEEP_SCHEDULE } from "../../src/runtimes/lambda/SweepEvent.js"
import { WORKER_ENVIRONMENT, WORKER_NODE_OPTIONS } from "../../src/runtimes/WorkerProcessSettings.js"

const synthesise = (
  storage: Pick<ExportsStackProps, "storageEndpoint" | "bucket"> = R2,
  functions: Pick<ExportsStackProps, "functionRuntime" | "apiCode" | "workerCode"> = {
    apiCode: Code.fromInline("export const handler = async () => ({})"),
    workerCode: Code.fromInline("export const handler = async () => ({})")
  }
) => {
  const app = new App()
  const stack = new ExportsStack(app, "Exports", {
    ...functions,
    jwtIssuer: "https://id.example.test/",
    jwtAudience: ["exports-api"],
    ...storage,
    clickhouseUrl: "https://clickhouse.example.test:8443",
    sesIdentity: "example.test",
    emailFrom: "Exports <exports@example.test>",
    appBaseUrl: "https://app.example.test",
    env: { account: "123456789012", region: "eu-west-1" }
  })
  return Template.fromStack(stack)
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..")

const R2 = { storageEndpoint: "https://account.r2.cloudflarestorage.com", bucket: "exports" }

const template = synthesise()

type Resource = { Properties: Record<string, unknown> }
const resourcesOf = (type: string) => Object.values(template.findResources(type)) as Array<Resource>

/** The logical id of the function whose handler environment has `name` set to `value`. */
const functionWith = (name: string, value: string): [string, Resource] => {
  const found = Object.entries(template.findResources("AWS::Lambda::Function")).find(([, resource]) => {
    const variables = (resource as Resource).Properties["Environment"] as { Variables?: Record<string, unknown> }
    return variables.Variables?.[name] === value
  })
  if (found === undefined) throw new Error(`no function with ${name}=${value}`)
  return found as [string, Resource]
}

const variablesOf = (resource: Resource): Record<string, unknown> =>
  (resource.Properties["Environment"] as { Variables: Record<string, unknown> }).Variables

const nodeOptionsOf = (variables: Record<string, unknown>): Array<string> =>
  (typeof variables["NODE_OPTIONS"] === "string" ? variables["NODE_OPTIONS"] : "").split(" ").filter((option) =>
    option !== ""
  )

/** The logical id a `{ Ref }` value points at. */
const refOf = (value: unknown): string | undefined => (value as { Ref?: string } | undefined)?.Ref

/** Every IAM action granted to the role of a function. */
const actionsOf = (functionId: string): Array<string> => {
  const role = ((template.findResources("AWS::Lambda::Function")[functionId] as Resource).Properties["Role"] as {
    "Fn::GetAtt": [string, string]
  })["Fn::GetAtt"][0]
  return resourcesOf("AWS::IAM::Policy")
    .filter((policy) => (policy.Properties["Roles"] as Array<{ Ref: string }>).some((r) => r.Ref === role))
    .flatMap((policy) =>
      (policy.Properties["PolicyDocument"] as { Statement: Array<{ Action: string | Array<string> }> })
        .Statement.flatMap((statement) => statement.Action)
    )
}

/** The logical ids a template value refers to: `Ref`, `Fn::GetAtt` and the `${...}` of `Fn::Sub`, at any depth. */
const referencesIn = (value: unknown, into: Set<string> = new Set()): Set<string> => {
  if (Array.isArray(value)) {
    for (const item of value) referencesIn(item, into)
  } else if (typeof value === "object" && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "Ref" && typeof inner === "string") {
        into.add(inner)
      } else if (key === "Fn::GetAtt") {
        into.add(Array.isArray(inner) ? String(inner[0]) : String(inner).split(".")[0]!)
      } else if (key === "Fn::Sub") {
        const [text, variables] = Array.isArray(inner)
          ? [String(inner[0]), (inner[1] ?? {}) as Record<string, unknown>]
          : [String(inner), {}]
        // `${!Text}` is a literal; a name the Sub defines itself is no reference to the template.
        for (const [, name] of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const id = name!.split(".")[0]!
          if (!(id in variables)) into.add(id)
        }
        referencesIn(variables, into)
      } else {
        referencesIn(inner, into)
      }
    }
  }
  return into
}

type TemplateResource = { Type: string; Properties?: unknown; DependsOn?: string | Array<string> }

/** Each resource's logical id -> the resources it needs first: what it refers to, and its DependsOn. */
const dependencyGraph = (): Map<string, Set<string>> => {
  const resources = (template.toJSON() as { Resources: Record<string, TemplateResource> }).Resources
  const graph = new Map<string, Set<string>>()
  for (const [id, resource] of Object.entries(resources)) {
    const needs = referencesIn(resource.Properties)
    for (const dependency of [resource.DependsOn ?? []].flat()) needs.add(dependency)
    // Parameters and pseudo parameters (AWS::Region, ...) are no resources.
    graph.set(id, new Set([...needs].filter((need) => need in resources)))
  }
  return graph
}

/**
 * Kahn's algorithm: the resources in an order CloudFormation could create them, and those it never could: on a
 * cycle, or waiting on one. (`Template.fromStack` refuses a cyclic template as well; this says which edge matters.)
 */
const topologicalOrder = (graph: Map<string, Set<string>>) => {
  const waitingOn = new Map([...graph].map(([id, needs]) => [id, needs.size]))
  const neededBy = new Map<string, Array<string>>()
  for (const [id, needs] of graph) for (const need of needs) neededBy.set(need, [...(neededBy.get(need) ?? []), id])
  const ready = [...waitingOn].filter(([, count]) => count === 0).map(([id]) => id)
  const order: Array<string> = []
  while (ready.length > 0) {
    const id = ready.pop()!
    order.push(id)
    for (const dependent of neededBy.get(id) ?? []) {
      const left = waitingOn.get(dependent)! - 1
      waitingOn.set(dependent, left)
      if (left === 0) ready.push(dependent)
    }
  }
  return { order, blocked: [...graph.keys()].filter((id) => !order.includes(id)) }
}

/** Whether `from` needs `to`, directly or through others. */
const needsTransitively = (graph: Map<string, Set<string>>, from: string, to: string): boolean => {
  const seen = new Set<string>()
  const visit = (id: string): boolean =>
    [...(graph.get(id) ?? [])].some((need) => {
      if (need === to) return true
      if (seen.has(need)) return false
      seen.add(need)
      return visit(need)
    })
  return visit(from)
}

describe("the AWS stack on the custom runtime (ADR 52)", () => {
  // A custom runtime's code cannot be inline: a directory holding a bootstrap stands for dist/lambda/*-snapshot.
  const directory = mkdtempSync(join(tmpdir(), "snapshot-code-"))
  writeFileSync(join(directory, "bootstrap"), "#!/bin/sh\n", { mode: 0o755 })
  afterAll(() => rmSync(directory, { recursive: true, force: true }))
  const onSnapshot = (architecture: "x64" | "arm64") =>
    Object.values(
      synthesise(R2, {
        functionRuntime: { kind: "snapshot", architecture },
        apiCode: Code.fromAsset(directory),
        workerCode: Code.fromAsset(directory)
      }).findResources("AWS::Lambda::Function")
    ) as Array<Resource>
  const bootstrapped = (functions: Array<Resource>) => functions.filter((f) => f.Properties["Handler"] === "bootstrap")

  it("runs both functions on provided.al2023, on the architecture their blobs were built on", () => {
    for (const [architecture, name] of [["x64", "x86_64"], ["arm64", "arm64"]] as const) {
      const functions = bootstrapped(onSnapshot(architecture))
      expect(functions).toHaveLength(2)
      for (const f of functions) {
        expect(f.Properties["Runtime"]).toBe("provided.al2023")
        expect(f.Properties["Architectures"]).toEqual([name])
      }
    }
  })

  it("gives each function the same environment as on Lambda's Node runtime, its process settings included", () => {
    const functions = bootstrapped(onSnapshot("x64"))
    const variablesByTable = (f: Resource) => variablesOf(f)["REPORT_SOURCE"] === "clickhouse" ? "worker" : "api"
    for (const f of functions) {
      const name = variablesByTable(f)
      const [, stock] = name === "worker"
        ? functionWith("REPORT_SOURCE", "clickhouse")
        : functionWith("AUTH_TRUST_GATEWAY", "true")
      expect(Object.keys(variablesOf(f)).sort()).toEqual(Object.keys(variablesOf(stock)).sort())
      expect(variablesOf(f)).toMatchObject(lambdaProcessEnvironment(name))
      expect(f.Properties["Timeout"]).toBe(stock.Properties["Timeout"])
      expect(f.Properties["MemorySize"]).toBe(stock.Properties["MemorySize"])
    }
  })
})

describe("the AWS stack", () => {
  it("runs both functions on the Node major the project pins and tests on, the worker for 15 minutes", () => {
    const functions = resourcesOf("AWS::Lambda::Function").filter((f) => f.Properties["Handler"] === "index.handler")
    expect(functions).toHaveLength(2)
    for (const f of functions) expect(f.Properties["Runtime"]).toBe(`nodejs${NODE_MAJOR}.x`)
    const [, worker] = functionWith("REPORT_SOURCE", "clickhouse")
    expect(worker.Properties["Timeout"]).toBe(900)
  })

  it("starts the worker's Node process with the worker's memory settings, and only the worker's (ADR 19)", () => {
    const worker = variablesOf(functionWith("REPORT_SOURCE", "clickhouse")[1])
    const api = variablesOf(functionWith("AUTH_TRUST_GATEWAY", "true")[1])
    for (const [name, value] of Object.entries(WORKER_ENVIRONMENT)) expect(worker[name]).toBe(value)
    expect(nodeOptionsOf(worker)).toEqual(expect.arrayContaining([...WORKER_NODE_OPTIONS]))
    for (const name of Object.keys(WORKER_ENVIRONMENT)) expect(api[name]).toBeUndefined()
    for (const option of WORKER_NODE_OPTIONS) expect(nodeOptionsOf(api)).not.toContain(option)
  })

  it("starts each function's Node process with the settings bench:coldstart measures (ADR 47)", () => {
    const worker = variablesOf(functionWith("REPORT_SOURCE", "clickhouse")[1])
    const api = variablesOf(functionWith("AUTH_TRUST_GATEWAY", "true")[1])
    expect(worker).toMatchObject(lambdaProcessEnvironment("worker"))
    expect(api).toMatchObject(lambdaProcessEnvironment("api"))
    // Not the source maps' flag: it costs a third of a second of every cold start.
    for (const variables of [worker, api]) expect(nodeOptionsOf(variables)).not.toContain("--enable-source-maps")
  })

  it("hides a message for at least six times the worker's timeout, and dead-letters it after 3 receives", () => {
    const worker = functionWith("REPORT_SOURCE", "clickhouse")[1]
    const queues = resourcesOf("AWS::SQS::Queue")
    const main = queues.find((q) => q.Properties["RedrivePolicy"] !== undefined)!
    expect(main.Properties["VisibilityTimeout"]).toBeGreaterThanOrEqual(6 * (worker.Properties["Timeout"] as number))
    expect(main.Properties["RedrivePolicy"]).toMatchObject({ maxReceiveCount: MAX_RECEIVE_COUNT })
    expect(MAX_RECEIVE_COUNT).toBe(3)
    // The worker knows the message's last receive, which gives up a job it cannot finish before the DLQ takes it.
    expect(Number(variablesOf(worker)["QUEUE_MAX_RECEIVES"])).toBe(MAX_RECEIVE_COUNT)
    // The last receive finds the attempts used up and fails the job with a notice, before the DLQ takes the message.
    expect(Number(variablesOf(worker)["EXPORT_MAX_ATTEMPTS"])).toBeLessThan(MAX_RECEIVE_COUNT)
  })

  it("feeds the worker through an event source mapping that reports partial batch failures, with a concurrency cap", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: Match.anyValue() },
      BatchSize: Match.anyValue()
    })
  })

  it("sweeps overdue jobs on a schedule through the worker, with a deadline longer than a message can circulate", () => {
    const [workerId, worker] = functionWith("REPORT_SOURCE", "clickhouse")
    const rules = resourcesOf("AWS::Events::Rule")
    expect(rules).toHaveLength(1)
    const rule = rules[0]!.Properties
    expect(rule["ScheduleExpression"]).toBe(`rate(${Duration.toMinutes(SWEEP_SCHEDULE)} minutes)`)
    const targets = rule["Targets"] as Array<Record<string, unknown>>
    expect(targets).toHaveLength(1)
    expect(targets[0]!["Arn"]).toStrictEqual({ "Fn::GetAtt": [workerId, "Arn"] })
    expect(JSON.parse(targets[0]!["Input"] as string)).toStrictEqual(SWEEP_EVENT)

    // The worker sweeps with the default deadline, which must outlast every receive of a message (each followed by
    // a visibility timeout), and be over before the queue drops a message it still holds.
    expect(variablesOf(worker)["EXPORT_DEADLINE"]).toBeUndefined()
    const main = resourcesOf("AWS::SQS::Queue").find((q) => q.Properties["RedrivePolicy"] !== undefined)!
    const deadlineSeconds = Duration.toSeconds(ExportSettings.defaults.deadline)
    expect(deadlineSeconds).toBeGreaterThan(MAX_RECEIVE_COUNT * (main.Properties["VisibilityTimeout"] as number))
    expect(deadlineSeconds).toBeLessThan(main.Properties["MessageRetentionPeriod"] as number)
  })

  it("alarms as soon as a message is in the dead-letter queue", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Namespace: "AWS/SQS",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold"
    })
  })

  it("creates the tables the DynamoDB adapters read, with TTL and the owner indexes", () => {
    const tables = resourcesOf("AWS::DynamoDB::GlobalTable")
    expect(tables).toHaveLength(3)
    for (const table of tables) {
      expect(table.Properties["TimeToLiveSpecification"]).toStrictEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true })
    }
    const indexes = tables.map((t) =>
      (t.Properties["GlobalSecondaryIndexes"] as Array<{ IndexName: string }> | undefined ?? []).map((i) => i.IndexName)
        .sort()
    )
    expect(indexes).toContainEqual([ACTIVE_JOBS_BY_OWNER_INDEX, ACTIVE_JOBS_INDEX, JOBS_BY_OWNER_INDEX].sort())
    expect(indexes).toContainEqual([NOTIFICATIONS_BY_OWNER_INDEX])
    // The audit trail's: entries under their job, no index.
    expect(tables.map((t) => t.Properties["KeySchema"])).toContainEqual([
      { AttributeName: "jobId", KeyType: "HASH" },
      { AttributeName: "entryId", KeyType: "RANGE" }
    ])
  })

  it("keeps the audit trail append-only: the API may put and query it, nothing may update or delete it", () => {
    const [auditId] = Object.entries(template.findResources("AWS::DynamoDB::GlobalTable")).find(([, table]) =>
      ((table as Resource).Properties["KeySchema"] as Array<{ AttributeName: string }>).length === 2
    )!
    const grants = resourcesOf("AWS::IAM::Policy").flatMap((policy) =>
      (policy.Properties["PolicyDocument"] as {
        Statement: Array<{ Action: string | Array<string>; Resource: unknown }>
      })
        .Statement.filter((statement) => referencesIn(statement.Resource).has(auditId))
        .map((statement) => ({ roles: policy.Properties["Roles"], actions: [statement.Action].flat().sort() }))
    )
    const [apiId] = functionWith("AUTH_TRUST_GATEWAY", "true")
    const apiRole = ((template.findResources("AWS::Lambda::Function")[apiId] as Resource).Properties["Role"] as {
      "Fn::GetAtt": [string, string]
    })["Fn::GetAtt"][0]
    expect(grants).toStrictEqual([{ roles: [{ Ref: apiRole }], actions: ["dynamodb:PutItem", "dynamodb:Query"] }])
  })

  it("verifies tokens at the gateway with the configured issuer and audience, and leaves only probes public", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      JwtConfiguration: { Issuer: "https://id.example.test/", Audience: ["exports-api"] }
    })
    const routes = resourcesOf("AWS::ApiGatewayV2::Route")
    const publicRoutes = routes.filter((r) => r.Properties["AuthorizationType"] === "NONE")
      .map((r) => r.Properties["RouteKey"]).sort()
    expect(publicRoutes).toStrictEqual(["GET /health", "GET /openapi.json", "GET /ready"])
    for (const route of routes.filter((r) => r.Properties["AuthorizationType"] !== "NONE")) {
      expect(route.Properties["AuthorizationType"]).toBe("JWT")
    }
  })

  it("grants each function only what it does: the API publishes, the worker sends e-mail", () => {
    const [apiId, api] = functionWith("AUTH_TRUST_GATEWAY", "true")
    const [workerId] = functionWith("REPORT_SOURCE", "clickhouse")
    const apiActions = actionsOf(apiId)
    const workerActions = actionsOf(workerId)
    expect(apiActions).toContain("sqs:SendMessage")
    expect(apiActions.some((a) => a.startsWith("ses:"))).toBe(false)
    expect(workerActions).toContain("ses:SendEmail")
    expect(workerActions).not.toContain("sqs:SendMessage")
    expect(workerActions).toContain("sqs:DeleteMessage")
    for (const action of [...apiActions, ...workerActions]) expect(action).not.toMatch(/^\*$|:\*$/)
    expect(refOf(variablesOf(api)["SQS_QUEUE_URL"])).toMatch(/^Exports[0-9A-F]{8}$/)
  })

  it("keeps credentials in Secrets Manager: the functions get the secret's ARN, never its values", () => {
    template.resourceCountIs("AWS::SecretsManager::Secret", 1)
    for (
      const [, resource] of [functionWith("AUTH_TRUST_GATEWAY", "true"), functionWith("REPORT_SOURCE", "clickhouse")]
    ) {
      const variables = variablesOf(resource)
      expect(refOf(variables["SECRETS_ARN"])).toMatch(/^Credentials/)
      expect(Object.keys(variables).filter((name) => /PASSWORD|SECRET_ACCESS_KEY|ACCESS_KEY_ID/.test(name)))
        .toStrictEqual([])
    }
  })

  it("gives the API function the ClickHouse endpoint for previews, its credentials left to the secret (ADR 35)", () => {
    const api = variablesOf(functionWith("AUTH_TRUST_GATEWAY", "true")[1])
    const worker = variablesOf(functionWith("REPORT_SOURCE", "clickhouse")[1])
    expect(api["CLICKHOUSE_URL"]).toBe(worker["CLICKHOUSE_URL"])
    expect(Object.keys(api).filter((name) => name.startsWith("CLICKHOUSE_"))).toStrictEqual(["CLICKHOUSE_URL"])
  })

  it("sends e-mail through a configuration set", () => {
    template.resourceCountIs("AWS::SES::ConfigurationSet", 1)
    const worker = functionWith("REPORT_SOURCE", "clickhouse")[1]
    expect(refOf(variablesOf(worker)["SES_CONFIGURATION_SET"])).toMatch(/^ExportEmails/)
    expect(variablesOf(worker)["SES_FROM"]).toBe("Exports <exports@example.test>")
  })

  it("tells the API function which HTTP API and stage to believe claims from, without a dependency cycle (ADR 22)", () => {
    const [apiFunctionId, apiFunction] = functionWith("AUTH_TRUST_GATEWAY", "true")
    const [httpApiId] = Object.keys(template.findResources("AWS::ApiGatewayV2::Api"))
    expect(httpApiId).toBeDefined()
    const variables = variablesOf(apiFunction)
    expect(variables["AUTH_GATEWAY_API_ID"]).toStrictEqual({ Ref: httpApiId })
    expect(variables["AUTH_GATEWAY_STAGE"]).toBe(DEFAULT_STAGE)
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      ApiId: { Ref: httpApiId },
      StageName: DEFAULT_STAGE,
      AutoDeploy: true
    })

    const graph = dependencyGraph()
    expect(graph.get(apiFunctionId)).toContain(httpApiId)
    expect(needsTransitively(graph, httpApiId!, apiFunctionId)).toBe(false)
    const { blocked, order } = topologicalOrder(graph)
    expect(blocked).toStrictEqual([])
    expect(order).toHaveLength(graph.size)
    expect(order.indexOf(httpApiId!)).toBeLessThan(order.indexOf(apiFunctionId))
  })

  it("lets API Gateway invoke the API function only from this HTTP API", () => {
    const [apiFunctionId] = functionWith("AUTH_TRUST_GATEWAY", "true")
    const [httpApiId] = Object.keys(template.findResources("AWS::ApiGatewayV2::Api"))
    const permissions = resourcesOf("AWS::Lambda::Permission").filter((permission) =>
      referencesIn(permission.Properties["FunctionName"]).has(apiFunctionId)
    )
    expect(permissions.length).toBeGreaterThan(0)
    for (const permission of permissions) {
      expect(permission.Properties["Principal"]).toBe("apigateway.amazonaws.com")
      expect(permission.Properties["Action"]).toBe("lambda:InvokeFunction")
      expect(referencesIn(permission.Properties["SourceArn"])).toContain(httpApiId)
    }
  })

  it("finds a dependency cycle when there is one", () => {
    const cyclic = new Map<string, Set<string>>([
      ["A", new Set(["B"])],
      ["B", new Set(["C"])],
      ["C", new Set(["A"])],
      ["D", new Set()],
      ["E", new Set(["A", "D"])]
    ])
    expect(topologicalOrder(cyclic)).toStrictEqual({ order: ["D"], blocked: ["A", "B", "C", "E"] })
    expect(referencesIn({ "Fn::Sub": ["${Api}/${!Literal}/${Local}.${Fn.Arn}", { Local: { Ref: "Other" } }] }))
      .toStrictEqual(new Set(["Api", "Other", "Fn"]))
    expect(referencesIn({ "Fn::GetAtt": "Role.Arn", x: [{ Ref: "Queue" }] })).toStrictEqual(new Set(["Role", "Queue"]))
  })
})

describe("the AWS stack: what happens to exported files", () => {
  const s3 = synthesise({})
  const s3Resources = (type: string) => Object.values(s3.findResources(type)) as Array<Resource>
  const [bucketId] = Object.keys(s3.findResources("AWS::S3::Bucket"))

  /** The S3 function whose environment has `name` set to `value`, and the actions its role may take. */
  const s3Function = (name: string, value: string) => {
    const [id, resource] = Object.entries(s3.findResources("AWS::Lambda::Function")).find(([, f]) =>
      variablesOf(f as Resource)[name] === value
    )!
    const role = ((resource as Resource).Properties["Role"] as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0]
    const statements = s3Resources("AWS::IAM::Policy")
      .filter((policy) => (policy.Properties["Roles"] as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((policy) =>
        (policy.Properties["PolicyDocument"] as { Statement: Array<{ Action: string | Array<string> }> }).Statement
      )
    return { id, variables: variablesOf(resource as Resource), actions: statements.flatMap((s) => s.Action) }
  }

  /** A lifecycle rule as both S3's template and R2's JSON can say it. */
  interface Rule {
    readonly id: string
    readonly prefix: string
    readonly expirationDays?: number
    readonly abortIncompleteAfterDays?: number
  }

  const s3Rules = (): ReadonlyArray<Rule> =>
    (s3Resources("AWS::S3::Bucket")[0]!.Properties["LifecycleConfiguration"] as {
      Rules: Array<{
        Id: string
        Status: string
        Prefix?: string
        ExpirationInDays?: number
        AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number }
      }>
    }).Rules.map((rule) => {
      expect(rule.Status).toBe("Enabled")
      return {
        id: rule.Id,
        prefix: rule.Prefix ?? "",
        ...(rule.ExpirationInDays === undefined ? {} : { expirationDays: rule.ExpirationInDays }),
        ...(rule.AbortIncompleteMultipartUpload === undefined
          ? {}
          : { abortIncompleteAfterDays: rule.AbortIncompleteMultipartUpload.DaysAfterInitiation })
      }
    })

  it("with R2, makes no bucket: R2's rules are set from infra/r2-lifecycle.json", () => {
    template.resourceCountIs("AWS::S3::Bucket", 0)
    const worker = variablesOf(functionWith("REPORT_SOURCE", "clickhouse")[1])
    expect([worker["S3_BUCKET"], worker["S3_REGION"], worker["S3_ENDPOINT"]])
      .toStrictEqual(["exports", "auto", R2.storageEndpoint])
  })

  it("without an R2 endpoint, makes a private S3 bucket whose exports expire after the file retention", () => {
    s3.resourceCountIs("AWS::S3::Bucket", 1)
    s3.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true
      }
    })
    s3.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" })
    expect(s3Rules()).toStrictEqual([
      { id: "delete-expired-exports", prefix: EXPORTS_PREFIX, expirationDays: retentionDays(DEFAULT_FILE_RETENTION) },
      { id: "abort-incomplete-uploads", prefix: "", abortIncompleteAfterDays: 1 }
    ])
    // Every object key is under the prefix, and the expiry outlives the longest link a store may sign.
    const key = objectKeyFor({
      jobId: makeExportJobId(0, new Uint8Array(10)),
      owner: new Owner({
        userId: UserId.make("u"),
        merchantId: MerchantId.make("m")
      }),
      attempts: 1,
      format: "csv"
    })
    expect(key.startsWith(EXPORTS_PREFIX)).toBe(true)
    expect(retentionDays(DEFAULT_FILE_RETENTION)).toBeGreaterThan(Duration.toDays(MAX_LINK_TTL))
  })

  it("points both functions at that bucket in their own region, lets the worker write it and both sign links", () => {
    const api = s3Function("AUTH_TRUST_GATEWAY", "true")
    const worker = s3Function("REPORT_SOURCE", "clickhouse")
    for (const { variables } of [api, worker]) {
      expect(refOf(variables["S3_BUCKET"])).toBe(bucketId)
      expect(variables["S3_ENDPOINT"]).toBeUndefined()
      expect(variables["S3_REGION"]).toBeUndefined()
    }
    expect(worker.actions).toEqual(expect.arrayContaining(["s3:PutObject", "s3:Abort*", "s3:GetObject*"]))
    expect(api.actions).toContain("s3:GetObject*")
    expect(api.actions).not.toContain("s3:PutObject")
    for (const action of [...api.actions, ...worker.actions]) expect(action).not.toMatch(/^s3:Delete/)
  })

  it("infra/r2-lifecycle.json sets on R2 the rules the S3 bucket has", () => {
    const r2 = JSON.parse(readFileSync(join(ROOT, "infra", "r2-lifecycle.json"), "utf8")) as {
      Rules: Array<{
        ID: string
        Status: string
        Filter: { Prefix: string }
        Expiration?: { Days: number }
        AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number }
      }>
    }
    const rules = r2.Rules.map((rule): Rule => {
      expect(rule.Status).toBe("Enabled")
      return {
        id: rule.ID,
        prefix: rule.Filter.Prefix,
        ...(rule.Expiration === undefined ? {} : { expirationDays: rule.Expiration.Days }),
        ...(rule.AbortIncompleteMultipartUpload === undefined
          ? {}
          : { abortIncompleteAfterDays: rule.AbortIncompleteMultipartUpload.DaysAfterInitiation })
      }
    })
    expect(rules).toStrictEqual(s3Rules())
  })

  it("refuses an R2 endpoint without its bucket", () => {
    expect(() => synthesise({ storageEndpoint: R2.storageEndpoint })).toThrow(/bucket/)
  })
})
