import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { providerKeyBinding, SecretBox } from '../src/domain/secret-box.ts';
import { CONFIGURATION_LIMIT } from '../src/control/configurations.ts';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertHead, assertIsolated, assertPaging, recordChanges, type Collection } from './helpers/crud.ts';

const CONFIGS: Collection = { path: '/access-key-configurations', listKey: 'aiGatewayAccessKeyConfigurations', listSchema: 'AIGatewayAccessKeyConfigurationList', schema: 'AIGatewayAccessKeyConfiguration' };
type StepKey = { id: string; name: string; keyRedacted: string };
type Rule = { provider?: string; model?: string; steps: { type: string; keySelectionStrategy?: string; keys?: StepKey[] }[] };
type Configuration = { id: string; name: string; accessKeyCount?: number; description?: string; metadata?: string; access?: unknown; router?: { rules: Rule[] } };

const user = (...keys: unknown[]) => ({ type: 'user', keys });

for (const kind of STORE_KINDS) {
  describe(`access key configurations (${kind})`, () => {
    let c: TestControl;
    /** Provider key ids: openai, anthropic, the custom provider's, and one of the other account. */
    const keys = { openai: '', anthropic: '', ollama: '', foreign: '' };
    before(async () => {
      c = await startControl(kind);
      const key = async (providerId: string, token = c.token) => (await c.call('POST', '/provider-keys', { providerId, name: `${providerId} key`, value: `sk-${providerId}-0123456789abcdef` }, token)).json<{ id: string }>().id;
      assert.equal((await c.call('POST', '/providers', { providerId: 'my-ollama', name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', models: [{ modelId: 'llama3.2' }] })).statusCode, 201);
      assert.equal((await c.call('POST', '/providers', { providerId: 'their-llm', name: 'Theirs', baseUrl: 'https://llm.example.com' }, c.other.token)).statusCode, 201);
      keys.openai = await key('openai');
      keys.anthropic = await key('anthropic');
      keys.ollama = await key('my-ollama');
      keys.foreign = await key('openai', c.other.token);
    });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>) => expectSchema<Configuration>(await c.call('POST', CONFIGS.path, body), 201, CONFIGS.schema);
    const remove = async (id: string) => assert.equal((await c.call('DELETE', `${CONFIGS.path}/${id}`)).statusCode, 204);
    const providerKeyCount = async () => (await c.store.db.selectFrom('providerKeys').select('id').where('accountId', '=', c.accountId).execute()).length;

    it('runs the guide\'s example end to end and links it to an access key', async () => {
      const changes = recordChanges(c);
      const seed = {
        name: 'Production OpenAI BYOK',
        access: { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o'] } },
        router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: keys.openai }] }] }] },
      };
      const cfg = await create(seed);
      assert.match(cfg.id, /^aigac_/);
      assert.equal(cfg.name, 'Production OpenAI BYOK');
      assert.deepEqual(cfg.access, seed.access);
      assert.deepEqual(cfg.router, { rules: [{ provider: 'openai', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: keys.openai, name: 'openai key', keyRedacted: 'sk-ope***def' }] }] }] });
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId, x.accountId]), [['configuration', cfg.id, c.accountId]]);
      assert.deepEqual(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema), cfg);
      await assertHead(c, `${CONFIGS.path}/${cfg.id}`);

      const accessKey = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', { name: 'app' }), 201, 'AIGatewayAccessKey');
      const linked = expectSchema<{ accessKeyConfiguration: { id: string; name: string } | null }>(await c.call('PATCH', `/access-keys/${accessKey.id}`, { accessKeyConfigurationId: cfg.id }), 200, 'AIGatewayAccessKey');
      assert.deepEqual({ id: linked.accessKeyConfiguration?.id, name: linked.accessKeyConfiguration?.name }, { id: cfg.id, name: 'Production OpenAI BYOK' });
      // ngrok's later contract: how many keys a configuration has, and the keys of one configuration.
      const other = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', { name: 'unlinked' }), 201, 'AIGatewayAccessKey');
      assert.equal(cfg.accessKeyCount, 0);
      assert.equal(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema).accessKeyCount, 1);
      const listed = expectSchema<{ aiGatewayAccessKeyConfigurations: Configuration[] }>(await c.call('GET', CONFIGS.path), 200, 'AIGatewayAccessKeyConfigurationList');
      assert.equal(listed.aiGatewayAccessKeyConfigurations.find((x) => x.id === cfg.id)?.accessKeyCount, 1);
      const ofCfg = expectSchema<{ aiGatewayAccessKeys: Array<{ id: string }>; uri: string }>(await c.call('GET', `/access-keys?accessKeyConfigurationId=${cfg.id}`), 200, 'AIGatewayAccessKeyList');
      assert.deepEqual(ofCfg.aiGatewayAccessKeys.map((k) => k.id), [accessKey.id]);
      assert.match(ofCfg.uri, new RegExp(`accessKeyConfigurationId=${cfg.id}`));
      assert.deepEqual(expectSchema<{ aiGatewayAccessKeys: unknown[] }>(await c.call('GET', '/access-keys?accessKeyConfigurationId=aigac_none'), 200, 'AIGatewayAccessKeyList').aiGatewayAccessKeys, []);
      assert.ok(expectSchema<{ aiGatewayAccessKeys: Array<{ id: string }> }>(await c.call('GET', '/access-keys?accessKeyConfigurationId='), 200, 'AIGatewayAccessKeyList').aiGatewayAccessKeys.some((k) => k.id === other.id), 'an empty value is no filter');
      assert.equal((await c.call('HEAD', `/access-keys?accessKeyConfigurationId=${cfg.id}`)).statusCode, 200);
      assert.equal((await c.call('DELETE', `/access-keys/${other.id}`)).statusCode, 204);
      const err = expectError(await c.call('DELETE', `${CONFIGS.path}/${cfg.id}`), 409, 'ERR_NGROK_27615');
      assert.ok(err.msg.includes(accessKey.id), err.msg);
      expectSchema(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema);
      expectSchema(await c.call('PATCH', `/access-keys/${accessKey.id}`, { accessKeyConfigurationId: null }), 200, 'AIGatewayAccessKey');
      await remove(cfg.id);
      expectError(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `${CONFIGS.path}/${cfg.id}`), 404, 'ERR_NGROK_27611');
      assert.equal((await c.call('HEAD', `${CONFIGS.path}/${cfg.id}`)).statusCode, 404);
      assert.deepEqual(changes.filter((x) => x.kind === 'configuration').map((x) => x.resourceId), [cfg.id, cfg.id]);
      assert.equal((await c.call('DELETE', `/access-keys/${accessKey.id}`)).statusCode, 204);
    });

    it('a link and a delete racing never leave an access key pointing at a deleted configuration', async () => {
      const accessKey = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', { name: 'racer' }), 201, 'AIGatewayAccessKey');
      for (let i = 0; i < 15; i++) {
        const cfg = await create({ name: `deny all ${i}`, access: { providers: { allow: [] } } });
        const [link, del] = await Promise.all([
          c.call('PATCH', `/access-keys/${accessKey.id}`, { accessKeyConfigurationId: cfg.id }),
          c.call('DELETE', `${CONFIGS.path}/${cfg.id}`),
        ]);
        // Either the link landed first (the delete sees it: 409) or the delete did (the link finds nothing: 404).
        assert.ok((link.statusCode === 200 && del.statusCode === 409) || (link.statusCode === 404 && del.statusCode === 204), `link ${link.statusCode}, delete ${del.statusCode}`);
        const linked = (await c.call('GET', `/access-keys/${accessKey.id}`)).json() as { accessKeyConfiguration: { id: string } | null };
        if (linked.accessKeyConfiguration) expectSchema(await c.call('GET', `${CONFIGS.path}/${linked.accessKeyConfiguration.id}`), 200, CONFIGS.schema);
        expectSchema(await c.call('PATCH', `/access-keys/${accessKey.id}`, { accessKeyConfigurationId: null }), 200, 'AIGatewayAccessKey');
        if (link.statusCode === 200) await remove(cfg.id);
      }
      assert.equal((await c.call('DELETE', `/access-keys/${accessKey.id}`)).statusCode, 204);
    });

    it('lists newest first with limit, beforeId and nextPageUri', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create({ name: `c${i}` })).id);
      await assertHead(c, CONFIGS.path);
      await assertPaging(c, CONFIGS, ids);
      for (const id of ids) await remove(id);
    });

    it('applies PATCH tri-state to every field', async () => {
      const router = { rules: [{ provider: 'anthropic', steps: [{ type: 'ngrok' }, user({ id: keys.anthropic })] }] };
      const cfg = await create({ name: 'tri', description: 'd', metadata: 'm', access: { models: { allow: [] } }, router });
      const changes = recordChanges(c);
      let got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { name: 'renamed' }), 200, CONFIGS.schema);
      assert.deepEqual({ ...got, name: cfg.name, updatedAt: undefined }, { ...cfg, updatedAt: undefined }, 'absent fields are kept');
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId]), [['configuration', cfg.id]]);
      got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { access: { providers: { allow: ['anthropic'] } }, router: { rules: [{ model: 'anthropic:claude-sonnet-4-6', steps: [{ type: 'ngrok' }] }] } }), 200, CONFIGS.schema);
      assert.deepEqual(got.access, { providers: { allow: ['anthropic'] } });
      assert.deepEqual(got.router, { rules: [{ model: 'anthropic:claude-sonnet-4-6', steps: [{ type: 'ngrok' }] }] });
      assert.equal(got.description, 'd');
      got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { access: null, router: null, description: null, metadata: null }), 200, CONFIGS.schema);
      assert.equal(got.access, undefined, 'access null reads back as allow-all (absent)');
      assert.equal(got.router, undefined, 'router null reads back as the defaults (absent)');
      assert.equal(got.description, undefined);
      assert.equal(got.metadata, undefined);
      assert.equal(got.name, 'renamed');
      const stored = await c.store.db.selectFrom('accessKeyConfigurations').select(['access', 'router']).where('id', '=', cfg.id).executeTakeFirstOrThrow();
      assert.deepEqual(stored, { access: null, router: null });
      got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { router: {} }), 200, CONFIGS.schema);
      assert.deepEqual(got.router, { rules: [] });
      expectError(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { name: null }), 400, 'ERR_NGROK_27602');
      expectError(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27603');
      expectError(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { router: { rules: [{ steps: [{ type: 'ngrok' }] }] } }), 400, 'ERR_NGROK_27605');
      assert.deepEqual(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema).router, { rules: [] }, 'a refused PATCH changes nothing');
      expectError(await c.call('PATCH', `${CONFIGS.path}/aigac_missing`, { name: 'x' }), 404, 'ERR_NGROK_27611');
      // Ids of any length, and URLs the router cannot decode, get the contract's error shape (not the framework's).
      expectError(await c.call('GET', `${CONFIGS.path}/aigac_${'x'.repeat(300)}`), 404, 'ERR_NGROK_27611');
      const long = `aigac_${'x'.repeat(5000)}`;
      const missing = expectError(await c.call('DELETE', `${CONFIGS.path}/aigac_missing`), 404, 'ERR_NGROK_27611').details;
      assert.deepEqual(expectError(await c.call('DELETE', `${CONFIGS.path}/${long}`), 404, 'ERR_NGROK_27611').details, { ...missing, id: `${long.slice(0, 256)}…[${long.length - 256} more]` }, 'the unknown id\'s not-found (the id cut as every error cuts a client\'s string), not a missing route');
      expectError(await c.call('GET', `${CONFIGS.path}/%E0%A4%A`), 400, 'ERR_NGROK_27606');
      await remove(cfg.id);
    });

    it('creates inline keys sealed, for the rule\'s provider, and never echoes their value', async () => {
      const before = await providerKeyCount();
      const secret = 'sk-inline-SECRET-abcdefghijklmnop';
      const res = await c.call('POST', CONFIGS.path, {
        name: 'inline',
        router: { rules: [
          { provider: 'openai', steps: [user({ id: keys.openai }, { name: 'fresh', value: secret })] },
          { model: 'my-ollama:llama3.2', steps: [user({ name: 'local', value: 'ollama-token-0000000000' })] },
        ] },
      });
      const cfg = expectSchema<Configuration>(res, 201, CONFIGS.schema);
      assert.ok(!res.body.includes(secret) && !res.body.includes('SECRET'));
      const [first, second] = cfg.router!.rules;
      const fresh = first!.steps[0]!.keys![1]!;
      assert.equal(first!.steps[0]!.keys![0]!.id, keys.openai);
      assert.equal(fresh.name, 'fresh');
      assert.equal(fresh.keyRedacted, 'sk-inlin***mnop');
      const local = second!.steps[0]!.keys![0]!;
      assert.equal(await providerKeyCount(), before + 2);
      const detail = expectSchema<{ providerId: string }>(await c.call('GET', `/provider-keys/${fresh.id}`), 200, 'AIGatewayProviderAPIKeyDetail');
      assert.equal(detail.providerId, 'openai');
      assert.equal(expectSchema<{ providerId: string }>(await c.call('GET', `/provider-keys/${local.id}`), 200, 'AIGatewayProviderAPIKeyDetail').providerId, 'my-ollama');
      const row = await c.store.db.selectFrom('providerKeys').select('sealedValue').where('id', '=', fresh.id).executeTakeFirstOrThrow();
      assert.ok(!row.sealedValue.includes(secret));
      assert.equal(new SecretBox(c.config.masterKey).open(row.sealedValue, providerKeyBinding({ accountId: c.accountId, providerId: 'openai', id: fresh.id })), secret);
      const stored = await c.store.db.selectFrom('accessKeyConfigurations').select('router').where('id', '=', cfg.id).executeTakeFirstOrThrow();
      assert.ok(!stored.router!.includes(secret), 'the stored router holds key ids only');
      assert.deepEqual(JSON.parse(stored.router!).rules[0].steps[0].keys, [{ id: keys.openai }, { id: fresh.id }]);
      expectError(await c.call('DELETE', `/provider-keys/${fresh.id}`), 409, 'ERR_NGROK_27511');
      await remove(cfg.id);
      for (const id of [fresh.id, local.id]) assert.equal((await c.call('DELETE', `/provider-keys/${id}`)).statusCode, 204);
    });

    it('creates no inline key when the configuration is refused', async () => {
      const before = await providerKeyCount();
      const inline = user({ name: 'never', value: 'sk-never-stored-000000' });
      expectError(await c.call('POST', CONFIGS.path, { name: 'x', router: { rules: [{ provider: 'openai', steps: [inline] }, { provider: 'nope', steps: [inline] }] } }), 400, 'ERR_NGROK_27605');
      const groqKeys = async () => (await c.store.db.selectFrom('providerKeys').select('id').where('accountId', '=', c.accountId).where('providerId', '=', 'groq').execute()).length;
      for (let i = 0; i < 49; i++) expectSchema(await c.call('POST', '/provider-keys', { providerId: 'groq', name: `fill${i}`, value: `sk-fill-${i}-00000000` }), 201, 'AIGatewayProviderAPIKeyDetail');
      const twoInline = { rules: [{ provider: 'groq', steps: [user({ name: 'a', value: 'sk-a-00000000000' }, { name: 'b', value: 'sk-b-00000000000' })] }] };
      expectError(await c.call('POST', CONFIGS.path, { name: 'x', router: twoInline }), 409, 'ERR_NGROK_27506');
      assert.equal(await groqKeys(), 49, 'the inline keys count toward the per-provider limit together');
      expectSchema(await c.call('POST', CONFIGS.path, { name: 'fits', router: { rules: [{ provider: 'groq', steps: [user({ name: 'a', value: 'sk-a-00000000000' })] }] } }), 201, CONFIGS.schema);
      assert.equal(await groqKeys(), 50);
      await c.store.db.deleteFrom('accessKeyConfigurations').where('accountId', '=', c.accountId).execute();
      await c.store.db.deleteFrom('providerKeys').where('providerId', '=', 'groq').execute();
      assert.equal(await providerKeyCount(), before);
      assert.deepEqual(expectSchema<{ aiGatewayAccessKeyConfigurations: unknown[] }>(await c.call('GET', CONFIGS.path), 200, CONFIGS.listSchema).aiGatewayAccessKeyConfigurations, []);
    });

    it('refuses every invalid router with ERR_NGROK_27605, a reason and the member\'s path', async () => {
      // The path as validation.ts writes one (`details.field`), where the message says `rules[0].steps[0]`.
      const cases: [string, unknown[], RegExp, string][] = [
        ['neither provider nor model', [{ steps: [{ type: 'ngrok' }] }], /provider or a model/, 'router.rules.0.provider'],
        ['user step without keys', [{ provider: 'openai', steps: [{ type: 'user' }] }], /at least one key/, 'router.rules.0.steps.0.keys'],
        ['user step with empty keys', [{ provider: 'openai', steps: [{ type: 'user', keys: [] }] }], /at least one key/, 'router.rules.0.steps.0.keys'],
        ['ngrok step with keys', [{ provider: 'openai', steps: [{ type: 'ngrok', keys: [{ id: keys.openai }] }] }], /takes no keys/, 'router.rules.0.steps.0.keys'],
        ['ngrok step for a non-managed built-in', [{ provider: 'groq', steps: [{ type: 'ngrok' }] }], /cannot use an "ngrok" step/, 'router.rules.0.steps.0.type'],
        ['ngrok step for a custom provider', [{ provider: 'my-ollama', steps: [{ type: 'ngrok' }] }], /cannot use an "ngrok" step/, 'router.rules.0.steps.0.type'],
        ['ngrok step for a custom provider model', [{ model: 'my-ollama:llama3.2', steps: [{ type: 'ngrok' }] }], /cannot use an "ngrok" step/, 'router.rules.0.steps.0.type'],
        ['unknown key id', [{ provider: 'openai', steps: [user({ id: 'aigpk_doesnotexist' })] }], /does not exist/, 'router.rules.0.steps.0.keys.0.id'],
        ['another account\'s key', [{ provider: 'openai', steps: [user({ id: keys.foreign })] }], /does not exist/, 'router.rules.0.steps.0.keys.0.id'],
        ['key of another provider', [{ provider: 'openai', steps: [user({ id: keys.anthropic })] }], /belongs to provider "anthropic"/, 'router.rules.0.steps.0.keys.0.id'],
        ['key of another provider (model rule)', [{ model: 'openai:gpt-4o', steps: [user({ id: keys.ollama })] }], /belongs to provider "my-ollama"/, 'router.rules.0.steps.0.keys.0.id'],
        ['key listed twice', [{ provider: 'openai', steps: [user({ id: keys.openai }, { id: keys.openai })] }], /listed twice/, 'router.rules.0.steps.0.keys.1.id'],
        ['two rules for one provider', [{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'openai', steps: [user({ id: keys.openai })] }], /already has a rule/, 'router.rules.1.provider'],
        ['two rules for one model', [{ model: 'openai:gpt-4o', steps: [{ type: 'ngrok' }] }, { model: 'openai:GPT-4o', steps: [{ type: 'ngrok' }] }], /already has a rule/, 'router.rules.1.model'],
        ['unqualified model', [{ model: 'gpt-4o', steps: [{ type: 'ngrok' }] }], /provider-qualified/, 'router.rules.0.model'],
        ['model with empty provider part', [{ model: ':gpt-4o', steps: [{ type: 'ngrok' }] }], /provider-qualified/, 'router.rules.0.model'],
        ['model of an unknown provider', [{ model: 'nope:gpt-4o', steps: [{ type: 'ngrok' }] }], /unknown provider "nope"/, 'router.rules.0.model'],
        ['model of another provider than the rule', [{ provider: 'anthropic', model: 'openai:gpt-4o', steps: [{ type: 'ngrok' }] }], /does not belong/, 'router.rules.0.model'],
        ['unknown rule provider', [{ provider: 'nope', steps: [{ type: 'ngrok' }] }], /neither a built-in provider nor one of this account's/, 'router.rules.0.provider'],
        ['another account\'s custom provider', [{ provider: 'their-llm', steps: [user({ name: 'k', value: 'v-0000000000' })] }], /neither a built-in provider/, 'router.rules.0.provider'],
        ['inline Bedrock key', [{ provider: 'bedrock', steps: [user({ name: 'k', value: 'ABSK-0000000000' })] }], /a Bedrock key needs its AWS region, which an inline key cannot carry/, 'router.rules.0.steps.0.keys.0'],
        ['inline key without value', [{ provider: 'openai', steps: [user({ name: 'k' })] }], /needs both "name" and "value"/, 'router.rules.0.steps.0.keys.0.value'],
        ['inline key without name', [{ provider: 'openai', steps: [user({ value: 'sk-x-0000000000' })] }], /needs both "name" and "value"/, 'router.rules.0.steps.0.keys.0.name'],
        ['key with neither id nor name and value', [{ provider: 'openai', steps: [user({})] }], /needs both "name" and "value"/, 'router.rules.0.steps.0.keys.0'],
        ['inline key with empty value', [{ provider: 'openai', steps: [user({ name: 'k', value: '  ' })] }], /must not be empty/, 'router.rules.0.steps.0.keys.0.value'],
        ['inline key no header can carry', [{ provider: 'openai', steps: [user({ name: 'k', value: 'sk-a\nb-000000' })] }], /"value" holds a line break at position 5/, 'router.rules.0.steps.0.keys.0.value'],
        ['inline key name over 255 characters', [{ provider: 'openai', steps: [user({ name: 'k'.repeat(256), value: 'sk-x-0000000000' })] }], /"router\.rules\.0\.steps\.0\.keys\.0\.name" must be at most 255 characters/, 'router.rules.0.steps.0.keys.0.name'],
        ['id together with an inline key', [{ provider: 'openai', steps: [user({ id: keys.openai, name: 'k', value: 'sk-x-0000000000' })] }], /either "id" or "name" with "value"/, 'router.rules.0.steps.0.keys.0'],
        ['id together with a name', [{ provider: 'openai', steps: [user({ id: keys.openai, name: 'k' })] }], /either "id"/, 'router.rules.0.steps.0.keys.0'],
        // More ids than one SQL statement may bind (SQLite 32,766, PostgreSQL 65,535): still a plain 400.
        ['66,000 unknown key ids', [{ provider: 'openai', steps: [user(...Array.from({ length: 66_000 }, (_, i) => ({ id: i.toString(36) })))] }], /does not exist/, 'router.rules.0.steps.0.keys.0.id'],
      ];
      const before = await providerKeyCount();
      for (const [label, rules, reason, field] of cases) {
        const err = expectError(await c.call('POST', CONFIGS.path, { name: label, router: { rules } }), 400, 'ERR_NGROK_27605');
        assert.match(err.msg, /^Invalid router configuration: /, label);
        assert.match(err.msg, reason, `${label}: ${err.msg}`);
        assert.equal(err.details.field, field, label);
      }
      assert.equal(await providerKeyCount(), before);
      assert.deepEqual(expectSchema<{ aiGatewayAccessKeyConfigurations: unknown[] }>(await c.call('GET', CONFIGS.path), 200, CONFIGS.listSchema).aiGatewayAccessKeyConfigurations, []);
    });

    it('accepts valid combinations of rules', async () => {
      const cfg = await create({ name: 'ok', router: { rules: [
        { provider: 'openai', steps: [{ type: 'ngrok' }, user({ id: keys.openai })] },
        { model: 'openai:gpt-4o', steps: [user({ id: keys.openai })] },
        { provider: 'openai', model: 'openai:gpt-4o-mini', steps: [{ type: 'ngrok', keys: [] }] },
        { provider: 'my-ollama', steps: [user({ id: keys.ollama })] },
        { model: 'my-ollama:llama3.2', steps: [user({ id: keys.ollama })] },
        { provider: 'anthropic', steps: [user({ id: keys.anthropic })] },
      ] } });
      assert.equal(cfg.router!.rules.length, 6);
      assert.deepEqual(cfg.router!.rules[2], { provider: 'openai', model: 'openai:gpt-4o-mini', steps: [{ type: 'ngrok' }] });
      await remove(cfg.id);
    });

    it('allows MCP servers by label and MCP tools as <label>/<tool> patterns, beside providers and models', async () => {
      const access = { providers: { allow: ['openai'] }, mcpServers: { allow: ['docs', 'tickets'] }, mcpTools: { allow: ['docs/search', 'tickets/*', 'docs/get_*'] } };
      const cfg = await create({ name: 'agents', access });
      assert.deepEqual(cfg.access, access);
      assert.deepEqual(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema).access, access);
      // Each dimension on its own; an empty list allows none; left out, it is no restriction.
      let got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { access: { mcpTools: { allow: [] } } }), 200, CONFIGS.schema);
      assert.deepEqual(got.access, { mcpTools: { allow: [] } });
      got = expectSchema<Configuration>(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { access: { mcpServers: {} } }), 200, CONFIGS.schema);
      assert.deepEqual(got.access, { mcpServers: {} });
      // Labels a server could have, and <label>/<tool> patterns; nothing else is stored.
      for (const [dimension, entry, reason] of [
        ['mcpServers', 'Docs', 'must be an MCP server label'],
        ['mcpServers', 'docs__v2', 'must be an MCP server label'],
        ['mcpServers', 'docs/*', 'must be an MCP server label'],
        ['mcpServers', '*', 'must be an MCP server label'],
        ['mcpTools', 'docs', 'must be <label>/<tool>'],
        ['mcpTools', 'docs__search', 'must be <label>/<tool>'],
        ['mcpTools', 'docs/', 'must be <label>/<tool>'],
        ['mcpTools', 'Docs/search', 'must be <label>/<tool>'],
        ['mcpTools', 'docs/two words', 'must be <label>/<tool>'],
      ] as const) {
        const e = expectError(await c.call('POST', CONFIGS.path, { name: 'n', access: { [dimension]: { allow: ['ok', entry].map((x) => (x === 'ok' && dimension === 'mcpTools' ? 'ok/t' : x)) } } }), 400, 'ERR_NGROK_27606');
        assert.equal(e.details.field, `access.${dimension}.allow.1`);
        assert.ok(e.msg.includes(reason), e.msg);
        expectError(await c.call('PATCH', `${CONFIGS.path}/${cfg.id}`, { access: { [dimension]: { allow: [entry] } } }), 400, 'ERR_NGROK_27606');
      }
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', access: { mcpTools: { allow: ['docs/*'], deny: [] } } }), 400, 'ERR_NGROK_27606');
      assert.deepEqual(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema).access, { mcpServers: {} });
      await remove(cfg.id);
    });

    it('validates fields with the general codes', async () => {
      expectError(await c.call('POST', CONFIGS.path, {}), 400, 'ERR_NGROK_27602');
      expectError(await c.call('POST', CONFIGS.path, { name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27603');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', description: 'x'.repeat(256) }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', metadata: 'x'.repeat(4097) }), 400, 'ERR_NGROK_27604');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', color: 'red' }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', access: { providers: { allow: ['openai'], deny: [] } } }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', router: { rules: [{ provider: 'openai', steps: [] }] } }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', CONFIGS.path, { name: 'n', router: { rules: [{ provider: 'openai', steps: [{ type: 'managed' }] }] } }), 400, 'ERR_NGROK_27606');
      assert.deepEqual(expectSchema<{ aiGatewayAccessKeyConfigurations: unknown[] }>(await c.call('GET', CONFIGS.path), 200, CONFIGS.listSchema).aiGatewayAccessKeyConfigurations, []);
    });

    it('stops at the account\'s limit: each configuration is held in every gateway\'s memory', async () => {
      const held = expectSchema<{ aiGatewayAccessKeyConfigurations: { id: string }[] }>(await c.call('GET', `${CONFIGS.path}?limit=100`), 200, CONFIGS.listSchema).aiGatewayAccessKeyConfigurations.length;
      const ids: string[] = [];
      for (let i = held; i < CONFIGURATION_LIMIT; i++) ids.push((await create({ name: `fill-${i}` })).id);
      const before = await providerKeyCount();
      const e = expectError(await c.call('POST', CONFIGS.path, { name: 'one more', router: { rules: [{ provider: 'openai', steps: [user({ name: 'k', value: 'sk-never-stored-000000' })] }] } }), 409, 'ERR_NGROK_27618');
      assert.equal(e.msg, `This account can have at most ${CONFIGURATION_LIMIT} access key configurations. Delete one before you create another.`);
      assert.equal(await providerKeyCount(), before, 'a refused configuration creates none of its inline keys');
      // The other account's limit is its own; a delete makes room again.
      const theirs = expectSchema<Configuration>(await c.call('POST', CONFIGS.path, { name: 'theirs' }, c.other.token), 201, CONFIGS.schema);
      assert.equal((await c.call('DELETE', `${CONFIGS.path}/${theirs.id}`, undefined, c.other.token)).statusCode, 204);
      await remove(ids.pop()!);
      ids.push((await create({ name: 'room again' })).id);
      for (const id of ids) await remove(id);
    });

    it('keeps configurations invisible to other accounts', async () => {
      const cfg = await create({ name: 'mine', router: { rules: [{ provider: 'openai', steps: [user({ id: keys.openai })] }] } });
      await assertIsolated(c, CONFIGS, cfg.id, { name: 'stolen' });
      const theirKey = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', {}, c.other.token), 201, 'AIGatewayAccessKey');
      const e = expectError(await c.call('PATCH', `/access-keys/${theirKey.id}`, { accessKeyConfigurationId: cfg.id }, c.other.token), 404, 'ERR_NGROK_27611');
      assert.deepEqual(e.details, { resource: 'Access key configuration', id: cfg.id, field: 'accessKeyConfigurationId' }, 'the id in the body is named by its member');
      assert.equal(expectSchema<Configuration>(await c.call('GET', `${CONFIGS.path}/${cfg.id}`), 200, CONFIGS.schema).name, 'mine');
      await remove(cfg.id);
    });
  });
}
