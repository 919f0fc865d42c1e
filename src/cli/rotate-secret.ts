// `tollgate rotate-secret --new-key KEY`: re-seals every provider key under a new TOLLGATE_SECRET_KEY in one
// transaction, so the store is never half old, half new. The current key comes from the usual place (env or
// the secret.key file). Run it with the processes stopped (see docs/operations.md): a running process would
// seal new keys under the old master key, and could not decrypt re-sealed ones on its next reload.
import { renameSync, writeFileSync, chmodSync, copyFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Kysely } from 'kysely';
import { loadConfig } from '../config/config.ts';
import { parseMasterKey, SecretBox } from '../domain/secret-box.ts';
import { openStore } from '../store/database.ts';
import type { Database } from '../store/schema.ts';

export interface RotationResult { resealed: number; alreadyNew: number }

/** Re-seals every provider key; throws (changing nothing) if one opens under neither key. */
export async function resealProviderKeys(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', oldBox: SecretBox, newBox: SecretBox): Promise<RotationResult> {
  return db.transaction().execute(async (trx) => {
    let query = trx.selectFrom('providerKeys').select(['id', 'sealedValue']).orderBy('id');
    // Serialises against another rotation (and any edit) of the same rows on PostgreSQL; SQLite's write
    // transaction already excludes other writers once the first update runs.
    if (dialect === 'postgres') query = query.forUpdate();
    const rows = await query.execute();
    const unreadable: string[] = [];
    const updates: { id: string; sealedValue: string }[] = [];
    let alreadyNew = 0;
    for (const row of rows) {
      const plain = tryOpen(oldBox, row.sealedValue);
      if (plain !== undefined) updates.push({ id: row.id, sealedValue: newBox.seal(plain) });
      else if (tryOpen(newBox, row.sealedValue) !== undefined) alreadyNew++; // a re-run after success
      else unreadable.push(row.id);
    }
    if (unreadable.length > 0) {
      throw new Error(`${unreadable.length} provider key(s) open under neither the current nor the new key (${unreadable.slice(0, 5).join(', ')}${unreadable.length > 5 ? ', …' : ''}); nothing was changed`);
    }
    for (const u of updates) await trx.updateTable('providerKeys').set({ sealedValue: u.sealedValue }).where('id', '=', u.id).execute();
    return { resealed: updates.length, alreadyNew };
  });
}

function tryOpen(box: SecretBox, sealed: string): string | undefined {
  try {
    return box.open(sealed);
  } catch {
    return undefined;
  }
}

export async function rotateSecret(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'new-key': { type: 'string' }, 'database-url': { type: 'string' } }, strict: true });
  if (!values['new-key']) throw new Error('usage: tollgate rotate-secret --new-key KEY (64 hex characters or base64 of 32 bytes)');
  const newKey = parseMasterKey(values['new-key']);
  const config = loadConfig(values['database-url'] ? { ...process.env, TOLLGATE_DATABASE_URL: values['database-url'] } : process.env);
  if (newKey.equals(config.masterKey)) throw new Error('the new key is the current key');
  const store = await openStore(config.databaseUrl);
  let result: RotationResult;
  try {
    result = await resealProviderKeys(store.db, store.dialect, new SecretBox(config.masterKey), new SecretBox(newKey));
  } finally {
    await store.close();
  }
  let keyFile: string | undefined;
  if (config.masterKeySource !== 'env' && config.masterKeyFile) {
    // The embedded default reads its key from this file: swap it atomically, keeping the old one beside it
    // until the operator has checked everything works (then it should be deleted).
    keyFile = config.masterKeyFile;
    copyFileSync(keyFile, `${keyFile}.previous`);
    chmodSync(`${keyFile}.previous`, 0o600);
    writeFileSync(`${keyFile}.new`, `${newKey.toString('hex')}\n`, { mode: 0o600 });
    renameSync(`${keyFile}.new`, keyFile);
  }
  process.stdout.write(`${JSON.stringify({ ...result, ...(keyFile ? { keyFile, previousKeyFile: `${keyFile}.previous` } : {}) })}\n`);
  if (!keyFile) process.stderr.write('Provider keys are now sealed under the new key: set TOLLGATE_SECRET_KEY to it on every process before starting them.\n');
}
