import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates, type ResolveInput, customBaseUrl } from './resolve.ts';
import { TollgateError } from './errors.ts';
import { autoSelectionOrder } from './auto-select.ts';
import { ollama, snapshot } from '../../test/helpers/snapshot.ts';
import type { CustomProviderState } from '../state/types.ts';
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';

const catalog = createCatalog({});
const account = snapshot({ customProviders: [ollama] });
const chat = (model: unknown, models?: unknown): ResolveInput => ({ model, models, format: 'openai', surface: 'chat-completions' });

/** The code and message a model name is refused with. */
function message(model: string): [string, string] {
  try { resolveCandidates(chat(model), catalog, account); } catch (e) { assert.ok(e instanceof TollgateError); return [e.code, e.message]; }
  assert.fail('expected a TollgateError');
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TollgateError, String(e));
    return e.code;
  }
  assert.fail('expected a TollgateError');
}

test('bare catalog names resolve to their default provider, case-insensitively', () => {
  const [c] = resolveCandidates(chat('GPT-4o'), catalog, account);
  assert.equal(c!.provider.id, 'openai');
  assert.equal(c!.modelId, 'gpt-4o');
  assert.equal(c!.requested, 'GPT-4o');
  assert.equal(c!.catalogModel?.id, 'gpt-4o');
  assert.equal(c!.surface.path, '/chat/completions');
  assert.equal(c!.provider.managed, true);
  assert.equal(c!.provider.custom, false);
  const [claude] = resolveCandidates(chat('claude-sonnet-4-6'), catalog, account);
  assert.equal(claude!.provider.id, 'anthropic');
  const [llama] = resolveCandidates(chat('meta-llama/llama-3.3-70b-versatile'), catalog, account);
  assert.equal(llama!.provider.id, 'groq');
  assert.equal(llama!.modelId, 'llama-3.3-70b-versatile');
});

test('provider:model pins the provider and splits on the first colon', () => {
  const [c] = resolveCandidates(chat('openai:gpt-4o'), catalog, account);
  assert.equal(c!.provider.id, 'openai');
  const [author] = resolveCandidates(chat('openai:openai/gpt-5.5'), catalog, account);
  assert.equal(author!.modelId, 'gpt-5.5');
  const [or] = resolveCandidates(chat('openrouter:anthropic/claude-3.5-sonnet:beta'), catalog, account);
  assert.equal(or!.provider.id, 'openrouter');
  assert.equal(or!.modelId, 'anthropic/claude-3.5-sonnet:beta');
  assert.equal(or!.catalogModel, undefined);
});

test('known provider with an uncataloged model passes the model through as-is', () => {
  const [c] = resolveCandidates(chat('openai:gpt-5-preview'), catalog, account);
  assert.equal(c!.modelId, 'gpt-5-preview');
  assert.equal(c!.catalogModel, undefined);
  assert.equal(c!.displayName, 'gpt-5-preview');
});

test('custom providers: declared models only, case-insensitive, surfaces from the provider', () => {
  const [c] = resolveCandidates(chat('my-ollama:LLAMA3.2'), catalog, account);
  assert.equal(c!.provider.id, 'my-ollama');
  assert.equal(c!.provider.custom, true);
  assert.equal(c!.provider.resourceId, 'aigp_ollama');
  assert.equal(c!.provider.baseUrl, 'http://127.0.0.1:11434/v1');
  assert.equal(c!.modelId, 'llama3.2');
  assert.equal(c!.surface.path, '/chat/completions');
  const [q] = resolveCandidates(chat('my-ollama:qwen3:8b'), catalog, account);
  assert.equal(q!.modelId, 'Qwen3:8b');
  assert.equal(code(() => resolveCandidates(chat('my-ollama:mistral'), catalog, account)), 'ERR_NGROK_27224');
  // A bare name declared by exactly one custom provider resolves to it.
  const [bare] = resolveCandidates(chat('llama3.2'), catalog, account);
  assert.equal(bare!.provider.id, 'my-ollama');
});

test('a custom model written as the access guides write it (my-ollama/llama3.2) is refused naming the address that works', () => {
  assert.deepEqual(message('my-ollama/LLAMA3.2'), ['ERR_NGROK_27224', 'Unknown model "my-ollama/LLAMA3.2". Did you mean "my-ollama:llama3.2"?']);
  assert.deepEqual(message('my-ollama/qwen3:8b'), ['ERR_NGROK_27224', 'Unknown model "my-ollama/qwen3:8b". Did you mean "my-ollama:Qwen3:8b"?']);
  assert.deepEqual(message('my-ollama/llama3.1'), ['ERR_NGROK_27224', 'Unknown model "my-ollama/llama3.1". Did you mean "my-ollama:llama3.2"?']);
});

test('a built-in provider\'s uncatalogued model written with a slash (openai/gpt-5-preview) is refused naming the pass-through address', () => {
  assert.deepEqual(message('openai/gpt-5-preview'), ['ERR_NGROK_27224', 'Unknown model "openai/gpt-5-preview". Did you mean "openai:gpt-5-preview"?']);
  assert.deepEqual(message('anthropic/claude-next'), ['ERR_NGROK_27224', 'Unknown model "anthropic/claude-next". Did you mean "anthropic:claude-next"?']);
  // A catalog model close to the name is the likelier meaning; a prefix that is not exactly a provider's id gets nothing.
  assert.deepEqual(message('openai/gpt-4o-mnii'), ['ERR_NGROK_27224', 'Unknown model "openai/gpt-4o-mnii". Did you mean "openai/gpt-4o-mini"?']);
  assert.deepEqual(message('OpenAI/gpt-5-preview'), ['ERR_NGROK_27224', 'Unknown model "OpenAI/gpt-5-preview".']);
  assert.deepEqual(message('nobody/gpt-5-preview'), ['ERR_NGROK_27224', 'Unknown model "nobody/gpt-5-preview".']);
});

test('custom provider without declared surfaces serves openai chat; declared surfaces map to paths', () => {
  const none: CustomProviderState = { ...ollama, id: 'aigp_x', providerId: 'plain', surfaces: [] };
  const anth: CustomProviderState = { ...ollama, id: 'aigp_y', providerId: 'proxy', surfaces: [{ format: 'anthropic', surface: 'messages', supportedParams: ['model', 'messages'] }] };
  const acct = snapshot({ customProviders: [none, anth] });
  const [c] = resolveCandidates(chat('plain:llama3.2'), catalog, acct);
  assert.equal(c!.surface.surface, 'chat-completions');
  // Declared by both: the bare name is refused, naming the two addresses that would work.
  assert.throws(() => resolveCandidates(chat('LLAMA3.2'), catalog, acct), (e: unknown) => e instanceof TollgateError && e.code === 'ERR_NGROK_27224'
    && e.message.includes('Unknown model "LLAMA3.2". Several of your providers declare it: name one, as "plain:llama3.2" or "proxy:llama3.2".'));
  const [m] = resolveCandidates({ model: 'proxy:llama3.2', models: undefined, format: 'anthropic', surface: 'messages' }, catalog, acct);
  assert.equal(m!.surface.path, '/messages');
  assert.equal(m!.provider.auth, 'x-api-key');
  assert.deepEqual(m!.surface.supportedParams, ['model', 'messages']);
  // A chat request reaches the Messages-only provider by translation (docs/decisions/translation.md)…
  assert.equal(resolveCandidates(chat('proxy:llama3.2'), catalog, acct)[0]!.surface.surface, 'messages');
  // …but no surface reaches embeddings.
  assert.equal(code(() => resolveCandidates({ model: 'proxy:llama3.2', models: undefined, format: 'openai', surface: 'embeddings' }, catalog, acct)), 'ERR_NGROK_27226');
});

test('type errors and a missing model are 3801', () => {
  assert.equal(code(() => resolveCandidates(chat(42), catalog, account)), 'ERR_NGROK_3801');
  assert.equal(code(() => resolveCandidates(chat('gpt-4o', 'gpt-4o-mini'), catalog, account)), 'ERR_NGROK_3801');
  assert.equal(code(() => resolveCandidates(chat('gpt-4o', ['gpt-4o-mini', 3]), catalog, account)), 'ERR_NGROK_3801');
  assert.equal(code(() => resolveCandidates(chat(undefined), catalog, account)), 'ERR_NGROK_3801');
  assert.equal(code(() => resolveCandidates(chat('ngrok/auto'), catalog, account)), 'ERR_NGROK_3801');
  // Automatic selection is the pipeline's (auto-select.ts): what reaches resolution without a model is refused.
  try {
    resolveCandidates(chat(undefined), catalog, account);
  } catch (e) {
    assert.match((e as Error).message, /"model" is required on this endpoint/);
  }
  assert.throws(() => resolveCandidates(chat('gpt-4o', ['ngrok/auto']), catalog, account), /as the request's "model" only, not as a fallback/);
});

test('models alone (no model) is accepted, in order', () => {
  const list = resolveCandidates(chat(undefined, ['gpt-4o-mini', 'claude-haiku-4-5']), catalog, account);
  assert.deepEqual(list.map((c) => c.modelId), ['gpt-4o-mini', 'claude-haiku-4-5']);
});

test('unparsable addresses are 27229', () => {
  for (const bad of [':gpt-4o', 'openai:', '', ' ', 'gpt 4o', ':', 'openai']) {
    assert.equal(code(() => resolveCandidates(chat(bad), catalog, account)), 'ERR_NGROK_27229', bad);
  }
});

test('unknown prefixes: 27225 when the model is known, 27230 when neither part is', () => {
  assert.equal(code(() => resolveCandidates(chat('nope:gpt-4o'), catalog, account)), 'ERR_NGROK_27225');
  assert.equal(code(() => resolveCandidates(chat('OpenAI:gpt-4o'), catalog, account)), 'ERR_NGROK_27225', 'provider ids are exact');
  assert.equal(code(() => resolveCandidates(chat('nope:whatever'), catalog, account)), 'ERR_NGROK_27230');
  // ngrok's wording names both parts.
  assert.throws(() => resolveCandidates(chat('nope:whatever'), catalog, account), { message: '"whatever" is not a known model, and "nope" is not a recognized provider.' });
});

test('unknown bare names are 27224 with a suggestion when close', () => {
  try {
    resolveCandidates(chat('gpt-4-o'), catalog, account);
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof TollgateError);
    assert.equal(e.code, 'ERR_NGROK_27224');
    assert.match(e.message, /Unknown model "gpt-4-o"\. Did you mean "gpt-4o"\?/);
  }
  try {
    resolveCandidates(chat('totally-unrelated-name'), catalog, account);
  } catch (e) {
    assert.equal((e as TollgateError).message, 'Unknown model "totally-unrelated-name".');
  }
});

const messagesInput = (model: string): ResolveInput => ({ model, models: undefined, format: 'anthropic', surface: 'messages' });

test('dated snapshots of catalogued models resolve as those models, sent upstream under the dated id', () => {
  for (const name of ['claude-haiku-4-5-20251001', 'anthropic:claude-haiku-4-5-20251001', 'CLAUDE-HAIKU-4-5-20251001']) {
    const [c] = resolveCandidates(messagesInput(name), catalog, account);
    assert.equal(c!.provider.id, 'anthropic');
    assert.equal(c!.modelId, 'claude-haiku-4-5-20251001');
    assert.deepEqual(c!.catalogModel?.priceMicro, catalog.findModel('claude-haiku-4-5')!.model.priceMicro);
  }
  const [mini] = resolveCandidates(chat('gpt-4o-mini-2024-07-18'), catalog, account);
  assert.equal(`${mini!.provider.id}:${mini!.modelId}`, 'openai:gpt-4o-mini-2024-07-18');
  // A snapshot priced unlike its alias is not catalogued: bare it is unknown, prefixed a pass-through.
  assert.equal(code(() => resolveCandidates(chat('gpt-4o-2024-05-13'), catalog, account)), 'ERR_NGROK_27224');
  assert.equal(resolveCandidates(chat('openai:gpt-4o-2024-05-13'), catalog, account)[0]!.catalogModel, undefined);
});

test('model then models[], de-duplicated', () => {
  const list = resolveCandidates(chat('gpt-4o', ['openai:GPT-4O', 'claude-sonnet-4-6', 'anthropic:claude-sonnet-4-6', 'gpt-4o-mini']), catalog, account);
  assert.deepEqual(list.map((c) => `${c.provider.id}:${c.modelId}`), ['openai:gpt-4o', 'anthropic:claude-sonnet-4-6', 'openai:gpt-4o-mini']);
});

test('candidates lacking the surface are dropped; none left is 27226', () => {
  const messages = (model: unknown, models?: unknown): ResolveInput => ({ model, models, format: 'anthropic', surface: 'messages' });
  // A model that serves chat completions but not Messages is reached by translation (its chat surface)…
  const list = resolveCandidates(messages('gpt-4o', ['claude-haiku-4-5']), catalog, account);
  assert.deepEqual(list.map((c) => [c.modelId, c.surface.path]), [['gpt-4o', '/chat/completions'], ['claude-haiku-4-5', '/messages']]);
  // …one that serves neither is still dropped.
  assert.deepEqual(resolveCandidates(messages('text-embedding-3-small', ['claude-haiku-4-5']), catalog, account).map((c) => c.modelId), ['claude-haiku-4-5']);
  assert.equal(code(() => resolveCandidates(messages('text-embedding-3-small'), catalog, account)), 'ERR_NGROK_27226');
  // Responses reach chat-completions models the same way; an embedding model is on neither.
  const responses: ResolveInput = { model: 'gemini-2.5-flash', models: undefined, format: 'openai', surface: 'responses' };
  assert.equal(resolveCandidates(responses, catalog, account)[0]!.surface.surface, 'chat-completions');
  assert.equal(code(() => resolveCandidates({ ...responses, model: 'text-embedding-3-small' }, catalog, account)), 'ERR_NGROK_27226');
  // A request that cannot be translated faithfully keeps only the models serving its surface, and says why.
  let asked = 0;
  const stateful: ResolveInput = { ...responses, models: ['gpt-4o'], body: {}, untranslatable: () => { asked++; return 'it continues a stored response'; } };
  assert.deepEqual(resolveCandidates(stateful, catalog, account).map((c) => [c.modelId, c.surface.surface]), [['gpt-4o', 'responses']]);
  assert.equal(asked, 1, 'asked only for the candidate that needed translating');
  try {
    resolveCandidates({ ...stateful, models: undefined }, catalog, account);
    assert.fail('resolved');
  } catch (e) {
    assert.match((e as Error).message, /^Model "gemini-2.5-flash" of provider "google" does not support API surface "responses", and this request cannot be translated for it: it continues a stored response\.$/);
  }
  // Model-level surfaces: embeddings models only on /embeddings, chat models not there.
  const embeddings: ResolveInput = { model: 'text-embedding-3-small', models: ['gpt-4o'], format: 'openai', surface: 'embeddings' };
  assert.deepEqual(resolveCandidates(embeddings, catalog, account).map((c) => c.modelId), ['text-embedding-3-small']);
  assert.equal(code(() => resolveCandidates(chat('text-embedding-3-small'), catalog, account)), 'ERR_NGROK_27226');
  // The message blames what lacks the surface: the model when its provider serves it, else the provider.
  const message = (input: ResolveInput) => { try { resolveCandidates(input, catalog, account); } catch (e) { return (e as Error).message; } return ''; };
  assert.match(message(chat('text-embedding-3-small')), /^Model "text-embedding-3-small" of provider "openai" does not support API surface "chat-completions"/);
  assert.match(message({ model: 'gpt-4o', models: undefined, format: 'openai', surface: 'embeddings' }), /^Model "gpt-4o" of provider "openai" does not support API surface "embeddings"/);
  assert.match(message(messages('text-embedding-3-small')), /^Provider "openai" does not support API surface "messages"\.$/);
  // Anthropic serves the OpenAI chat surface too.
  assert.equal(resolveCandidates(chat('claude-haiku-4-5'), catalog, account)[0]!.surface.path, '/chat/completions');
});

test('base URL overrides reach the resolved provider', () => {
  const c = createCatalog({ openai: 'http://127.0.0.1:1234/v1' });
  assert.equal(resolveCandidates(chat('gpt-4o'), c, account)[0]!.provider.baseUrl, 'http://127.0.0.1:1234/v1');
});

test('chat completions naming a Bedrock model: Gemma 4 and other uncatalogued ids on Bedrock\'s OpenAI-compatible endpoint; Claude (catalogued or not) and ARNs through InvokeModel', () => {
  const served = (model: string) => {
    const [c] = resolveCandidates({ ...chat(model), body: { messages: [] } }, catalog, account);
    return [c!.surface.format, c!.surface.surface];
  };
  assert.deepEqual(served('bedrock:google.gemma-4-31b'), ['openai', 'chat-completions']);
  assert.deepEqual(served('google.gemma-4-31b'), ['openai', 'chat-completions']);
  assert.deepEqual(served('bedrock:openai.gpt-oss-120b-1:0'), ['openai', 'chat-completions']);
  assert.deepEqual(served('bedrock:anthropic.claude-sonnet-4-6'), ['bedrock', 'invoke']);
  assert.deepEqual(served('bedrock:anthropic.claude-3-haiku-20240307-v1:0'), ['bedrock', 'invoke']);
  assert.deepEqual(served('bedrock:us.anthropic.claude-3-7-sonnet-20250219-v1:0'), ['bedrock', 'invoke']);
  assert.deepEqual(served('bedrock:arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc'), ['bedrock', 'invoke']);
  // Messages clients: Claude on InvokeModel as before, Gemma 4 through chat completions.
  const messages = (model: string) => resolveCandidates({ model, models: undefined, format: 'anthropic', surface: 'messages', body: { messages: [] } }, catalog, account)[0]!.surface.surface;
  assert.deepEqual([messages('bedrock:anthropic.claude-sonnet-4-6'), messages('bedrock:google.gemma-4-31b')], ['invoke', 'chat-completions']);
  // Gemma 4 has no Converse or InvokeModel on Bedrock (AWS's model card): InvokeModel's path is refused before Bedrock.
  assert.throws(() => resolveCandidates({ model: 'bedrock:google.gemma-4-31b', models: undefined, format: 'bedrock', surface: 'invoke' }, catalog, account), TollgateError);
  // Named only: automatic selection never picks a Bedrock model, Gemma 4 (the cheapest chat fit) included.
  const auto = autoSelectionOrder(catalog, { messages: [{ role: 'user', content: 'hello' }] }, 'chat-completions').addresses;
  assert.ok(auto.length > 0 && !auto.some((a) => a.startsWith('bedrock:')));
});

test('chat completions and Messages naming an uncatalogued Bedrock model the OpenAI-compatible endpoint does not serve: GovCloud\'s Claude profiles on InvokeModel, Cohere\'s and AI21\'s models on Converse', () => {
  const served = (model: string, format: ApiFormat = 'openai', surface: ApiSurface = 'chat-completions') => {
    const [c] = resolveCandidates({ model, models: undefined, format, surface, body: { messages: [] } }, catalog, account);
    return [c!.surface.format, c!.surface.surface];
  };
  assert.deepEqual(served('bedrock:us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0'), ['bedrock', 'invoke']);
  assert.deepEqual(served('bedrock:us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic', 'messages'), ['bedrock', 'invoke']);
  assert.deepEqual(served('bedrock:cohere.command-r-plus-v1:0'), ['bedrock', 'converse']);
  assert.deepEqual(served('bedrock:ai21.jamba-1-5-large-v1:0', 'anthropic', 'messages'), ['bedrock', 'converse']);
  assert.deepEqual(served('bedrock:us-gov.meta.llama3-8b-instruct-v1:0'), ['bedrock', 'converse']);
  // An ARN that names its model: by that model; an application profile's says nothing, and stays Claude's.
  assert.deepEqual(served('bedrock:arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0'), ['bedrock', 'converse']);
  assert.deepEqual(served('bedrock:arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0'), ['bedrock', 'converse']);
  assert.deepEqual(served('bedrock:arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6'), ['bedrock', 'invoke']);
  // The open-weight models the endpoint serves still go there.
  assert.deepEqual(served('bedrock:mistral.mistral-large-3-675b-instruct'), ['openai', 'chat-completions']);
});

test('a custom provider given a bare origin is called under /v1 (Ollama, vLLM, LM Studio); a path is used as given', () => {
  assert.equal(customBaseUrl('https://my-ollama.internal'), 'https://my-ollama.internal/v1');
  assert.equal(customBaseUrl('http://127.0.0.1:11434/'), 'http://127.0.0.1:11434/v1');
  assert.equal(customBaseUrl('https://api.example.com/v1/'), 'https://api.example.com/v1');
  assert.equal(customBaseUrl('https://api.example.com/openai'), 'https://api.example.com/openai');
  assert.equal(customBaseUrl('https://my.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01'), 'https://my.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01');
  assert.equal(customBaseUrl('https://x.example.com?api-version=1'), 'https://x.example.com/v1?api-version=1');
});

test('a chat request asking for structured output goes to Claude\'s own API (translated), not the compatibility endpoint that ignores response_format', () => {
  const untranslatable = (_surface: unknown, body: Record<string, unknown>) => (body.functions !== undefined ? 'legacy functions' : undefined);
  const surfaceFor = (body: Record<string, unknown>) => resolveCandidates({ ...chat('claude-sonnet-4-6'), body, untranslatable }, catalog, account)[0]!.surface;
  assert.equal(surfaceFor({ messages: [] }).surface, 'chat-completions', 'otherwise the provider\'s own chat endpoint');
  assert.equal(surfaceFor({ messages: [], response_format: { type: 'text' } }).surface, 'chat-completions');
  for (const type of ['json_schema', 'json_object']) {
    const surface = surfaceFor({ messages: [], response_format: { type, json_schema: { name: 'x', schema: { type: 'object' } } } });
    assert.deepEqual([surface.format, surface.surface], ['anthropic', 'messages'], type);
  }
  // A request the translation cannot carry stays where it was.
  assert.equal(surfaceFor({ messages: [], functions: [], response_format: { type: 'json_object' } }).surface, 'chat-completions');
  // An OpenAI model's own chat endpoint honours response_format: nothing changes there.
  assert.equal(resolveCandidates({ ...chat('gpt-4o'), body: { messages: [], response_format: { type: 'json_object' } }, untranslatable }, catalog, account)[0]!.surface.surface, 'chat-completions');
});

test('a virtual model\'s name becomes its targets in order, where it stands among model and models, each naming it', () => {
  const withVirtual = snapshot({
    customProviders: [ollama],
    virtualModels: [{ id: 'aigvm_1', name: 'chat-default', targets: ['anthropic:claude-sonnet-4-6', 'gpt-4o', 'my-ollama:llama3.2'] }],
  });
  const list = resolveCandidates(chat('gpt-4o-mini', ['Chat-Default', 'gpt-4o']), catalog, withVirtual);
  assert.deepEqual(list.map((c) => [c.requested, c.modelId, c.virtualModel]), [
    ['gpt-4o-mini', 'gpt-4o-mini', undefined],
    ['anthropic:claude-sonnet-4-6', 'claude-sonnet-4-6', 'chat-default'],
    ['gpt-4o', 'gpt-4o', 'chat-default'],
    ['my-ollama:llama3.2', 'llama3.2', 'chat-default'],
  ], 'the later plain gpt-4o is the same candidate as the target: tried once');
  // A target that no longer names a model (its provider deleted since) is skipped like an unknown fallback.
  const skipped: string[] = [];
  const stale = snapshot({ virtualModels: [{ id: 'aigvm_2', name: 'stale', targets: ['my-ollama:llama3.2', 'gpt-4o'] }] });
  assert.deepEqual(resolveCandidates(chat('stale'), catalog, stale, skipped).map((c) => c.modelId), ['gpt-4o']);
  assert.deepEqual(skipped, ['my-ollama:llama3.2']);
  // Without one of that name, the name is an unknown model as before.
  assert.equal(code(() => resolveCandidates(chat('chat-default'), catalog, account)), 'ERR_NGROK_27224');
});

test('Gemini\'s native paths: :embedContent rides on :batchEmbedContents, :countTokens reaches Claude\'s count_tokens, and "ngrok/auto" is refused as what those paths do not serve', () => {
  const gemini = (model: string, surface: ResolveInput['surface']): ResolveInput => ({ model, models: undefined, format: 'gemini', surface });
  const [single] = resolveCandidates(gemini('gemini-embedding-001', 'embed-content'), catalog, account);
  assert.deepEqual([single!.provider.id, single!.surface.surface, single!.surface.path], ['google', 'embed-content', '/models/{model}:embedContent']);
  assert.equal(code(() => resolveCandidates(gemini('gemini-2.5-flash', 'embed-content'), catalog, account)), 'ERR_NGROK_3813');
  const [claude] = resolveCandidates(gemini('claude-sonnet-4-6', 'count-tokens'), catalog, account);
  assert.deepEqual([claude!.surface.format, claude!.surface.surface, claude!.surface.path], ['anthropic', 'count-tokens', '/messages/count_tokens']);
  assert.equal(code(() => resolveCandidates(gemini('gpt-4o', 'count-tokens'), catalog, account)), 'ERR_NGROK_3813');

  const refusal = (input: ResolveInput, acct = account): string => {
    try { resolveCandidates(input, catalog, acct); } catch (e) { assert.ok(e instanceof TollgateError); return e.message; }
    assert.fail('expected a TollgateError');
  };
  const onPath = /"ngrok\/auto" \(automatic model selection\),? (which )?is not served on Gemini's native API/;
  for (const surface of ['generate-content', 'stream-generate-content', 'embeddings', 'embed-content'] as const) {
    assert.match(refusal(gemini('ngrok/auto', surface)), onPath, surface);
    assert.doesNotMatch(refusal(gemini('ngrok/auto', surface)), /fallback|token counting/, surface);
  }
  const withAuto = snapshot({ virtualModels: [{ id: 'aigvm_auto', name: 'auto-pick', targets: ['ngrok/auto'] }] });
  assert.match(refusal(gemini('auto-pick', 'generate-content'), withAuto), /virtual model "auto-pick" stands for "ngrok\/auto" \(automatic model selection\), which is not served on Gemini's native API .*"gemini-2\.5-flash"\.$/);
  assert.match(refusal(gemini('auto-pick', 'embed-content'), withAuto), /"gemini-embedding-001"\.$/);
  // Token counting (either format) and Interactions (its model in the body, as chat's) keep what they were told.
  assert.match(refusal(gemini('auto-pick', 'count-tokens'), withAuto), /which does not count tokens: name a model\.$/);
  assert.match(refusal(gemini('ngrok/auto', 'count-tokens')), /not for token counting: name a model\.$/);
  assert.match(refusal({ model: 'gemini-2.5-flash', models: ['ngrok/auto'], format: 'gemini', surface: 'interactions' }), /not as a fallback in "models"/);
  assert.match(refusal({ model: undefined, models: ['auto-pick'], format: 'openai', surface: 'chat-completions' }, withAuto), /which is taken as the request's "model" only, not as a fallback in "models"\.$/);
});
