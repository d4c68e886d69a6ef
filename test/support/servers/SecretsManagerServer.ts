// The one Secrets Manager call the Lambda functions make (GetSecretValue, AWS JSON 1.1), answered on 127.0.0.1 and a
// free port for as long as a scope lives, for one secret. No emulator on npm serves it; this is the whole protocol
// the functions use. Any other call, or another secret, gets Secrets Manager's own error shape.
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface SecretsManagerServerService {
  /** What AWS_ENDPOINT_URL_SECRETS_MANAGER should be. */
  readonly endpoint: URL
  /** The ARN the secret answers to (SECRETS_ARN). */
  readonly secretArn: string
  /** The secret ids asked for, oldest first. */
  readonly asked: Effect.Effect<ReadonlyArray<string>>
}

export class SecretsManagerServer extends Context.Tag("test/SecretsManagerServer")<
  SecretsManagerServer,
  SecretsManagerServerService
>() {
  /** The server holding one secret whose value is `secret` as JSON. */
  static readonly layer = (secret: Readonly<Record<string, string>>): Layer.Layer<SecretsManagerServer> =>
    Layer.scoped(SecretsManagerServer, make(secret))
}

const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:exports-credentials-AbCdEf"

const bodyOf = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

const answer = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/x-amz-json-1.1" })
  response.end(JSON.stringify(body))
}

const make = (secret: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const asked: Array<string> = []
    const server = createServer((request, response) => {
      void bodyOf(request).then((text) => {
        if (request.headers["x-amz-target"] !== "secretsmanager.GetSecretValue") {
          return answer(response, 400, { __type: "UnknownOperationException", message: "not served here" })
        }
        const { SecretId } = JSON.parse(text) as { readonly SecretId?: string }
        asked.push(SecretId ?? "")
        if (SecretId !== SECRET_ARN) {
          return answer(response, 400, {
            __type: "ResourceNotFoundException",
            message: "Secrets Manager can't find the specified secret."
          })
        }
        answer(response, 200, {
          ARN: SECRET_ARN,
          Name: "exports-credentials",
          VersionId: "00000000-0000-0000-0000-000000000001",
          SecretString: JSON.stringify(secret),
          VersionStages: ["AWSCURRENT"],
          CreatedDate: 1_767_225_600
        })
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port } = server.address() as AddressInfo
    return {
      endpoint: new URL(`http://127.0.0.1:${port}`),
      secretArn: SECRET_ARN,
      asked: Effect.sync(() => [...asked])
    } satisfies SecretsManagerServerService
  })
