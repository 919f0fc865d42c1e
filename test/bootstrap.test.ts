// First start of an empty database: exactly one default account, even when several processes start at once.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openStore } from '../src/store/database.ts';
import { bootstrapAccount, createAccount } from '../src/store/accounts.ts';
import { sha256Hex } from '../src/domain/ids.ts';
import { migrations } from '../src/store/migrations.ts';
import { STORE_KINDS, createTestDatabase } from './helpers/stores.ts';
import { Children, freePort, waitHealthy } from './helpers/processes.ts';
import { createServer } from 'node:net';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LineCapture } from './helpers/log-capture.ts';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate } from '../src/server.ts';

const run = promisify(execFile);

for (const kind of STORE_KINDS) {
  describe(`bootstrap (${kind})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => { for (const c of cleanups.reverse()) await c(); });

    test('concurrent first starts in separate processes create one account with the bootstrap key', async () => {
      const database = await createTestDatabase(kind);
      cleanups.push(() => database.drop());
      const first = await openStore(database.url);
      cleanups.push(() => first.close());
      const script = fileURLToPath(new URL('./helpers/bootstrap-once.ts', import.meta.url));
      const outcomes = await Promise.all(Array.from({ length: 4 }, async () => (await run(process.execPath, [script, database.url])).stdout));
      assert.deepEqual(outcomes.sort(), ['created', 'skipped', 'skipped', 'skipped']);
      const accounts = await first.db.selectFrom('accounts').selectAll().execute();
      assert.equal(accounts.length, 1);
      const key = await first.db.selectFrom('apiKeys').selectAll().executeTakeFirstOrThrow();
      assert.equal(key.tokenHash, sha256Hex('tgapi_bootstrap-token'));
      assert.equal(key.accountId, accounts[0]!.id);
    });

    test('concurrent first starts of an empty database in separate processes all start: the migrations run once, one account is made', async () => {
      const database = await createTestDatabase(kind);
      cleanups.push(() => database.drop());
      const script = fileURLToPath(new URL('./helpers/bootstrap-once.ts', import.meta.url));
      // Nothing migrated yet: every process finds the database empty and migrates it as its first start does.
      const outcomes = await Promise.all(Array.from({ length: 8 }, async () => (await run(process.execPath, [script, database.url])).stdout));
      assert.deepEqual(outcomes.sort(), ['created', ...Array(7).fill('skipped')]);
      const store = await openStore(database.url);
      cleanups.push(() => store.close());
      const { rows } = await sql<{ name: string }>`select name from tollgate_migrations`.execute(store.db);
      assert.deepEqual(rows.map((r) => r.name).sort(), Object.keys(migrations).sort(), 'each migration recorded once');
      assert.equal((await store.db.selectFrom('accounts').selectAll().execute()).length, 1);
    });

    test('a first key stamped by an older version as made by its account is rewritten as made by itself', async () => {
      const database = await createTestDatabase(kind);
      cleanups.push(() => database.drop());
      const store = await openStore(database.url);
      cleanups.push(() => store.close());
      const { account, apiKey } = (await createAccount(store.db, 'older'))!;
      const second = (await createAccount(store.db, 'other'))!;
      await store.db.updateTable('apiKeys').set({ createdBy: account.id, lastUpdatedBy: account.id }).where('id', '=', apiKey.id).execute();
      await migrations['0005_first_api_key_made_by_itself']!.up(store.db as never);
      const rows = await store.db.selectFrom('apiKeys').select(['id', 'createdBy', 'lastUpdatedBy']).orderBy('id').execute();
      assert.deepEqual(rows.map((r) => [r.createdBy, r.lastUpdatedBy]), rows.map((r) => [r.id, r.id]));
      assert.ok(rows.some((r) => r.id === second.apiKey.id));
    });

    test('a database that already has accounts is never bootstrapped again', async () => {
      const database = await createTestDatabase(kind);
      cleanups.push(() => database.drop());
      const store = await openStore(database.url);
      cleanups.push(() => store.close());
      await createAccount(store.db, 'made by the CLI');
      assert.equal(await bootstrapAccount(store.db, 'default'), undefined);
      assert.equal((await store.db.selectFrom('accounts').selectAll().execute()).length, 1);
    });
  });
}

test('a first start that fails (gateway port in use) still shows the generated API key, which works on the next start', async () => {
  const children = new Children();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-first-start-'));
  const blocker = createServer();
  try {
    const [gatewayPort, apiPort] = [await freePort(), await freePort()];
    await new Promise<void>((resolve) => blocker.listen(gatewayPort, '127.0.0.1', () => resolve()));
    const env = { TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`, TOLLGATE_GATEWAY_PORT: String(gatewayPort), TOLLGATE_API_PORT: String(apiPort), TOLLGATE_HOST: '127.0.0.1' };
    const first = children.spawn('first', ['start'], env);
    assert.notEqual(await first.exited, 0, 'the start failed');
    assert.match(first.stderr(), new RegExp(`tollgate: TOLLGATE_GATEWAY_PORT ${gatewayPort} on 127.0.0.1 is in use by another process`), 'the variable to change is named');
    const token = /Control-plane API key \(shown once\): (\S+)/.exec(first.stderr())?.[1];
    assert.ok(token, `the key was shown: ${first.stderr()}`);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const second = children.spawn('second', ['start'], env);
    await waitHealthy(second, `http://127.0.0.1:${apiPort}`);
    assert.doesNotMatch(second.stderr(), /shown once/, 'one account, created once');
    const keys = await fetch(`http://127.0.0.1:${apiPort}/api-keys`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(keys.status, 200);
  } finally {
    blocker.close();
    await children.killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lost first API key: `accounts list` names the default account and `api-keys create` makes a key that works at once, server running', () => withChildren('tollgate-lost-key-', async (children, dir) => {
  const [gatewayPort, apiPort] = [await freePort(), await freePort()];
  const env = { TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`, TOLLGATE_GATEWAY_PORT: String(gatewayPort), TOLLGATE_API_PORT: String(apiPort), TOLLGATE_HOST: '127.0.0.1' };
  const server = children.spawn('server', ['start'], env);
  await waitHealthy(server, `http://127.0.0.1:${apiPort}`);
  const listed = children.spawn('list', ['accounts', 'list'], env);
  assert.equal(await listed.exited, 0, listed.stderr());
  const { accounts } = JSON.parse(listed.stdout()) as { accounts: { id: string; name: string }[] };
  assert.deepEqual(accounts.map((a) => a.name), ['default']);
  const made = children.spawn('create', ['api-keys', 'create', '--account', accounts[0]!.id, '--name', 'recovery'], env);
  assert.equal(await made.exited, 0, made.stderr());
  const { accountId, apiKey } = JSON.parse(made.stdout()) as { accountId: string; apiKey: { id: string; token: string } };
  assert.equal(accountId, accounts[0]!.id);
  const keys = await fetch(`http://127.0.0.1:${apiPort}/api-keys`, { headers: { authorization: `Bearer ${apiKey.token}` } });
  assert.equal(keys.status, 200);
  const body = await keys.json() as { aiGatewayApiKeys: { id: string; name: string }[] };
  assert.deepEqual(body.aiGatewayApiKeys.map((k) => k.name).sort(), ['bootstrap', 'recovery']);
  assert.ok(!JSON.stringify(body).includes(apiKey.token), 'the token is shown once, by the command');
  const unknown = children.spawn('unknown', ['api-keys', 'create', '--account', 'acct_nope'], env);
  assert.equal(await unknown.exited, 1);
  assert.match(unknown.stderr(), /tollgate: account acct_nope not found/);
}));

/** `body` with a process list and a temporary directory, both gone afterwards whatever happened. */
async function withChildren(prefix: string, body: (children: Children, dir: string) => Promise<void>): Promise<void> {
  const children = new Children();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await body(children, dir);
  } finally {
    await children.killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a start with both planes on one port, or on a host not of this machine, is refused naming the variable', () => withChildren('tollgate-bad-start-', async (children, dir) => {
  const port = String(await freePort());
  const env = { TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`, TOLLGATE_GATEWAY_PORT: port, TOLLGATE_API_PORT: port };
  const same = children.spawn('same-port', ['start'], env);
  assert.notEqual(await same.exited, 0);
  assert.match(same.stderr(), new RegExp(`tollgate: TOLLGATE_GATEWAY_PORT and TOLLGATE_API_PORT are both ${port}: the two planes need a port each`));
  // TEST-NET-1: no interface here has it, and binding needs no lookup (tests reach no resolver).
  const badHost = children.spawn('bad-host', ['start'], { ...env, TOLLGATE_API_PORT: '0', TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_HOST: '192.0.2.1' });
  assert.notEqual(await badHost.exited, 0);
  assert.match(badHost.stderr(), /tollgate: TOLLGATE_HOST "192\.0\.2\.1" is not an address of this machine/);
}));

test('the administrative commands refuse a database path with no database (a typo), and make nothing there', () => withChildren('tollgate-no-db-', async (children, dir) => {
  const env = { TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'typo', 'tollgate.db')}` };
  for (const args of [['rotate-secret', '--new-key', 'b'.repeat(64)], ['credits', 'grant', '--account', 'acct_1', '--cents', '100'], ['accounts', 'create', '--name', 'x'], ['accounts', 'list'], ['api-keys', 'create', '--account', 'acct_1']]) {
    const child = children.spawn(args.join('-'), args, env);
    assert.equal(await child.exited, 1, args.join(' '));
    assert.match(child.stderr(), new RegExp(`tollgate: no database at ${join(dir, 'typo', 'tollgate.db').replace(/[/.]/g, '\\$&')}: check TOLLGATE_DATABASE_URL`), args.join(' '));
  }
  assert.deepEqual(readdirSync(dir), [], 'no database, journal or key was made');
  // A grant too large to be exact (or a typo) is refused before anything is opened.
  const huge = children.spawn('huge', ['credits', 'grant', '--account', 'acct_1', '--cents', '77662796000000000000'], env);
  assert.equal(await huge.exited, 1);
  assert.match(huge.stderr(), /--cents must be a whole number of US cents from 1 to 1000000000000/);
}));

test('--help on any command prints the usage and does nothing else: `migrate --help` migrates no database, `demo --help` runs no demo', () => withChildren('tollgate-help-', async (children, dir) => {
  const env = { TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}` };
  for (const args of [['migrate', '--help'], ['accounts', 'create', '--help'], ['credits', 'grant', '-h'], ['usage', 'import', '--help'], ['rotate-secret', '--help'], ['demo', '--help']]) {
    const child = children.spawn(args.join('-'), args, env);
    assert.equal(await child.exited, 0, args.join(' '));
    assert.match(child.stdout(), /^Usage: tollgate <command> \[options\]/, args.join(' '));
  }
  assert.deepEqual(readdirSync(dir), [], 'no database, journal or key was made');
  const demo = children.spawn('demo-args', ['demo', '--port', '9000'], env);
  assert.equal(await demo.exited, 1);
  assert.match(demo.stderr(), /tollgate: demo takes no options, got "--port 9000"/);
}));

test('a database a newer Tollgate migrated is refused with that said, and left as it was', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-newer-'));
  const url = `sqlite:${join(dir, 'tollgate.db')}`;
  try {
    const store = await openStore(url);
    await store.db.insertInto('tollgateMigrations' as never).values({ name: '9999_from_the_future', timestamp: new Date().toISOString() } as never).execute();
    await store.close();
    await assert.rejects(openStore(url), /the database was migrated by a newer version of Tollgate \(its migration 9999_from_the_future is unknown to this one\); nothing was changed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data files other users can read (an install from before files were made owner-only) are named in a warning at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-modes-'));
  const start = async (env: Record<string, string> = {}): Promise<{ msg: string; files?: string[] }[]> => {
    const capture = new LineCapture();
    const running = await startTollgate(loadConfig({
      TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`, TOLLGATE_SECRET_KEY: 'a'.repeat(64), TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0', ...env,
    }), { logger: pino({ level: 'info' }, capture) });
    await running.stop();
    return capture.lines.map((line) => JSON.parse(line) as { msg: string; files?: string[] });
  };
  const warning = (lines: { msg: string; files?: string[] }[]) => lines.find((l) => l.msg.startsWith('data files other users on this machine can read or change'));
  try {
    assert.equal(warning(await start()), undefined, 'files it created are owner-only');
    chmodSync(join(dir, 'tollgate.db'), 0o644);
    chmodSync(join(dir, 'usage-journal.db'), 0o640);
    assert.equal(warning(await start()), undefined, 'in a directory only its owner may enter, nobody else can read them');
    chmodSync(dir, 0o755);
    const files = warning(await start())?.files ?? [];
    // SQLite gives the database's -wal and -shm files its mode when it makes them.
    for (const f of ['tollgate.db', 'tollgate.db-wal', 'tollgate.db-shm', 'usage-journal.db']) assert.ok(files.includes(join(dir, f)), `${f} in ${files.join(', ')}`);
    // A start that lets custom providers reach private addresses says so (since `on`/`yes` turn it on, not only `1`).
    const ssrf = (lines: { msg: string }[]) => lines.some((l) => l.msg.startsWith('TOLLGATE_ALLOW_PRIVATE_UPSTREAMS is on'));
    assert.deepEqual([ssrf(await start({ TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: 'yes' })), ssrf(await start())], [true, false]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a master key file other users can read (the embedded default\'s secret.key, a rotation\'s .previous) is named in a warning at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-key-mode-'));
  const start = async (): Promise<string[] | undefined> => {
    const capture = new LineCapture();
    // No TOLLGATE_SECRET_KEY: the key is the file beside the database, generated at the first start.
    const running = await startTollgate(loadConfig({ TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`, TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0' }), { logger: pino({ level: 'info' }, capture) });
    await running.stop();
    return capture.lines.map((line) => JSON.parse(line) as { msg: string; files?: string[] })
      .find((l) => l.msg.startsWith('master key files other users on this machine can read or change'))?.files;
  };
  try {
    chmodSync(dir, 0o755);
    assert.equal(await start(), undefined, 'the key it generated is owner-only');
    chmodSync(join(dir, 'secret.key'), 0o644);
    writeFileSync(join(dir, 'secret.key.previous'), 'old\n', { mode: 0o640 });
    assert.deepEqual(await start(), [join(dir, 'secret.key'), join(dir, 'secret.key.previous')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a start logs a warning for each variable that changes nothing (a misspelt name, a managed key no step uses), its value never', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ignored-vars-'));
  try {
    const capture = new LineCapture();
    const running = await startTollgate(loadConfig({
      TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`, TOLLGATE_SECRET_KEY: 'a'.repeat(64), TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0',
      TOLLGATE_BILING: 'on', TOLLGATE_MANAGED_GROQ_API_KEY: 'gsk-s3cret',
    }), { logger: pino({ level: 'info' }, capture) });
    await running.stop();
    const warnings = capture.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg);
    assert.ok(warnings.includes('TOLLGATE_BILING is not a Tollgate setting and is ignored (did you mean TOLLGATE_BILLING?); README.md lists the settings'), warnings.join('\n'));
    assert.ok(warnings.some((m) => m.startsWith('TOLLGATE_MANAGED_GROQ_API_KEY is ignored: Groq is not served with managed keys')), warnings.join('\n'));
    assert.ok(!capture.lines.join('\n').includes('s3cret'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bootstrap API key set on a database that already has accounts is said to be ignored (once, at start); the key it made is not; the gateway logs its address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bootstrap-again-'));
  const first = `tgapi_${'1'.repeat(40)}`;
  const start = async (bootstrap: string): Promise<string[]> => {
    const capture = new LineCapture();
    const running = await startTollgate(loadConfig({
      TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`, TOLLGATE_SECRET_KEY: 'a'.repeat(64), TOLLGATE_BOOTSTRAP_API_KEY: bootstrap,
      TOLLGATE_GATEWAY_PORT: '0', TOLLGATE_API_PORT: '0',
    }), { logger: pino({ level: 'info' }, capture) });
    await running.stop();
    return capture.lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  };
  try {
    const made = await start(first);
    assert.ok(made.includes('gateway listening'), made.join('\n'));
    assert.ok(!made.some((m) => m.includes('TOLLGATE_BOOTSTRAP_API_KEY')));
    assert.ok(!(await start(first)).some((m) => m.includes('TOLLGATE_BOOTSTRAP_API_KEY')), 'the key it made is this database\'s');
    // The way back in is named: a lost key is why a user sets one on an existing database.
    assert.ok((await start(`tgapi_${'2'.repeat(40)}`)).includes('TOLLGATE_BOOTSTRAP_API_KEY is not an API key of this database and was ignored: it is used only on the first start of an empty database (a lost key: `tollgate accounts list`, then `tollgate api-keys create --account ID`)'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
