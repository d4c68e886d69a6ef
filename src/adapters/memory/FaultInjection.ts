// Failures on demand for the in-memory adapters, so that the simulator and the tests can walk every failure
// path. The plan can be changed between jobs; a fault with `times` fires that many times and then heals.
import { Effect, Option, Ref } from "effect"

export interface QueryFault {
  /** timeout: the source reports QueryTimeout; error: QueryFailed; hang: the source stops sending rows. */
  readonly kind: "timeout" | "error" | "hang"
  readonly afterRows: number
  readonly retryable?: boolean
}

export interface UploadFault {
  readonly afterBytes: number
  readonly retryable: boolean
}

export interface Faults {
  readonly query?: QueryFault
  readonly upload?: UploadFault
  readonly signing?: boolean
  readonly queue?: boolean
  readonly email?: boolean
  readonly inApp?: boolean
  readonly audit?: boolean
}

export type FaultName = keyof Faults

export class FaultInjection extends Effect.Service<FaultInjection>()("exports/memory/FaultInjection", {
  effect: Effect.gen(function*() {
    const plan = yield* Ref.make<Faults>({})
    const remaining = yield* Ref.make<Partial<Record<FaultName, number>>>({})
    return {
      /** Replaces the plan. `times` limits how often each named fault fires; unlimited when absent. */
      set: (faults: Faults, times: Partial<Record<FaultName, number>> = {}) =>
        Ref.set(plan, faults).pipe(Effect.zipRight(Ref.set(remaining, times))),
      clear: Ref.set(plan, {}).pipe(Effect.zipRight(Ref.set(remaining, {}))),
      /** The fault to inject now, if any, counting it as fired. */
      fire: <K extends FaultName>(name: K): Effect.Effect<Option.Option<NonNullable<Faults[K]>>> =>
        // Asked on every publish of the embedded server: the usual answer (no fault planned) is one Ref read.
        Effect.flatMap(Ref.get(plan), (faults) => {
          const fault = faults[name]
          if (fault === undefined || fault === false) return Effect.succeedNone
          return Effect.gen(function*() {
            const left = (yield* Ref.get(remaining))[name]
            if (left !== undefined) {
              if (left <= 0) return Option.none()
              yield* Ref.update(remaining, (counts) => ({ ...counts, [name]: left - 1 }))
            }
            return Option.some(fault)
          })
        })
    }
  })
}) {}
