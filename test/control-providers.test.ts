import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertHead, assertIsolated, assertPaging, recordChanges, type Collection } from './helpers/crud.ts';
import { PROVIDER_LIMIT } from '../src/control/providers.ts';

const PROVIDERS: Collection = { path: '/providers', listKey: 'aiGatewayProviders', listSchema: 'AIGatewayProviderList', schema: 'AIGatewayProvider' };
type Model = { id: string; modelId: string };
type Provider = { id: string; providerId: string; name: string; baseUrl: string; metadata?: string; supportedApiSurfaces?: unknown[]; models?: Model[] };

let slugs = 0;
const slug = () => `custom-${++slugs}`;

for (const kind of STORE_KINDS) {
  describe(`providers (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind); });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>) => expectSchema<Provider>(await c.call('POST', '/providers', { name: 'P', baseUrl: 'https://llm.example.com/v1', ...body }), 201, PROVIDERS.schema);
    const remove = async (id: string) => assert.equal((await c.call('DELETE', `/providers/${id}`)).statusCode, 204);

    it('creates a provider with surfaces and models, reads, heads and pages', async () => {
      const changes = recordChanges(c);
      const p = await create({
        providerId: 'my-ollama', name: 'Ollama', metadata: 'm',
        supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', supportedParams: [{ name: 'temperature' }] }, { format: 'anthropic', surface: 'messages' }, { format: 'openai' }],
        models: [{ modelId: 'llama3.2' }, { modelId: 'qwen2.5:7b' }],
      });
      assert.match(p.id, /^aigp_/);
      assert.equal(p.providerId, 'my-ollama');
      assert.equal(p.baseUrl, 'https://llm.example.com/v1');
      assert.equal(p.supportedApiSurfaces?.length, 3);
      assert.deepEqual(p.models?.map((m) => m.modelId), ['llama3.2', 'qwen2.5:7b']);
      for (const m of p.models!) assert.match(m.id, /^aigpm_/);
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId]), [['provider', p.id]]);
      assert.deepEqual(expectSchema<Provider>(await c.call('GET', `/providers/${p.id}`), 200, PROVIDERS.schema), p);
      await assertHead(c, `/providers/${p.id}`);
      await assertHead(c, '/providers');
      const ids = [p.id];
      for (let i = 0; i < 4; i++) ids.push((await create({ providerId: slug() })).id);
      await assertPaging(c, PROVIDERS, ids);
      for (const id of ids) await remove(id);
      expectError(await c.call('GET', `/providers/${p.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `/providers/${p.id}`), 404, 'ERR_NGROK_27611');
    });

    it('guards the providerId slug', async () => {
      assert.equal(expectError(await c.call('POST', '/providers', { providerId: 'openai', name: 'x', baseUrl: 'https://a.example.com' }), 400, 'ERR_NGROK_27705').details.field, 'providerId');
      expectError(await c.call('POST', '/providers', { providerId: 'inference-net', name: 'x', baseUrl: 'https://a.example.com' }), 400, 'ERR_NGROK_27705');
      for (const bad of ['my:llm', 'my/llm', 'my llm', ' lead', '-dash-first']) {
        expectError(await c.call('POST', '/providers', { providerId: bad, name: 'x', baseUrl: 'https://a.example.com' }), 400, 'ERR_NGROK_27606');
      }
      const p = await create({ providerId: 'taken' });
      assert.equal(expectError(await c.call('POST', '/providers', { providerId: 'taken', name: 'x', baseUrl: 'https://a.example.com' }), 409, 'ERR_NGROK_27712').details.field, 'providerId');
      const theirs = expectSchema<Provider>(await c.call('POST', '/providers', { providerId: 'taken', name: 'x', baseUrl: 'https://a.example.com' }, c.other.token), 201, PROVIDERS.schema);
      assert.equal(theirs.providerId, 'taken', 'slugs are unique per account only');
      assert.equal((await c.call('DELETE', `/providers/${theirs.id}`, undefined, c.other.token)).statusCode, 204);
      expectError(await c.call('PATCH', `/providers/${p.id}`, { providerId: 'renamed' }), 400, 'ERR_NGROK_27606');
      await remove(p.id);
    });

    it('checks API formats, surfaces and duplicate models', async () => {
      const base = { providerId: 'surf', name: 'x', baseUrl: 'https://a.example.com' };
      // Each names the member's path: which surface, which model (where it is repeated).
      const field = (res: LightMyRequestResponse, status: number, code: string) => expectError(res, status, code).details.field;
      assert.equal(field(await c.call('POST', '/providers', { ...base, supportedApiSurfaces: [{ format: 'gemini' }] }), 400, 'ERR_NGROK_27707'), 'supportedApiSurfaces.0.format');
      assert.equal(field(await c.call('POST', '/providers', { ...base, supportedApiSurfaces: [{ format: 'openai' }, { format: 'openai', surface: 'messages' }] }), 400, 'ERR_NGROK_27708'), 'supportedApiSurfaces.1.surface');
      expectError(await c.call('POST', '/providers', { ...base, supportedApiSurfaces: [{ format: 'anthropic', surface: 'chat-completions' }] }), 400, 'ERR_NGROK_27708');
      assert.equal(field(await c.call('POST', '/providers', { ...base, models: [{ modelId: 'Llama3.2' }, { modelId: 'llama3.2' }] }), 400, 'ERR_NGROK_27711'), 'models.1.modelId');
      // A surface's own baseUrl is held to the provider's rules, and named as the surface's (the message says "baseUrl").
      assert.equal(field(await c.call('POST', '/providers', { ...base, supportedApiSurfaces: [{ format: 'openai', baseUrl: 'ftp://a.example.com' }] }), 400, 'ERR_NGROK_27606'), 'supportedApiSurfaces.0.baseUrl');
      assert.equal(field(await c.call('POST', '/providers', { ...base, supportedApiSurfaces: [{ format: 'openai' }, { format: 'anthropic', baseUrl: 'https://u:p@a.example.com' }] }), 400, 'ERR_NGROK_27606'), 'supportedApiSurfaces.1.baseUrl');
      for (const surface of ['chat-completions', 'responses', 'completions', 'embeddings']) {
        const p = await create({ providerId: slug(), supportedApiSurfaces: [{ format: 'openai', surface }] });
        await remove(p.id);
      }
      const p = await create({ ...base, models: [{ modelId: 'a' }] });
      assert.equal(field(await c.call('PATCH', `/providers/${p.id}`, { models: [{ modelId: 'b' }, { modelId: 'B' }] }), 400, 'ERR_NGROK_27711'), 'models.1.modelId');
      assert.equal(field(await c.call('PATCH', `/providers/${p.id}`, { supportedApiSurfaces: [{ format: 'grpc' }] }), 400, 'ERR_NGROK_27707'), 'supportedApiSurfaces.0.format');
      assert.deepEqual(expectSchema<Provider>(await c.call('GET', `/providers/${p.id}`), 200, PROVIDERS.schema).models?.map((m) => m.modelId), ['a']);
      await remove(p.id);
    });

    it('maps too-long and missing fields to the provider codes', async () => {
      const ok = { providerId: 'lengths', name: 'x', baseUrl: 'https://a.example.com' };
      expectError(await c.call('POST', '/providers', { ...ok, name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27701');
      expectError(await c.call('POST', '/providers', { ...ok, name: '' }), 400, 'ERR_NGROK_27701');
      expectError(await c.call('POST', '/providers', { ...ok, metadata: 'x'.repeat(4097) }), 400, 'ERR_NGROK_27702');
      expectError(await c.call('POST', '/providers', { ...ok, baseUrl: `https://a.example.com/${'x'.repeat(2048)}` }), 400, 'ERR_NGROK_27703');
      expectError(await c.call('POST', '/providers', { ...ok, providerId: 'x'.repeat(256) }), 400, 'ERR_NGROK_27706');
      expectError(await c.call('POST', '/providers', { ...ok, models: [{ modelId: 'x'.repeat(256) }] }), 400, 'ERR_NGROK_27709');
      expectError(await c.call('POST', '/providers', { name: 'x', baseUrl: 'https://a.example.com' }), 400, 'ERR_NGROK_27704');
      expectError(await c.call('POST', '/providers', { ...ok, unknown: true }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', '/providers', { ...ok, baseUrl: 'not a url' }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', '/providers', { ...ok, baseUrl: 'ftp://files.example.com' }), 400, 'ERR_NGROK_27606');
      assert.deepEqual(expectSchema<{ aiGatewayProviders: unknown[] }>(await c.call('GET', '/providers'), 200, PROVIDERS.listSchema).aiGatewayProviders, []);
    });

    it('refuses credentials in baseUrl on create and update without echoing the password', async () => {
      // The providers table is not encrypted and the gateway would drop the userinfo: a provider key holds them.
      const password = 'hunter2-s3cr3t';
      const withCredentials = [
        `https://alice:${password}@llm.example.com/v1`, 'https://alice@llm.example.com/v1', `https://:${password}@llm.example.com`,
        `https://alice:${password}@llm.example.com:8443/v1?api-version=2024-06-01`,
      ];
      const refused = (res: LightMyRequestResponse) => {
        const err = expectError(res, 400, 'ERR_NGROK_27606');
        assert.equal(err.details.field, 'baseUrl');
        assert.match(err.msg, /provider key/);
        assert.ok(!res.body.includes(password) && !res.body.includes('alice'), res.body);
      };
      for (const baseUrl of withCredentials) refused(await c.call('POST', '/providers', { providerId: 'creds', name: 'x', baseUrl }));
      // Unparsable and carrying a password: refused as not a URL, still without echoing it.
      const bad = expectError(await c.call('POST', '/providers', { providerId: 'creds', name: 'x', baseUrl: `https://alice:${password}@` }), 400, 'ERR_NGROK_27606');
      assert.ok(!JSON.stringify(bad).includes(password), bad.msg);
      assert.deepEqual(expectSchema<{ aiGatewayProviders: unknown[] }>(await c.call('GET', '/providers'), 200, PROVIDERS.listSchema).aiGatewayProviders, []);

      const p = await create({ providerId: 'creds' });
      for (const baseUrl of withCredentials) refused(await c.call('PATCH', `/providers/${p.id}`, { baseUrl }));
      assert.equal(expectSchema<Provider>(await c.call('GET', `/providers/${p.id}`), 200, PROVIDERS.schema).baseUrl, p.baseUrl);
      // An empty userinfo carries nothing and is accepted, as is an `@` later in the path.
      for (const baseUrl of ['https://@llm.example.com/v1', 'https://llm.example.com/v1/@team']) {
        assert.equal(expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { baseUrl }), 200, PROVIDERS.schema).baseUrl, baseUrl);
      }
      // A credential in the query string is refused the same way (never echoed); ordinary parameters pass.
      const secret = 'AIzaSyQuerySecret123';
      for (const baseUrl of [`https://generativelanguage.googleapis.com/v1beta/openai?key=${secret}`, `https://fn.example.com/api?code=${secret}`, `https://llm.example.com/v1?api-version=1&access_token=${secret}`]) {
        for (const res of [await c.call('POST', '/providers', { providerId: 'querykey', name: 'x', baseUrl }), await c.call('PATCH', `/providers/${p.id}`, { baseUrl })]) {
          const err = expectError(res, 400, 'ERR_NGROK_27606');
          assert.equal(err.details.field, 'baseUrl');
          assert.match(err.msg, /credential in its query/);
          assert.ok(!res.body.includes(secret), res.body);
        }
      }
      const azure = 'https://my.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01';
      assert.equal(expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { baseUrl: azure }), 200, PROVIDERS.schema).baseUrl, azure);
      await remove(p.id);
    });

    it('applies PATCH tri-state, replacing models while keeping ids of models that stay', async () => {
      const p = await create({ providerId: 'patchy', metadata: 'meta', supportedApiSurfaces: [{ format: 'openai' }], models: [{ modelId: 'keep' }, { modelId: 'drop' }] });
      const keepId = p.models!.find((m) => m.modelId === 'keep')!.id;
      let got = expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { name: 'Renamed' }), 200, PROVIDERS.schema);
      assert.equal(got.name, 'Renamed');
      assert.equal(got.metadata, 'meta');
      assert.deepEqual(got.models, p.models);
      assert.deepEqual(got.supportedApiSurfaces, p.supportedApiSurfaces);
      got = expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { models: [{ modelId: 'KEEP' }, { modelId: 'new' }] }), 200, PROVIDERS.schema);
      assert.equal(got.models![0]!.id, keepId);
      assert.equal(got.models![0]!.modelId, 'KEEP');
      assert.match(got.models![1]!.id, /^aigpm_/);
      assert.notEqual(got.models![1]!.id, p.models![1]!.id);
      got = expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { models: [] }), 200, PROVIDERS.schema);
      assert.deepEqual(got.models, []);
      await c.call('PATCH', `/providers/${p.id}`, { models: [{ modelId: 'again' }] });
      got = expectSchema<Provider>(await c.call('PATCH', `/providers/${p.id}`, { models: null, metadata: null, supportedApiSurfaces: null, baseUrl: 'https://other.example.com/v2?api-version=2024-06-01' }), 200, PROVIDERS.schema);
      assert.deepEqual(got.models, []);
      assert.equal(got.metadata, undefined);
      assert.equal(got.supportedApiSurfaces, undefined);
      assert.equal(got.baseUrl, 'https://other.example.com/v2?api-version=2024-06-01');
      assert.equal(got.name, 'Renamed');
      expectError(await c.call('PATCH', `/providers/${p.id}`, { name: null }), 400, 'ERR_NGROK_27704');
      expectError(await c.call('PATCH', `/providers/${p.id}`, { baseUrl: null }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('PATCH', `/providers/${p.id}`, { name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27701');
      expectError(await c.call('PATCH', '/providers/aigp_missing', { name: 'x' }), 404, 'ERR_NGROK_27611');
      await remove(p.id);
    });

    it('refuses to delete a provider that keys or configurations use', async () => {
      const p = await create({ providerId: 'in-use', models: [{ modelId: 'm1' }] });
      const key = expectSchema<{ id: string }>(await c.call('POST', '/provider-keys', { providerId: 'in-use', name: 'k', value: 'sk-in-use-0000000000' }), 201, 'AIGatewayProviderAPIKeyDetail');
      let err = expectError(await c.call('DELETE', `/providers/${p.id}`), 409, 'ERR_NGROK_27710');
      assert.ok(err.msg.includes(key.id), err.msg);
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      const uses = [
        { access: { providers: { allow: ['in-use'] } } },
        { access: { providers: { allow: [p.id] } } },
        { router: { rules: [{ provider: 'in-use', steps: [{ type: 'user', keys: [{ name: 'k', value: 'sk-inline-000000000' }] }] }] } },
        { router: { rules: [{ model: 'in-use:m1', steps: [{ type: 'user', keys: [{ name: 'k', value: 'sk-inline-000000000' }] }] }] } },
      ];
      for (const use of uses) {
        const cfg = expectSchema<{ id: string; router?: { rules: { steps: { keys?: { id: string }[] }[] }[] } }>(await c.call('POST', '/access-key-configurations', { name: 'uses provider', ...use }), 201, 'AIGatewayAccessKeyConfiguration');
        err = expectError(await c.call('DELETE', `/providers/${p.id}`), 409, 'ERR_NGROK_27710');
        assert.ok(err.msg.includes(cfg.id), `${JSON.stringify(use)}: ${err.msg}`);
        assert.equal((await c.call('DELETE', `/access-key-configurations/${cfg.id}`)).statusCode, 204);
        for (const k of cfg.router?.rules[0]!.steps[0]!.keys ?? []) assert.equal((await c.call('DELETE', `/provider-keys/${k.id}`)).statusCode, 204);
      }
      const unrelated = expectSchema<{ id: string }>(await c.call('POST', '/access-key-configurations', { name: 'other', access: { providers: { allow: ['in-use-not'] } } }), 201, 'AIGatewayAccessKeyConfiguration');
      const changes = recordChanges(c);
      await remove(p.id);
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId]), [['provider', p.id]]);
      expectError(await c.call('GET', `/providers/${p.id}`), 404, 'ERR_NGROK_27611');
      assert.equal((await c.call('DELETE', `/access-key-configurations/${unrelated.id}`)).statusCode, 204);
    });

    it('concurrent writes never leave a reference to something deleted, a duplicate slug or an invalid gateway config', async () => {
      const status = (r: { statusCode: number }) => r.statusCode;
      for (let round = 0; round < 8; round++) {
        // A key created while its custom provider is deleted: one of the two wins, consistently.
        const p = await create({ providerId: `race-${kind}-${round}` });
        const [key, del] = await Promise.all([
          c.call('POST', '/provider-keys', { providerId: p.providerId, name: 'k', value: 'sk-race-0000000000' }),
          c.call('DELETE', `/providers/${p.id}`),
        ]);
        const keys = (await c.call('GET', `/provider-keys?provider=${p.providerId}`)).json() as { aiGatewayProviderKeys: { id: string }[] };
        if (status(del) === 204) {
          assert.equal(status(key), 400, key.body);
          assert.equal(keys.aiGatewayProviderKeys.length, 0);
        } else {
          assert.deepEqual([status(key), status(del)], [201, 409], `${key.body} ${del.body}`);
          assert.equal(keys.aiGatewayProviderKeys.length, 1);
        }
        // A configuration naming a key while that key is deleted.
        const k = (await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'k', value: 'sk-race-0000000000' })).json() as { id: string };
        const [cfg, delKey] = await Promise.all([
          c.call('POST', '/access-key-configurations', { name: 'race', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: k.id }] }] }] } }),
          c.call('DELETE', `/provider-keys/${k.id}`),
        ]);
        if (status(delKey) === 204) {
          assert.equal(status(cfg), 400, cfg.body);
        } else {
          assert.deepEqual([status(cfg), status(delKey)], [201, 409], `${cfg.body} ${delKey.body}`);
          const stored = (await c.call('GET', `/access-key-configurations/${(cfg.json() as { id: string }).id}`)).json() as { router: { rules: { steps: { keys: unknown[] }[] }[] } };
          assert.equal(stored.router.rules[0]!.steps[0]!.keys.length, 1);
        }
        // Two creates of one slug: 201 and 409, never a 500 from the unique index.
        const twins = await Promise.all([0, 1].map(() => c.call('POST', '/providers', { providerId: `twin-${kind}-${round}`, name: 'T', baseUrl: 'https://llm.example.com/v1' })));
        assert.deepEqual(twins.map(status).sort(), [201, 409]);
        // Two PATCHes each valid alone but not together: at most one lands.
        assert.equal(status(await c.call('PATCH', '/gateway-config', { totalTimeout: '120s', perRequestTimeout: '5s' })), 200);
        await Promise.all([c.call('PATCH', '/gateway-config', { totalTimeout: '10s' }), c.call('PATCH', '/gateway-config', { perRequestTimeout: '100s' })]);
        const config = (await c.call('GET', '/gateway-config')).json() as { totalTimeout: string; perRequestTimeout: string };
        assert.ok(!(config.totalTimeout === '10s' && config.perRequestTimeout === '100s'), JSON.stringify(config));
      }
    });

    it('stops at the account\'s limit: each provider and its models are held in every gateway\'s memory', async () => {
      const held = expectSchema<{ aiGatewayProviders: Provider[] }>(await c.call('GET', '/providers?limit=100'), 200, PROVIDERS.listSchema).aiGatewayProviders.length;
      const ids: string[] = [];
      for (let i = held; i < PROVIDER_LIMIT; i++) ids.push((await create({ providerId: slug() })).id);
      const e = expectError(await c.call('POST', '/providers', { providerId: 'one-more', name: 'P', baseUrl: 'https://llm.example.com/v1' }), 409, 'ERR_NGROK_27719');
      assert.equal(e.msg, `This account can have at most ${PROVIDER_LIMIT} custom providers. Delete one before you create another.`);
      // The other account's limit is its own; a delete makes room again.
      const theirs = expectSchema<Provider>(await c.call('POST', '/providers', { providerId: 'one-more', name: 'P', baseUrl: 'https://llm.example.com/v1' }, c.other.token), 201, PROVIDERS.schema);
      assert.equal((await c.call('DELETE', `/providers/${theirs.id}`, undefined, c.other.token)).statusCode, 204);
      await remove(ids.pop()!);
      ids.push((await create({ providerId: 'one-more' })).id);
      for (const id of ids) await remove(id);
    });

    it('keeps providers invisible to other accounts', async () => {
      const p = await create({ providerId: 'private-one' });
      await assertIsolated(c, PROVIDERS, p.id, { name: 'stolen' });
      await remove(p.id);
    });
  });

  describe(`provider base URLs without private upstreams (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind, { TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '0' }); });
    after(async () => { await c.close(); });

    it('requires https and refuses loopback, private, link-local and reserved hosts, IPv6 forms included', async () => {
      const refused = [
        'http://api.example.com/v1', 'https://127.0.0.1/v1', 'https://127.1.2.3', 'https://2130706433/', 'https://localhost:8080/v1',
        'https://LOCALHOST.', 'https://svc.localhost', 'https://10.1.2.3', 'https://172.16.0.1', 'https://192.168.1.20',
        'https://169.254.169.254/latest', 'https://0.0.0.0', 'https://[::1]/v1', 'https://[fe80::1]', 'https://[fd00::5]', 'https://[::ffff:127.0.0.1]', 'https://[::ffff:10.0.0.1]',
        'https://[::127.0.0.1]', 'https://[64:ff9b::a9fe:a9fe]', 'https://[2002:7f00:1::]', 'https://198.18.0.1', 'https://224.0.0.1',
        'https://255.255.255.255', 'https://[fec0::1]',
      ];
      for (const baseUrl of refused) {
        assert.equal(expectError(await c.call('POST', '/providers', { providerId: 'ssrf', name: 'x', baseUrl }), 400, 'ERR_NGROK_27718').details.field, 'baseUrl', baseUrl);
      }
      const surface = expectError(await c.call('POST', '/providers', { providerId: 'ssrf', name: 'x', baseUrl: 'https://a.example.com', supportedApiSurfaces: [{ format: 'openai', baseUrl: 'https://10.0.0.1/v1' }] }), 400, 'ERR_NGROK_27718');
      assert.equal(surface.details.field, 'supportedApiSurfaces.0.baseUrl');
      const p = expectSchema<Provider>(await c.call('POST', '/providers', { providerId: 'azure', name: 'Azure', baseUrl: 'https://my.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01' }), 201, PROVIDERS.schema);
      assert.equal(p.baseUrl, 'https://my.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01');
      expectSchema(await c.call('POST', '/providers', { providerId: 'public-ip', name: 'x', baseUrl: 'https://8.8.8.8/v1' }), 201, PROVIDERS.schema);
      expectSchema(await c.call('POST', '/providers', { providerId: 'public-ip6', name: 'x', baseUrl: 'https://[2001:4860:4860::8888]/v1' }), 201, PROVIDERS.schema);
      expectSchema(await c.call('POST', '/providers', { providerId: 'mapped-public', name: 'x', baseUrl: 'https://[::ffff:8.8.8.8]/v1' }), 201, PROVIDERS.schema);
      expectError(await c.call('PATCH', `/providers/${p.id}`, { baseUrl: 'https://10.0.0.1/v1' }), 400, 'ERR_NGROK_27718');
      assert.equal(expectSchema<Provider>(await c.call('GET', `/providers/${p.id}`), 200, PROVIDERS.schema).baseUrl, p.baseUrl);
    });
  });

  describe(`provider base URLs with private upstreams allowed (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind, { TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1' }); });
    after(async () => { await c.close(); });

    it('accepts http and loopback addresses', async () => {
      for (const [i, baseUrl] of ['http://127.0.0.1:11434/v1', 'http://localhost:8000', 'https://[::1]:8443'].entries()) {
        expectSchema(await c.call('POST', '/providers', { providerId: `local-${i}`, name: 'x', baseUrl }), 201, PROVIDERS.schema);
      }
    });
  });
}
