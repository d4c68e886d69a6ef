// Loaded only when a sales trend preview is shown (React.lazy): uPlot and its stylesheet stay out of the first page.
import { useEffect, useRef } from "react"
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"
import type { ReportPreview } from "../../../src/adapters/http/Api.ts"

const HEIGHT = 220

const columnOf = (preview: ReportPreview, name: string) => preview.columns.findIndex((column) => column.name === name)

/**
 * Revenue per period of a sales trend preview, as a line. A picture for the eye only: the table below says the
 * same in text, so the chart is described by its summary rather than read point by point.
 */
const SalesChart = ({ preview }: { readonly preview: ReportPreview }) => {
  const box = useRef<HTMLDivElement>(null)
  const period = columnOf(preview, "period_start")
  const revenue = columnOf(preview, "revenue")
  useEffect(() => {
    const element = box.current
    if (element === null || period < 0 || revenue < 0) return
    const xs = preview.rows.map((row) => Date.parse(`${String(row[period])}T00:00:00Z`) / 1000)
    const ys = preview.rows.map((row) => Number(row[revenue]))
    const chart = new uPlot(
      {
        width: element.clientWidth,
        height: HEIGHT,
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "UTC"),
        legend: { show: false },
        cursor: { show: false },
        series: [{}, { label: "Revenue", stroke: "#1f5fa8", width: 2, fill: "rgba(31, 95, 168, 0.08)" }],
        axes: [{}, { size: 70 }]
      },
      [xs, ys],
      element
    )
    const resize = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      chart.destroy()
    }
  }, [preview, period, revenue])
  const first = preview.rows[0]?.[period]
  const last = preview.rows[preview.rows.length - 1]?.[period]
  return (
    <figure className="chart">
      <div ref={box} role="img" aria-label={`Revenue per period, ${String(first)} to ${String(last)}`} />
      <figcaption>Revenue per period</figcaption>
    </figure>
  )
}

export default SalesChart
