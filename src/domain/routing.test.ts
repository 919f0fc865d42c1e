import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates, type Candidate } from './resolve.ts';
import { planAttempts } from './routing.ts';
import { ollama, snapshot } from '../../test/helpers/snapshot.ts';
import type { ConfigurationState, StoredRouterRule } from '../state/types.ts';

const catalog = createCatalog({});
const account = snapshot({
  customProviders: [ollama],
  providerKeys: [
    { id: 'aigpk_o1', providerId: 'openai', value: 'sk-o1' },
    { id: 'aigpk_o2', providerId: 'openai', value: 'sk-o2' },
    { id: 'aigpk_a1', providerId: 'anthropic', value: 'sk-ant-1' },
    { id: 'aigpk_g1', providerId: 'groq', value: 'gsk-1' },
  ],
});
const bare = snapshot({ customProviders: [ollama] });
const managed = { openai: 'sk-managed-openai', anthropic: 'sk-managed-anthropic' };
const one = (name: string, acct = account): Candidate => resolveCandidates({ model: name, models: undefined, format: 'openai', surface: 'chat-completions' }, catalog, acct)[0]!;
const config = (rules: StoredRouterRule[] | null): ConfigurationState => ({ id: 'aigac_1', access: null, rules });
const summary = (r: ReturnType<typeof planAttempts>) => r.attempts.map((a) => (a.keySource === 'ngrok' ? 'ngrok' : a.providerKey?.id ?? `user:${a.credential}`));

test('defaults: account keys oldest first, then the managed key', () => {
  const r = planAttempts(one('gpt-4o'), null, account, managed);
  assert.deepEqual(summary(r), ['aigpk_o1', 'aigpk_o2', 'ngrok']);
  assert.equal(r.attempts[0]!.credential, 'sk-o1');
  assert.equal(r.attempts[2]!.credential, 'sk-managed-openai');
  assert.equal(r.problem, undefined);
  // A configuration without rules behaves the same.
  assert.deepEqual(summary(planAttempts(one('gpt-4o'), config(null), account, managed)), ['aigpk_o1', 'aigpk_o2', 'ngrok']);
});

test('defaults: no keys and no operator key for a managed provider → 27239; non-managed provider without keys → 27202', () => {
  const r = planAttempts(one('gpt-4o', bare), null, bare, {});
  assert.deepEqual(r.attempts, []);
  assert.equal(r.problem?.code, 'ERR_NGROK_27239');
  assert.equal(r.problem?.message, 'This gateway can\'t serve "gpt-4o" on provider "openai" with a managed key right now (its operator has set none for the provider). Add your own provider key to use it.');
  const g = planAttempts(one('llama-3.3-70b-versatile', bare), null, bare, managed);
  assert.equal(g.problem?.code, 'ERR_NGROK_27202');
  assert.equal(g.problem?.message, 'No keys available for provider "groq".');
  assert.deepEqual(summary(planAttempts(one('llama-3.3-70b-versatile'), null, account, managed)), ['aigpk_g1']);
});

test('managed steps refuse uncataloged (27233) and unpriced (27236) models', () => {
  const r = planAttempts(one('openai:gpt-5-preview', bare), null, bare, managed);
  assert.equal(r.problem?.code, 'ERR_NGROK_27233');
  // ngrok's wording: the model as the provider knows it, the provider named apart.
  assert.equal(r.problem?.message, 'Model "gpt-5-preview" is not available with a managed key for provider "openai": add your own provider key to use uncataloged models.');
  // With user keys the pass-through model is still served by them.
  assert.deepEqual(summary(planAttempts(one('openai:gpt-5-preview'), null, account, managed)), ['aigpk_o1', 'aigpk_o2']);
  const unpriced = snapshot({});
  const kimi = one('kimi-k2.6', unpriced);
  const forced = { ...kimi, provider: { ...kimi.provider, managed: true } };
  const k = planAttempts(forced, null, unpriced, { moonshotai: 'sk-m' });
  assert.equal(k.problem?.code, 'ERR_NGROK_27236');
  assert.match(k.problem!.message, /^Model "kimi-k2\.6" is not available with a managed key for provider "moonshotai": it has no published price to bill/);
});

test('custom providers: account keys, else one attempt without credentials', () => {
  const r = planAttempts(one('my-ollama:llama3.2'), null, account, managed);
  assert.equal(r.attempts.length, 1);
  assert.equal(r.attempts[0]!.keySource, 'user');
  assert.equal(r.attempts[0]!.credential, '');
  const withKey = snapshot({ customProviders: [ollama], providerKeys: [{ id: 'aigpk_c', providerId: 'my-ollama', value: 'ollama-secret' }] });
  assert.deepEqual(summary(planAttempts(one('my-ollama:llama3.2', withKey), null, withKey, managed)), ['aigpk_c']);
});

test('provider rule: steps in order, keys in order, deleted keys skipped', () => {
  const c = config([{ provider: 'openai', steps: [
    { type: 'ngrok' },
    { type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: 'aigpk_o2' }, { id: 'aigpk_deleted' }, { id: 'aigpk_o1' }] },
  ] }]);
  assert.deepEqual(summary(planAttempts(one('gpt-4o'), c, account, managed)), ['ngrok', 'aigpk_o2', 'aigpk_o1']);
  const userOnly = config([{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: 'aigpk_o1' }] }] }]);
  assert.deepEqual(summary(planAttempts(one('gpt-4o'), userOnly, account, managed)), ['aigpk_o1'], 'a rule replaces the defaults');
});

test('model rule beats provider rule, matched case-insensitively, author forms accepted', () => {
  const rules: StoredRouterRule[] = [
    { provider: 'openai', steps: [{ type: 'ngrok' }] },
    { model: 'openai:GPT-4o-mini', steps: [{ type: 'user', keys: [{ id: 'aigpk_o2' }] }] },
    { provider: 'openai', model: 'openai:openai/gpt-5.5', steps: [{ type: 'user', keys: [{ id: 'aigpk_o1' }] }] },
  ];
  assert.deepEqual(summary(planAttempts(one('gpt-4o-mini'), config(rules), account, managed)), ['aigpk_o2']);
  assert.deepEqual(summary(planAttempts(one('gpt-5.5'), config(rules), account, managed)), ['aigpk_o1']);
  assert.deepEqual(summary(planAttempts(one('gpt-4o'), config(rules), account, managed)), ['ngrok']);
  // Rules for another provider do not apply: defaults.
  assert.deepEqual(summary(planAttempts(one('claude-haiku-4-5'), config(rules), account, managed)), ['aigpk_a1', 'ngrok']);
});

test('each key appears once; keys of another provider are never used', () => {
  const c = config([{ provider: 'openai', steps: [
    { type: 'user', keys: [{ id: 'aigpk_o1' }, { id: 'aigpk_a1' }] },
    { type: 'ngrok' },
    { type: 'user', keys: [{ id: 'aigpk_o1' }, { id: 'aigpk_o2' }] },
    { type: 'ngrok' },
  ] }]);
  assert.deepEqual(summary(planAttempts(one('gpt-4o'), c, account, managed)), ['aigpk_o1', 'ngrok', 'aigpk_o2']);
});

test('rule problems: ngrok step without operator key → 27239; ngrok step on a provider never managed → 3819; only deleted keys → 3802', () => {
  const ngrokOnly = config([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
  assert.equal(planAttempts(one('gpt-4o'), ngrokOnly, account, {}).problem?.code, 'ERR_NGROK_27239');
  const deleted = config([{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: 'aigpk_gone' }] }] }]);
  const r = planAttempts(one('gpt-4o'), deleted, account, managed);
  assert.deepEqual(r.attempts, []);
  assert.equal(r.problem?.code, 'ERR_NGROK_3802');
  // Where to fix it: the configuration holding the rule is named.
  assert.match(r.problem!.message, new RegExp(`the routing rule for it in access key configuration "${deleted.id}" lists no usable keys`));
  const ngrokOnGroq = config([{ provider: 'groq', steps: [{ type: 'ngrok' }] }]);
  const groq = planAttempts(one('llama-3.3-70b-versatile'), ngrokOnGroq, account, managed).problem;
  assert.equal(groq?.code, 'ERR_NGROK_3819');
  // Like ngrok's, the message names the providers that do have managed keys here.
  assert.equal(groq?.message, 'Provider "groq" requires setup to use this managed key. Put a "groq" provider key in its routing rule in place of the managed step, or pick a provider this gateway serves with managed keys: anthropic, openai.');
  // A key the operator set for a provider never served with managed keys is not offered as one that is.
  assert.match(planAttempts(one('llama-3.3-70b-versatile'), ngrokOnGroq, account, { ...managed, groq: 'sk-groq' }).problem!.message, /with managed keys: anthropic, openai\.$/);
});

test('a stored key this gateway cannot decrypt (another TOLLGATE_SECRET_KEY) is a 500 for the operator, not a 400 about the routing', () => {
  const sealedElsewhere = snapshot({
    providerKeys: [{ id: 'aigpk_a1', providerId: 'anthropic', value: 'sk-ant-1' }],
    unreadableProviderKeys: { aigpk_o1: 'openai', aigpk_o2: 'openai' },
  });
  const ruled = config([{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: 'aigpk_o1' }, { id: 'aigpk_o2' }] }] }]);
  const r = planAttempts(one('gpt-4o', sealedElsewhere), ruled, sealedElsewhere, managed);
  assert.deepEqual(r.attempts, []);
  assert.deepEqual([r.problem?.status, r.problem?.code], [500, 'ERR_NGROK_27009']);
  assert.match(r.problem!.message, /stored API key for provider "openai" cannot be decrypted by this gateway \(it was sealed under another TOLLGATE_SECRET_KEY\)/);
  // Without a rule: the account's keys of the provider are all unreadable and no managed key is configured.
  const plain = planAttempts(one('gpt-4o', sealedElsewhere), null, sealedElsewhere, {});
  assert.deepEqual([plain.problem?.status, plain.problem?.code], [500, 'ERR_NGROK_27009']);
  // Another provider's unreadable key says nothing about this one; a step still served is served.
  assert.equal(planAttempts(one('gpt-4o', sealedElsewhere), null, sealedElsewhere, managed).attempts[0]?.keySource, 'ngrok');
  assert.equal(planAttempts(one('claude-sonnet-4-6', sealedElsewhere), null, sealedElsewhere, {}).attempts[0]?.providerKey?.id, 'aigpk_a1');
  const deleted = config([{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: 'aigpk_gone' }] }] }]);
  assert.equal(planAttempts(one('gpt-4o', sealedElsewhere), deleted, sealedElsewhere, managed).problem?.code, 'ERR_NGROK_3802');
});

test('custom provider rule by slug or resource id', () => {
  const withKey = snapshot({ customProviders: [ollama], providerKeys: [{ id: 'aigpk_c', providerId: 'my-ollama', value: 's' }, { id: 'aigpk_d', providerId: 'my-ollama', value: 't' }] });
  const bySlug = config([{ provider: 'my-ollama', steps: [{ type: 'user', keys: [{ id: 'aigpk_d' }] }] }]);
  assert.deepEqual(summary(planAttempts(one('my-ollama:llama3.2', withKey), bySlug, withKey, managed)), ['aigpk_d']);
  const byId = config([{ provider: 'aigp_ollama', steps: [{ type: 'user', keys: [{ id: 'aigpk_c' }] }] }]);
  assert.deepEqual(summary(planAttempts(one('my-ollama:llama3.2', withKey), byId, withKey, managed)), ['aigpk_c']);
});

test('audio input is refused on the managed key of a model that takes it at a price the catalog lacks (27238); an account key serves it', () => {
  const gemini = { ...managed, google: 'managed-google' };
  const flash = one('gemini-2.5-flash', bare);
  const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
  const refused = planAttempts(flash, null, bare, gemini, { messages: [{ role: 'user', content: [{ type: 'text', text: 'transcribe' }, audio] }] });
  assert.deepEqual(refused.attempts, []);
  assert.equal(refused.problem?.code, 'ERR_NGROK_27238');
  assert.match(refused.problem!.message, /^A managed key can't serve this request, because this gateway can't bill audio input for "gemini-2\.5-flash" on provider "google"/);
  // Audio as a file or an image data URL (chat), or as a Responses input file, is audio all the same.
  for (const part of [{ type: 'file', file: { file_data: 'data:audio/mpeg;base64,SUQz' } }, { type: 'image_url', image_url: { url: 'data:audio/wav;base64,UklGRg==' } }, { type: 'input_file', file_data: 'data:audio/ogg;base64,T2dn' }]) {
    const as = planAttempts(flash, null, bare, gemini, { messages: [{ role: 'user', content: [part] }], input: [{ role: 'user', content: [part] }] });
    assert.equal(as.problem?.code, 'ERR_NGROK_27238', JSON.stringify(part));
  }
  // Text and images (priced as input tokens) pass; so does audio on the account's own key.
  assert.deepEqual(summary(planAttempts(flash, null, bare, gemini, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] })), ['ngrok']);
  const own = snapshot({ providerKeys: [{ id: 'aigpk_google', providerId: 'google', value: 'g-own' }] });
  assert.deepEqual(summary(planAttempts(one('gemini-2.5-flash', own), null, own, gemini, { messages: [{ role: 'user', content: [audio] }] })), ['aigpk_google']);
});

test('Gemini audio parts are audio input too: inline or by file, under either of Google\'s names, in a turn, the system instruction or a function\'s response', () => {
  const gemini = { ...managed, google: 'managed-google' };
  const flash = resolveCandidates({ model: 'gemini-2.5-flash', models: undefined, format: 'gemini', surface: 'generate-content' }, catalog, bare)[0]!;
  const turn = (part: Record<string, unknown>) => ({ contents: [{ role: 'user', parts: [{ text: 'listen' }, part] }] });
  for (const ask of [
    turn({ inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } }),
    turn({ inline_data: { mime_type: 'AUDIO/MPEG', data: 'SUQz' } }),
    turn({ fileData: { fileUri: 'https://storage.googleapis.com/b/talk.mp3', mimeType: 'audio/mp3' } }),
    turn({ file_data: { file_uri: 'gs://b/talk.flac', mime_type: 'audio/flac' } }),
    turn({ functionResponse: { name: 'record', response: {}, parts: [{ inlineData: { mimeType: 'audio/ogg', data: 'T2dn' } }] } }),
    // A lone Content (Google reads it as a list of one), and the system instruction.
    { contents: { parts: { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } } } },
    { system_instruction: { parts: [{ inline_data: { mime_type: 'audio/wav', data: 'UklGRg==' } }] }, contents: [{ parts: [{ text: 'x' }] }] },
  ]) {
    const refused = planAttempts(flash, null, bare, gemini, ask);
    assert.equal(refused.problem?.code, 'ERR_NGROK_27238', JSON.stringify(ask));
    assert.match(refused.problem!.message, /audio input/);
  }
  // Images and video (priced as input tokens), and a part naming no MIME type, pass.
  for (const part of [{ inlineData: { mimeType: 'image/png', data: 'iVBO' } }, { fileData: { fileUri: 'https://youtu.be/x', mimeType: 'video/mp4' } }, { fileData: { fileUri: 'gs://b/unknown' } }]) {
    assert.deepEqual(summary(planAttempts(flash, null, bare, gemini, turn(part))), ['ngrok'], JSON.stringify(part));
  }
});

test('hosted tools on the managed key: OpenAI auto containers and Anthropic code execution beside a 2026-02-09+ web tool pass; file search, image generation, named containers, other code execution refused (27238)', () => {
  const responses = resolveCandidates({ model: 'gpt-4o', models: undefined, format: 'openai', surface: 'responses' }, catalog, bare)[0]!;
  const messages = resolveCandidates({ model: 'claude-haiku-4-5', models: undefined, format: 'anthropic', surface: 'messages' }, catalog, bare)[0]!;
  const plan = (candidate: Candidate, tools: unknown[]) => planAttempts(candidate, null, bare, managed, { tools });
  for (const tool of [{ type: 'code_interpreter', container: { type: 'auto' } }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '64g', file_ids: [] } }]) {
    assert.deepEqual(summary(plan(responses, [tool])), ['ngrok'], JSON.stringify(tool));
  }
  for (const tool of [{ type: 'file_search', vector_store_ids: ['vs_1'] }, { type: 'image_generation' }, { type: 'code_interpreter', container: 'cntr_1' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '2g' } }, { type: 'code_interpreter' }]) {
    const refused = plan(responses, [tool]);
    assert.equal(refused.problem?.code, 'ERR_NGROK_27238', JSON.stringify(tool));
    assert.match(refused.problem!.message, new RegExp(`hosted tool "${tool.type}"`));
  }
  const code = { type: 'code_execution_20250825', name: 'code_execution' };
  for (const web of ['web_search_20260209', 'web_fetch_20260209', 'web_search_20260318']) {
    assert.deepEqual(summary(plan(messages, [code, { type: web, name: 'w' }])), ['ngrok'], web);
  }
  for (const tools of [[code], [code, { type: 'web_search_20250305', name: 'web_search' }], [code, { type: 'web_fetch_20250910', name: 'web_fetch' }]]) {
    assert.equal(plan(messages, tools).problem?.code, 'ERR_NGROK_27238', JSON.stringify(tools));
  }
});

test('web search on the managed key only where the catalog prices a search; xAI\'s own per-call tools refused (27238): xAI bills them, the catalog holds no price for them', () => {
  const on = (model: string, surface: 'responses' | 'chat-completions') => resolveCandidates({ model, models: undefined, format: 'openai', surface }, catalog, bare)[0]!;
  const keys = { ...managed, xai: 'xai-managed', 'z-ai': 'zai-managed' };
  const plan = (candidate: Candidate, tools: unknown[]) => planAttempts(candidate, null, bare, keys, { tools });
  // OpenAI's and Anthropic's searches are priced (cost.ts): served.
  assert.deepEqual(summary(plan(on('gpt-5', 'responses'), [{ type: 'web_search' }])), ['ngrok']);
  assert.deepEqual(summary(plan(on('gpt-4o', 'responses'), [{ type: 'web_search_preview' }])), ['ngrok']);
  // xAI bills $5 per 1,000 web searches (docs.x.ai/developers/pricing): the catalog has no such price for Grok, so
  // each search would have cost the operator and been billed as nothing.
  for (const [model, surface, tool] of [
    ['grok-4', 'responses', { type: 'web_search' }], ['grok-4-1-fast-reasoning', 'responses', { type: 'x_search' }],
    ['grok-4', 'responses', { type: 'collections_search', collection_ids: ['c1'] }], ['grok-4', 'responses', { type: 'attachment_search' }],
    ['glm-4.6', 'chat-completions', { type: 'web_search', web_search: { enable: true } }],
  ] as const) {
    const refused = plan(on(model, surface), [tool]);
    assert.equal(refused.problem?.code, 'ERR_NGROK_27238', `${model} ${JSON.stringify(tool)}`);
    assert.match(refused.problem!.message, new RegExp(`hosted tool "${tool.type}" for "${model}"`));
  }
  // Functions cost tokens only; the account's own xAI key serves the searches (billed to that account).
  assert.deepEqual(summary(plan(on('grok-4', 'responses'), [{ type: 'function', name: 'f', parameters: {} }])), ['ngrok']);
  const own = snapshot({ providerKeys: [{ id: 'aigpk_x1', providerId: 'xai', value: 'xai-own' }] });
  assert.deepEqual(summary(planAttempts(resolveCandidates({ model: 'grok-4', models: undefined, format: 'openai', surface: 'responses' }, catalog, own)[0]!, null, own, keys, { tools: [{ type: 'x_search' }] })), ['aigpk_x1']);
});
