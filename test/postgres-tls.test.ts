// PostgreSQL over TLS, as managed databases require it: the URL's `sslmode` means what it means to psql. The
// cluster here refuses unencrypted TCP connections (pg_hba `hostnossl … reject`), so every connection that works
// was encrypted, and its certificate is self-signed, as on Heroku or a database behind a private CA. `prefer` is also
// tried against the suite's own cluster, which has no TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster.ts';
import { createTestDatabase } from './helpers/stores.ts';
import { startFakeProvider, type FakeProvider } from './fake-upstream.ts';
import { openStore } from '../src/store/database.ts';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate } from '../src/server.ts';

/** Both planes on `url` (fake upstream, managed OpenAI key); an access key made over the API serves one chat request. */
async function startAndServe(url: string, dir: string, fake: FakeProvider, env: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof startTollgate>>> {
  const bootstrap = `tgapi_${randomBytes(20).toString('hex')}`;
  const running = await startTollgate(loadConfig({
    TOLLGATE_DATABASE_URL: url, TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'), TOLLGATE_BOOTSTRAP_API_KEY: bootstrap,
    TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', TOLLGATE_JOURNAL_PATH: join(dir, 'journal.db'),
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed', TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1', ...env,
  }), { planes: ['gateway', 'api'], logger: pino({ level: 'silent' }) });
  try {
    const created = await fetch(`${running.apiUrl}/access-keys`, { method: 'POST', headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tls' }) });
    assert.equal(created.status, 201, await created.clone().text());
    const { token } = await created.json() as { token: string };
    const chat = await fetch(`${running.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(chat.status, 200, await chat.clone().text());
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

describe('PostgreSQL over TLS', () => {
  let cluster: PgCluster;
  let fake: FakeProvider;
  const dirs: string[] = [];
  before(async () => {
    cluster = await startPgCluster({ tls: true });
    fake = await startFakeProvider();
  });
  after(async () => {
    await fake?.close();
    cluster?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A database of its own on the TLS cluster, made over a connection that trusts the cluster's certificate. */
  async function database(): Promise<string> {
    const name = `tls_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: cluster.url, ssl: { ca: readFileSync(cluster.caFile!, 'utf8') } });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    return cluster.url.replace(/\/postgres$/, `/${name}`);
  }

  test('sslmode=require connects to a server with a self-signed certificate, as psql does: both planes, LISTEN included', async () => {
    const url = `${await database()}?sslmode=require`;
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
    dirs.push(dir);
    const running = await startAndServe(url, dir, fake);
    const admin = new pg.Client({ connectionString: url.replace('?sslmode=require', ''), ssl: { ca: readFileSync(cluster.caFile!, 'utf8') } });
    await admin.connect();
    try {
      // The gateway's LISTEN session (its own connection, outside the pool) is up, and encrypted like the rest.
      let sessions: { applicationName: string; ssl: boolean }[] = [];
      for (let i = 0; i < 100; i++) {
        const { rows } = await admin.query<{ application_name: string; ssl: boolean }>(
          `SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()`);
        sessions = rows.map((r) => ({ applicationName: r.application_name, ssl: r.ssl }));
        if (sessions.some((s) => s.applicationName === 'tollgate-listen')) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(sessions.some((s) => s.applicationName === 'tollgate-listen'), `the LISTEN session connected: ${JSON.stringify(sessions)}`);
      assert.ok(sessions.length >= 2 && sessions.every((s) => s.ssl), `every Tollgate session is encrypted: ${JSON.stringify(sessions)}`);
    } finally {
      await admin.end();
      await running.stop();
    }
  });

  test('the other modes: prefer encrypts without checking, node-postgres\'s own no-verify still works, allow is refused with a message', async () => {
    const url = await database();
    for (const mode of ['prefer', 'no-verify']) {
      const store = await openStore(`${url}?sslmode=${mode}`);
      try {
        const { rows } = await store.pool!.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        assert.deepEqual(rows, [{ ssl: true }], mode);
      } finally {
        await store.close();
      }
    }
    await assert.rejects(openStore(`${url}?sslmode=allow`), /sslmode=allow is not supported in the database URL: use sslmode=disable, require or verify-full/);
    assert.throws(() => loadConfig({ TOLLGATE_DATABASE_URL: `${url}?sslmode=allow`, TOLLGATE_SECRET_KEY: 'a'.repeat(64) }), /sslmode=allow is not supported/);
  });

  test('verify-full still checks the certificate: trusted with sslrootcert, refused without it', async () => {
    const url = await database();
    const store = await openStore(`${url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.caFile!)}`);
    try {
      const { rows } = await store.pool!.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.deepEqual(rows, [{ ssl: true }]);
    } finally {
      await store.close();
    }
    await assert.rejects(openStore(`${url}?sslmode=verify-full`), /self-signed certificate/);
    // sslrootcert makes `require` check the CA too (libpq's verify-ca): a certificate it does not sign is refused.
    const other = join(mkdtempSync(join(tmpdir(), 'tollgate-tls-ca-')), 'other.crt');
    dirs.push(join(other, '..'));
    const { spawnSync } = await import('node:child_process');
    assert.equal(spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other', '-keyout', `${other}.key`, '-out', other]).status, 0);
    await assert.rejects(openStore(`${url}?sslmode=require&sslrootcert=${encodeURIComponent(other)}`), /self-signed certificate/);
  });
});

describe('sslmode=prefer against a server without TLS', () => {
  test('connects unencrypted, as psql does (node-postgres alone refuses every connection): store, both planes and a LISTEN URL of its own', async () => {
    const database = await createTestDatabase('postgres');
    const fake = await startFakeProvider();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-prefer-'));
    const url = `${database.url}?sslmode=prefer`;
    try {
      const store = await openStore(url);
      try {
        const { rows } = await store.pool!.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        assert.deepEqual(rows, [{ ssl: false }]);
      } finally {
        await store.close();
      }
      const running = await startAndServe(url, dir, fake, { TOLLGATE_DATABASE_LISTEN_URL: url });
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        let listening = false;
        for (let i = 0; i < 100 && !listening; i++) {
          const { rows } = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tollgate-listen'`);
          listening = rows.length > 0;
          if (!listening) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(listening, 'the LISTEN session connected over its own URL');
      } finally {
        await admin.end();
        await running.stop();
      }
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    }
  });
});
