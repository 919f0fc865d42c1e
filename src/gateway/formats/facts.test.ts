// Usage read from an answer's text must equal what a full parse reads, for the shapes providers really send:
// compact and pretty-printed JSON, usage before or after the content, and content that mentions "usage".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openai } from './openai.ts';
import { anthropic } from './anthropic.ts';
import { gemini } from './gemini.ts';
import { answerIdOf, answerModelOf, firstStringOf, streamOpeningOf, objectAt, storedStopReason, topLevelValueStarts, type StreamFacts } from './types.ts';

const chat = {
  id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-mini',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'Here is JSON: {"usage": {"prompt_tokens": 999}} and a quote \\" done' }, finish_reason: 'length' },
    { index: 1, message: { role: 'assistant', content: 'second' }, finish_reason: 'stop' },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
};

const message = {
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5',
  usage: { input_tokens: 30, output_tokens: 11, cache_read_input_tokens: 5, cache_creation_input_tokens: 3 },
  content: [{ type: 'text', text: 'I said "usage": {"input_tokens": 1} on purpose' }],
  stop_reason: 'end_turn', stop_sequence: null,
};

test('OpenAI chat answers: the text reader equals the full parse, compact and pretty-printed', () => {
  for (const text of [JSON.stringify(chat), JSON.stringify(chat, null, 2)]) {
    assert.deepEqual(openai.factsFromText(text, 'chat-completions'), openai.factsFromJson(JSON.parse(text), 'chat-completions'));
  }
  const facts = openai.factsFromText(JSON.stringify(chat), 'chat-completions')!;
  assert.equal(facts.stopReason, 'length', 'the first choice decides, as in the full parse');
  assert.equal(facts.usage!.inputTokens, 12);
});

test('Anthropic messages: usage before the content is found, quoted look-alikes in the content are not', () => {
  for (const text of [JSON.stringify(message), JSON.stringify(message, null, 2)]) {
    assert.deepEqual(anthropic.factsFromText(text, 'messages'), anthropic.factsFromJson(JSON.parse(text), 'messages'));
  }
});

test('answers without usage, Responses answers and broken text fall back to the full parse (undefined)', () => {
  assert.equal(openai.factsFromText(JSON.stringify({ choices: [{ finish_reason: 'stop' }] }), 'chat-completions'), undefined);
  assert.equal(openai.factsFromText(JSON.stringify({ status: 'completed', usage: { input_tokens: 1, output_tokens: 1 } }), 'responses'), undefined);
  const usageOf = (text: string) => objectAt(text, topLevelValueStarts(text, ['usage'])[0]!);
  assert.equal(usageOf('{"usage": {"prompt_tokens": 3'), undefined);
  assert.equal(usageOf('{"usage": 5}'), undefined);
  assert.equal(firstStringOf('{"finish_reason": null}', 'finish_reason'), '');
  assert.deepEqual(usageOf('{"a":{"usage":{"x":1}},"usage":{"y":"}{"}}'), { y: '}{' });
  assert.equal(usageOf('{"a":{"usage":{"x":1}},"usage":null}'), undefined, 'a nested look-alike never stands in for the answer\'s own');
});

test('Anthropic tool calls whose input holds "usage" and "stop_reason" keys do not fool the text reader', () => {
  const toolUse = {
    id: 'msg_2', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5',
    usage: { input_tokens: 40, output_tokens: 9, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    stop_reason: 'tool_use', stop_sequence: null,
    content: [{ type: 'tool_use', id: 'toolu_1', name: 'record', input: { usage: { input_tokens: 1, output_tokens: 2 }, stop_reason: 'end_turn', list: [{ usage: {} }] } }],
  };
  const { usage, stop_reason, content, ...head } = toolUse;
  const reordered = { ...head, content, stop_reason, usage }; // the order the API itself sends
  for (const text of [JSON.stringify(toolUse), JSON.stringify(toolUse, null, 2), JSON.stringify(reordered)]) {
    const facts = anthropic.factsFromText(text, 'messages');
    assert.deepEqual(facts, anthropic.factsFromJson(JSON.parse(text), 'messages'));
    assert.equal(facts!.usage!.inputTokens, 40);
    assert.equal(facts!.stopReason, 'tool_use');
  }
});

test('untrusted reported usage cannot overflow the store: counts capped at a billion, stop reasons printable', () => {
  const lie = { ...chat, usage: { prompt_tokens: 1e19, completion_tokens: 1e300, total_tokens: 2 } };
  const facts = openai.factsFromJson(lie, 'chat-completions');
  assert.equal(facts.usage?.inputTokens, 1_000_000_000);
  assert.equal(facts.usage?.outputTokens, 1_000_000_000);
  assert.equal(storedStopReason('st\u0000op'), 'stop');
  assert.equal(storedStopReason('end_turn'), 'end_turn');
  assert.equal(storedStopReason(`x${'é'.repeat(10)}${'y'.repeat(100)}`).length, 64);
});

test('output of answers without usage is collected for the estimate: text, tool-call arguments, reasoning, tool inputs', () => {
  const chatAnswer = { choices: [{ index: 0, message: { content: null, reasoning_content: 'think ', tool_calls: [{ function: { name: 'f', arguments: '{"city":"Paris"}' } }] } }, { index: 1, message: { content: [{ type: 'text', text: ' two' }], refusal: ' no' } }] };
  assert.equal(openai.answerText(chatAnswer, 'chat-completions'), 'think {"city":"Paris"} two no');
  assert.equal(openai.answerText({ choices: [{ text: 'legacy' }] }, 'completions'), 'legacy');
  const response = { output: [
    { type: 'reasoning', summary: [{ type: 'summary_text', text: 'plan ' }] },
    { type: 'function_call', name: 'f', arguments: '{"a":1}' },
    { type: 'message', content: [{ type: 'output_text', text: ' done' }, { type: 'refusal', refusal: ' nope' }] },
  ] };
  assert.equal(openai.answerText(response, 'responses'), 'plan {"a":1} done nope');
  const claude = { content: [{ type: 'thinking', thinking: 'hmm ', signature: 'sig' }, { type: 'text', text: 'call ' }, { type: 'tool_use', id: 't', name: 'f', input: { q: 'x' } }] };
  assert.equal(anthropic.answerText(claude, 'messages'), 'hmm call {"q":"x"}');
  assert.equal(openai.answerText({ data: [{ embedding: [0.1] }] }, 'embeddings'), '');
});

test('DeepSeek cache hits at the top level of its usage are cache reads', () => {
  const facts = openai.factsFromJson({ choices: [], usage: { prompt_tokens: 100_000, completion_tokens: 10, prompt_cache_hit_tokens: 90_000, prompt_cache_miss_tokens: 10_000 } }, 'chat-completions');
  assert.equal(facts.usage!.cacheReadTokens, 90_000);
  // The nested OpenAI field wins when both are there.
  const both = openai.factsFromJson({ usage: { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 40 }, prompt_cache_hit_tokens: 40 } }, 'chat-completions');
  assert.equal(both.usage!.cacheReadTokens, 40);
});

test('a stream of several choices keeps the first choice\'s stop reason, though another\'s finishing chunk holds a tool call numbered 0', () => {
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  const chunk = (choice: object) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [choice] });
  openai.onStreamEvent(stream, '', chunk({ index: 0, delta: {}, finish_reason: 'stop' }), 'chat-completions', false);
  openai.onStreamEvent(stream, '', chunk({ index: 1, delta: { tool_calls: [{ index: 0, function: { arguments: '}' } }] }, finish_reason: 'tool_calls' }), 'chat-completions', false);
  assert.equal(stream.stopReason, 'stop');
});

test('a legacy completions stream of several choices keeps choice 0\'s stop reason, though OpenAI writes `text` before `index` and another finishes first', () => {
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  const chunk = (index: number, finish: string) => JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, choices: [{ text: '', index, logprobs: null, finish_reason: finish }], model: 'gpt-3.5-turbo-instruct' });
  openai.onStreamEvent(stream, '', chunk(1, 'length'), 'completions', false);
  openai.onStreamEvent(stream, '', chunk(0, 'stop'), 'completions', false);
  openai.onStreamEvent(stream, '', chunk(2, 'length'), 'completions', false);
  assert.equal(stream.stopReason, 'stop');
  // A text that quotes the marker is escaped, and is not taken for choice 0.
  const quoted: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  openai.onStreamEvent(quoted, '', JSON.stringify({ choices: [{ text: 'x', index: 0, finish_reason: 'stop' }] }), 'completions', false);
  openai.onStreamEvent(quoted, '', JSON.stringify({ choices: [{ text: '"index":0,', index: 1, finish_reason: 'length' }] }), 'completions', false);
  assert.equal(quoted.stopReason, 'stop');
});

test('parallel tool calls whose arguments come in one chunk are all counted for the output estimate', () => {
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  const calls = [{ index: 0, function: { arguments: '{"city":"Paris"}' } }, { index: 1, function: { arguments: '{"city":"Oslo"}' } }];
  openai.onStreamEvent(stream, '', JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { tool_calls: calls }, finish_reason: null }] }), 'chat-completions', false);
  assert.equal(stream.textChars, '{"city":"Paris"}{"city":"Oslo"}'.length);
});

test('output in a chunk that also finishes its choice is counted for the estimate (Gemini\'s last words, relays marking every chunk "stop")', () => {
  const fresh = (): StreamFacts => ({ usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 });
  const chunk = (delta: Record<string, unknown>) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: 'stop' }], usage: null });
  // A one-api / new-api relay in front of Gemini: every chunk says "stop", and no usage comes.
  const pieces = ['Hello', ' world, ', 'the last words.'];
  for (const spaced of [false, true]) {
    const facts = fresh();
    for (const p of pieces) openai.onStreamEvent(facts, '', JSON.stringify(chunk({ content: p }), null, spaced ? 1 : undefined), 'chat-completions', false);
    assert.deepEqual([facts.text, facts.stopReason, facts.usage], [pieces.join(''), 'stop', undefined], spaced ? 'spaced' : 'compact');
  }
  // A whole tool call in its finishing chunk, and the legacy completions surface.
  const call = fresh();
  openai.onStreamEvent(call, '', JSON.stringify({ ...chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }), choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ARGS' } }] }, finish_reason: 'tool_calls' }] }), 'chat-completions', false);
  assert.deepEqual([call.text, call.stopReason], ['ARGS', 'tool_calls']);
  const legacy = fresh();
  openai.onStreamEvent(legacy, '', JSON.stringify({ id: 'c', object: 'text_completion', choices: [{ index: 0, text: 'tail', finish_reason: 'length' }] }), 'completions', false);
  assert.deepEqual([legacy.text, legacy.stopReason], ['tail', 'length']);
});

test('Moonshot (Kimi): cache hits as a top-level cached_tokens, and a stream\'s usage inside its last choice, are read', () => {
  const facts = openai.factsFromJson({ choices: [], usage: { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010, cached_tokens: 768 } }, 'chat-completions');
  assert.equal(facts.usage!.cacheReadTokens, 768);
  // The last chunk: finish reason and usage in its choice, no top-level usage. Read on the fast path and, spaced
  // as some servers write JSON, on the parsing one.
  const last = { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 19, completion_tokens: 13, total_tokens: 32, cached_tokens: 8 } }] };
  for (const data of [JSON.stringify(last), JSON.stringify(last, null, 1)]) {
    const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
    assert.equal(openai.onStreamEvent(stream, '', data, 'chat-completions', true), true, 'a chunk with a choice is kept');
    assert.deepEqual([stream.stopReason, stream.usage?.inputTokens, stream.usage?.outputTokens, stream.usage?.cacheReadTokens], ['stop', 19, 13, 8]);
  }
});

test('Anthropic hour-long cache writes and web searches are read, in JSON answers and merged across stream events', () => {
  const usage = { input_tokens: 100, output_tokens: 5, cache_creation_input_tokens: 10_000, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 10_000 }, server_tool_use: { web_search_requests: 3 } };
  const facts = anthropic.factsFromJson({ ...message, usage }, 'messages');
  assert.deepEqual([facts.usage!.cacheWriteTokens, facts.usage!.cacheWrite1hTokens, facts.usage!.webSearchRequests], [10_000, 10_000, 3]);
  // message_start brings the cache counts; message_delta's cumulative usage adds the searches and keeps them.
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  anthropic.onStreamEvent(stream, 'message_start', JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 100, output_tokens: 1, cache_creation_input_tokens: 500, cache_creation: { ephemeral_1h_input_tokens: 500 } } } }), 'messages', false);
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 40, server_tool_use: { web_search_requests: 2 } } }), 'messages', false);
  assert.deepEqual([stream.usage!.cacheWrite1hTokens, stream.usage!.webSearchRequests, stream.usage!.outputTokens], [500, 2, 40]);
  // Without them, the fields stay absent (no zero noise in the ordinary case).
  assert.equal('cacheWrite1hTokens' in anthropic.factsFromJson(message, 'messages').usage!, false);
});

test('OpenAI Responses web searches are counted from the answer\'s web_search_call items, in JSON and at response.completed', () => {
  const response = {
    id: 'resp_1', object: 'response', status: 'completed',
    output: [
      { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'a' } },
      { type: 'web_search_call', id: 'ws_2', status: 'failed' },
      { type: 'web_search_call', id: 'ws_3', status: 'completed', action: { type: 'search', query: 'b' } },
      { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'found' }] },
    ],
    usage: { input_tokens: 2000, output_tokens: 30, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
  };
  assert.equal(openai.factsFromJson(response, 'responses').usage!.webSearchRequests, 2, 'a failed call is not billed');
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  openai.onStreamEvent(stream, 'response.completed', JSON.stringify({ type: 'response.completed', sequence_number: 9, response }), 'responses', false);
  assert.deepEqual([stream.usage!.inputTokens, stream.usage!.webSearchRequests], [2000, 2]);
  const plain = openai.factsFromJson({ ...response, output: response.output.slice(3) }, 'responses');
  assert.equal('webSearchRequests' in plain.usage!, false);
  // Reasoning models open pages and find in them: no search, no charge.
  const browsing = { ...response, output: [...response.output, { type: 'web_search_call', id: 'ws_4', status: 'completed', action: { type: 'open_page', url: 'https://example.com' } }, { type: 'web_search_call', id: 'ws_5', status: 'completed', action: { type: 'find', pattern: 'x' } }] };
  assert.equal(openai.factsFromJson(browsing, 'responses').usage!.webSearchRequests, 2);
  // An answer without usage is estimated; the searches it shows still reach the meter.
  const noUsage = openai.factsFromJson({ ...response, usage: null }, 'responses');
  assert.deepEqual([noUsage.usage, noUsage.webSearches], [undefined, 2]);
});

test('searches are counted as they run in a stream, for streams that end before the usage that counts them', () => {
  const fresh = (): StreamFacts => ({ usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 });
  const oa = fresh();
  const itemDone = (item: unknown) => JSON.stringify({ type: 'response.output_item.done', sequence_number: 3, output_index: 0, item });
  openai.onStreamEvent(oa, 'response.output_item.done', itemDone({ type: 'web_search_call', id: 'ws_1', status: 'completed' }), 'responses', false);
  openai.onStreamEvent(oa, 'response.output_item.done', itemDone({ type: 'web_search_call', id: 'ws_2', status: 'failed' }), 'responses', false);
  openai.onStreamEvent(oa, 'response.output_item.done', itemDone({ type: 'message', id: 'm', content: [{ type: 'output_text', text: 'a "web_search_call" mention' }] }), 'responses', false);
  assert.equal(oa.webSearches, 1);
  assert.equal(oa.usage, undefined, 'cut before response.completed');
  const an = fresh();
  const blockStart = (block: unknown) => JSON.stringify({ type: 'content_block_start', index: 1, content_block: block });
  anthropic.onStreamEvent(an, 'content_block_start', blockStart({ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }), 'messages', false);
  anthropic.onStreamEvent(an, 'content_block_start', blockStart({ type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] }), 'messages', false);
  anthropic.onStreamEvent(an, 'content_block_start', blockStart({ type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_search', input: {} }), 'messages', false);
  anthropic.onStreamEvent(an, 'content_block_start', blockStart({ type: 'text', text: '' }), 'messages', false);
  assert.equal(an.webSearches, 2);
});

test('Anthropic message_delta counts given as null keep message_start\'s, as the SDK\'s stream accumulator does', () => {
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  anthropic.onStreamEvent(stream, 'message_start', JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 1200, cache_creation_input_tokens: 0, cache_read_input_tokens: 800, output_tokens: 1 } } }), 'messages', false);
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { input_tokens: null, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 42, server_tool_use: null } }), 'messages', false);
  const u = stream.usage!;
  assert.deepEqual([u.inputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.outputTokens], [2000, 800, 0, 42]);
});

test('Anthropic thinking tokens (output_tokens_details.thinking_tokens) are the reasoning tokens, in JSON and streams', () => {
  const usage = { input_tokens: 50, output_tokens: 900, output_tokens_details: { thinking_tokens: 850 } };
  assert.equal(anthropic.factsFromJson({ ...message, usage }, 'messages').usage!.reasoningTokens, 850);
  assert.equal(anthropic.factsFromText(JSON.stringify({ ...message, usage }), 'messages')!.usage!.reasoningTokens, 850);
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  anthropic.onStreamEvent(stream, 'message_start', JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 50, output_tokens: 1 } } }), 'messages', false);
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 900, output_tokens_details: { thinking_tokens: 850 } } }), 'messages', false);
  assert.deepEqual([stream.usage!.outputTokens, stream.usage!.reasoningTokens], [900, 850]);
  // A later delta without the details keeps the count.
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: {}, usage: { output_tokens: 900 } }), 'messages', false);
  assert.equal(stream.usage!.reasoningTokens, 850);
});

test('Anthropic compaction iterations, which the top-level counts leave out, are added to them (Anthropic bills every iteration)', () => {
  // The shape of Anthropic's compaction guide ("Understanding usage"): the summary read 180K and wrote 3.5K tokens.
  const usage = {
    input_tokens: 23_000, output_tokens: 1000, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500,
    cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 0 },
    iterations: [
      { type: 'compaction', input_tokens: 180_000, output_tokens: 3500, cache_read_input_tokens: 4000, cache_creation_input_tokens: 1000, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 1000 } },
      { type: 'message', input_tokens: 23_000, output_tokens: 1000, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500 },
    ],
  };
  const billed = [23_000 + 2000 + 500 + 180_000 + 4000 + 1000, 1000 + 3500, 2000 + 4000, 500 + 1000, 1000];
  const counts = (u: ReturnType<typeof anthropic.factsFromJson>['usage']) => [u!.inputTokens, u!.outputTokens, u!.cacheReadTokens, u!.cacheWriteTokens, u!.cacheWrite1hTokens];
  assert.deepEqual(counts(anthropic.factsFromJson({ ...message, usage }, 'messages').usage), billed);
  assert.deepEqual(counts(anthropic.factsFromText(JSON.stringify({ ...message, usage }), 'messages')!.usage), billed);
  // Paused after compaction (stop_reason "compaction"): the top level counts nothing, the compaction everything.
  const paused = { input_tokens: 0, output_tokens: 0, iterations: [{ type: 'compaction', input_tokens: 150_000, output_tokens: 2000, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }] };
  const p = anthropic.factsFromJson({ ...message, usage: paused, stop_reason: 'compaction' }, 'messages').usage!;
  assert.deepEqual([p.inputTokens, p.outputTokens], [150_000, 2000]);
  // A stream: message_delta's cumulative usage brings the iterations; a later delta restating the counts without
  // them keeps the compaction once, not twice.
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  anthropic.onStreamEvent(stream, 'message_start', JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 23_000, output_tokens: 1, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 0 } } } }), 'messages', false);
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1000, iterations: usage.iterations } }), 'messages', false);
  assert.deepEqual(counts(stream.usage), billed);
  anthropic.onStreamEvent(stream, 'message_delta', JSON.stringify({ type: 'message_delta', delta: {}, usage: { input_tokens: 23_000, output_tokens: 1000, iterations: null } }), 'messages', false);
  assert.deepEqual(counts(stream.usage), billed);
  // Iterations without a compaction (re-applying an earlier compaction block) change nothing.
  const plain = anthropic.factsFromJson({ ...message, usage: { ...message.usage, iterations: [{ type: 'message', input_tokens: 30, output_tokens: 11, cache_read_input_tokens: 5, cache_creation_input_tokens: 3 }] } }, 'messages').usage!;
  assert.deepEqual([plain.inputTokens, plain.outputTokens, plain.cacheReadTokens, plain.cacheWriteTokens], [38, 11, 5, 3]);
});

test('Anthropic advisor tool: the advisor\'s iterations and every executor iteration\'s input are billed, the advisor\'s at its own model', () => {
  // The example of Anthropic's advisor tool guide ("Usage and billing"): the top level counts the first executor
  // iteration's input and the executors' output only.
  const usage = {
    input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 531,
    iterations: [
      { type: 'message', input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 89 },
      { type: 'advisor_message', model: 'claude-fable-5-1', input_tokens: 823, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 1612 },
      { type: 'message', input_tokens: 1348, cache_read_input_tokens: 412, cache_creation_input_tokens: 0, output_tokens: 442 },
    ],
  };
  const u = anthropic.factsFromJson({ ...message, usage }, 'messages').usage!;
  assert.deepEqual([u.inputTokens, u.outputTokens, u.cacheReadTokens], [412 + 823 + 1348 + 412, 89 + 1612 + 442, 412]);
  assert.deepEqual(u.iterations!.map((i) => i.model), [undefined, 'claude-fable-5-1', undefined]);
});

test('OpenAI-style usage from relays writing both namings (the unused one zero) counts the one that counts', () => {
  const usage = { prompt_tokens: 686, completion_tokens: 123, total_tokens: 809, prompt_tokens_details: { cached_tokens: 679 }, input_tokens: 0, output_tokens: 0 };
  const u = openai.factsFromJson({ ...chat, usage }, 'chat-completions').usage!;
  assert.deepEqual([u.inputTokens, u.outputTokens, u.cacheReadTokens], [686, 123, 679]);
  const stream: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  openai.onStreamEvent(stream, '', JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage }), 'chat-completions', false);
  assert.deepEqual([stream.usage!.inputTokens, stream.usage!.outputTokens], [686, 123]);
  // The Responses naming alone, or with counts, is read as before.
  assert.equal(openai.factsFromJson({ ...chat, usage: { input_tokens: 5, output_tokens: 2, prompt_tokens: 0 } }, 'chat-completions').usage!.inputTokens, 5);
});

test('xAI reasoning tokens, reported beside completion_tokens (the total adds all three), are output tokens', () => {
  const xai = { prompt_tokens: 663, completion_tokens: 50, total_tokens: 837, completion_tokens_details: { reasoning_tokens: 124 } };
  const u = openai.factsFromJson({ ...chat, usage: xai }, 'chat-completions').usage!;
  assert.deepEqual([u.inputTokens, u.outputTokens, u.reasoningTokens], [663, 174, 124]);
  // OpenAI counts reasoning inside completion_tokens: unchanged.
  const o = openai.factsFromJson({ ...chat, usage: { prompt_tokens: 10, completion_tokens: 300, total_tokens: 310, completion_tokens_details: { reasoning_tokens: 256 } } }, 'chat-completions').usage!;
  assert.deepEqual([o.outputTokens, o.reasoningTokens], [300, 256]);
});

test('thinking counted only in total_tokens (Gemini\'s OpenAI-compatible API) is output, in JSON answers and streams', () => {
  // gemini-2.5-pro: 20 in, 151 visible out, 382 thinking only the total shows. Billing 151 would be 3.5× too low.
  const gemini = { prompt_tokens: 20, completion_tokens: 151, total_tokens: 553 };
  const u = openai.factsFromJson({ ...chat, usage: gemini }, 'chat-completions').usage!;
  assert.deepEqual([u.inputTokens, u.outputTokens, u.reasoningTokens], [20, 533, 382]);
  const facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  openai.onStreamEvent(facts, '', JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: gemini }), 'chat-completions', false);
  assert.deepEqual([facts.usage!.outputTokens, facts.usage!.reasoningTokens], [533, 382]);
  // The Responses naming, the same way.
  const r = openai.factsFromJson({ output: [], usage: { input_tokens: 20, output_tokens: 151, total_tokens: 553 } }, 'responses').usage!;
  assert.deepEqual([r.outputTokens, r.reasoningTokens], [533, 382]);
  // A total below the parts (a relay's rounding, a lie) takes nothing away.
  const low = openai.factsFromJson({ ...chat, usage: { prompt_tokens: 20, completion_tokens: 151, total_tokens: 100 } }, 'chat-completions').usage!;
  assert.deepEqual([low.outputTokens, low.reasoningTokens], [151, 0]);
});

test('the provider\'s answer id (gen_ai.response.id): the answer object\'s own, or that of a stream\'s first data event', () => {
  // A tool call's id ahead of the answer's own does not stand in for it, however the keys are ordered.
  assert.equal(answerIdOf('{"choices":[{"message":{"tool_calls":[{"id":"call_1","type":"function"}]}}],"id":"chatcmpl-2"}'), 'chatcmpl-2');
  assert.equal(answerIdOf(JSON.stringify({ id: 'msg_01', type: 'message' }, null, 2)), 'msg_01');
  assert.equal(answerIdOf('{"id":"a\\"b","object":"x"}'), 'a"b', 'an escaped id is read as the string it is');
  // Cut off, not a string, absent: no id rather than a wrong one.
  assert.equal(answerIdOf('{"id":"chatcmpl-trunc'), undefined);
  assert.equal(answerIdOf('{"id":42,"object":"x"}'), undefined);
  assert.equal(answerIdOf('{"object":"list","data":[{"id":"inner"}]}'), undefined);

  assert.equal(streamOpeningOf('data: {"id":"chatcmpl-3","object":"chat.completion.chunk","choices":[]}\n\n')?.id, 'chatcmpl-3');
  // Keys in alphabetical order (Gemini's OpenAI-compatible API): the tool call's id comes first in the text.
  assert.equal(streamOpeningOf('data: {"choices":[{"delta":{"tool_calls":[{"id":"function-call-1"}]}}],"id":"gemchunk-1"}\r\n\r\n')?.id, 'gemchunk-1');
  assert.equal(streamOpeningOf('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_04","type":"message"}}\n\n')?.id, 'msg_04');
  assert.equal(streamOpeningOf('event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_05","object":"response"}}\n\n')?.id, 'resp_05');
  // Keep-alive comments before the first event (OpenRouter's) are passed over.
  assert.equal(streamOpeningOf(': OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {"id":"gen-6","choices":[]}\n\n')?.id, 'gen-6');
  assert.equal(streamOpeningOf('data: {"id":"chatcmpl-trunc')?.id, undefined);
  assert.equal(streamOpeningOf('data: [DONE]\n\n')?.id, undefined);
  assert.equal(streamOpeningOf('')?.id, undefined);
});

test('Gemini\'s answer names itself in `responseId` and `modelVersion` (gen_ai.response.id and .model), as Google writes them, JSON or SSE', () => {
  const answer = JSON.stringify({ candidates: [{ content: { parts: [{ text: 'hi' }], role: 'model' }, finishReason: 'STOP' }], modelVersion: 'gemini-2.5-flash-preview-05-20', responseId: 'mKdFaN-0Bq' }, null, 2);
  assert.deepEqual([answerIdOf(answer), answerModelOf(answer)], ['mKdFaN-0Bq', 'gemini-2.5-flash-preview-05-20']);
  const chunk = 'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash","responseId": "rsp-7"}\r\n\r\n';
  assert.deepEqual(streamOpeningOf(chunk), { id: 'rsp-7', model: 'gemini-2.5-flash' });
});

test('the model an answer names (gen_ai.response.model): the answer object\'s own `model`, or that of a stream\'s first data event', () => {
  // OpenAI answers a request for `gpt-4o` with the snapshot that served it; a nested object's `model` is not it.
  assert.equal(answerModelOf('{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[]}'), 'gpt-4o-2024-08-06');
  assert.equal(answerModelOf('{"type":"message","content":[{"type":"text","model":"inner"}],"model":"claude-sonnet-4-5-20250929"}'), 'claude-sonnet-4-5-20250929');
  assert.equal(answerModelOf('{"object":"list","data":[{"model":"inner"}]}'), undefined);
  assert.equal(answerModelOf('{"model":"gpt-4o-trunc'), undefined);
  assert.deepEqual(streamOpeningOf('data: {"id":"chatcmpl-3","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[]}\n\n'), { id: 'chatcmpl-3', model: 'gpt-4o-2024-08-06' });
  assert.deepEqual(streamOpeningOf('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_04","model":"claude-sonnet-4-5-20250929"}}\n\n'), { id: 'msg_04', model: 'claude-sonnet-4-5-20250929' });
  assert.deepEqual(streamOpeningOf('event: response.created\ndata: {"type":"response.created","response":{"id":"resp_05","model":"gpt-5-2025-08-07"}}\n\n'), { id: 'resp_05', model: 'gpt-5-2025-08-07' });
  assert.deepEqual(streamOpeningOf('data: {"id":"gen-6","choices":[]}\n\n'), { id: 'gen-6' });
  assert.equal(streamOpeningOf('data: {"id":"chatcmpl-trunc'), undefined);
});

const geminiAnswer = {
  candidates: [{ content: { parts: [{ text: 'I said "usageMetadata": {"promptTokenCount": 999} on purpose' }], role: 'model' }, finishReason: 'MAX_TOKENS', index: 0 }],
  usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 6, thoughtsTokenCount: 4, cachedContentTokenCount: 8, toolUsePromptTokenCount: 3, totalTokenCount: 33 },
  modelVersion: 'gemini-2.5-flash', responseId: 'r1',
};

test('Gemini answers: usageMetadata read as billed (tool-use prompt is input, thoughts are output), from Google\'s pretty-printed JSON too', () => {
  for (const text of [JSON.stringify(geminiAnswer), JSON.stringify(geminiAnswer, null, 2)]) {
    assert.deepEqual(gemini.factsFromText(text, 'generate-content'), gemini.factsFromJson(JSON.parse(text), 'generate-content'));
  }
  assert.deepEqual(gemini.factsFromJson(geminiAnswer, 'generate-content'), {
    usage: { inputTokens: 23, outputTokens: 10, cacheReadTokens: 8, cacheWriteTokens: 0, reasoningTokens: 4 }, stopReason: 'MAX_TOKENS',
  });
});

test('Gemini streams: the last chunk carrying usageMetadata counts (its counts are cumulative), Google\'s spaced JSON included; an error chunk marks the stream failed', () => {
  const facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  const spaced = (v: unknown) => JSON.stringify(v).replace(/":/g, '": ');
  gemini.onStreamEvent(facts, '', spaced({ candidates: [{ content: { parts: [{ text: 'Hel' }], role: 'model' }, index: 0 }], usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 1 } }), 'stream-generate-content', false);
  assert.equal(facts.usage?.outputTokens, 1);
  gemini.onStreamEvent(facts, '', spaced({ candidates: [{ content: { parts: [{ text: 'lo' }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 6, thoughtsTokenCount: 4 } }), 'stream-generate-content', false);
  assert.deepEqual([facts.usage?.inputTokens, facts.usage?.outputTokens, facts.usage?.reasoningTokens, facts.stopReason, facts.text, facts.errored], [20, 10, 4, 'STOP', 'Hello', false]);
  gemini.onStreamEvent(facts, '', spaced({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }), 'stream-generate-content', false);
  assert.equal(facts.errored, true);
});

test('Gemini Interactions: usage from the interaction\'s `usage` (Google\'s total_* counts, thoughts billed as output), its status the stop reason; JSON, text and SSE alike', () => {
  const interaction = {
    id: 'v1_1', status: 'completed', model: 'gemini-2.5-flash',
    steps: [{ type: 'user_input', content: [{ type: 'text', text: 'not output' }] }, { type: 'thought', summary: [{ type: 'text', text: 'thinking' }] }, { type: 'model_output', content: [{ type: 'text', text: 'The "usage": {"total_input_tokens": 999} answer' }] }],
    usage: { total_input_tokens: 14, total_tool_use_tokens: 3, total_cached_tokens: 5, total_output_tokens: 7, total_thought_tokens: 2, total_tokens: 26 },
  };
  const expected = { usage: { inputTokens: 17, outputTokens: 9, cacheReadTokens: 5, cacheWriteTokens: 0, reasoningTokens: 2 }, stopReason: 'completed' };
  assert.deepEqual(gemini.factsFromJson(interaction, 'interactions'), expected);
  for (const text of [JSON.stringify(interaction), JSON.stringify(interaction, null, 2)]) assert.deepEqual(gemini.factsFromText(text, 'interactions'), expected);
  assert.equal(gemini.answerText(interaction, 'interactions'), 'thinkingThe "usage": {"total_input_tokens": 999} answer');

  assert.deepEqual([answerIdOf(JSON.stringify(interaction)), answerModelOf(JSON.stringify(interaction))], ['v1_1', 'gemini-2.5-flash']);
  const opening = 'event: interaction.created\ndata: {"interaction": {"id": "v1_1", "status": "in_progress", "model": "gemini-2.5-flash"}, "event_type": "interaction.created"}\n\n';
  assert.deepEqual(streamOpeningOf(opening), { id: 'v1_1', model: 'gemini-2.5-flash' });
  const facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  const events: [string, string][] = [
    ['interaction.created', '{"interaction": {"id": "v1_1", "status": "in_progress"}, "event_type": "interaction.created"}'],
    ['step.delta', '{"index": 0, "delta": {"type": "text", "text": "Hel"}, "event_type": "step.delta"}'],
    ['step.delta', '{"index": 0, "delta": {"type": "text", "text": "lo"}, "event_type": "step.delta"}'],
  ];
  for (const [event, data] of events) gemini.onStreamEvent(facts, event, data, 'interactions', false);
  assert.deepEqual([facts.text, facts.stopReason, facts.usage], ['Hello', '', undefined], 'in progress: no end yet');
  gemini.onStreamEvent(facts, 'interaction.completed', JSON.stringify({ interaction: { id: 'v1_1', status: 'completed', usage: interaction.usage }, event_type: 'interaction.completed' }), 'interactions', false);
  assert.deepEqual([facts.stopReason, facts.usage, facts.terminal], ['completed', expected.usage, false]);
  gemini.onStreamEvent(facts, '', '[DONE]', 'interactions', false);
  assert.equal(facts.terminal, true);
  const failed: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  gemini.onStreamEvent(failed, 'error', '{"error": {"code": "UNAVAILABLE", "message": "overloaded"}, "event_type": "error"}', 'interactions', false);
  assert.equal(failed.errored, true);
});
