// Kysely's SQLite driver prepares every statement it runs, and SQLite's prepare (parse, plan, a VDBE program) costs
// more than most of the store's queries do to run: a control-plane request or a gateway snapshot read paid it for
// each of its queries. The store hands Kysely a connection whose prepare keeps its statements, keyed by SQL text.
// Reusing one is safe: Kysely's SQLite driver runs one query at a time on its one connection (a mutex), and
// SQLite re-prepares a kept statement by itself after a schema change.
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Distinct statements kept, least recently used dropped first. The store's queries are a few hundred texts; those
 * built with lists of varying length (in-chunks.ts, batch inserts) are many more, and each kept statement holds its
 * program in memory, so the cache is bounded rather than keyed by everything ever run.
 */
export const STATEMENTS_KEPT = 500;

export function withKeptStatements(sqlite: BetterSqlite3.Database, limit = STATEMENTS_KEPT): SqliteDatabase {
  const kept = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => { kept.clear(); sqlite.close(); },
    prepare(sql: string) {
      let statement = kept.get(sql);
      if (statement) {
        // Most recently used last: Map keeps insertion order, so the first key is the one to drop.
        kept.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (kept.size >= limit) kept.delete(kept.keys().next().value!);
      }
      kept.set(sql, statement);
      return statement;
    },
  };
}
