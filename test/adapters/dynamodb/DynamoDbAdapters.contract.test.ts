// The JobStore and InAppNotifier contracts against the DynamoDB adapters, each test on a fresh dynalite.
import { Layer } from "effect"
import * as DynamoDbInAppNotifier from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { inAppNotifierContract } from "../../contracts/InAppNotifierContract.js"
import { jobStoreContract } from "../../contracts/JobStoreContract.js"
import { DynamoDbOnDynalite } from "../../support/servers/DynaliteServer.js"

jobStoreContract("dynamodb (dynalite)", () => DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDbOnDynalite)))

inAppNotifierContract("dynamodb (dynalite)", () => DynamoDbInAppNotifier.layer.pipe(Layer.provide(DynamoDbOnDynalite)))
