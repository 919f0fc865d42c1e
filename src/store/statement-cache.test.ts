import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, SqliteDialect, sql } from 'kysely';
import { withKeptStatements } from './statement-cache.ts';

function counted(sqlite: BetterSqlite3.Database): { prepares: () => number } {
  let prepares = 0;
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => { prepares++; return prepare(source); }) as typeof sqlite.prepare;
  return { prepares: () => prepares };
}

test('a query run again reuses its statement: prepared once, same answers', async () => {
  const sqlite = new BetterSqlite3(':memory:');
  const counter = counted(sqlite);
  const db = new Kysely<{ keys: { id: string; name: string } }>({ dialect: new SqliteDialect({ database: withKeptStatements(sqlite) }) });
  await sql`create table keys (id text primary key, name text not null)`.execute(db);
  for (const id of ['a', 'b', 'c']) await db.insertInto('keys').values({ id, name: `key ${id}` }).execute();
  const preparedBefore = counter.prepares();
  for (const id of ['a', 'b', 'c', 'a']) {
    const row = await db.selectFrom('keys').selectAll().where('id', '=', id).executeTakeFirst();
    assert.deepEqual(row, { id, name: `key ${id}` });
  }
  assert.equal(counter.prepares() - preparedBefore, 1);
  await db.destroy();
  assert.equal(sqlite.open, false, 'destroying the Kysely instance closes the database');
});

test('kept statements are bounded: the least recently used is prepared again, the rest are kept', async () => {
  const sqlite = new BetterSqlite3(':memory:');
  const counter = counted(sqlite);
  const kept = withKeptStatements(sqlite, 2);
  kept.prepare('select 1');
  kept.prepare('select 2');
  kept.prepare('select 1'); // now the most recent: 'select 2' goes first
  kept.prepare('select 3');
  assert.equal(counter.prepares(), 3);
  kept.prepare('select 1');
  assert.equal(counter.prepares(), 3, 'select 1 was kept');
  kept.prepare('select 2');
  assert.equal(counter.prepares(), 4, 'select 2 was dropped and prepared again');
  kept.close();
});

test('a kept statement sees a schema change made after it was prepared (a migration while running)', async () => {
  const sqlite = new BetterSqlite3(':memory:');
  const db = new Kysely<{ keys: { id: string; name: string; lastUsedAt?: string | null } }>({
    dialect: new SqliteDialect({ database: withKeptStatements(sqlite) }), plugins: [new CamelCasePlugin()],
  });
  await sql`create table keys (id text primary key, name text not null)`.execute(db);
  await db.insertInto('keys').values({ id: 'a', name: 'first' }).execute();
  const read = () => db.selectFrom('keys').selectAll().where('id', '=', 'a').executeTakeFirst();
  assert.deepEqual(await read(), { id: 'a', name: 'first' });
  await sql`alter table keys add column last_used_at text`.execute(db);
  await db.updateTable('keys').set({ lastUsedAt: '2026-12-08T00:00:00Z' }).where('id', '=', 'a').execute();
  assert.deepEqual(await read(), { id: 'a', name: 'first', lastUsedAt: '2026-12-08T00:00:00Z' });
  await db.destroy();
});
