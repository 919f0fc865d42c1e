import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates } from './resolve.ts';
import type { AttemptPlan } from './routing.ts';
import { outputLimit, prepareUpstreamBody } from './params.ts';
import { snapshot } from '../../test/helpers/snapshot.ts';
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';
import type { AccountSettings, CustomProviderState } from '../state/types.ts';

const catalog = createCatalog({});
const proxy: CustomProviderState = { id: 'aigp_p', providerId: 'strict', name: 'Strict', baseUrl: 'https://llm.example.com/v1', surfaces: [{ format: 'openai', surface: 'chat-completions', supportedParams: ['messages', 'stream', 'max_tokens'] }], models: ['m1'] };
const kimi: CustomProviderState = { id: 'aigp_k', providerId: 'kimi', name: 'Kimi', baseUrl: 'https://api.moonshot.ai/anthropic/v1', surfaces: [{ format: 'anthropic', surface: 'messages' }], models: ['kimi-k2-thinking'] };
const account = snapshot({ customProviders: [proxy, kimi] });
const settings = (maxOutputTokens: number | null = null): AccountSettings => ({ ...account.settings, maxOutputTokens });
function attempt(model: string, surface: ApiSurface = 'chat-completions', format: ApiFormat = 'openai'): AttemptPlan {
  const candidate = resolveCandidates({ model, models: undefined, format, surface }, catalog, account)[0]!;
  return { candidate, keySource: 'user', credential: 'k' };
}

test('nothing to change returns the same object', () => {
  const body = { model: 'gpt-4o', messages: [], temperature: 0.2 };
  const r = prepareUpstreamBody(body, attempt('gpt-4o'), settings());
  assert.equal(r.body, body);
  assert.equal(r.changed, false);
  assert.deepEqual(r.removed, []);
});

test('model is rewritten to the upstream id and models[] dropped, without touching the input', () => {
  const body = { model: 'openai:GPT-4o', models: ['claude-haiku-4-5'], messages: [] };
  const r = prepareUpstreamBody(body, attempt('openai:GPT-4o'), settings());
  assert.deepEqual(r.body, { model: 'gpt-4o', messages: [] });
  assert.equal(r.changed, true);
  assert.deepEqual(r.removed, []);
  assert.deepEqual(body.models, ['claude-haiku-4-5']);
  assert.equal(body.model, 'openai:GPT-4o');
});

test('model unsupportedParams are stripped and reported', () => {
  const body = { model: 'o3', messages: [], temperature: 0.7, top_p: 1, stream: true };
  const r = prepareUpstreamBody(body, attempt('o3'), settings());
  assert.deepEqual(r.body, { model: 'o3', messages: [], stream: true });
  assert.deepEqual(r.removed, ['temperature', 'top_p']);
  // o3 and o4-mini also refuse stop sequences (OpenAI's reference); gpt-4o keeps them.
  for (const model of ['o3', 'o4-mini']) assert.deepEqual(prepareUpstreamBody({ model, messages: [], stop: ['END'] }, attempt(model), settings()).removed, ['stop']);
  assert.deepEqual(prepareUpstreamBody({ model: 'gpt-4o', messages: [], stop: ['END'] }, attempt('gpt-4o'), settings()).removed, []);
});

test('gpt-5.1 and later keep temperature, top_p and logprobs when the request turns reasoning off', () => {
  const body = { model: 'gpt-5.1', messages: [], temperature: 0.2, top_p: 0.9, logprobs: true, presence_penalty: 1 };
  const off = prepareUpstreamBody({ ...body, reasoning_effort: 'none' }, attempt('gpt-5.1'), settings());
  assert.deepEqual(off.removed, ['presence_penalty']);
  assert.equal(off.body.temperature, 0.2);
  const responses = prepareUpstreamBody({ model: 'gpt-5.2', input: 'x', temperature: 0.2, reasoning: { effort: 'none' } }, attempt('gpt-5.2', 'responses'), settings());
  assert.deepEqual(responses.removed, []);
  // Left to the model's default, which is "none" for these models: kept too.
  assert.deepEqual(prepareUpstreamBody(body, attempt('gpt-5.1'), settings()).removed, ['presence_penalty']);
  assert.deepEqual(prepareUpstreamBody({ ...body, reasoning_effort: null }, attempt('gpt-5.1'), settings()).removed, ['presence_penalty']);
  // Reasoning on, or a model without the "none" effort (whose default is medium): stripped as before.
  assert.deepEqual(prepareUpstreamBody({ ...body, reasoning_effort: 'low' }, attempt('gpt-5.1'), settings()).removed, ['temperature', 'top_p', 'logprobs', 'presence_penalty']);
  assert.deepEqual(prepareUpstreamBody({ ...body, model: 'gpt-5' }, attempt('gpt-5'), settings()).removed, ['temperature', 'top_p', 'logprobs', 'presence_penalty']);
  assert.deepEqual(prepareUpstreamBody({ ...body, model: 'gpt-5', reasoning_effort: 'none' }, attempt('gpt-5'), settings()).removed, ['temperature', 'top_p', 'logprobs', 'presence_penalty']);
});

test('OpenAI reasoning models get max_tokens as max_completion_tokens on chat (they refuse max_tokens)', () => {
  const renamed = prepareUpstreamBody({ model: 'o3', messages: [], max_tokens: 100 }, attempt('o3'), settings());
  assert.deepEqual([renamed.body.max_tokens, renamed.body.max_completion_tokens, renamed.removed], [undefined, 100, []]);
  const both = prepareUpstreamBody({ model: 'gpt-5.1', messages: [], max_tokens: 100, max_completion_tokens: 50 }, attempt('gpt-5.1'), settings());
  assert.deepEqual([both.body.max_tokens, both.body.max_completion_tokens, both.removed], [undefined, 50, ['max_tokens']]);
  // Under an account cap the renamed field is the one clamped.
  const capped = prepareUpstreamBody({ model: 'o3', messages: [], max_tokens: 5000 }, attempt('o3'), settings(1000));
  assert.deepEqual([capped.body.max_tokens, capped.body.max_completion_tokens], [undefined, 1000]);
  // Other models, and the Responses surface, keep their fields as sent.
  assert.equal(prepareUpstreamBody({ model: 'gpt-4o', messages: [], max_tokens: 100 }, attempt('gpt-4o'), settings()).changed, false);
  assert.equal(prepareUpstreamBody({ model: 'o3', input: 'x', max_output_tokens: 100 }, attempt('o3', 'responses'), settings()).changed, false);
});

test('a non-empty surface allowlist drops every other top-level field (model is kept)', () => {
  const body = { model: 'm1', messages: [{ role: 'user', content: 'hi' }], stream: false, seed: 1, metadata: { a: 1 } };
  const r = prepareUpstreamBody(body, attempt('strict:m1'), settings());
  assert.deepEqual(r.body, { model: 'm1', messages: [{ role: 'user', content: 'hi' }], stream: false });
  assert.deepEqual(r.removed, ['seed', 'metadata']);
});

test('output limits are clamped to maxOutputTokens', () => {
  const chat = prepareUpstreamBody({ model: 'gpt-4o', max_tokens: 5000, max_completion_tokens: 50 }, attempt('gpt-4o'), settings(100));
  assert.deepEqual(chat.body, { model: 'gpt-4o', max_tokens: 100, max_completion_tokens: 50 });
  const under = prepareUpstreamBody({ model: 'gpt-4o', max_tokens: 10 }, attempt('gpt-4o'), settings(100));
  assert.equal(under.changed, false);
  const responses = prepareUpstreamBody({ model: 'gpt-4o', max_output_tokens: 1000, input: 'x' }, attempt('gpt-4o', 'responses'), settings(100));
  assert.equal(responses.body.max_output_tokens, 100);
  const messages = prepareUpstreamBody({ model: 'claude-haiku-4-5', max_tokens: 64000 }, attempt('claude-haiku-4-5', 'messages', 'anthropic'), settings(2048));
  assert.equal(messages.body.max_tokens, 2048);
});

test('a thinking budget the cap would leave at or above max_tokens is lowered under it, or thinking dropped', () => {
  const claude = attempt('claude-haiku-4-5', 'messages', 'anthropic');
  const thinking = { type: 'enabled', budget_tokens: 10000 };
  const lowered = prepareUpstreamBody({ model: 'claude-haiku-4-5', max_tokens: 16000, thinking }, claude, settings(4096));
  assert.deepEqual(lowered.body, { model: 'claude-haiku-4-5', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 4095 } });
  assert.deepEqual(lowered.removed, []);
  assert.equal(thinking.budget_tokens, 10000);
  // A cap added where the request had no limit counts too.
  assert.equal((prepareUpstreamBody({ model: 'claude-haiku-4-5', thinking }, claude, settings(2048)).body.thinking as typeof thinking).budget_tokens, 2047);
  // Not even Anthropic's smallest budget (1024) fits: thinking goes, reported like a stripped parameter.
  const dropped = prepareUpstreamBody({ model: 'claude-haiku-4-5', max_tokens: 16000, thinking }, claude, settings(1000));
  assert.deepEqual(dropped.body, { model: 'claude-haiku-4-5', max_tokens: 1000 });
  assert.deepEqual(dropped.removed, ['thinking']);
  // Under the cap, or a client's own inconsistent request: left for the provider to judge.
  assert.equal(prepareUpstreamBody({ model: 'claude-haiku-4-5', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 2000 } }, claude, settings(4096)).changed, false);
  assert.equal(prepareUpstreamBody({ model: 'claude-haiku-4-5', max_tokens: 2000, thinking }, claude, settings(4096)).changed, false);
});

test('a cap is added when the request sets no limit, in the surface field', () => {
  assert.deepEqual(prepareUpstreamBody({ model: 'gpt-4o' }, attempt('gpt-4o'), settings(100)).body, { model: 'gpt-4o', max_completion_tokens: 100 });
  assert.deepEqual(prepareUpstreamBody({ model: 'claude-haiku-4-5' }, attempt('claude-haiku-4-5'), settings(100)).body, { model: 'claude-haiku-4-5', max_tokens: 100 });
  assert.deepEqual(prepareUpstreamBody({ model: 'gpt-4o', input: 'x' }, attempt('gpt-4o', 'responses'), settings(100)).body, { model: 'gpt-4o', input: 'x', max_output_tokens: 100 });
  assert.deepEqual(prepareUpstreamBody({ model: 'claude-haiku-4-5' }, attempt('claude-haiku-4-5', 'messages', 'anthropic'), settings(100)).body, { model: 'claude-haiku-4-5', max_tokens: 100 });
  const embeddings = prepareUpstreamBody({ model: 'text-embedding-3-small', input: 'x' }, attempt('text-embedding-3-small', 'embeddings'), settings(100));
  assert.equal(embeddings.changed, false);
  // The strict provider only accepts max_tokens.
  assert.equal(prepareUpstreamBody({ model: 'm1' }, attempt('strict:m1'), settings(100)).body.max_tokens, 100);
});

test('the billed output limit counts every choice generated (n, best_of)', () => {
  const a = attempt('gpt-4o');
  assert.equal(outputLimit({ max_tokens: 100 }, a, settings()), 100);
  assert.equal(outputLimit({ max_tokens: 100, n: 8 }, a, settings()), 800);
  assert.equal(outputLimit({ max_tokens: 100, n: 2, best_of: 5 }, a, settings()), 500);
  assert.equal(outputLimit({ max_tokens: 100, n: 1e9 }, a, settings()), 12_800, 'n beyond what the provider allows holds no more');
  assert.equal(outputLimit({ max_tokens: 100, n: '8' }, a, settings()), 100, 'not a number: one choice');
  // A translated request names its limit in its own surface's field (Responses' max_output_tokens for a chat model).
  assert.equal(outputLimit({ max_output_tokens: 16 }, a, settings(), 'responses'), 16);
  // Bedrock's Converse, translated for a chat model: the limit inside its inference settings, else the model's.
  assert.equal(outputLimit({ inferenceConfig: { maxTokens: 32 } }, a, settings(), 'converse-stream'), 32);
  assert.equal(outputLimit({ messages: [] }, a, settings(), 'converse'), 16_384);
});

test('a native Bedrock request (Converse, InvokeModel) is held for its output, whose fee it is billed: Converse\'s maxTokens, else the model\'s maximum, never the account\'s cap (not written into its body)', () => {
  const converse = attempt('amazon.nova-pro-v1:0', 'converse', 'bedrock');
  assert.equal(converse.candidate.surface.format, 'bedrock');
  assert.equal(outputLimit({ messages: [], inferenceConfig: { maxTokens: 32 } }, converse, settings(), 'converse'), 32);
  assert.equal(outputLimit({ messages: [] }, converse, settings(10), 'converse-stream'), 5000, 'Nova Pro\'s maximum: Bedrock never sees the cap of 10');
  const invoke = attempt('anthropic.claude-sonnet-4-6', 'invoke', 'bedrock');
  assert.equal(outputLimit({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, messages: [] }, invoke, settings(10), 'invoke-stream'), 128_000, 'the model\'s own field is not read: its maximum');
});

test('Claude from Opus 4.1 and the 4.5 generation on takes temperature or top_p, not both: top_p is removed and named', () => {
  const both = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [], temperature: 0.3, top_p: 0.9 };
  const r = prepareUpstreamBody(both, attempt('claude-sonnet-4-6', 'messages', 'anthropic'), settings());
  assert.deepEqual([r.body.temperature, 'top_p' in r.body, r.removed], [0.3, false, ['top_p']]);
  // A dated snapshot is the same model; the OpenAI-compatible surface forwards to it too.
  assert.deepEqual(prepareUpstreamBody({ ...both, model: 'claude-sonnet-4-5-20250929' }, attempt('claude-sonnet-4-5-20250929', 'messages', 'anthropic'), settings()).removed, ['top_p']);
  assert.deepEqual(prepareUpstreamBody({ ...both, model: 'claude-haiku-4-5' }, attempt('claude-haiku-4-5'), settings()).removed, ['top_p']);
  // One of them alone, or an older model, goes as sent.
  const alone = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [], top_p: 0.9 };
  assert.equal(prepareUpstreamBody(alone, attempt('claude-sonnet-4-6', 'messages', 'anthropic'), settings()).body, alone);
  assert.deepEqual(prepareUpstreamBody({ ...both, model: 'claude-sonnet-4-0' }, attempt('claude-sonnet-4-0', 'messages', 'anthropic'), settings()).removed, []);
});

test('Claude Opus 4.7 on and the Claude 5 line refuse sampling parameters: temperature, top_p and top_k are removed and named', () => {
  const sampled = { max_tokens: 10, messages: [], temperature: 0, top_p: 0.9, top_k: 5 };
  for (const model of ['claude-opus-5', 'claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-fable-5-2']) {
    const r = prepareUpstreamBody({ ...sampled, model }, attempt(model, 'messages', 'anthropic'), settings());
    assert.deepEqual([['temperature', 'top_p', 'top_k'].filter((k) => k in r.body), r.removed], [[], ['temperature', 'top_p', 'top_k']], model);
  }
  assert.deepEqual(prepareUpstreamBody({ ...sampled, model: 'claude-opus-4-6' }, attempt('claude-opus-4-6', 'messages', 'anthropic'), settings()).removed, ['top_p']);
});

test('Gemini Interactions: "store" goes up false whatever the client left it (omitted, null); the account\'s cap lands in generation_config.max_output_tokens; the model is the body\'s, as Google knows it', () => {
  const plan = attempt('google:gemini-2.5-flash', 'interactions', 'gemini');
  assert.equal(plan.candidate.surface.path, '/interactions');
  for (const store of [undefined, null]) {
    const r = prepareUpstreamBody({ model: 'google:gemini-2.5-flash', input: 'hi', ...(store === null ? { store } : {}) }, plan, settings());
    assert.deepEqual(r.body, { model: 'gemini-2.5-flash', input: 'hi', store: false });
  }
  const sent = { model: 'gemini-2.5-flash', input: 'hi', store: false };
  assert.equal(prepareUpstreamBody(sent, plan, settings()).body, sent, 'nothing to change');
  const capped = prepareUpstreamBody({ ...sent, generation_config: { max_output_tokens: 5000, temperature: 0.5 } }, plan, settings(100));
  assert.deepEqual(capped.body.generation_config, { max_output_tokens: 100, temperature: 0.5 });
  assert.deepEqual(prepareUpstreamBody(sent, plan, settings(100)).body.generation_config, { max_output_tokens: 100 });
  assert.equal(outputLimit({ ...sent, generation_config: { max_output_tokens: 50 } }, plan, settings()), 50);
});

test('Gemini: the cap lands in the generation settings Google reads, a null twin (proto JSON\'s "absent") left aside', () => {
  const plan = attempt('google:gemini-2.5-flash', 'generate-content', 'gemini');
  const r = prepareUpstreamBody({ contents: [], generationConfig: null, generation_config: { maxOutputTokens: 5000 } }, plan, settings(100));
  assert.deepEqual(r.body.generation_config, { maxOutputTokens: 100 });
  assert.equal(r.body.generationConfig, null);
});

test('a Messages body sent to Bedrock\'s InvokeModel keeps its max_tokens under the account\'s cap; a native InvokeModel body is left as the AWS SDK wrote it', () => {
  const plan = attempt('bedrock:anthropic.claude-sonnet-4-6', 'messages', 'anthropic');
  assert.equal(plan.candidate.surface.surface, 'invoke');
  const body = { anthropic_version: 'bedrock-2023-05-31', max_tokens: 5000, messages: [] };
  assert.equal(prepareUpstreamBody(body, plan, settings(100), 'messages').body.max_tokens, 100);
  assert.equal(prepareUpstreamBody(body, plan, settings(100)).body.max_tokens, 5000);
});

test('a Converse body translated for Nova on Bedrock keeps its output limit under the account\'s cap (the credit hold counts on it); a native Converse body is left as the AWS SDK wrote it', () => {
  const plan = attempt('bedrock:amazon.nova-pro-v1:0', 'messages', 'anthropic');
  assert.equal(plan.candidate.surface.surface, 'converse');
  const body = { messages: [], inferenceConfig: { maxTokens: 5000, temperature: 0.2 } };
  assert.deepEqual(prepareUpstreamBody(body, plan, settings(100), 'converse').body.inferenceConfig, { maxTokens: 100, temperature: 0.2 });
  assert.deepEqual(prepareUpstreamBody({ messages: [] }, plan, settings(100), 'converse').body.inferenceConfig, { maxTokens: 100 });
  assert.equal(prepareUpstreamBody({ ...body, inferenceConfig: { maxTokens: 50 } }, plan, settings(100), 'converse').changed, false);
  assert.equal(prepareUpstreamBody(body, plan, settings(100)).body, body);
  assert.equal(outputLimit({ max_tokens: 5000 }, plan, settings(100), 'messages'), 100, 'what the hold counts on');
});

test('a managed Responses request to a reasoning model asks for its reasoning encrypted (store: false keeps none); id-only reasoning items are left out; the account\'s own key sends it as it came', () => {
  const managed = (model: string): AttemptPlan => ({ ...attempt(model, 'responses'), keySource: 'ngrok' });
  const input = [{ role: 'user', content: 'x' }, { type: 'reasoning', id: 'rs_1', summary: [] }, { type: 'reasoning', id: 'rs_2', summary: [], encrypted_content: 'enc' }];
  const r = prepareUpstreamBody({ model: 'o3', input, include: ['file_search_call.results'] }, managed('o3'), settings());
  assert.deepEqual(r.body.include, ['file_search_call.results', 'reasoning.encrypted_content']);
  assert.deepEqual(r.body.input, [input[0], input[2]]);
  assert.deepEqual(r.removed, ['input.reasoning']);
  // Asked already: not twice. Not an array: the client's mistake, sent as it is for OpenAI to refuse.
  assert.deepEqual(prepareUpstreamBody({ model: 'gpt-5', input: 'x', include: ['reasoning.encrypted_content'] }, managed('gpt-5'), settings()).body.include, ['reasoning.encrypted_content']);
  assert.equal(prepareUpstreamBody({ model: 'gpt-5', input: 'x', include: 'oops' }, managed('gpt-5'), settings()).body.include, 'oops');
  // A model reasoning in no items: OpenAI refuses the include there.
  assert.equal(prepareUpstreamBody({ model: 'gpt-4o', input: 'x' }, managed('gpt-4o'), settings()).body.include, undefined);
  const own = prepareUpstreamBody({ model: 'o3', input }, attempt('o3', 'responses'), settings());
  assert.deepEqual([own.changed, own.removed], [false, []]);
});

test('unsigned thinking (a chat model\'s reasoning as the gateway answered it) does not reach Claude, at Anthropic or on Bedrock, which refuses a thinking block it did not sign; a custom Messages provider (Kimi\'s, DeepSeek\'s endpoint) gets it back', () => {
  const messages = [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'Only thought.', signature: '' }] },
    { role: 'user', content: 'Paris' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'Ask the tool.', signature: '' }, { type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'Sunny' }] },
  ];
  const body = { model: 'claude-sonnet-4-5', max_tokens: 2000, messages };
  const claude = prepareUpstreamBody(body, attempt('anthropic:claude-sonnet-4-5', 'messages', 'anthropic'), settings());
  assert.deepEqual(claude.body.messages, [messages[0], messages[2], { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }] }, messages[4]]);
  assert.deepEqual(claude.removed, ['messages.thinking']);
  assert.equal(body.messages, messages, 'the client\'s body untouched');
  const thinking = { type: 'enabled', budget_tokens: 1024 };
  const bedrock = attempt('bedrock:anthropic.claude-sonnet-4-6', 'messages', 'anthropic');
  assert.equal(bedrock.candidate.surface.surface, 'invoke');
  const onBedrock = prepareUpstreamBody({ ...body, thinking }, bedrock, settings());
  assert.deepEqual([onBedrock.body.thinking, onBedrock.removed], [undefined, ['messages.thinking', 'thinking']], 'its tool turn would not open with thinking');
  const custom = prepareUpstreamBody({ ...body, thinking }, attempt('kimi:kimi-k2-thinking', 'messages', 'anthropic'), settings());
  assert.deepEqual([custom.body.messages, custom.body.thinking, custom.removed], [messages, thinking, []]);
  const signed = { model: 'claude-sonnet-4-5', messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'x', signature: 'EqQB' }] }] };
  assert.equal(prepareUpstreamBody(signed, attempt('anthropic:claude-sonnet-4-5', 'messages', 'anthropic'), settings()).body, signed);
});

test('reasoning_effort "none" on a DeepSeek V4 model becomes DeepSeek\'s thinking switch turned off (its chat API has no `none` effort); a thinking the client sent wins; other models keep the field as sent', () => {
  const off = prepareUpstreamBody({ model: 'deepseek-v4-pro', messages: [], reasoning_effort: 'none' }, attempt('deepseek-v4-pro'), settings());
  assert.deepEqual([off.body.thinking, 'reasoning_effort' in off.body, off.removed], [{ type: 'disabled' }, false, []]);
  const own = prepareUpstreamBody({ model: 'deepseek-flash', messages: [], reasoning_effort: 'none', thinking: { type: 'enabled' } }, attempt('deepseek-flash'), settings());
  assert.deepEqual([own.body.thinking, 'reasoning_effort' in own.body], [{ type: 'enabled' }, false]);
  const high = prepareUpstreamBody({ model: 'deepseek-flash', messages: [], reasoning_effort: 'high' }, attempt('deepseek-flash'), settings());
  assert.deepEqual([high.body.thinking, high.body.reasoning_effort], [undefined, 'high']);
  for (const model of ['deepseek-chat', 'gpt-5.4']) {
    const kept = prepareUpstreamBody({ model, messages: [], reasoning_effort: 'none' }, attempt(model), settings());
    assert.deepEqual([kept.body.thinking, kept.body.reasoning_effort], [undefined, 'none'], model);
  }
});
