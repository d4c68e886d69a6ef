// The fault matrix's "embedded" rows (FaultMatrix.ts).
import { runSuite } from "./FaultMatrix.js"

runSuite("embedded")
