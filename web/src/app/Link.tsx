import type { AnchorHTMLAttributes, MouseEvent } from "react"
import { navigate } from "./Router.ts"

/** A link to a page of the app: a real link (open in a new tab works), followed without reloading the app. */
export const Link = (
  { children, href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { readonly href: string }
) => {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event)
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return
    if (event.altKey) return
    event.preventDefault()
    navigate(href)
  }
  return (
    <a href={href} onClick={follow} {...rest}>
      {children}
    </a>
  )
}
