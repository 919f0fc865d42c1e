import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GenerateContentResponse, type Candidate } from '@google/genai';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { geminiStreamViaChat, geminiViaChat } from './gemini-via-chat.ts';
import { translatorFor, untranslatable, untranslatableReason } from './index.ts';
import { Errors, TollgateError } from '../../domain/errors.ts';

const catalog = createCatalog({});
const scope = { accountId: 'acct_test', keep: false, includeUsage: false };
const plan = (model: string): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'gemini', surface: 'generate-content' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-9', model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish }] });

/** The GenerateContentResponse chunks a translated stream writes. */
function chunks(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith('\r\n\r\n'), 'each chunk ends as Google ends them');
  return text.split('\r\n\r\n').filter(Boolean).map((block) => {
    assert.ok(block.startsWith('data: '), block);
    return JSON.parse(block.slice('data: '.length)) as Record<string, unknown>;
  });
}

test('GPT models and Claude are reached from Gemini\'s API by translation: GPT over chat completions, Claude over its own Messages', () => {
  assert.equal(plan('gpt-4o').candidate.surface.surface, 'chat-completions');
  assert.equal(plan('claude-sonnet-4-6').candidate.surface.surface, 'messages');
  assert.equal(plan('gemini-2.5-flash').candidate.surface.surface, 'generate-content', 'a Gemini model is served natively');
});

test('contents, system instruction, media, calls and their responses go up as chat messages; calls without ids are paired in order', () => {
  const { body, removed } = geminiViaChat.request({
    systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }, { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } }] },
      { role: 'model', parts: [{ text: 'thinking…', thought: true }, { text: 'Let me look.' }, { functionCall: { name: 'weather', args: { city: 'Paris' } } }, { functionCall: { name: 'time', args: {} } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'time', response: { output: '12:00' } } }, { functionResponse: { name: 'weather', response: { sky: 'sunny' } } }] },
      { role: 'model', parts: [{ functionCall: { id: 'fc-7', name: 'weather', args: { city: 'Rome' } } }] },
      { role: 'user', parts: [{ functionResponse: { id: 'fc-7', name: 'weather', response: { sky: 'rain' } } }, { text: 'And tomorrow?' }] },
    ],
    safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
    generationConfig: { temperature: 0.2, topP: 0.9, topK: 40, maxOutputTokens: 1_000_000, stopSequences: ['END'], seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, candidateCount: 2 },
  }, plan('gpt-4o'));
  assert.deepEqual(body.messages, [
    { role: 'system', content: 'Be brief.\nAnswer in French.' },
    { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }, { type: 'file', file: { filename: 'document.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }] },
    { role: 'assistant', content: 'Let me look.', tool_calls: [
      { id: 'call_g1_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_g1_3', type: 'function', function: { name: 'time', arguments: '{}' } },
    ] },
    { role: 'tool', tool_call_id: 'call_g1_3', content: '12:00' },
    { role: 'tool', tool_call_id: 'call_g1_2', content: '{"sky":"sunny"}' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'fc-7', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] },
    { role: 'tool', tool_call_id: 'fc-7', content: '{"sky":"rain"}' },
    { role: 'user', content: 'And tomorrow?' },
  ]);
  assert.deepEqual(
    [body.model, body.max_tokens, body.temperature, body.top_p, body.stop, body.seed, body.presence_penalty, body.frequency_penalty, body.n, body.stream],
    ['gpt-4o', 16_384, 0.2, 0.9, ['END'], 7, 0.1, 0.2, 2, undefined],
  );
  assert.deepEqual(removed, ['safetySettings', 'generationConfig.topK']);
});

test('function declarations in Gemini\'s Schema become JSON Schema; Google\'s own tools are removed; the calling mode maps', () => {
  const tools = [{ functionDeclarations: [
    { name: 'weather', description: 'Weather in a city', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' }, days: { type: 'INTEGER', nullable: true }, tags: { type: 'ARRAY', items: { type: 'STRING' }, maxItems: '3' } }, required: ['city'], propertyOrdering: ['city', 'days'] } },
    { name: 'time', parametersJsonSchema: { type: 'object', properties: { zone: { type: 'string' } } } },
  ] }, { googleSearch: {} }];
  const auto = geminiViaChat.request({ contents: [], tools }, plan('gpt-4o'));
  assert.deepEqual(auto.body.tools, [
    { type: 'function', function: { name: 'weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: ['integer', 'null'] }, tags: { type: 'array', items: { type: 'string' }, maxItems: 3 } }, required: ['city'] } } },
    { type: 'function', function: { name: 'time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } },
  ]);
  assert.equal(auto.body.tool_choice, undefined);
  assert.deepEqual(auto.removed, ['tools']);
  const choice = (functionCallingConfig: Record<string, unknown>) => geminiViaChat.request({ contents: [], tools, toolConfig: { functionCallingConfig } }, plan('gpt-4o')).body;
  assert.equal(choice({ mode: 'ANY' }).tool_choice, 'required');
  assert.equal(choice({ mode: 'NONE' }).tool_choice, 'none');
  assert.equal(choice({ mode: 'AUTO' }).tool_choice, 'auto');
  const forced = choice({ mode: 'ANY', allowedFunctionNames: ['time'] });
  assert.deepEqual([forced.tool_choice, (forced.tools as unknown[]).length], [{ type: 'function', function: { name: 'time' } }, 1]);
  assert.deepEqual(geminiViaChat.request({ contents: [], toolConfig: { functionCallingConfig: { mode: 'ANY' } } }, plan('gpt-4o')).removed, ['toolConfig']);
});

test('JSON with a schema is chat\'s json_schema (strict when OpenAI\'s rules allow it); JSON alone is json_object; thinking is a reasoning effort only where the model takes one', () => {
  const strictSchema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
  const json = (config: Record<string, unknown>, model = 'gpt-4o') => geminiViaChat.request({ contents: [], generationConfig: config }, plan(model));
  assert.deepEqual(json({ responseMimeType: 'application/json', responseJsonSchema: strictSchema }).body.response_format, { type: 'json_schema', json_schema: { name: 'output', schema: strictSchema, strict: true } });
  assert.deepEqual(json({ responseMimeType: 'application/json', responseSchema: { type: 'OBJECT', properties: { a: { type: 'STRING' } } } }).body.response_format,
    { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: false } });
  assert.deepEqual(json({ responseMimeType: 'application/json' }).body.response_format, { type: 'json_object' });
  assert.deepEqual(json({ responseMimeType: 'text/x.enum', responseSchema: { type: 'STRING', enum: ['a'] } }).removed, ['generationConfig.responseMimeType', 'generationConfig.responseSchema']);
  assert.deepEqual(json({ responseMimeType: 'text/plain' }).removed, []);
  assert.equal(json({ thinkingConfig: { thinkingBudget: 20_000 } }, 'gpt-5.4').body.reasoning_effort, 'high');
  assert.equal(json({ thinkingConfig: { thinkingLevel: 'LOW', includeThoughts: true } }, 'gpt-5.4').body.reasoning_effort, 'low');
  assert.equal(json({ thinkingConfig: { thinkingBudget: -1 } }, 'gpt-5.4').body.reasoning_effort, 'medium');
  const plain = json({ thinkingConfig: { thinkingBudget: 1024 } });
  assert.deepEqual([plain.body.reasoning_effort, plain.removed], [undefined, ['generationConfig.thinkingConfig']]);
});

test('a thinking level Gemini lacks or a budget Google refuses is named removed, not read as some effort (nor as thinking for Claude)', () => {
  const sent = (thinkingConfig: Record<string, unknown>, model = 'gpt-5.4') => {
    const p = plan(model);
    const { body, removed } = translatorFor({ format: 'gemini', surface: 'generate-content' }, p.candidate.surface)!.request({ contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { thinkingConfig } }, p);
    return [body.reasoning_effort ?? (body.output_config as { effort?: string } | undefined)?.effort, body.thinking !== undefined, removed];
  };
  for (const odd of [{ thinkingLevel: 'EXTREME' }, { thinkingLevel: '' }, { thinkingLevel: 'xhigh' }, { thinkingLevel: 5 }, { thinkingBudget: -7 }, { thinkingBudget: 1.5 }, { thinkingBudget: 1e308 }]) {
    assert.deepEqual(sent(odd), [undefined, false, ['generationConfig.thinkingConfig']], JSON.stringify(odd));
    assert.deepEqual(sent(odd, 'claude-sonnet-4-6'), [undefined, false, ['generationConfig.thinkingConfig']], `${JSON.stringify(odd)} to Claude`);
  }
  // Google's own levels, in either case, and its unspecified level beside a budget, still map.
  assert.deepEqual([sent({ thinkingLevel: 'minimal' })[0], sent({ thinkingLevel: 'HIGH' })[0], sent({ thinking_level: 'MEDIUM' })[0], sent({ thinkingLevel: 'THINKING_LEVEL_UNSPECIFIED', thinkingBudget: 20_000 })[0]], ['low', 'high', 'medium', 'high']);
});

test('a thinking budget of 0 (Gemini\'s thinking off) buys no thinking from Claude; OpenAI\'s reasoning models get their least effort', () => {
  const off = { contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 0 } } };
  const claude = plan('claude-sonnet-4-5');
  const { body, removed } = translatorFor({ format: 'gemini', surface: 'generate-content' }, claude.candidate.surface)!.request(off, claude);
  assert.deepEqual([body.thinking, removed], [undefined, []]);
  assert.equal(geminiViaChat.request(off, plan('gpt-5.4')).body.reasoning_effort, 'low');
});

test('the stream surface asks for a chat stream and its usage chunk; several candidates are not streamed', () => {
  const { body, removed } = geminiStreamViaChat.request({ contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { candidateCount: 3 } }, plan('gpt-4o'));
  assert.deepEqual([body.stream, body.stream_options, body.n], [true, { include_usage: true }, undefined]);
  assert.deepEqual(body.messages, [{ role: 'user', content: 'hi' }]);
  assert.deepEqual(removed, ['generationConfig.candidateCount']);
});

test('a chat answer becomes a GenerateContentResponse the SDK reads: text, calls with their ids, finish reasons, usage with thoughts apart', () => {
  const answer = geminiViaChat.answer({
    id: 'chatcmpl-1', model: 'gpt-x',
    usage: { prompt_tokens: 10, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 3 } },
    choices: [
      { index: 0, finish_reason: 'tool_calls', message: { content: 'Checking.', tool_calls: [{ id: 'c1', function: { name: 'weather', arguments: '{"city":"Paris"}' } }, { id: '', function: { name: 'time', arguments: '{}' } }] } },
      { index: 1, finish_reason: 'length', message: { content: '' } },
      { index: 2, finish_reason: 'content_filter', message: { content: null, refusal: 'I cannot help.' } },
    ],
  }, scope) as Record<string, unknown>;
  const [first, second, third] = answer.candidates as Candidate[];
  // What the SDK's reader makes of the first candidate.
  const sdk = Object.assign(new GenerateContentResponse(), { ...answer, candidates: [first] });
  assert.deepEqual(sdk.functionCalls?.map((c) => [c.name, c.args]), [['weather', { city: 'Paris' }], ['time', {}]]);
  assert.equal(first!.content!.parts![1]!.functionCall!.id, 'c1');
  assert.match(first!.content!.parts![2]!.functionCall!.id!, /^call_/, 'a call the provider left without an id gets one');
  assert.deepEqual([first!.finishReason, second!.finishReason, third!.finishReason], ['STOP', 'MAX_TOKENS', 'SAFETY']);
  assert.deepEqual(second!.content, { role: 'model', parts: [{ text: '' }] }, 'never an empty parts list');
  assert.deepEqual(third!.content!.parts, [{ text: 'I cannot help.' }]);
  assert.deepEqual(answer.usageMetadata, { promptTokenCount: 10, candidatesTokenCount: 4, totalTokenCount: 17, thoughtsTokenCount: 3, cachedContentTokenCount: 4 });
  assert.deepEqual([answer.modelVersion, answer.responseId], ['gpt-x', 'chatcmpl-1']);
});

test('a provider refusal comes back as Google\'s error, its status kept', () => {
  assert.deepEqual(JSON.parse(geminiViaChat.error(400, '{"error":{"message":"bad schema","type":"invalid_request_error"}}')), { error: { code: 400, message: 'bad schema', status: 'INVALID_ARGUMENT' } });
  assert.deepEqual(JSON.parse(geminiViaChat.error(429, 'slow down')), { error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' } });
});

test('a stream: text one piece behind, calls whole in the final chunk with the finish reason and usage', () => {
  const t = geminiStreamViaChat.stream(scope);
  t.event('', chunk({ role: 'assistant', content: '' }));
  t.event('', chunk({ content: 'Check' }));
  assert.equal(t.take(), '', 'the first piece waits for the next');
  t.event('', chunk({ content: 'ing.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'weather', arguments: '{"city"' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'c2', function: { name: 'time', arguments: '{}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  t.event('', JSON.stringify({ id: 'chatcmpl-9', choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } }));
  t.event('', '[DONE]');
  const out = chunks(t.take() + t.finish());
  assert.deepEqual(out, [
    { candidates: [{ content: { role: 'model', parts: [{ text: 'Check' }] }, index: 0 }], modelVersion: 'gpt-x', responseId: 'chatcmpl-9' },
    { candidates: [{ content: { role: 'model', parts: [{ text: 'ing.' }, { functionCall: { id: 'c1', name: 'weather', args: { city: 'Paris' } } }, { functionCall: { id: 'c2', name: 'time', args: {} } }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 10 }, modelVersion: 'gpt-x', responseId: 'chatcmpl-9' },
  ]);
  assert.equal(t.finish(), '', 'closed once');
});

test('a stream cut at the limit ends MAX_TOKENS; one with no text still ends with content; a provider error chunk is Google\'s, with the status of its kind', () => {
  const cut = geminiStreamViaChat.stream(scope);
  cut.event('', chunk({ content: 'Once upon' }, 'length'));
  assert.equal((chunks(cut.finish())[0]!.candidates as { finishReason: string }[])[0]!.finishReason, 'MAX_TOKENS');
  const empty = geminiStreamViaChat.stream(scope);
  empty.event('', chunk({}, 'stop'));
  assert.deepEqual((chunks(empty.finish())[0]!.candidates as { content: unknown }[])[0]!.content, { role: 'model', parts: [{ text: '' }] });
  const status = (error: Record<string, unknown>) => {
    const t = geminiStreamViaChat.stream(scope);
    t.event('', chunk({ content: 'Hi' }));
    t.event('', JSON.stringify({ error }));
    t.event('', chunk({ content: 'never' }));
    const out = chunks(t.take() + t.finish());
    assert.deepEqual(out.map((c) => Object.keys(c)[0]), ['candidates', 'error'], 'the held text, then the error, then nothing');
    return out[1]!.error;
  };
  assert.deepEqual(status({ message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded' }), { code: 400, message: 'too long', status: 'INVALID_ARGUMENT' });
  assert.deepEqual(status({ message: 'slow down', code: 'rate_limit_exceeded' }), { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' });
  assert.deepEqual(status({ message: 'busy', code: 503 }), { code: 503, message: 'busy', status: 'UNAVAILABLE' });
  assert.deepEqual(status({ message: 'The server had an error', type: 'server_error' }), { code: 500, message: 'The server had an error', status: 'INTERNAL' });
});

test('what another model cannot read is never translated: Google\'s cached content, files by URI, inline audio or video', () => {
  const reason = (body: Record<string, unknown>) => untranslatableReason('generate-content', body, 'chat-completions');
  assert.match(reason({ cachedContent: 'cachedContents/abc', contents: [] }) ?? '', /cachedContent/);
  assert.match(reason({ contents: [{ parts: [{ fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/x', mimeType: 'image/png' } }] }] }) ?? '', /fileData/);
  // The refusal names the target the request was to reach: Claude's, on the way to Messages.
  assert.match(untranslatableReason('stream-generate-content', { contents: [{ parts: [{ inlineData: { mimeType: 'audio/wav', data: 'UklGR' } }] }] }, 'messages') ?? '', /audio.*Anthropic Messages cannot carry \(Claude takes no audio\)/);
  assert.match(untranslatableReason('stream-generate-content', { contents: [{ parts: [{ inlineData: { mimeType: 'video/mp4', data: 'AAAA' } }] }] }, 'messages') ?? '', /inline data Anthropic Messages cannot carry \(only images, PDFs and text files in UTF-8 or the charset their mimeType names/);
  assert.match(reason({ contents: [{ parts: [{ inlineData: { mimeType: 'video/mp4', data: 'AAAA' } }] }] }) ?? '', /inline data chat completions cannot carry \(only images, PDFs and WAV or MP3 audio/);
  assert.equal(reason({ contents: [{ parts: [{ text: 'x' }, { inlineData: { mimeType: 'image/jpeg', data: '/9j/' } }] }] }), undefined);
});

test('Claude through chat: a Gemini request goes up as Messages, and what Messages drops is named as the client sent it', () => {
  const claude = plan('claude-sonnet-4-6');
  const translator = translatorFor({ format: 'gemini', surface: 'generate-content' }, claude.candidate.surface)!;
  const { body, removed } = translator.request({
    systemInstruction: { parts: [{ text: 'Be brief.' }] }, contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
    generationConfig: { maxOutputTokens: 100, seed: 3, temperature: 0.5 },
  }, claude);
  assert.deepEqual([body.system, body.messages, body.max_tokens, body.temperature], ['Be brief.', [{ role: 'user', content: 'Hi' }], 100, 0.5]);
  assert.deepEqual(removed, ['generationConfig.seed']);
  const answer = translator.answer({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn', usage: { input_tokens: 5, output_tokens: 2 } }, scope) as { candidates: { content: unknown; finishReason: string }[] };
  assert.deepEqual([answer.candidates[0]!.content, answer.candidates[0]!.finishReason], [{ role: 'model', parts: [{ text: 'Hello' }] }, 'STOP']);
  assert.equal(translatorFor({ format: 'gemini', surface: 'stream-generate-content' }, claude.candidate.surface)!.request({ contents: [] }, claude).body.stream, true);
});

test('the output limit and candidate count under their proto names (as Google reads them, and the credit hold) are the ones sent', () => {
  const { body, removed } = geminiViaChat.request({ contents: [], generation_config: { max_output_tokens: 7, candidate_count: 2, stop_sequences: ['x'] } }, plan('gpt-4o'));
  assert.equal(body.max_tokens, 7);
  assert.equal(body.n, 2);
  assert.deepEqual(body.stop, ['x']);
  assert.deepEqual(removed, []);
});

test('a request in Google\'s REST spelling (proto names: system_instruction, inline_data, function_call…) goes up as its camelCase twin does; the client\'s data keeps its names', () => {
  // User data that must not be renamed: argument and response keys, schema property names, enum values.
  const args = { city_name: 'Paris', unit_system: 'metric' };
  const camel = {
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { sky_state: 'sunny' } } }] },
    ],
    tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city_name: { type: 'STRING', enum: ['Paris', 'new_york'] }, day_list: { type: 'ARRAY', items: { type: 'STRING' }, maxItems: '3' } }, required: ['city_name'], propertyOrdering: ['city_name'] } }] }],
    toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
    generationConfig: { temperature: 0.2, topP: 0.9, stopSequences: ['END'], responseMimeType: 'application/json', responseSchema: { type: 'OBJECT', properties: { sky_state: { type: 'STRING', nullable: true } } } },
  };
  const snake = {
    system_instruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }, { inline_data: { mime_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
      { role: 'model', parts: [{ function_call: { name: 'get_weather', args } }] },
      { role: 'user', parts: [{ function_response: { name: 'get_weather', response: { sky_state: 'sunny' } } }] },
    ],
    tools: [{ function_declarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city_name: { type: 'STRING', enum: ['Paris', 'new_york'] }, day_list: { type: 'ARRAY', items: { type: 'STRING' }, max_items: '3' } }, required: ['city_name'], property_ordering: ['city_name'] } }] }],
    tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: ['get_weather'] } },
    generation_config: { temperature: 0.2, top_p: 0.9, stop_sequences: ['END'], response_mime_type: 'application/json', response_schema: { type: 'OBJECT', properties: { sky_state: { type: 'STRING', nullable: true } } } },
  };
  const expected = geminiViaChat.request(camel, plan('gpt-4o'));
  const got = geminiViaChat.request(snake, plan('gpt-4o'));
  assert.deepEqual(got.body, expected.body);
  assert.deepEqual([got.removed, expected.removed], [[], []]);
  const messages = got.body.messages as Record<string, unknown>[];
  assert.deepEqual(messages[0], { role: 'system', content: 'Be brief.' });
  assert.deepEqual(messages[1], { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] });
  assert.equal((messages[2]!.tool_calls as { function: { arguments: string } }[])[0]!.function.arguments, JSON.stringify(args));
  assert.deepEqual(messages[3], { role: 'tool', tool_call_id: 'call_g1_0', content: '{"sky_state":"sunny"}' });
  assert.deepEqual(got.body.tools, [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city_name: { type: 'string', enum: ['Paris', 'new_york'] }, day_list: { type: 'array', items: { type: 'string' }, maxItems: 3 } }, required: ['city_name'] } } }]);
  assert.deepEqual([got.body.tool_choice, got.body.stop, got.body.top_p], [{ type: 'function', function: { name: 'get_weather' } }, ['END'], 0.9]);
  assert.deepEqual(got.body.response_format, { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object', properties: { sky_state: { type: ['string', 'null'] } } }, strict: false } });
  // What has no counterpart is named as the client wrote it; a model's refusal of a mapped field too.
  const other = geminiViaChat.request({ contents: [{ parts: [{ text: 'x' }] }], safety_settings: [], generation_config: { top_k: 3, thinking_config: { thinking_budget: 20_000 } } }, plan('o3'));
  assert.deepEqual(other.removed, ['safety_settings', 'generation_config.top_k']);
  assert.equal(other.body.reasoning_effort, 'high');
  assert.equal(other.clientFields!.temperature, 'generation_config.temperature');
  const claude = plan('claude-sonnet-4-6');
  assert.deepEqual(translatorFor({ format: 'gemini', surface: 'generate-content' }, claude.candidate.surface)!.request({ contents: [{ parts: [{ text: 'x' }] }], generation_config: { seed: 4 } }, claude).removed, ['generation_config.seed']);
  // Google reads a lone value for a repeated field as a list of one (its own REST sample sends `"contents": {"parts": {"text": …}}`).
  assert.deepEqual(geminiViaChat.request({ contents: { parts: { text: 'Hello there' } }, system_instruction: { parts: { text: 'You are a cat.' } } }, plan('gpt-4o')).body.messages, [{ role: 'system', content: 'You are a cat.' }, { role: 'user', content: 'Hello there' }]);
});

test('what only Google can read is refused under its proto name too (cached_content, file_data, inline audio)', () => {
  assert.match(untranslatableReason('generate-content', { contents: [], cached_content: 'cachedContents/abc' }, 'chat-completions')!, /cachedContent/);
  assert.match(untranslatableReason('generate-content', { contents: [{ parts: [{ file_data: { file_uri: 'gs://b/x.pdf' } }] }] }, 'chat-completions')!, /fileData/);
  assert.match(untranslatableReason('generate-content', { contents: [{ parts: [{ inline_data: { mime_type: 'audio/ogg', data: 'T2dnUw==' } }] }] }, 'chat-completions')!, /inline data chat completions/);
  assert.match(untranslatableReason('generate-content', { contents: [{ parts: [{ inline_data: { mime_type: 'audio/wav', data: 'UklGRg==' } }] }] }, 'messages')!, /audio.*Anthropic Messages cannot carry/);
});

test('function names Gemini allows and chat refuses ("." and ":") go up renamed, the same in tools, the forced choice and past calls; calls come back as the client named them, buffered and streamed', () => {
  const current = 'weather.service:get_current';
  const forecast = 'weather:service.get_current';
  const request = {
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [{ functionCall: { name: current, args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: current, response: { output: 'Sunny' } } }] },
    ],
    tools: [{ functionDeclarations: [{ name: current }, { name: forecast }, { name: 'plain_name' }] }],
    toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [forecast] } },
  };
  const { body, toolNames } = geminiViaChat.request(request, plan('gpt-4o'));
  const offered = (body.tools as { function: { name: string } }[]).map((t) => t.function.name);
  assert.equal(offered.length, 1, 'narrowed to the allowed function');
  const sentForecast = offered[0]!;
  assert.match(sentForecast, /^weather_service_get_current_[0-9a-f]{8}$/);
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: sentForecast } });
  const again = geminiViaChat.request({ ...request, toolConfig: undefined }, plan('gpt-4o')).body;
  const names = (again.tools as { function: { name: string } }[]).map((t) => t.function.name);
  assert.equal(names[2], 'plain_name', 'a name chat takes goes as it is');
  assert.notEqual(names[0], names[1], 'names differing only in a replaced character stay apart');
  assert.equal(names[1], sentForecast, 'the same name every turn');
  const messages = body.messages as { tool_calls?: { id: string; function: { name: string } }[]; tool_call_id?: string }[];
  assert.equal(messages[1]!.tool_calls![0]!.function.name, names[0], 'a past call goes up under its tool\'s name');
  assert.equal(messages[2]!.tool_call_id, messages[1]!.tool_calls![0]!.id, 'and is still answered');
  assert.deepEqual([toolNames?.get(names[0]!), toolNames?.get(sentForecast)], [current, forecast]);

  const answer = new GenerateContentResponse();
  Object.assign(answer, geminiViaChat.answer({ choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: sentForecast, arguments: '{}' } }] }, finish_reason: 'tool_calls' }] }, { ...scope, toolNames }));
  assert.deepEqual(answer.functionCalls?.map((c) => c.name), [forecast]);
  const t = geminiStreamViaChat.stream({ ...scope, toolNames });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: names[0], arguments: '{}' } }] }, 'tool_calls'));
  const calls = chunks(t.take() + t.finish()).flatMap((c) => ((c.candidates as Candidate[])[0]!.content!.parts ?? []).filter((p) => p.functionCall).map((p) => p.functionCall!.name));
  assert.deepEqual(calls, [current]);
});

test('Claude through chat: a renamed Gemini function reaches Messages under its chat name, and Claude\'s call comes back as the client named it', () => {
  const claude = plan('claude-sonnet-4-6');
  const translator = translatorFor({ format: 'gemini', surface: 'generate-content' }, claude.candidate.surface)!;
  const name = 'files.read:v2';
  const { body, toolNames } = translator.request({ contents: [{ role: 'user', parts: [{ text: 'Read it' }] }], tools: [{ functionDeclarations: [{ name }] }] }, claude);
  const sent = (body.tools as { name: string }[])[0]!.name;
  assert.match(sent, /^[a-zA-Z0-9_-]{1,64}$/);
  const answer = translator.answer({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: sent, input: {} }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 2 } }, { ...scope, toolNames }) as { candidates: { content: { parts: { functionCall?: { name: string } }[] } }[] };
  assert.deepEqual(answer.candidates[0]!.content.parts.map((p) => p.functionCall?.name), [name]);
  const streamed = translatorFor({ format: 'gemini', surface: 'stream-generate-content' }, claude.candidate.surface)!.stream({ ...scope, toolNames });
  for (const [event, data] of [
    ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], usage: { input_tokens: 5, output_tokens: 0 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: sent, input: {} } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } }],
    ['message_stop', { type: 'message_stop' }],
  ] as const) streamed.event(event, JSON.stringify(data));
  const calls = chunks(streamed.take() + streamed.finish()).flatMap((c) => ((c.candidates as Candidate[])[0]!.content!.parts ?? []).filter((p) => p.functionCall).map((p) => p.functionCall!.name));
  assert.deepEqual(calls, [name]);
});

test('Gemini\'s countTokens on Claude: the request (or the whole generateContentRequest) goes up as what Anthropic\'s count_tokens reads, its count comes back as totalTokens', () => {
  const claude: AttemptPlan = { candidate: resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'gemini', surface: 'count-tokens' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' };
  const counting = translatorFor({ format: 'gemini', surface: 'count-tokens' }, claude.candidate.surface)!;
  assert.equal(translatorFor({ format: 'anthropic', surface: 'count-tokens' }, claude.candidate.surface), undefined, 'Anthropic\'s own count is not translated');
  const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
  const { body } = counting.request({
    generate_content_request: {
      system_instruction: { parts: [{ text: 'Be brief.' }] }, contents: [{ role: 'user', parts: [{ text: 'Weather?' }] }],
      tools: [{ function_declarations: [weather] }], generation_config: { max_output_tokens: 10, temperature: 0.1, stop_sequences: ['END'] },
    },
  }, claude);
  assert.deepEqual(Object.keys(body).sort(), ['messages', 'model', 'system', 'tools']);
  assert.deepEqual([body.system, body.messages], ['Be brief.', [{ role: 'user', content: 'Weather?' }]]);
  assert.deepEqual(counting.request({ contents: [{ parts: [{ text: 'plain' }] }] }, claude).body.messages, [{ role: 'user', content: 'plain' }]);
  assert.deepEqual(counting.answer({ input_tokens: 37 }, scope), { totalTokens: 37 });
  const error = JSON.parse(counting.error(429, JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } })));
  assert.deepEqual([error.error.code, error.error.status], [429, 'RESOURCE_EXHAUSTED']);
  // What Claude cannot read is refused as for generateContent, inside a generateContentRequest too.
  assert.match(untranslatableReason('count-tokens', { generateContentRequest: { contents: [], cachedContent: 'cachedContents/x' } }, 'count-tokens') ?? '', /cachedContent/);
});

test('a call whose arguments are not a JSON object (cut at the output limit) is refused with ngrok\'s error, JSON and stream, never given to the SDK as empty args', () => {
  const answer = (args: string) => geminiViaChat.answer({ id: 'chatcmpl-1', model: 'gpt-x', choices: [{ index: 0, finish_reason: 'length', message: { content: null, tool_calls: [{ id: 'c1', function: { name: 'weather', arguments: args } }] } }] }, scope);
  for (const [args, reason] of [['{"city":"Par', 'valid JSON'], ['"Paris"', 'a JSON object']] as const) {
    assert.throws(() => answer(args), (e: unknown) => e instanceof TollgateError && e.spec === Errors.toolCallArgumentsInvalid && e.status === 502 && e.message === `The model wrote arguments for tool \`weather\` that aren't ${reason}. A model at its output token limit can stop inside the arguments.`, args);
  }
  const t = geminiStreamViaChat.stream(scope);
  t.event('', chunk({ content: 'Checking.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'weather', arguments: '{"city":"Par' } }] }, 'length'));
  // The text goes out; no call and no final chunk: the gateway's error chunk follows (respond.ts), which the SDK raises.
  assert.deepEqual(chunks(t.take() + t.finish()).map((c) => (c.candidates as Candidate[])[0]!.content!.parts), [[{ text: 'Checking.' }]]);
  assert.equal(t.failure?.()?.spec, Errors.toolCallArgumentsInvalid);
});

test('DeepSeek V4 (thinking unless switched off): a thinking budget of 0 is effort none, which becomes its switch turned off upstream (params.ts); a level or budget is its effort, not removed', () => {
  const config = (thinkingConfig: Record<string, unknown>) => ({ contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { thinkingConfig } });
  const off = geminiViaChat.request(config({ thinkingBudget: 0 }), plan('deepseek-v4-pro'));
  assert.deepEqual([off.body.reasoning_effort, off.removed], ['none', []]);
  const high = geminiViaChat.request(config({ thinkingLevel: 'HIGH' }), plan('deepseek-flash'));
  assert.deepEqual([high.body.reasoning_effort, high.removed], ['high', []]);
  // DeepSeek's older models name their mode: nothing to set there.
  assert.deepEqual(geminiViaChat.request(config({ thinkingBudget: 0 }), plan('deepseek-chat')).removed, ['generationConfig.thinkingConfig']);
});

test('a user\'s part with no data (none of text, inlineData, fileData, a function call or response) is the client\'s 400 naming it, not left out; a model turn\'s is the model\'s own', () => {
  const refusal = (body: Record<string, unknown>) => untranslatable('generate-content', body, 'chat-completions');
  assert.deepEqual(refusal({ contents: [{ role: 'user', parts: [{ text: 'Describe it.' }, { videoMetadata: { startOffset: '1s' } }] }] }),
    { error: 'invalidRequest', details: { reason: '"contents[0].parts[1]" holds no data: give one of "text", "inlineData", "fileData", "functionCall" or "functionResponse"' } });
  assert.match(String((refusal({ system_instruction: { parts: [{ inline_data: { data: 'iVBORw0K' } }] }, contents: [{ parts: [{ text: 'x' }] }] }) as { details?: Record<string, string> } | undefined)?.details?.reason), /^"system_instruction\.parts\[0\]\.inlineData" needs "data" \(base64\) and "mimeType"/);
  assert.equal(refusal({ contents: [{ role: 'user', parts: [{ text: 'Hi.' }] }, { role: 'model', parts: [{ text: 'Hello.' }, { thoughtSignature: 'c2ln' }] }, { role: 'user', parts: [{ text: 'Go on.' }] }] }), undefined);
});

test('a built-in tool\'s call and output (`toolCall`, `toolResponse`: Google Search beside function calling), passed back as Google asks, are data: not refused as parts holding none, and left out as Google\'s own, as its code execution is', () => {
  const body = { contents: [
    { role: 'user', parts: [{ text: 'Who won yesterday?' }] },
    { role: 'model', parts: [{ toolCall: { id: 'tc1', toolType: 'GOOGLE_SEARCH_WEB', args: { queries: ['match result'] } }, thoughtSignature: 'c2ln' }] },
    { role: 'user', parts: [{ toolResponse: { id: 'tc1', toolType: 'GOOGLE_SEARCH_WEB', response: { results: [] } } }] },
    { role: 'model', parts: [{ text: 'The home side.' }] },
    { role: 'user', parts: [{ text: 'By how much?' }] },
  ] };
  for (const target of ['chat-completions', 'messages'] as const) assert.equal(untranslatable('generate-content', body, target), undefined, target);
  assert.deepEqual(geminiViaChat.request(body, plan('gpt-4o')).body.messages, [
    { role: 'user', content: 'Who won yesterday?' },
    { role: 'assistant', content: 'The home side.' },
    { role: 'user', content: 'By how much?' },
  ]);
});

test('a Gemini image Claude cannot take (HEIC, HEIF: types Gemini reads) is refused on every way to Claude naming its type, in a turn or a function response; a chat model gets it; an SVG reaches Claude as its source', () => {
  const heic = { inlineData: { mimeType: 'image/heic', data: 'AAAA' } };
  for (const parts of [[{ text: 'What is it?' }, heic], [{ functionResponse: { name: 'snap', response: {}, parts: [heic] } }]]) {
    const body = { contents: [{ role: 'user', parts }] };
    for (const target of ['messages', 'invoke', 'converse'] as const) assert.match(untranslatableReason('generate-content', body, target) ?? '', /image of type "image\/heic", which Claude and Bedrock's Converse cannot take/, target);
    assert.equal(untranslatableReason('generate-content', body, 'chat-completions'), undefined);
  }
  assert.match(untranslatableReason('stream-generate-content', { contents: [{ parts: [{ inline_data: { mime_type: 'image/heif', data: 'AAAA' } }] }] }, 'messages') ?? '', /"image\/heif"/);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"/>';
  const body = { contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/svg+xml', data: Buffer.from(svg).toString('base64') } }] }] };
  assert.equal(untranslatableReason('generate-content', body, 'messages'), undefined);
  const claude = resolveCandidates({ model: 'claude-sonnet-4-5', models: undefined, format: 'gemini', surface: 'generate-content' }, catalog, snapshot())[0]!;
  const { body: sent } = translatorFor({ format: 'gemini', surface: 'generate-content' }, claude.surface)!.request(body, { candidate: claude, keySource: 'user', credential: 'k' });
  assert.deepEqual((sent.messages as { content: unknown }[])[0]!.content, [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: svg } }]);
});
