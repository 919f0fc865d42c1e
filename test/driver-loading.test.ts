// A single binary on SQLite never loads the PostgreSQL driver (~10 MB of a gateway's idle memory, which the
// 1,000-streams memory budget counts); a PostgreSQL deployment loads it when the store opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).href;

/** Starts both planes on `databaseUrl` in a child process, stops them, and returns every module URL resolved. */
function modulesLoadedBy(databaseUrl: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r; } });
    const { loadConfig } = await import(new URL('src/config/config.ts', ${JSON.stringify(root)}).href);
    const { startTollgate } = await import(new URL('src/server.ts', ${JSON.stringify(root)}).href);
    const config = loadConfig({
      TOLLGATE_DATABASE_URL: process.env.DB_URL, TOLLGATE_SECRET_KEY: 'ab'.repeat(32), TOLLGATE_HOST: '127.0.0.1',
      TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', TOLLGATE_LOG_LEVEL: 'silent',
      TOLLGATE_JOURNAL_PATH: process.env.JOURNAL,
    });
    const running = await startTollgate(config);
    await running.stop();
    console.log(JSON.stringify(loaded));`;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-drivers-'));
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', env: { ...process.env, DB_URL: databaseUrl.replace('DIR', dir), JOURNAL: join(dir, 'journal.db') }, timeout: 60_000,
    });
    return JSON.parse(out.trim().split('\n').pop()!) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isPgDriver = (url: string): boolean => /\/node_modules\/pg\//.test(url) || url.endsWith('/state/pg-listener.ts');

test('the single binary on SQLite starts and stops without loading the PostgreSQL driver', () => {
  const loaded = modulesLoadedBy('sqlite://DIR/tollgate.db');
  assert.ok(loaded.some((u) => u.includes('/node_modules/better-sqlite3/')), 'the hook saw the SQLite driver load');
  assert.deepEqual(loaded.filter(isPgDriver), []);
});
