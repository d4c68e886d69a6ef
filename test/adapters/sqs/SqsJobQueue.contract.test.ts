// The JobQueue contract against the SQS adapter, each test on a fresh fauxqs on loopback.
import { DeleteMessageCommand } from "@aws-sdk/client-sqs"
import { Effect, Layer } from "effect"
import * as SqsClient from "../../../src/adapters/sqs/SqsClient.js"
import * as SqsJobQueue from "../../../src/adapters/sqs/SqsJobQueue.js"
import { jobQueueContract } from "../../contracts/JobQueueContract.js"
import { FauxqsServer, FauxqsServerLive } from "../../support/servers/FauxqsServer.js"

const settings = Layer.unwrapEffect(Effect.map(FauxqsServer, (server) => SqsClient.layerSettings(server.settings)))

jobQueueContract(
  "sqs (fauxqs)",
  () =>
    SqsJobQueue.layer.pipe(
      Layer.provideMerge(SqsClient.layer),
      Layer.provideMerge(settings),
      Layer.provideMerge(FauxqsServerLive)
    ),
  Effect.flatMap(FauxqsServer, (server) =>
    Effect.gen(function*() {
      const bodies: Array<string> = []
      for (let round = 0; round < 5; round++) {
        const messages = yield* server.peek(server.queueUrl, 30)
        if (messages.length === 0 && bodies.length > 0) break
        for (const message of messages) {
          bodies.push(message.Body ?? "")
          yield* Effect.promise(() =>
            server.client.send(
              new DeleteMessageCommand({ QueueUrl: server.queueUrl, ReceiptHandle: message.ReceiptHandle })
            )
          )
        }
      }
      return bodies
    }))
)
