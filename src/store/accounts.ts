// Accounts and their control-plane API keys. Tokens are stored only as SHA-256.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { newApiKeyToken, newId, redactSecret, sha256Hex } from '../domain/ids.ts';

export interface CreatedAccount { account: { id: string; name: string }; apiKey: { id: string; token: string } }

export async function countAccounts(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('accounts').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function createAccount(db: Kysely<Database>, name: string, token: string = newApiKeyToken()): Promise<CreatedAccount> {
  const now = new Date().toISOString();
  const accountId = newId('account');
  const apiKeyId = newId('apiKey');
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('accounts').values({ id: accountId, name, createdAt: now }).execute();
    await trx.insertInto('apiKeys').values({
      id: apiKeyId, accountId, name: 'bootstrap', description: null, metadata: null,
      tokenHash: sha256Hex(token), keyRedacted: redactSecret(token), lastUsed: null,
      createdAt: now, updatedAt: now, createdBy: accountId, lastUpdatedBy: accountId,
    }).execute();
  });
  return { account: { id: accountId, name }, apiKey: { id: apiKeyId, token } };
}

export async function accountExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}
