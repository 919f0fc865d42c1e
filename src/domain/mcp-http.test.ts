import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asEventStream, isJsonContentType, mcpAccepts } from './mcp-http.ts';

test('Accept is read as HTTP has it: media ranges, wildcards and weights, the most specific range deciding; none takes anything', () => {
  const takes = (header: string | undefined) => { const a = mcpAccepts(header); return [a.json, a.events]; };
  for (const header of [undefined, '', '  ', 'application/json, text/event-stream', 'Application/JSON,Text/Event-Stream', '*/*', 'application/*, text/*', '*/*;q=0.1', 'text/event-stream; q=0.5, application/json; charset=utf-8']) {
    assert.deepEqual(takes(header), [true, true], String(header));
  }
  assert.deepEqual(takes('application/json'), [true, false]);
  assert.deepEqual(takes('text/event-stream'), [false, true]);
  assert.deepEqual(takes('text/*'), [false, true]);
  // A weight of 0 refuses the type, even where a wildcard would take it; the most specific range decides.
  assert.deepEqual(takes('*/*, application/json;q=0'), [false, true]);
  assert.deepEqual(takes('application/json;q=0, application/*'), [false, false]);
  assert.deepEqual(takes('application/json;q=bad'), [true, false], 'a weight that is no number is none');
  // Never a substring: a type whose name merely contains the one asked for is another.
  for (const header of ['text/html', 'application/jsonx, text/event-streamx', 'application/json-seq', 'image/*', 'garbage', '*/*;q=0', 'application/json;q=0, text/event-stream;q=0']) {
    assert.deepEqual(takes(header), [false, false], header);
  }
});

test('Content-Type: application/json by its parsed media type', () => {
  for (const type of ['application/json', 'Application/JSON', 'application/json; charset=utf-8']) assert.equal(isJsonContentType(type), true, type);
  for (const type of [undefined, 'text/plain', 'text/plain; a=application/json', 'application/json-seq', 'application/json, text/plain']) assert.equal(isJsonContentType(type), false, String(type));
});

test('a message as an event stream: one event, each line of its text a data line', () => {
  assert.equal(asEventStream('{"a":1}'), 'event: message\ndata: {"a":1}\n\n');
  assert.equal(asEventStream('{\n"a":1}'), 'event: message\ndata: {\ndata: "a":1}\n\n');
});
