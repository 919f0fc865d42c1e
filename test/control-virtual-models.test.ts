// /virtual-models (ngrok's Virtual Models): CRUD, each refusal with ngrok's named code and message, the allow-list
// rule on configurations, and the change each write announces, on both stores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertPaging, recordChanges, type Collection } from './helpers/crud.ts';
import { VIRTUAL_MODEL_LIMIT } from '../src/control/virtual-models.ts';

const VIRTUAL: Collection = { path: '/virtual-models', listKey: 'aiGatewayVirtualModels', listSchema: 'AIGatewayVirtualModelList', schema: 'AIGatewayVirtualModel' };
type Virtual = { id: string; uri: string; name: string; description?: string; targets: string[]; createdAt: string; updatedAt: string };

for (const kind of STORE_KINDS) {
  describe(`virtual models (${kind})`, () => {
    let c: TestControl;
    before(async () => {
      c = await startControl(kind);
      assert.equal((await c.call('POST', '/providers', { providerId: 'my-ollama', name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', models: [{ modelId: 'llama3.2' }] })).statusCode, 201);
    });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>) => expectSchema<Virtual>(await c.call('POST', VIRTUAL.path, body), 201, VIRTUAL.schema);

    it('creates, reads, lists, renames, retargets and deletes one, announcing each write', async () => {
      const changes = recordChanges(c);
      const made = await create({ name: 'chat-default', description: 'the app\'s chat model', targets: ['anthropic/claude-sonnet-4-6', 'openai:gpt-4o', 'my-ollama:llama3.2'] });
      assert.match(made.id, /^aigvm_/);
      assert.match(made.uri, new RegExp(`/virtual-models/${made.id}$`));
      assert.deepEqual([made.name, made.description, made.targets], ['chat-default', 'the app\'s chat model', ['anthropic/claude-sonnet-4-6', 'openai:gpt-4o', 'my-ollama:llama3.2']]);
      assert.deepEqual(expectSchema<Virtual>(await c.call('GET', `${VIRTUAL.path}/${made.id}`), 200, VIRTUAL.schema), made);
      const listed = expectSchema<{ aiGatewayVirtualModels: Virtual[] }>(await c.call('GET', VIRTUAL.path), 200, VIRTUAL.listSchema);
      assert.deepEqual(listed.aiGatewayVirtualModels, [made]);

      const renamed = expectSchema<Virtual>(await c.call('PATCH', `${VIRTUAL.path}/${made.id}`, { name: 'chat.main_v2', description: null }), 200, VIRTUAL.schema);
      assert.deepEqual([renamed.name, renamed.description, renamed.targets], ['chat.main_v2', undefined, made.targets]);
      const retargeted = expectSchema<Virtual>(await c.call('PATCH', `${VIRTUAL.path}/${made.id}`, { targets: ['ngrok/auto'] }), 200, VIRTUAL.schema);
      assert.deepEqual([retargeted.name, retargeted.targets], ['chat.main_v2', ['ngrok/auto']]);

      assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${made.id}`)).statusCode, 204);
      expectError(await c.call('GET', `${VIRTUAL.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `${VIRTUAL.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId, x.accountId]), Array(4).fill(['virtualModel', made.id, c.accountId]));
      // Gateways in other processes replay the same changes from the store.
      const rows = await c.store.db.selectFrom('stateChanges').select(['kind', 'resourceId']).where('resourceId', '=', made.id).execute();
      assert.equal(rows.filter((r) => r.kind === 'virtualModel').length, 4);
    });

    it('refuses each invalid name with ngrok\'s code and message', async () => {
      const long = 'a'.repeat(65);
      let e = expectError(await c.call('POST', VIRTUAL.path, { name: long, targets: ['gpt-4o'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_TOO_LONG');
      assert.equal(e.msg, 'Virtual model names can be at most 64 characters. Got 65.');
      // ngrok's messages say "names"; the member is named where every other refusal names it.
      assert.equal(e.details.field, 'name');
      const longest = await create({ name: 'a'.repeat(64), targets: ['gpt-4o'] });
      assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${longest.id}`)).statusCode, 204);
      for (const name of ['chat default', 'chat/default', 'openai:gpt-4o', 'modèle']) {
        e = expectError(await c.call('POST', VIRTUAL.path, { name, targets: ['gpt-4o'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ILLEGAL_CHARACTER');
        assert.deepEqual([e.msg, e.details.field], ['Virtual model names can use letters, numbers, \'.\', \'_\', and \'-\'.', 'name']);
      }
      for (const body of [{ targets: ['gpt-4o'] }, { name: '', targets: ['gpt-4o'] }]) {
        e = expectError(await c.call('POST', VIRTUAL.path, body), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_REQUIRED');
        assert.deepEqual([e.msg, e.details.field], ['Virtual model name is required.', 'name']);
      }
      // A model's name, the catalog's (any case) or the account's own provider's.
      for (const name of ['gpt-4o', 'GPT-4o', 'claude-sonnet-4-6', 'llama3.2']) {
        e = expectError(await c.call('POST', VIRTUAL.path, { name, targets: ['gpt-4o'] }), 409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_CONFLICT');
        assert.deepEqual([e.msg, e.details.field], [`${name} is already a model name.`, 'name']);
      }
      const first = await create({ name: 'fast', targets: ['gpt-4o-mini'] });
      e = expectError(await c.call('POST', VIRTUAL.path, { name: 'FAST', targets: ['gpt-4o'] }), 409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ALREADY_EXISTS');
      assert.deepEqual([e.msg, e.details.field], ['A virtual model named FAST already exists.', 'name']);
      const second = await create({ name: 'slow', targets: ['gpt-4o'] });
      assert.equal(expectError(await c.call('PATCH', `${VIRTUAL.path}/${second.id}`, { name: 'fast' }), 409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ALREADY_EXISTS').details.field, 'name');
      assert.equal(expectError(await c.call('PATCH', `${VIRTUAL.path}/${second.id}`, { name: null }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_REQUIRED').details.field, 'name');
      // Renaming to its own name (another case) is no conflict.
      assert.equal(expectSchema<Virtual>(await c.call('PATCH', `${VIRTUAL.path}/${first.id}`, { name: 'Fast' }), 200, VIRTUAL.schema).name, 'Fast');
      // Another account may use the name.
      const theirs = expectSchema<Virtual>(await c.call('POST', VIRTUAL.path, { name: 'fast', targets: ['gpt-4o'] }, c.other.token), 201, VIRTUAL.schema);
      assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${theirs.id}`, undefined, c.other.token)).statusCode, 204);
      for (const v of [first, second]) assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${v.id}`)).statusCode, 204);
    });

    it('refuses each invalid target list with ngrok\'s code and message', async () => {
      for (const targets of [[], Array.from({ length: 11 }, (_, i) => `openai:gpt-4o-v${i}`)]) {
        const e = expectError(await c.call('POST', VIRTUAL.path, { name: 'v', targets }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGETS_OUT_OF_RANGE');
        assert.deepEqual([e.msg, e.details.field], [`A virtual model needs 1 to 10 models. Got ${targets.length}.`, 'targets']);
      }
      let e = expectError(await c.call('POST', VIRTUAL.path, { name: 'v', targets: ['gpt-4o', 'claude-sonnet-4-6', 'GPT-4o'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_DUPLICATED');
      // Named where it is repeated: the list's third entry.
      assert.deepEqual([e.msg, e.details.field], ['GPT-4o is in this virtual model more than once.', 'targets.2']);
      for (const target of ['gpt-4oo', 'nope:gpt-4o', 'my-ollama:llama9', 'openai/']) {
        e = expectError(await c.call('POST', VIRTUAL.path, { name: 'v', targets: ['gpt-4o', target] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_NOT_FOUND');
        assert.deepEqual([e.msg, e.details.field], [`${target} isn't a valid model.`, 'targets.1']);
      }
      e = expectError(await c.call('POST', VIRTUAL.path, { name: 'v', targets: ['ngrok/auto', 'gpt-4o'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_AUTO_MIXED_NOT_ALLOWED');
      assert.deepEqual([e.msg, e.details.field], ['\'ngrok/auto\' must be the only model in a virtual model.', 'targets']);
      const inner = await create({ name: 'inner', targets: ['gpt-4o'] });
      e = expectError(await c.call('POST', VIRTUAL.path, { name: 'outer', targets: ['claude-sonnet-4-6', 'Inner'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_NESTING_NOT_ALLOWED');
      assert.deepEqual([e.msg, e.details.field], ['Inner is a virtual model. Virtual models can\'t point to other virtual models.', 'targets.1']);
      assert.equal(expectError(await c.call('PATCH', `${VIRTUAL.path}/${inner.id}`, { targets: ['inner'] }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGET_NESTING_NOT_ALLOWED').details.field, 'targets.0');
      assert.equal(expectError(await c.call('PATCH', `${VIRTUAL.path}/${inner.id}`, { targets: null }), 400, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_TARGETS_OUT_OF_RANGE').details.field, 'targets');
      // A pass-through model of a built-in provider is a model requests may use (with one's own provider key).
      assert.deepEqual(expectSchema<Virtual>(await c.call('PATCH', `${VIRTUAL.path}/${inner.id}`, { targets: ['openai:gpt-5-preview'] }), 200, VIRTUAL.schema).targets, ['openai:gpt-5-preview']);
      assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${inner.id}`)).statusCode, 204);
    });

    it('a virtual model\'s name cannot be in a configuration\'s models allow list', async () => {
      const v = await create({ name: 'chat-default', targets: ['gpt-4o'] });
      const access = { models: { allow: ['openai/gpt-4o', 'Chat-Default'] } };
      const e = expectError(await c.call('POST', '/access-key-configurations', { name: 'x', access }), 400, 'ERR_NGROK_AI_GATEWAY_ACCESS_CONFIG_VIRTUAL_MODEL_NOT_ALLOWED');
      assert.deepEqual([e.msg, e.details.field], ['Chat-Default is a virtual model. Add its models to the key instead.', 'access.models.allow.1']);
      const cfg = expectSchema<{ id: string }>(await c.call('POST', '/access-key-configurations', { name: 'x', access: { models: { allow: ['openai/gpt-4o'] } } }), 201, 'AIGatewayAccessKeyConfiguration');
      expectError(await c.call('PATCH', `/access-key-configurations/${cfg.id}`, { access }), 400, 'ERR_NGROK_AI_GATEWAY_ACCESS_CONFIG_VIRTUAL_MODEL_NOT_ALLOWED');
      assert.equal((await c.call('DELETE', `/access-key-configurations/${cfg.id}`)).statusCode, 204);
      assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${v.id}`)).statusCode, 204);
    });

    it('pages newest first, is invisible to other accounts, and stops at the account\'s limit', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create({ name: `page-${i}`, targets: ['gpt-4o'] })).id);
      await assertPaging(c, VIRTUAL, ids);
      // Another account's id reads as unknown (ngrok publishes no HEAD for this collection).
      for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'stolen' }], ['DELETE', undefined]] as const) {
        expectError(await c.call(method, `${VIRTUAL.path}/${ids[0]}`, body, c.other.token), 404, 'ERR_NGROK_27611');
      }
      assert.deepEqual(expectSchema<{ aiGatewayVirtualModels: Virtual[] }>(await c.call('GET', VIRTUAL.path, undefined, c.other.token), 200, VIRTUAL.listSchema).aiGatewayVirtualModels, []);
      assert.equal(expectSchema<Virtual>(await c.call('GET', `${VIRTUAL.path}/${ids[0]}`), 200, VIRTUAL.schema).name, 'page-0');
      for (let i = 5; i < VIRTUAL_MODEL_LIMIT; i++) ids.push((await create({ name: `page-${i}`, targets: ['gpt-4o'] })).id);
      const e = expectError(await c.call('POST', VIRTUAL.path, { name: 'one-more', targets: ['gpt-4o'] }), 409, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_LIMIT_EXCEEDED');
      assert.equal(e.msg, `This account can have at most ${VIRTUAL_MODEL_LIMIT} virtual models. Delete one before you create another.`);
      for (const id of ids) assert.equal((await c.call('DELETE', `${VIRTUAL.path}/${id}`)).statusCode, 204);
    });
  });
}
