// /firewall-policies (ngrok's Firewall policies): CRUD, every validation rule with the error it answers, the
// policy's two references (the gateway config's all-keys policy and a configuration's), deletes refused while
// referenced, `allKeys`, and the change each write announces, on both stores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertPaging, recordChanges, type Collection } from './helpers/crud.ts';
import { FIREWALL_POLICY_LIMIT } from '../src/control/firewall-policies.ts';

const FIREWALL: Collection = { path: '/firewall-policies', listKey: 'aiGatewayFirewallPolicies', listSchema: 'AIGatewayFirewallPolicyList', schema: 'AIGatewayFirewallPolicy' };
type Rule = { name: string; tier: string; type: string; phase: string; reads?: string[]; toolNames?: string[]; pattern?: string; instructions?: string };
type Policy = {
  id: string; uri: string; name: string; description?: string; mode: string; onError: string; environment: string[]; rules: Rule[];
  allKeys: boolean; createdAt: string; updatedAt: string;
};
type Configuration = { id: string; firewallPolicyId?: string };

const FORCE_PUSH: Rule = { name: 'Force push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'git push (-f|--force)' };
const PAYMENTS: Rule = { name: 'Payments tools', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['mcp__payments__*', 'refund'] };
const SECRETS: Rule = { name: 'AWS keys in tool output', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['toolResults'], pattern: 'AKIA[0-9A-Z]{16}' };

for (const kind of STORE_KINDS) {
  describe(`Firewall policies (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind); });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>, token?: string) => expectSchema<Policy>(await c.call('POST', FIREWALL.path, body, token), 201, FIREWALL.schema);
    const remove = async (id: string) => assert.equal((await c.call('DELETE', `${FIREWALL.path}/${id}`)).statusCode, 204);
    /** The 400 a policy with these rules gets, and what it says. */
    const refusedRules = async (rules: unknown[]) => expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules }), 400, 'ERR_NGROK_27606');

    it('creates, reads, lists, updates and deletes one, announcing each write', async () => {
      const changes = recordChanges(c);
      const made = await create({ name: 'Coding agent guard', description: 'no force pushes', mode: 'audit', onError: 'log', environment: ['The repo is github.com/acme/app.'], rules: [FORCE_PUSH, PAYMENTS, SECRETS] });
      assert.match(made.id, /^aigfwp_/);
      assert.match(made.uri, new RegExp(`/firewall-policies/${made.id}$`));
      assert.deepEqual([made.name, made.description, made.mode, made.onError, made.environment, made.rules, made.allKeys],
        ['Coding agent guard', 'no force pushes', 'audit', 'log', ['The repo is github.com/acme/app.'], [FORCE_PUSH, PAYMENTS, SECRETS], false]);
      assert.deepEqual(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${made.id}`), 200, FIREWALL.schema), made);
      assert.deepEqual(expectSchema<{ aiGatewayFirewallPolicies: Policy[] }>(await c.call('GET', FIREWALL.path), 200, FIREWALL.listSchema).aiGatewayFirewallPolicies, [made]);

      // Omitted fields stay; rules are replaced whole; null clears the description and puts mode/onError back to their defaults.
      const edited = expectSchema<Policy>(await c.call('PATCH', `${FIREWALL.path}/${made.id}`, { name: 'Guard', rules: [PAYMENTS] }), 200, FIREWALL.schema);
      assert.deepEqual([edited.name, edited.description, edited.mode, edited.onError, edited.environment, edited.rules], ['Guard', 'no force pushes', 'audit', 'log', made.environment, [PAYMENTS]]);
      const reset = expectSchema<Policy>(await c.call('PATCH', `${FIREWALL.path}/${made.id}`, { description: null, mode: null, onError: null, environment: null, rules: null }), 200, FIREWALL.schema);
      assert.deepEqual([reset.name, reset.description, reset.mode, reset.onError, reset.environment, reset.rules], ['Guard', undefined, 'enforce', 'block', [], []]);
      expectError(await c.call('PATCH', `${FIREWALL.path}/${made.id}`, { name: null }), 400, 'ERR_NGROK_27602');

      await remove(made.id);
      expectError(await c.call('GET', `${FIREWALL.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `${FIREWALL.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId, x.accountId]), Array(4).fill(['firewallPolicy', made.id, c.accountId]));
      const rows = await c.store.db.selectFrom('stateChanges').select(['kind']).where('resourceId', '=', made.id).execute();
      assert.equal(rows.filter((r) => r.kind === 'firewallPolicy').length, 4);
    });

    it('a new policy enforces and blocks on error unless told otherwise, and may start with no rules', async () => {
      const bare = await create({ name: 'bare' });
      assert.deepEqual([bare.mode, bare.onError, bare.environment, bare.rules, bare.allKeys, bare.description], ['enforce', 'block', [], [], false, undefined]);
      await remove(bare.id);
    });

    it('refuses a malformed policy, naming the field', async () => {
      let e = expectError(await c.call('POST', FIREWALL.path, {}), 400, 'ERR_NGROK_27602');
      assert.equal(e.details.field, 'name');
      expectError(await c.call('POST', FIREWALL.path, { name: '' }), 400, 'ERR_NGROK_27606');
      e = expectError(await c.call('POST', FIREWALL.path, { name: 'n'.repeat(256) }), 400, 'ERR_NGROK_27603');
      assert.equal((await create({ name: 'n'.repeat(255), description: 'd'.repeat(255) })).name.length, 255);
      e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', description: 'd'.repeat(256) }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'description');
      for (const [field, value] of [['mode', 'dryRun'], ['onError', 'continue']] as const) {
        e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', [field]: value }), 400, 'ERR_NGROK_27606');
        assert.equal(e.details.field, field);
      }
      e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', environment: Array(33).fill('fact') }), 400, 'ERR_NGROK_27606');
      assert.deepEqual([e.details.field, e.msg], ['environment', 'A policy holds up to 32 environment details. Got 33.']);
      e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', environment: ['ok', 'f'.repeat(1001)] }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'environment.1');
      assert.equal((await create({ name: 'most', environment: Array(32).fill('f'.repeat(1000)), rules: Array(48).fill(PAYMENTS) })).rules.length, 48);
      e = await refusedRules(Array(49).fill(PAYMENTS));
      assert.deepEqual([e.details.field, e.msg], ['rules', 'A policy holds up to 48 rules. Got 49.']);
      e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', allKeys: true }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'allKeys', 'allKeys is read-only');
      for (const p of (await c.call('GET', FIREWALL.path)).json().aiGatewayFirewallPolicies as Policy[]) await remove(p.id);
    });

    it('refuses each malformed rule, naming its index, its name and the field', async () => {
      // A missing field: 27602, its path naming the rule.
      let e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules: [PAYMENTS, { name: 'x', tier: 'hardDeny', type: 'regex', pattern: 'a' }] }), 400, 'ERR_NGROK_27602');
      assert.equal(e.details.field, 'rules.1.phase');
      e = await refusedRules([{ ...PAYMENTS, tier: 'block' }]);
      assert.equal(e.details.field, 'rules.0.tier');
      assert.equal(e.msg, 'rules[0] ("Payments tools"): "rules.0.tier" must be one of: hardDeny, softDeny, allow.');
      e = await refusedRules([PAYMENTS, { ...FORCE_PUSH, name: 'r'.repeat(256) }]);
      assert.equal(e.details.field, 'rules.1.name');
      assert.match(e.msg, /^rules\[1\] \("r{64}…"\): /);
      // A name cut inside an emoji is cut before it: half of one would be an unpaired surrogate in the answer.
      e = await refusedRules([{ ...FORCE_PUSH, name: `r${'\u{1F600}'.repeat(100)}`, pattern: '(' }]);
      assert.ok(e.msg.startsWith(`rules[0] ("r${'\u{1F600}'.repeat(31)}…"): `) && e.msg.isWellFormed(), JSON.stringify(e.msg));
      e = await refusedRules([{ ...FORCE_PUSH, phase: 'after' }]);
      assert.equal(e.details.field, 'rules.0.phase');
      // reads: request rules only, known parts, each once.
      e = await refusedRules([{ ...FORCE_PUSH, reads: ['messages'] }]);
      assert.deepEqual([e.details.field, e.msg], ['rules.0.reads', 'rules[0] ("Force push"): "reads" is for request rules only; a response rule checks each tool call the model returns.']);
      e = await refusedRules([{ ...SECRETS, reads: ['history'] }]);
      assert.equal(e.details.field, 'rules.0.reads.0');
      e = await refusedRules([{ ...SECRETS, reads: ['messages', 'messages'] }]);
      assert.equal(e.details.field, 'rules.0.reads');
      // Each type takes only its own match field ("a regex rule with instructions is rejected"), and needs it.
      e = await refusedRules([{ ...FORCE_PUSH, instructions: 'Deletes files' }]);
      assert.deepEqual([e.details.field, e.msg], ['rules.0.instructions', 'rules[0] ("Force push"): a regex rule takes only its own match field, "pattern"; remove "instructions".']);
      e = await refusedRules([PAYMENTS, { ...PAYMENTS, name: 'both', pattern: 'x' }]);
      assert.deepEqual([e.details.field, e.msg], ['rules.1.pattern', 'rules[1] ("both"): a toolNames rule takes only its own match field, "toolNames"; remove "pattern".']);
      e = await refusedRules([{ name: 'no pattern', tier: 'hardDeny', type: 'regex', phase: 'response' }]);
      assert.deepEqual([e.details.field, e.msg], ['rules.0.pattern', 'rules[0] ("no pattern"): a regex rule needs "pattern".']);
      e = await refusedRules([{ name: 'no names', tier: 'allow', type: 'toolNames', phase: 'response' }]);
      assert.equal(e.details.field, 'rules.0.toolNames');
      // toolNames: 1 to 100 names of 1 to 255 characters.
      for (const [toolNames, field] of [[[], 'rules.0.toolNames'], [Array(101).fill('t'), 'rules.0.toolNames'], [['ok', 't'.repeat(256)], 'rules.0.toolNames.1'], [['']!, 'rules.0.toolNames.0']] as const) {
        e = await refusedRules([{ ...PAYMENTS, toolNames }]);
        assert.equal(e.details.field, field);
        assert.match(e.msg, /^rules\[0\] \("Payments tools"\): /);
      }
      assert.equal((await create({ name: 'wide', rules: [{ ...PAYMENTS, toolNames: Array(100).fill('t'.repeat(255)) }] })).rules[0]!.toolNames!.length, 100);
      // pattern: RE2 (no lookaround, no backreferences), at most 4,096 characters.
      for (const pattern of ['git push (', '(?<=token=)\\w+', '(a)\\1']) {
        e = await refusedRules([PAYMENTS, { ...FORCE_PUSH, pattern }]);
        assert.equal(e.details.field, 'rules.1.pattern');
        assert.match(e.msg, /^rules\[1\] \("Force push"\): "pattern" is not a valid RE2 pattern: /);
      }
      e = await refusedRules([{ ...FORCE_PUSH, pattern: 'a'.repeat(4097) }]);
      assert.equal(e.details.field, 'rules.0.pattern');
      assert.equal((await create({ name: 'long', rules: [{ ...FORCE_PUSH, pattern: `(?i)${'a'.repeat(4092)}` }] })).rules[0]!.pattern!.length, 4096);
      // An unknown field inside a rule.
      e = await refusedRules([{ ...PAYMENTS, args: 'x' }]);
      assert.equal(e.details.field, 'rules.0.args');
      // The same checks on update; nothing changes.
      const kept = await create({ name: 'kept', rules: [PAYMENTS] });
      e = expectError(await c.call('PATCH', `${FIREWALL.path}/${kept.id}`, { rules: [PAYMENTS, { ...FORCE_PUSH, pattern: '(' }] }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'rules.1.pattern');
      assert.deepEqual(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${kept.id}`), 200, FIREWALL.schema).rules, [PAYMENTS]);
      for (const p of (await c.call('GET', FIREWALL.path)).json().aiGatewayFirewallPolicies as Policy[]) await remove(p.id);
    });

    it('refuses decision rules: this gateway runs no decision model to judge them', async () => {
      const decision = { name: 'Deletes outside the project', tier: 'softDeny', type: 'decision', phase: 'response', instructions: 'Deletes files outside the project directory.' };
      const e = await refusedRules([PAYMENTS, decision]);
      assert.equal(e.details.field, 'rules.1.type');
      assert.equal(e.msg, 'rules[1] ("Deletes outside the project"): decision rules are not available on this gateway: they need a decision model to judge them, and this gateway runs none (its operator can name one: TOLLGATE_FIREWALL_DECISION_MODEL). Use a toolNames or regex rule.');
      // A request rule too: without a decision model nothing would judge it.
      expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules: [{ ...decision, phase: 'request' }] }), 400, 'ERR_NGROK_27606');
      const kept = await create({ name: 'kept' });
      expectError(await c.call('PATCH', `${FIREWALL.path}/${kept.id}`, { rules: [decision] }), 400, 'ERR_NGROK_27606');
      assert.deepEqual((await c.call('GET', FIREWALL.path)).json().aiGatewayFirewallPolicies.map((p: Policy) => p.id), [kept.id]);
      await remove(kept.id);
    });

    it('the gateway config names the all-keys policy: set, shown as allKeys, cleared; unknown and other accounts\' ids refused', async () => {
      const policy = await create({ name: 'baseline', rules: [FORCE_PUSH] });
      const other = await create({ name: 'theirs' }, c.other.token);
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('GET', '/gateway-config'), 200, 'AIGatewayConfig').firewallPolicyId, null);
      const changes = recordChanges(c);
      const set = expectSchema<{ firewallPolicyId: string | null; totalTimeout: string }>(await c.call('PATCH', '/gateway-config', { firewallPolicyId: policy.id }), 200, 'AIGatewayConfig');
      assert.deepEqual([set.firewallPolicyId, set.totalTimeout], [policy.id, '120s']);
      assert.deepEqual(changes.map((x) => x.kind), ['gatewayConfig']);
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('GET', '/gateway-config'), 200, 'AIGatewayConfig').firewallPolicyId, policy.id);
      assert.equal(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${policy.id}`), 200, FIREWALL.schema).allKeys, true);
      const second = await create({ name: 'per-key' });
      assert.equal(second.allKeys, false);
      const listed = expectSchema<{ aiGatewayFirewallPolicies: Policy[] }>(await c.call('GET', FIREWALL.path), 200, FIREWALL.listSchema).aiGatewayFirewallPolicies;
      assert.deepEqual(listed.map((p) => [p.name, p.allKeys]), [['per-key', false], ['baseline', true]]);
      assert.equal(expectSchema<Policy>(await c.call('PATCH', `${FIREWALL.path}/${policy.id}`, { mode: 'audit' }), 200, FIREWALL.schema).allKeys, true);
      // Another PATCH of the settings leaves the policy in place.
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('PATCH', '/gateway-config', { metadata: 'm' }), 200, 'AIGatewayConfig').firewallPolicyId, policy.id);
      // The other account sees its own policy as not its baseline.
      assert.equal(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${other.id}`, undefined, c.other.token), 200, FIREWALL.schema).allKeys, false);

      for (const id of ['aigfwp_00000000000000000000000000', other.id]) {
        const e = expectError(await c.call('PATCH', '/gateway-config', { firewallPolicyId: id }), 404, 'ERR_NGROK_27611');
        assert.deepEqual([e.msg, e.details], [`Firewall policy "${id}" not found.`, { resource: 'Firewall policy', id, field: 'firewallPolicyId' }]);
      }
      expectError(await c.call('PATCH', '/gateway-config', { firewallPolicyId: policy.id }, c.other.token), 404, 'ERR_NGROK_27611');
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('GET', '/gateway-config'), 200, 'AIGatewayConfig').firewallPolicyId, policy.id);
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('GET', '/gateway-config', undefined, c.other.token), 200, 'AIGatewayConfig').firewallPolicyId, null);

      // Referenced: the delete is refused, naming the gateway config; cleared with null, it goes.
      const e = expectError(await c.call('DELETE', `${FIREWALL.path}/${policy.id}`), 409, 'ERR_NGROK_27615');
      assert.equal(e.msg, `Firewall policy "${policy.id}" is still in use by the gateway config (its all-keys policy) and cannot be deleted.`);
      assert.equal(expectSchema<{ firewallPolicyId: string | null }>(await c.call('PATCH', '/gateway-config', { firewallPolicyId: null }), 200, 'AIGatewayConfig').firewallPolicyId, null);
      assert.equal(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${policy.id}`), 200, FIREWALL.schema).allKeys, false);
      for (const id of [policy.id, second.id]) await remove(id);
      assert.equal((await c.call('DELETE', `${FIREWALL.path}/${other.id}`, undefined, c.other.token)).statusCode, 204);
    });

    it('a configuration names its keys\' policy: set on create and update, cleared; unknown and other accounts\' ids refused', async () => {
      const policy = await create({ name: 'per-key', rules: [PAYMENTS] });
      const other = await create({ name: 'theirs' }, c.other.token);
      const made = expectSchema<Configuration>(await c.call('POST', '/access-key-configurations', { name: 'agents', firewallPolicyId: policy.id }), 201, 'AIGatewayAccessKeyConfiguration');
      assert.equal(made.firewallPolicyId, policy.id);
      assert.equal(expectSchema<Configuration>(await c.call('GET', `/access-key-configurations/${made.id}`), 200, 'AIGatewayAccessKeyConfiguration').firewallPolicyId, policy.id);
      const listed = expectSchema<{ aiGatewayAccessKeyConfigurations: Configuration[] }>(await c.call('GET', '/access-key-configurations'), 200, 'AIGatewayAccessKeyConfigurationList');
      assert.equal(listed.aiGatewayAccessKeyConfigurations.find((x) => x.id === made.id)?.firewallPolicyId, policy.id);
      const plain = expectSchema<Configuration>(await c.call('POST', '/access-key-configurations', { name: 'plain' }), 201, 'AIGatewayAccessKeyConfiguration');
      assert.equal(plain.firewallPolicyId, undefined);
      // Another field's update keeps it.
      assert.equal(expectSchema<Configuration>(await c.call('PATCH', `/access-key-configurations/${made.id}`, { description: 'd' }), 200, 'AIGatewayAccessKeyConfiguration').firewallPolicyId, policy.id);

      for (const id of ['aigfwp_00000000000000000000000000', other.id]) {
        let e = expectError(await c.call('POST', '/access-key-configurations', { name: 'x', firewallPolicyId: id }), 404, 'ERR_NGROK_27611');
        assert.deepEqual([e.msg, e.details.field], [`Firewall policy "${id}" not found.`, 'firewallPolicyId']);
        e = expectError(await c.call('PATCH', `/access-key-configurations/${plain.id}`, { firewallPolicyId: id }), 404, 'ERR_NGROK_27611');
        assert.equal(e.details.field, 'firewallPolicyId');
      }
      expectError(await c.call('POST', '/access-key-configurations', { name: 'x', firewallPolicyId: policy.id }, c.other.token), 404, 'ERR_NGROK_27611');
      assert.equal((await c.call('GET', `/access-key-configurations/${plain.id}`)).json().firewallPolicyId, undefined);
      assert.equal(expectSchema<Configuration>(await c.call('PATCH', `/access-key-configurations/${plain.id}`, { firewallPolicyId: policy.id }), 200, 'AIGatewayAccessKeyConfiguration').firewallPolicyId, policy.id);

      // Referenced by both configurations (and the gateway config): the delete names every user.
      assert.equal((await c.call('PATCH', '/gateway-config', { firewallPolicyId: policy.id })).statusCode, 200);
      let e = expectError(await c.call('DELETE', `${FIREWALL.path}/${policy.id}`), 409, 'ERR_NGROK_27615');
      const [first, second] = [made.id, plain.id].sort();
      assert.equal(e.msg, `Firewall policy "${policy.id}" is still in use by the gateway config (its all-keys policy) and access key configurations ${first}, ${second} and cannot be deleted.`);
      assert.equal((await c.call('PATCH', '/gateway-config', { firewallPolicyId: null })).statusCode, 200);
      assert.equal(expectSchema<Configuration>(await c.call('PATCH', `/access-key-configurations/${plain.id}`, { firewallPolicyId: null }), 200, 'AIGatewayAccessKeyConfiguration').firewallPolicyId, undefined);
      e = expectError(await c.call('DELETE', `${FIREWALL.path}/${policy.id}`), 409, 'ERR_NGROK_27615');
      assert.equal(e.msg, `Firewall policy "${policy.id}" is still in use by access key configuration ${made.id} and cannot be deleted.`);
      // A deleted configuration no longer holds it.
      assert.equal((await c.call('DELETE', `/access-key-configurations/${made.id}`)).statusCode, 204);
      await remove(policy.id);
      assert.equal((await c.call('DELETE', `/access-key-configurations/${plain.id}`)).statusCode, 204);
      assert.equal((await c.call('DELETE', `${FIREWALL.path}/${other.id}`, undefined, c.other.token)).statusCode, 204);
    });

    it('pages newest first, is invisible to other accounts, and stops at the account\'s limit', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create({ name: `page-${i}` })).id);
      await assertPaging(c, FIREWALL, ids);
      // Another account's id reads as unknown (ngrok publishes no HEAD for this collection).
      for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'stolen' }], ['DELETE', undefined]] as const) {
        expectError(await c.call(method, `${FIREWALL.path}/${ids[0]}`, body, c.other.token), 404, 'ERR_NGROK_27611');
      }
      assert.deepEqual(expectSchema<{ aiGatewayFirewallPolicies: Policy[] }>(await c.call('GET', FIREWALL.path, undefined, c.other.token), 200, FIREWALL.listSchema).aiGatewayFirewallPolicies, []);
      assert.equal(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${ids[0]}`), 200, FIREWALL.schema).name, 'page-0');
      for (let i = 5; i < FIREWALL_POLICY_LIMIT; i++) ids.push((await create({ name: `page-${i}` })).id);
      const e = expectError(await c.call('POST', FIREWALL.path, { name: 'one more' }), 409, 'ERR_NGROK_27617');
      assert.equal(e.msg, `This account can have at most ${FIREWALL_POLICY_LIMIT} Firewall policies. Delete one before you create another.`);
      // The other account's limit is its own.
      const theirs = await create({ name: 'theirs' }, c.other.token);
      assert.equal((await c.call('DELETE', `${FIREWALL.path}/${theirs.id}`, undefined, c.other.token)).statusCode, 204);
      for (const id of ids) await remove(id);
    });
  });

  describe(`Firewall policies with a decision model (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind, { TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini', TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-operator' }); });
    after(async () => { await c.close(); });

    it('accepts decision rules, which the decision model judges, on requests and on tool calls', async () => {
      const wipe: Rule = { name: 'Wipes the disk', tier: 'softDeny', type: 'decision', phase: 'request', reads: ['messages', 'toolResults'], instructions: 'Asks the agent to delete files outside the project directory.' };
      const trusted: Rule = { name: 'Trusted cleanup', tier: 'allow', type: 'decision', phase: 'request', instructions: 'Cleans the build directory only.' };
      const made = expectSchema<Policy>(await c.call('POST', FIREWALL.path, { name: 'judged', environment: ['The project lives in /srv/app.'], rules: [PAYMENTS, wipe, trusted] }), 201, FIREWALL.schema);
      assert.deepEqual(made.rules, [PAYMENTS, wipe, trusted]);
      assert.deepEqual(expectSchema<Policy>(await c.call('GET', `${FIREWALL.path}/${made.id}`), 200, FIREWALL.schema).rules, [PAYMENTS, wipe, trusted]);
      const onCalls: Rule = { name: 'Deletes outside the project', tier: 'hardDeny', type: 'decision', phase: 'response', instructions: 'Deletes files outside the project directory.' };
      assert.deepEqual(expectSchema<Policy>(await c.call('PATCH', `${FIREWALL.path}/${made.id}`, { rules: [onCalls] }), 200, FIREWALL.schema).rules, [onCalls]);

      // Held to the same checks as any rule: its own match field only, and instructions within ngrok's 4,000 characters.
      const e = expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules: [{ name: 'n', tier: 'hardDeny', type: 'decision', phase: 'request' }] }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'rules.0.instructions');
      expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules: [{ ...onCalls, pattern: 'rm' }] }), 400, 'ERR_NGROK_27606');
      expectError(await c.call('POST', FIREWALL.path, { name: 'p', rules: [{ ...onCalls, reads: ['messages'] }] }), 400, 'ERR_NGROK_27606');
      assert.equal((await c.call('POST', FIREWALL.path, { name: 'p', rules: [{ ...wipe, instructions: 'x'.repeat(4001) }] })).statusCode, 400);
      assert.deepEqual((await c.call('GET', FIREWALL.path)).json().aiGatewayFirewallPolicies.map((p: Policy) => p.id), [made.id]);
    });
  });
}
