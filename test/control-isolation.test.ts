// One account against another's ids, swept over the whole contract: every operation that names a resource in its
// path answers another account exactly as it answers an unknown id (404, nothing changed), and ids written into
// bodies and filters reach nothing of the other account either. The operations come from the contract, so a route
// added later is swept too (or fails here until the sweep knows which id it takes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { operations } from '../src/control/contract.ts';
import { insertPurchase } from '../src/store/credit-purchases.ts';
import { insertUsageEvents } from '../src/store/usage-events.ts';
import { SecretBox } from '../src/domain/secret-box.ts';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { storeCapture, usageEvent } from './helpers/usage.ts';

/** What the other account sends to each operation that takes a body: valid, so only ownership can refuse it. */
const BODIES: Record<string, unknown> = {
  UpdateAIGatewayAccessKeyConfiguration: { name: 'stolen' },
  UpdateAIGatewayAccessKey: { name: 'stolen', accessKeyConfigurationId: null },
  UpdateAIGatewayAPIKey: { name: 'stolen' },
  UpdateAIGatewayProviderAPIKey: { name: 'stolen' },
  RotateAIGatewayProviderAPIKey: { name: 'stolen', value: 'sk-stolen-0000000000' },
  UpdateAIGatewayProvider: { name: 'stolen', baseUrl: 'https://stolen.example.com/v1' },
  UpdateAIGatewayVirtualModel: { name: 'stolen', targets: ['gpt-4o'] },
  UpdateAIGatewayFirewallPolicy: { name: 'stolen', rules: [] },
  UpdateAIGatewayMcpServer: { label: 'stolen', upstreamUrl: 'https://stolen.example.com/mcp', auth: { type: 'none' } },
};

describe('cross-account isolation over every contract route (sqlite)', () => {
  let c: TestControl;
  /** The first account's resources, by the path template that names them. */
  const ids: Record<string, string> = {};
  /** The first account's resources as it reads them before the other account tries anything. */
  const before_: Record<string, unknown> = {};
  const own = (template: string) => template.replace(/\{\w+\}/, ids[template.replace(/\/rotate$/, '')]!);

  before(async () => {
    c = await startControl('sqlite');
    const providerKey = expectSchema<{ id: string }>(await c.call('POST', '/provider-keys', { providerId: 'openai', name: 'mine', value: 'sk-mine-0000000000' }), 201, 'AIGatewayProviderAPIKeyDetail');
    const provider = expectSchema<{ id: string }>(await c.call('POST', '/providers', { providerId: 'my-llm', name: 'Mine', baseUrl: 'https://llm.example.com/v1', models: [{ modelId: 'm' }] }), 201, 'AIGatewayProvider');
    const configuration = expectSchema<{ id: string }>(await c.call('POST', '/access-key-configurations', {
      name: 'mine', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: providerKey.id }] }] }] },
    }), 201, 'AIGatewayAccessKeyConfiguration');
    const accessKey = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', { name: 'mine', accessKeyConfigurationId: configuration.id }), 201, 'AIGatewayAccessKey');
    const apiKey = expectSchema<{ id: string }>(await c.call('POST', '/api-keys', { name: 'mine' }), 201, 'AIGatewayAPIKey');
    const virtualModel = expectSchema<{ id: string }>(await c.call('POST', '/virtual-models', { name: 'mine', targets: ['my-llm:m'] }), 201, 'AIGatewayVirtualModel');
    const firewallPolicy = expectSchema<{ id: string }>(await c.call('POST', '/firewall-policies', { name: 'mine', rules: [{ name: 'r', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['rm'] }] }), 201, 'AIGatewayFirewallPolicy');
    const mcpServer = expectSchema<{ id: string }>(await c.call('POST', '/mcp-servers', { label: 'mine', upstreamUrl: 'https://mcp.example.com/mcp', auth: { type: 'secret', in: 'header', name: 'Authorization' } }), 201, 'AIGatewayMcpServer');
    expectSchema(await c.call('POST', '/provider-keys', { providerId: 'mcp:mine', name: 'mine', value: 'mcp-mine-0000000000' }), 201, 'AIGatewayProviderAPIKeyDetail');
    const now = new Date().toISOString();
    // Settled, so reading it asks no payment provider.
    await insertPurchase(c.store.db, { id: 'cp_mine', accountId: c.accountId, amount: 1000, status: 'succeeded', declineReason: null, externalRef: null, createdAt: now, updatedAt: now, idempotencyKey: null });
    await insertUsageEvents(c.store.db, [usageEvent(c.accountId, { requestId: 'rq_mine', accessKeyId: accessKey.id, eventTime: now })]);
    await storeCapture(c.store.db, new SecretBox(c.config.masterKey), c.accountId, 'rq_mine');
    Object.assign(ids, {
      '/access-key-configurations/{id}': configuration.id, '/access-keys/{id}': accessKey.id, '/api-keys/{id}': apiKey.id,
      '/provider-keys/{id}': providerKey.id, '/providers/{id}': provider.id, '/credits/purchases/{id}': 'cp_mine',
      '/usage/requests/{requestId}': 'rq_mine', '/usage/requests/{requestId}/capture': 'rq_mine', '/virtual-models/{id}': virtualModel.id, '/firewall-policies/{id}': firewallPolicy.id,
      '/mcp-servers/{id}': mcpServer.id,
    });
    for (const template of Object.keys(ids)) before_[template] = (await c.call('GET', own(template))).json();
  });
  after(async () => { await c.close(); });

  test("every operation naming one of this account's resources answers the other account 404, and changes nothing", async () => {
    const swept = operations.filter((op) => op.path.includes('{'));
    assert.ok(swept.length >= 20, 'the contract names resources in its paths');
    for (const op of swept) {
      const template = op.path.replace(/\/rotate$/, '');
      assert.ok(ids[template] !== undefined, `${op.operationId} (${op.path}): the sweep needs a resource of this account for it`);
      const body = op.requestSchema ? BODIES[op.operationId] : undefined;
      assert.ok(!op.requestSchema || body !== undefined, `${op.operationId}: the sweep needs a valid body for it`);
      const res = await c.call(op.method, own(op.path), body, c.other.token);
      if (op.method === 'HEAD') assert.equal(res.statusCode, 404, `${op.operationId}`);
      else expectError(res, 404, 'ERR_NGROK_27611');
    }
    for (const template of Object.keys(ids)) assert.deepEqual((await c.call('GET', own(template))).json(), before_[template], `${template} changed`);
  });

  test("`PATCH {}` (answered as the GET it amounts to) answers the other account 404 too, and shows it nothing", async () => {
    const patches = operations.filter((op) => op.method === 'PATCH' && op.path.includes('{'));
    assert.ok(patches.length >= 5, 'the contract has PATCH operations on resources');
    for (const op of patches) {
      const res = await c.call('PATCH', own(op.path), {}, c.other.token);
      expectError(res, 404, 'ERR_NGROK_27611');
      assert.equal((await c.call('PATCH', own(op.path), {})).statusCode, 200, `${op.operationId}: the owner's own PATCH {} is answered`);
    }
  });

  test("ids of this account's resources in the other account's bodies and filters reach nothing", async () => {
    const other = c.other.token;
    /** Refused as an id that names nothing there, the member holding it named (`details.field`). */
    const refusedAt = (res: LightMyRequestResponse, status: number, code: string, field: string) => assert.equal(expectError(res, status, code).details.field, field, res.body);
    // A routing rule naming this account's provider key: refused as a key that does not exist.
    refusedAt(await c.call('POST', '/access-key-configurations', {
      name: 'theirs', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: ids['/provider-keys/{id}'] }] }] }] },
    }, other), 400, 'ERR_NGROK_27605', 'router.rules.0.steps.0.keys.0.id');
    // This account's custom provider is not the other's: no key for it, no rule for it.
    refusedAt(await c.call('POST', '/provider-keys', { providerId: 'my-llm', name: 'theirs', value: 'sk-theirs-000000' }, other), 400, 'ERR_NGROK_27508', 'providerId');
    refusedAt(await c.call('POST', '/access-key-configurations', { name: 'theirs', router: { rules: [{ provider: 'my-llm', steps: [{ type: 'user', keys: [{ name: 'k', value: 'v-0000000000' }] }] }] } }, other), 400, 'ERR_NGROK_27605', 'router.rules.0.provider');
    // An access key linked to this account's configuration, at creation or later.
    refusedAt(await c.call('POST', '/access-keys', { name: 'theirs', accessKeyConfigurationId: ids['/access-key-configurations/{id}'] }, other), 404, 'ERR_NGROK_27611', 'accessKeyConfigurationId');
    const theirs = expectSchema<{ id: string }>(await c.call('POST', '/access-keys', { name: 'theirs' }, other), 201, 'AIGatewayAccessKey');
    refusedAt(await c.call('PATCH', `/access-keys/${theirs.id}`, { accessKeyConfigurationId: ids['/access-key-configurations/{id}'] }, other), 404, 'ERR_NGROK_27611', 'accessKeyConfigurationId');
    // This account's Firewall policy, as the other's all-keys policy or a configuration's: unknown there.
    const policy = ids['/firewall-policies/{id}'];
    refusedAt(await c.call('PATCH', '/gateway-config', { firewallPolicyId: policy }, other), 404, 'ERR_NGROK_27611', 'firewallPolicyId');
    refusedAt(await c.call('POST', '/access-key-configurations', { name: 'theirs', firewallPolicyId: policy }, other), 404, 'ERR_NGROK_27611', 'firewallPolicyId');
    const theirConfiguration = expectSchema<{ id: string }>(await c.call('POST', '/access-key-configurations', { name: 'theirs' }, other), 201, 'AIGatewayAccessKeyConfiguration');
    refusedAt(await c.call('PATCH', `/access-key-configurations/${theirConfiguration.id}`, { firewallPolicyId: policy }, other), 404, 'ERR_NGROK_27611', 'firewallPolicyId');
    // This account's MCP server label is not the other's: no secret for it there, and its keys block no label there.
    refusedAt(await c.call('POST', '/provider-keys', { providerId: 'mcp:mine', name: 'theirs', value: 'mcp-theirs-000000' }, other), 400, 'ERR_NGROK_27508', 'providerId');
    const theirServer = expectSchema<{ id: string; hasSecret: boolean }>(await c.call('POST', '/mcp-servers', { label: 'mine', upstreamUrl: 'https://theirs.example.com/mcp' }, other), 201, 'AIGatewayMcpServer');
    assert.equal(theirServer.hasSecret, false);
    assert.deepEqual((await c.call('GET', '/mcp-servers', undefined, other)).json().aiGatewayMcpServers.map((s: { id: string }) => s.id), [theirServer.id]);
    assert.equal((await c.call('GET', `/mcp-servers/${ids['/mcp-servers/{id}']}`)).json().hasSecret, true);
    // Filters by this account's ids: empty answers, never this account's rows.
    const keys = expectSchema<{ aiGatewayAccessKeys: unknown[] }>(await c.call('GET', `/access-keys?accessKeyConfigurationId=${ids['/access-key-configurations/{id}']}`, undefined, other), 200, 'AIGatewayAccessKeyList');
    assert.deepEqual(keys.aiGatewayAccessKeys, []);
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const usage = expectSchema<{ aiGatewayUsage: unknown[] }>(await c.call('GET', `/usage?startTime=${from}&endTime=${until}&accessKeyId=${ids['/access-keys/{id}']}&includeRetries=true`, undefined, other), 200, 'AIGatewayUsageList');
    assert.deepEqual(usage.aiGatewayUsage, []);
    const providerKeys = expectSchema<{ aiGatewayProviderKeys: unknown[] }>(await c.call('GET', '/provider-keys?provider=openai', undefined, other), 200, 'AIGatewayProviderAPIKeyList');
    assert.deepEqual(providerKeys.aiGatewayProviderKeys, []);
    // This account's own view still shows its usage (the filter above was not simply broken).
    const mine = expectSchema<{ aiGatewayUsage: unknown[] }>(await c.call('GET', `/usage?startTime=${from}&endTime=${until}&accessKeyId=${ids['/access-keys/{id}']}&includeRetries=true`), 200, 'AIGatewayUsageList');
    assert.equal(mine.aiGatewayUsage.length, 1);
  });
});
