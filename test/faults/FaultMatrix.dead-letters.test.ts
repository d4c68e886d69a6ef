// The fault matrix's "dead-letters" rows (FaultMatrix.ts).
import { runSuite } from "./FaultMatrix.js"

runSuite("dead-letters")
