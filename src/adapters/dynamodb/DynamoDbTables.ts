// The three tables the DynamoDB adapters need, as infrastructure must create them; `createTables` makes them on a
// local server for tests. The attribute names here are the ones the adapters read and write.
//
// Jobs table (on-demand):
//   key        jobId (S, HASH)               a job's UUIDv7, or `idem#["<merchantId>","<userId>","<key>"]` for the
//                                            item that claims an idempotency key for a job, or
//                                            `active#["<merchantId>","<userId>","<format>",<report>]` for the item
//                                            that claims an export (its encoded report) in progress for a job
//   job item   job (S)                       the job as JSON, `Schema.encode(ExportJob)`
//              ownerKey (S)                  `<merchantId>#<userId>` (merchant ids have no `#`)
//              activeOwnerKey (S)            the same, only while the job is Queued or Running (a sparse index)
//              activeKey (S)                 `active`, only while the job is Queued or Running (a sparse index of
//                                            every owner's jobs in progress, for the sweeper)
//              jobStatus (S), revision (N)   the job's tag and revision; updates are conditional on `revision`
//              expiresAt (N)                 TTL, epoch seconds (the retentions of application/Retention.ts):
//                                            7 days after the link expiry of a Succeeded job,
//                                            30 days after `finishedAt` of a Failed or Cancelled one; absent while
//                                            the job is active
//   key item   claimedBy (S)                 the newest job created with the key
//              requestedAtMillis (N)         that job's requestedAt: a newer job may take the key over only once it
//                                            is IDEMPOTENCY_WINDOW_MILLIS older, or once that job gave the key up
//                                            (failed with QueueUnavailable, `holdsIdempotencyKey`)
//              expiresAt (N)                 TTL: 30 days after requestedAt
//   export item claimedBy (S)                the job created with the export's claim last; a create may take it
//                                            over once that job is finished, gone or overdue (`inProgressAnswer`)
//              expiresAt (N)                 TTL: 30 days after that job's requestedAt
//   GSI byOwner        ownerKey (HASH), jobId (RANGE), projection ALL: listByOwner, newest first (UUIDv7 order)
//   GSI activeByOwner  activeOwnerKey (HASH), jobId (RANGE), projection ALL: listActive
//   GSI activeJobs     activeKey (HASH), jobId (RANGE), projection ALL: listActiveCreatedBefore, oldest first. One
//                      partition holds every job in progress: they are few (the finished ones leave it), and the
//                      sweeper reads it every few minutes. Renewing a lease rewrites the item and so its projection.
//
// Notifications table (on-demand):
//   key        id (S, HASH)                  the notification id (derived from the job and outcome)
//   item       notification (S)              the notification as JSON without readAt
//              ownerKey (S)                  `<merchantId>#<userId>`
//              createdAtKey (S)              createdAt in epoch millis, 15 digits, then `#<id>`: newest first, ties
//                                            by id descending
//              readAt (S)                    ISO time of the first markRead; absent while unread
//              expiresAt (N)                 TTL, epoch seconds: 90 days after createdAt
//   GSI byOwner        ownerKey (HASH), createdAtKey (RANGE), projection ALL: listFor
//
// Audit table (on-demand), ADR 46:
//   key        jobId (S, HASH), entryId (S, RANGE)   the export, and the entry's id within it
//   item       entry (S)                     the entry as JSON, `Schema.encode(AuditEntry)`; put once, never updated
//              expiresAt (N)                 TTL, epoch seconds: the job's own retention (finishedJobRetainedUntil)
import { CreateTableCommand, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb"
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import type { DynamoDbTableNames } from "./DynamoDb.js"

export const JOBS_BY_OWNER_INDEX = "byOwner"
export const ACTIVE_JOBS_BY_OWNER_INDEX = "activeByOwner"
export const ACTIVE_JOBS_INDEX = "activeJobs"
/** The value of `activeKey` while a job is in progress: every such job in one partition of `activeJobs`. */
export const ACTIVE_KEY = "active"
export const NOTIFICATIONS_BY_OWNER_INDEX = "byOwner"
export const TTL_ATTRIBUTE = "expiresAt"

/**
 * Creates the three tables and enables TTL on them. For tests and local servers; production tables come from
 * infrastructure with this same schema. A server without UpdateTimeToLive (dynalite) keeps the attribute unenforced.
 */
export const createTables = async (client: DynamoDBClient, names: DynamoDbTableNames): Promise<void> => {
  await client.send(
    new CreateTableCommand({
      TableName: names.jobs,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "jobId", AttributeType: "S" },
        { AttributeName: "ownerKey", AttributeType: "S" },
        { AttributeName: "activeOwnerKey", AttributeType: "S" },
        { AttributeName: "activeKey", AttributeType: "S" }
      ],
      KeySchema: [{ AttributeName: "jobId", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        {
          IndexName: JOBS_BY_OWNER_INDEX,
          KeySchema: [{ AttributeName: "ownerKey", KeyType: "HASH" }, { AttributeName: "jobId", KeyType: "RANGE" }],
          Projection: { ProjectionType: "ALL" }
        },
        {
          IndexName: ACTIVE_JOBS_BY_OWNER_INDEX,
          KeySchema: [
            { AttributeName: "activeOwnerKey", KeyType: "HASH" },
            { AttributeName: "jobId", KeyType: "RANGE" }
          ],
          Projection: { ProjectionType: "ALL" }
        },
        {
          IndexName: ACTIVE_JOBS_INDEX,
          KeySchema: [{ AttributeName: "activeKey", KeyType: "HASH" }, { AttributeName: "jobId", KeyType: "RANGE" }],
          Projection: { ProjectionType: "ALL" }
        }
      ]
    })
  )
  await client.send(
    new CreateTableCommand({
      TableName: names.notifications,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "id", AttributeType: "S" },
        { AttributeName: "ownerKey", AttributeType: "S" },
        { AttributeName: "createdAtKey", AttributeType: "S" }
      ],
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        {
          IndexName: NOTIFICATIONS_BY_OWNER_INDEX,
          KeySchema: [
            { AttributeName: "ownerKey", KeyType: "HASH" },
            { AttributeName: "createdAtKey", KeyType: "RANGE" }
          ],
          Projection: { ProjectionType: "ALL" }
        }
      ]
    })
  )
  await client.send(
    new CreateTableCommand({
      TableName: names.audit,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "jobId", AttributeType: "S" },
        { AttributeName: "entryId", AttributeType: "S" }
      ],
      KeySchema: [{ AttributeName: "jobId", KeyType: "HASH" }, { AttributeName: "entryId", KeyType: "RANGE" }]
    })
  )
  for (const table of [names.jobs, names.notifications, names.audit]) {
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: table,
          TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true }
        })
      )
    } catch (error) {
      if (!(error instanceof Error && error.name === "UnknownOperationException")) throw error
    }
  }
}
