// The JobStore and InAppNotifier contracts against the DynamoDB adapters, each test on a fresh dynalite.
import { Layer } from "effect"
import { InAppNotifierDynamoDb } from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import { JobStoreDynamoDb } from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { inAppNotifierContract } from "../../contracts/InAppNotifierContract.js"
import { jobStoreContract } from "../../contracts/JobStoreContract.js"
import { DynamoDbOnDynalite } from "../../support/servers/DynaliteServer.js"

jobStoreContract("dynamodb (dynalite)", () => JobStoreDynamoDb.pipe(Layer.provide(DynamoDbOnDynalite)))

inAppNotifierContract("dynamodb (dynalite)", () => InAppNotifierDynamoDb.pipe(Layer.provide(DynamoDbOnDynalite)))
