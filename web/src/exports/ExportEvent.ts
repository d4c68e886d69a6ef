// What an `export` event of the stream carries (ADR 33): the fields jobId, status and progress of the export's view,
// encoded as the status route encodes them. Picked from the view's own schema, so a change to it reaches here.
import { Schema } from "effect"
import { ExportView } from "../../../src/adapters/http/Api.ts"

export const ExportEvent = Schema.Struct(ExportView.fields).pipe(Schema.pick("jobId", "status", "progress"))
export type ExportEvent = typeof ExportEvent.Type

export const decodeExportEvent = Schema.decodeUnknownOption(Schema.parseJson(ExportEvent))
