// Bound-parameter limits: SQLite refuses a statement with more than 32,766 variables and PostgreSQL's wire
// protocol more than 65,535, so a list of ids or rows from a client or a batch is written or read in slices.

/** Ids per `IN (…)` list and rows per multi-row insert (38 columns × 500 stays under both limits). */
export const SQL_CHUNK = 500;

export function* inChunks<T>(items: readonly T[], size = SQL_CHUNK): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
