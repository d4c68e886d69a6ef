// The fault matrix's "sweeper" rows (FaultMatrix.ts).
import { runSuite } from "./FaultMatrix.js"

runSuite("sweeper")
