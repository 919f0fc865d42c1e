// Administrative commands that work while the server runs: they write to the store and announce the
// change in state_changes, which running gateways poll.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { joinNegativeNumbers } from './args.ts';
import { databaseSilenceMsFrom, databaseUrlFrom } from '../config/config.ts';
import { openStore } from '../store/database.ts';
import { accountExists, createAccount, createApiKey, listAccounts } from '../store/accounts.ts';
import { grantCredits, purchaseExpiry } from '../store/credits.ts';
import { ChangeBus } from '../state/changes.ts';
import { insertUsageEvents, isRowRefusal } from '../store/usage-events.ts';
import { inChunks } from '../store/in-chunks.ts';
import type { UsageEvent } from '../usage/event.ts';
import { refusedEventFrom } from '../usage/refused-file.ts';

const dbOption = { 'database-url': { type: 'string' } } as const;
const MAX_GRANT_CENTS = 1_000_000_000_000;

/** Only the database: these commands never decrypt a provider key, so they need no TOLLGATE_SECRET_KEY. */
function databaseUrl(value: string | undefined): string {
  // `--database-url ""` (an unset shell variable) would otherwise act on the default database, not the one meant.
  if (value !== undefined && value.trim() === '') throw new Error('--database-url needs a value');
  return databaseUrlFrom(process.env, value);
}

export async function accounts(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: dbOption, strict: true });
    const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom(), existing: true });
    try {
      process.stdout.write(`${JSON.stringify({ accounts: await listAccounts(store.db) })}\n`);
    } finally {
      await store.close();
    }
    return;
  }
  if (sub !== 'create') throw new Error('usage: tollgate accounts create --name NAME | tollgate accounts list');
  const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { name: { type: 'string' }, ...dbOption }, strict: true });
  if (values.name === undefined) throw new Error('--name is required');
  // As the console and the usage API show it: a name a person can read, within what the contract allows for names.
  if (values.name.trim() === '') throw new Error('--name must not be blank');
  if ([...values.name].length > 255) throw new Error('--name is at most 255 characters');
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom(), existing: true });
  try {
    const created = await createAccount(store.db, values.name);
    process.stdout.write(`${JSON.stringify(created)}\n`);
  } finally {
    await store.close();
  }
}

/**
 * `tollgate api-keys create --account ID`: a new control-plane API key (its token printed once) for an account that
 * has none at hand — the first start's key scrolled away, or every key deleted. Works while the server runs: the
 * control plane looks keys up in the store.
 */
export async function apiKeysCreate(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new Error('usage: tollgate api-keys create --account ID [--name NAME]');
  const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { account: { type: 'string' }, name: { type: 'string' }, ...dbOption }, strict: true });
  if (!values.account) throw new Error('--account is required (tollgate accounts list shows them; the first is the default account)');
  const name = values.name ?? 'created by tollgate api-keys create';
  // Characters as the contract counts them (code points), as POST /api-keys does.
  if ([...name].length > 255) throw new Error('--name is at most 255 characters');
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom(), existing: true });
  try {
    const created = await createApiKey(store.db, values.account, name);
    if (!created) throw new Error(`account ${values.account} not found`);
    // Announced like the API's own creations (nothing reads apiKey changes today; the record is the contract's).
    await new ChangeBus().recordAll(store.db, [{ accountId: values.account, kind: 'apiKey', resourceId: created.id }]);
    process.stdout.write(`${JSON.stringify({ accountId: values.account, apiKey: created })}\n`);
  } finally {
    await store.close();
  }
}

export async function creditsGrant(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'grant') throw new Error('usage: tollgate credits grant --account ID --cents N [--category purchase|promotional]');
  const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { account: { type: 'string' }, cents: { type: 'string' }, category: { type: 'string' }, ...dbOption }, strict: true });
  if (!values.account) throw new Error('--account is required');
  // At most $10 billion at once: beyond 2^53 the number is no longer exact, and a grant that size is a typo.
  if (values.cents === undefined) throw new Error(`--cents is required: the grant in US cents, from 1 to ${MAX_GRANT_CENTS}`);
  if (!/^[1-9]\d{0,12}$/.test(values.cents) || Number(values.cents) > MAX_GRANT_CENTS) throw new Error(`--cents must be a whole number of US cents from 1 to ${MAX_GRANT_CENTS}, got "${values.cents}"`);
  const category = values.category ?? 'promotional';
  if (category !== 'purchase' && category !== 'promotional') throw new Error('--category must be purchase or promotional');
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom(), existing: true });
  try {
    if (!(await accountExists(store.db, values.account))) throw new Error(`account ${values.account} not found`);
    const account = values.account;
    await store.db.transaction().execute(async (trx) => {
      // A purchase recorded here (paid outside Stripe) lapses as any purchase does; a promotion never.
      await grantCredits(trx, account, Number(values.cents), category === 'purchase' ? { category, expiresAt: purchaseExpiry() } : { category });
      await new ChangeBus().recordAll(trx, [{ accountId: account, kind: 'credits', resourceId: account }]);
    });
    process.stdout.write(`${JSON.stringify({ accountId: values.account, grantedCents: Number(values.cents), category })}\n`);
  } finally {
    await store.close();
  }
}

/** The file's text, or an error naming it and why it could not be read, in words rather than Node's `ENOENT: …, open '…'`. */
function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new Error(`cannot read --file "${path}": ${why}`);
  }
}

/**
 * `tollgate usage import --file PATH`: stores the usage events a gateway set aside because the store refused them
 * (`<journal>.refused.jsonl`, docs/decisions/usage-durability.md), once the cause is fixed — the constraint dropped,
 * or the line edited. Each once: the store ignores an id it has. Prints what happened; exits 1 if the store still
 * refuses some (the file is left as it is, for another try).
 */
export async function usageImport(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'import') throw new Error('usage: tollgate usage import --file PATH');
  const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { file: { type: 'string' }, ...dbOption }, strict: true });
  if (!values.file) throw new Error("--file is required: a gateway's <journal>.refused.jsonl");
  // Every line is read and checked before the store is touched: a damaged or mistyped file imports nothing. An event
  // in the file twice (a journal row shipped again after a restart) counts once.
  const byId = new Map<string, UsageEvent>();
  const file = values.file;
  readFile(file).split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let event: UsageEvent;
    try {
      event = refusedEventFrom(line, i + 1);
    } catch (error) {
      // Said whole: "line 3: not JSON" alone left the operator to guess whether the other lines went in.
      throw new Error(`--file "${file}" ${error instanceof Error ? error.message : String(error)}; nothing was imported (fix or remove that line, then run it again)`);
    }
    byId.set(event.id, event);
  });
  const events = [...byId.values()];
  const store = await openStore(databaseUrl(values['database-url']), { silentConnectionMs: databaseSilenceMsFrom(), existing: true });
  // Accounts whose balance the store now counts these events in: running gateways read them again, even when the
  // import stops half-way (a store gone away) or an earlier run stored them without saying so.
  const accounts = new Set<string>();
  try {
    const present = new Set<string>();
    for (const chunk of inChunks(events.map((e) => e.id))) {
      for (const row of await store.db.selectFrom('usageEvents').select('id').where('id', 'in', chunk).execute()) present.add(row.id);
    }
    // An edited line's account must exist: stored, its cost would count against nobody (the store has no foreign key there).
    const known = new Set<string>();
    for (const chunk of inChunks([...new Set(events.map((e) => e.accountId))])) {
      for (const row of await store.db.selectFrom('accounts').select('id').where('id', 'in', chunk).execute()) known.add(row.id);
    }
    const refused: { id: string; error: string }[] = [];
    for (const event of events) {
      if (present.has(event.id)) {
        accounts.add(event.accountId);
        continue;
      }
      if (!known.has(event.accountId)) {
        refused.push({ id: event.id, error: `account ${event.accountId} does not exist` });
        continue;
      }
      try {
        await insertUsageEvents(store.db, [event]);
        accounts.add(event.accountId);
      } catch (error) {
        if (!isRowRefusal(error)) throw error;
        refused.push({ id: event.id, error: error instanceof Error ? error.message : String(error) });
      }
    }
    process.stdout.write(`${JSON.stringify({ events: events.length, stored: events.length - present.size - refused.length, alreadyStored: present.size, refused })}\n`);
    if (refused.length > 0) process.exitCode = 1;
  } finally {
    try {
      if (accounts.size > 0) await new ChangeBus().recordAll(store.db, [...accounts].map((accountId) => ({ accountId, kind: 'credits' as const, resourceId: accountId })));
    } catch (error) {
      // Not thrown: it would hide why the import stopped. Gateways catch up at their next full resync (a minute).
      process.stderr.write(`tollgate: running gateways were not told to read the balances again (${error instanceof Error ? error.message : String(error)}); they will within a minute\n`);
    } finally {
      await store.close();
    }
  }
}
