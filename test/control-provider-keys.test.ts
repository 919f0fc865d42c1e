import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { providerKeyBinding, SecretBox } from '../src/domain/secret-box.ts';
import { PROVIDER_KEY_LIMIT } from '../src/control/provider-key-values.ts';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertHead, assertIsolated, assertPaging, recordChanges, type Collection } from './helpers/crud.ts';

const KEYS: Collection = { path: '/provider-keys', listKey: 'aiGatewayProviderKeys', listSchema: 'AIGatewayProviderAPIKeyList', schema: 'AIGatewayProviderAPIKeyDetail' };
type Detail = { id: string; providerId: string; name: string; keyRedacted: string; description?: string; metadata?: string; lastUsed: string | null; updatedAt: string };

for (const kind of STORE_KINDS) {
  describe(`provider keys (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind); });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>, status = 201) => expectSchema<Detail>(await c.call('POST', '/provider-keys', body), status, KEYS.schema);
    const sealedOf = async (id: string) => (await c.store.db.selectFrom('providerKeys').select('sealedValue').where('id', '=', id).executeTakeFirstOrThrow()).sealedValue;

    it('creates, reads, heads and lists keys newest first, with the provider filter', async () => {
      const changes = recordChanges(c);
      const a = await create({ providerId: 'anthropic', name: 'first', value: 'sk-ant-0000000000000000000001', description: 'd', metadata: '{"team":"x"}' });
      assert.equal(a.providerId, 'anthropic');
      assert.equal(a.keyRedacted, 'sk-ant-***001');
      assert.equal(a.description, 'd');
      assert.equal(a.metadata, '{"team":"x"}');
      assert.equal(a.lastUsed, null);
      assert.match(a.id, /^aigpk_/);
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId, x.accountId]), [['providerKey', a.id, c.accountId]]);
      const ids = [a.id];
      for (let i = 0; i < 4; i++) ids.push((await create({ providerId: 'openai', name: `k${i}`, value: `sk-proj-${i}-aaaaaaaaaaaaaaaaaaaa` })).id);
      assert.deepEqual(expectSchema<Detail>(await c.call('GET', `/provider-keys/${a.id}`), 200, KEYS.schema), a);
      await assertHead(c, `/provider-keys/${a.id}`);
      await assertHead(c, '/provider-keys');
      await assertPaging(c, KEYS, ids);
      const filtered = expectSchema<{ aiGatewayProviderKeys: Detail[]; nextPageUri: string | null }>(await c.call('GET', '/provider-keys?provider=openai&limit=3'), 200, KEYS.listSchema);
      assert.deepEqual(filtered.aiGatewayProviderKeys.map((k) => k.id), ids.slice(1).reverse().slice(0, 3));
      assert.match(filtered.nextPageUri!, /provider=openai/);
      const rest = expectSchema<{ aiGatewayProviderKeys: Detail[] }>(await c.call('GET', new URL(filtered.nextPageUri!).pathname + new URL(filtered.nextPageUri!).search), 200, KEYS.listSchema);
      assert.deepEqual(rest.aiGatewayProviderKeys.map((k) => k.id), [ids[1]]);
      const none = expectSchema<{ aiGatewayProviderKeys: Detail[] }>(await c.call('GET', '/provider-keys?provider=groq'), 200, KEYS.listSchema);
      assert.deepEqual(none.aiGatewayProviderKeys, []);
      // An empty filter is no filter, as an empty beforeId is no position.
      const unfiltered = expectSchema<{ aiGatewayProviderKeys: Detail[] }>(await c.call('GET', '/provider-keys?provider='), 200, KEYS.listSchema);
      assert.equal(unfiltered.aiGatewayProviderKeys.length, ids.length);
      for (const id of ids) assert.equal((await c.call('DELETE', `/provider-keys/${id}`)).statusCode, 204);
    });

    it('never returns or stores the raw value, and the sealed form opens to it', async () => {
      const secret = 'sk-proj-SECRET-VALUE-do-not-leak-1234567890';
      const res = await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'secret', value: `  ${secret}\n` });
      const key = expectSchema<Detail>(res, 201, KEYS.schema);
      const bodies = [
        res.body,
        (await c.call('GET', `/provider-keys/${key.id}`)).body,
        (await c.call('GET', '/provider-keys')).body,
        (await c.call('PATCH', `/provider-keys/${key.id}`, { description: 'x' })).body,
      ];
      for (const body of bodies) assert.ok(!body.includes(secret) && !body.includes('SECRET-VALUE'), `leaked in ${body}`);
      const sealed = await sealedOf(key.id);
      assert.ok(!sealed.includes(secret) && !sealed.includes('SECRET'));
      assert.equal(new SecretBox(c.config.masterKey).open(sealed, providerKeyBinding({ accountId: c.accountId, providerId: 'openai', id: key.id })), secret, 'surrounding whitespace is trimmed before sealing');
      assert.equal(key.keyRedacted, 'sk-proj-SE***7890');
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
    });

    it('rotates the value and name under the same id', async () => {
      const box = new SecretBox(c.config.masterKey);
      const key = await create({ providerId: 'openai', name: 'old', value: 'sk-old-11111111111111111111', description: 'kept' });
      const changes = recordChanges(c);
      const res = await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'new', value: 'sk-new-22222222222222222222' });
      const rotated = expectSchema<Detail>(res, 200, KEYS.schema);
      assert.equal(rotated.id, key.id);
      assert.equal(rotated.name, 'new');
      assert.equal(rotated.description, 'kept');
      assert.equal(rotated.keyRedacted, 'sk-new***222');
      assert.ok(!res.body.includes('sk-new-22222222222222222222'));
      assert.equal(box.open(await sealedOf(key.id), providerKeyBinding({ accountId: c.accountId, providerId: 'openai', id: key.id })), 'sk-new-22222222222222222222');
      assert.deepEqual(changes.map((x) => x.kind), ['providerKey']);
      expectError(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n', value: '   ' }), 400, 'ERR_NGROK_27507');
      expectError(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n' }), 400, 'ERR_NGROK_27507');
      assert.equal(expectError(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n', value: 'sk-new\r\n22222' }), 400, 'ERR_NGROK_27606').details.field, 'value');
      expectError(await c.call('POST', '/provider-keys/aigpk_missing/rotate', { name: 'n', value: 'v' }), 404, 'ERR_NGROK_27611');
      expectError(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n', value: 'v' }, c.other.token), 404, 'ERR_NGROK_27611');
      assert.equal(box.open(await sealedOf(key.id), providerKeyBinding({ accountId: c.accountId, providerId: 'openai', id: key.id })), 'sk-new-22222222222222222222', 'failed rotations change nothing');
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
    });

    it('applies PATCH tri-state to name, description and metadata', async () => {
      const key = await create({ providerId: 'openai', name: 'n', value: 'sk-patch-3333333333333333', description: 'desc', metadata: 'meta' });
      let got = expectSchema<Detail>(await c.call('PATCH', `/provider-keys/${key.id}`, { name: 'renamed' }), 200, KEYS.schema);
      assert.equal(got.name, 'renamed');
      assert.equal(got.description, 'desc');
      assert.equal(got.metadata, 'meta');
      got = expectSchema<Detail>(await c.call('PATCH', `/provider-keys/${key.id}`, { description: null, metadata: 'm2' }), 200, KEYS.schema);
      assert.equal(got.description, undefined);
      assert.equal(got.metadata, 'm2');
      assert.equal(got.keyRedacted, key.keyRedacted);
      expectError(await c.call('PATCH', `/provider-keys/${key.id}`, { name: null }), 400, 'ERR_NGROK_27510');
      expectError(await c.call('PATCH', `/provider-keys/${key.id}`, { value: 'sk-x' }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('PATCH', `/provider-keys/${key.id}`, { name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27501');
      assert.equal(expectSchema<Detail>(await c.call('GET', `/provider-keys/${key.id}`), 200, KEYS.schema).name, 'renamed');
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      expectError(await c.call('GET', `/provider-keys/${key.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `/provider-keys/${key.id}`), 404, 'ERR_NGROK_27611');
    });

    it('validates the create body with the provider-key codes', async () => {
      const ok = { providerId: 'openai', name: 'n', value: 'sk-valid-44444444444444' };
      expectError(await c.call('POST', '/provider-keys', { ...ok, extra: 1 }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', '/provider-keys', { ...ok, name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27501');
      expectError(await c.call('POST', '/provider-keys', { ...ok, description: 'x'.repeat(256) }), 400, 'ERR_NGROK_27502');
      expectError(await c.call('POST', '/provider-keys', { ...ok, metadata: 'x'.repeat(4097) }), 400, 'ERR_NGROK_27503');
      expectError(await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'n' }), 400, 'ERR_NGROK_27507');
      expectError(await c.call('POST', '/provider-keys', { ...ok, value: '' }), 400, 'ERR_NGROK_27507');
      expectError(await c.call('POST', '/provider-keys', { ...ok, value: ' \t\n' }), 400, 'ERR_NGROK_27507');
      // A key travels in an HTTP header: a value no header can carry could never be used, so it is not stored.
      for (const [value, what] of [['sk-a\nb-0000000', 'a line break at position 5'], ['sk-a\u0001b-000000', 'a control character'], ['sk-ключ-000000', 'a character outside Latin-1']]) {
        const refused = expectError(await c.call('POST', '/provider-keys', { ...ok, value }), 400, 'ERR_NGROK_27606');
        assert.match(refused.msg, new RegExp(`value holds ${what}`));
        assert.equal(refused.details.field, 'value');
        assert.ok(!refused.msg.includes(value.slice(5)), 'the value is not repeated');
      }
      expectError(await c.call('POST', '/provider-keys', { name: 'n', value: 'v' }), 400, 'ERR_NGROK_27510');
      const unknown = expectError(await c.call('POST', '/provider-keys', { ...ok, providerId: 'not-a-provider' }), 400, 'ERR_NGROK_27508');
      assert.match(unknown.msg, /not-a-provider/);
      assert.equal(unknown.details.field, 'providerId');
      assert.deepEqual(expectSchema<{ aiGatewayProviderKeys: unknown[] }>(await c.call('GET', '/provider-keys'), 200, KEYS.listSchema).aiGatewayProviderKeys, []);
    });

    it('accepts the account\'s own custom providers only', async () => {
      const theirs = await c.call('POST', '/providers', { providerId: 'their-llm', name: 'T', baseUrl: 'https://llm.example.com/v1' }, c.other.token);
      assert.equal(theirs.statusCode, 201);
      assert.equal(expectError(await c.call('POST', '/provider-keys', { providerId: 'their-llm', name: 'n', value: 'sk-x-555555555555' }), 400, 'ERR_NGROK_27508').details.field, 'providerId');
      const provider = expectSchema<{ id: string }>(await c.call('POST', '/providers', { providerId: 'my-llm', name: 'M', baseUrl: 'https://llm.example.com/v1' }), 201, 'AIGatewayProvider');
      const key = await create({ providerId: 'my-llm', name: 'n', value: 'sk-x-555555555555' });
      assert.equal(key.providerId, 'my-llm');
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      assert.equal((await c.call('DELETE', `/providers/${provider.id}`)).statusCode, 204);
    });

    it(`refuses keys beyond ${PROVIDER_KEY_LIMIT} for one provider`, async () => {
      assert.equal(PROVIDER_KEY_LIMIT, 50);
      const ids: string[] = [];
      for (let i = 0; i < PROVIDER_KEY_LIMIT; i++) ids.push((await create({ providerId: 'deepseek', name: `k${i}`, value: `sk-limit-${i}-000000000` })).id);
      const err = expectError(await c.call('POST', '/provider-keys', { providerId: 'deepseek', name: 'over', value: 'sk-over-000000000' }), 409, 'ERR_NGROK_27506');
      assert.match(err.msg, /50/);
      await create({ providerId: 'groq', name: 'other provider', value: 'sk-groq-000000000' });
      await c.store.db.deleteFrom('providerKeys').where('accountId', '=', c.accountId).execute();
    });

    it('refuses to delete a key a routing rule references, naming the configuration', async () => {
      const key = await create({ providerId: 'openai', name: 'ref', value: 'sk-ref-666666666666666' });
      const cfg = expectSchema<{ id: string }>(await c.call('POST', '/access-key-configurations', {
        name: 'uses key', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key.id }] }] }] },
      }), 201, 'AIGatewayAccessKeyConfiguration');
      const err = expectError(await c.call('DELETE', `/provider-keys/${key.id}`), 409, 'ERR_NGROK_27511');
      assert.ok(err.msg.includes(cfg.id), err.msg);
      expectSchema(await c.call('GET', `/provider-keys/${key.id}`), 200, KEYS.schema);
      expectSchema(await c.call('PATCH', `/access-key-configurations/${cfg.id}`, { router: null }), 200, 'AIGatewayAccessKeyConfiguration');
      const changes = recordChanges(c);
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId]), [['providerKey', key.id]]);
      assert.equal((await c.call('DELETE', `/access-key-configurations/${cfg.id}`)).statusCode, 204);
    });

    it('a Bedrock key created without value is backed by an IAM role: an external ID is made and shown, the role set by PATCH', async () => {
      type RoleKey = Detail & { aws: { region: string; externalId?: string; roleArn?: string } };
      const roleArn = 'arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock';
      const key = await create({ providerId: 'bedrock', name: 'role', aws: { region: 'us-east-1' } }) as RoleKey;
      assert.match(key.aws.externalId ?? '', /^[a-z0-9]{32}$/);
      assert.equal(key.aws.region, 'us-east-1');
      assert.equal(key.aws.roleArn, undefined);
      assert.equal(key.keyRedacted, '', 'no secret to show');
      assert.equal(await sealedOf(key.id), '', 'no secret stored');
      // Another key gets its own.
      const second = await create({ providerId: 'bedrock', name: 'role 2', aws: { region: 'us-east-1' } }) as RoleKey;
      assert.notEqual(second.aws.externalId, key.aws.externalId);
      // The role once it exists; the region stays, and a PATCH may change either alone.
      const patched = expectSchema<RoleKey>(await c.call('PATCH', `/provider-keys/${key.id}`, { aws: { roleArn } }), 200, KEYS.schema);
      assert.deepEqual(patched.aws, { region: 'us-east-1', externalId: key.aws.externalId, roleArn });
      const moved = expectSchema<RoleKey>(await c.call('PATCH', `/provider-keys/${key.id}`, { aws: { region: 'eu-west-1' } }), 200, KEYS.schema);
      assert.deepEqual(moved.aws, { region: 'eu-west-1', externalId: key.aws.externalId, roleArn });
      assert.deepEqual(expectSchema<RoleKey>(await c.call('GET', `/provider-keys/${key.id}`), 200, KEYS.schema).aws, moved.aws);
      // Or given at once, when the role was made first.
      const direct = await create({ providerId: 'bedrock', name: 'direct', aws: { region: 'us-west-2', roleArn } }) as RoleKey;
      assert.equal(direct.aws.roleArn, roleArn);
      // The external ID is the gateway's: not writable.
      expectError(await c.call('PATCH', `/provider-keys/${key.id}`, { aws: { externalId: 'mine' } }), 400, 'ERR_NGROK_27606');
      // No value to rotate.
      const rotate = expectError(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n', value: 'ABSK-x' }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_ROLE_ROTATE_NOT_ALLOWED');
      assert.equal(rotate.msg, `Provider key ${key.id} uses an AWS role, so it has no value to rotate.`);
      for (const id of [key.id, second.id, direct.id]) assert.equal((await c.call('DELETE', `/provider-keys/${id}`)).statusCode, 204);
    });

    it('refuses a role with a value, on an API key, or not an IAM role ARN, with ngrok\'s codes', async () => {
      const roleArn = 'arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock';
      const both = expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b', value: 'ABSK-x', aws: { region: 'us-east-1', roleArn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_VALUE_AND_ROLE_CONFLICT');
      assert.deepEqual([both.msg, both.details.field], ["A Bedrock key takes a value or 'aws.roleArn', not both. Send 'value' for an API key, or 'aws' without 'value' for a role.", 'aws.roleArn']);
      // Without a value the region is still required, and another provider's key still needs its value.
      assert.match(expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b' }), 400, 'ERR_NGROK_27510').msg, /aws\.region/);
      assert.match(expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b', aws: { roleArn } }), 400, 'ERR_NGROK_27510').msg, /aws\.region/);
      expectError(await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'o' }), 400, 'ERR_NGROK_27507');
      assert.equal(expectError(await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'o', aws: { roleArn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_NOT_ALLOWED').details.field, 'aws');
      assert.equal(expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b', aws: { region: 'mars-1', roleArn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_REGION_NOT_ALLOWED').details.field, 'aws.region');
      const apiKey = await create({ providerId: 'bedrock', name: 'api key', value: 'ABSK-api-key-value', aws: { region: 'us-east-1' } });
      const notAllowed = expectError(await c.call('PATCH', `/provider-keys/${apiKey.id}`, { aws: { roleArn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_ARN_NOT_ALLOWED');
      assert.equal(notAllowed.msg, `Provider key ${apiKey.id} holds an API key, so it can't take 'aws.roleArn'. Create a Bedrock key without 'value' to use an IAM role.`);
      assert.deepEqual(notAllowed.details, { id: apiKey.id, field: 'aws.roleArn' });
      const invalid: [string, string][] = [
        ['arn:aws:s3:::bucket/role', 'it must start with arn:aws:iam:: and have 6 parts'],
        ['arn:aws-cn:iam::123456789012:role/ngrok-ai-gateway-x', 'it must start with arn:aws:iam:: and have 6 parts'],
        ['arn:aws:iam::1234:role/ngrok-ai-gateway-x', 'the account ID must be 12 digits'],
        ['arn:aws:iam::123456789012:user/ngrok-ai-gateway-x', 'the resource must be role/<name>'],
        ['arn:aws:iam::123456789012:role/bad name', 'the role name must be 1 to 64 letters, digits or +=,.@_-'],
      ];
      for (const [arn, reason] of invalid) {
        const refused = expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b', aws: { region: 'us-east-1', roleArn: arn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_ARN_INVALID');
        assert.equal(refused.msg, `'aws.roleArn' isn't the ARN of an IAM role: ${reason}. Use the form arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock.`);
        assert.equal(refused.details.field, 'aws.roleArn');
      }
      for (const arn of ['arn:aws:iam::123456789012:role/bedrock-access', 'arn:aws:iam::123456789012:role/team/ngrok-ai-gateway-x']) {
        assert.equal(expectError(await c.call('POST', '/provider-keys', { providerId: 'bedrock', name: 'b', aws: { region: 'us-east-1', roleArn: arn } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_NAME_NOT_ALLOWED').details.field, 'aws.roleArn');
      }
      const role = await create({ providerId: 'bedrock', name: 'role', aws: { region: 'us-east-1' } });
      expectError(await c.call('PATCH', `/provider-keys/${role.id}`, { aws: { roleArn: 'arn:aws:iam::123456789012:role/other' } }), 400, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_ROLE_NAME_NOT_ALLOWED');
      assert.equal((expectSchema<Detail & { aws: { roleArn?: string } }>(await c.call('GET', `/provider-keys/${role.id}`), 200, KEYS.schema)).aws.roleArn, undefined, 'a refused PATCH changes nothing');
      await c.store.db.deleteFrom('providerKeys').where('accountId', '=', c.accountId).execute();
    });

    it('keeps keys invisible to other accounts', async () => {
      const key = await create({ providerId: 'openai', name: 'mine', value: 'sk-mine-7777777777777' });
      await assertIsolated(c, KEYS, key.id, { name: 'stolen' });
      assert.equal(expectSchema<Detail>(await c.call('GET', `/provider-keys/${key.id}`), 200, KEYS.schema).name, 'mine');
    });
  });
}
