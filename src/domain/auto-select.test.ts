import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { asksForAutoSelection, autoSelectionOrder, bandOf, neededBand } from './auto-select.ts';

const catalog = createCatalog();
const chat = (content: unknown, extra: Record<string, unknown> = {}) => ({ model: 'ngrok/auto', messages: [{ role: 'user', content }], ...extra });
const modelOf = (address: string) => {
  const [provider, id] = [address.slice(0, address.indexOf(':')), address.slice(address.indexOf(':') + 1)];
  return catalog.model(provider, id)!;
};

test('ngrok/auto, any case, asks for automatic selection; so does no model on chat, Responses and Messages only', () => {
  assert.equal(asksForAutoSelection({ model: 'ngrok/auto' }, 'chat-completions'), true);
  assert.equal(asksForAutoSelection({ model: 'NGROK/Auto' }, 'embeddings'), true);
  for (const surface of ['chat-completions', 'responses', 'messages'] as const) assert.equal(asksForAutoSelection({ messages: [] }, surface), true, surface);
  for (const surface of ['completions', 'embeddings', 'count-tokens'] as const) assert.equal(asksForAutoSelection({ input: 'x' }, surface), false, surface);
  assert.equal(asksForAutoSelection({ model: 'ngrok/auto' }, 'count-tokens'), false);
  assert.equal(asksForAutoSelection({ model: 'gpt-4o' }, 'chat-completions'), false);
  // Fallbacks alone name the models: no automatic selection.
  assert.equal(asksForAutoSelection({ models: ['gpt-4o'] }, 'chat-completions'), false);
});

test('the prompt\'s band: simple asks low, ordinary professional work medium, hard reasoning and long-form writing high', () => {
  const band = (text: string) => neededBand(chat(text), 'chat-completions');
  for (const text of ['hello!', 'What is the capital of France?', 'Write a regex that matches an email address', 'Convert 5 miles to km', 'Rewrite this sentence to be friendlier: send me the file.']) assert.equal(band(text), 'low', text);
  for (const text of ['Fix the bug in this function:\n```js\nconst f = (a) => a.map(x => x * 2\n```', 'Write a SQL query that lists customers with more than 3 orders', 'Summarize this document for an executive audience: …', 'Explain how TCP congestion control works']) assert.equal(band(text), 'medium', text);
  for (const text of ['Prove that there are infinitely many primes.', 'Solve this competition problem step by step: find all n such that…', 'Write an essay on the causes of the First World War', 'Design a distributed rate limiter and analyze the trade-offs']) assert.equal(band(text), 'high', text);
  // Everyday asks that only name hard or long things stay where they belong.
  for (const text of ['proof of address', 'Write a tweet about my new article', 'How do I diagnose why my car won\'t start?', 'step by step directions to the airport', 'Who won the baking competition?', 'Write me a 5-line poem', 'Which TV program is on tonight?', 'How do I report a lost card?']) {
    assert.equal(band(text), 'low', text);
  }
  assert.equal(band('Write a one-line summary of chapter 3'), 'medium', 'a summary is ordinary work, however short');
  // The last user turn decides; earlier turns do not.
  assert.equal(neededBand({ messages: [{ role: 'user', content: 'Prove Fermat\'s little theorem' }, { role: 'assistant', content: '…' }, { role: 'user', content: 'thanks!' }] }, 'chat-completions'), 'low');
  // Messages (system apart, content blocks) and Responses (input string or items) are read the same way.
  assert.equal(neededBand({ system: 'You are terse.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Prove that √2 is irrational' }] }] }, 'messages'), 'high');
  assert.equal(neededBand({ input: 'Write a Python script that renames files' }, 'responses'), 'medium');
  assert.equal(neededBand({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] }, 'responses'), 'low');
});

test('order: the needed band cheapest first, then the bands above, then those below dearest first', () => {
  const order = (text: string) => autoSelectionOrder(catalog, chat(text), 'chat-completions').addresses.map(modelOf);
  const low = order('hello');
  assert.equal(bandOf(low[0]!), 'low');
  const lowBand = low.filter((m) => bandOf(m) === 'low');
  assert.deepEqual(lowBand.map((m) => m.priceMicro!.input), [...lowBand.map((m) => m.priceMicro!.input)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  assert.equal(bandOf(low.at(-1)!), 'high', 'the dearest last for a simple prompt');

  const hard = order('Prove the four colour theorem rigorously');
  assert.equal(bandOf(hard[0]!), 'high');
  const firstNotHigh = hard.findIndex((m) => bandOf(m) !== 'high');
  assert.equal(bandOf(hard[firstNotHigh]!), 'medium', 'then the band nearest below');
  // Only models that write text, with a price (bands are prices): no embeddings, nothing unpriced.
  for (const m of hard) assert.ok(m.outputModalities.includes('text') && m.priceMicro, m.id);
});

test('the request\'s images and files, and its length, rule models out', () => {
  const image = autoSelectionOrder(catalog, chat([{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]), 'chat-completions').addresses.map(modelOf);
  assert.ok(image.length > 0 && image.every((m) => m.inputModalities.includes('image')));
  const pdf = autoSelectionOrder(catalog, { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'AAAA' } }, { type: 'text', text: 'summarize' }] }] }, 'messages').addresses.map(modelOf);
  assert.ok(pdf.length > 0 && pdf.every((m) => m.inputModalities.includes('file')));
  const long = autoSelectionOrder(catalog, chat('x '.repeat(150_000)), 'chat-completions').addresses.map(modelOf);
  assert.ok(long.length > 0 && long.every((m) => m.contextWindow >= 100_000), 'a 300,000-character prompt needs a large context');
  const embeddings = autoSelectionOrder(catalog, { model: 'ngrok/auto', input: 'x' }, 'embeddings').addresses.map(modelOf);
  assert.ok(embeddings.length > 0 && embeddings.every((m) => m.outputModalities.includes('embedding')));
});

test('a turn of tool results asks nothing new: the agent loop keeps the band of the ask it is working on', () => {
  const body = {
    messages: [
      { role: 'user', content: 'Prove that there are infinitely many primes, checking your steps with the calculator tool.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'calc', input: { x: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: '2' }] },
    ],
  };
  assert.equal(neededBand(body, 'messages'), 'high');
});

test('media and size inside tool results, audio input, and tool definitions are seen by the fit checks', () => {
  const toolImage = { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }] }] };
  const withImage = autoSelectionOrder(catalog, toolImage, 'messages').addresses.map(modelOf);
  assert.ok(withImage.length > 0 && withImage.every((m) => m.inputModalities.includes('image')));
  const bigResult = { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'y '.repeat(450_000) }] }] };
  assert.ok(autoSelectionOrder(catalog, bigResult, 'messages').addresses.map(modelOf).every((m) => m.contextWindow >= 300_000), 'a 900,000-character tool result');
  const audio = autoSelectionOrder(catalog, chat([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]), 'chat-completions').addresses.map(modelOf);
  assert.ok(audio.every((m) => m.inputModalities.includes('audio')));
  const responsesOutput = { input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', call_id: 'c', output: 'z '.repeat(450_000) }] };
  assert.ok(autoSelectionOrder(catalog, responsesOutput, 'responses').addresses.map(modelOf).every((m) => m.contextWindow >= 300_000), 'a function call\'s output');
});

test('rating a prompt takes time in proportion to a bounded part of it, whatever it holds', { timeout: 20_000 }, () => {
  // Quadratic patterns over the whole ask would take minutes here (a body may be 32 MiB).
  // A flat body of very many parts: read in a loop, not spread into one call's arguments.
  assert.equal(neededBand(chat(Array.from({ length: 200_000 }, () => ({ type: 'text', text: 'hi' }))), 'chat-completions'), 'medium');
  for (const unit of ['select ', 'a'.repeat(39) + ' ', 'write ', '``` ', 'how many ']) {
    assert.ok(['low', 'medium', 'high'].includes(neededBand(chat(unit.repeat(Math.ceil(5_000_000 / unit.length))), 'chat-completions')));
  }
});
