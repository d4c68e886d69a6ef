// The report catalogue the application serves: the domain's ReportCatalogue, unless something provides another, as
// a test adding a report does (ADR 24). A Reference, so no composition has to provide it.
import { Context } from "effect"
import { ReportCatalogue } from "../domain/Reports.js"

export class CurrentCatalogue extends Context.Reference<CurrentCatalogue>()("exports/CurrentCatalogue", {
  defaultValue: () => ReportCatalogue
}) {}

/**
 * `derive` run once per catalogue and kept as long as the catalogue is: what is derived from a catalogue (schemas,
 * decoders) is built when a module loads or a catalogue is first used, never for each request.
 */
export const perCatalogue = <A>(derive: (catalogue: typeof ReportCatalogue) => A) => {
  const derived = new WeakMap<typeof ReportCatalogue, A>()
  return (catalogue: typeof ReportCatalogue): A => {
    let value = derived.get(catalogue)
    if (value === undefined) {
      value = derive(catalogue)
      derived.set(catalogue, value)
    }
    return value
  }
}
