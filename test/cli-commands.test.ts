// What the administrative commands leave behind when they stop part-way: an operator runs them by hand and in
// scripts, and fixes the cause and runs the same command again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { refusedLine } from '../src/usage/refused-file.ts';
import { CLI } from './helpers/processes.ts';
import { usageEvent } from './helpers/usage.ts';

function tollgate(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('TOLLGATE_')) delete env[name];
  const run = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tables(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'tollgate_migrations%'").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

test('a migrate that stops part-way on SQLite leaves none of its migrations behind, and runs again once the cause is gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-migrate-'));
  try {
    const file = join(dir, 'tollgate.db');
    // A statement the database refuses half-way through the first migration, standing in for any stop there (Ctrl-C,
    // a crash): the tables made before it were kept, and every later migrate failed on "table accounts already exists".
    const db = new BetterSqlite3(file);
    db.exec('CREATE TABLE usage_events (id text)');
    db.close();
    const failed = tollgate(['migrate', '--database-url', `sqlite:${file}`]);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /^tollgate: database migration 0001_initial failed: table "usage_events" already exists\n$/);
    assert.deepEqual(tables(file), ['usage_events'], 'nothing of the failed migration kept');

    const fix = new BetterSqlite3(file);
    fix.exec('DROP TABLE usage_events');
    fix.close();
    const again = tollgate(['migrate', '--database-url', `sqlite:${file}`]);
    assert.deepEqual([again.status, again.stdout, again.stderr], [0, 'migrations applied\n', '']);
    assert.ok(tables(file).includes('accounts'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage import of a file with one bad line says which, that nothing was imported, and stores each event once when run again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-'));
  try {
    const url = `sqlite:${join(dir, 'tollgate.db')}`;
    assert.equal(tollgate(['migrate', '--database-url', url]).status, 0);
    const created = tollgate(['accounts', 'create', '--name', 'imported', '--database-url', url]);
    const accountId = (JSON.parse(created.stdout) as { account: { id: string } }).account.id;
    const file = join(dir, 'usage-journal.db.refused.jsonl');
    const good = refusedLine(usageEvent(accountId));
    writeFileSync(file, `${good}{"id":"ue_edited"\n`);
    const stored = () => {
      const db = new BetterSqlite3(join(dir, 'tollgate.db'), { readonly: true });
      try { return (db.prepare('SELECT count(*) AS n FROM usage_events').get() as { n: number }).n; } finally { db.close(); }
    };

    const bad = tollgate(['usage', 'import', '--file', file, '--database-url', url]);
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, `tollgate: --file "${file}" line 2: not JSON; nothing was imported (fix or remove that line, then run it again)\n`);
    assert.equal(stored(), 0);

    writeFileSync(file, good);
    const run = () => { const r = tollgate(['usage', 'import', '--file', file, '--database-url', url]); return [r.status, JSON.parse(r.stdout) as unknown, r.stderr]; };
    assert.deepEqual(run(), [0, { events: 1, stored: 1, alreadyStored: 0, refused: [] }, '']);
    assert.deepEqual(run(), [0, { events: 1, stored: 0, alreadyStored: 1, refused: [] }, '']);
    assert.equal(stored(), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
