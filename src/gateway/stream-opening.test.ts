import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpeningReader, streamOpening } from './stream-opening.ts';

const open = (...events: string[]) => streamOpening(events.map((e) => Buffer.from(e)));
const created = 'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n';
const inProgress = 'event: response.in_progress\ndata: {"type":"response.in_progress","sequence_number":1}\n\n';

test('opening events alone are a preamble, however they are split; the first other event decides', () => {
  assert.equal(open(created, inProgress), 'preamble');
  assert.equal(open(created, inProgress.slice(0, 20)), 'preamble', 'an event not yet complete');
  assert.equal(open('event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'), 'preamble');
  assert.equal(open(created, 'event: response.output_item.added\ndata: {}\n\n'), 'content');
  assert.equal(open('event: message_start\r\ndata: {}\r\n\r\nevent: content_block_start\r\ndata: {}\r\n\r\n'), 'content', 'CRLF lines');
  // Servers that send no `event:` lines: the data's type names the event.
  assert.equal(open('data: {"type":"response.created"}\n\n'), 'preamble');
  assert.equal(open('data: {"type":"response.created"}\n\ndata: {"type":"response.output_text.delta","delta":"x"}\n\n'), 'content');
});

test('a failure after the preamble: rate limits and quota told apart from server errors; the request\'s own fault is relayed', () => {
  assert.deepEqual(open(created, inProgress, 'event: error\ndata: {"type":"error","code":"server_error","message":"boom"}\n\n'), { failure: 'server', quotaExhausted: false });
  assert.deepEqual(open(created, 'event: error\ndata: {"type":"error","error":{"type":"too_many_requests","code":"rate_limit_exceeded"}}\n\n'), { failure: 'rate-limited', quotaExhausted: false });
  assert.deepEqual(open(created, 'event: response.failed\ndata: {"type":"response.failed","response":{"error":{"code":"insufficient_quota"}}}\n\n'), { failure: 'rate-limited', quotaExhausted: true });
  assert.deepEqual(open('event: message_start\ndata: {}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'), { failure: 'server', quotaExhausted: false });
  assert.equal(open(created, 'event: error\ndata: {"type":"error","code":"context_length_exceeded","message":"too long"}\n\n'), 'content');
  assert.equal(open('event: message_start\ndata: {}\n\nevent: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}\n\n'), 'content');
});

test('the failure\'s kind is read from its error\'s type and code, never from its text', () => {
  // A response.failed repeats the request's instructions, which may say anything.
  const failed = 'event: response.failed\ndata: {"type":"response.failed","response":{"instructions":"never hit a rate limit or insufficient_quota","error":{"code":"server_error","message":"boom"}}}\n\n';
  assert.deepEqual(open(created, failed), { failure: 'server', quotaExhausted: false });
  assert.deepEqual(open('data: {"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}\n\n'), { failure: 'rate-limited', quotaExhausted: false });
});

test('an error named by its HTTP status (OpenRouter, vLLM): 429 is a rate limit, 400/413/422 the request\'s own fault', () => {
  assert.deepEqual(open('data: {"error":{"code":429,"message":"Provider returned error"}}\n\n'), { failure: 'rate-limited', quotaExhausted: false });
  assert.equal(open('data: {"error":{"object":"error","message":"maximum context length is 8192 tokens","type":"BadRequestError","param":null,"code":400}}\n\n'), 'content');
  assert.equal(open('data: {"error":{"code":"422","message":"unprocessable"}}\n\n'), 'content');
  assert.deepEqual(open('data: {"error":{"code":502,"message":"Provider disconnected"}}\n\n'), { failure: 'server', quotaExhausted: false });
});

test('read as chunks come, each byte once: events split anywhere, a CRLF split between chunks', () => {
  const whole = Buffer.from(`${created}${inProgress.replace(/\n/g, '\r\n')}event: response.output_item.added\r\ndata: {}\r\n\r\n`);
  for (const size of [1, 2, 3, 7, 64]) {
    const reader = new OpeningReader();
    const received: Buffer[] = [];
    const verdicts: string[] = [];
    for (let i = 0; i < whole.length; i += size) {
      received.push(whole.subarray(i, i + size));
      const v = reader.read(received);
      if (typeof v === 'string' && verdicts.at(-1) !== v) verdicts.push(v);
    }
    assert.deepEqual(verdicts, ['preamble', 'content'], `chunks of ${size}`);
  }
  // A long run of pings, one small chunk each (a slow custom server): read in one pass, still a preamble.
  const reader = new OpeningReader();
  const pings: Buffer[] = [];
  for (let i = 0; i < 5000; i++) pings.push(Buffer.from('event: ping\ndata: {"type": "ping"}\n\n'));
  assert.equal(reader.read(pings), 'preamble');
});
