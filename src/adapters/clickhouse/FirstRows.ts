// A report's first rows on any ClickHouse engine (the server over HTTP, the embedded chdb): its SQL as a subquery
// under a LIMIT, so the engine stops once it has them (a report sorted as the table is reads no further), and the
// query ends on its own rather than being killed (ADR 35).

/**
 * `sql`'s first `limit` rows, in its own order: an outer query with no ORDER BY of its own keeps the subquery's.
 * The limit is a whole number written into the SQL (old servers bind no parameters), so it is checked here.
 */
export const firstRowsSql = (sql: string, limit: number): string => {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`a preview's limit must be a whole number: ${limit}`)
  }
  return `SELECT * FROM (\n${sql}\n)\nLIMIT ${limit}`
}
