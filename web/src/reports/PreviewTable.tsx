import { useId } from "react"
import type { ReportPreview } from "../../../src/adapters/http/Api.ts"

const NUMERIC = new Set(["integer", "decimal"])

/** The preview's rows under the file's own column headings; numbers aligned right. Scrolls within its region. */
export const PreviewTable = ({ preview, caption }: { readonly preview: ReportPreview; readonly caption: string }) => {
  const captionId = useId()
  return (
    // A region that scrolls must be reachable with the keyboard to be scrolled with it.
    // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex
    <div className="table-scroll" role="region" aria-labelledby={captionId} tabIndex={0}>
      <table>
        <caption id={captionId}>{caption}</caption>
        <thead>
          <tr>
            {preview.columns.map((column) => (
              <th key={column.name} scope="col" className={NUMERIC.has(column.type) ? "numeric" : undefined}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {preview.rows.map((row, index) => (
            <tr key={index}>
              {preview.columns.map((column, at) => (
                <td key={column.name} className={NUMERIC.has(column.type) ? "numeric" : undefined}>
                  {row[at] ?? ""}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
