import { useEffect, useState } from "react"
import { problemOf } from "../api/ApiProblem.ts"
import { Link } from "../app/Link.tsx"
import { PageHeading } from "../app/PageHeading.tsx"
import { exportPath, EXPORTS_PATH, navigate } from "../app/Router.ts"
import { useStore } from "../lib/useStore.ts"
import { ExportItem } from "./ExportItem.tsx"
import { exportsStore, refreshExport } from "./ExportsStore.ts"

/** One export (`/exports/{jobId}`): where the e-mails link to. */
export const ExportPage = ({ jobId }: { readonly jobId: string }) => {
  const view = useStore(exportsStore).byId.get(jobId)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  useEffect(() => {
    const reading = new AbortController()
    refreshExport(jobId, reading.signal).then(
      () => setProblem(undefined),
      (error: unknown) => {
        if (!reading.signal.aborted) setProblem(problemOf(error).message)
      }
    )
    return () => reading.abort()
  }, [jobId])
  return (
    <>
      <p className="breadcrumb">
        <Link href={EXPORTS_PATH}>My exports</Link>
      </p>
      <PageHeading>Export</PageHeading>
      {problem !== undefined && <p className="problem" role="alert">{problem}</p>}
      {view === undefined && problem === undefined && <p>Loading the export…</p>}
      {view !== undefined && (
        <ExportItem
          view={view}
          linked={false}
          onExportedAgain={(next) => navigate(exportPath(next.jobId))}
        />
      )}
    </>
  )
}
