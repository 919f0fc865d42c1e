// A script, run as its own process by test/many-nodes.test.ts: what any other process writing the same
// database does to revoke an access key — delete the row and announce it in state_changes.
// Usage: node test/helpers/revoke-access-key.ts DATABASE_URL ACCESS_KEY_ID
import { openStore } from '../../src/store/database.ts';
import { ChangeBus } from '../../src/state/changes.ts';

const [url, keyId] = process.argv.slice(2);
if (!url || !keyId) throw new Error('usage: revoke-access-key.ts DATABASE_URL ACCESS_KEY_ID');
const store = await openStore(url, { migrate: false });
try {
  const row = await store.db.deleteFrom('accessKeys').where('id', '=', keyId).returning('accountId').executeTakeFirst();
  if (!row) throw new Error(`access key ${keyId} not found`);
  await new ChangeBus(store.db).publish({ accountId: row.accountId, kind: 'accessKey', resourceId: keyId });
} finally {
  await store.close();
}
