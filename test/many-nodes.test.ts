// Many nodes, with real processes: one `tollgate api` and two `tollgate gateway` on one PostgreSQL, and
// `tollgate start` on SQLite with the CLI / another process writing the same file. A change made elsewhere
// must take effect on every gateway within 1 s (issue 5). The printed times are diagnostics only; the one
// bound asserted is that functional 1 s, which the push path normally meets in well under 200 ms.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startFakeProvider, type FakeProvider, type RecordedRequest } from './fake-upstream.ts';
import { createTestDatabase, type TestDatabase } from './helpers/stores.ts';
import { Children, freePort, until, waitHealthy } from './helpers/processes.ts';

const BOOTSTRAP = 'tgapi_manynodestestkey000000000000000000000000';
const WITHIN_MS = 1000;

type Api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => Promise<T>;

function apiClient(apiUrl: string): Api {
  return async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${BOOTSTRAP}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
}

let probes = 0;

/**
 * One chat completion through a gateway (raw fetch: cheap enough to poll with): its status, error code,
 * and what the fake upstream received for it, found by a marker unique to this call.
 */
async function chat(fake: FakeProvider, gatewayUrl: string, token: string, model: string): Promise<{ status: number; code?: string; upstream?: RecordedRequest }> {
  const marker = `probe ${++probes}`;
  const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 500, messages: [{ role: 'user', content: marker }] }),
  });
  const body = await res.json() as { error?: { code?: string } };
  const upstream = fake.requests.find((r) => JSON.stringify(r.body).includes(`"${marker}"`));
  return { status: res.status, ...(body.error?.code ? { code: body.error.code } : {}), ...(upstream ? { upstream } : {}) };
}

function sdk(gatewayUrl: string, token: string): OpenAI {
  return new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
}

/** Polls every gateway at once until each satisfies `probe`; returns the time each one took. */
async function onEvery(gateways: readonly string[], what: string, probe: (url: string) => Promise<boolean>): Promise<number[]> {
  return Promise.all(gateways.map((url, i) => until(WITHIN_MS, () => probe(url), `${what} on gateway ${i + 1}`)));
}

describe('many nodes on PostgreSQL: one api and two gateway processes', () => {
  const children = new Children();
  let fake: FakeProvider;
  let database: TestDatabase;
  let api: Api;
  let gateways: string[] = [];
  let journals: string;

  before(async () => {
    fake = await startFakeProvider();
    database = await createTestDatabase('postgres');
    // Each gateway its own usage journal (PostgreSQL's default would be ./data in the repository).
    journals = mkdtempSync(join(tmpdir(), 'tollgate-many-journals-'));
    const [apiPort, gw1, gw2] = [await freePort(), await freePort(), await freePort()];
    const common = {
      TOLLGATE_DATABASE_URL: database.url,
      TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
      TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
      TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
      TOLLGATE_HOST: '127.0.0.1',
    };
    // The api process first: it migrates and bootstraps the account before any gateway looks.
    const apiChild = children.spawn('api', ['api'], { ...common, TOLLGATE_API_PORT: String(apiPort), TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitHealthy(apiChild, apiUrl);
    api = apiClient(apiUrl);
    gateways = [`http://127.0.0.1:${gw1}`, `http://127.0.0.1:${gw2}`];
    const started = [gw1, gw2].map((port, i) => children.spawn(`gateway ${i + 1}`, ['gateway'], {
      ...common, TOLLGATE_GATEWAY_PORT: String(port), TOLLGATE_JOURNAL_PATH: join(journals, `gateway-${i + 1}.db`),
    }));
    await Promise.all(started.map((child, i) => waitHealthy(child, gateways[i]!)));
  });

  after(async () => {
    await children.killAll();
    await fake?.close();
    await database?.drop();
    if (journals) rmSync(journals, { recursive: true, force: true });
  });

  test('admin commands on PostgreSQL need only the database URL, never TOLLGATE_SECRET_KEY', async () => {
    const env = { TOLLGATE_DATABASE_URL: database.url };
    assert.match(await children.run('migrate', ['migrate'], env), /migrations applied/);
    const created = JSON.parse(await children.run('accounts create', ['accounts', 'create', '--name', 'ops-job'], env)) as { account: { id: string } };
    await children.run('credits grant', ['credits', 'grant', '--account', created.account.id, '--cents', '100'], env);
  });

  test('a gateway-only process serves its metrics on the gateway port (it has no API port)', async () => {
    for (const url of gateways) {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# HELP tollgate_requests_total /m);
    }
  });

  test('revocation, scope, provider-key rotation and deletion, gateway config: every gateway within 1 s', async (t) => {
    const providerKey = (await api<{ id: string }>('POST', '/provider-keys', { providerId: 'openai', name: 'primary', value: 'sk-good-primary' })).id;
    const configuration = (await api<{ id: string }>('POST', '/access-key-configurations', {
      name: 'mini only', access: { models: { allow: ['openai/gpt-4o-mini'] } },
    })).id;
    const revoked = await api<{ id: string; token: string }>('POST', '/access-keys', { name: 'to revoke', accessKeyConfigurationId: configuration });
    const kept = await api<{ id: string; token: string }>('POST', '/access-keys', { name: 'kept', accessKeyConfigurationId: configuration });

    // Both gateways serve both keys (and so hold them, and the account, in memory).
    for (const url of gateways) {
      for (const token of [revoked.token, kept.token]) {
        const reply = await sdk(url, token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
        assert.match(reply.choices[0]!.message.content ?? '', /gpt-4o-mini/);
      }
    }
    assert.ok(fake.requests.every((r) => r.headers.authorization === 'Bearer sk-good-primary'));

    // 1. Delete an access key through the API: both gateways answer 401.
    await api('DELETE', `/access-keys/${revoked.id}`);
    const revocation = await onEvery(gateways, 'revocation', async (url) => (await chat(fake, url, revoked.token, 'gpt-4o-mini')).status === 401);
    t.diagnostic(`access key deleted → 401 after ${revocation.join(' / ')} ms`);
    for (const url of gateways) {
      await assert.rejects(sdk(url, revoked.token).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.AuthenticationError);
    }

    // 2. Narrow the configuration to another model: the old one is refused with 403 ERR_NGROK_27232.
    await api('PATCH', `/access-key-configurations/${configuration}`, { access: { models: { allow: ['openai/gpt-4o'] } } });
    const scope = await onEvery(gateways, 'scope change', async (url) => {
      const r = await chat(fake, url, kept.token, 'gpt-4o-mini');
      return r.status === 403 && r.code === 'ERR_NGROK_27232';
    });
    t.diagnostic(`scope narrowed → 403 ERR_NGROK_27232 after ${scope.join(' / ')} ms`);
    for (const url of gateways) assert.equal((await chat(fake, url, kept.token, 'gpt-4o')).status, 200, 'the newly allowed model works');

    // 3. Rotate the provider key's value: the upstream sees the new credential from every gateway.
    await api('POST', `/provider-keys/${providerKey}/rotate`, { name: 'primary', value: 'sk-good-rotated' });
    const rotation = await onEvery(gateways, 'provider-key rotation', async (url) => {
      const r = await chat(fake, url, kept.token, 'gpt-4o');
      return r.status === 200 && r.upstream?.headers.authorization === 'Bearer sk-good-rotated';
    });
    t.diagnostic(`provider key rotated → new credential upstream after ${rotation.join(' / ')} ms`);

    // 4. Gateway config: an output cap clamps the request's max_tokens (500) on its way upstream.
    await api('PATCH', '/gateway-config', { maxOutputTokens: 7 });
    const caps = await onEvery(gateways, 'gateway-config change', async (url) => {
      const sent = (await chat(fake, url, kept.token, 'gpt-4o')).upstream?.body;
      return sent?.max_tokens === 7 || sent?.max_completion_tokens === 7;
    });
    t.diagnostic(`gateway config changed → output clamped upstream after ${caps.join(' / ')} ms`);

    // 5. Delete the provider key: no key is left for openai, and no managed key is configured (27239).
    await api('DELETE', `/provider-keys/${providerKey}`);
    const deletion = await onEvery(gateways, 'provider-key deletion', async (url) => (await chat(fake, url, kept.token, 'gpt-4o')).code === 'ERR_NGROK_27239');
    t.diagnostic(`provider key deleted → 400 ERR_NGROK_27239 after ${deletion.join(' / ')} ms`);
  });
});

describe('many processes on one SQLite file: tollgate start, and the CLI or a script writing meanwhile', () => {
  const children = new Children();
  let fake: FakeProvider;
  let dir: string;
  let env: Record<string, string>;
  let api: Api;
  let gateway: string;
  let accountId: string;

  before(async () => {
    fake = await startFakeProvider();
    dir = mkdtempSync(join(tmpdir(), 'tollgate-many-'));
    const [apiPort, gwPort] = [await freePort(), await freePort()];
    env = {
      TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`,
      TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
      TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
      TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
      TOLLGATE_BILLING: 'on',
    };
    const server = children.spawn('start', ['start'], {
      ...env, TOLLGATE_API_PORT: String(apiPort), TOLLGATE_GATEWAY_PORT: String(gwPort), TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP,
    });
    gateway = `http://127.0.0.1:${gwPort}`;
    await waitHealthy(server, `http://127.0.0.1:${apiPort}`);
    await waitHealthy(server, gateway);
    api = apiClient(`http://127.0.0.1:${apiPort}`);
    const created = /Created account (\S+) /.exec(server.output());
    assert.ok(created, server.output());
    accountId = created[1]!;
  });

  after(async () => {
    await children.killAll();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('`tollgate credits grant` and a revocation by another process reach the running gateway within 1 s', async (t) => {
    await api('POST', '/provider-keys', { providerId: 'openai', name: 'primary', value: 'sk-good-primary' });
    const key = await api<{ id: string; token: string }>('POST', '/access-keys', { name: 'app' });
    const first = await chat(fake, gateway, key.token, 'gpt-4o');
    assert.equal(first.code, 'ERR_NGROK_4026', 'billing on, no credit yet');

    await children.run('credits grant', ['credits', 'grant', '--account', accountId, '--cents', '500'], env);
    const granted = await until(WITHIN_MS, async () => (await chat(fake, gateway, key.token, 'gpt-4o')).status === 200, 'credit grant');
    t.diagnostic(`credits granted by the CLI → 200 after ${granted} ms (from the CLI's exit)`);

    await children.run('revoke', [env.TOLLGATE_DATABASE_URL!, key.id], env, { script: join(import.meta.dirname, 'helpers', 'revoke-access-key.ts') });
    const revoked = await until(WITHIN_MS, async () => (await chat(fake, gateway, key.token, 'gpt-4o')).status === 401, 'revocation');
    t.diagnostic(`access key deleted by another process → 401 after ${revoked} ms (from its exit)`);
  });
});
