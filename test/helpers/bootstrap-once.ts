// Child-process body for the bootstrap race test: one "first start" against the database in argv[2].
import { openStore } from '../../src/store/database.ts';
import { bootstrapAccount } from '../../src/store/accounts.ts';

const store = await openStore(process.argv[2]!);
const created = await bootstrapAccount(store.db, 'default', 'tgapi_bootstrap-token');
await store.close();
process.stdout.write(created ? 'created' : 'skipped');
