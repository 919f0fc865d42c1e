// Administrative commands that work while the server runs: they write to the store and announce the
// change in state_changes, which running gateways poll.
import { parseArgs } from 'node:util';
import { databaseSilenceMsFrom, databaseUrlFrom } from '../config/config.ts';
import { openStore } from '../store/database.ts';
import { accountExists, createAccount } from '../store/accounts.ts';
import { grantCredits } from '../store/credits.ts';
import { ChangeBus } from '../state/changes.ts';

const dbOption = { 'database-url': { type: 'string' } } as const;

/** Only the database: these commands never decrypt a provider key, so they need no TOLLGATE_SECRET_KEY. */
function databaseUrl(value: string | undefined): string {
  return databaseUrlFrom(process.env, value || undefined);
}

export async function accountsCreate(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new Error('usage: tollgate accounts create --name NAME');
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, ...dbOption }, strict: true });
  if (!values.name) throw new Error('--name is required');
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom() });
  try {
    const created = await createAccount(store.db, values.name);
    process.stdout.write(`${JSON.stringify(created)}\n`);
  } finally {
    await store.close();
  }
}

export async function creditsGrant(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'grant') throw new Error('usage: tollgate credits grant --account ID --cents N');
  const { values } = parseArgs({ args: rest, options: { account: { type: 'string' }, cents: { type: 'string' }, category: { type: 'string' }, ...dbOption }, strict: true });
  if (!values.account) throw new Error('--account is required');
  if (!values.cents || !/^[1-9]\d*$/.test(values.cents)) throw new Error('--cents must be a positive whole number of US cents');
  const category = values.category ?? 'promotional';
  if (category !== 'purchase' && category !== 'promotional') throw new Error('--category must be purchase or promotional');
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom() });
  try {
    if (!(await accountExists(store.db, values.account))) throw new Error(`account ${values.account} not found`);
    const account = values.account;
    await store.db.transaction().execute(async (trx) => {
      await grantCredits(trx, account, Number(values.cents), { category });
      await new ChangeBus().recordAll(trx, [{ accountId: account, kind: 'credits', resourceId: account }]);
    });
    process.stdout.write(`${JSON.stringify({ accountId: values.account, grantedCents: Number(values.cents), category })}\n`);
  } finally {
    await store.close();
  }
}
