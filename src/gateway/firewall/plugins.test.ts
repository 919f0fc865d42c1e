import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestPolicies } from './plugins.ts';
import { compilePolicy, judgeToolCall } from '../../domain/firewall.ts';

const rule = { name: 'No deletes', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] };

test('an entry is a policy of the request\'s own: enforce and block unless it says otherwise, tiers from its lists, empty entries dropped', () => {
  const policies = requestPolicies([
    { id: 'firewall', hard_deny: [rule], allow: [{ ...rule, name: 'Temp files', toolNames: ['delete_tmp'] }] },
    { id: 'firewall' },
    { id: 'firewall', mode: 'audit', on_error: 'log', environment: ['Repo: acme/app'], soft_deny: [{ ...rule, name: 'Soft' }] },
  ]);
  assert.deepEqual(policies.map((p) => [p.id, p.mode, p.onError, p.environment, p.rules.map((r) => [r.name, r.tier])]), [
    ['plugins[0]', 'enforce', 'block', [], [['No deletes', 'hardDeny'], ['Temp files', 'allow']]],
    ['plugins[2]', 'audit', 'log', ['Repo: acme/app'], [['Soft', 'softDeny']]],
  ]);
  const findings = judgeToolCall(policies.map(compilePolicy), { name: 'delete_tmp', arguments: '{}' });
  // The hard block stands whatever the allow rule says; the audit entry only reports.
  assert.deepEqual(findings.map((f) => [f.policyId, f.rule, f.blocked]), [['plugins[0]', 'No deletes', true], ['plugins[2]', 'Soft', false]]);
});

test('the same plugins text is parsed and compiled once: the same policy objects, so the same compiled policies', () => {
  const a = requestPolicies([{ id: 'firewall', hard_deny: [rule] }]);
  const b = requestPolicies(JSON.parse(JSON.stringify([{ id: 'firewall', hard_deny: [rule] }])) as unknown);
  assert.equal(a, b);
  assert.equal(compilePolicy(a[0]!), compilePolicy(b[0]!));
  assert.notEqual(requestPolicies([{ id: 'firewall', hard_deny: [{ ...rule, name: 'Other' }] }]), a);
});

test('limits: 48 rules across every entry, 32 environment facts', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ ...rule, name: `r${i}` }));
  assert.equal(requestPolicies([{ id: 'firewall', hard_deny: many(24) }, { id: 'firewall', allow: many(24) }]).length, 2);
  assert.throws(() => requestPolicies([{ id: 'firewall', hard_deny: many(24) }, { id: 'firewall', allow: many(25) }]), /"plugins\[1\]\.allow" takes the request past 48 rules/);
  assert.throws(() => requestPolicies([{ id: 'firewall', environment: Array.from({ length: 33 }, () => 'fact') }]), /"plugins\[0\]\.environment" holds at most 32 entries; got 33/);
});
