import { useId, useState } from "react"
import type { FormEvent } from "react"
import { callApi } from "../api/ApiClient.ts"
import { ApiProblem, problemOf } from "../api/ApiProblem.ts"
import type { FieldProblem } from "../api/ApiProblem.ts"
import { useStore } from "../lib/useStore.ts"
import { session, signIn } from "./Session.ts"

const FIELDS = [
  { name: "user", label: "User", type: "text", autoComplete: "username", initial: "demo-user" },
  { name: "merchant", label: "Merchant", type: "text", autoComplete: "organization", initial: "m-acme" },
  { name: "email", label: "Email", type: "email", autoComplete: "email", initial: "demo@example.com" }
] as const

type FieldName = typeof FIELDS[number]["name"]

const HOSTED_ELSEWHERE = "This server has no development sign-in: open the app from the application that hosts it, " +
  "which signs you in."

/**
 * The development sign-in of `npm start` (ADR 34): anyone, as any merchant. Elsewhere the route does not exist, and
 * the token comes from the host application (README, "The web app").
 */
export const SignInPage = () => {
  const { ended } = useStore(session)
  const formId = useId()
  const [values, setValues] = useState<Record<FieldName, string>>({
    user: FIELDS[0].initial,
    merchant: FIELDS[1].initial,
    email: FIELDS[2].initial
  })
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined)
  const [busy, setBusy] = useState(false)

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    setBusy(true)
    setProblem(undefined)
    callApi((api) => api.dev.createSession({ payload: values })).then(
      (created) =>
        signIn({
          token: created.token,
          user: values.user,
          merchant: values.merchant,
          ...(created.demoDays === undefined ? {} : { demoDays: created.demoDays })
        }),
      (error: unknown) => {
        const failure = problemOf(error)
        setProblem(failure.status === 404 ? new ApiProblem(HOSTED_ELSEWHERE, "no_dev_session") : failure)
        setBusy(false)
      }
    )
  }

  const fieldProblem = (name: FieldName): FieldProblem | undefined =>
    problem?.fields.find((field) => field.field === name)
  const formProblem = problem !== undefined && problem.fields.length === 0 ? problem : undefined

  return (
    <main className="sign-in">
      <h1>Sign in</h1>
      <p className="hint">
        Development sign-in: choose who you are. The server signs a token for this user and merchant.
      </p>
      {ended !== undefined && <p className="ended">{ended}</p>}
      <form onSubmit={submit} noValidate aria-describedby={formProblem === undefined ? undefined : `${formId}-problem`}>
        {FIELDS.map((field) => {
          const issue = fieldProblem(field.name)
          const inputId = `${formId}-${field.name}`
          return (
            <div className="field" key={field.name}>
              <label htmlFor={inputId}>{field.label}</label>
              <input
                id={inputId}
                name={field.name}
                type={field.type}
                autoComplete={field.autoComplete}
                required
                value={values[field.name]}
                aria-invalid={issue !== undefined}
                aria-describedby={issue === undefined ? undefined : `${inputId}-problem`}
                onChange={(event) => setValues({ ...values, [field.name]: event.target.value })}
              />
              {issue !== undefined && (
                <p className="field-problem" id={`${inputId}-problem`}>{field.label} {issue.message}</p>
              )}
            </div>
          )
        })}
        {formProblem !== undefined && (
          <p className="problem" role="alert" id={`${formId}-problem`}>{formProblem.message}</p>
        )}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  )
}
