import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamMeter } from './stream-meter.ts';
import { codecs } from './formats/index.ts';
import { FAKE_USAGE, streamEvents, jsonAnswer } from '../demo/fake-provider/wire.ts';
import { tollgateError } from '../domain/errors.ts';

const answer = { model: 'm', text: 'Hello there, how are you?', withUsage: true };

/** Feeds the events split at awkward places (mid-event, mid-line, CRLF) and returns the forwarded bytes. */
function run(meter: StreamMeter, events: string[], splitEvery = 7, crlf = false): string {
  let all = events.join('');
  if (crlf) all = all.replace(/\n/g, '\r\n');
  const bytes = Buffer.from(all);
  let out = '';
  for (let i = 0; i < bytes.length; i += splitEvery) {
    const fwd = meter.push(bytes.subarray(i, i + splitEvery));
    if (fwd) out += fwd.toString();
  }
  const tail = meter.end();
  if (tail) out += tail.toString();
  return out;
}

const expected = { inputTokens: FAKE_USAGE.input, outputTokens: FAKE_USAGE.output, cacheReadTokens: FAKE_USAGE.cacheRead, cacheWriteTokens: 0, reasoningTokens: FAKE_USAGE.reasoning };

/** JSON as Python's json.dumps writes it (`", "` and `": "`), which many OpenAI-compatible servers send. */
function spaced(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(spaced).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${spaced(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}
const spacedEvents = (events: string[]) => events.map((e) => e.replace(/^data: (\{.*\})$/m, (_, json: string) => `data: ${spaced(JSON.parse(json))}`));

describe('StreamMeter', () => {
  it('reads usage, stop reason and text from chunks written with spaces (any JSON layout), and still hides the injected usage chunk', () => {
    const events = spacedEvents(streamEvents('chat-completions', answer, true));
    assert.ok(events.some((e) => e.includes('"usage": {')), 'the fixture really is spaced');
    const meter = new StreamMeter(codecs.openai, 'chat-completions', true);
    const out = run(meter, events, 9);
    assert.deepEqual(meter.facts.usage, expected);
    assert.equal(meter.facts.stopReason, 'stop');
    assert.ok(meter.facts.text.includes('Hello there'));
    assert.ok(!out.includes('"choices": []'), 'the usage-only chunk the gateway asked for is not forwarded');
    const compact = new StreamMeter(codecs.anthropic, 'messages', false);
    run(compact, streamEvents('messages', answer, true));
    const anthropic = new StreamMeter(codecs.anthropic, 'messages', false);
    run(anthropic, spacedEvents(streamEvents('messages', answer, true)), 13);
    assert.deepEqual(anthropic.facts, compact.facts);
    assert.ok(anthropic.facts.text.includes('Hello there'));
    const errored = new StreamMeter(codecs.openai, 'chat-completions', false);
    run(errored, ['data: {"error": {"message": "overloaded"}}\n\n']);
    assert.equal(errored.facts.errored, true);
  });

  it('a byte-order mark before the first event does not hide it', () => {
    for (const [codec, surface] of [[codecs.anthropic, 'messages'], [codecs.openai, 'chat-completions']] as const) {
      const events = streamEvents(surface, answer, true);
      const plain = new StreamMeter(codec, surface, false);
      run(plain, events, 4);
      const meter = new StreamMeter(codec, surface, false);
      run(meter, ['\uFEFF' + events[0], ...events.slice(1)], 4);
      assert.deepEqual(meter.facts, plain.facts, surface);
    }
    // Usage first (OpenAI with the usage chunk leading): still read.
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    const usageChunk = streamEvents('chat-completions', answer, true).find((e) => e.includes('"choices":[]'))!;
    run(meter, ['\uFEFF' + usageChunk, 'data: [DONE]\n\n']);
    assert.deepEqual(meter.facts.usage, expected);
  });

  it('reads the OpenAI final usage chunk and passes bytes through unchanged', () => {
    const events = streamEvents('chat-completions', answer, true);
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    const out = run(meter, events, 5, true);
    assert.equal(out, events.join('').replace(/\n/g, '\r\n'));
    assert.deepEqual(meter.facts.usage, expected);
    assert.equal(meter.facts.stopReason, 'stop');
    assert.equal(meter.facts.terminal, true);
  });

  it('meters JSON-looking content as text: a quoted finish_reason or usage inside a string is not one', () => {
    const sneaky = 'a "finish_reason":"length" and "usage":{"prompt_tokens":1} b';
    const events = streamEvents('chat-completions', { ...answer, text: sneaky }, true);
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    run(meter, events, 11);
    assert.deepEqual(meter.facts.usage, expected);
    assert.equal(meter.facts.stopReason, 'stop');
    assert.ok(meter.facts.text.includes('finish_reason'), 'the quoted text counts towards the fallback estimate');
  });

  it('drops only the usage-only chunk when the gateway injected include_usage', () => {
    const events = streamEvents('chat-completions', answer, true);
    const meter = new StreamMeter(codecs.openai, 'chat-completions', true);
    const out = run(meter, events, 3);
    const usageEvent = events.find((e) => e.includes('"choices":[]'))!;
    assert.equal(out, events.filter((e) => e !== usageEvent).join(''));
    assert.deepEqual(meter.facts.usage, expected);
  });

  it('filtering, chunks of whole events all kept go on untouched (no copy); the usage-only chunk is taken out', () => {
    const events = streamEvents('chat-completions', answer, true);
    const meter = new StreamMeter(codecs.openai, 'chat-completions', true);
    const forwarded = events.map((e) => {
      const chunk = Buffer.from(e);
      const out = meter.push(chunk);
      if (!e.includes('"choices":[]')) assert.equal(out, chunk, 'forwarded as it came');
      return out?.toString() ?? '';
    });
    assert.equal(forwarded.join(''), events.filter((e) => !e.includes('"choices":[]')).join(''));
    // Two events in one chunk, one of them the usage chunk: the other is forwarded alone.
    const both = new StreamMeter(codecs.openai, 'chat-completions', true);
    const [usage, done] = events.slice(-2);
    assert.equal(both.push(Buffer.from(usage! + done!))?.toString(), done);
    // A chunk ending inside a character is not forwarded raw: the character goes out once, whole, with its event.
    const split = new StreamMeter(codecs.openai, 'chat-completions', true);
    const first = Buffer.concat([Buffer.from(events[1]!), Buffer.from([0xc3])]);
    const rest = Buffer.concat([Buffer.from([0xa9]), Buffer.from('x\n\ndata: {"id')]);
    const sent = Buffer.concat([split.push(first) ?? Buffer.alloc(0), split.push(rest) ?? Buffer.alloc(0)]);
    assert.equal(sent.toString(), `${events[1]}éx\n\n`);
  });

  it('collects text for estimates when no usage is reported', () => {
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    run(meter, streamEvents('chat-completions', { ...answer, withUsage: false }, false));
    assert.equal(meter.facts.usage, undefined);
    assert.equal(meter.facts.text, answer.text);
  });

  it('reads Anthropic message_start and message_delta usage once each', () => {
    const meter = new StreamMeter(codecs.anthropic, 'messages', false);
    run(meter, streamEvents('messages', answer, false), 11);
    assert.deepEqual(meter.facts.usage, {
      inputTokens: FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, outputTokens: FAKE_USAGE.output,
      cacheReadTokens: FAKE_USAGE.cacheRead, cacheWriteTokens: FAKE_USAGE.cacheWrite, reasoningTokens: 0, cacheWrite1hTokens: FAKE_USAGE.cacheWrite1h,
    });
    assert.equal(meter.facts.stopReason, 'end_turn');
    assert.equal(meter.facts.terminal, true);
    assert.equal(meter.facts.text, answer.text);
  });

  it('reads Responses usage from response.completed', () => {
    const meter = new StreamMeter(codecs.openai, 'responses', false);
    run(meter, streamEvents('responses', answer, false), 13);
    assert.deepEqual(meter.facts.usage, expected);
    assert.equal(meter.facts.stopReason, 'completed');
  });

  it('multi-byte characters split across chunks', () => {
    const meter = new StreamMeter(codecs.anthropic, 'messages', false);
    run(meter, streamEvents('messages', { ...answer, text: 'héllo wörld ✓ done' }, false), 1);
    assert.equal(meter.facts.text, 'héllo wörld ✓ done');
  });
});

describe('format codecs', () => {
  it('reads JSON usage per surface', () => {
    assert.deepEqual(codecs.openai.factsFromJson(jsonAnswer('chat-completions', answer, undefined), 'chat-completions'), { usage: expected, stopReason: 'stop' });
    assert.deepEqual(codecs.openai.factsFromJson(jsonAnswer('responses', answer, undefined), 'responses'), { usage: expected, stopReason: 'completed' });
    const emb = codecs.openai.factsFromJson(jsonAnswer('embeddings', answer, 'x'), 'embeddings');
    assert.equal(emb.usage?.inputTokens, FAKE_USAGE.input);
    const msg = codecs.anthropic.factsFromJson(jsonAnswer('messages', answer, undefined), 'messages');
    assert.equal(msg.stopReason, 'end_turn');
    assert.equal(msg.usage?.cacheWriteTokens, FAKE_USAGE.cacheWrite);
    assert.equal(codecs.openai.factsFromJson(jsonAnswer('chat-completions', { ...answer, withUsage: false }, undefined), 'chat-completions').usage, undefined);
  });

  it('writes error bodies the SDKs parse, with the code', () => {
    const e = tollgateError('modelNotAllowed', { model: 'x' });
    const o = JSON.parse(codecs.openai.errorBody(e, 'rq_1'));
    assert.equal(o.error.code, 'ERR_NGROK_27232');
    assert.equal(o.error.type, 'permission_error');
    assert.match(o.error.message, /^ERR_NGROK_27232: Model "x"/);
    const a = JSON.parse(codecs.anthropic.errorBody(e, 'rq_1'));
    assert.equal(a.type, 'error');
    assert.equal(a.error.type, 'permission_error');
    assert.equal(a.error.code, 'ERR_NGROK_27232');
    assert.match(codecs.anthropic.streamErrorEvent(e, 'rq_1', 'messages'), /^event: error\ndata: \{"type":"error"/);
    assert.match(codecs.openai.streamErrorEvent(e, 'rq_1', 'chat-completions'), /^data: \{"error":\{/);
    assert.match(codecs.openai.streamErrorEvent(e, 'rq_1', 'responses'), /^event: error\ndata: \{"type":"error","code":"ERR_NGROK_27232",.*"sequence_number":0\}\n\n$/);
  });

  it('with n > 1 choices the stop reason is the first choice\'s, whichever finishes first', () => {
    const chunk = (index: number, finish: string) => `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":${index},"delta":{},"finish_reason":"${finish}"}]}\n\n`;
    for (const order of [[chunk(1, 'stop'), chunk(0, 'tool_calls')], [chunk(0, 'tool_calls'), chunk(1, 'stop')]]) {
      const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
      run(meter, [...order, 'data: [DONE]\n\n']);
      assert.equal(meter.facts.stopReason, 'tool_calls');
    }
  });

  it('any split of the bytes meters and forwards the same as one piece (CRLF, CR and LF line ends)', () => {
    let seed = 7;
    const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (const surface of ['chat-completions', 'messages'] as const) {
      const codec = surface === 'messages' ? codecs.anthropic : codecs.openai;
      const events = streamEvents(surface, { ...answer, text: 'Unicode ✓ — “quotes” and a longer answer to split' }, true);
      for (const lineEnd of ['\n', '\r\n', '\r']) {
        const bytes = Buffer.from(events.join('').replace(/\n/g, lineEnd));
        for (const drop of [false, true]) {
          const whole = new StreamMeter(codec, surface, drop);
          const wholeOut = Buffer.concat([whole.push(bytes) ?? Buffer.alloc(0), whole.end() ?? Buffer.alloc(0)]).toString();
          for (let round = 0; round < 40; round++) {
            const meter = new StreamMeter(codec, surface, drop);
            const out: Buffer[] = [];
            for (let i = 0; i < bytes.length;) {
              const size = 1 + random(round % 2 === 0 ? 4 : 40);
              const forwarded = meter.push(bytes.subarray(i, i + size));
              if (forwarded) out.push(forwarded);
              i += size;
            }
            const tail = meter.end();
            if (tail) out.push(tail);
            assert.deepEqual(meter.facts, whole.facts, `${surface} ${JSON.stringify(lineEnd)} round ${round}`);
            if (drop) assert.equal(Buffer.concat(out).toString(), wholeOut);
          }
        }
      }
    }
  });
});

describe('output collected from streams for estimates', () => {
  const data = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;
  const named = (event: string, v: unknown) => `event: ${event}\ndata: ${JSON.stringify(v)}\n\n`;

  it('OpenAI chat: tool-call arguments and reasoning_content count as well as content, compact or spaced', () => {
    const events = [
      data({ choices: [{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: 'Let me think. ' } }] }),
      data({ choices: [{ index: 0, delta: { content: 'Calling. ' } }] }),
      data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'w', arguments: '' } }] } }] }),
      data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] }),
      data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] } }] }),
      data({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
      'data: [DONE]\n\n',
    ];
    for (const shape of [events, events.map((e) => (e.startsWith('data: {') ? `data: ${spaced(JSON.parse(e.slice(6)))}\n\n` : e))]) {
      const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
      run(meter, shape);
      // Kept as the wire escapes it (quotes stay `\"` on the fast path): what counts is that it is there.
      assert.equal(meter.facts.text.replaceAll('\\"', '"'), 'Let me think. Calling. {"city":"Paris"}');
      assert.equal(meter.facts.textChars, meter.facts.text.length);
      assert.equal(meter.facts.stopReason, 'tool_calls');
    }
  });

  it('OpenAI chat: two choices finishing in one chunk record the first choice\'s reason', () => {
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    run(meter, [data({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }, { index: 1, delta: {}, finish_reason: 'length' }] }), 'data: [DONE]\n\n']);
    assert.equal(meter.facts.stopReason, 'stop');
  });

  it('Responses: function-call arguments and reasoning deltas count', () => {
    const meter = new StreamMeter(codecs.openai, 'responses', false);
    run(meter, [
      named('response.reasoning_summary_text.delta', { type: 'response.reasoning_summary_text.delta', delta: 'plan ' }),
      named('response.function_call_arguments.delta', { type: 'response.function_call_arguments.delta', delta: '{"a":1}' }),
      named('response.output_text.delta', { type: 'response.output_text.delta', delta: ' ok' }),
    ]);
    assert.equal(meter.facts.text.replaceAll('\\"', '"'), 'plan {"a":1} ok');
  });

  it('Anthropic: thinking and tool-input deltas count; signatures do not', () => {
    const delta = (d: unknown) => named('content_block_delta', { type: 'content_block_delta', index: 0, delta: d });
    const meter = new StreamMeter(codecs.anthropic, 'messages', false);
    run(meter, [
      delta({ type: 'thinking_delta', thinking: 'Hmm. ' }),
      delta({ type: 'signature_delta', signature: 'EqQBCgIYAhIM' }),
      delta({ type: 'text_delta', text: 'Sure. ' }),
      delta({ type: 'input_json_delta', partial_json: '{"q": "x"}' }),
    ]);
    assert.equal(meter.facts.text, 'Hmm. Sure. {\\"q\\": \\"x\\"}');
  });

  it('past the kept text, the characters seen are still counted', () => {
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false);
    const piece = 'word '.repeat(4000);
    run(meter, Array.from({ length: 10 }, () => data({ choices: [{ index: 0, delta: { content: piece } }] })), 4096);
    assert.ok(meter.facts.text.length < meter.facts.textChars);
    assert.equal(meter.facts.textChars, 10 * piece.length);
  });

  it('an event that never ends is not held past the limit: the meter gives up on the stream instead of filling memory', () => {
    // A tenant's custom provider can send one `data:` line for as long as the stream may last.
    const limit = 256 * 1024;
    const meter = new StreamMeter(codecs.openai, 'chat-completions', false, undefined, limit);
    const piece = Buffer.from('x'.repeat(16 * 1024));
    meter.push(Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: {"id":"'));
    let forwarded = 0;
    for (let i = 0; i < 64; i++) forwarded += meter.push(piece)?.length ?? 0;
    assert.equal(meter.overflowed, true);
    assert.ok(forwarded <= limit + piece.length, 'nothing is forwarded once the limit is passed');
    assert.equal(meter.facts.text, 'hi', 'events before the oversized one were metered');
    assert.equal(meter.end(), undefined);
    // An event just within the limit is metered as usual.
    const within = new StreamMeter(codecs.openai, 'chat-completions', false, undefined, limit);
    const big = 'y'.repeat(limit - 100);
    run(within, [`data: {"choices":[{"index":0,"delta":{"content":"${big}"}}]}\n\n`, 'data: [DONE]\n\n'], 8 * 1024);
    assert.equal(within.overflowed, false);
    assert.equal(within.facts.textChars, big.length);
  });
});
