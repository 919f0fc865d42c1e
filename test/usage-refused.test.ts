// A usage event the store refuses (here: a trigger an operator added) must not hold back the events after it: it is
// set aside beside the journal, counted in /metrics, and every other event reaches the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pino from 'pino';
import { startFakeProvider } from './fake-upstream.ts';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate } from '../src/server.ts';

async function within(ms: number, what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('an event the store refuses is set aside and counted, the events before and after it stored; `tollgate usage import` stores it once fixed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-refused-'));
  const fake = await startFakeProvider();
  const bootstrap = `tgapi_${randomBytes(20).toString('hex')}`;
  const journal = join(dir, 'usage-journal.db');
  const running = await startTollgate(loadConfig({
    TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`, TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'), TOLLGATE_BOOTSTRAP_API_KEY: bootstrap,
    TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', TOLLGATE_JOURNAL_PATH: journal,
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed', TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  }), { logger: pino({ level: 'silent' }) });
  const db = new BetterSqlite3(join(dir, 'tollgate.db'));
  try {
    const key = async (name: string) => {
      const res = await fetch(`${running.apiUrl}/access-keys`, { method: 'POST', headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      assert.equal(res.status, 201);
      return await res.json() as { id: string; token: string };
    };
    const [good, refused] = [await key('good'), await key('refused')];
    db.exec(`CREATE TRIGGER refuse_key BEFORE INSERT ON usage_events WHEN NEW.access_key_id = '${refused.id}' BEGIN SELECT RAISE(ABORT, 'refused by the operator''s trigger'); END`);
    const chat = async (token: string) => {
      const res = await fetch(`${running.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
      assert.equal(res.status, 200);
      await res.text();
    };
    await chat(good.token);
    await chat(refused.token);
    await chat(good.token);
    // The refused event may ship alone first, and waits then for an event the store takes to ship with.
    for (let i = 0; i < 5; i++) await chat(good.token);
    const stored = () => (db.prepare('SELECT access_key_id AS k, count(*) AS n FROM usage_events GROUP BY access_key_id').all() as { k: string; n: number }[]);
    await within(5_000, 'every event of the good key stored', () => stored().some((r) => r.k === good.id && r.n === 7));
    const file = `${journal}${'.refused.jsonl'}`;
    await within(5_000, 'the refused event set aside', () => existsSync(file));
    const aside = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; accessKeyId: string; statusCode: number; costPico: string });
    assert.deepEqual(aside.map((e) => [e.accessKeyId, e.statusCode]), [[refused.id, 200]]);
    assert.equal(typeof aside[0]!.costPico, 'string');
    assert.deepEqual(stored().map((r) => r.k), [good.id], 'nothing of the refused key stored');
    const metrics = await (await fetch(`${running.apiUrl}/metrics`)).text();
    assert.match(metrics, /^tollgate_usage_refused_events_total 1$/m);
    assert.match(metrics, /^tollgate_usage_backlog_events 0$/m);

    // The operator's way back: while the store still refuses it, the import says so and exits 1; once the cause is
    // gone, it stores the event, once.
    const importRefused = (): { status: number | null; out: { events: number; stored: number; alreadyStored: number; refused: { id: string }[] } } => {
      const run = spawnSync(process.execPath, ['src/cli/main.ts', 'usage', 'import', '--file', file, '--database-url', `sqlite:${join(dir, 'tollgate.db')}`], { encoding: 'utf8' });
      assert.equal(run.stderr, '');
      return { status: run.status, out: JSON.parse(run.stdout) as ReturnType<typeof importRefused>['out'] };
    };
    const still = importRefused();
    assert.equal(still.status, 1);
    assert.deepEqual([still.out.stored, still.out.refused.map((r) => r.id)], [0, [aside[0]!.id]]);
    db.exec('DROP TRIGGER refuse_key');
    assert.deepEqual(importRefused(), { status: 0, out: { events: 1, stored: 1, alreadyStored: 0, refused: [] } });
    assert.deepEqual(importRefused(), { status: 0, out: { events: 1, stored: 0, alreadyStored: 1, refused: [] } });
    const row = db.prepare('SELECT access_key_id AS k, status_code AS s, cost_pico AS c FROM usage_events WHERE id = ?').get(aside[0]!.id) as { k: string; s: number; c: number | string };
    assert.deepEqual([row.k, row.s, String(row.c)], [refused.id, 200, aside[0]!.costPico]);
    // A line edited to an account that does not exist is refused by name, not stored against nobody.
    const line = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify({ ...line, id: `${String(line.id)}x`, accountId: 'acct_doesnotexist' })}\n`);
    const orphan = importRefused();
    assert.equal(orphan.status, 1);
    assert.deepEqual([orphan.out.stored, orphan.out.refused], [0, [{ id: `${String(line.id)}x`, error: 'account acct_doesnotexist does not exist' }]]);
    assert.equal((db.prepare('SELECT count(*) AS n FROM usage_events WHERE account_id = ?').get('acct_doesnotexist') as { n: number }).n, 0);
  } finally {
    db.close();
    await running.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
