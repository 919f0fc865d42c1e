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

test('patterns are bounded by what they compile to, before RE2 compiles them: a counted repetition copies what it repeats', () => {
  const regex = (name: string, pattern: string) => ({ name, type: 'regex', phase: 'request', pattern });
  // 189 characters, well under the 4,096 a pattern may have, that RE2 would compile to 21,000 instructions.
  assert.throws(() => requestPolicies([{ id: 'firewall', hard_deny: [regex('Letters', '\\pL{1000}'.repeat(21))] }]),
    /"plugins\[0\]\.hard_deny\[0\]\.pattern" \(rule "Letters"\): the request's patterns expand past 20000 steps in all/);
  // 4,090 characters that compile to 454,000 instructions (half a second and 30 MB each in re2js): refused uncompiled.
  assert.throws(() => requestPolicies([{ id: 'firewall', hard_deny: [regex('Letters', '\\pL{1000}'.repeat(454))] }]), /expand past 20000 steps/);
  // The bound is the request's: rules that each fit are refused together, naming the one that crosses it.
  const half = Array.from({ length: 3 }, (_, i) => regex(`r${i}`, '[ab ]{0,1000}x'.repeat(4)));
  assert.throws(() => requestPolicies([{ id: 'firewall', soft_deny: half.slice(0, 2) }, { id: 'firewall', hard_deny: half.slice(2) }]), /"plugins\[1\]\.hard_deny\[0\]\.pattern" \(rule "r2"\): the request's patterns expand past/);
  // What rules are written with fits: a bounded gap in each of 48 rules, a key's shape, literals.
  const ordinary = Array.from({ length: 48 }, (_, i) => regex(`r${i}`, i % 2 ? `(?i)curl .{0,200}\\| *(ba)?sh${i}` : `sk-[A-Za-z0-9]{20,64}|AKIA[0-9A-Z]{16}${i}`));
  assert.equal(requestPolicies([{ id: 'firewall', hard_deny: ordinary }])[0]!.rules.length, 48);
});

test('the parsed rules kept: the texts an agent repeats stay while others come and go, and compiled patterns count against what is kept', () => {
  const named = (name: string, pattern = 'x') => [{ id: 'firewall', hard_deny: [{ name, type: 'regex', phase: 'request', pattern }] }];
  const agent = requestPolicies(named('agent'));
  for (let i = 0; i < 300; i++) {
    requestPolicies(named(`one-off ${i}`));
    // The agent's next turn, between other clients' one-off rule sets.
    if (i % 100 === 0) assert.equal(requestPolicies(named('agent')), agent, `turn ${i}`);
  }
  assert.equal(requestPolicies(named('agent')), agent, 'a text in use is not the first to go');
  // Each of these compiles to ~19,000 instructions (~1.5 MB): a handful, not 256 of them, stay.
  const heavy = (i: number) => named(`heavy ${i}`, `${'\\pL{1000}'.repeat(19)}${i}`);
  const first = requestPolicies(heavy(0));
  for (let i = 1; i <= 12; i++) {
    requestPolicies(heavy(i));
    assert.equal(requestPolicies(named('agent')), agent, `heavy ${i}`);
  }
  assert.notEqual(requestPolicies(heavy(0)), first, 'the oldest heavy entry went to make room');
});

test('decision rules: taken where a decision model judges them, refused elsewhere, whatever was parsed before', () => {
  const plugins = [{ id: 'firewall', hard_deny: [{ name: 'Wipe', type: 'decision', phase: 'request', instructions: 'Deletes everything.' }] }];
  assert.deepEqual(requestPolicies(plugins, true)[0]!.rules, [{ name: 'Wipe', tier: 'hardDeny', type: 'decision', phase: 'request', instructions: 'Deletes everything.' }]);
  // The same text on a gateway without a decision model: parsed for it, not taken from the other's parse.
  assert.throws(() => requestPolicies(plugins), /"plugins\[0\]\.hard_deny\[0\]\.type" \(rule "Wipe"\): decision rules are not available on this gateway/);
  assert.equal(requestPolicies([{ id: 'firewall', soft_deny: [{ ...plugins[0]!.hard_deny[0]!, phase: 'response' }] }], true)[0]!.rules[0]!.phase, 'response');
  assert.throws(() => requestPolicies([{ id: 'firewall', hard_deny: [{ name: 'Wipe', type: 'decision', phase: 'request' }] }], true), /"plugins\[0\]\.hard_deny\[0\]\.instructions" \(rule "Wipe"\): a decision rule needs "instructions"/);
  assert.throws(() => requestPolicies([{ id: 'firewall', hard_deny: [{ ...plugins[0]!.hard_deny[0]!, instructions: 'x'.repeat(4001) }] }], true), /"plugins\[0\]\.hard_deny\[0\]\.instructions" must be at most 4000 characters; got 4001/);
});
