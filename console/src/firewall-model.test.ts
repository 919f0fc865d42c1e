/// <reference types="node" />
// The Firewall policy editor's model: what a save writes for each rule type, and which rule a refusal is about.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyPolicy, emptyRule, fromPolicy, policyChoices, policyName, refusesPolicy, ruleOf, rulesOfPhase, toWrite } from './firewall-model.ts';
import type { FirewallPolicy } from './api.ts';

test('a rule sends only its type\'s match field, and reads only when a request rule narrows them', () => {
  const state = { ...emptyPolicy(), name: ' Guard ', environment: 'CI runner\n\n  repo acme/app ', rules: [
    { ...emptyRule('response'), name: 'Payments', type: 'toolNames' as const, toolNames: 'mcp__payments__*\n refund \n', pattern: 'left over' },
    { ...emptyRule('request'), name: 'AWS keys', type: 'regex' as const, reads: ['toolResults' as const], pattern: 'AKIA[0-9A-Z]{16} ', toolNames: 'left over' },
    { ...emptyRule('response'), name: 'Push', type: 'regex' as const, reads: ['messages' as const], pattern: 'push --force' },
  ] };
  assert.deepEqual(toWrite(state, false), {
    name: 'Guard', mode: 'audit', onError: 'block', environment: ['CI runner', 'repo acme/app'],
    rules: [
      { name: 'Payments', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['mcp__payments__*', 'refund'] },
      { name: 'AWS keys', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['toolResults'], pattern: 'AKIA[0-9A-Z]{16} ' },
      { name: 'Push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'push --force' },
    ],
  });
  assert.equal(toWrite({ ...state, description: ' ' }, true).description, null, 'an emptied description is removed on update');
  assert.equal('description' in toWrite(state, false), false);
});

test('a stored policy reads back into the form it was written from', () => {
  const policy = {
    id: 'aigfwp_1', name: 'Guard', description: 'd', mode: 'enforce', onError: 'log', environment: ['a', 'b'], allKeys: false,
    rules: [{ name: 'Payments', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['x', 'y'] }],
  } as unknown as FirewallPolicy;
  const state = fromPolicy(policy);
  assert.deepEqual([state.environment, state.rules[0]!.toolNames, state.rules[0]!.reads], ['a\nb', 'x\ny', []]);
  assert.deepEqual(toWrite(state, true), { name: 'Guard', description: 'd', mode: 'enforce', onError: 'log', environment: ['a', 'b'], rules: policy.rules });
});

test('a refusal names its rule by index; request and response rules keep their index in the whole list', () => {
  assert.deepEqual([ruleOf('rules.2.pattern'), ruleOf('rules.0'), ruleOf('rules'), ruleOf('name'), ruleOf(undefined)], [2, 0, undefined, undefined, undefined]);
  const rules = [emptyRule('response'), emptyRule('request'), emptyRule('response')];
  assert.deepEqual(rulesOfPhase(rules, 'response').map((r) => r.index), [0, 2]);
  assert.deepEqual(rulesOfPhase(rules, 'request').map((r) => r.index), [1]);
});

test('a policy picker offers none, then the policies by name, and keeps an attached policy the list lacks', () => {
  const policies = [{ id: 'aigfwp_1', name: 'Guard' }, { id: 'aigfwp_2', name: 'Strict' }];
  assert.deepEqual(policyChoices(policies, 'aigfwp_2'), [{ value: '', label: 'None' }, { value: 'aigfwp_1', label: 'Guard' }, { value: 'aigfwp_2', label: 'Strict' }]);
  // The list not loaded: the attached policy is still the one chosen, so a save does not detach it.
  assert.deepEqual(policyChoices(undefined, 'aigfwp_2'), [{ value: '', label: 'None' }, { value: 'aigfwp_2', label: 'aigfwp_2' }]);
  assert.deepEqual(policyChoices(undefined, ''), [{ value: '', label: 'None' }]);
  assert.deepEqual([policyName(policies, 'aigfwp_2'), policyName(undefined, 'aigfwp_2'), policyName(policies, undefined), policyName(policies, null)], ['Strict', 'aigfwp_2', undefined, undefined]);
});

test('only a "not found" naming a Firewall policy is about the policy picker', () => {
  assert.equal(refusesPolicy(404, { resource: 'Firewall policy', id: 'aigfwp_1' }), true);
  assert.equal(refusesPolicy(404, { resource: 'Access key configuration', id: 'aigac_1' }), false, 'the configuration itself deleted meanwhile');
  assert.equal(refusesPolicy(400, { resource: 'Firewall policy' }), false);
});

test('a decision rule keeps its instructions through the form', () => {
  const rule = { name: 'Deletes outside', tier: 'softDeny', type: 'decision', phase: 'request', reads: ['messages'], instructions: 'Deletes files outside the project directory.' };
  const policy = { id: 'aigfwp_1', name: 'Guard', mode: 'enforce', onError: 'block', environment: [], allKeys: false, rules: [rule] } as unknown as FirewallPolicy;
  const state = fromPolicy(policy);
  assert.equal(state.rules[0]!.instructions, rule.instructions);
  assert.deepEqual(toWrite(state, true).rules, [rule]);
  assert.deepEqual(toWrite({ ...state, rules: [{ ...emptyRule('response'), name: 'Calls', type: 'decision', instructions: ' Pushes to main. \n' }] }, false).rules, [{ name: 'Calls', tier: 'hardDeny', type: 'decision', phase: 'response', instructions: 'Pushes to main.' }]);
});
