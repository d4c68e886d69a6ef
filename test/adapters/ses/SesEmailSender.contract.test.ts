// The EmailSender contract against SES, emulated by aws-ses-v2-local and read back from its store.
import { Effect } from "effect"
import { emailSenderContract } from "../../contracts/EmailSenderContract.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"
import { sesEmailSenderOnLocalServer } from "./SesSupport.js"

emailSenderContract(
  "ses (aws-ses-v2-local)",
  sesEmailSenderOnLocalServer,
  (recipient) =>
    Effect.flatMap(SesLocalServer, (server) =>
      Effect.map(server.sentTo(recipient), (emails) =>
        emails.map((email) => ({
          to: email.destination.to,
          subject: email.subject,
          text: email.body.text ?? "",
          html: email.body.html ?? ""
        }))))
)
