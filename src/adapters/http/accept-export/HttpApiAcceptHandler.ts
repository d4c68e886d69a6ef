// The HttpApi handler of POST /api/v1/reports/export. On the Node runtimes it is never reached: the node:http
// route in front of the HttpApi app (`NodeAcceptRoute.ts`, ADR 0013) answers that request first. It answers on
// Lambda, where API Gateway's events reach the HttpApi app directly, and wherever the app is served alone.
import type { HttpServerRequest } from "@effect/platform"
import { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { CurrentCaller } from "../Authentication.js"
import { readJsonBody } from "../RequestBody.js"
import { acceptExport } from "./AcceptExport.js"

export const handleRequestExport = ({ request }: { readonly request: HttpServerRequest.HttpServerRequest }) =>
  Effect.gen(function*() {
    const caller = yield* CurrentCaller
    const body = yield* readJsonBody(request)
    const accepted = yield* acceptExport(caller, body, request.headers["idempotency-key"])
    return HttpServerResponse.unsafeJson(accepted.body, { status: 202, headers: { location: accepted.location } })
  })
