// Captured requests (request capture): one row per request, written in batches off the request path, read back by
// request id, deleted once expired.
import type { Kysely } from 'kysely';
import type { Database, RequestCapturesTable } from './schema.ts';
import { inChunks } from './in-chunks.ts';

export type RequestCaptureRow = RequestCapturesTable;

/** A request id is captured once; a second row for it (a replayed journal, two nodes) is ignored, not an error. */
export async function insertRequestCaptures(db: Kysely<Database>, rows: readonly RequestCaptureRow[]): Promise<void> {
  for (const chunk of inChunks(rows, 100)) {
    await db.insertInto('requestCaptures').values([...chunk]).onConflict((oc) => oc.columns(['accountId', 'requestId']).doNothing()).execute();
  }
}

/** The account's capture of `requestId` that has not expired at `now`; another account's reads as none. */
export function getRequestCapture(db: Kysely<Database>, accountId: string, requestId: string, now: string): Promise<RequestCaptureRow | undefined> {
  return db.selectFrom('requestCaptures').selectAll().where('accountId', '=', accountId).where('requestId', '=', requestId)
    .where('expiresAt', '>', now).executeTakeFirst();
}

/** Deletes captures expired at `now`; returns how many. */
export async function deleteExpiredCaptures(db: Kysely<Database>, now: string): Promise<number> {
  const result = await db.deleteFrom('requestCaptures').where('expiresAt', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
