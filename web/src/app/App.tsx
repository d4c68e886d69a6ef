import { useEffect, useState } from "react"
import { callApi } from "../api/ApiClient.ts"

export const App = () => {
  const [status, setStatus] = useState("…")
  useEffect(() => {
    callApi((api) => api.health.health()).then(
      (health) => setStatus(health.status),
      (problem: Error) => setStatus(problem.message)
    )
  }, [])
  return <p>Server: {status}</p>
}
