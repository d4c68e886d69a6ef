import { useEffect, useId, useRef, useState } from "react"
import type { FocusEvent, KeyboardEvent } from "react"
import { problemOf } from "../api/ApiProblem.ts"
import { location } from "../app/Router.ts"
import { useStore } from "../lib/useStore.ts"
import { Notice } from "./Notice.tsx"
import { markAllRead, notificationsStore, unreadCount } from "./NotificationsStore.ts"

const SHOWN = 20

/**
 * The Notifications control: its name says how many notices are unread, live. Opening it lists the newest notices
 * and marks them read; those that were unread stay marked "New" until it closes. It closes with Escape, when the
 * focus leaves it (a click elsewhere, Tab past its end), and on another page.
 */
export const NotificationsMenu = () => {
  const items = useStore(notificationsStore)
  const unread = unreadCount(items)
  const { visit } = useStore(location)
  // Open during the visit of the page where it was opened: moving to another page closes it, with nothing to reset.
  const [openOn, setOpenOn] = useState<number | undefined>(undefined)
  const open = openOn === visit
  const [wasUnread, setWasUnread] = useState<ReadonlySet<string>>(new Set())
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const panelId = useId()
  const button = useRef<HTMLButtonElement>(null)

  useEffect(() => {
    if (!open) return
    markAllRead().catch((error: unknown) => setProblem(problemOf(error).message))
  }, [open, unread])

  const toggle = () => {
    if (!open) setWasUnread(new Set(items?.filter((item) => item.readAt === undefined).map((item) => item.id)))
    setProblem(undefined)
    setOpenOn(open ? undefined : visit)
  }
  const closeOnEscape = (event: KeyboardEvent) => {
    if (event.key !== "Escape" || !open) return
    setOpenOn(undefined)
    button.current?.focus()
  }
  const closeWhenLeft = (event: FocusEvent<HTMLDivElement>) => {
    if (open && !event.currentTarget.contains(event.relatedTarget)) setOpenOn(undefined)
  }

  return (
    // Escape and the focus leaving come from the button and the panel's own controls, bubbling up: the box is not a
    // control itself.
    // eslint-disable-next-line jsx-a11y/no-static-element-interactions
    <div className="notifications" onKeyDown={closeOnEscape} onBlur={closeWhenLeft}>
      <button ref={button} type="button" aria-expanded={open} aria-controls={panelId} onClick={toggle}>
        Notifications
        {unread > 0 && (
          <>
            <span className="badge" aria-hidden="true">{unread}</span>
            <span className="visually-hidden">, {unread} unread</span>
          </>
        )}
      </button>
      <section id={panelId} className="notifications-panel" aria-label="Notifications" hidden={!open}>
        {problem !== undefined && <p className="problem" role="alert">{problem}</p>}
        {items === undefined || items.length === 0
          ? <p>No notifications yet.</p>
          : (
            <ul>
              {items.slice(0, SHOWN).map((item) => (
                <Notice key={item.id} item={item} fresh={wasUnread.has(item.id)} onProblem={setProblem} />
              ))}
            </ul>
          )}
      </section>
    </div>
  )
}
