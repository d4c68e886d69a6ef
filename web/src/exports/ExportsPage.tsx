import { useEffect, useState } from "react"
import { problemOf } from "../api/ApiProblem.ts"
import { PageHeading } from "../app/PageHeading.tsx"
import { useStore } from "../lib/useStore.ts"
import { ExportItem } from "./ExportItem.tsx"
import { exportsStore, refreshExports } from "./ExportsStore.ts"

/** My exports (`/exports`): the caller's exports, newest first, kept current by the live updates. */
export const ExportsPage = () => {
  const { byId, listed } = useStore(exportsStore)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  useEffect(() => {
    refreshExports().then(() => setProblem(undefined), (error: unknown) => setProblem(problemOf(error).message))
  }, [])
  const views = (listed ?? []).flatMap((jobId) => {
    const view = byId.get(jobId)
    return view === undefined ? [] : [view]
  })
  return (
    <>
      <PageHeading>My exports</PageHeading>
      {problem !== undefined && <p className="problem" role="alert">{problem}</p>}
      {listed === undefined && problem === undefined && <p>Loading your exports…</p>}
      {listed !== undefined && views.length === 0 && <p>No exports yet. Export a report and it shows here.</p>}
      <div className="exports">
        {views.map((view) => <ExportItem key={view.jobId} view={view} linked />)}
      </div>
    </>
  )
}
