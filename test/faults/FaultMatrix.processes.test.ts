// The fault matrix's "processes" rows (FaultMatrix.ts).
import { runSuite } from "./FaultMatrix.js"

runSuite("processes")
