// `tollgate rotate-secret`: re-seals every provider key (and request capture) under a new TOLLGATE_SECRET_KEY in one
// transaction, so the store is never half old, half new. The current key comes from the usual place (env or the secret.key
// file); the new one from TOLLGATE_SECRET_KEY_NEW, stdin (`--new-key -`) or, for compatibility, `--new-key KEY`.
// Run it with the processes stopped (see docs/operations.md): a running process would seal new keys under the
// old master key, and could not decrypt re-sealed ones on its next reload.
import { chmodSync, closeSync, copyFileSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { joinNegativeNumbers } from './args.ts';
import type { Kysely } from 'kysely';
import { databaseUrlFrom, loadConfig } from '../config/config.ts';
import { openProviderKey, parseMasterKey, providerKeyBinding, SecretBox } from '../domain/secret-box.ts';
import { openStore, requireExistingDatabase } from '../store/database.ts';
import { heldJournalSlots } from '../usage/journal-file.ts';
import type { Database } from '../store/schema.ts';
import { deleteExpiredCaptures } from '../store/request-captures.ts';
import { openCapture, sealCapture } from '../domain/request-capture.ts';

export interface RotationResult {
  resealed: number;
  alreadyNew: number;
  /**
   * Request captures, when the store holds any: re-sealed, or deleted — expired, or opening under neither key (a
   * capture is debugging data: one that cannot be read is as good as gone, and must not stop the rotation).
   */
  captures?: { resealed: number; deleted: number };
}

/** Captures re-sealed per read: their bodies make rows of up to twice the capture limit. */
const CAPTURE_PAGE = 100;

/** Re-seals every unexpired request capture under the new key, in the rotation's transaction, a page at a time. */
async function resealCaptures(trx: Kysely<Database>, oldBox: SecretBox, newBox: SecretBox): Promise<RotationResult['captures']> {
  let deleted = await deleteExpiredCaptures(trx, new Date().toISOString());
  let resealed = 0;
  let after: { accountId: string; requestId: string } | undefined;
  for (;;) {
    let query = trx.selectFrom('requestCaptures').select(['accountId', 'requestId', 'capturedAt', 'sealed']).orderBy('accountId').orderBy('requestId').limit(CAPTURE_PAGE);
    const from = after;
    if (from) query = query.where((eb) => eb.or([eb('accountId', '>', from.accountId), eb.and([eb('accountId', '=', from.accountId), eb('requestId', '>', from.requestId)])]));
    const rows = await query.execute();
    for (const row of rows) {
      const opened = tryOpenCapture(oldBox, row);
      if (opened) {
        const sealed = sealCapture(newBox, { accountId: row.accountId, requestId: row.requestId, capturedAt: row.capturedAt, ...opened });
        await trx.updateTable('requestCaptures').set({ sealed }).where('accountId', '=', row.accountId).where('requestId', '=', row.requestId).execute();
        resealed++;
      } else if (!tryOpenCapture(newBox, row)) {
        await trx.deleteFrom('requestCaptures').where('accountId', '=', row.accountId).where('requestId', '=', row.requestId).execute();
        deleted++;
      }
    }
    if (rows.length < CAPTURE_PAGE) break;
    after = rows[rows.length - 1]!;
  }
  return resealed + deleted > 0 ? { resealed, deleted } : undefined;
}

function tryOpenCapture(box: SecretBox, row: { accountId: string; requestId: string; sealed: string }): ReturnType<typeof openCapture> | undefined {
  try {
    return openCapture(box, row.accountId, row.requestId, row.sealed);
  } catch {
    return undefined;
  }
}

/**
 * Re-seals every provider key, and every request capture; throws (changing nothing) if a provider key opens under
 * neither key.
 */
export async function resealProviderKeys(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', oldBox: SecretBox, newBox: SecretBox): Promise<RotationResult> {
  return db.transaction().execute(async (trx) => {
    // A Bedrock key backed by an IAM role holds no secret (its sealed value is ''): nothing to re-seal.
    let query = trx.selectFrom('providerKeys').select(['id', 'accountId', 'providerId', 'sealedValue']).where('sealedValue', '!=', '').orderBy('id');
    // Serialises against another rotation (and any edit) of the same rows on PostgreSQL; SQLite's write
    // transaction already excludes other writers once the first update runs.
    if (dialect === 'postgres') query = query.forUpdate();
    const rows = await query.execute();
    const unreadable: string[] = [];
    const updates: { id: string; sealedValue: string }[] = [];
    let alreadyNew = 0;
    for (const row of rows) {
      const plain = tryOpen(oldBox, row);
      // Re-sealed bound to the whole row, so rotating the master key also binds values sealed before that binding.
      if (plain !== undefined) updates.push({ id: row.id, sealedValue: newBox.seal(plain, providerKeyBinding(row)) });
      else if (tryOpen(newBox, row) !== undefined) alreadyNew++; // a re-run after success
      else unreadable.push(row.id);
    }
    if (unreadable.length > 0) {
      throw new Error(`${unreadable.length} provider key(s) open under neither the current nor the new key (${unreadable.slice(0, 5).join(', ')}${unreadable.length > 5 ? ', …' : ''}); nothing was changed`);
    }
    for (const u of updates) await trx.updateTable('providerKeys').set({ sealedValue: u.sealedValue }).where('id', '=', u.id).execute();
    const captures = await resealCaptures(trx, oldBox, newBox);
    return { resealed: updates.length, alreadyNew, ...(captures ? { captures } : {}) };
  });
}

/**
 * A re-run after a rotation that already swapped the embedded key file (or with TOLLGATE_SECRET_KEY already set
 * to the new key): nothing to re-seal, but every provider key must open under it, as after a success.
 */
export async function checkProviderKeys(db: Kysely<Database>, box: SecretBox): Promise<RotationResult> {
  const rows = await db.selectFrom('providerKeys').select(['id', 'accountId', 'providerId', 'sealedValue']).where('sealedValue', '!=', '').orderBy('id').execute();
  const unreadable = rows.filter((row) => tryOpen(box, row) === undefined).map((row) => row.id);
  if (unreadable.length > 0) {
    throw new Error(`the new key is the current key, and ${unreadable.length} provider key(s) do not open under it (${unreadable.slice(0, 5).join(', ')}${unreadable.length > 5 ? ', …' : ''}); nothing was changed`);
  }
  return { resealed: 0, alreadyNew: rows.length };
}

function tryOpen(box: SecretBox, row: { accountId: string; providerId: string; id: string; sealedValue: string }): string | undefined {
  try {
    return openProviderKey(box, row.sealedValue, row);
  } catch {
    return undefined;
  }
}

const NEW_KEY_ENV = 'TOLLGATE_SECRET_KEY_NEW';

const USAGE = `usage: ${NEW_KEY_ENV}=KEY tollgate rotate-secret, or tollgate rotate-secret --new-key - < FILE (KEY: 64 hex characters or base64 of 32 bytes)`;

/**
 * The new master key. A value on the command line is visible to every local user in `ps` and stays in shell
 * history, so it is still accepted (older scripts) but warned about; the key itself is never printed.
 */
async function newKeyFrom(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const fromEnv = env[NEW_KEY_ENV];
  // Two sources could name different keys, and guessing which one wins would re-seal under the wrong one.
  if (flag && fromEnv) throw new Error(`give the new key once: --new-key or ${NEW_KEY_ENV}, not both`);
  if (flag === '-') return parseNewKey(await readStdin(), 'stdin');
  if (flag) {
    process.stderr.write(`tollgate: warning: --new-key KEY shows the key in the process list and shell history; prefer ${NEW_KEY_ENV} or --new-key - (stdin)\n`);
    return parseNewKey(flag, '--new-key');
  }
  if (fromEnv) return parseNewKey(fromEnv, NEW_KEY_ENV);
  throw new Error(USAGE);
}

async function readStdin(): Promise<string> {
  // Typed at a terminal the key would be echoed on screen, and a forgotten `-` would just hang.
  if (process.stdin.isTTY) throw new Error('--new-key - reads the key from stdin: pipe or redirect it in (e.g. < new.key)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new Error('--new-key - found no key on stdin');
  return text;
}

function parseNewKey(text: string, source: string): Buffer {
  try {
    return parseMasterKey(text);
  } catch {
    throw new Error(`the new key (${source}) must be 32 bytes given as 64 hex characters or base64`);
  }
}

export async function rotateSecret(args: string[]): Promise<void> {
  const { values } = parseArgs({ args: joinNegativeNumbers(args), options: { 'new-key': { type: 'string' }, 'database-url': { type: 'string' } }, strict: true });
  // `--database-url ""` would otherwise re-seal the default database's keys, not the ones meant.
  if (values['database-url'] !== undefined && values['database-url'].trim() === '') throw new Error('--database-url needs a value');
  const newKey = await newKeyFrom(values['new-key'], process.env);
  // Before the config: on the embedded default it would make a secret.key beside a database that is not there.
  requireExistingDatabase(databaseUrlFrom(process.env, values['database-url']));
  const config = loadConfig(values['database-url'] !== undefined ? { ...process.env, TOLLGATE_DATABASE_URL: values['database-url'] } : process.env);
  // No TOLLGATE_SECRET_KEY and no secret.key: loading the config just made a random one, which opens nothing (a shell
  // without the variable the processes are started with). Not left behind for a later start to load without a word.
  if (config.masterKeySource === 'generated') {
    rmSync(config.masterKeyFile!, { force: true });
    throw new Error('no current key: TOLLGATE_SECRET_KEY is not set and there is no secret.key beside the database; set TOLLGATE_SECRET_KEY to the key the processes use; nothing was changed');
  }
  // A gateway running beside it keeps the old key and drops every re-sealed value on its next reload (clients get
  // 500s): one that holds this host's usage journal is seen. Other hosts' cannot be; the procedure says stop them.
  const held = heldJournalSlots(config.journalPath);
  if (held.length > 0) throw new Error(`a running Tollgate gateway holds the usage journal ${held[0]}: stop every Tollgate process before rotating (docs/operations.md, "Rotating TOLLGATE_SECRET_KEY"); nothing was changed`);
  // The same key again is a re-run after success (on the embedded default the first run swapped secret.key): a
  // check that changes nothing, the key file and its .previous (the old key) included.
  const rerun = newKey.equals(config.masterKey);
  // The embedded default reads its key from this file. The new key is written beside it (on disk, synced) before the
  // store changes: a file that cannot be written stops the rotation while nothing has changed yet, and a crash after
  // the commit leaves the new key on this disk.
  const keyFile = !rerun && config.masterKeySource !== 'env' ? config.masterKeyFile : undefined;
  if (keyFile) writeKeyFile(`${keyFile}.new`, newKey);
  const store = await openStore(config.databaseUrl, { silentConnectionMs: config.databaseSilenceMs, existing: true });
  let result: RotationResult;
  try {
    result = rerun
      ? await checkProviderKeys(store.db, new SecretBox(newKey))
      : await resealProviderKeys(store.db, store.dialect, new SecretBox(config.masterKey), new SecretBox(newKey));
  } catch (error) {
    if (keyFile) rmSync(`${keyFile}.new`, { force: true });
    throw error;
  } finally {
    await store.close();
  }
  if (keyFile) {
    // Swap it atomically, keeping the old one beside it until the operator has checked everything works (then it
    // should be deleted). The store is already sealed under the new key: a failure here must say so, or the new key
    // would be thrown away with a rotation believed to have changed nothing.
    try {
      copyFileSync(keyFile, `${keyFile}.previous`);
      chmodSync(`${keyFile}.previous`, 0o600);
      renameSync(`${keyFile}.new`, keyFile);
      syncDirectory(dirname(keyFile));
    } catch (error) {
      throw new Error(`every provider key is now sealed under the NEW key, but ${keyFile} still holds the old one and could not be replaced (${error instanceof Error ? error.message : String(error)}): keep the new key; fix the cause and run the same command again with the same new key (it only swaps the file then), or put the new key in ${keyFile} yourself`);
    }
  }
  process.stdout.write(`${JSON.stringify({ ...result, ...(keyFile ? { keyFile, previousKeyFile: `${keyFile}.previous` } : {}) })}\n`);
  if (!keyFile && !(rerun && config.masterKeySource !== 'env')) process.stderr.write('Provider keys are now sealed under the new key: set TOLLGATE_SECRET_KEY to it on every process before starting them.\n');
}

/** The key in hex, owner-only, on disk before returning (a stale file of another mode is replaced, not reused). */
function writeKeyFile(path: string, key: Buffer): void {
  rmSync(path, { force: true });
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The rename itself on disk (best effort: not every platform can sync a directory). */
function syncDirectory(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Windows and some file systems refuse it; the rename is still atomic.
  }
}
