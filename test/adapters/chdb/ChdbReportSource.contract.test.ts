// The ReportSource contract against the embedded ClickHouse, on the same demo lines as the memory adapter's run:
// each test gets an engine on a fresh temporary directory, loaded, then closed and removed.
import { reportSourceContract } from "../../contracts/ReportSourceContract.js"
import { datasetOf } from "../../support/Fixtures.js"
import { acme, chdbSource, globex } from "./ChdbTestSupport.js"

// 600 lines per merchant over 2024-01-01..2024-03-31, as in the memory run.
reportSourceContract(
  "chdb",
  () => chdbSource(datasetOf(600), [acme, globex]),
  { merchantId: acme, otherMerchantId: globex, dateFrom: "2024-02-01", dateTo: "2024-02-29", writesParquet: true }
)
