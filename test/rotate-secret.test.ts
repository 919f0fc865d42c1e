// `tollgate rotate-secret` as a real process on both stores: every provider key (standalone and inline in a
// configuration) and every request capture re-sealed under the new key in one transaction, idempotent on a re-run,
// all-or-nothing when a provider key opens under neither key, and the embedded secret.key file swapped (old one kept
// beside it).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { JournalFile } from '../src/usage/journal-file.ts';
import { dirname, join } from 'node:path';
import { STORE_KINDS } from './helpers/stores.ts';
import { startControl, type TestControl } from './helpers/control.ts';
import { Children, type Child } from './helpers/processes.ts';
import { accountAndIdSeal, legacySeal } from './helpers/legacy-seal.ts';
import { parseDatabaseUrl } from '../src/store/database.ts';
import { parseMasterKey, providerKeyBinding, SecretBox } from '../src/domain/secret-box.ts';
import { openCapture, sealCapture, type RequestCapture } from '../src/domain/request-capture.ts';
import { insertRequestCaptures } from '../src/store/request-captures.ts';

const children = new Children();
after(() => children.killAll());

async function seedKeys(c: TestControl): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const [providerId, value] of [['openai', 'sk-openai-aaaaaaaaaaaaaaaa'], ['anthropic', 'sk-ant-bbbbbbbbbbbbbbbbbbbb']] as const) {
    const res = await c.call('POST', '/provider-keys', { providerId, name: providerId, value });
    assert.equal(res.statusCode, 201, res.body);
    values.set((res.json() as { id: string }).id, value);
  }
  const inline = await c.call('POST', '/access-key-configurations', {
    name: 'inline', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ name: 'inline', value: 'sk-inline-cccccccccccccccc' }] }] }] },
  });
  assert.equal(inline.statusCode, 201, inline.body);
  const rows = await c.store.db.selectFrom('providerKeys').select(['id', 'accountId', 'providerId', 'sealedValue']).execute();
  for (const row of rows) if (!values.has(row.id)) values.set(row.id, new SecretBox(c.config.masterKey).open(row.sealedValue, providerKeyBinding(row)));
  assert.equal(values.size, 3);
  return values;
}

/** What each key's value is bound to (its account, provider and id). */
async function bindings(c: TestControl): Promise<Map<string, string>> {
  const rows = await c.store.db.selectFrom('providerKeys').select(['id', 'accountId', 'providerId']).execute();
  return new Map(rows.map((r) => [r.id, providerKeyBinding(r)]));
}

/** Every provider key opens, for its own row, under `masterKey` to the value it was created with. */
async function assertSealedUnder(c: TestControl, masterKey: Buffer, plain: Map<string, string>): Promise<void> {
  const box = new SecretBox(masterKey);
  const bound = await bindings(c);
  for (const [id, sealed] of await sealedRows(c)) assert.equal(box.open(sealed, bound.get(id)!), plain.get(id));
}

async function sealedRows(c: TestControl): Promise<Map<string, string>> {
  const rows = await c.store.db.selectFrom('providerKeys').select(['id', 'sealedValue']).execute();
  return new Map(rows.map((r) => [r.id, r.sealedValue]));
}

for (const kind of STORE_KINDS) {
  describe(`tollgate rotate-secret on ${kind}`, () => {
    test('re-seals every provider key; a re-run is a no-op; an unreadable key changes nothing', async () => {
      const c = await startControl(kind);
      try {
        const plain = await seedKeys(c);
        const oldHex = c.config.masterKey.toString('hex');
        const newHex = randomBytes(32).toString('hex');
        const env = { TOLLGATE_DATABASE_URL: c.database.url, TOLLGATE_SECRET_KEY: oldHex };

        // One value as sealed before values were bound to their row: the rotation binds it too.
        const legacy = [...plain.keys()][1]!;
        await c.store.db.updateTable('providerKeys').set({ sealedValue: legacySeal(c.config.masterKey, plain.get(legacy)!) }).where('id', '=', legacy).execute();
        // One as sealed bound to its account and id but not its provider (2026-12-03 07:23–08:03): bound whole too.
        const early = await c.store.db.selectFrom('providerKeys').select(['id', 'accountId']).where('id', '=', [...plain.keys()][2]!).executeTakeFirstOrThrow();
        await c.store.db.updateTable('providerKeys').set({ sealedValue: accountAndIdSeal(c.config.masterKey, plain.get(early.id)!, early) }).where('id', '=', early.id).execute();
        const out = JSON.parse(await children.run('rotate', ['rotate-secret', '--new-key', newHex], env)) as { resealed: number; alreadyNew: number };
        assert.deepEqual(out, { resealed: 3, alreadyNew: 0 });
        const newBox = new SecretBox(Buffer.from(newHex, 'hex'));
        const oldBox = new SecretBox(c.config.masterKey);
        const bound = await bindings(c);
        for (const [id, sealed] of await sealedRows(c)) {
          assert.match(sealed, /^v2:/);
          assert.throws(() => newBox.open(sealed, bound.get(id)!.replace(c.accountId, c.other.accountId)), 'bound to its account');
          assert.equal(newBox.open(sealed, bound.get(id)!), plain.get(id));
          assert.throws(() => oldBox.open(sealed, bound.get(id)!));
        }

        const again = JSON.parse(await children.run('rotate again', ['rotate-secret', '--new-key', newHex], env)) as { resealed: number; alreadyNew: number };
        assert.deepEqual(again, { resealed: 0, alreadyNew: 3 });

        // A key sealed under some third master key: the rotation refuses and leaves every row as it was.
        const stray = [...plain.keys()][0]!;
        await c.store.db.updateTable('providerKeys').set({ sealedValue: new SecretBox(randomBytes(32)).seal('sk-stray', (await bindings(c)).get(stray)!) }).where('id', '=', stray).execute();
        const before = await sealedRows(c);
        await assert.rejects(children.run('rotate back', ['rotate-secret', '--new-key', oldHex], { ...env, TOLLGATE_SECRET_KEY: newHex }), /open under neither/);
        assert.deepEqual(await sealedRows(c), before);

        // The current key as the new one is a re-run: a check, which the stray key fails.
        await assert.rejects(children.run('same key', ['rotate-secret', '--new-key', newHex], { ...env, TOLLGATE_SECRET_KEY: newHex }), /the new key is the current key, and 1 provider key\(s\) do not open under it/);
        assert.deepEqual(await sealedRows(c), before);
        await assert.rejects(children.run('bad key', ['rotate-secret', '--new-key', 'short'], env), /the new key \(--new-key\) must be 32 bytes given as 64 hex characters or base64/);
      } finally {
        await c.close();
      }
    });

    test('re-seals request captures with the provider keys, so they still open; expired ones and ones no key opens are deleted', async () => {
      const c = await startControl(kind);
      try {
        await seedKeys(c);
        const oldBox = new SecretBox(c.config.masterKey);
        const newHex = randomBytes(32).toString('hex');
        const newBox = new SecretBox(Buffer.from(newHex, 'hex'));
        const now = Date.now();
        const row = (requestId: string, box: SecretBox, expiresInMs = 3_600_000) => {
          const capture = capturedExchange(c.accountId, requestId);
          return { accountId: c.accountId, requestId, capturedAt: capture.capturedAt, expiresAt: new Date(now + expiresInMs).toISOString(), sealed: sealCapture(box, capture) };
        };
        // More than one page of them (the rotation reads them a hundred at a time).
        const kept = Array.from({ length: 130 }, (_, i) => `rq_kept_${String(i).padStart(3, '0')}`);
        await insertRequestCaptures(c.store.db, [...kept.map((id) => row(id, oldBox)), row('rq_expired', oldBox, -1_000), row('rq_stray', new SecretBox(randomBytes(32)))]);

        const out = JSON.parse(await children.run('rotate', ['rotate-secret', '--new-key', newHex], { TOLLGATE_DATABASE_URL: c.database.url, TOLLGATE_SECRET_KEY: c.config.masterKey.toString('hex') })) as Record<string, unknown>;
        assert.deepEqual(out, { resealed: 3, alreadyNew: 0, captures: { resealed: 130, deleted: 2 } });
        const rows = await c.store.db.selectFrom('requestCaptures').selectAll().orderBy('requestId').execute();
        assert.deepEqual(rows.map((r) => r.requestId), kept);
        for (const r of rows) {
          const opened = openCapture(newBox, r.accountId, r.requestId, r.sealed);
          const { request, response } = capturedExchange(c.accountId, r.requestId);
          assert.deepEqual(opened, { request, response });
          assert.throws(() => openCapture(oldBox, r.accountId, r.requestId, r.sealed));
        }
      } finally {
        await c.close();
      }
    });
  });
}

/** A small capture of `requestId`, the same each time it is made. */
function capturedExchange(accountId: string, requestId: string): RequestCapture {
  const text = `{"id":"${requestId}"}`;
  const body = { headers: { 'content-type': 'application/json' }, body: text, bodyEncoding: 'utf8' as const, bodyBytes: Buffer.byteLength(text), bodyTruncated: false };
  return { accountId, requestId, capturedAt: '2026-01-01T00:00:00.000Z', request: { method: 'POST', path: '/v1/chat/completions', ...body }, response: { statusCode: 200, complete: true, ...body } };
}

/**
 * A SQLite deployment with three provider keys whose master key is the embedded `secret.key` beside the database:
 * written with the current key, or (`keyFile: false`) absent.
 */
async function withEmbeddedKey(body: (c: TestControl, plain: Map<string, string>, file: string, oldHex: string) => Promise<void>, keyFile = true): Promise<void> {
  const c = await startControl('sqlite');
  try {
    const plain = await seedKeys(c);
    const file = join(dirname(parseDatabaseUrl(c.database.url).path), 'secret.key');
    const oldHex = c.config.masterKey.toString('hex');
    if (keyFile) writeFileSync(file, `${oldHex}\n`, { mode: 0o600 });
    else rmSync(file, { force: true });
    await body(c, plain, file, oldHex);
  } finally {
    await c.close();
  }
}

describe('tollgate rotate-secret with the embedded secret.key file', () => {
  test('the file is swapped to the new key and the old one kept as secret.key.previous', async () => {
    await withEmbeddedKey(async (c, plain, file, oldHex) => {
      const newHex = randomBytes(32).toString('hex');
      const out = JSON.parse(await children.run('rotate', ['rotate-secret', '--new-key', newHex], { TOLLGATE_DATABASE_URL: c.database.url })) as Record<string, unknown>;
      assert.equal(out.resealed, 3);
      assert.equal(out.keyFile, file);
      assert.equal(readFileSync(file, 'utf8').trim(), newHex);
      assert.equal(readFileSync(`${file}.previous`, 'utf8').trim(), oldHex);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(`${file}.previous`).mode & 0o777, 0o600);
      await assertSealedUnder(c, Buffer.from(newHex, 'hex'), plain);
      // Run again (a script retrying an unclear failure): a no-op, and the old key's copy is not overwritten.
      const again = JSON.parse(await children.run('rotate again', ['rotate-secret', '--new-key', newHex], { TOLLGATE_DATABASE_URL: c.database.url })) as Record<string, unknown>;
      assert.deepEqual(again, { resealed: 0, alreadyNew: 3 });
      assert.equal(readFileSync(file, 'utf8').trim(), newHex);
      assert.equal(readFileSync(`${file}.previous`, 'utf8').trim(), oldHex);
      await assertSealedUnder(c, Buffer.from(newHex, 'hex'), plain);
    });
  });
});

describe('tollgate rotate-secret when the key file cannot be swapped after the commit', () => {
  test('says the provider keys are already sealed under the new key (not a bare file error read as "nothing changed"), and a re-run with the same key finishes the swap', async () => {
    await withEmbeddedKey(async (c, plain, file, oldHex) => {
      // Something in the way of the old key's copy (here a directory of its name; a full disk, a read-only file).
      mkdirSync(`${file}.previous`);
      const newHex = randomBytes(32).toString('hex');
      const env = { TOLLGATE_DATABASE_URL: c.database.url };
      await assert.rejects(children.run('rotate, swap refused', ['rotate-secret', '--new-key', '-'], env, { stdin: newHex }),
        /every provider key is now sealed under the NEW key, but .*secret\.key still holds the old one and could not be replaced .*run the same command again with the same new key/);
      await assertSealedUnder(c, Buffer.from(newHex, 'hex'), plain);
      assert.equal(readFileSync(file, 'utf8').trim(), oldHex);
      rmSync(`${file}.previous`, { recursive: true });
      const out = JSON.parse(await children.run('rotate again', ['rotate-secret', '--new-key', '-'], env, { stdin: newHex })) as Record<string, unknown>;
      assert.deepEqual(out, { resealed: 0, alreadyNew: 3, keyFile: file, previousKeyFile: `${file}.previous` });
      assert.equal(readFileSync(file, 'utf8').trim(), newHex);
      assert.equal(readFileSync(`${file}.previous`, 'utf8').trim(), oldHex);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    });
  });
});

describe('tollgate rotate-secret without the current key', () => {
  test('no TOLLGATE_SECRET_KEY and no secret.key: refused, and no random secret.key is left beside the database', async () => {
    await withEmbeddedKey(async (c, plain, file) => {
      const before = await sealedRows(c);
      await assert.rejects(children.run('rotate, no current key', ['rotate-secret', '--new-key', '-'], { TOLLGATE_DATABASE_URL: c.database.url }, { stdin: randomBytes(32).toString('hex') }),
        /no current key: TOLLGATE_SECRET_KEY is not set and there is no secret\.key beside the database/);
      assert.equal(existsSync(file), false, 'a secret.key made up by the rotation');
      assert.deepEqual(await sealedRows(c), before);
      await assertSealedUnder(c, c.config.masterKey, plain);
    }, false);
  });
});

describe('tollgate rotate-secret beside a running gateway', () => {
  test('is refused while a gateway holds this host\'s usage journal (it would keep the old key and drop every re-sealed one), and runs once it has stopped', async () => {
    const c = await startControl('sqlite');
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rotate-journal-'));
    const journalPath = join(dir, 'usage-journal.db');
    try {
      const plain = await seedKeys(c);
      const env = { TOLLGATE_DATABASE_URL: c.database.url, TOLLGATE_SECRET_KEY: c.config.masterKey.toString('hex'), TOLLGATE_JOURNAL_PATH: journalPath };
      const newHex = randomBytes(32).toString('hex');
      // What a running gateway holds for as long as it lives.
      const journal = JournalFile.open(journalPath);
      const before = await sealedRows(c);
      await assert.rejects(children.run('rotate beside a gateway', ['rotate-secret', '--new-key', newHex], env), /a running Tollgate gateway holds the usage journal .*usage-journal\.db: stop every Tollgate process before rotating/);
      assert.deepEqual(await sealedRows(c), before, 'nothing was changed');
      journal.close();
      const out = JSON.parse(await children.run('rotate after the stop', ['rotate-secret', '--new-key', newHex], env)) as Record<string, unknown>;
      assert.deepEqual(out, { resealed: 3, alreadyNew: 0 });
      await assertSealedUnder(c, Buffer.from(newHex, 'hex'), plain);
    } finally {
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tollgate rotate-secret with the new key off the command line', () => {
  test('reads it from TOLLGATE_SECRET_KEY_NEW or stdin (--new-key -); --new-key KEY still works, with a warning that never shows the key', async () => {
    const c = await startControl('sqlite');
    try {
      const plain = await seedKeys(c);
      const [viaEnv, viaStdin, viaFlag] = [randomBytes(32).toString('hex'), randomBytes(32).toString('base64'), randomBytes(32).toString('hex')];
      const current = (key: string) => ({ TOLLGATE_DATABASE_URL: c.database.url, TOLLGATE_SECRET_KEY: key });
      const resealedAll = (child: Child) => assert.deepEqual(JSON.parse(child.stdout()), { resealed: 3, alreadyNew: 0 });

      const fromEnv = await children.finish('rotate (env)', ['rotate-secret'], { ...current(c.config.masterKey.toString('hex')), TOLLGATE_SECRET_KEY_NEW: viaEnv });
      resealedAll(fromEnv);
      assert.doesNotMatch(fromEnv.stderr(), /warning/);
      await assertSealedUnder(c, parseMasterKey(viaEnv), plain);

      // As `openssl rand -base64 32 > new.key` writes it: with a trailing newline.
      const fromStdin = await children.finish('rotate (stdin)', ['rotate-secret', '--new-key', '-'], current(viaEnv), { stdin: `${viaStdin}\n` });
      resealedAll(fromStdin);
      assert.doesNotMatch(fromStdin.stderr(), /warning/);
      await assertSealedUnder(c, parseMasterKey(viaStdin), plain);

      const fromFlag = await children.finish('rotate (flag)', ['rotate-secret', '--new-key', viaFlag], current(viaStdin));
      resealedAll(fromFlag);
      assert.match(fromFlag.stderr(), /warning: --new-key KEY shows the key in the process list and shell history; prefer TOLLGATE_SECRET_KEY_NEW or --new-key - \(stdin\)/);
      assert.ok(!fromFlag.output().includes(viaFlag), fromFlag.output());
      await assertSealedUnder(c, parseMasterKey(viaFlag), plain);

      const now = current(viaFlag);
      await assert.rejects(children.run('both', ['rotate-secret', '--new-key', viaEnv], { ...now, TOLLGATE_SECRET_KEY_NEW: viaStdin }), /give the new key once/);
      await assert.rejects(children.run('empty stdin', ['rotate-secret', '--new-key', '-'], now, { stdin: '' }), /found no key on stdin/);
      await assert.rejects(children.run('bad env key', ['rotate-secret'], { ...now, TOLLGATE_SECRET_KEY_NEW: 'short' }), /the new key \(TOLLGATE_SECRET_KEY_NEW\) must be 32 bytes/);
      await assert.rejects(children.run('no key', ['rotate-secret'], now), /usage: TOLLGATE_SECRET_KEY_NEW=KEY tollgate rotate-secret/);
      await assertSealedUnder(c, parseMasterKey(viaFlag), plain);
    } finally {
      await c.close();
    }
  });
});
