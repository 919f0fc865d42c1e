import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { GRAMMAR_LIMIT, isTranslatedResponseId, responsesViaChat } from './responses-via-chat.ts';
import { storedStateReason as untranslatableReason, withStoredItemsInline } from './stored-items.ts';
import { translatorFor, untranslatable, untranslatableReason as translationRefusal } from './index.ts';
import { TollgateError } from '../../domain/errors.ts';

const catalog = createCatalog({});
const scope = { accountId: 'acct_test', keep: true, includeUsage: false };
const plan = (model: string): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });

test('input items become chat messages: a turn\'s calls share one assistant message, their outputs become tool messages', () => {
  const { body, removed } = responsesViaChat.request({
    model: 'claude-sonnet-4-6', store: true, include: ['reasoning.encrypted_content'],
    input: [
      { role: 'user', content: 'Weather in Paris and Rome?' },
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking both.' }] },
      { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call', call_id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
      { type: 'function_call_output', call_id: 'c1', output: 'Sunny' },
      { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'Rain' }] },
    ],
    tools: [{ type: 'function', name: 'weather', parameters: { type: 'object' }, strict: true }, { type: 'web_search' }],
    tool_choice: { type: 'function', name: 'weather' },
    text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
    reasoning: { effort: 'high' },
  }, plan('claude-sonnet-4-6'));
  assert.deepEqual(body.messages, [
    { role: 'user', content: 'Weather in Paris and Rome?' },
    { role: 'assistant', content: 'Checking both.', tool_calls: [
      { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
      { id: 'c2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
    ] },
    { role: 'tool', tool_call_id: 'c1', content: 'Sunny' },
    { role: 'tool', tool_call_id: 'c2', content: 'Rain' },
  ]);
  assert.deepEqual(body.tools, [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' }, strict: true } }]);
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'weather' } });
  assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } });
  assert.deepEqual(removed, ['store', 'include', 'tools']);
  assert.equal(body.reasoning_effort, 'high', 'Claude thinks for it, through Messages');
  assert.equal(responsesViaChat.request({ model: 'gpt-5.4', input: 'x', reasoning: { effort: 'low' } }, plan('gpt-5.4')).body.reasoning_effort, 'low');
});

test('an answer cut at the length limit is an incomplete response, its last item incomplete; calls are function_call items', () => {
  const response = responsesViaChat.answer({
    id: 'chatcmpl-7', created: 1700000000, model: 'm', usage: { prompt_tokens: 12, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 2 } },
    choices: [{ finish_reason: 'length', message: { content: 'Partial', tool_calls: [{ id: 'c9', function: { name: 'f', arguments: '{}' } }] } }],
  }, scope) as Record<string, unknown>;
  assert.deepEqual([response.status, response.incomplete_details, response.created_at], ['incomplete', { reason: 'max_output_tokens' }, 1700000000]);
  // Ids of the gateway's own, unique per response (a client may refer back to an item by id).
  const base = /^resp_tg(\w{24})$/.exec(String(response.id))![1]!;
  assert.ok(isTranslatedResponseId(response.id) && !isTranslatedResponseId('resp_68af0c1e2b7c81909a5e4d2b3c1f0a9e0b8c7d6e5f4a3b2c'), 'told apart from OpenAI\'s own');
  assert.deepEqual(response.output, [
    { type: 'message', id: `msg_${base}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Partial', annotations: [] }] },
    // The item being written when the limit cut the answer (here the call) is incomplete, as OpenAI marks it.
    { type: 'function_call', id: `fc_${base}0`, call_id: 'c9', name: 'f', arguments: '{}', status: 'incomplete' },
  ]);
  // Referred back to by the same account (the Vercel AI SDK's `item_reference`), they are the assistant's turn again.
  const referring = { model: 'claude-sonnet-4-6', input: [{ type: 'item_reference', id: `msg_${base}` }, { type: 'item_reference', id: `fc_${base}0` }, { type: 'function_call_output', call_id: 'c9', output: 'done' }] };
  const next = responsesViaChat.request(withStoredItemsInline(referring, 'acct_test')!, plan('claude-sonnet-4-6'));
  assert.deepEqual(next.body.messages, [
    { role: 'assistant', content: 'Partial', tool_calls: [{ id: 'c9', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c9', content: 'done' },
  ]);
  assert.equal(withStoredItemsInline(referring, 'acct_other'), undefined, 'another account cannot read them');
  assert.deepEqual(response.usage, { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 17 });
  assert.deepEqual(JSON.parse(responsesViaChat.error(429, 'busy')), { error: { message: 'busy', type: 'rate_limit_error', param: null, code: null } });
});

test('a stream: numbered events, items opened and closed, and response.completed carrying the whole output', () => {
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-3', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ role: 'assistant', content: 'Hi' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{"a"' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  t.event('', JSON.stringify({ id: 'chatcmpl-3', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } }));
  t.event('', '[DONE]');
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  assert.deepEqual(events.map((e) => e.type), [
    'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
    'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
    'response.function_call_arguments.done', 'response.output_item.done', 'response.completed',
  ]);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  const done = events.at(-1)!.response as Record<string, unknown>;
  assert.deepEqual((done.output as Record<string, unknown>[]).map((item) => [item.type, item.status]), [['message', 'completed'], ['function_call', 'completed']]);
  assert.equal((done.output as Record<string, unknown>[])[1]!.arguments, '{"a":1}');
  assert.equal((done.usage as Record<string, unknown>).total_tokens, 7);
});

test('images a tool returned follow the run of tool outputs; state only OpenAI holds is named, and inlined for OpenAI', () => {
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-6', input: [
    { type: 'function_call', call_id: 'a', name: 'shot', arguments: '{}' },
    { type: 'function_call', call_id: 'b', name: 'shot', arguments: '{}' },
    { type: 'function_call_output', call_id: 'a', output: [{ type: 'input_text', text: 'one' }, { type: 'input_image', image_url: 'data:image/png;base64,AA' }] },
    { type: 'function_call_output', call_id: 'b', output: 'two' },
  ] }, plan('claude-sonnet-4-6'));
  assert.deepEqual((body.messages as { role: string }[]).map((m) => m.role), ['assistant', 'tool', 'tool', 'user']);
  assert.deepEqual((body.messages as { content: unknown }[])[3]!.content, [{ type: 'text', text: 'Output of tool call a:' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }]);

  assert.match(untranslatableReason({ conversation: 'conv_1', input: 'x' })!, /stored conversation/);
  assert.match(untranslatableReason({ prompt: { id: 'pmpt_1' }, input: 'x' })!, /stored prompt/);
  assert.match(untranslatableReason({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] })!, /file stored at OpenAI/);
  assert.equal(untranslatableReason({ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] }), undefined);

  const answered = responsesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: 'Earlier answer' } }] }, scope) as { output: { id: string }[] };
  const inline = withStoredItemsInline({ model: 'gpt-4o', input: [{ type: 'item_reference', id: answered.output[0]!.id }, { role: 'user', content: 'next' }] }, 'acct_test');
  assert.deepEqual(inline?.input, [{ role: 'assistant', content: 'Earlier answer' }, { role: 'user', content: 'next' }]);
  assert.equal(withStoredItemsInline({ model: 'gpt-4o', input: [{ type: 'item_reference', id: 'msg_openai' }] }, 'acct_test'), undefined, 'OpenAI\'s own references go as sent');
});

test('a refused answer is incomplete with reason content_filter (SDKs report a content filter, not a normal stop)', () => {
  const refused = responsesViaChat.answer({ id: 'c', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter' }] }, scope) as Record<string, unknown>;
  assert.deepEqual([refused.status, refused.incomplete_details], ['incomplete', { reason: 'content_filter' }]);
  const done = responsesViaChat.answer({ id: 'c', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }, scope) as Record<string, unknown>;
  assert.deepEqual([done.status, done.incomplete_details], ['completed', null]);
});

test('a chat refusal is a Responses refusal part, answered and streamed (refusal events), never output text', () => {
  const answered = responsesViaChat.answer({ id: 'c', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I can\'t help with that.' }, finish_reason: 'stop' }] }, scope) as { output: { content: unknown[] }[] };
  assert.deepEqual(answered.output[0]!.content, [{ type: 'refusal', refusal: 'I can\'t help with that.' }]);
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-r', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ role: 'assistant', content: null, refusal: 'I can\'t ' }));
  t.event('', chunk({ refusal: 'help with that.' }));
  t.event('', chunk({}, 'stop'));
  t.event('', '[DONE]');
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  assert.deepEqual(events.map((e) => e.type), [
    'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.refusal.delta',
    'response.refusal.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
  ]);
  assert.equal(events[5]!.refusal, 'I can\'t help with that.');
  const output = (events.at(-1)!.response as { output: { content: unknown[] }[] }).output;
  assert.deepEqual(output[0]!.content, [{ type: 'refusal', refusal: 'I can\'t help with that.' }]);
});

test('a file given by URL goes to Messages as a URL document, and is not sent to a chat-completions model (it cannot fetch it)', () => {
  const body = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Summarise' }, { type: 'input_file', file_url: 'https://example.com/a.pdf' }] }] };
  assert.match(translationRefusal('responses', body, 'chat-completions') ?? '', /file by URL \("input_file\.file_url"\).*"file_data"/);
  assert.equal(translationRefusal('responses', body, 'messages'), undefined);
  const claude = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!;
  const { body: up } = translatorFor({ format: 'openai', surface: 'responses' }, claude.surface)!.request(body, { candidate: claude, keySource: 'user', credential: 'k' });
  assert.deepEqual(up.messages, [{ role: 'user', content: [{ type: 'text', text: 'Summarise' }, { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }] }]);
  assert.equal(translationRefusal('responses', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.txt', file_data: 'data:text/plain;base64,aGk=' }] }] }, 'chat-completions'), undefined);
});

test('a streamed call without arguments (a chat server\'s "" for a tool taking none) is "{}": one delta, then done, as OpenAI streams it', () => {
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-9', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'now', arguments: '' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  assert.deepEqual(events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta), ['{}']);
  assert.equal(events.find((e) => e.type === 'response.function_call_arguments.done')?.arguments, '{}');
  const done = (events.at(-1)!.response as { output: Record<string, unknown>[] }).output;
  assert.deepEqual(done.map((item) => [item.name, item.arguments]), [['now', '{}']]);
});

test('a call named in a later chunk than its first (some chat servers) is added with its name', () => {
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-4', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { arguments: '' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { name: 'weather' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }, 'tool_calls'));
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item as Record<string, unknown>);
  assert.deepEqual(added.map((item) => [item.type, item.call_id, item.name]), [['function_call', 'c1', 'weather']]);
  const done = (events.at(-1)!.response as { output: Record<string, unknown>[] }).output;
  assert.deepEqual(done.map((item) => [item.name, item.arguments]), [['weather', '{}']]);
});

test('a custom tool and a function tool of one name (Codex\'s apply_patch twice) are refused as invalid, naming the name: translated, their calls could not be told apart', () => {
  const body = { model: 'local:m', input: 'patch it', tools: [{ type: 'custom', name: 'apply_patch' }, { type: 'function', name: 'apply_patch', parameters: { type: 'object' } }] };
  for (const target of ['chat-completions', 'messages'] as const) {
    const refusal = untranslatable('responses', body, target);
    assert.ok(typeof refusal === 'object' && refusal.error === 'invalidRequest', JSON.stringify(refusal));
    assert.equal(refusal.details.reason, '"tools" names "apply_patch" twice (a custom tool and a function tool): tool names must be unique.');
  }
  // Resolution answers the client's 400 in OpenAI's shape, before any model is called.
  assert.throws(() => resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'openai', surface: 'responses', untranslatable, body }, catalog, snapshot()), (e: unknown) => {
    assert.ok(e instanceof TollgateError);
    assert.deepEqual([e.status, e.code, e.spec.type], [400, 'ERR_NGROK_27228', 'invalid_request_error']);
    assert.match(e.message, /"apply_patch" twice/);
    return true;
  });
  // Distinct names, and hosted tools (named by their type), are as before.
  assert.equal(untranslatable('responses', { ...body, tools: [{ type: 'custom', name: 'apply_patch' }, { type: 'function', name: 'read' }, { type: 'web_search' }, { type: 'web_search' }] }, 'chat-completions'), undefined);
});

test('a call whose name comes after its first argument pieces is added with its name and kind: a custom tool\'s call is a custom_tool_call whatever order its pieces come in', () => {
  const tools = [{ type: 'custom', name: 'apply_patch' }, { type: 'function', name: 'weather', parameters: { type: 'object' } }];
  const t = responsesViaChat.stream({ ...scope, request: { model: 'm', input: 'x', tools } });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-6', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { arguments: '{"input":"*** Begin' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { name: 'apply_patch', arguments: ' Patch"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'c2', type: 'function', function: { arguments: '{"city":' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, function: { name: 'weather' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, function: { arguments: '"Paris"}' } }] }, 'tool_calls'));
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item as Record<string, unknown>);
  assert.deepEqual(added.map((item) => [item.type, item.call_id, item.name]), [['custom_tool_call', 'c1', 'apply_patch'], ['function_call', 'c2', 'weather']]);
  // The function's arguments stream whole, the pieces held before its name included; the custom call's input comes unwrapped.
  const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
  assert.equal(deltas, '{"city":"Paris"}');
  assert.deepEqual(events.filter((e) => e.type === 'response.custom_tool_call_input.done').map((e) => e.input), ['*** Begin Patch']);
  const done = (events.at(-1)!.response as { output: Record<string, unknown>[] }).output;
  assert.deepEqual(done.map((item) => [item.type, item.name, item.input ?? item.arguments]), [['custom_tool_call', 'apply_patch', '*** Begin Patch'], ['function_call', 'weather', '{"city":"Paris"}']]);
});

test('Codex\'s shell history (no chat counterpart) stays in the conversation as text, freeform calls are chat calls, and no output answers a call chat never saw', () => {
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input: [
    { type: 'message', role: 'user', content: 'fix it' },
    { type: 'local_shell_call', call_id: 'call_L1', status: 'completed', action: { type: 'exec', command: ['ls'] } },
    { type: 'function_call_output', call_id: 'call_L1', output: 'a.txt' },
    { type: 'custom_tool_call', call_id: 'call_P1', name: 'apply_patch', input: '*** Begin Patch\n*** End Patch' },
    { type: 'custom_tool_call_output', call_id: 'call_P1', output: 'Done!' },
    { type: 'function_call', call_id: 'call_F1', name: 'read', arguments: '{"path":"a.txt"}' },
    { type: 'function_call_output', call_id: 'call_F1', output: 'hello' },
    { type: 'message', role: 'user', content: 'now run tests' },
  ] }, plan('claude-sonnet-4-5'));
  assert.deepEqual(body.messages, [
    { role: 'user', content: 'fix it' },
    { role: 'assistant', content: '[Ran in the local shell (call call_L1):] ["ls"]' },
    { role: 'user', content: [{ type: 'text', text: 'Output of tool call call_L1:\na.txt' }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_P1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch\\n*** End Patch"}' } }] },
    { role: 'tool', tool_call_id: 'call_P1', content: 'Done!' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_F1', type: 'function', function: { name: 'read', arguments: '{"path":"a.txt"}' } }] },
    { role: 'tool', tool_call_id: 'call_F1', content: 'hello' },
    { role: 'user', content: 'now run tests' },
  ]);
});

test('a stream cut at the length limit mid-call: the call is incomplete (its arguments half a document), the text before it completed', () => {
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-5', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ role: 'assistant', content: 'Let me look.' }));
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'read', arguments: '{"path":"/very/lo' } }] }, 'length'));
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  const last = events.at(-1)!;
  assert.equal(last.type, 'response.incomplete');
  assert.deepEqual((last.response as { output: Record<string, unknown>[] }).output.map((item) => [item.type, item.status]), [['message', 'completed'], ['function_call', 'incomplete']]);
  const doneItems = events.filter((e) => e.type === 'response.output_item.done').map((e) => (e.item as Record<string, unknown>).status);
  assert.deepEqual(doneItems, ['completed', 'incomplete']);
});

test('a Codex turn mixing a freeform call and a function call: one assistant message with both calls, each output a tool message', () => {
  const patch = { type: 'custom_tool_call', call_id: 'call_P1', name: 'apply_patch', input: 'diff' };
  const read = { type: 'function_call', call_id: 'call_F1', name: 'read', arguments: '{}' };
  const patched = { type: 'custom_tool_call_output', call_id: 'call_P1', output: 'Done!' };
  const wasRead = { type: 'function_call_output', call_id: 'call_F1', output: 'hello' };
  const patchCall = { id: 'call_P1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"diff"}' } };
  const readCall = { id: 'call_F1', type: 'function', function: { name: 'read', arguments: '{}' } };
  const patchResult = { role: 'tool', tool_call_id: 'call_P1', content: 'Done!' };
  const readResult = { role: 'tool', tool_call_id: 'call_F1', content: 'hello' };
  const cases: [Record<string, unknown>[], unknown[]][] = [
    [[patch, read, patched, wasRead], [{ role: 'assistant', content: null, tool_calls: [patchCall, readCall] }, patchResult, readResult]],
    [[read, patch, wasRead, patched], [{ role: 'assistant', content: null, tool_calls: [readCall, patchCall] }, readResult, patchResult]],
  ];
  for (const [input, expected] of cases) {
    const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input: [{ type: 'message', role: 'user', content: 'go' }, ...input] }, plan('claude-sonnet-4-5'));
    assert.deepEqual(body.messages, [{ role: 'user', content: 'go' }, ...expected], JSON.stringify(input.map((i) => i.type)));
  }
});

const APPLY_PATCH = { type: 'custom', name: 'apply_patch', description: 'Edit files with a patch.', format: { type: 'grammar', syntax: 'lark', definition: 'start: begin_patch hunk+ end_patch' } };

test('Codex\'s custom (freeform) tools go to chat as functions of one `input` string, the grammar in the description; a forced one is forced', () => {
  const huge = { type: 'custom', name: 'sql', format: { type: 'grammar', syntax: 'regex', definition: 'x'.repeat(GRAMMAR_LIMIT + 500) } };
  const { body, removed } = responsesViaChat.request({
    model: 'claude-sonnet-4-6', input: 'patch it',
    tools: [APPLY_PATCH, { type: 'custom', name: 'note' }, huge, { type: 'function', name: 'read', parameters: { type: 'object' } }],
    tool_choice: { type: 'custom', name: 'apply_patch' },
  }, plan('claude-sonnet-4-6'));
  const oneString = (description: string) => ({ type: 'object', properties: { input: { type: 'string', description } }, required: ['input'] });
  const tools = body.tools as { function: { name: string; description?: string; parameters: { properties: { input: { description: string } } } } }[];
  const inputDescription = tools[0]!.function.parameters.properties.input.description;
  assert.deepEqual(tools.slice(0, 2), [
    { type: 'function', function: { name: 'apply_patch', description: 'Edit files with a patch.\n\nThe input must follow this lark grammar:\nstart: begin_patch hunk+ end_patch', parameters: oneString(inputDescription) } },
    { type: 'function', function: { name: 'note', parameters: oneString(inputDescription) } },
  ]);
  // A grammar longer than the limit is cut there, and says so.
  const cut = tools[2]!.function.description!;
  assert.ok(cut.includes('x'.repeat(GRAMMAR_LIMIT)) && !cut.includes('x'.repeat(GRAMMAR_LIMIT + 1)) && /cut at 4000 characters/.test(cut), cut.slice(-80));
  assert.deepEqual(tools[3], { type: 'function', function: { name: 'read', parameters: { type: 'object' } } });
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'apply_patch' } });
  assert.deepEqual(removed, [], 'no tool is left out');
});

test('a chat call of a custom tool is answered as a custom_tool_call with its input unwrapped, and referred back to it is the call again', () => {
  const request = { model: 'claude-sonnet-4-6', input: 'patch it', tools: [APPLY_PATCH, { type: 'function', name: 'read', parameters: { type: 'object' } }] };
  const response = responsesViaChat.answer({
    id: 'c', model: 'm', usage: { prompt_tokens: 10, completion_tokens: 4 },
    choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [
      { id: 'call_P', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch\\n*** End Patch"}' } },
      { id: 'call_R', type: 'function', function: { name: 'read', arguments: '{"path":"a"}' } },
      // A model that wrote the raw text instead of the object: the text is the input.
      { id: 'call_Q', type: 'function', function: { name: 'apply_patch', arguments: '*** Begin Patch' } },
    ] } }],
  }, { ...scope, request }) as { id: string; output: Record<string, unknown>[]; usage: Record<string, unknown> };
  const base = /^resp_tg(\w{24})$/.exec(response.id)![1]!;
  assert.deepEqual(response.output, [
    { type: 'custom_tool_call', id: `ctc_${base}0`, call_id: 'call_P', name: 'apply_patch', input: '*** Begin Patch\n*** End Patch', status: 'completed' },
    { type: 'function_call', id: `fc_${base}1`, call_id: 'call_R', name: 'read', arguments: '{"path":"a"}', status: 'completed' },
    { type: 'custom_tool_call', id: `ctc_${base}2`, call_id: 'call_Q', name: 'apply_patch', input: '*** Begin Patch', status: 'completed' },
  ]);
  assert.equal(response.usage.total_tokens, 14);
  // The next turn refers to the call (the Vercel AI SDK's item_reference) and answers it: a chat call and its tool message.
  const next = withStoredItemsInline({ ...request, input: [{ role: 'user', content: 'patch it' }, { type: 'item_reference', id: `ctc_${base}0` }, { type: 'custom_tool_call_output', call_id: 'call_P', output: 'Done!' }] }, 'acct_test')!;
  assert.deepEqual((next.input as unknown[])[1], { type: 'custom_tool_call', call_id: 'call_P', name: 'apply_patch', input: '*** Begin Patch\n*** End Patch' });
  assert.deepEqual(responsesViaChat.request(next, plan('claude-sonnet-4-6')).body.messages, [
    { role: 'user', content: 'patch it' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_P', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch\\n*** End Patch"}' } }] },
    { role: 'tool', tool_call_id: 'call_P', content: 'Done!' },
  ]);
});

test('a streamed call of a custom tool: added with no input, its whole input in one delta once the arguments are complete, then done', () => {
  const t = responsesViaChat.stream({ ...scope, request: { model: 'm', input: 'x', tools: [APPLY_PATCH, { type: 'function', name: 'read' }] } });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'chatcmpl-6', model: 'm', created: 5, choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ tool_calls: [{ index: 0, id: 'call_P', type: 'function', function: { name: 'apply_patch', arguments: '{"inp' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 0, function: { arguments: 'ut":"a\\nb"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: 'call_R', type: 'function', function: { name: 'read', arguments: '{}' } }] }, 'tool_calls'));
  t.event('', '[DONE]');
  const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as Record<string, unknown>);
  assert.deepEqual(events.map((e) => e.type), [
    'response.created', 'response.in_progress',
    'response.output_item.added', 'response.output_item.added', 'response.function_call_arguments.delta',
    'response.custom_tool_call_input.delta', 'response.custom_tool_call_input.done', 'response.output_item.done',
    'response.function_call_arguments.done', 'response.output_item.done', 'response.completed',
  ]);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
  const added = events[2]!.item as Record<string, unknown>;
  const id = String(added.id);
  assert.match(id, /^ctc_\w{25}$/);
  assert.deepEqual(added, { type: 'custom_tool_call', id, call_id: 'call_P', name: 'apply_patch', input: '', status: 'in_progress' });
  assert.deepEqual([events[5], events[6]], [
    { type: 'response.custom_tool_call_input.delta', sequence_number: 5, item_id: id, output_index: 0, delta: 'a\nb' },
    { type: 'response.custom_tool_call_input.done', sequence_number: 6, item_id: id, output_index: 0, input: 'a\nb' },
  ]);
  const called = { type: 'custom_tool_call', id, call_id: 'call_P', name: 'apply_patch', input: 'a\nb', status: 'completed' };
  assert.deepEqual(events[7]!.item, called);
  assert.deepEqual((events.at(-1)!.response as { output: Record<string, unknown>[] }).output.map((item) => item.type), ['custom_tool_call', 'function_call']);
  assert.deepEqual((events.at(-1)!.response as { output: unknown[] }).output[0], called);
});

test('a tool output of several text parts goes to chat as one string, parts on their own lines (chat servers refuse arrays there)', () => {
  const { body } = responsesViaChat.request({
    model: 'claude-sonnet-4-6',
    input: [
      { role: 'user', content: 'Run the tests.' },
      { type: 'function_call', call_id: 'c1', name: 'test', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: '3 passed' }, { type: 'input_text', text: '1 failed' }] },
      { type: 'function_call_output', call_id: 'gone', output: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
    ],
  }, plan('claude-sonnet-4-6'));
  const messages = body.messages as Record<string, unknown>[];
  assert.deepEqual(messages[2], { role: 'tool', tool_call_id: 'c1', content: '3 passed\n1 failed' });
  assert.deepEqual(messages[3], { role: 'user', content: [{ type: 'text', text: 'Output of tool call gone:\na\nb' }] });
});

test('the response object repeats the request\'s tools, tool choice and settings, as OpenAI\'s does', () => {
  const tools = [{ type: 'function', name: 'weather', parameters: { type: 'object' } }];
  const request = { model: 'claude-sonnet-4-6', input: 'hi', instructions: 'Be brief.', tools, tool_choice: 'required', parallel_tool_calls: false, temperature: 0.3, max_output_tokens: 500 };
  const answer = responsesViaChat.answer({ id: 'c', model: 'm', choices: [{ finish_reason: 'stop', message: { content: 'ok' } }] }, { ...scope, request }) as Record<string, unknown>;
  assert.deepEqual([answer.tools, answer.tool_choice, answer.parallel_tool_calls, answer.instructions, answer.temperature, answer.max_output_tokens, answer.top_p], [tools, 'required', false, 'Be brief.', 0.3, 500, null]);
  const t = responsesViaChat.stream({ ...scope, request });
  t.event('', JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }] }));
  const completed = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as { type: string; response?: Record<string, unknown> }).find((e) => e.type === 'response.completed')!;
  assert.deepEqual([completed.response!.tools, completed.response!.tool_choice], [tools, 'required']);
});

test('allowed_tools to a chat provider other than OpenAI (DeepSeek refuses the choice) narrows the tools and keeps the mode', () => {
  const ask = (model: string) => responsesViaChat.request({
    model, input: 'hi',
    tools: [{ type: 'function', name: 'city', parameters: { type: 'object' } }, { type: 'function', name: 'other', parameters: { type: 'object' } }],
    tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'other' }] },
  }, plan(model)).body;
  const deepseek = ask('deepseek-chat');
  assert.deepEqual([(deepseek.tools as { function: { name: string } }[]).map((t) => t.function.name), deepseek.tool_choice], [['other'], 'required']);
});

test('text: a JSON schema format maps to response_format; verbosity, which chat servers lack, is named as removed even beside it', () => {
  const schema = { type: 'json_schema', name: 'x', schema: { type: 'object' } };
  assert.deepEqual(responsesViaChat.request({ model: 'gemini-2.5-flash', input: 'x', text: { format: schema } }, plan('gemini-2.5-flash')).removed, []);
  const both = responsesViaChat.request({ model: 'gemini-2.5-flash', input: 'x', text: { format: schema, verbosity: 'low' } }, plan('gemini-2.5-flash'));
  assert.ok(both.body.response_format !== undefined);
  assert.deepEqual(both.removed, ['text']);
  assert.deepEqual(responsesViaChat.request({ model: 'gemini-2.5-flash', input: 'x', text: { format: { type: 'text' } } }, plan('gemini-2.5-flash')).removed, []);
});

test('an answer whose content is an array of parts (Mistral\'s reasoning models: thinking and text parts) keeps its text, buffered and streamed', () => {
  const done = responsesViaChat.answer({ id: 'c', model: 'magistral', choices: [{ index: 0, message: { role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }, { type: 'text', text: 'Paris.' }] }, finish_reason: 'stop' }] }, scope) as { output: { content: { text: string }[] }[] };
  assert.equal(done.output[0]?.content[0]?.text, 'Paris.');
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c', model: 'magistral', choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }] }));
  t.event('', chunk({ content: [{ type: 'text', text: 'Par' }] }));
  t.event('', chunk({ content: 'is.' }, 'stop'));
  t.event('', '[DONE]');
  const completed = t.take().split('\n\n').filter(Boolean).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as { type: string; response?: { output: { content: { text: string }[] }[] } }).find((e) => e.type === 'response.completed');
  assert.equal(completed?.response?.output[0]?.content[0]?.text, 'Paris.');
});

test('usage is what the meter bills, wherever a chat server puts it: Kimi\'s in its last choice, top-level cache hits, reasoning counted only in the total', () => {
  const usageOf = (response: unknown) => (response as { usage: Record<string, unknown> }).usage;
  // DeepSeek's cache hits at the top level; Gemini's thinking only in total_tokens (OpenAI counts it inside the output).
  assert.deepEqual(usageOf(responsesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: 'ok' } }], usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 150, prompt_cache_hit_tokens: 60 } }, scope)), {
    input_tokens: 100, input_tokens_details: { cached_tokens: 60 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 40 }, total_tokens: 150,
  });
  const t = responsesViaChat.stream(scope);
  t.event('', JSON.stringify({ id: 'c', model: 'kimi-k2.6', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }));
  t.event('', JSON.stringify({ id: 'c', model: 'kimi-k2.6', choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 19, completion_tokens: 13, total_tokens: 32, cached_tokens: 8 } }] }));
  t.event('', '[DONE]');
  const completed = t.take().split('\n\n').filter(Boolean).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as { type: string; response?: unknown }).find((e) => e.type === 'response.completed');
  assert.deepEqual(usageOf(completed?.response), {
    input_tokens: 19, input_tokens_details: { cached_tokens: 8 }, output_tokens: 13, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 32,
  });
});

test('calls a chat server gives empty ids (LM Studio, Gemini\'s OpenAI-compatible endpoint) get call ids of their own, distinct, buffered and streamed', () => {
  const answered = responsesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [
    { id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    { id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
  ] } }] }, scope) as { output: { call_id: string }[] };
  const buffered = answered.output.map((item) => item.call_id);
  assert.ok(buffered.every((id) => id !== '') && new Set(buffered).size === 2, `call ids ${JSON.stringify(buffered)}`);
  const t = responsesViaChat.stream(scope);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
  t.event('', chunk({ tool_calls: [{ index: 0, id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] }));
  t.event('', chunk({ tool_calls: [{ index: 1, id: '', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] }));
  t.event('', chunk({}, 'tool_calls'));
  t.event('', '[DONE]');
  const events = t.take().split('\n\n').filter(Boolean).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as { type: string; item?: { call_id: string }; response?: { output: { call_id: string }[] } });
  // The OpenAI SDK's stream reader refuses two calls with one call id ("duplicate output item identity").
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item!.call_id);
  assert.ok(added.every((id) => id !== '') && new Set(added).size === 2, `call ids ${JSON.stringify(added)}`);
  assert.deepEqual(events.find((e) => e.type === 'response.completed')!.response!.output.map((item) => item.call_id), added);
});

type StreamEvent = { type: string; delta?: string; item?: Record<string, unknown>; part?: Record<string, unknown>; response?: { output: Record<string, unknown>[] } };
/** A chat stream of these deltas (the last with `finish`), read as the client's Responses events. */
function streamed(deltas: Record<string, unknown>[], finish: string): StreamEvent[] {
  const t = responsesViaChat.stream(scope);
  deltas.forEach((delta, i) => t.event('', JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta, finish_reason: i === deltas.length - 1 ? finish : null }] })));
  t.event('', '[DONE]');
  return (t.take() + t.finish()).split('\n\n').filter(Boolean).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as StreamEvent);
}

test('streamed calls a server sends whole with neither index nor id are told apart: each named piece opens a call', () => {
  const events = streamed([
    { tool_calls: [{ type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { tool_calls: [{ type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] },
  ], 'tool_calls');
  const output = events.find((e) => e.type === 'response.completed')!.response!.output;
  assert.deepEqual(output.map((item) => [item.name, item.arguments]), [['weather', '{"city":"Paris"}'], ['weather', '{"city":"Rome"}']]);
  assert.equal(new Set(output.map((item) => item.call_id)).size, 2);
  // A call's later pieces (no name) still continue it.
  const pieces = streamed([
    { tool_calls: [{ function: { name: 'weather', arguments: '{"city":' } }] },
    { tool_calls: [{ function: { arguments: '"Paris"}' } }] },
  ], 'tool_calls');
  assert.deepEqual(pieces.find((e) => e.type === 'response.completed')!.response!.output.map((item) => item.arguments), ['{"city":"Paris"}']);
});

test('a chat answer repeating one call id for two calls gets a call id of its own for the later one, buffered and streamed', () => {
  const calls = [
    { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
  ];
  const answered = responsesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: calls } }] }, scope) as { output: { call_id: string; arguments: string }[] };
  assert.equal(answered.output[0]!.call_id, 'call_1', 'the provider\'s id is kept where it is unique');
  assert.notEqual(answered.output[1]!.call_id, 'call_1');
  assert.equal(answered.output[1]!.arguments, '{"city":"Rome"}');
  const events = streamed(calls.map((call, index) => ({ tool_calls: [{ index, ...call }] })), 'tool_calls');
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item!.call_id);
  assert.equal(added[0], 'call_1');
  assert.equal(new Set(added).size, 2, `call ids ${JSON.stringify(added)}`);
  assert.deepEqual(events.find((e) => e.type === 'response.completed')!.response!.output.map((item) => item.call_id), added);
});

test('an earlier refusal in the history stays in the conversation as the assistant\'s text, sent inline or referred back to', () => {
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-6', input: [
    { role: 'user', content: 'Do the bad thing.' },
    { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'I can\'t help with that.' }] },
    { role: 'user', content: 'Why not?' },
  ] }, plan('claude-sonnet-4-6'));
  assert.deepEqual(body.messages, [
    { role: 'user', content: 'Do the bad thing.' }, { role: 'assistant', content: 'I can\'t help with that.' }, { role: 'user', content: 'Why not?' },
  ]);
  const refused = responsesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: null, refusal: 'No.' } }] }, scope) as { output: { id: string }[] };
  const inline = withStoredItemsInline({ model: 'm', input: [{ type: 'item_reference', id: refused.output[0]!.id }, { role: 'user', content: 'Why not?' }] }, 'acct_test');
  assert.deepEqual(inline?.input, [{ role: 'assistant', content: 'No.' }, { role: 'user', content: 'Why not?' }]);
});

test('a streamed refusal followed by text is text, as in a buffered answer; a refusal alone is still a refusal part', () => {
  const events = streamed([{ role: 'assistant', content: null, refusal: 'I can\'t do that, ' }, { content: 'but here is something close.' }], 'stop');
  assert.deepEqual(events.filter((e) => e.type.startsWith('response.refusal')), [], 'no refusal events');
  assert.deepEqual(events.filter((e) => e.type === 'response.content_part.added').map((e) => e.part!.type), ['output_text']);
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'I can\'t do that, but here is something close.');
  assert.deepEqual(events.find((e) => e.type === 'response.completed')!.response!.output[0]!.content, [{ type: 'output_text', text: 'I can\'t do that, but here is something close.', annotations: [] }]);
  const alone = streamed([{ role: 'assistant', content: null, refusal: 'No.' }], 'stop');
  assert.deepEqual(alone.map((e) => e.type), [
    'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.refusal.delta',
    'response.refusal.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
  ]);
  assert.deepEqual(alone.at(-1)!.response!.output[0]!.content, [{ type: 'refusal', refusal: 'No.' }]);
});

test('fields a chat model refuses are named as the Responses client sent them (text, max_output_tokens, reasoning), through Messages too', () => {
  const { clientFields } = responsesViaChat.request({ model: 'm', input: 'x', max_output_tokens: 10, text: { format: { type: 'json_object' } }, reasoning: { effort: 'low' } }, plan('gpt-5.4'));
  assert.deepEqual([clientFields?.max_tokens, clientFields?.response_format, clientFields?.reasoning_effort], ['max_output_tokens', 'text', 'reasoning']);
  const claude = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'openai', surface: 'responses' }, catalog, snapshot())[0]!;
  const viaMessages = translatorFor({ format: 'openai', surface: 'responses' }, claude.surface)!.request({ model: 'claude-sonnet-4-6', input: 'x', max_output_tokens: 10, reasoning: { effort: 'low' } }, { candidate: claude, keySource: 'user', credential: 'k' });
  // Messages' `max_tokens` came from chat's `max_tokens`, from the client's `max_output_tokens`; `output_config` from `text`.
  assert.deepEqual([viaMessages.clientFields?.max_tokens, viaMessages.clientFields?.output_config, viaMessages.clientFields?.metadata], ['max_output_tokens', 'text', 'user']);
});

test('a mid-stream provider error keeps its code as Responses names it: the provider\'s own name, a numeric 429 as rate_limit_exceeded, else server_error', () => {
  const errorEvent = (error: Record<string, unknown>): Record<string, unknown> => {
    const t = responsesViaChat.stream(scope);
    t.event('', JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }));
    t.event('', JSON.stringify({ error }));
    const events = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((b) => JSON.parse(b.split('\n')[1]!.slice(6)) as Record<string, unknown>);
    assert.equal(events.at(-1)!.type, 'error');
    return events.at(-1)!;
  };
  // OpenRouter: the HTTP status as a number, its message beside it.
  assert.deepEqual([errorEvent({ code: 429, message: 'Rate limit exceeded' }).code, errorEvent({ code: 429, message: 'x' }).message], ['rate_limit_exceeded', 'x']);
  assert.equal(errorEvent({ code: '429', message: 'x' }).code, 'rate_limit_exceeded');
  assert.equal(errorEvent({ type: 'rate_limit_error', message: 'x' }).code, 'rate_limit_exceeded');
  assert.equal(errorEvent({ code: 'rate_limit_exceeded', type: 'requests', message: 'x' }).code, 'rate_limit_exceeded');
  assert.equal(errorEvent({ type: 'requests', message: 'Rate limit reached' }).code, 'rate_limit_exceeded');
  assert.equal(errorEvent({ code: 502, message: 'Bad gateway' }).code, 'server_error');
  assert.equal(errorEvent({ type: 'server_error', message: 'x' }).code, 'server_error');
  assert.equal(errorEvent({ code: 'context_length_exceeded', message: 'x' }).code, 'context_length_exceeded');
});

test('a tool name chat refuses (over 64 characters) goes up shortened in tools, tool choice and past calls; calls come back under the client\'s name, a custom tool\'s as a custom_tool_call', () => {
  const long = `mcp__weather_service_for_the_whole_planet__get_current_conditions_by_city_name`;
  const patch = `apply_patch_${'x'.repeat(60)}`;
  const { body, toolNames } = responsesViaChat.request({
    model: 'gpt-4o',
    input: [{ type: 'message', role: 'user', content: 'Weather?' }, { type: 'function_call', call_id: 'c0', name: long, arguments: '{}' }, { type: 'function_call_output', call_id: 'c0', output: 'Sunny' }],
    tools: [{ type: 'function', name: long, parameters: { type: 'object' } }, { type: 'custom', name: patch }, { type: 'function', name: 'short', parameters: { type: 'object' } }],
    tool_choice: { type: 'function', name: long },
  }, plan('gpt-4o'));
  const [sentLong, sentPatch, sentShort] = (body.tools as { function: { name: string } }[]).map((t) => t.function.name);
  assert.ok(sentLong!.length <= 64 && sentPatch!.length <= 64 && long.startsWith(sentLong!.slice(0, 55)));
  assert.equal(sentShort, 'short');
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: sentLong } });
  assert.equal((body.messages as { tool_calls?: { function: { name: string } }[] }[])[1]!.tool_calls![0]!.function.name, sentLong);
  const request = { tools: [{ type: 'function', name: long }, { type: 'custom', name: patch }] };
  const answer = responsesViaChat.answer({ id: 'chatcmpl-n', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [
    { id: 'c1', type: 'function', function: { name: sentLong, arguments: '{}' } }, { id: 'c2', type: 'function', function: { name: sentPatch, arguments: '{"input":"*** Begin Patch"}' } },
  ] }, finish_reason: 'tool_calls' }] }, { ...scope, keep: false, toolNames, request }) as { output: { type: string; name: string }[] };
  assert.deepEqual(answer.output.map((i) => [i.type, i.name]), [['function_call', long], ['custom_tool_call', patch]]);
  const t = responsesViaChat.stream({ ...scope, keep: false, toolNames, request });
  t.event('', JSON.stringify({ id: 'chatcmpl-n', model: 'm', created: 5, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c2', type: 'function', function: { name: sentPatch, arguments: '{"input":"x"}' } }] }, finish_reason: 'tool_calls' }] }));
  const done = (t.take() + t.finish()).split('\n\n').filter(Boolean).map((block) => JSON.parse(block.split('\n')[1]!.slice(6)) as { type: string; item?: { type: string; name: string } }).filter((e) => e.type === 'response.output_item.done');
  assert.deepEqual(done.map((e) => [e.item!.type, e.item!.name]), [['custom_tool_call', patch]]);
});

test('a Responses content part of a type the translation has no place for is refused on every way to a chat model or Claude, naming the part and the target; the parts it places pass', () => {
  const input = [{ role: 'user', content: [{ type: 'input_text', text: 'Watch.' }, { type: 'input_video', video_url: 'https://x/v.mp4' }] }];
  assert.match(translationRefusal('responses', { input }, 'chat-completions') ?? '', /"input_video", which chat completions cannot carry/);
  for (const target of ['messages', 'invoke', 'converse'] as const) assert.match(translationRefusal('responses', { input }, target) ?? '', /"input_video", which Anthropic Messages cannot carry/, target);
  const placed = [
    { role: 'user', content: [{ type: 'input_text', text: 'Read.' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0K' }, { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0x' }] },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }, { type: 'refusal', refusal: 'Not that.' }] },
  ];
  for (const target of ['chat-completions', 'messages'] as const) assert.equal(translationRefusal('responses', { input: placed }, target), undefined, target);
});

test('a local shell\'s output item (`local_shell_call_output`) stays in the conversation as the user\'s text', () => {
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input: [
    { type: 'message', role: 'user', content: 'list the files' },
    { type: 'local_shell_call', call_id: 'call_L1', status: 'completed', action: { type: 'exec', command: ['ls'] } },
    { type: 'local_shell_call_output', id: 'call_L1', output: 'a.txt' },
  ] }, plan('claude-sonnet-4-5'));
  assert.deepEqual((body.messages as unknown[]).slice(1), [
    { role: 'assistant', content: '[Ran in the local shell (call call_L1):] ["ls"]' },
    { role: 'user', content: [{ type: 'text', text: 'Output of the local shell (call call_L1):\na.txt' }] },
  ]);
});

test('a conversation begun on OpenAI with its shell, apply_patch and computer tools goes on elsewhere: their calls are the assistant\'s text, their outputs (the screenshot as an image) the user\'s, never refused; a screenshot stored at OpenAI is', () => {
  const png = 'data:image/png;base64,iVBORw0K';
  const input = [
    { type: 'message', role: 'user', content: 'fix the test' },
    { type: 'shell_call', call_id: 'call_S1', status: 'completed', action: { commands: ['npm test'], timeout_ms: 60000, max_output_length: null } },
    { type: 'shell_call_output', call_id: 'call_S1', output: [{ stdout: '1 failing', stderr: 'warn', outcome: { type: 'exit', exit_code: 1 } }] },
    { type: 'apply_patch_call', call_id: 'call_P1', status: 'completed', operation: { type: 'update_file', path: 'a.ts', diff: '-a\n+b' } },
    { type: 'apply_patch_call_output', call_id: 'call_P1', status: 'completed', output: 'Done' },
    { type: 'computer_call', id: 'cu_1', call_id: 'call_C1', status: 'completed', pending_safety_checks: [], action: { type: 'screenshot' } },
    { type: 'computer_call_output', call_id: 'call_C1', output: { type: 'computer_screenshot', image_url: png } },
    { type: 'message', role: 'user', content: 'did it pass?' },
  ];
  for (const target of ['chat-completions', 'messages'] as const) assert.equal(translationRefusal('responses', { input }, target), undefined, target);
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input }, plan('claude-sonnet-4-5'));
  assert.deepEqual((body.messages as unknown[]).slice(1), [
    { role: 'assistant', content: '[Ran in the shell (call call_S1):] ["npm test"]' },
    { role: 'user', content: [{ type: 'text', text: 'Output of the shell (call call_S1):\n1 failing\n[stderr]\nwarn\n[exit code 1]' }] },
    { role: 'assistant', content: '[Applied a patch (call call_P1):] {"type":"update_file","path":"a.ts","diff":"-a\\n+b"}' },
    { role: 'user', content: [{ type: 'text', text: 'Output of apply_patch (call call_P1): completed\nDone' }] },
    { role: 'assistant', content: '[Used the computer (call call_C1):] {"type":"screenshot"}' },
    { role: 'user', content: [{ type: 'text', text: 'Output of the computer (call call_C1):' }, { type: 'image_url', image_url: { url: png } }] },
    { role: 'user', content: 'did it pass?' },
  ]);
  const stored = [{ type: 'computer_call_output', call_id: 'call_C1', output: { type: 'computer_screenshot', file_id: 'file-1' } }];
  assert.match(translationRefusal('responses', { input: stored }, 'messages') ?? '', /file stored at OpenAI \("file_id"\)/);
});

test('a part given only by its file_id is a stored file whatever its other sources hold when unset (absent or null, as SDKs write them); a file_url beside the id carries the file', () => {
  const refused = (part: Record<string, unknown>) => untranslatableReason({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'Look.' }, part] }] });
  assert.match(refused({ type: 'input_image', image_url: null, file_id: 'file-1', detail: 'auto' }) ?? '', /file stored at OpenAI/);
  assert.match(refused({ type: 'input_file', file_data: null, file_url: null, file_id: 'file-1' }) ?? '', /file stored at OpenAI/);
  assert.match(untranslatableReason({ input: [{ type: 'computer_call_output', call_id: 'c', output: { type: 'computer_screenshot', image_url: null, file_id: 'file-1' } }] }) ?? '', /file stored at OpenAI/);
  const byUrl = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1', file_data: null, file_url: 'https://example.com/a.pdf' }] }] };
  assert.equal(refused(byUrl.input[0]!.content[0]!), undefined);
  assert.equal(translationRefusal('responses', byUrl, 'messages'), undefined);
  assert.match(translationRefusal('responses', byUrl, 'chat-completions') ?? '', /file by URL/);
  // An unset detail is not sent as null, which strict chat servers refuse.
  const { body } = responsesViaChat.request({ model: 'gpt-4o', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png', detail: null }] }] }, plan('gpt-4o'));
  assert.deepEqual((body.messages as { content: unknown }[])[0]!.content, [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }]);
});

test('a conversation begun on OpenAI with its hosted tools goes on elsewhere: web and file search, code, image generation, MCP, tool search and programs are the assistant\'s text, the generated image and the client\'s answers the user\'s; tools a search loaded are offered', () => {
  const png = 'iVBORw0KGgo';
  const input = [
    { role: 'user', content: 'Find the weather, chart it, then book.' },
    { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'paris weather' } },
    { type: 'file_search_call', id: 'fs_1', status: 'completed', queries: ['policy'], results: [{ filename: 'policy.md', text: 'Book refundable fares.' }] },
    { type: 'code_interpreter_call', id: 'ci_1', status: 'completed', container_id: 'cntr', code: 'print(21*2)', outputs: [{ type: 'logs', logs: '42' }] },
    { type: 'image_generation_call', id: 'ig_1', status: 'completed', revised_prompt: 'a sunny chart', result: png },
    { type: 'mcp_list_tools', id: 'ml_1', server_label: 'travel', tools: [{ name: 'book', input_schema: {} }] },
    { type: 'mcp_approval_request', id: 'mr_1', server_label: 'travel', name: 'book', arguments: '{"city":"Paris"}' },
    { type: 'mcp_approval_response', approval_request_id: 'mr_1', approve: true },
    { type: 'mcp_call', id: 'mc_1', server_label: 'travel', name: 'book', arguments: '{"city":"Paris"}', output: 'Booked.', approval_request_id: 'mr_1' },
    { type: 'tool_search_call', id: 'ts_1', call_id: 'call_T1', execution: 'client', arguments: { query: 'calendar' }, status: 'completed' },
    { type: 'tool_search_output', call_id: 'call_T1', execution: 'client', tools: [{ type: 'function', name: 'add_event', parameters: { type: 'object' } }, { type: 'web_search' }] },
    { type: 'function_call', call_id: 'call_F1', name: 'add_event', arguments: '{}' },
    { type: 'function_call_output', call_id: 'call_F1', output: 'Added.' },
    { type: 'program', id: 'pg_1', call_id: 'call_G1', code: 'await add_event()', fingerprint: 'f' },
    { type: 'program_output', id: 'po_1', call_id: 'call_G1', result: 'ok', status: 'completed' },
    { type: 'additional_tools', role: 'developer', tools: [{ type: 'function', name: 'notify', parameters: { type: 'object' } }] },
    { type: 'configuration_update', reasoning: { effort: 'low' } },
    { role: 'user', content: 'Done?' },
  ];
  for (const target of ['chat-completions', 'messages', 'converse'] as const) assert.equal(translationRefusal('responses', { input }, target), undefined, target);
  const { body, removed } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input, reasoning: { effort: 'high' } }, plan('claude-sonnet-4-5'));
  assert.deepEqual((body.messages as unknown[]).slice(1), [
    { role: 'assistant', content: [
      '[Searched the web (ws_1):] {"type":"search","query":"paris weather"}',
      '[Searched the files (fs_1):] ["policy"]\n[Results:] [{"filename":"policy.md","text":"Book refundable fares."}]',
      '[Ran code (ci_1):]\nprint(21*2)\n[Output:] 42',
      '[Generated an image (ig_1): a sunny chart]',
    ].join('\n') },
    { role: 'user', content: [{ type: 'text', text: 'Image generated (ig_1):' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
    { role: 'assistant', content: '[Listed the tools of the MCP server "travel":] book\n[Asked approval to call "book" on the MCP server "travel" (approval request mr_1):] {"city":"Paris"}' },
    { role: 'user', content: [{ type: 'text', text: '[Approved the MCP call (approval request mr_1)]' }] },
    { role: 'assistant', content: '[Called "book" on the MCP server "travel" (mc_1):] {"city":"Paris"}\n[Output:] Booked.\n[Searched the tools (call call_T1):] {"query":"calendar"}' },
    { role: 'user', content: [{ type: 'text', text: 'Output of the tool search (call call_T1): loaded add_event, web_search' }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_F1', type: 'function', function: { name: 'add_event', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'call_F1', content: 'Added.' },
    { role: 'assistant', content: '[Ran a program (call call_G1):]\nawait add_event()' },
    { role: 'user', content: [{ type: 'text', text: 'Output of the program (call call_G1):\nok' }] },
    { role: 'user', content: 'Done?' },
  ]);
  // The tools the search loaded and the item added are offered (the hosted one removed, and named); the last
  // configuration_update is the answer's effort.
  assert.deepEqual((body.tools as { function: { name: string } }[]).map((t) => t.function.name), ['add_event', 'notify']);
  assert.deepEqual([body.reasoning_effort, removed], ['low', ['tools']]);
  // A model taking no effort: the update is named as not held.
  assert.deepEqual(responsesViaChat.request({ model: 'gemini-2.5-flash', input: [{ role: 'user', content: 'x' }, { type: 'configuration_update', reasoning: { effort: 'low' } }] }, plan('gemini-2.5-flash')).removed, ['configuration_update']);
  // A call of a custom tool a search loaded is answered as a custom_tool_call.
  const request = { input: [{ type: 'tool_search_output', call_id: 'call_T1', tools: [{ type: 'custom', name: 'apply_patch' }] }] };
  const answered = responsesViaChat.answer({ choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ id: 'c9', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' } }] } }] }, { ...scope, keep: false, request }) as { output: Record<string, unknown>[] };
  assert.deepEqual([answered.output[0]!.type, answered.output[0]!.input], ['custom_tool_call', '*** Begin Patch']);
});

test('an input item only OpenAI can give meaning to, or of a type the translation does not know, is refused naming it on every way, never left out: a compaction, a compaction trigger, an approved MCP call not made yet', () => {
  const refusals: [Record<string, unknown>[], RegExp][] = [
    [[{ type: 'compaction', id: 'cmp_1', encrypted_content: 'gAAAA' }, { role: 'user', content: 'go on' }], /"compaction" item, the earlier conversation compacted and encrypted by OpenAI, which (chat completions|Anthropic Messages) cannot read/],
    [[{ role: 'user', content: 'hi' }, { type: 'compaction_trigger' }], /\("compaction_trigger"\), which OpenAI's Responses API alone does/],
    [[{ type: 'mcp_approval_request', id: 'mr_1', server_label: 's', name: 'book', arguments: '{}' }, { type: 'mcp_approval_response', approval_request_id: 'mr_1', approve: true }], /approves an MCP tool call \("mcp_approval_response" to "mr_1"\), which only OpenAI's hosted MCP tool makes/],
    [[{ role: 'user', content: 'hi' }, { type: 'hologram_call', id: 'h1' }], /input item of type "hologram_call", which (chat completions|Anthropic Messages) cannot carry/],
    [[{ role: 'user', content: 'hi' }, { type: 'constructor' }], /input item of type "constructor"/],
  ];
  for (const [input, reason] of refusals) {
    for (const target of ['chat-completions', 'messages', 'invoke', 'converse'] as const) assert.match(translationRefusal('responses', { input }, target) ?? '', reason, `${String(input.at(-1)!.type)} ${target}`);
  }
  // Declined, the call is not to be made: the model is told, as the client wrote it.
  const declined = [{ type: 'mcp_approval_request', id: 'mr_1', server_label: 's', name: 'book', arguments: '{}' }, { type: 'mcp_approval_response', approval_request_id: 'mr_1', approve: false, reason: 'too dear' }];
  assert.equal(translationRefusal('responses', { input: declined }, 'messages'), undefined);
  const { body } = responsesViaChat.request({ model: 'claude-sonnet-4-5', input: declined }, plan('claude-sonnet-4-5'));
  assert.deepEqual((body.messages as unknown[]).at(-1), { role: 'user', content: [{ type: 'text', text: '[Declined the MCP call (approval request mr_1): too dear]' }] });
  // An item reference is stored state (storedStateReason), not an unknown item.
  assert.match(translationRefusal('responses', { input: [{ id: 'msg_elsewhere' }] }, 'messages') ?? '', /stored item/);
});

test('a Responses image Claude cannot take (HEIC) is refused for Claude naming its type, in a message, a tool output or a screenshot; a chat model gets it; an SVG reaches Claude as its source', () => {
  const heic = 'data:image/heic;base64,AAAA';
  for (const item of [
    { role: 'user', content: [{ type: 'input_text', text: 'What is it?' }, { type: 'input_image', image_url: heic, detail: 'auto' }] },
    { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: heic }] },
    { type: 'computer_call_output', call_id: 'c', output: { type: 'computer_screenshot', image_url: heic } },
  ]) {
    for (const target of ['messages', 'invoke', 'converse'] as const) assert.match(translationRefusal('responses', { input: [item] }, target) ?? '', /image of type "image\/heic", which Claude and Bedrock's Converse cannot take/, `${String(item.type)} ${target}`);
    assert.equal(translationRefusal('responses', { input: [item] }, 'chat-completions'), undefined);
  }
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"/>';
  const input = [{ role: 'user', content: [{ type: 'input_image', image_url: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, detail: 'auto' }] }];
  assert.equal(translationRefusal('responses', { input }, 'messages'), undefined);
  const claude = plan('claude-sonnet-4-5');
  const { body } = translatorFor({ format: 'openai', surface: 'responses' }, claude.candidate.surface)!.request({ model: 'claude-sonnet-4-5', input }, claude);
  assert.deepEqual((body.messages as { content: unknown[] }[])[0]!.content, [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: svg } }]);
});

test('a chat answer\'s citations (url_citation annotations) reach the Responses client as its output text annotations, buffered and streamed (each once)', () => {
  const cite = { type: 'url_citation', url_citation: { start_index: 0, end_index: 5, title: 'Météo', url: 'https://meteo.example/paris' } };
  const flat = { type: 'url_citation', start_index: 0, end_index: 5, title: 'Météo', url: 'https://meteo.example/paris' };
  const answered = responsesViaChat.answer({ choices: [{ finish_reason: 'stop', message: { content: 'Sunny in Paris.', annotations: [cite] } }] }, { ...scope, keep: false }) as { output: { content: unknown[] }[] };
  assert.deepEqual(answered.output[0]!.content, [{ type: 'output_text', text: 'Sunny in Paris.', annotations: [flat] }]);
  const events = streamed([{ role: 'assistant', content: 'Sunny' }, { content: ' in Paris.', annotations: [cite] }, { annotations: [cite] }], 'stop');
  assert.deepEqual(events.filter((e) => e.type === 'response.output_text.annotation.added').map((e) => [(e as Record<string, unknown>).annotation_index, (e as Record<string, unknown>).annotation]), [[0, flat]]);
  assert.deepEqual(events.find((e) => e.type === 'response.content_part.done')!.part, { type: 'output_text', text: 'Sunny in Paris.', annotations: [flat] });
  assert.deepEqual(events.at(-1)!.response!.output[0]!.content, [{ type: 'output_text', text: 'Sunny in Paris.', annotations: [flat] }]);
});
