// The caller's exports as the server last described them: from the list, from one export's status, and from the
// event stream's `export` events (status and progress) in between. Every screen that shows an export reads it
// here, so the button, the list and an export's page agree.
import type { ExportAccepted, ExportView } from "../../../src/adapters/http/Api.ts"
import { callApi } from "../api/ApiClient.ts"
import { createStore } from "../lib/Store.ts"
import type { ExportEvent } from "./ExportEvent.ts"

export interface ExportsState {
  readonly byId: ReadonlyMap<string, ExportView>
  /** The list's order, newest first, once it was read. */
  readonly listed: ReadonlyArray<string> | undefined
  /** The export that the "Export to CSV" button started for each request body (its JSON), in this tab. */
  readonly startedFor: ReadonlyMap<string, string>
}

export const exportsStore = createStore<ExportsState>({ byId: new Map(), listed: undefined, startedFor: new Map() })

const LIST_LIMIT = "50"

export const isInProgress = (view: Pick<ExportView, "status">): boolean =>
  view.status === "queued" || view.status === "running"

const withView = (state: ExportsState, view: ExportView): ExportsState => {
  const byId = new Map(state.byId)
  byId.set(view.jobId, view)
  const listed = state.listed === undefined || state.listed.includes(view.jobId)
    ? state.listed
    : [view.jobId, ...state.listed]
  return { ...state, byId, listed }
}

export const refreshExports = async (): Promise<void> => {
  const list = await callApi((api) => api.exports.listExports({ urlParams: { limit: LIST_LIMIT } }))
  exportsStore.set((state) => {
    const byId = new Map(state.byId)
    for (const view of list.items) byId.set(view.jobId, view)
    return { ...state, byId, listed: list.items.map((view) => view.jobId) }
  })
}

export const refreshExport = async (jobId: string, signal?: AbortSignal): Promise<ExportView> => {
  const view = await callApi((api) => api.exports.getExport({ path: { jobId } }), signal)
  exportsStore.set((state) => withView(state, view))
  return view
}

export const storeExport = (view: ExportView): void => exportsStore.set((state) => withView(state, view))

/** An export the server accepted: recorded for `body`, and read at once for its report and parameters. */
export const accepted = (answer: ExportAccepted, body?: string): Promise<ExportView> => {
  if (body !== undefined) {
    exportsStore.set((state) => ({ ...state, startedFor: new Map(state.startedFor).set(body, answer.jobId) }))
  }
  return refreshExport(answer.jobId)
}

/**
 * An `export` event: status and progress are applied at once. An export not read yet (started in another tab), or
 * one that has just finished (its file or its failure is not in the event), is read again.
 */
export const applyExportEvent = (event: ExportEvent): void => {
  const { byId, listed } = exportsStore.get()
  const known = byId.get(event.jobId)
  if (known !== undefined) {
    const { progress: _, ...rest } = known
    storeExport({
      ...rest,
      status: event.status,
      ...(event.progress === undefined ? {} : { progress: event.progress })
    })
  }
  // An export not held while the list is still on its way comes with the list.
  const unknown = known === undefined && listed !== undefined
  if (unknown || known !== undefined && known.status !== event.status && !isInProgress(event)) {
    refreshExport(event.jobId).catch(() => {
      // The stream or the next poll tells again.
    })
  }
}
