// The fault matrix's "ses" rows (FaultMatrix.ts).
import { runSuite } from "./FaultMatrix.js"

runSuite("ses")
