// The EmailSender contract against the .eml outbox, each test in its own temporary directory.
import { Effect } from "effect"
import { emailSenderContract } from "../../contracts/EmailSenderContract.js"
import { emlEmailSenderInTempDir, sentMail } from "./EmlSupport.js"

emailSenderContract(
  "eml",
  emlEmailSenderInTempDir,
  (recipient) => Effect.map(sentMail, (mails) => mails.filter((mail) => mail.to.includes(recipient)))
)
