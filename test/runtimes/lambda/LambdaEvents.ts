// Real-shaped Lambda events, typed by @types/aws-lambda, as API Gateway (HTTP API, payload 2.0) and the SQS event
// source mapping send them.
import type { APIGatewayProxyEventV2WithJWTAuthorizer, SQSEvent, SQSRecord } from "aws-lambda"

export interface HttpEventOptions {
  readonly method?: string
  /** The path as the client asked for it, base path or stage included. */
  readonly rawPath: string
  readonly rawQueryString?: string
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly isBase64Encoded?: boolean
  readonly stage?: string
  /** The HTTP API's id: `abc123`, the start of the default domain name, unless told otherwise. */
  readonly apiId?: string
  readonly domainName?: string
  readonly cookies?: Array<string>
  /** The claims of a JWT authorizer in front of the route, when it has one. */
  readonly claims?: Record<string, string | number | boolean | Array<string>>
}

export const httpEvent = (options: HttpEventOptions): APIGatewayProxyEventV2WithJWTAuthorizer => {
  const method = options.method ?? "GET"
  const domainName = options.domainName ?? "abc123.execute-api.eu-west-1.amazonaws.com"
  const now = Date.now()
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: options.rawPath,
    rawQueryString: options.rawQueryString ?? "",
    ...(options.cookies === undefined ? {} : { cookies: options.cookies }),
    headers: {
      host: domainName,
      "user-agent": "curl/8.5.0",
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...options.headers
    },
    requestContext: {
      accountId: "123456789012",
      apiId: options.apiId ?? "abc123",
      authorizer: {
        principalId: "",
        integrationLatency: 0,
        jwt: { claims: options.claims ?? {}, scopes: [] }
      },
      domainName,
      domainPrefix: domainName.split(".")[0]!,
      http: {
        method,
        path: options.rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: "curl/8.5.0"
      },
      requestId: `req-${now}`,
      routeKey: "$default",
      stage: options.stage ?? "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.isBase64Encoded ?? false
  }
}

export const sqsRecord = (messageId: string, body: string, receiveCount = 1): SQSRecord => ({
  messageId,
  receiptHandle: `receipt-${messageId}`,
  body,
  attributes: {
    ApproximateReceiveCount: String(receiveCount),
    SentTimestamp: String(Date.now()),
    SenderId: "AIDAEXAMPLE",
    ApproximateFirstReceiveTimestamp: String(Date.now())
  },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:exports",
  awsRegion: "eu-west-1"
})

export const sqsEvent = (records: ReadonlyArray<SQSRecord>): SQSEvent => ({ Records: [...records] })
