import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Anthropic from '@anthropic-ai/sdk';
import { streamEvents } from './wire.ts';

test('the fake Claude stream\'s message_delta has every field of Anthropic\'s delta (the SDK types them nullable, not optional), text or tool call', () => {
  for (const toolCall of [undefined, { id: 'toolu_1', name: 'f', arguments: '{"a":1}' }]) {
    const events = streamEvents('messages', { model: 'claude-x', text: 'hi', withUsage: true, ...(toolCall ? { toolCall } : {}) }, false)
      .map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))!.slice('data: '.length)) as { type: string });
    const delta = (events.find((e) => e.type === 'message_delta') as Anthropic.RawMessageDeltaEvent).delta;
    const expected: Anthropic.RawMessageDeltaEvent['delta'] = { stop_reason: toolCall ? 'tool_use' : 'end_turn', stop_sequence: null, stop_details: null, container: null };
    assert.deepEqual(delta, expected);
  }
});
