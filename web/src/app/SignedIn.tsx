import { useEffect } from "react"
import type { Session } from "../auth/Session.ts"
import { signOut } from "../auth/Session.ts"
import { ExportPage } from "../exports/ExportPage.tsx"
import { ExportsPage } from "../exports/ExportsPage.tsx"
import { exportsStore } from "../exports/ExportsStore.ts"
import { useStore } from "../lib/useStore.ts"
import { startLiveUpdates } from "../notifications/LiveUpdates.ts"
import { NotificationsMenu } from "../notifications/NotificationsMenu.tsx"
import { notificationsStore } from "../notifications/NotificationsStore.ts"
import { ReportsPage } from "../reports/ReportsPage.tsx"
import { Link } from "./Link.tsx"
import { PageHeading } from "./PageHeading.tsx"
import { EXPORTS_PATH, location, routeOf } from "./Router.ts"

/** The app for a signed-in person: its header, the page of the current path, and live updates while it is open. */
export const SignedIn = ({ who }: { readonly who: Session }) => {
  const { pathname } = useStore(location)
  const route = routeOf(pathname)

  useEffect(() => {
    const stop = startLiveUpdates()
    return () => {
      stop()
      exportsStore.set({ byId: new Map(), listed: undefined, startedFor: new Map() })
      notificationsStore.set(undefined)
    }
  }, [])

  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="top">
        <p className="brand">Exports</p>
        <nav aria-label="Main">
          <Link href="/" aria-current={route._tag === "Reports" ? "page" : undefined}>Reports</Link>
          <Link href={EXPORTS_PATH} aria-current={route._tag === "Exports" ? "page" : undefined}>My exports</Link>
        </nav>
        <NotificationsMenu />
        <p className="who">
          <span className="visually-hidden">Signed in as</span> {who.user} · {who.merchant}
        </p>
        <button type="button" className="quiet" onClick={() => signOut()}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        {route._tag === "Reports" && <ReportsPage />}
        {route._tag === "Exports" && <ExportsPage />}
        {route._tag === "Export" && <ExportPage key={route.jobId} jobId={route.jobId} />}
        {route._tag === "NotFound" && (
          <>
            <PageHeading>Page not found</PageHeading>
            <p>
              There is no page at this address. Go to <Link href="/">Reports</Link> or{" "}
              <Link href={EXPORTS_PATH}>My exports</Link>.
            </p>
          </>
        )}
      </main>
    </>
  )
}
