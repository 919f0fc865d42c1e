// Accounts and their control-plane API keys. Tokens are stored only as SHA-256.
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { newApiKeyToken, newId, redactSecret, sha256Hex } from '../domain/ids.ts';

export interface CreatedAccount { account: { id: string; name: string }; apiKey: { id: string; token: string } }

export async function createAccount(db: Kysely<Database>, name: string, token: string = newApiKeyToken()): Promise<CreatedAccount> {
  return (await insertAccount(db, name, token, false))!;
}

/**
 * Creates the first account of an empty database, or nothing if one exists. Safe when several processes
 * start at once: the claim row is written first (taking SQLite's write lock, or PostgreSQL's unique-index
 * wait), and only the process whose claim landed creates the account.
 */
export async function bootstrapAccount(db: Kysely<Database>, name: string, token: string = newApiKeyToken()): Promise<CreatedAccount | undefined> {
  return insertAccount(db, name, token, true);
}

async function insertAccount(db: Kysely<Database>, name: string, token: string, onlyIfFirst: boolean): Promise<CreatedAccount | undefined> {
  const now = new Date().toISOString();
  const accountId = newId('account');
  const apiKeyId = newId('apiKey');
  const created = await db.transaction().execute(async (trx) => {
    if (onlyIfFirst) {
      const claim = await sql`INSERT INTO bootstrap_claims (id) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM accounts) ON CONFLICT DO NOTHING`.execute(trx);
      if (Number(claim.numAffectedRows ?? 0n) === 0) return false;
    }
    await trx.insertInto('accounts').values({ id: accountId, name, createdAt: now }).execute();
    await insertOwnApiKey(trx, { id: apiKeyId, accountId, name: 'bootstrap', token, now });
    return true;
  });
  return created ? { account: { id: accountId, name }, apiKey: { id: apiKeyId, token } } : undefined;
}

/**
 * An API key made outside the API (first start, the CLI): no API key made it, so it names itself as its creator,
 * which keeps every `createdBy` reference resolvable (docs/decisions/foundation.md).
 */
async function insertOwnApiKey(db: Kysely<Database>, key: { id: string; accountId: string; name: string; token: string; now: string }): Promise<void> {
  await db.insertInto('apiKeys').values({
    id: key.id, accountId: key.accountId, name: key.name, description: null, metadata: null,
    tokenHash: sha256Hex(key.token), keyRedacted: redactSecret(key.token), lastUsed: null,
    createdAt: key.now, updatedAt: key.now, createdBy: key.id, lastUpdatedBy: key.id,
  }).execute();
}

/** Every account, oldest first (`tollgate accounts list`: the default account is the first). */
export function listAccounts(db: Kysely<Database>): Promise<{ id: string; name: string; createdAt: string }[]> {
  return db.selectFrom('accounts').select(['id', 'name', 'createdAt']).orderBy('createdAt').orderBy('id').execute();
}

/**
 * A new control-plane API key for an existing account, made outside the API (`tollgate api-keys create`): the way
 * back in when the first start's printed key was lost. Undefined when the account does not exist.
 */
export async function createApiKey(db: Kysely<Database>, accountId: string, name: string, token: string = newApiKeyToken()): Promise<{ id: string; token: string } | undefined> {
  const now = new Date().toISOString();
  const id = newId('apiKey');
  const created = await db.transaction().execute(async (trx) => {
    if (!(await accountExists(trx, accountId))) return false;
    await insertOwnApiKey(trx, { id, accountId, name, token, now });
    return true;
  });
  return created ? { id, token } : undefined;
}

export async function accountExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Whether `token` is the token of one of the database's API keys (compared by its hash, as stored). */
export async function isApiKeyToken(db: Kysely<Database>, token: string): Promise<boolean> {
  return (await db.selectFrom('apiKeys').select('id').where('tokenHash', '=', sha256Hex(token)).executeTakeFirst()) !== undefined;
}
