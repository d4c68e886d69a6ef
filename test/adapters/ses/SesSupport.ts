// The SES EmailSender pointed at a fresh aws-ses-v2-local, with the keys the emulator wants (any will do).
import { Effect, Layer, Redacted } from "effect"
import type { SesEmailSenderSettings } from "../../../src/adapters/ses/SesEmailSender.js"
import * as SesEmailSender from "../../../src/adapters/ses/SesEmailSender.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

export const FROM = "Exports <exports@example.test>"

export const settingsFor = (endpoint: URL): SesEmailSenderSettings => ({
  region: "eu-west-1",
  endpoint,
  from: FROM,
  credentials: { accessKeyId: Redacted.make("local"), secretAccessKey: Redacted.make("local") }
})

/** The sender and the emulator it talks to, both living as long as the layer. */
export const sesEmailSenderOnLocalServer = () =>
  Layer.unwrapEffect(Effect.map(SesLocalServer, (server) => SesEmailSender.layer(settingsFor(server.endpoint)))).pipe(
    Layer.provideMerge(SesLocalServer.layer)
  )
