// A tracer that keeps every span it makes, for tests that check which spans a program records, their parents,
// attributes and how they ended. Spans are plain records; nothing is exported anywhere.
import type { Context, Exit, Option } from "effect"
import { Tracer } from "effect"

export interface RecordedSpan extends Tracer.Span {
  readonly attributes: Map<string, unknown>
}

let nextId = 0

/** Ids in the W3C trace context's form (hex), so that they survive being propagated in headers. */
const hexId = (length: number): string => (++nextId).toString(16).padStart(length, "0")

class Recorded implements RecordedSpan {
  readonly _tag = "Span"
  readonly spanId = hexId(16)
  readonly traceId: string
  readonly sampled = true
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.traceId = parent._tag === "Some" ? parent.value.traceId : hexId(32)
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }

  attribute(key: string, value: unknown) {
    this.attributes.set(key, value)
  }

  event() {}

  addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
    this.links.push(...links)
  }
}

/** A tracer and the spans it has made so far, oldest first. */
export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new Recorded(name, parent, context, links, startTime, kind)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}

/** The span's parent's id: a recorded span's, or an external one's (from trace headers). */
export const parentIdOf = (span: Tracer.Span): string | undefined =>
  span.parent._tag === "Some" ? span.parent.value.spanId : undefined

/** How a span ended: "success", "failure", or "open" while it runs. */
export const outcomeOf = (span: Tracer.Span): "success" | "failure" | "open" =>
  span.status._tag === "Started" ? "open" : span.status.exit._tag === "Success" ? "success" : "failure"
