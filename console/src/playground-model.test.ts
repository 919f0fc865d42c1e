/// <reference types="node" />
// The Playground's model: the gateway's chat-completion stream read back into what each column shows, each model's
// own history, retry, and attachments as content parts within their size bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from './api.ts';
import {
  answerHeaders, applyEvent, attachmentKind, errorOf, imageRefusal, MAX_IMAGE_BYTES, MAX_TEXT_BYTES, messagesFor, pendingAnswer, requestBody,
  SseParser, heldToken, takesImages, tokenFresh, userMessage, userTurnParts, withAnswer, withPrompt, withRetry, type Answer, type SseEvent, type Turn,
} from './playground-model.ts';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });

/** Feeds `stream` to a parser cut at every `step` characters, as the network may deliver it. */
function readAll(stream: string, step: number): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  for (let i = 0; i < stream.length; i += step) out.push(...parser.push(stream.slice(i, i + step)));
  return [...out, ...parser.end()];
}

const answerOf = (events: SseEvent[]): Answer => events.reduce(applyEvent, pendingAnswer());

test('SSE: the same events whatever the chunk boundaries (mid-line, mid-CRLF), multi-line data joined, comments ignored', () => {
  const stream = ': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\nevent: note\ndata:first\ndata: second\n\ndata: [DONE]\n\ndata: cut off';
  const expected = [{ event: 'message', data: '{"a":1}' }, { event: 'note', data: 'first\nsecond' }, { event: 'message', data: '[DONE]' }];
  for (const step of [1, 2, 3, 7, stream.length]) assert.deepEqual(readAll(stream, step), expected, `cut every ${step}`);
  // A CR at a chunk's end and the LF opening the next are one line break, not two (which would end an event early).
  const parser = new SseParser();
  assert.deepEqual([...parser.push('data: x\r'), ...parser.push('\ndata: y\r'), ...parser.push('\n\r\n')], [{ event: 'message', data: 'x\ny' }]);
});

test('text, reasoning and tool calls accumulate from deltas; tool calls merge by index; finish reason and usage chunk', () => {
  const stream = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning_content: 'Think' }), chunk({ reasoning: 'ing.' }),
    chunk({ content: 'Hel' }), chunk({ content: 'lo' }),
    chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'lookup', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_', arguments: '{"ci' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { name: 'weather', arguments: 'ty":"Paris"}' } }, { index: 1, function: { arguments: '{}' } }] }),
    chunk({}, 'tool_calls'),
    JSON.stringify({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, completion_tokens_details: { reasoning_tokens: 9 } } }),
    '[DONE]',
  ].map((d) => `data: ${d}\n\n`).join('');
  const answer = answerOf(readAll(stream, 5));
  assert.equal(answer.state, 'done');
  assert.equal(answer.text, 'Hello');
  assert.equal(answer.reasoning, 'Thinking.');
  assert.deepEqual(answer.toolCalls, [
    { index: 0, id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { index: 1, id: 'call_b', name: 'lookup', arguments: '{}' },
  ]);
  assert.equal(answer.finishReason, 'tool_calls');
  assert.deepEqual(answer.usage, { promptTokens: 12, completionTokens: 30, totalTokens: 42, reasoningTokens: 9 });
});

test("errors: the gateway's error body (message and code), plain text, and an error event mid-stream", () => {
  const body = JSON.stringify({ error: { message: 'the access key is invalid or has been deleted.', type: 'authentication_error', code: 'ERR_NGROK_27201' } });
  assert.deepEqual(errorOf(body, 401), { message: 'the access key is invalid or has been deleted.', code: 'ERR_NGROK_27201', status: 401 });
  assert.deepEqual(errorOf('Bad Gateway', 502), { message: 'Bad Gateway', status: 502 });
  assert.deepEqual(errorOf('', 500), { message: 'The gateway answered 500.', status: 500 });
  const cut = answerOf(readAll(`data: ${chunk({ content: 'par' })}\n\ndata: {"error":{"message":"upstream stream broke","code":"ERR_NGROK_27220"}}\n\n`, 4));
  assert.equal(cut.state, 'failed');
  assert.equal(cut.text, 'par', 'what arrived before the error stays shown');
  assert.deepEqual(cut.error, { message: 'upstream stream broke', code: 'ERR_NGROK_27220' });
});

const done = (text: string): Answer => ({ ...pendingAnswer(), state: 'done', text });
const user = (text: string) => ({ role: 'user' as const, content: text });

test('each model keeps its own history; failed or empty answers are left out of later requests; retry drops only the last answer', () => {
  // Two columns asked the same first prompt, answered differently; one failed.
  let a: Turn[] = withPrompt([], user('hi'));
  let b: Turn[] = withPrompt([], user('hi'));
  a = [{ ...a[0]!, answer: done('Hello from A') }];
  b = [{ ...b[0]!, answer: { ...pendingAnswer(), state: 'failed', error: { message: 'no credit' } } }];
  a = withPrompt(a, user('and?'));
  b = withPrompt(b, user('and?'));
  assert.deepEqual(messagesFor(a), [user('hi'), { role: 'assistant', content: 'Hello from A' }, user('and?')]);
  assert.deepEqual(messagesFor(b), [user('and?')]);
  assert.deepEqual(requestBody('openai:gpt-4o', messagesFor(a)), { model: 'openai:gpt-4o', messages: messagesFor(a), stream: true, stream_options: { include_usage: true } });

  // Retry of A's last answer: the same history again, the earlier answer kept, the last one awaited anew.
  a = [a[0]!, { ...a[1]!, answer: done('first try') }];
  const retried = withRetry(a);
  assert.equal(retried.length, 2);
  assert.equal(retried[1]!.answer.state, 'streaming');
  assert.equal(retried[1]!.answer.text, '');
  assert.deepEqual(messagesFor(retried), [user('hi'), { role: 'assistant', content: 'Hello from A' }, user('and?')]);
  assert.deepEqual(withRetry([]), []);
  // A stopped answer that said something counts as said.
  const stopped: Turn[] = [{ user: user('q'), answer: { ...done('partial'), state: 'stopped' } }, ...withPrompt([], user('go on'))];
  assert.deepEqual(messagesFor(stopped), [user('q'), { role: 'assistant', content: 'partial' }, user('go on')]);
});

test("a request's stream writes only its own answer: not the one of a retry or of a prompt sent after Clear", () => {
  const first = withPrompt([], user('hi'));
  const firstRun = first.at(-1)!.run;
  const stopped = (a: Answer): Answer => (a.state === 'streaming' ? { ...a, state: 'stopped' } : a);
  // Clear conversation, then the same prompt again: the first request's abort settles only now.
  const again = withPrompt([], user('hi'));
  assert.equal(withAnswer(again, firstRun, stopped), again, 'the cleared request leaves the new answer alone');
  assert.equal(withAnswer(again, firstRun, (a) => ({ ...a, text: 'late chunk' })).at(-1)!.answer.text, '');
  assert.equal(withAnswer(again, again.at(-1)!.run, stopped).at(-1)!.answer.state, 'stopped', 'its own Stop applies');
  assert.deepEqual(withAnswer([], firstRun, stopped), []);
  // A retry is another request: the answer it replaced no longer takes writes.
  const answered = withAnswer(first, firstRun, (a) => ({ ...a, state: 'done', text: 'Hello' }));
  assert.equal(answered.at(-1)!.answer.text, 'Hello');
  const retried = withRetry(answered);
  assert.notEqual(retried.at(-1)!.run, firstRun);
  assert.equal(withAnswer(retried, firstRun, (a) => ({ ...a, text: 'stale' })).at(-1)!.answer.text, '');
});

test('attachments: text files inlined as text parts, images as image_url data URLs; sizes and kinds bounded with a message', () => {
  assert.deepEqual(attachmentKind({ name: 'a.png', type: 'image/png', size: MAX_IMAGE_BYTES }), { kind: 'image' });
  assert.deepEqual(attachmentKind({ name: 'notes.md', type: '', size: 10 }), { kind: 'text' });
  assert.deepEqual(attachmentKind({ name: 'data.json', type: 'application/json', size: MAX_TEXT_BYTES }), { kind: 'text' });
  const bigImage = attachmentKind({ name: 'photo.jpg', type: 'image/jpeg', size: MAX_IMAGE_BYTES + 1 });
  assert.ok('refused' in bigImage && /photo\.jpg is 5\.0 MB: an image may be at most 5\.0 MB/.test(bigImage.refused), JSON.stringify(bigImage));
  const bigText = attachmentKind({ name: 'log.txt', type: 'text/plain', size: MAX_TEXT_BYTES + 1 });
  assert.ok('refused' in bigText && /a text file may be at most 200 KB/.test(bigText.refused), JSON.stringify(bigText));
  assert.ok('refused' in attachmentKind({ name: 'a.zip', type: 'application/zip', size: 10 }));
  // Only the image types the models take: an SVG (nor inlined as text, though it is XML), a BMP or a HEIC photo is
  // refused here rather than uploaded and refused by the provider.
  for (const [name, type] of [['logo.svg', 'image/svg+xml'], ['scan.bmp', 'image/bmp'], ['IMG_1.heic', 'image/heic'], ['fax.tiff', 'image/tiff']]) {
    const refused = attachmentKind({ name: name!, type: type!, size: 10 });
    assert.ok('refused' in refused && refused.refused.includes('(PNG, JPEG, GIF, WebP)'), `${name}: ${JSON.stringify(refused)}`);
  }
  for (const type of ['image/jpeg', 'image/gif', 'image/webp', 'IMAGE/PNG']) assert.deepEqual(attachmentKind({ name: 'x', type, size: 10 }), { kind: 'image' }, type);

  assert.deepEqual(userMessage('plain', []), user('plain'));
  const image = { name: 'a.png', kind: 'image' as const, size: 4, content: 'data:image/png;base64,iVBO' };
  const text = { name: 'notes.md', kind: 'text' as const, size: 5, content: '# Hi' };
  assert.deepEqual(userMessage('Describe', [image, text]), { role: 'user', content: [
    { type: 'text', text: 'File notes.md:\n\n# Hi' },
    { type: 'text', text: 'Describe' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } },
  ] });

  // Shown back: the file by name, the typed text as typed — even a prompt that starts with "File " (not an attachment).
  assert.deepEqual(userTurnParts(userMessage('Describe', [image, text])), [{ kind: 'file', name: 'notes.md' }, { kind: 'text', text: 'Describe' }, { kind: 'image', url: image.content }]);
  assert.deepEqual(userTurnParts(userMessage('File handling in Node: explain\n\nstreams too', [text])), [{ kind: 'file', name: 'notes.md' }, { kind: 'text', text: 'File handling in Node: explain\n\nstreams too' }]);
  assert.deepEqual(userTurnParts(userMessage('File formats?', [image])), [{ kind: 'text', text: 'File formats?' }, { kind: 'image', url: image.content }]);
  // Files alone (nothing typed): each is a file.
  assert.deepEqual(userTurnParts(userMessage('', [text, { ...text, name: 'b.txt' }])), [{ kind: 'file', name: 'notes.md' }, { kind: 'file', name: 'b.txt' }]);
  assert.deepEqual(userTurnParts(user('File x')), [{ kind: 'text', text: 'File x' }]);

  // Images only for models whose catalog entry takes them.
  const model = (id: string, providerModel: string, inputs: string[]) => ({ id, providers: [{ model_id: providerModel }], architecture: { input_modalities: inputs } }) as unknown as Model;
  const catalog = [model('openai/gpt-4o', 'openai:gpt-4o', ['text', 'image']), model('openai/o1-mini', 'openai:o1-mini', ['text'])];
  assert.equal(takesImages(catalog, 'openai:gpt-4o'), true);
  assert.equal(takesImages(catalog, 'openai/gpt-4o'), true);
  assert.equal(takesImages(catalog, 'openai:o1-mini'), false);
  assert.equal(takesImages(catalog, 'my-virtual-model'), false);
  assert.equal(imageRefusal(catalog, ['openai:gpt-4o', 'openai:o1-mini'], [text]), undefined);
  assert.equal(imageRefusal(catalog, ['openai:gpt-4o'], [image]), undefined);
  assert.match(imageRefusal(catalog, ['openai:gpt-4o', 'openai:o1-mini'], [image]) ?? '', /^openai:o1-mini does not take images/);
});

test('reasoning: an effort per column is sent as reasoning_effort (none when not chosen); the signed reasoning comes back with its answer, to the model that wrote it', () => {
  assert.equal('reasoning_effort' in requestBody('anthropic:claude-sonnet-4-6', [user('hi')]), false, 'the default sends nothing');
  assert.equal(requestBody('anthropic:claude-sonnet-4-6', [user('hi')], 'high').reasoning_effort, 'high');
  assert.equal(requestBody('openai:gpt-5.1', [user('hi')], 'none').reasoning_effort, 'none', '"none" turns reasoning off: it is sent');

  // As the gateway streams Claude's thinking: reasoning_content deltas, then reasoning_details once, whole, with the finish.
  const signed = { type: 'reasoning.text', text: 'Think about it.', signature: 'sig-1', format: 'anthropic-claude-v1', index: 0 };
  const redacted = { type: 'reasoning.encrypted', data: 'opaque', format: 'anthropic-claude-v1', index: 1 };
  const stream = [
    chunk({ role: 'assistant', reasoning_content: 'Think ' }), chunk({ reasoning_content: 'about it.' }), chunk({ content: 'Hi.' }),
    chunk({ reasoning_details: [signed, redacted] }, 'stop'), '[DONE]',
  ].map((d) => `data: ${d}\n\n`).join('');
  const answer = { ...answerOf(readAll(stream, 9)), model: 'anthropic:claude-sonnet-4-6' };
  assert.equal(answer.reasoning, 'Think about it.', 'shown in the reasoning fold');
  assert.deepEqual(answer.reasoningDetails, [signed, redacted]);
  // A server streaming one entry in pieces under its index (OpenRouter's way) gets it back whole.
  const pieces = answerOf([
    { event: 'message', data: chunk({ reasoning_details: [{ type: 'reasoning.text', text: 'Thi', index: 0, format: 'f' }] }) },
    { event: 'message', data: chunk({ reasoning_details: [{ type: 'reasoning.text', text: 'nk.', signature: 'sig', index: 0, format: 'f' }] }) },
  ]);
  assert.deepEqual(pieces.reasoningDetails, [{ type: 'reasoning.text', text: 'Think.', signature: 'sig', index: 0, format: 'f' }]);

  const turns: Turn[] = [{ user: user('hi'), answer }, ...withPrompt([], user('and?'))];
  assert.deepEqual(messagesFor(turns, 'anthropic:claude-sonnet-4-6'), [user('hi'), { role: 'assistant', content: 'Hi.', reasoning_details: [signed, redacted] }, user('and?')]);
  // The column's model changed: the new one gets the text alone (OpenAI's older models refuse a field they do not know).
  assert.deepEqual(messagesFor(turns, 'openai:gpt-4o'), [user('hi'), { role: 'assistant', content: 'Hi.' }, user('and?')]);
  // An answer without signed reasoning carries no empty field.
  assert.deepEqual(messagesFor([{ user: user('hi'), answer: { ...done('Hi.'), model: 'm' } }, ...withPrompt([], user('and?'))], 'm')[1], { role: 'assistant', content: 'Hi.' });
});

test("the answer's request id is the gateway's (its Logs entry), not the provider's x-request-id; fields the gateway did not send are named", () => {
  const headers = new Headers({ 'x-request-id': 'req_openai_123', 'ngrok-aig-request-id': 'aigr_abc', 'ngrok-aig-removed-params': 'reasoning_effort, temperature' });
  assert.deepEqual(answerHeaders(headers), { requestId: 'aigr_abc', removedParams: ['reasoning_effort', 'temperature'] });
  assert.deepEqual(answerHeaders(new Headers({ 'x-request-id': 'req_openai_123' })), {});
});

test('a Playground token is held by the lifetime the console gave, on this browser\'s clock, not by the console host\'s expiry time', () => {
  // The browser runs 5 minutes slow: by its clock the token was minted at 12:00, the console host says 12:05 (+15 min).
  const now = Date.parse('2026-12-07T12:00:00Z');
  const token = heldToken({ token: 'tgpg_x', expiresAt: '2026-12-07T12:20:00Z', expiresInSeconds: 900, gatewayUrl: 'http://gw' }, now);
  assert.equal(token.expiresLocally, now + 900_000);
  assert.equal(tokenFresh(token, now + 13 * 60_000, 60_000), true);
  // 14½ minutes on by the browser's clock: the gateway refuses it within the minute, a new one is minted first.
  // (Read against expiresAt, the slow browser would have kept it 5 minutes past its end.)
  assert.equal(tokenFresh(token, now + 14.5 * 60_000, 60_000), false);
  // An answer without the lifetime (an older console) falls back to the expiry time.
  const older = heldToken({ token: 'tgpg_y', expiresAt: '2026-12-07T12:15:00Z', gatewayUrl: 'http://gw' } as never, now);
  assert.equal(older.expiresLocally, Date.parse('2026-12-07T12:15:00Z'));
});
