import { useEffect, useRef } from "react"
import type { ReactNode } from "react"
import { useStore } from "../lib/useStore.ts"
import { location } from "./Router.ts"

/**
 * A page's title. After a move within the app it takes the focus, so that a screen reader announces the new page
 * and the keyboard continues from its top, as after a page load.
 */
export const PageHeading = ({ children }: { readonly children: ReactNode }) => {
  const { moved, pathname } = useStore(location)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    if (moved) heading.current?.focus()
  }, [moved, pathname])
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children}
    </h1>
  )
}
