// Where a notice sends the user to see an export. The application decides when to tell and in which words; where the
// API's endpoints and the web app's pages are is the adapters' to say.
import { Context } from "effect"
import type { FinishedJob } from "../../domain/ExportJob.js"
import type { ExportJobId } from "../../domain/Identifiers.js"

export class ExportLinks extends Context.Tag("exports/ExportLinks")<ExportLinks, {
  /** The web app's page for the export, as an absolute URL: an email is opened outside the app. */
  readonly appPage: (jobId: ExportJobId) => string
  /**
   * Where an in-app notice of a finished export leads: the file's download for a success (the user's rights are
   * checked again at click time), the export's status for a failure or a cancel. Relative, so that it works behind any host
   * the app is served from.
   */
  readonly inApp: (job: FinishedJob) => string
}>() {}
