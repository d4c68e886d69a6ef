// What the user reads: the in-app notification and the email for each outcome. Only words a user can act on;
// technical detail stays in the logs. Where a message leads is given to it (ExportLinks): the words know no addresses.
import { DateTime } from "effect"
import type { CancelledJob, FailedJob, SucceededJob } from "../domain/ExportJob.js"
import { FILE_FORMATS } from "../domain/FileFormats.js"
import { fileSize, rowCount } from "../domain/Quantities.js"
import type { EmailMessage } from "./ports/EmailSender.js"
import type { SignedLink } from "./ports/FileStore.js"
import { InAppNotification } from "./ports/InAppNotifier.js"

const escapeHtml = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

/**
 * The export in the user's words: `reportTitle` is its report's title in the catalogue. The format is named because
 * two exports of one report in two formats are two files, and their messages must tell them apart.
 */
const describe = (job: SucceededJob | FailedJob | CancelledJob, reportTitle: string): string => {
  const { params } = job.report
  // The format after the brackets, not in them: its own name may hold some ("CSV (gzip)").
  return `${reportTitle} (${params.dateFrom} to ${params.dateTo}) as ${FILE_FORMATS[job.format].name}`
}

const utc = (at: DateTime.Utc): string => `${DateTime.formatIso(at).slice(0, 16).replace("T", " ")} UTC`

export const notificationId = (job: SucceededJob | FailedJob): string =>
  `${job.jobId}:${job._tag === "Succeeded" ? "export_succeeded" : "export_failed"}`

/** `link` is where the notification leads (`ExportLinks.inApp`). */
export const inAppNotificationFor = (
  job: SucceededJob | FailedJob,
  reportTitle: string,
  link: string,
  createdAt: DateTime.Utc
): InAppNotification =>
  new InAppNotification({
    id: notificationId(job),
    owner: job.owner,
    jobId: job.jobId,
    kind: job._tag === "Succeeded" ? "export_succeeded" : "export_failed",
    title: job._tag === "Succeeded" ? "Export ready" : "Export failed",
    body: job._tag === "Succeeded"
      ? `${describe(job, reportTitle)}: ${rowCount(job.result.rowCount)}, ${fileSize(job.result.byteSize)}. ` +
        `Download it before ${utc(job.result.linkExpiresAt)}.`
      : `${describe(job, reportTitle)}: ${job.failure.userMessage}`,
    link,
    createdAt
  })

/**
 * The one notice of a cancelled export, written by the API as it cancels (ADR 31): its id is the job's, so a
 * repeated cancel stores it once. No email: the user did it themselves.
 */
export const cancelledNotificationFor = (
  job: CancelledJob,
  reportTitle: string,
  link: string,
  createdAt: DateTime.Utc
): InAppNotification =>
  new InAppNotification({
    id: `${job.jobId}:export_cancelled`,
    owner: job.owner,
    jobId: job.jobId,
    kind: "export_cancelled",
    title: "Export cancelled",
    body: `${describe(job, reportTitle)}: cancelled as you asked. No file was kept.`,
    link,
    createdAt
  })

/** `exportPage` is the export's page in the web app (`ExportLinks.appPage`), as is the failure email's. */
export const successEmailFor = (
  job: SucceededJob,
  reportTitle: string,
  link: SignedLink,
  exportPage: string
): EmailMessage => {
  const summary = `${rowCount(job.result.rowCount)}, ${fileSize(job.result.byteSize)}`
  const expires = utc(link.expiresAt)
  return {
    to: job.email,
    jobId: job.jobId,
    subject: `Your export is ready: ${describe(job, reportTitle)}`,
    text: [
      `Your export ${describe(job, reportTitle)} is ready (${summary}).`,
      "",
      `Download it here (the link works until ${expires}):`,
      link.url,
      "",
      `You can also find it in the app: ${exportPage}`
    ].join("\n"),
    html: `<p>Your export <strong>${escapeHtml(describe(job, reportTitle))}</strong> is ready (${summary}).</p>` +
      `<p><a href="${escapeHtml(link.url)}">Download the ${
        escapeHtml(FILE_FORMATS[job.format].name)
      } file</a> (the link works until ${expires}).</p>` +
      `<p>You can also find it <a href="${escapeHtml(exportPage)}">in the app</a>.</p>`
  }
}

export const failureEmailFor = (job: FailedJob, reportTitle: string, exportPage: string): EmailMessage => ({
  to: job.email,
  jobId: job.jobId,
  subject: `Your export failed: ${describe(job, reportTitle)}`,
  text: [
    `We could not finish your export ${describe(job, reportTitle)}.`,
    "",
    job.failure.userMessage,
    "",
    `Details and a retry are in the app: ${exportPage}`
  ].join("\n"),
  html: `<p>We could not finish your export <strong>${escapeHtml(describe(job, reportTitle))}</strong>.</p>` +
    `<p>${escapeHtml(job.failure.userMessage)}</p>` +
    `<p>Details and a retry are <a href="${escapeHtml(exportPage)}">in the app</a>.</p>`
})
