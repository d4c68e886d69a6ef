// The ReportSource contract against the ClickHouse adapter, its HTTP client plugged into the embedded ClickHouse
// (chdb's Connection): the catalogue's SQL with server-side parameters, on the same demo lines as the other runs.
import { reportSourceContract } from "../../contracts/ReportSourceContract.js"
import { datasetOf } from "../../support/Fixtures.js"
import { acme, globex } from "../chdb/ChdbTestSupport.js"
import { clickHouseSourceOnChdb } from "./ClickHouseTestSupport.js"

// 600 lines per merchant over 2024-01-01..2024-03-31, as in the memory and chdb runs.
reportSourceContract(
  "clickhouse (through chdb's Connection)",
  () => clickHouseSourceOnChdb(datasetOf(600), [acme, globex]),
  { merchantId: acme, otherMerchantId: globex, dateFrom: "2024-02-01", dateTo: "2024-02-29", writesParquet: true }
)
