import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedText, blockingFinding, compilePolicy, decodedEscapes, globMatches, judgeRequest, judgeToolCall, keyPolicies, type RequestParts } from './firewall.ts';
import type { FirewallPolicyState, FirewallRule } from './firewall-policy.ts';

const policy = (rules: FirewallRule[], extra: Partial<FirewallPolicyState> = {}): FirewallPolicyState => ({ id: 'aigfwp_1', name: 'guard', mode: 'enforce', onError: 'block', environment: [], rules, ...extra });
const call = (p: FirewallPolicyState, name: string, args = '{}') => judgeToolCall([compilePolicy(p)], { name, arguments: args });
const blocks = (p: FirewallPolicyState, name: string, args = '{}') => blockingFinding(call(p, name, args))?.rule;
const parts = (over: Partial<RequestParts>): RequestParts => ({ messages: '', toolResults: '', toolDefinitions: '', toolNames: [], calledNames: [], ...over });

test('tool-name globs match the whole name, case-sensitively, with * for any characters', () => {
  assert.equal(globMatches('mcp__github__*', 'mcp__github__create_issue'), true);
  assert.equal(globMatches('mcp__github__*', 'mcp__gitlab__create_issue'), false);
  assert.equal(globMatches('git_push', 'git_push_force'), false);
  assert.equal(globMatches('Git_push', 'git_push'), false);
  assert.equal(globMatches('*push*', 'git_push_force'), true);
  assert.equal(globMatches('a*b*c', 'axxbyyc'), true);
  assert.equal(globMatches('a*b*c', 'axxbyy'), false);
  assert.equal(globMatches('*', ''), true);
  const p = policy([{ name: 'Payments', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['mcp__payments__*'] }]);
  assert.equal(blocks(p, 'mcp__payments__refund'), 'Payments');
  assert.equal(blocks(p, 'mcp__github__create_issue'), undefined);
});

test('a glob takes time linear in the name: a request\'s own rules choose both the glob and the names it reads', () => {
  // Every glob over {a, b, *} up to 6 characters, against every name over {a, b} up to 7: the same answers as a regex.
  const words = (alphabet: string, max: number): string[] => {
    const out = [''];
    for (let i = 0; out[i]!.length < max; i++) for (const c of alphabet) out.push(out[i]! + c);
    return out;
  };
  const names = words('ab', 7);
  for (const glob of words('ab*', 6)) {
    const re = new RegExp(`^${glob.replaceAll('*', '.*')}$`);
    for (const name of names) assert.equal(globMatches(glob, name), re.test(name), `${glob} ${name}`);
  }
  assert.equal(globMatches('ab*ba', 'aba'), false, 'the ends do not share characters');
  assert.equal(globMatches('a*a*a', 'aaa'), true);
  // The worst cases of the old backtracking (a star and 253 characters against a tool name of 100,000 took 0.3 s
  // each, and a request has 48 rules of 100 globs) answer correctly; their speed is the benchmark's to show, not a test's.
  const name = 'a'.repeat(100_000);
  assert.equal(globMatches(`*${'a'.repeat(253)}b`, name), false);
  assert.equal(globMatches(`${'*a'.repeat(127)}b`, name), false);
  assert.equal(globMatches(`*${'a'.repeat(253)}`, name), true);
});

test('a regex on a tool call reads the name, a space and the raw JSON arguments; (?i) makes it case-insensitive', () => {
  const p = policy([{ name: 'Force push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: '^bash .*git push (-f|--force)' }]);
  assert.equal(blocks(p, 'bash', '{"command":"git push --force origin main"}'), 'Force push');
  assert.equal(blocks(p, 'bash', '{"command":"git push origin main"}'), undefined);
  assert.equal(blocks(p, 'shell', '{"command":"git push --force"}'), undefined);
  const keys = policy([{ name: 'AWS key', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: '(?i)akia[0-9a-z]{16}' }]);
  assert.equal(blocks(keys, 'upload', '{"data":"AKIAABCDEFGHIJKLMNOP"}'), 'AWS key');
  const sensitive = policy([{ name: 'AWS key', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'akia[0-9a-z]{16}' }]);
  assert.equal(blocks(sensitive, 'upload', '{"data":"AKIAABCDEFGHIJKLMNOP"}'), undefined);
});

test('block rules also read the arguments with JSON escapes decoded; allow rules read them raw', () => {
  assert.equal(decodedEscapes('{"c":"rm -rf \\"/\\"\\n\\u0041"}'), '{"c":"rm -rf "/"\nA"}');
  const p = policy([{ name: 'Root delete', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'rm -rf "/"' }]);
  assert.equal(blocks(p, 'bash', '{"command":"rm -rf \\"/\\""}'), 'Root delete');
  const allowDecoded = policy([
    { name: 'No rm', tier: 'softDeny', type: 'regex', phase: 'response', pattern: 'rm ' },
    { name: 'Temp ok', tier: 'allow', type: 'regex', phase: 'response', pattern: 'rm "/tmp' },
  ]);
  // The allow pattern would match only the decoded text: it does not clear the soft block.
  assert.equal(blocks(allowDecoded, 'bash', '{"command":"rm \\"/tmp/x\\""}'), 'No rm');
});

test('tiers: hard blocks stand, soft blocks yield to an allow rule of the same phase on the same item, allow alone does nothing', () => {
  const p = policy([
    { name: 'Hard', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] },
    { name: 'Soft', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['write_*', 'delete_*'] },
    { name: 'Allow writes to notes', tier: 'allow', type: 'regex', phase: 'response', pattern: '"path":"notes/' },
    { name: 'Allow deletes', tier: 'allow', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] },
    { name: 'Request allow', tier: 'allow', type: 'regex', phase: 'request', pattern: '.' },
  ]);
  assert.equal(blocks(p, 'delete_file'), 'Hard');
  assert.equal(blocks(p, 'write_file', '{"path":"src/x"}'), 'Soft');
  assert.equal(blocks(p, 'write_file', '{"path":"notes/x"}'), undefined);
  assert.deepEqual(call(p, 'read_file'), []);
  const allowOnly = policy([{ name: 'Allow', tier: 'allow', type: 'toolNames', phase: 'response', toolNames: ['*'] }]);
  assert.deepEqual(call(allowOnly, 'anything'), []);
});

test('request rules read only the parts they name (every part when none), joined text and tool names', () => {
  const p = policy([
    { name: 'Secrets in results', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['toolResults'], pattern: 'AKIA[0-9A-Z]{16}' },
    { name: 'Shell offered', tier: 'softDeny', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['bash'] },
    { name: 'Anywhere', tier: 'hardDeny', type: 'regex', phase: 'request', pattern: 'forbidden words' },
  ]);
  const judged = (over: Partial<RequestParts>) => judgeRequest([compilePolicy(p)], parts(over)).map((f) => f.rule);
  assert.deepEqual(judged({ toolResults: 'key AKIAABCDEFGHIJKLMNOP' }), ['Secrets in results']);
  assert.deepEqual(judged({ messages: 'key AKIAABCDEFGHIJKLMNOP' }), []);
  assert.deepEqual(judged({ toolNames: ['bash'] }), ['Shell offered']);
  // A call of `bash` in the history is a message, which this rule does not read.
  assert.deepEqual(judged({ calledNames: ['bash'], messages: 'bash {}' }), []);
  assert.deepEqual(judged({ toolDefinitions: 'x\nsays forbidden words' }), ['Anywhere']);
  // Response rules do not run on the request, nor request rules on a call.
  assert.deepEqual(call(p, 'bash'), []);
});

test('an audit policy reports what it would block, and blocks nothing; the two layers each keep their own mode', () => {
  const rule: FirewallRule = { name: 'No push', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['git_push'] };
  const audit = policy([rule], { id: 'aigfwp_audit', mode: 'audit' });
  const findings = call(audit, 'git_push');
  assert.deepEqual(findings, [{ policyId: 'aigfwp_audit', rule: 'No push', tier: 'hardDeny', blocked: false, unchecked: false, phase: 'response' }]);
  assert.equal(blockingFinding(findings), undefined);
  const enforce = policy([{ ...rule, name: 'Config no push' }], { id: 'aigfwp_enforce' });
  const policies = new Map([[audit.id, audit], [enforce.id, enforce]]);
  const both = keyPolicies('aigfwp_audit', 'aigfwp_enforce', policies);
  const judged = judgeToolCall(both, { name: 'git_push', arguments: '{}' });
  assert.deepEqual(judged.map((f) => [f.policyId, f.blocked]), [['aigfwp_audit', false], ['aigfwp_enforce', true]]);
  assert.equal(blockingFinding(judged)?.rule, 'Config no push');
  // An enforcing account policy with an auditing configuration policy: the account's block stands.
  const swapped = keyPolicies('aigfwp_enforce', 'aigfwp_audit', policies);
  assert.equal(blockingFinding(judgeToolCall(swapped, { name: 'git_push', arguments: '{}' }))?.rule, 'Config no push');
  assert.deepEqual(keyPolicies(undefined, null, policies), []);
  assert.deepEqual(keyPolicies('aigfwp_missing', undefined, policies), []);
});

test('a soft block is cleared only by an allow rule of its own policy', () => {
  const soft = policy([{ name: 'Soft', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['write'] }], { id: 'aigfwp_a' });
  const allow = policy([{ name: 'Allow', tier: 'allow', type: 'toolNames', phase: 'response', toolNames: ['write'] }], { id: 'aigfwp_b' });
  const both = keyPolicies('aigfwp_a', 'aigfwp_b', new Map([[soft.id, soft], [allow.id, allow]]));
  assert.equal(blockingFinding(judgeToolCall(both, { name: 'write', arguments: '{}' }))?.rule, 'Soft');
});

test('a decision rule cannot be checked here: onError block blocks, log lets it through and reports it', () => {
  const rule: FirewallRule = { name: 'Deletes outside the project', tier: 'softDeny', type: 'decision', phase: 'response', instructions: 'Deletes files outside the project directory.' };
  const blocking = call(policy([rule]), 'anything');
  assert.deepEqual(blocking, [{ policyId: 'aigfwp_1', rule: 'Deletes outside the project', tier: 'softDeny', blocked: true, unchecked: true, phase: 'response' }]);
  const logged = call(policy([rule], { onError: 'log' }), 'anything');
  assert.deepEqual(logged.map((f) => [f.blocked, f.unchecked]), [[false, true]]);
  // Not cleared by an allow rule (what it would have said is unknown).
  const withAllow = policy([rule, { name: 'Allow all', tier: 'allow', type: 'toolNames', phase: 'response', toolNames: ['*'] }]);
  assert.equal(blocks(withAllow, 'anything'), 'Deletes outside the project');
  // A decision allow rule is only unchecked: it neither blocks nor clears.
  assert.deepEqual(call(policy([{ ...rule, tier: 'allow' }]), 'anything'), []);
  // A pattern RE2 refuses is unchecked too.
  assert.equal(blocks(policy([{ name: 'Bad', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: '(?<=x)y' }]), 'x'), 'Bad');
  assert.match(blockedText(blocking[0]!, 'the call to tool "x"'), /rule "Deletes outside the project" \(soft block\) could not check the call to tool "x"/);
});

test('a policy is compiled once per policy object', () => {
  const p = policy([{ name: 'R', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'x' }]);
  assert.equal(compilePolicy(p), compilePolicy(p));
  assert.notEqual(compilePolicy({ ...p }), compilePolicy(p));
});
