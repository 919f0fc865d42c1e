import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { compilePolicy, type FirewallFinding } from '../../domain/firewall.ts';
import type { FirewallPolicyState } from '../../domain/firewall-policy.ts';
import { guardCharsSearched, screenJsonAnswer, streamGuard } from './tool-calls.ts';

const policies = [compilePolicy({ id: 'aigfwp_1', name: 'p', mode: 'enforce', onError: 'block', environment: [], rules: [{ name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] }] } satisfies FirewallPolicyState)];
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const events = (text: string) => text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string; tool_calls?: { index: number; id?: string; function: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[] });

/** Runs a stream through a guard, one piece at a time (pieces may split events anywhere). */
function guarded(surface: 'chat-completions' | 'messages', pieces: string[]): { out: string; noted: FirewallFinding[] } {
  return guardedWith(policies, surface, pieces);
}

function guardedWith(with_: typeof policies, surface: 'chat-completions' | 'messages' | 'responses' | 'interactions', pieces: string[]): { out: string; noted: FirewallFinding[] } {
  const noted: FirewallFinding[] = [];
  const guard = streamGuard(surface, with_, noted)!;
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

// Every kind of call a client runs is judged, whatever the shape its API gives it (gateway-behaviour.md "Firewall").
const guardPolicies = [compilePolicy({ id: 'aigfwp_2', name: 'p', mode: 'enforce', onError: 'block', environment: [], rules: [
  { name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] },
  { name: 'No push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'git push' },
  { name: 'No built-ins', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['local_shell', 'apply_patch', 'computer'] },
] } satisfies FirewallPolicyState)];
const screened = (surface: 'chat-completions' | 'responses', answer: unknown, noted: FirewallFinding[] = []) => JSON.parse(screenJsonAnswer(surface, Buffer.from(JSON.stringify(answer)), guardPolicies, noted).toString()) as Record<string, any>;
const chatAnswer = (message: Record<string, unknown>, finish: string) => ({ id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finish }] });

test('chat JSON: a custom tool\'s call and the legacy function_call are judged like function calls', () => {
  const custom = screened('chat-completions', chatAnswer({ tool_calls: [
    { id: 'c1', type: 'custom', custom: { name: 'run', input: 'git push --force origin main' } },
    { id: 'c2', type: 'custom', custom: { name: 'run', input: 'git status' } },
  ] }, 'tool_calls'));
  assert.deepEqual(custom.choices[0].message.tool_calls, [{ id: 'c2', type: 'custom', custom: { name: 'run', input: 'git status' } }]);
  assert.match(custom.choices[0].message.content, /rule "No push" \(hard block\) flagged the call to tool "run"/);
  const legacy = screened('chat-completions', chatAnswer({ function_call: { name: 'delete_file', arguments: '{"path":"/"}' } }, 'function_call'));
  assert.equal(legacy.choices[0].message.function_call, undefined);
  assert.equal(legacy.choices[0].finish_reason, 'stop');
  assert.match(legacy.choices[0].message.content, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
});

test('arguments built to dodge a pattern with JSON escapes (\\u0067it push) are read decoded by a block rule', () => {
  const noted: FirewallFinding[] = [];
  const answer = screened('chat-completions', chatAnswer({ tool_calls: [{ id: 'c1', type: 'function', function: { name: 'bash', arguments: '{"cmd":"\\u0067it\\u0020push origin"}' } }] }, 'tool_calls'), noted);
  assert.equal(answer.choices[0].message.tool_calls, undefined);
  assert.deepEqual(noted.map((f) => [f.rule, f.phase, f.blocked]), [['No push', 'response', true]]);
  // In a stream too: the escapes split across deltas.
  const { out } = guardedWith(guardPolicies, 'chat-completions', [
    chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'bash', arguments: '{"cmd":"\\u00' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '67it push"}' } }] }), chunk({}, 'tool_calls'), 'data: [DONE]\n\n',
  ]);
  assert.doesNotMatch(out, /"name":"bash"/);
  assert.match(out, /rule \\"No push\\"/);
});

test('Responses JSON: custom tool calls and the calls the agent runs itself (local shell, shell, apply_patch, computer) are judged; a hosted shell call is not', () => {
  const item = (type: string, fields: Record<string, unknown>) => ({ type, id: `${type}_1`, call_id: `call_${type}`, status: 'completed', ...fields });
  const answer = screened('responses', { id: 'resp_1', object: 'response', status: 'completed', output: [
    item('custom_tool_call', { name: 'exec', input: 'git push -f' }),
    item('local_shell_call', { action: { type: 'exec', command: ['rm', '-rf', '/'], env: {} } }),
    item('shell_call', { action: { commands: ['git push'] }, environment: { type: 'local' } }),
    item('shell_call', { action: { commands: ['git push'] }, environment: { type: 'container_reference', container_id: 'cntr_1' } }),
    item('apply_patch_call', { operation: { type: 'delete_file', path: 'README.md' } }),
    item('computer_call', { action: { type: 'click', x: 1, y: 2 }, pending_safety_checks: [] }),
    item('function_call', { name: 'read_file', arguments: '{}' }),
  ] });
  assert.deepEqual(answer.output.map((i: { type: string; id: string }) => `${i.type} ${i.id}`), [
    'message msg_fw_custom_tool_call_1', 'message msg_fw_local_shell_call_1', 'message msg_fw_shell_call_1', 'shell_call shell_call_1',
    'message msg_fw_apply_patch_call_1', 'message msg_fw_computer_call_1', 'function_call function_call_1',
  ]);
  const texts = answer.output.filter((i: { type: string }) => i.type === 'message').map((i: { content: { text: string }[] }) => i.content[0]!.text);
  assert.match(texts[0], /rule "No push" .* tool "exec"/);
  assert.match(texts[1], /rule "No built-ins" .* tool "local_shell"/);
  assert.match(texts[2], /rule "No push" .* tool "shell"/);
  assert.match(texts[3], /rule "No built-ins" .* tool "apply_patch"/);
  assert.match(texts[4], /rule "No built-ins" .* tool "computer"/);
});

test('chat stream: a custom tool\'s call is held and judged; a kept one goes out as a custom call', () => {
  const { out } = guardedWith(guardPolicies, 'chat-completions', [
    chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'c1', type: 'custom', custom: { name: 'run', input: 'git ' } }] }),
    chunk({ tool_calls: [{ index: 0, custom: { input: 'push' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'c2', type: 'custom', custom: { name: 'run', input: 'ls' } }] }),
    chunk({}, 'tool_calls'), 'data: [DONE]\n\n',
  ]);
  const sent = events(out) as unknown as { choices: { delta: { content?: string; tool_calls?: unknown[] } }[] }[];
  assert.deepEqual(sent.flatMap((e) => e.choices[0]!.delta.tool_calls ?? []), [{ index: 0, id: 'c2', type: 'custom', custom: { name: 'run', input: 'ls' } }]);
  assert.match(sent.map((e) => e.choices[0]!.delta.content ?? '').join(''), /rule "No push" \(hard block\) flagged the call to tool "run"/);
  assert.doesNotMatch(out, /"input":"push"/);
});

test('chat stream: the legacy function_call is held and judged; blocked, the choice ends as a turn does; kept, it goes out as it came', () => {
  const call = (name: string, args: string) => [
    chunk({ role: 'assistant', content: null, function_call: { name, arguments: '' } }),
    chunk({ function_call: { arguments: args.slice(0, 5) } }), chunk({ function_call: { arguments: args.slice(5) } }),
    chunk({}, 'function_call'), 'data: [DONE]\n\n',
  ];
  const blocked = guardedWith(guardPolicies, 'chat-completions', call('delete_file', '{"path":"/etc"}'));
  const sent = events(blocked.out) as unknown as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[] }[];
  assert.ok(!sent.some((e) => 'function_call' in e.choices[0]!.delta), blocked.out);
  assert.match(sent.map((e) => String(e.choices[0]!.delta.content ?? '')).join(''), /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
  assert.equal(sent.at(-1)!.choices[0]!.finish_reason, 'stop');
  const kept = guardedWith(guardPolicies, 'chat-completions', call('read_file', '{"path":"/etc"}'));
  const keptEvents = events(kept.out) as unknown as { choices: { delta: { function_call?: { name?: string; arguments?: string } }; finish_reason: string | null }[] }[];
  const pieces = keptEvents.map((e) => e.choices[0]!.delta.function_call ?? {});
  assert.deepEqual([pieces.map((f) => f.name ?? '').join(''), pieces.map((f) => f.arguments ?? '').join('')], ['read_file', '{"path":"/etc"}']);
  assert.equal(keptEvents.at(-1)!.choices[0]!.finish_reason, 'function_call');
});

test('Responses stream: a local shell call is held to its output_item.done and replaced by a message', () => {
  const ev = (type: string, seq: number, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...fields })}\n\n`;
  const call = { type: 'local_shell_call', id: 'lsh_1', call_id: 'call_1', action: { type: 'exec', command: ['rm', '-rf', '/'], env: {} }, status: 'completed' };
  const { out, noted } = guardedWith(guardPolicies, 'responses', [
    ev('response.created', 0, { response: { id: 'resp_1', output: [] } }),
    ev('response.output_item.added', 1, { output_index: 0, item: { ...call, status: 'in_progress' } }),
    ev('response.output_item.done', 2, { output_index: 0, item: call }),
    ev('response.completed', 3, { response: { id: 'resp_1', output: [call] } }),
  ]);
  assert.doesNotMatch(out, /local_shell_call/);
  assert.deepEqual(noted.map((f) => f.rule), ['No built-ins']);
  const last = JSON.parse(out.trim().split('\n').at(-1)!.slice(6)) as { sequence_number: number; response: { output: { type: string }[] } };
  assert.deepEqual(last.response.output.map((i) => i.type), ['message']);
  assert.equal(last.sequence_number, 7, 'two events of the call became six of a message');
});

/** What the official OpenAI SDK's stream helper makes of a guarded chat stream. */
async function sdkChat(out: string): Promise<OpenAI.ChatCompletion> {
  const client = new OpenAI({ apiKey: 'k', maxRetries: 0, fetch: async () => new Response(out, { headers: { 'content-type': 'text/event-stream' } }) });
  return client.chat.completions.stream({ model: 'm', messages: [] }).finalChatCompletion();
}

const choiceChunk = (index: number, delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index, delta, finish_reason: finish }] })}\n\n`;

test('chat stream with n > 1: choices\' calls come interleaved; each is judged whole and reaches the SDK whole', async () => {
  const { out, noted } = guardedWith(guardPolicies, 'chat-completions', [
    choiceChunk(0, { role: 'assistant', tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'bash', arguments: '{"cmd":"git pu' } }] }),
    choiceChunk(1, { role: 'assistant', tool_calls: [{ index: 0, id: 'b', type: 'function', function: { name: 'bash', arguments: '{"cmd":"git sta' } }] }),
    choiceChunk(0, { tool_calls: [{ index: 0, function: { arguments: 'sh origin"}' } }] }),
    choiceChunk(1, { tool_calls: [{ index: 0, function: { arguments: 'tus"}' } }] }),
    choiceChunk(0, {}, 'tool_calls'), choiceChunk(1, {}, 'tool_calls'), 'data: [DONE]\n\n',
  ]);
  assert.deepEqual(noted.map((f) => f.rule), ['No push'], 'the first choice\'s call judged with all its arguments');
  const done = await sdkChat(out);
  assert.equal(done.choices[0]!.message.tool_calls?.length ?? 0, 0);
  assert.match(done.choices[0]!.message.content!, /rule "No push" \(hard block\) flagged the call to tool "bash"/);
  assert.equal(done.choices[0]!.finish_reason, 'stop');
  assert.deepEqual(done.choices[1]!.message.tool_calls?.map((c) => [c.id, (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments]), [['b', '{"cmd":"git status"}']]);
  assert.equal(done.choices[1]!.finish_reason, 'tool_calls');
});

test('an allow rule does not clear a call whose arguments give a key twice: the agent reads the last value, not the one the pattern matched', async () => {
  const allowTmp = [compilePolicy({ id: 'aigfwp_3', name: 'p', mode: 'enforce', onError: 'block', environment: [], rules: [
    { name: 'Writes', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['write_file'] },
    { name: 'Scratch is fine', tier: 'allow', type: 'regex', phase: 'response', pattern: '^write_file \\{"path":"/tmp/' },
  ] } satisfies FirewallPolicyState)];
  const answer = (args: string) => Buffer.from(JSON.stringify(chatAnswer({ tool_calls: [{ id: 'c1', type: 'function', function: { name: 'write_file', arguments: args } }] }, 'tool_calls')));
  const kept = JSON.parse(screenJsonAnswer('chat-completions', answer('{"path":"/tmp/a","data":"x"}'), allowTmp, []).toString()) as Record<string, any>;
  assert.equal(kept.choices[0].message.tool_calls.length, 1, 'the allow rule clears an ordinary call');
  const twice = '{"path":"/tmp/a","path":"/home/me/.bashrc","data":"x"}';
  assert.equal((JSON.parse(twice) as { path: string }).path, '/home/me/.bashrc');
  const screenedTwice = JSON.parse(screenJsonAnswer('chat-completions', answer(twice), allowTmp, []).toString()) as Record<string, any>;
  assert.equal(screenedTwice.choices[0].message.tool_calls, undefined);
  assert.match(screenedTwice.choices[0].message.content, /rule "Writes" \(soft block\) flagged the call to tool "write_file"/);
});

test('Messages stream: a tool_use whose start carries its input (no input_json_delta follows) is judged on that input', () => {
  const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const { out, noted } = guardedWith(guardPolicies, 'messages', [
    ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'm', stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'bash', input: { cmd: 'git push --force' } } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } }),
    ev('message_stop', {}),
  ]);
  assert.deepEqual(noted.map((f) => f.rule), ['No push']);
  assert.doesNotMatch(out, /"tool_use","id"/);
  assert.match(out, /"stop_reason":"end_turn"/);
});

test('an event arriving in many small reads is searched for its end once, not once per read', () => {
  const big = chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'write_file', arguments: JSON.stringify({ data: 'x'.repeat(4 * 1024 * 1024) }) } }] });
  const pieces = big.match(/[\s\S]{1,1024}/g)!;
  const before = guardCharsSearched();
  const { noted } = guardedWith(guardPolicies, 'chat-completions', [...pieces, chunk({}, 'tool_calls'), 'data: [DONE]\n\n']);
  const searched = guardCharsSearched() - before;
  assert.deepEqual(noted, []);
  // Searched from the start on every read, the 4,096 reads of this 4 MiB event cost ~8.6 billion characters (seconds
  // of CPU); each read's own text, and the event once when its end comes, is about twice the event.
  assert.ok(searched < 3 * big.length, `${searched} characters searched for a ${big.length}-character event`);
});

/** A Responses stream as the SDK finishes it. */
async function sdkResponse(out: string): Promise<OpenAI.Responses.Response> {
  const client = new OpenAI({ apiKey: 'k', maxRetries: 0, fetch: async () => new Response(out, { headers: { 'content-type': 'text/event-stream' } }) });
  return client.responses.stream({ model: 'm', input: 'x' }).finalResponse();
}

const responsesEvent = (type: string, seq: number, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...fields })}\n\n`;
const fnCall = (index: number, name: string, args: string, status = 'completed') => ({ type: 'function_call', id: `fc_${index}`, call_id: `call_${index}`, name, arguments: args, status });
const response = (status: string, output: unknown[]) => ({ response: { id: 'resp_1', object: 'response', created_at: 1, status, model: 'm', output, parallel_tool_calls: true, tool_choice: 'auto', tools: [] } });

test('Responses stream: two calls open at once (as translations stream them) are each held to their own end and judged', async () => {
  const del = fnCall(0, 'delete_file', '{"path":"/"}');
  const read = fnCall(1, 'read_file', '{"path":"a"}');
  const { out, noted } = guardedWith(guardPolicies, 'responses', [
    responsesEvent('response.created', 0, response('in_progress', [])),
    responsesEvent('response.output_item.added', 1, { output_index: 0, item: { ...del, arguments: '', status: 'in_progress' } }),
    responsesEvent('response.function_call_arguments.delta', 2, { output_index: 0, item_id: 'fc_0', delta: '{"path":"/"}' }),
    responsesEvent('response.output_item.added', 3, { output_index: 1, item: { ...read, arguments: '', status: 'in_progress' } }),
    responsesEvent('response.function_call_arguments.delta', 4, { output_index: 1, item_id: 'fc_1', delta: '{"path":"a"}' }),
    responsesEvent('response.output_item.done', 5, { output_index: 0, item: del }),
    responsesEvent('response.output_item.done', 6, { output_index: 1, item: read }),
    responsesEvent('response.completed', 7, response('completed', [del, read])),
  ]);
  assert.deepEqual(noted.map((f) => f.rule), ['No deletes']);
  const done = await sdkResponse(out);
  assert.deepEqual(done.output.map((i) => (i.type === 'function_call' ? i.name : i.type)), ['message', 'read_file']);
  const numbers = out.split('\n\n').filter((e) => e.includes('data: ')).map((e) => (JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { sequence_number: number }).sequence_number);
  assert.deepEqual(numbers, numbers.map((_, i) => i));
});

test('Responses stream: a call still open at the final event never completed; it is dropped, and the final response does not list it', async () => {
  const del = fnCall(0, 'delete_file', '{"path":"/"}');
  const { out } = guardedWith(guardPolicies, 'responses', [
    responsesEvent('response.created', 0, response('in_progress', [])),
    responsesEvent('response.output_item.added', 1, { output_index: 0, item: { ...del, arguments: '', status: 'in_progress' } }),
    responsesEvent('response.function_call_arguments.delta', 2, { output_index: 0, item_id: 'fc_0', delta: '{"path":"/"}' }),
    responsesEvent('response.completed', 3, response('completed', [del])),
  ]);
  const done = await sdkResponse(out);
  assert.deepEqual(done.output, []);
  assert.doesNotMatch(out, /delete_file/);
});

/** An Interactions SSE event as Google writes one (named, its type in the data too, spaces after colons). */
const interactionEvent = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ ...data, event_type: type }, null, 1).replace(/\n\s*/g, ' ')}\n\n`;
const interactionEvents = (text: string) => text.split('\n\n').filter((e) => e.includes('data: {')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as Record<string, unknown> & { event_type: string; index?: number; delta?: { type: string; text?: string }; step?: { type: string }; status?: string; interaction?: { status: string } });

test('Interactions stream: text passes unheld; a function_call step is held from step.start to step.stop, kept as it came or replaced by a text step', () => {
  const noted: FirewallFinding[] = [];
  const guard = streamGuard('interactions', policies, noted)!;
  const push = (e: string) => guard.push(Buffer.from(e))?.toString() ?? '';
  const text = interactionEvent('step.delta', { index: 0, delta: { type: 'text', text: 'Tidying.' } });
  assert.equal(push(interactionEvent('step.start', { index: 0, step: { type: 'model_output' } })) + push(text), interactionEvent('step.start', { index: 0, step: { type: 'model_output' } }) + text, 'text goes out at once, as it came');
  const call = (index: number, name: string) => [
    interactionEvent('step.start', { index, step: { type: 'function_call', id: `c${index}`, name } }),
    interactionEvent('step.delta', { index, delta: { type: 'arguments_delta', arguments: '{"p":' } }),
    interactionEvent('step.delta', { index, delta: { type: 'arguments_delta', arguments: '"a"}' } }),
    interactionEvent('step.stop', { index }),
  ];
  const kept = call(1, 'read_file');
  assert.deepEqual(kept.map(push), ['', '', '', kept.join('')], 'held until its stop, then sent as it came');
  const blocked = call(2, 'delete_file');
  const replaced = blocked.map(push);
  assert.deepEqual(replaced.slice(0, 3), ['', '', '']);
  assert.deepEqual(interactionEvents(replaced[3]!).map((e) => [e.event_type, e.index, e.step?.type ?? e.delta?.type]), [['step.start', 2, 'model_output'], ['step.delta', 2, 'text'], ['step.stop', 2, undefined]]);
  assert.match(interactionEvents(replaced[3]!)[1]!.delta!.text!, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
  const completed = interactionEvent('interaction.completed', { interaction: { id: 'v1', status: 'requires_action' } });
  assert.equal(push(completed), completed, 'a call was kept: the interaction still requires action');
  assert.deepEqual(noted.map((f) => f.rule), ['No deletes']);
});

test('Interactions stream: with every call blocked the interaction is completed; a call cut off by the end is not released; the earlier revision\'s content.* events too', () => {
  const { out } = guardedWith(policies, 'interactions', [
    interactionEvent('content.start', { index: 0, content: { type: 'function_call', id: 'c0', name: 'delete_file' } }),
    interactionEvent('content.delta', { index: 0, delta: { type: 'function_call', name: 'delete_file', arguments: { p: 'a' } } }),
    interactionEvent('content.stop', { index: 0 }),
    interactionEvent('interaction.status_update', { interaction_id: 'v1', status: 'requires_action' }),
    interactionEvent('interaction.completed', { interaction: { id: 'v1', status: 'requires_action', outputs: [{ type: 'function_call', id: 'c0', name: 'delete_file', arguments: { p: 'a' } }] } }),
    interactionEvent('step.start', { index: 1, step: { type: 'function_call', id: 'c1', name: 'read_file' } }),
  ]);
  const sent = interactionEvents(out);
  assert.deepEqual(sent.map((e) => e.event_type), ['content.start', 'content.delta', 'content.stop', 'interaction.status_update', 'interaction.completed']);
  assert.equal(sent[1]!.delta!.type, 'text');
  assert.equal(sent[3]!.status, 'completed');
  assert.deepEqual((sent[4]!.interaction as unknown as { status: string; outputs: { type: string; text: string }[] }).outputs.map((o) => o.type), ['text']);
  assert.equal(sent[4]!.interaction!.status, 'completed');
});

test('Interactions stream, the earlier revision: with its one call blocked, the interaction.complete that ends it says completed', () => {
  const { out } = guardedWith(policies, 'interactions', [
    interactionEvent('interaction.start', { interaction: { id: 'v1', status: 'in_progress' } }),
    interactionEvent('content.start', { index: 0, content: { type: 'function_call', id: 'c0', name: 'delete_file' } }),
    interactionEvent('content.delta', { index: 0, delta: { type: 'function_call', name: 'delete_file', arguments: { p: 'a' } } }),
    interactionEvent('content.stop', { index: 0 }),
    interactionEvent('interaction.complete', { interaction: { id: 'v1', status: 'requires_action', outputs: [{ type: 'function_call', id: 'c0', name: 'delete_file', arguments: { p: 'a' } }] } }),
  ]);
  const sent = interactionEvents(out);
  assert.deepEqual(sent.map((e) => e.event_type), ['interaction.start', 'content.start', 'content.delta', 'content.stop', 'interaction.complete']);
  assert.equal(sent[4]!.interaction!.status, 'completed', 'no call is left to act on');
  assert.doesNotMatch(JSON.stringify(sent[4]), /"function_call"/);
});

test('Interactions JSON: a blocked function_call step becomes a model_output step saying why; with none left, requires_action → completed', () => {
  const answer = (names: string[]) => Buffer.from(JSON.stringify({ id: 'v1', status: 'requires_action', steps: [{ type: 'model_output', content: [{ type: 'text', text: 'Tidying.' }] }, ...names.map((name, i) => ({ type: 'function_call', id: `c${i}`, name, arguments: { p: 'a' } }))] }));
  const noted: FirewallFinding[] = [];
  const both = JSON.parse(screenJsonAnswer('interactions', answer(['read_file', 'delete_file']), policies, noted).toString()) as { status: string; steps: { type: string; name?: string; content?: { text: string }[] }[] };
  assert.deepEqual(both.steps.map((s) => s.name ?? s.type), ['model_output', 'read_file', 'model_output']);
  assert.match(both.steps[2]!.content![0]!.text, /flagged the call to tool "delete_file"/);
  assert.equal(both.status, 'requires_action');
  const only = JSON.parse(screenJsonAnswer('interactions', answer(['delete_file']), policies, noted).toString()) as { status: string };
  assert.equal(only.status, 'completed');
  const untouched = answer(['read_file']);
  assert.equal(screenJsonAnswer('interactions', untouched, policies, noted), untouched, 'nothing blocked: the same bytes');
});

test('what a guard holds is counted while a call is open, and nothing once the call went out (the relay ends a stream holding too much)', () => {
  const responses = streamGuard('responses', policies, [])!;
  const sse = (data: Record<string, unknown>) => `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`;
  const item = { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'read_file', arguments: '' };
  assert.ok(responses.push(Buffer.from(sse({ type: 'response.created', sequence_number: 0, response: { id: 'r', output: [] } }))), 'nothing held: passed at once');
  assert.equal(responses.held, 0);
  const opened = sse({ type: 'response.output_item.added', sequence_number: 1, output_index: 0, item });
  assert.equal(responses.push(Buffer.from(opened)), undefined);
  let taken = opened.length;
  for (let i = 0; i < 8; i++) {
    const delta = sse({ type: 'response.function_call_arguments.delta', sequence_number: 2 + i, output_index: 0, item_id: 'fc_1', delta: 'x'.repeat(1000) });
    taken += delta.length;
    assert.equal(responses.push(Buffer.from(delta)), undefined);
  }
  assert.equal(responses.held, taken);
  const done = responses.push(Buffer.from(sse({ type: 'response.output_item.done', sequence_number: 10, output_index: 0, item: { ...item, arguments: 'x'.repeat(8000) } })));
  assert.ok(done && done.length > taken, 'the call went out whole');
  assert.equal(responses.held, 0);

  // A Messages tool_use block, split anywhere across reads.
  const messages = streamGuard('messages', policies, [])!;
  const start = `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'tu_1', name: 'read_file', input: {} } })}\n\n`;
  const delta = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: 'y'.repeat(500) } })}\n\n`;
  messages.push(Buffer.from(start + delta.slice(0, 100)));
  messages.push(Buffer.from(delta.slice(100) + delta));
  assert.equal(messages.held, start.length + 2 * delta.length);
  const stop = `event: content_block_stop\ndata: ${JSON.stringify({ type: 'content_block_stop', index: 0 })}\n\n`;
  assert.ok(messages.push(Buffer.from(stop)));
  assert.equal(messages.held, 0);
});
