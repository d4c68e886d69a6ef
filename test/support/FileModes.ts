// Permission bits as the tests check them: only this user may enter the data directories or read their files.
import { readdirSync, statSync } from "node:fs"
import * as NodePath from "node:path"

/** The permission bits of a path, in octal: "700", "644". */
export const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8)

/**
 * Every directory and file under `root`, itself included as ".", with its kind and permission bits:
 * `{ ".": "dir 700", "a/b.csv": "file 600" }`. Directories `skipInside` names are listed but not entered.
 */
export const modesUnder = (root: string, skipInside: ReadonlyArray<string> = []): Record<string, string> => {
  const modes: Record<string, string> = { ".": `dir ${modeOf(root)}` }
  const walk = (folder: string): void => {
    for (const entry of readdirSync(NodePath.join(root, folder), { withFileTypes: true })) {
      const path = NodePath.join(folder, entry.name)
      const kind = entry.isDirectory() ? "dir" : "file"
      modes[path] = `${kind} ${modeOf(NodePath.join(root, path))}`
      if (entry.isDirectory() && !skipInside.includes(path)) walk(path)
    }
  }
  walk("")
  return modes
}

/** `modes` as they should all be: directories 0700, files 0600. */
export const allPrivate = (modes: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(modes).map(([path, mode]) => [path, mode.startsWith("dir") ? "dir 700" : "file 600"])
  )
