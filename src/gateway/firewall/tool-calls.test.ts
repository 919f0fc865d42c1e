import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, type FirewallFinding } from '../../domain/firewall.ts';
import type { FirewallPolicyState } from '../../domain/firewall-policy.ts';
import { screenJsonAnswer, streamGuard } from './tool-calls.ts';

const policies = [compilePolicy({ id: 'aigfwp_1', name: 'p', mode: 'enforce', onError: 'block', environment: [], rules: [{ name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] }] } satisfies FirewallPolicyState)];
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const events = (text: string) => text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string; tool_calls?: { index: number; id?: string; function: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[] });

/** Runs a stream through a guard, one piece at a time (pieces may split events anywhere). */
function guarded(surface: 'chat-completions' | 'messages', pieces: string[]): { out: string; noted: FirewallFinding[] } {
  const noted: FirewallFinding[] = [];
  const guard = streamGuard(surface, policies, noted)!;
  let out = '';
  for (const piece of pieces) out += guard.push(Buffer.from(piece))?.toString() ?? '';
  out += guard.end()?.toString() ?? '';
  return { out, noted };
}

test('chat stream: calls sent whole in one chunk are judged apart; the kept one is numbered from 0 again', () => {
  const both = chunk({ role: 'assistant', tool_calls: [
    { index: 0, id: 'c_del', type: 'function', function: { name: 'delete_file', arguments: '{"p":"a"}' } },
    { index: 1, id: 'c_read', type: 'function', function: { name: 'read_file', arguments: '{"p":"b"}' } },
  ] });
  const { out, noted } = guarded('chat-completions', [both, chunk({}, 'tool_calls'), 'data: [DONE]\n\n']);
  const sent = events(out);
  assert.deepEqual(sent.flatMap((e) => e.choices[0]!.delta.tool_calls ?? []), [{ index: 0, id: 'c_read', type: 'function', function: { name: 'read_file', arguments: '{"p":"b"}' } }]);
  assert.match(sent.map((e) => e.choices[0]!.delta.content ?? '').join(''), /flagged the call to tool "delete_file"/);
  assert.equal(sent.at(-1)!.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(sent[0]!.choices[0]!.delta.tool_calls, undefined, 'the role went out at once, without the calls');
  assert.deepEqual(noted.map((f) => f.rule), ['No deletes']);
  assert.ok(out.endsWith('data: [DONE]\n\n'));
});

test('chat stream: events split anywhere across reads, text never held back past its event', () => {
  const text = chunk({ content: 'Let me look. ' });
  const call = [chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'delete_file', arguments: '' } }] }), chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] })];
  const whole = text + call.join('') + chunk({}, 'tool_calls') + 'data: [DONE]\n\n';
  const pieces = whole.match(/[\s\S]{1,7}/g)!;
  const noted: FirewallFinding[] = [];
  const guard = streamGuard('chat-completions', policies, noted)!;
  let out = '';
  let textOutAt = -1;
  pieces.forEach((piece, i) => {
    out += guard.push(Buffer.from(piece))?.toString() ?? '';
    if (textOutAt < 0 && out.includes('Let me look.')) textOutAt = i;
  });
  assert.equal(textOutAt, Math.ceil(text.length / 7) - 1, 'the text event went out with the read that completed it');
  out += guard.end()?.toString() ?? '';
  const sent = events(out);
  assert.equal(sent.length, 3);
  assert.equal(sent[0]!.choices[0]!.delta.content, 'Let me look. ');
  assert.match(sent[1]!.choices[0]!.delta.content!, /^\n\nBlocked by the gateway's Firewall: rule "No deletes" \(hard block\)/, 'after the text, a blank line apart');
  assert.equal(sent[2]!.choices[0]!.finish_reason, 'stop', 'no call left: the choice ends as a turn does');
});

test('chat stream: a multi-byte character split across reads arrives intact', () => {
  const text = chunk({ content: 'héllo → wörld' });
  const bytes = Buffer.from(text);
  const noted: FirewallFinding[] = [];
  const guard = streamGuard('chat-completions', policies, noted)!;
  const out = Buffer.concat([guard.push(bytes.subarray(0, 60)) ?? Buffer.alloc(0), guard.push(bytes.subarray(60)) ?? Buffer.alloc(0)]).toString();
  assert.equal(out, text);
});

test('JSON answers: nothing blocked → the very same bytes', () => {
  const body = Buffer.from('{"id":"x",  "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}');
  assert.equal(screenJsonAnswer('chat-completions', body, policies, []), body);
  const messages = Buffer.from('{"type":"message","content":[{"type":"tool_use","id":"t","name":"read_file","input":{}}],"stop_reason":"tool_use"}');
  assert.equal(screenJsonAnswer('messages', messages, policies, []), messages);
});
