import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, type FirewallFinding } from '../../domain/firewall.ts';
import type { FirewallPolicyState } from '../../domain/firewall-policy.ts';
import { eventFrame, eventStreamCodec } from '../formats/bedrock.ts';
import { responseGuard } from './event-stream.ts';

const policies = [compilePolicy({ id: 'aigfwp_1', name: 'p', mode: 'enforce', onError: 'block', environment: [], rules: [{ name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] }] } satisfies FirewallPolicyState)];

/** Runs bytes through a guard in pieces of `size` bytes (frames split anywhere); the events that came out. */
function guarded(surface: 'converse-stream' | 'invoke-stream', bytes: Buffer, size: number): { out: Buffer; events: { type: string; body: Record<string, unknown> }[]; noted: FirewallFinding[] } {
  const noted: FirewallFinding[] = [];
  const guard = responseGuard(surface, policies, noted)!;
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(guard.push(bytes.subarray(at, at + size)) ?? Buffer.alloc(0));
  parts.push(guard.end() ?? Buffer.alloc(0));
  const out = Buffer.concat(parts);
  const events = [];
  for (let at = 0; at < out.length;) {
    const total = out.readUInt32BE(at);
    const message = eventStreamCodec.decode(out.subarray(at, at + total));
    events.push({ type: String(message.headers[':event-type']!.value), body: JSON.parse(Buffer.from(message.body).toString('utf8')) as Record<string, unknown> });
    at += total;
  }
  return { out, events, noted };
}

const toolUse = (index: number, name: string, input: string[]) => [
  eventFrame('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: `t${index}`, name } } }),
  ...input.map((piece) => eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: piece } } })),
  eventFrame('contentBlockStop', { contentBlockIndex: index }),
];

test('ConverseStream split across reads: a kept call goes out as the very bytes it came as; a blocked one becomes the rule\'s text at its index', () => {
  const kept = Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'ok' } }), ...toolUse(1, 'read_file', ['{"p":', '"a"}']), eventFrame('messageStop', { stopReason: 'tool_use' })]);
  assert.ok(guarded('converse-stream', kept, 7).out.equals(kept));
  const { events, noted } = guarded('converse-stream', Buffer.concat([eventFrame('messageStart', { role: 'assistant' }), ...toolUse(0, 'delete_file', ['{"p":"a"}']), eventFrame('messageStop', { stopReason: 'tool_use' }), eventFrame('metadata', { usage: { inputTokens: 1, outputTokens: 1 } })]), 5);
  assert.deepEqual(events.map((e) => e.type), ['messageStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
  assert.match(String((events[1]!.body.delta as { text: string }).text), /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
  assert.equal(events[1]!.body.contentBlockIndex, 0);
  assert.equal(events[3]!.body.stopReason, 'end_turn');
  assert.deepEqual(noted.map((f) => f.rule), ['No deletes']);
});

test('ConverseStream: a call cut off by the stream\'s end is never released', () => {
  const { events, noted } = guarded('converse-stream', Buffer.concat(toolUse(0, 'delete_file', []).slice(0, 1)), 3);
  assert.deepEqual([events, noted], [[], []]);
});

test('InvokeModelWithResponseStream: each chunk\'s Messages event screened; a blocked tool_use becomes a text block, the stop reason end_turn', () => {
  const chunk = (event: unknown) => eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') });
  const text = chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } });
  const stream = Buffer.concat([
    text,
    chunk({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'delete_file', input: {} } }),
    chunk({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"p":"a"}' } }),
    chunk({ type: 'content_block_stop', index: 1 }),
    chunk({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }),
  ]);
  const { out, events } = guarded('invoke-stream', stream, 11);
  assert.ok(out.subarray(0, text.length).equals(text), 'text passes as the frame it was');
  const messages = events.map((e) => JSON.parse(Buffer.from(String(e.body.bytes), 'base64').toString('utf8')) as { type: string; content_block?: { type: string }; delta?: { text?: string; stop_reason?: string } });
  assert.deepEqual(messages.map((m) => m.content_block?.type ?? m.type), ['content_block_delta', 'text', 'content_block_delta', 'content_block_stop', 'message_delta']);
  assert.match(messages[2]!.delta!.text!, /flagged the call to tool "delete_file"/);
  assert.equal(messages[4]!.delta!.stop_reason, 'end_turn');
});
