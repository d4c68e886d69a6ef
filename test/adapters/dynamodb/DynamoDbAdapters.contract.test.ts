// The JobStore, InAppNotifier and AuditTrail contracts against the DynamoDB adapters, each test on a fresh dynalite. DynamoDB
// deletes by its TTL attribute, up to days late, and dynalite never does: the retention cases are skipped here, and
// DynamoDbJobStore.test.ts checks the attribute each item is written with instead.
import { Layer } from "effect"
import * as DynamoDbAuditTrail from "../../../src/adapters/dynamodb/DynamoDbAuditTrail.js"
import * as DynamoDbInAppNotifier from "../../../src/adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { auditTrailContract } from "../../contracts/AuditTrailContract.js"
import { inAppNotifierContract } from "../../contracts/InAppNotifierContract.js"
import { jobStoreContract } from "../../contracts/JobStoreContract.js"
import { DynamoDbOnDynalite } from "../../support/servers/DynaliteServer.js"

const ttlOnly = { deletesExpired: false }

jobStoreContract("dynamodb (dynalite)", () => DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDbOnDynalite)), ttlOnly)

inAppNotifierContract(
  "dynamodb (dynalite)",
  () => DynamoDbInAppNotifier.layer.pipe(Layer.provide(DynamoDbOnDynalite)),
  ttlOnly
)

auditTrailContract(
  "dynamodb (dynalite)",
  () => DynamoDbAuditTrail.layer.pipe(Layer.provide(DynamoDbOnDynalite)),
  ttlOnly
)
