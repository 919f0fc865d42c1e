// Resolution, scope, routing rules, failover, error mapping when everything fails, timeouts, parameter
// stripping, token caps and billing — driven through the SDKs where they matter, on SQLite.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { grantUntilServed, gw, startHarness, type Harness } from './helpers/gateway.ts';
import { rawHttp } from './helpers/raw-http.ts';
import { FAKE_ADVISOR_USAGE, FAKE_TOKEN_COUNT, FAKE_USAGE, FAKE_WEB_SEARCHES } from './fake-upstream.ts';
import { grantCredits } from '../src/store/credits.ts';
import { openStore, sqliteHandle } from '../src/store/database.ts';
import { ChangeBus } from '../src/state/changes.ts';
import { redactSecret } from '../src/domain/ids.ts';
import { UsageJournal } from '../src/usage/journal.ts';
import { providerKeyBinding, SecretBox } from '../src/domain/secret-box.ts';
import { MAX_COOL_MS } from '../src/gateway/key-cooldown.ts';

const chat = (model: string, extra: Record<string, unknown> = {}, content = 'hello') => ({ model, messages: [{ role: 'user' as const, content }], ...extra });
const countParams = (model: string) => ({ model, system: 'be brief', messages: [{ role: 'user' as const, content: 'count me' }] });

describe('gateway routing and failover (sqlite)', () => {
  let h: Harness;
  let token: string;
  const keys: Record<string, string> = {};
  const sdk = (t: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 0 });
  /** An access key whose configuration routes with the given rules (key names → ids). */
  const keyWith = async (rules: unknown[], access?: unknown) => (await h.accessKey(await h.configuration({ router: { rules }, ...(access ? { access } : {}) }))).token;
  const user = (...names: string[]) => ({ type: 'user', keys: names.map((n) => ({ id: keys[n] })) });

  const secretKey = 'ab'.repeat(32);

  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_SECRET_KEY: secretKey });
    token = (await h.accessKey()).token;
    for (const [name, provider] of [['sk-429', 'openai'], ['sk-401', 'openai'], ['sk-500', 'openai'], ['sk-reset', 'openai'], ['sk-good-a', 'openai'], ['sk-good-b', 'openai'], ['sk-429b', 'openai'], ['sk-402', 'openai'], ['sk-anth-good', 'anthropic'], ['sk-429-anth', 'anthropic'], ['sk-429-ms', 'openai'], ['sk-quota', 'openai'], ['sk-quota-anth', 'anthropic'], ['sk-429-reset', 'openai'], ['sk-529-anth', 'anthropic'], ['sk-429-gemini', 'openai']] as const) {
      const value = name === 'sk-429b' ? 'sk-429' : name === 'sk-429-anth' ? 'sk-429' : name === 'sk-quota-anth' ? 'sk-quota' : name === 'sk-529-anth' ? 'sk-529' : name;
      keys[name] = await h.providerKey(provider, value, name);
    }
  });
  after(async () => { await h.close(); });
  // The keys are the harness's, across tests: each test starts with none of them cooling after an earlier one's 429.
  beforeEach(() => h.coolingClock.advance(MAX_COOL_MS));

  test('model resolution errors carry their codes', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    const cases: [unknown, number, string][] = [
      [chat('gpt-4oo'), 400, 'ERR_NGROK_27224'],
      [chat('nope:gpt-4o'), 400, 'ERR_NGROK_27225'],
      [chat('foo:bar'), 400, 'ERR_NGROK_27230'],
      [{ messages: [{ role: 'user', content: 'x' }], models: ['ngrok/auto'] }, 400, 'ERR_NGROK_3801'],
      [chat('gpt-4o', { models: 'gpt-4o-mini' }), 400, 'ERR_NGROK_3801'],
    ];
    for (const [body, status, code] of cases) {
      const r = await gw(h, '/v1/chat/completions', { token: t, body });
      assert.equal(r.status, status, r.text);
      assert.equal(r.json().error.code, code, r.text);
    }
    // An unknown name among several is skipped (and reported) while another serves; with none left, the first
    // one's error is the answer.
    const typoFallback = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { models: ['gpt-4o-mnii', 'mistral:large'] }) });
    assert.equal(typoFallback.status, 200, typoFallback.text);
    assert.equal(typoFallback.headers.get('ngrok-aig-rejected-models'), 'gpt-4o-mnii, mistral:large');
    const typoPrimary = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4oo', { models: ['gpt-4o-mini'] }) });
    assert.equal(typoPrimary.status, 200, typoPrimary.text);
    assert.deepEqual([typoPrimary.headers.get('ngrok-aig-model'), typoPrimary.headers.get('ngrok-aig-rejected-models')], ['gpt-4o-mini', 'gpt-4oo']);
    const none = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4oo', { models: ['mistral:large'] }) });
    assert.equal(none.status, 400);
    assert.equal(none.json().error.code, 'ERR_NGROK_27224');
    const suggest = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4oo') });
    assert.match(suggest.json().error.message, /Did you mean/);
    // The Messages surface reaches a chat model by translation (gateway-translation.test.ts), never an embedding model.
    const m = await gw(h, '/v1/messages', { headers: { 'x-api-key': t }, body: { model: 'text-embedding-3-small', max_tokens: 5, messages: [] } });
    assert.equal(m.status, 400);
    assert.equal(m.json().type, 'error');
    assert.equal(m.json().error.code, 'ERR_NGROK_27226');
    await assert.rejects(sdk(t).chat.completions.create(chat('gpt-4oo')), (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27224/.test(e.message));
  });

  test('ngrok/auto (or no model): the prompt\'s price band, cheapest model first, one model a provider, within the key\'s scope and credentials', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = sdk(managed);
    // A greeting: the low band's cheapest model the key reaches (managed OpenAI and Anthropic here): GPT-5 nano, $0.05.
    const hello = await client.chat.completions.create({ model: 'ngrok/auto', messages: [{ role: 'user', content: 'hello!' }] }).withResponse();
    assert.equal(hello.response.headers.get('ngrok-aig-model'), 'gpt-5-nano');
    assert.equal(h.fake.requests.at(-1)!.body!.model, 'gpt-5-nano', 'the provider is asked for the chosen model');
    const [row] = await h.usage(hello.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.model, row!.keySource], ['gpt-5-nano', 'ngrok']);
    // A proof: the high band's cheapest, Claude Opus 5.5 ($4), for a chat client too.
    const proof = await client.chat.completions.create({ model: 'ngrok/auto', messages: [{ role: 'user', content: 'Prove that there are infinitely many primes.' }] }).withResponse();
    assert.equal(proof.response.headers.get('ngrok-aig-model'), 'claude-opus-5-5');
    assert.equal(h.fake.requests.at(-1)!.body!.model, 'claude-opus-5-5');
    // Code: the medium band's cheapest ($1: Claude Haiku 4.5).
    const code = await gw(h, '/v1/chat/completions', { token: managed, body: { model: 'NGROK/AUTO', messages: [{ role: 'user', content: 'Write a SQL query listing customers with more than 3 orders' }] } });
    assert.equal(code.headers.get('ngrok-aig-model'), 'claude-haiku-4-5', code.text);
    // No model at all on chat, Messages and Responses is the same request.
    const bare = await gw(h, '/v1/chat/completions', { token: managed, body: { messages: [{ role: 'user', content: 'hi' }] } });
    assert.deepEqual([bare.status, bare.headers.get('ngrok-aig-model')], [200, 'gpt-5-nano']);
    const messages = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] } });
    assert.deepEqual([messages.status, messages.json().type], [200, 'message'], messages.text);
    const responses = await client.responses.create({ model: 'ngrok/auto', input: 'hi' });
    assert.match(responses.output_text, /gpt-5-nano/);
    // The key's scope narrows the choice: Anthropic only → its cheapest low-band model.
    const scoped = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }))).token;
    const anthropicOnly = await gw(h, '/v1/chat/completions', { token: scoped, body: { model: 'ngrok/auto', messages: [{ role: 'user', content: 'hello!' }] } });
    assert.equal(anthropicOnly.headers.get('ngrok-aig-model'), 'claude-haiku-5-5');
    // Failover: when the first choice's provider fails, the next provider's cheapest model serves (one model a
    // provider: not the next OpenAI model behind the same rate limit).
    const limited = await keyWith([{ provider: 'openai', steps: [user('sk-429')] }]);
    const failover = await gw(h, '/v1/chat/completions', { token: limited, body: { model: 'ngrok/auto', messages: [{ role: 'user', content: 'hello!' }] } });
    assert.deepEqual([failover.status, failover.headers.get('ngrok-aig-model'), failover.headers.get('ngrok-aig-attempts')], [200, 'claude-haiku-5-5', '2'], failover.text);
    assert.equal(failover.headers.get('ngrok-aig-rejected-models'), null, 'models passed over were never asked for');
    // The request's `models` come after the chosen ones: when every chosen model fails, the fallback serves.
    const failing = await keyWith([
      { provider: 'openai', steps: [user('sk-500')] },
      { provider: 'anthropic', steps: [user('sk-529-anth')] },
      { model: 'openai:gpt-4o', steps: [user('sk-good-a')] },
    ]);
    const withFallback = await gw(h, '/v1/chat/completions', { token: failing, body: { model: 'ngrok/auto', models: ['gpt-4o'], messages: [{ role: 'user', content: 'hello!' }] } });
    assert.deepEqual([withFallback.status, withFallback.headers.get('ngrok-aig-model'), withFallback.headers.get('ngrok-aig-attempts'), withFallback.headers.get('ngrok-aig-rejected-models')], [200, 'gpt-4o', '3', null], withFallback.text);
    // And when automatic selection finds nothing that fits (audio here), the fallback is the answer.
    const audioFallback = await gw(h, '/v1/chat/completions', { token: managed, body: { model: 'ngrok/auto', models: ['gpt-4o'], messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] } });
    assert.deepEqual([audioFallback.status, audioFallback.headers.get('ngrok-aig-model')], [200, 'gpt-4o'], audioFallback.text);
    // The fallback list is checked as without automatic selection; a fallback that cannot serve is reported.
    for (const models of ['gpt-4o', [3], ['ngrok/auto']]) {
      const bad = await gw(h, '/v1/chat/completions', { token: managed, body: { model: 'ngrok/auto', models, messages: [{ role: 'user', content: 'hello!' }] } });
      assert.deepEqual([bad.status, bad.json().error.code], [400, 'ERR_NGROK_3801'], JSON.stringify(models));
    }
    const typo = await gw(h, '/v1/chat/completions', { token: managed, body: { model: 'ngrok/auto', models: ['gpt-4oo'], messages: [{ role: 'user', content: 'hello!' }] } });
    assert.deepEqual([typo.status, typo.headers.get('ngrok-aig-rejected-models')], [200, 'gpt-4oo']);
    // Responses: a model serving Responses natively, so the conversation can go on with previous_response_id — on
    // the account's own OpenAI key: a managed key keeps no response to continue (gateway-routing.md, "Stored state").
    const own = sdk(await keyWith([{ provider: 'openai', steps: [user('sk-good-a'), { type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }]));
    const first = await own.responses.create({ model: 'ngrok/auto', input: 'Prove that the square root of 2 is irrational.' }).withResponse();
    assert.equal(first.response.headers.get('ngrok-aig-model'), 'gpt-5.5', 'the high band\'s cheapest OpenAI model, not Claude Opus through translation');
    const next = await own.responses.create({ model: 'ngrok/auto', previous_response_id: first.data.id, input: 'Now prove it for the square root of 3.' });
    assert.match(next.output_text, /gpt-5\.5/);
    await assert.rejects(client.responses.create({ model: 'ngrok/auto', previous_response_id: first.data.id, input: 'Now prove it for the square root of 3.' }), (e: unknown) => e instanceof OpenAI.BadRequestError && /previous_response_id/.test(e.message));
    // Nothing the key may use: a 400 that says what to do, before any upstream call.
    const before = h.fake.requests.length;
    const none = await gw(h, '/v1/chat/completions', { token: (await h.accessKey(await h.configuration({ access: { models: { allow: ['nobody:x'] } } }))).token, body: { model: 'ngrok/auto', messages: [{ role: 'user', content: 'hello!' }] } });
    assert.equal(none.status, 400);
    assert.match(none.json().error.message, /ERR_NGROK_3801.*automatic model selection .* found no catalogued model this access key may use/);
    assert.equal(h.fake.requests.length, before);
  });

  test('scope: refused providers and models are 403 before any upstream call; skipped fallbacks are reported', async () => {
    h.fake.reset();
    const onlyAnthropic = await keyWith([], { providers: { allow: ['anthropic'] } });
    await assert.rejects(sdk(onlyAnthropic).chat.completions.create(chat('gpt-4o')), (e: unknown) => e instanceof OpenAI.PermissionDeniedError && e.code === 'ERR_NGROK_27231');
    const onlyMini = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }], { models: { allow: ['openai/gpt-4o-mini'] } });
    const denied = await gw(h, '/v1/chat/completions', { token: onlyMini, body: chat('gpt-4o') });
    assert.equal(denied.status, 403);
    assert.equal(denied.json().error.code, 'ERR_NGROK_27232');
    assert.equal(h.fake.requests.length, 0);
    const fallback = await gw(h, '/v1/chat/completions', { token: onlyMini, body: chat('gpt-4o', { models: ['gpt-4o-mini'] }) });
    assert.equal(fallback.status, 200);
    assert.equal(fallback.headers.get('ngrok-aig-rejected-models'), 'gpt-4o');
    assert.equal(fallback.headers.get('ngrok-aig-model'), 'gpt-4o-mini');
    assert.equal(h.fake.requests[0]!.body!.model, 'gpt-4o-mini');
    assert.equal(h.fake.requests[0]!.body!.models, undefined, 'models[] is not sent upstream');
    // A candidate that does not serve the surface (an embedding model on chat) is reported as skipped too.
    const compat = await gw(h, '/v1/chat/completions', { token: onlyMini, body: chat('text-embedding-3-small', { models: ['gpt-4o', 'gpt-4o-mini'] }) });
    assert.equal(compat.status, 200);
    assert.equal(compat.headers.get('ngrok-aig-rejected-models'), 'text-embedding-3-small, gpt-4o');
    // So is one no credential can serve: an uncatalogued model the managed key may not bill.
    const managedOnly = await keyWith([{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }, { provider: 'openai', steps: [user('sk-good-a')] }]);
    const unserved = await gw(h, '/v1/chat/completions', { token: managedOnly, body: chat('anthropic:claude-unreleased-9', { models: ['gpt-4o-mini'] }) });
    assert.equal(unserved.status, 200, unserved.text);
    assert.equal(unserved.headers.get('ngrok-aig-rejected-models'), 'anthropic:claude-unreleased-9');
    assert.equal(unserved.headers.get('ngrok-aig-model'), 'gpt-4o-mini');
    const both = await gw(h, '/v1/chat/completions', { token: onlyMini, body: chat('gpt-4o', { models: ['anthropic:claude-unreleased-9', 'gpt-4o-mini'] }) });
    assert.equal(both.headers.get('ngrok-aig-rejected-models'), 'gpt-4o, anthropic:claude-unreleased-9');
  });

  test('scope as an ngrok user writes it: a tagged custom model allowed as provider/model, refusals naming the configuration and the entry to add', async () => {
    await h.api('POST', '/providers', {
      providerId: 'tagged-ollama', name: 'Ollama with tags', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }], models: [{ modelId: 'qwen3:8b' }, { modelId: 'llama3.2:3b' }],
    });
    const configurationId = await h.configuration({ access: { models: { allow: ['tagged-ollama/qwen3:8b', 'openai/gpt-4o-mini'] } } });
    const t = (await h.accessKey(configurationId)).token;
    h.fake.reset();
    const served = await sdk(t).chat.completions.create({ model: 'tagged-ollama:qwen3:8b', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(served.response.headers.get('ngrok-aig-model'), 'qwen3:8b');
    assert.equal(h.fake.requests[0]!.body!.model, 'qwen3:8b');
    const listed = await sdk(t).models.list();
    assert.ok(listed.data.some((m) => m.id === 'tagged-ollama:qwen3:8b' || m.id === 'qwen3:8b'), JSON.stringify(listed.data.map((m) => m.id)));
    // Another tag of the same model is not in the list: refused, and the refusal says where the list lives.
    await assert.rejects(sdk(t).chat.completions.create({ model: 'tagged-ollama:llama3.2:3b', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) =>
      e instanceof OpenAI.PermissionDeniedError && e.code === 'ERR_NGROK_27232'
      && e.message.includes(`access key configuration "${configurationId}": add "tagged-ollama/llama3.2:3b" to its models allow list`));
    const providers = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }))).token;
    const refused = await gw(h, '/v1/chat/completions', { token: providers, body: chat('gpt-4o') });
    assert.deepEqual([refused.status, refused.json().error.code], [403, 'ERR_NGROK_27231']);
    assert.match(refused.json().error.message, /^ERR_NGROK_27231: Provider "openai" is not allowed by the access policy\. It is set by access key configuration "[^"]+": add "openai" to its providers allow list/);
  });

  test('the managed key serves only the standard service tier (3815); the account\'s own keys serve any', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    for (const tier of ['priority', 'auto', 'flex']) {
      const r = await gw(h, '/v1/chat/completions', { token: managed, body: chat('gpt-4o', { service_tier: tier }) });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().error.code, 'ERR_NGROK_3815');
    }
    const claude = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', max_tokens: 5, service_tier: 'auto', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(claude.status, 400, claude.text);
    assert.deepEqual([claude.json().type, claude.json().error.code], ['error', 'ERR_NGROK_3815']);
    assert.equal(claude.json().error.message, 'ERR_NGROK_3815: service_tier "auto" is not supported with managed keys. Use \'standard_only\' on Anthropic Messages requests (or omit it), or add your own provider key.');
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');
    assert.equal((await gw(h, '/v1/chat/completions', { token: managed, body: chat('gpt-4o', { service_tier: 'default' }) })).status, 200);
    assert.equal((await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', max_tokens: 5, service_tier: 'standard_only', messages: [{ role: 'user', content: 'x' }] } })).status, 200);
    // Translated for an OpenAI model, a Messages request's own tier is not sent (nothing to refuse); the managed
    // key asks for the standard tier itself, as for any request that leaves it out: the provider's default, `auto`,
    // would serve at priority prices where the operator's organisation has priority capacity.
    const translated = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'gpt-4o', max_tokens: 5, service_tier: 'auto', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(translated.status, 200, translated.text);
    assert.equal(h.fake.requests.at(-1)!.body!.service_tier, 'default');
    assert.equal((await gw(h, '/v1/chat/completions', { token: managed, body: chat('gpt-4o') })).status, 200);
    assert.equal(h.fake.requests.at(-1)!.body!.service_tier, 'default');
    assert.equal((await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } })).status, 200);
    assert.equal(h.fake.requests.at(-1)!.body!.service_tier, 'standard_only');
    // With the account's own key in the chain, a priority request is served by it (the managed step is skipped).
    const mixed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }, user('sk-good-a')] }]);
    const own = await gw(h, '/v1/chat/completions', { token: mixed, body: chat('gpt-4o', { service_tier: 'priority' }) });
    assert.equal(own.status, 200, own.text);
    assert.equal(h.fake.requests.at(-1)!.headers.authorization, 'Bearer sk-good-a');
    assert.equal(h.fake.requests.at(-1)!.body!.service_tier, 'priority');
    // The account's own key is sent the request as it came: no tier added.
    const ownOnly = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    assert.equal((await gw(h, '/v1/chat/completions', { token: ownOnly, body: chat('gpt-4o') })).status, 200);
    assert.equal('service_tier' in h.fake.requests.at(-1)!.body!, false);
  });

  test('a background response is refused on the managed key (its answer could never be metered); the account\'s own key serves it', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const body = { model: 'gpt-4o', input: 'x', background: true };
    const r = await gw(h, '/v1/responses', { token: managed, body });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().error.code, 'ERR_NGROK_27238');
    assert.match(r.json().error.message, /^ERR_NGROK_27238: A managed key can't serve this request, because this gateway can't bill "background": true for "gpt-4o" on provider "openai"/);
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');
    assert.equal((await gw(h, '/v1/responses', { token: managed, body: { ...body, background: false } })).status, 200);
    const mixed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }, user('sk-good-a')] }]);
    const own = await gw(h, '/v1/responses', { token: mixed, body });
    assert.equal(own.status, 200, own.text);
    assert.equal(h.fake.requests.at(-1)!.headers.authorization, 'Bearer sk-good-a');
    assert.equal(h.fake.requests.at(-1)!.body!.background, true);
  });

  test('stored state on the managed key: refused (the operator\'s account is every tenant\'s), nothing is stored there, and the account\'s own key still serves it', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = sdk(managed);
    const refused: [Record<string, unknown>, string][] = [
      [{ previous_response_id: 'resp_of_another_tenant' }, 'previous_response_id'],
      [{ conversation: 'conv_123' }, 'conversation'],
      [{ prompt: { id: 'pmpt_123', version: '2' } }, 'prompt'],
      [{ input: [{ type: 'item_reference', id: 'msg_stored' }, { role: 'user', content: 'and then?' }] }, 'item_reference ("msg_stored")'],
      // OpenAI's schema has the reference's `type` optional and nullable: the id alone is a reference too.
      [{ input: [{ id: 'msg_stored' }, { role: 'user', content: 'and then?' }] }, 'item_reference ("msg_stored")'],
      [{ input: [{ type: null, id: 'msg_stored' }, { role: 'user', content: 'and then?' }] }, 'item_reference ("msg_stored")'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-abc' }] }] }, 'file_id'],
    ];
    for (const [extra, field] of refused) {
      await assert.rejects(client.responses.create({ model: 'gpt-4o', input: 'x', ...extra } as OpenAI.Responses.ResponseCreateParamsNonStreaming), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.code, 'ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED');
        assert.equal(e.message, `400 ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED: Managed keys don't keep responses between requests, so they can't use \`${field}\`. Send the full conversation and instructions in each request, or add your own OpenAI key.`);
        return true;
      }, field);
    }
    // A Messages request reusing a code execution container by id: the operator's container, whoever made it.
    const container = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', max_tokens: 5, container: 'container_011', messages: [{ role: 'user', content: 'x' }] } });
    assert.deepEqual([container.status, container.json().type, container.json().error.code], [400, 'error', 'ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED'], container.text);
    assert.match(container.json().error.message, /can't use `container`\. .* add your own Anthropic key\.$/);
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');

    // Served statelessly: nothing is kept in the operator's account, asked or not; an explicit `store: true` is named.
    const { response: plain } = await client.responses.create({ model: 'gpt-4o', input: 'x' }).withResponse();
    assert.equal(h.fake.requests.at(-1)!.body!.store, false);
    assert.equal(plain.headers.get('ngrok-aig-removed-params'), null);
    const { response: asked } = await client.responses.create({ model: 'gpt-4o', input: 'x', store: true }).withResponse();
    assert.equal(h.fake.requests.at(-1)!.body!.store, false);
    assert.equal(asked.headers.get('ngrok-aig-removed-params'), 'store');
    const { response: chatStored } = await client.chat.completions.create({ ...chat('gpt-4o'), store: true }).withResponse();
    assert.equal(h.fake.requests.at(-1)!.body!.store, false);
    assert.equal(chatStored.headers.get('ngrok-aig-removed-params'), 'store');
    await client.chat.completions.create(chat('gpt-4o'));
    assert.equal('store' in h.fake.requests.at(-1)!.body!, false, 'chat stores nothing unless asked: the body goes as sent');

    // The refusal is the managed attempt's alone: the account's own key, before or after it, serves the request as sent.
    for (const rules of [[{ provider: 'openai', steps: [user('sk-good-a'), { type: 'ngrok' }] }], [{ provider: 'openai', steps: [{ type: 'ngrok' }, user('sk-good-a')] }]]) {
      h.fake.reset();
      const own = await sdk(await keyWith(rules)).responses.create({ model: 'gpt-4o', input: 'x', previous_response_id: 'resp_mine', store: true }).withResponse();
      assert.equal(own.data.object, 'response');
      assert.deepEqual(h.fake.requests.map((r) => r.headers.authorization), ['Bearer sk-good-a']);
      assert.deepEqual([h.fake.requests[0]!.body!.previous_response_id, h.fake.requests[0]!.body!.store], ['resp_mine', true]);
    }
  });

  test('a reasoning model on the managed key (store: false): its reasoning comes back encrypted, so a client sending its output back (the Agents SDK) goes on to a second turn; the account\'s own key gets the request as sent', async () => {
    type Item = OpenAI.Responses.ResponseInputItem;
    const managed = sdk(await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]));
    const ask: Item[] = [{ role: 'user', content: 'What is 17 × 23?' }];
    // As the Agents SDK calls it: `store` unset, a reasoning effort, the previous output fed back as input.
    h.fake.reset();
    const first = await managed.responses.create({ model: 'gpt-5', input: ask, reasoning: { effort: 'low' }, include: ['message.output_text.logprobs'] });
    let up = h.fake.requests.at(-1)!.body!;
    assert.deepEqual([up.store, up.include], [false, ['message.output_text.logprobs', 'reasoning.encrypted_content']], 'the client\'s own include is kept');
    const reasoning = first.output.find((item) => item.type === 'reasoning');
    assert.ok(reasoning?.encrypted_content, JSON.stringify(first.output));
    const second = await managed.responses.create({ model: 'gpt-5', input: [...ask, ...first.output as Item[], { role: 'user', content: 'And times 2?' }], reasoning: { effort: 'low' } }).withResponse();
    assert.match(second.data.output_text, /And times 2\?/);
    assert.equal(second.response.headers.get('ngrok-aig-removed-params'), null);
    up = h.fake.requests.at(-1)!.body!;
    assert.deepEqual((up.input as unknown[])[1], reasoning, 'the reasoning item goes back as the client sent it, encrypted content and all');
    // Streamed the same (the Agents SDK's Runner.run with stream: true).
    const streamed = await managed.responses.stream({ model: 'gpt-5', input: ask, reasoning: { effort: 'low' } }).finalResponse();
    assert.ok(streamed.output.some((item) => item.type === 'reasoning' && item.encrypted_content), JSON.stringify(streamed.output));

    // A reasoning item sent back by id alone (from a turn that did not ask for the encrypted copy): nothing holds it,
    // so it is left out and named; the turn is answered.
    const bare = await managed.responses.create({ model: 'gpt-5', input: [...ask, { type: 'reasoning', id: 'rs_elsewhere', summary: [] }, { role: 'user', content: 'go on' }], reasoning: { effort: 'low' } }).withResponse();
    assert.equal(bare.data.status, 'completed');
    assert.equal(bare.response.headers.get('ngrok-aig-removed-params'), 'input.reasoning');
    assert.deepEqual((h.fake.requests.at(-1)!.body!.input as { type?: string }[]).map((i) => i.type ?? 'message'), ['message', 'message']);
    // A model that does not reason is not asked for reasoning (OpenAI refuses the include there).
    await managed.responses.create({ model: 'gpt-4o', input: 'x' });
    assert.equal(h.fake.requests.at(-1)!.body!.include, undefined);

    // The account's own key: stored by OpenAI as the client left it, so the reasoning item by id is OpenAI's to find.
    h.fake.reset();
    const own = sdk(await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]));
    const mine = await own.responses.create({ model: 'gpt-5', input: ask, reasoning: { effort: 'low' } });
    assert.deepEqual([h.fake.requests[0]!.body!.store, h.fake.requests[0]!.body!.include], [undefined, undefined]);
    const kept = mine.output.find((item) => item.type === 'reasoning');
    assert.equal(kept?.encrypted_content, undefined);
    const next = await own.responses.create({ model: 'gpt-5', input: [...ask, ...mine.output as Item[], { role: 'user', content: 'And times 2?' }], reasoning: { effort: 'low' } }).withResponse();
    assert.equal(next.response.headers.get('ngrok-aig-removed-params'), null);
    assert.deepEqual((h.fake.requests[1]!.body!.input as unknown[])[1], kept);
  });

  test('hosted tools billed apart from tokens that the answer does not let the gateway count are refused on the managed key; web search and functions pass', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    // File search would search the operator's vector stores; GPT Image models are not priced; a container named by id
    // was given its memory tier (its price) where the gateway did not see it.
    for (const tool of [{ type: 'file_search', vector_store_ids: ['vs_1'] }, { type: 'image_generation' }, { type: 'code_interpreter', container: 'cntr_abc' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '8g' } }]) {
      const r = await gw(h, '/v1/responses', { token: managed, body: { model: 'gpt-4o', input: 'x', tools: [{ type: 'function', name: 'f', parameters: {} }, tool] } });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().error.code, 'ERR_NGROK_27238');
      assert.match(r.json().error.message, new RegExp(`can't bill the hosted tool "${tool.type}" for "gpt-4o" on provider "openai"`));
    }
    // Anthropic bills code execution per container hour, which no answer reports, unless a web search or fetch tool of
    // 2026-02-09 or later is offered with it (then it is free); an older search tool does not make it so.
    for (const extra of [[], [{ type: 'web_search_20250305', name: 'web_search' }], [{ type: 'web_fetch_20250910', name: 'web_fetch' }]]) {
      const claude = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', max_tokens: 5, tools: [{ type: 'code_execution_20250825', name: 'code_execution' }, ...extra], messages: [{ role: 'user', content: 'x' }] } });
      assert.deepEqual([claude.status, claude.json().type, claude.json().error.code], [400, 'error', 'ERR_NGROK_27238'], JSON.stringify(extra));
      assert.match(claude.json().error.message, /can't bill the hosted tool "code_execution_20250825" for "claude-haiku-4-5"/);
    }
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');
    // Anthropic fast mode and US-only inference are billed at premiums the catalog does not hold.
    for (const extra of [{ speed: 'fast' }, { inference_geo: 'us' }]) {
      const premium = await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-opus-4-6', max_tokens: 5, ...extra, messages: [{ role: 'user', content: 'x' }] } });
      assert.deepEqual([premium.status, premium.json().error.type, premium.json().error.code], [400, 'invalid_request_error', 'ERR_NGROK_27238'], JSON.stringify(extra));
      assert.match(premium.json().error.message, /can't bill "(speed|inference_geo)": "(fast|us)" for "claude-opus-4-6" on provider "anthropic"/);
    }
    assert.equal(h.fake.requests.length, 0);
    assert.equal((await gw(h, '/v1/messages', { headers: { 'x-api-key': managed }, body: { model: 'claude-opus-4-6', max_tokens: 5, speed: 'standard', messages: [{ role: 'user', content: 'x' }] } })).status, 200);
    h.fake.reset();
    // Counting tokens bills nothing: the same tools may be counted on the managed key.
    const counted = await gw(h, '/v1/messages/count_tokens', { headers: { 'x-api-key': managed }, body: { model: 'claude-haiku-4-5', tools: [{ type: 'code_execution_20250825', name: 'code_execution' }], messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(counted.status, 200, counted.text);
    const priced = await gw(h, '/v1/responses', { token: managed, body: { model: 'gpt-4o', input: 'x', tools: [{ type: 'web_search' }, { type: 'function', name: 'f', parameters: {} }] } });
    assert.equal(priced.status, 200, priced.text);
    const own = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }, user('sk-good-a')] }]);
    assert.equal((await gw(h, '/v1/responses', { token: own, body: { model: 'gpt-4o', input: 'x', tools: [{ type: 'code_interpreter', container: 'cntr_abc' }] } })).status, 200);
    assert.equal(h.fake.requests.at(-1)!.headers.authorization, 'Bearer sk-good-a');
  });

  /** The model cost of a request's one usage event (its processing fee aside). */
  const billed = async (requestId: string | null) => {
    const [row] = await h.usage(requestId!, 1);
    return BigInt(row!.costPico) - BigInt(row!.feePico);
  };
  /** What gpt-4o-mini's tokens of a fake answer cost: $0.15 in, $0.075 cached, $0.60 out per million. */
  const miniTokens = BigInt(FAKE_USAGE.input - FAKE_USAGE.cacheRead) * 150_000n + BigInt(FAKE_USAGE.cacheRead) * 75_000n + BigInt(FAKE_USAGE.output) * 600_000n;

  test('OpenAI\'s code interpreter on the managed key: served, each container the answer names billed one 20-minute session at the tool\'s memory tier ($0.03 for 1 GB, $0.12 for 4 GB), JSON and stream', async () => {
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const client = sdk(managed);
    const tokens = miniTokens;
    const tool = (memory?: string): OpenAI.Responses.Tool => ({ type: 'code_interpreter', container: { type: 'auto', ...(memory ? { memory_limit: memory as '4g' } : {}) } });
    const { data, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [tool()] }).withResponse();
    const calls = data.output.filter((item) => item.type === 'code_interpreter_call');
    assert.deepEqual(calls.map((c) => c.container_id), ['cntr_fake1'], 'the provider ran code in its container');
    assert.equal(await billed(response.headers.get('ngrok-aig-request-id')), tokens + 30_000_000_000n);
    const four = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [tool('4g')] }).withResponse();
    assert.equal(await billed(four.response.headers.get('ngrok-aig-request-id')), tokens + 120_000_000_000n);
    const streamed = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [tool('4g')], stream: true }).withResponse();
    const seen: string[] = [];
    for await (const event of streamed.data) if (event.type === 'response.output_item.done' && event.item.type === 'code_interpreter_call') seen.push(event.item.container_id);
    assert.deepEqual(seen, ['cntr_fake1']);
    assert.equal(await billed(streamed.response.headers.get('ngrok-aig-request-id')), tokens + 120_000_000_000n, 'a stream bills its container alike');
    // The same request without the tool: tokens only.
    const plain = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?' }).withResponse();
    assert.equal(await billed(plain.response.headers.get('ngrok-aig-request-id')), tokens);
  });

  test('OpenAI\'s hosted shell on the managed key: each container its shell calls ran in billed one session at the environment\'s memory tier, JSON and stream; a container named by id refused (27238); a local shell costs tokens only', async () => {
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const client = sdk(managed);
    // OpenAI bills a hosted shell's container as a code interpreter's: $0.03 a 1 GB session, $0.12 a 4 GB one.
    const tokens = miniTokens;
    const shell = (environment: Record<string, unknown>) => ({ type: 'shell', environment }) as unknown as OpenAI.Responses.Tool;
    const { data, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [shell({ type: 'container_auto' })] }).withResponse();
    const calls = data.output.filter((item) => item.type === 'shell_call');
    assert.deepEqual(calls.map((c) => (c.environment as { container_id?: string } | null)?.container_id), ['cntr_fake1'], 'the provider ran the command in its container');
    assert.equal(await billed(response.headers.get('ngrok-aig-request-id')), tokens + 30_000_000_000n);
    const streamed = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [shell({ type: 'container_auto', memory_limit: '4g' })], stream: true }).withResponse();
    for await (const event of streamed.data) void event;
    assert.equal(await billed(streamed.response.headers.get('ngrok-aig-request-id')), tokens + 120_000_000_000n, 'a stream bills its container alike');
    // A container made elsewhere has a memory tier (a price) the gateway did not see.
    const named = await gw(h, '/v1/responses', { token: managed, body: { model: 'gpt-4o-mini', input: 'x', tools: [{ type: 'shell', environment: { type: 'container_reference', container_id: 'cntr_abc' } }] } });
    assert.deepEqual([named.status, named.json().error.code], [400, 'ERR_NGROK_27238']);
    assert.match(named.json().error.message, /can't bill the hosted tool "shell" for "gpt-4o-mini" on provider "openai"/);
    // The client runs a local shell's commands itself.
    const local = await client.responses.create({ model: 'gpt-4o-mini', input: 'what is 6 × 7?', tools: [shell({ type: 'local' })] }).withResponse();
    assert.equal(await billed(local.response.headers.get('ngrok-aig-request-id')), tokens);
  });

  test('Anthropic\'s code execution on the managed key beside a web search tool that makes it free: served, billed its tokens and searches only, JSON and stream', async () => {
    const managed = await keyWith([{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: managed, maxRetries: 0 });
    const params = {
      model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'find the figure and compute with it' }],
      tools: [{ type: 'code_execution_20250825', name: 'code_execution' }, { type: 'web_search_20260209', name: 'web_search' }] as unknown as Anthropic.Messages.ToolUnion[],
    };
    // Haiku 4.5: $1 in, $0.10 cache reads, $1.25 five-minute and $2 hour-long writes, $5 out per million; searches $10
    // per 1,000. Code execution adds nothing.
    const tokens = BigInt(FAKE_USAGE.input) * 1_000_000n + BigInt(FAKE_USAGE.cacheRead) * 100_000n
      + BigInt(FAKE_USAGE.cacheWrite - FAKE_USAGE.cacheWrite1h) * 1_250_000n + BigInt(FAKE_USAGE.cacheWrite1h) * 2_000_000n + BigInt(FAKE_USAGE.output) * 5_000_000n;
    const searches = BigInt(FAKE_WEB_SEARCHES) * 10_000_000_000n;
    const { data, response } = await client.messages.create(params).withResponse();
    assert.deepEqual(data.content.map((block) => block.type), ['server_tool_use', 'bash_code_execution_tool_result', 'text'], 'the provider ran code');
    assert.equal(data.usage.server_tool_use?.web_search_requests, FAKE_WEB_SEARCHES);
    assert.equal(await billed(response.headers.get('ngrok-aig-request-id')), tokens + searches);
    const streamed = await client.messages.create({ ...params, stream: true }).withResponse();
    const blocks: string[] = [];
    for await (const event of streamed.data) if (event.type === 'content_block_start') blocks.push(event.content_block.type);
    assert.deepEqual(blocks, ['server_tool_use', 'bash_code_execution_tool_result', 'text']);
    assert.equal(await billed(streamed.response.headers.get('ngrok-aig-request-id')), tokens + searches, 'a stream bills it alike');
    // Web fetch alone makes it free too: no search, tokens only.
    const fetching = { ...params, tools: [params.tools[0]!, { type: 'web_fetch_20260209', name: 'web_fetch' }] as unknown as Anthropic.Messages.ToolUnion[] };
    const fetched = await client.messages.create(fetching).withResponse();
    assert.equal(await billed(fetched.response.headers.get('ngrok-aig-request-id')), tokens);
  });

  test('Anthropic\'s advisor tool is served on the managed key only when the catalog prices its advisor model (its calls are billed at that model\'s rates)', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: managed, maxRetries: 0 });
    const ask = (model: string) => client.messages.create({
      model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'advisor_20260301', name: 'advisor', model } as unknown as Anthropic.Messages.ToolUnion],
    });
    await assert.rejects(ask('claude-opus-9'), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /ERR_NGROK_27238: A managed key can't serve this request, because this gateway can't bill the hosted tool "advisor_20260301 \(advisor model "claude-opus-9"\)" for "claude-sonnet-4-6" on provider "anthropic"/);
      return true;
    });
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');
    const served = await ask('claude-opus-4-6');
    assert.equal(served.type, 'message');
    assert.equal(h.fake.requests.length, 1);
  });

  test('Anthropic\'s server-side fallbacks are served on the managed key only when the catalog prices every fallback model (a fallback answer is billed at its model\'s rates)', async () => {
    h.fake.reset();
    const managed = await keyWith([{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: managed, maxRetries: 0 });
    const ask = (fallbacks: unknown) => client.messages.create({
      model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], fallbacks,
    } as Anthropic.Messages.MessageCreateParamsNonStreaming);
    await assert.rejects(ask([{ model: 'claude-opus-4-6' }, { model: 'claude-fable-9' }]), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /ERR_NGROK_27238: A managed key can't serve this request, because this gateway can't bill the fallback model "claude-fable-9" for "claude-sonnet-4-6" on provider "anthropic"/);
      return true;
    });
    // Anthropic's own choice of fallback model is not known before it answers: it could not be priced either.
    await assert.rejects(ask('default'), (err: unknown) => err instanceof Anthropic.BadRequestError && /ERR_NGROK_27238: .*"fallbacks": "default"/.test(err.message));
    assert.equal(h.fake.requests.length, 0, 'nothing reached the provider on the operator\'s key');
    const served = await ask([{ model: 'claude-opus-4-6' }]);
    assert.equal(served.type, 'message');
    assert.equal(h.fake.requests.length, 1);
  });

  test('an answer that consulted Anthropic\'s advisor is billed the advisor\'s tokens at the advisor model\'s prices, streamed or not', async () => {
    const managed = await keyWith([{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }]);
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: managed, maxRetries: 0 });
    const params = (advisor: boolean) => ({
      model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user' as const, content: 'x' }],
      ...(advisor ? { tools: [{ type: 'advisor_20260301', name: 'advisor', model: 'claude-opus-4-6' } as unknown as Anthropic.Messages.ToolUnion] } : {}),
    });
    /** The model cost of the request's one usage event (its processing fee aside) and its token counts. */
    const billed = async (requestId: string | null) => {
      const [row] = await h.usage(requestId!, 1);
      return { model: BigInt(row!.costPico) - BigInt(row!.feePico), input: Number(row!.inputTokens), output: Number(row!.outputTokens) };
    };
    const alone = await billed((await client.messages.create(params(false)).withResponse()).response.headers.get('ngrok-aig-request-id'));
    const advised = await billed((await client.messages.create(params(true)).withResponse()).response.headers.get('ngrok-aig-request-id'));
    // Opus 4.6 advises at $5 in, $25 out per million tokens; the executor's own counts are billed as before.
    const advisorPico = BigInt(FAKE_ADVISOR_USAGE.input) * 5_000_000n + BigInt(FAKE_ADVISOR_USAGE.output) * 25_000_000n;
    assert.equal(advised.model - alone.model, advisorPico);
    assert.deepEqual([advised.input - alone.input, advised.output - alone.output], [FAKE_ADVISOR_USAGE.input, FAKE_ADVISOR_USAGE.output]);
    const { data: stream, response } = await client.messages.create({ ...params(true), stream: true }).withResponse();
    for await (const event of stream) void event;
    assert.equal((await billed(response.headers.get('ngrok-aig-request-id'))).model, advised.model, 'a stream bills it alike');
  });

  test('OpenAI web searches are billed at the price of the tool the request offered: web_search_preview at $25 per 1,000 on GPT-4o, $10 on reasoning models; both offered, at the dearer', async () => {
    const managed = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const client = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: managed, maxRetries: 0 });
    const costOf = async (requestId: string | null) => BigInt((await h.usage(requestId!, 1))[0]!.costPico);
    const billed = async (model: string, tools: string[], stream = false) => {
      const body = { model, input: 'x', tools: tools.map((type) => ({ type })) };
      if (stream) {
        const r = await gw(h, '/v1/responses', { token: managed, body: { ...body, stream: true } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.text.split('"type":"web_search_call"').length - 1, 3 * FAKE_WEB_SEARCHES, 'each search added, done, and in the completed response');
        return costOf(r.headers.get('ngrok-aig-request-id'));
      }
      const { data, response } = await client.responses.create(body as OpenAI.Responses.ResponseCreateParamsNonStreaming).withResponse();
      assert.equal(data.output.filter((item) => item.type === 'web_search_call').length, FAKE_WEB_SEARCHES, 'the provider ran its searches');
      return costOf(response.headers.get('ngrok-aig-request-id'));
    };
    const extraPerSearch = 15_000_000_000n; // $25 − $10 per 1,000 searches, in pico-USD per search
    const standard = await billed('gpt-4o', ['web_search']);
    const preview = await billed('gpt-4o', ['web_search_preview']);
    assert.equal(preview - standard, BigInt(FAKE_WEB_SEARCHES) * extraPerSearch);
    assert.equal(await billed('gpt-4o', ['web_search_preview_2025_03_11']), preview, 'the dated preview tool is the preview tool');
    assert.equal(await billed('gpt-4o', ['web_search_preview'], true), preview, 'a stream bills its searches alike');
    // Both offered: the answer's web_search_call items do not say which tool ran a search, so each is billed at the
    // dearer tool's price (before, at the cheaper: a preview search ran $15 per 1,000 short on the operator's key).
    assert.equal(await billed('gpt-4o', ['web_search', 'web_search_preview']), preview);
    assert.equal(await billed('gpt-4o', ['web_search_preview', 'web_search'], true), preview, 'in either order, streamed too');
    // A reasoning model's preview searches cost what the general tool's do.
    assert.equal(await billed('gpt-5', ['web_search_preview']), await billed('gpt-5', ['web_search']));
  });

  test('a stored provider key no header can carry (from before values were checked) is never sent: the next key serves, and alone it is named as not sent', async () => {
    const legacy = await h.providerKey('openai', 'sk-legacy-000', 'legacy');
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    const onlyLegacy = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: legacy }] }] }] } }));
    const both = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: legacy }, { id: keys['sk-good-a'] }] }] }] } }));
    assert.equal((await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') })).status, 200);
    // The control plane refuses such a value now; a store from an older version can still hold one. The name
    // change makes the gateway reload the key.
    const sealedValue = new SecretBox(Buffer.from(secretKey, 'hex')).seal('sk-legacy\r\nx-injected: 1', providerKeyBinding({ accountId: h.accountId, providerId: 'openai', id: legacy }));
    await h.running.store.db.updateTable('providerKeys').set({ sealedValue }).where('id', '=', legacy).execute();
    await h.api('PATCH', `/provider-keys/${legacy}`, { name: 'legacy, reloaded' });
    h.fake.reset();
    const served = await gw(h, '/v1/chat/completions', { token: both.token, body: chat('gpt-4o') });
    assert.equal(served.status, 200, served.text);
    assert.equal(served.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(h.fake.requests.map((r) => r.headers.authorization), ['Bearer sk-good-a'], 'the provider never saw the broken key');
    const alone = await gw(h, '/v1/chat/completions', { token: onlyLegacy.token, body: chat('gpt-4o') });
    assert.equal(alone.status, 503, alone.text);
    assert.equal(alone.json().error.code, 'ERR_NGROK_3807');
    assert.match(alone.json().error.message, new RegExp(`key ${legacy}: not sent: a header value holds characters HTTP forbids \\(rotate the provider key`));
    assert.doesNotMatch(alone.text, /injected/);
  });

  test('a stored provider key sealed under another secret key: 500 naming it, and the SDKs told not to retry', async () => {
    const foreign = await h.providerKey('openai', 'sk-foreign-000', 'foreign');
    const only = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: foreign }] }] }] } }));
    const sealedValue = new SecretBox(Buffer.from('cd'.repeat(32), 'hex')).seal('sk-foreign-000', providerKeyBinding({ accountId: h.accountId, providerId: 'openai', id: foreign }));
    await h.running.store.db.updateTable('providerKeys').set({ sealedValue }).where('id', '=', foreign).execute();
    await h.api('PATCH', `/provider-keys/${foreign}`, { name: 'foreign, reloaded' });
    const r = await gw(h, '/v1/chat/completions', { token: only.token, body: chat('gpt-4o') });
    assert.deepEqual([r.status, r.json().error.code, r.headers.get('x-should-retry')], [500, 'ERR_NGROK_27009', 'false'], r.text);
    assert.match(r.json().error.message, /cannot be decrypted by this gateway/);
    const before = h.fake.requests.length;
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: only.token, maxRetries: 2 }).chat.completions.create(chat('gpt-4o')), OpenAI.InternalServerError);
    assert.equal(h.fake.requests.length, before, 'nothing reached the provider');
  });

  test('a key whose configuration is gone fails closed: nothing is allowed, not everything', async () => {
    const denyAll = await h.configuration({ access: { providers: { allow: [] } } });
    const key = await h.accessKey(denyAll);
    assert.equal((await gw(h, '/v1/chat/completions', { token: key.token, body: chat('gpt-4o') })).status, 403);
    // The control plane refuses to delete a linked configuration; a store edited by hand (or restored from a
    // backup) can still hold such a link. The name change makes the gateway reload the account.
    await h.running.store.db.updateTable('accessKeys').set({ configurationId: 'aigac_00000000000000000000000000' }).where('id', '=', key.id).execute();
    await h.api('PATCH', `/access-keys/${key.id}`, { name: 'dangling' });
    const r = await gw(h, '/v1/chat/completions', { token: key.token, body: chat('gpt-4o') });
    assert.equal(r.status, 403);
    assert.equal(r.json().error.code, 'ERR_NGROK_27231');
    assert.match(r.json().error.message, /no longer exists/);
    assert.equal((await gw(h, '/v1/models', { token: key.token })).status, 403);
    // The store failing the account's read: the configuration is not known gone, so "try again later" (still
    // refused), and gone again once the store answers. A second passes between asks (the read is throttled).
    const sqlite = sqliteHandle(h.running.store.db)!;
    sqlite.exec('ALTER TABLE access_key_configurations RENAME TO access_key_configurations_away');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const unreadable = await gw(h, '/v1/chat/completions', { token: key.token, body: chat('gpt-4o') });
      assert.equal(unreadable.status, 500);
      assert.equal(unreadable.json().error.code, 'ERR_NGROK_27009');
    } finally {
      sqlite.exec('ALTER TABLE access_key_configurations_away RENAME TO access_key_configurations');
    }
    const again = await gw(h, '/v1/chat/completions', { token: key.token, body: chat('gpt-4o') });
    assert.deepEqual([again.status, again.json().error.code], [403, 'ERR_NGROK_27231']);
  });

  test('a model rule beats a provider rule; keys run in order', async () => {
    h.fake.reset();
    const t = await keyWith([
      { provider: 'openai', steps: [user('sk-good-a')] },
      { model: 'openai:gpt-4o', steps: [user('sk-429', 'sk-good-b')] },
    ]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(h.fake.requests.map((x) => x.headers.authorization), ['Bearer sk-429', 'Bearer sk-good-b']);
    h.fake.reset();
    await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o-mini') });
    assert.deepEqual(h.fake.requests.map((x) => x.headers.authorization), ['Bearer sk-good-a']);
  });

  describe('a rate-limited key waits its turn', () => {
    /** Who the provider was called with, in order, and what the client was told, for one request. */
    const call = async (t: string, model = 'gpt-4o', models?: string[]) => {
      h.fake.reset();
      const { response } = await sdk(t).chat.completions.create({ ...chat(model), ...(models ? { models } : {}) } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      return { keys: h.fake.requests.map((x) => x.headers.authorization), models: h.fake.requests.map((x) => x.body!.model), attempts: response.headers.get('ngrok-aig-attempts'), served: response.headers.get('ngrok-aig-model'), requestId: response.headers.get('ngrok-aig-request-id')! };
    };
    const deferredSeries = async () => {
      const text = await (await fetch(`${h.apiUrl}/metrics`)).text();
      return Number(/^tollgate_deferred_attempts_total\{provider="openai",model="gpt-4o"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };

    test('after a 429 with Retry-After the next request goes to the next key first, until the wait is over', async () => {
      keys['sk-429-after-60'] ??= await h.providerKey('openai', 'sk-429-after-60', 'retry-after 60');
      const t = await keyWith([{ provider: 'openai', steps: [user('sk-429-after-60', 'sk-good-a')] }]);
      const deferredBefore = await deferredSeries();
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-429-after-60', 'Bearer sk-good-a'], '2']);
      // Cooling for the 60 s it asked: the ready key serves with one provider call, and one usage event says so.
      const next = await call(t);
      assert.deepEqual([next.keys, next.attempts], [['Bearer sk-good-a'], '1']);
      const rows = await h.usage(next.requestId, 1);
      assert.deepEqual(rows.map((r) => [r.providerKeyId, r.statusCode, r.retryAction]), [[keys['sk-good-a'], 200, 'succeeded']]);
      assert.equal(await deferredSeries() - deferredBefore, 1, 'the deferred attempt is counted');
      h.coolingClock.advance(59_000);
      assert.deepEqual((await call(t)).keys, ['Bearer sk-good-a'], 'still cooling a second before its wait is over');
      // The wait is over: the configured order again.
      h.coolingClock.advance(1000);
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-429-after-60', 'Bearer sk-good-a'], '2']);
    });

    test('a cooling key rotated through the control plane is tried first again at once: its new secret is not the one that was limited', async () => {
      // A key of its own: rotating the shared one would change it for the other tests.
      const id = await h.providerKey('openai', 'sk-429-after-60', 'rotated after its 429');
      const t = await keyWith([{ provider: 'openai', steps: [{ type: 'user', keys: [{ id }, { id: keys['sk-good-a'] }] }] }]);
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-429-after-60', 'Bearer sk-good-a'], '2']);
      assert.deepEqual((await call(t)).keys, ['Bearer sk-good-a'], 'cooling');
      await h.api('POST', `/provider-keys/${id}/rotate`, { name: 'rotated after its 429', value: 'sk-rotated' });
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-rotated'], '1']);
    });

    test('when every key of the model cools, all are still tried, the soonest ready first', async () => {
      keys['sk-429-after-60'] ??= await h.providerKey('openai', 'sk-429-after-60', 'retry-after 60');
      const t = await keyWith([{ provider: 'openai', steps: [user('sk-429-after-60', 'sk-429')] }]);
      await assert.rejects(call(t), OpenAI.RateLimitError);
      assert.deepEqual(h.fake.requests.map((x) => x.headers.authorization), ['Bearer sk-429-after-60', 'Bearer sk-429']);
      // sk-429 asked for 1 s, the other for 60 s: both tried, the one ready sooner first; the client's 429 as before.
      const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
      assert.deepEqual([r.status, r.headers.get('ngrok-aig-attempts'), r.headers.get('retry-after')], [429, '2', '1']);
      assert.deepEqual(h.fake.requests.slice(-2).map((x) => x.headers.authorization), ['Bearer sk-429', 'Bearer sk-429-after-60']);
    });

    test('another model\'s keys keep their order: a key cools for the model it was limited on, and models are never reordered', async () => {
      keys['sk-429-after-60'] ??= await h.providerKey('openai', 'sk-429-after-60', 'retry-after 60');
      const t = await keyWith([
        { model: 'openai:gpt-4o', steps: [user('sk-429-after-60', 'sk-429b')] },
        { provider: 'openai', steps: [user('sk-good-a')] },
      ]);
      const first = await call(t, 'gpt-4o', ['gpt-4o-mini']);
      assert.deepEqual([first.keys, first.models, first.attempts, first.served], [['Bearer sk-429-after-60', 'Bearer sk-429', 'Bearer sk-good-a'], ['gpt-4o', 'gpt-4o', 'gpt-4o-mini'], '3', 'gpt-4o-mini']);
      // Both of gpt-4o's keys cool: still tried (the soonest ready first) before the fallback model the client listed.
      const second = await call(t, 'gpt-4o', ['gpt-4o-mini']);
      assert.deepEqual([second.keys, second.models, second.attempts, second.served], [['Bearer sk-429', 'Bearer sk-429-after-60', 'Bearer sk-good-a'], ['gpt-4o', 'gpt-4o', 'gpt-4o-mini'], '3', 'gpt-4o-mini']);
      // The key was limited on gpt-4o only: on gpt-4o-mini it is tried first, as configured.
      const mini = await call(await keyWith([{ provider: 'openai', steps: [user('sk-429-after-60', 'sk-good-a')] }]), 'gpt-4o-mini');
      assert.deepEqual([mini.keys, mini.attempts], [['Bearer sk-429-after-60', 'Bearer sk-good-a'], '2']);
    });

    test('a 429 for one request too large for the key\'s tokens-per-minute limit does not hold the key back from smaller ones', async () => {
      keys['sk-tpm-small'] ??= await h.providerKey('openai', 'sk-tpm-small', 'small TPM limit');
      const t = await keyWith([{ provider: 'openai', steps: [user('sk-tpm-small', 'sk-good-a')] }]);
      h.fake.reset();
      const { response } = await sdk(t).chat.completions.create(chat('gpt-4o', {}, 'x'.repeat(5000))).withResponse();
      assert.deepEqual([h.fake.requests.map((x) => x.headers.authorization), response.headers.get('ngrok-aig-attempts')], [['Bearer sk-tpm-small', 'Bearer sk-good-a'], '2']);
      // OpenAI refused that request's size, not the key: a small request is served by the first key, as configured.
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-tpm-small'], '1']);
    });

    test('token counting and messages cool apart: a key limited on counting still generates first, as configured', async () => {
      keys['sk-429-count'] ??= await h.providerKey('anthropic', 'sk-429-count', 'counting limited');
      const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: await keyWith([{ provider: 'anthropic', steps: [user('sk-429-count', 'sk-anth-good')] }]), maxRetries: 0 });
      h.fake.reset();
      const counted = await anthropic.messages.countTokens(countParams('claude-sonnet-4-6')).withResponse();
      assert.deepEqual([h.fake.requests.map((x) => x.headers['x-api-key']), counted.response.headers.get('ngrok-aig-attempts')], [['sk-429-count', 'sk-anth-good'], '2']);
      // Anthropic limits counting apart from message creation: the key is still tried first for a message.
      h.fake.reset();
      const message = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).withResponse();
      assert.deepEqual([h.fake.requests.map((x) => x.headers['x-api-key']), message.response.headers.get('ngrok-aig-attempts')], [['sk-429-count'], '1']);
      // And counting itself waits its turn: the other key counts first while the limited one cools.
      h.fake.reset();
      await anthropic.messages.countTokens(countParams('claude-sonnet-4-6'));
      assert.deepEqual(h.fake.requests.map((x) => x.headers['x-api-key']), ['sk-anth-good']);
    });

    test('a 500 does not cool a key: the next request tries it first again, while the 429 beside it waits', async () => {
      keys['sk-429-after-60'] ??= await h.providerKey('openai', 'sk-429-after-60', 'retry-after 60');
      const t = await keyWith([{ provider: 'openai', steps: [user('sk-500', 'sk-429-after-60', 'sk-good-a')] }]);
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-500', 'Bearer sk-429-after-60', 'Bearer sk-good-a'], '3']);
      assert.deepEqual(await call(t).then((r) => [r.keys, r.attempts]), [['Bearer sk-500', 'Bearer sk-good-a'], '2']);
    });
  });

  test('failover across keys, steps and models: one usage event per attempt with its retryAction', async () => {
    h.fake.reset();
    const t = await keyWith([
      { provider: 'openai', steps: [user('sk-429', 'sk-401'), user('sk-500')] },
      { provider: 'anthropic', steps: [user('sk-anth-good')] },
    ]);
    const { data, response } = await sdk(t).chat.completions.create(chat('gpt-4o', { models: ['anthropic:claude-sonnet-4-6'] })).withResponse();
    assert.match(data.choices[0]!.message.content!, /claude-sonnet-4-6/);
    assert.equal(response.headers.get('ngrok-aig-attempts'), '4');
    assert.equal(response.headers.get('ngrok-aig-model'), 'claude-sonnet-4-6');
    const last = h.fake.requests[3]!;
    assert.equal(last.path, '/v1/chat/completions');
    assert.equal(last.headers['x-api-key'], 'sk-anth-good', "Anthropic's key goes in x-api-key");
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 4);
    // The contract's providerKeyDisplayName is the key's masked form (as keyRedacted), never its name or value.
    assert.deepEqual(rows.map((r) => [r.provider, r.statusCode, r.retryAction, Number(r.isFinalAttempt), Number(r.isError), r.providerKeyDisplayName]), [
      ['openai', 429, 'next_key', 0, 1, redactSecret('sk-429')],
      ['openai', 401, 'next_key', 0, 1, redactSecret('sk-401')],
      ['openai', 500, 'next_backend', 0, 1, redactSecret('sk-500')],
      ['anthropic', 200, 'succeeded', 1, 0, redactSecret('sk-anth-good')],
    ]);
    assert.equal(rows[3]!.providerKeyDisplayName, 'sk-***d');
    assert.equal(rows[3]!.inputTokens, 17);
    assert.equal(rows[3]!.completion, 'succeeded');
    assert.equal(rows[0]!.completion, 'failed');
    // ngrok's "why a request failed over" guide: the request id from the header, looked up on the control plane.
    const requestId = response.headers.get('ngrok-aig-request-id')!;
    const lookup = await h.api<{ requestId: string; attempts: Array<{ event: { provider: string; statusCode: number }; served: boolean; retryAction: string; completion: string }> }>('GET', `/usage/requests/${requestId}`);
    assert.equal(lookup.requestId, requestId);
    assert.deepEqual(lookup.attempts.map((a) => [a.event.provider, a.event.statusCode, a.served, a.retryAction, a.completion]), [
      ['openai', 429, false, 'next_key', 'failed'],
      ['openai', 401, false, 'next_key', 'failed'],
      ['openai', 500, false, 'next_backend', 'failed'],
      ['anthropic', 200, true, 'succeeded', 'succeeded'],
    ]);
  });

  test('Anthropic\'s overload (529 overloaded_error) moves on to the next key; alone it is a 503 naming it', async () => {
    const anthropicSdk = (t: string) => new Anthropic({ baseURL: h.gatewayUrl, apiKey: t, maxRetries: 0 });
    const message = await anthropicSdk(await keyWith([{ provider: 'anthropic', steps: [user('sk-529-anth', 'sk-anth-good')] }])).messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(message.response.headers.get('ngrok-aig-attempts'), '2');
    const alone = await gw(h, '/v1/messages', { headers: { 'x-api-key': await keyWith([{ provider: 'anthropic', steps: [user('sk-529-anth')] }]) }, body: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(alone.status, 503, alone.text);
    assert.match(alone.json().error.message, /ERR_NGROK_3807.*529/);
  });

  test('a key whose provider account ran out of funds (402) moves on to the next key', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-402', 'sk-good-a')] }]);
    const { response } = await sdk(t).chat.completions.create(chat('gpt-4o')).withResponse();
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(h.fake.requests.map((x) => x.headers.authorization), ['Bearer sk-402', 'Bearer sk-good-a']);
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction]), [[402, 'next_key'], [200, 'succeeded']]);
  });

  test('an upstream redirect is never passed on (the client would follow it with its access key): it fails over', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    const alone = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:redirect-a') });
    assert.equal(alone.status, 503, alone.text);
    assert.equal(alone.headers.get('location'), null);
    assert.match(alone.json().error.message, /HTTP 307 redirect, not followed/);
    const fallback = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:redirect-a', { models: ['gpt-4o'] }) });
    assert.equal(fallback.status, 200, fallback.text);
    assert.equal(fallback.headers.get('location'), null);
    const rows = await h.usage(fallback.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, Number(r.isError), r.retryAction]), [[307, 1, 'next_backend'], [200, 0, 'succeeded']]);
  });

  test('a provider 400/404 stops the chain and is passed through as-is', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a', 'sk-good-b')] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:fail-400-x', { models: ['gpt-4o'] }) });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('ngrok-aig-attempts'), '1');
    assert.equal(r.json().error.code, 'invalid_value', 'the provider body, untouched');
    assert.equal(h.fake.requests.length, 1);
    const rows = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(rows[0]!.retryAction, 'fail_fast');
    assert.equal(rows[0]!.statusCode, 400);
    await assert.rejects(sdk(t).chat.completions.create(chat('openai:fail-404-x')), OpenAI.NotFoundError);
  });

  test('a model the provider does not know (404) moves on to the next model listed, skipping its other keys', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a', 'sk-good-b')] }]);
    const r = await sdk(t).chat.completions.create(chat('openai:fail-404-gone', { models: ['gpt-4o'] }) as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(r.response.headers.get('ngrok-aig-model'), 'gpt-4o');
    assert.equal(r.response.headers.get('ngrok-aig-attempts'), '2');
    assert.deepEqual(h.fake.requests.map((q) => [q.body?.model, q.headers.authorization]), [['fail-404-gone', 'Bearer sk-good-a'], ['gpt-4o', 'Bearer sk-good-a']]);
    const rows = await h.usage(r.response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((row) => [row.model, row.statusCode, Number(row.attemptNumber), row.retryAction]), [
      ['fail-404-gone', 404, 1, 'next_backend'],
      ['gpt-4o', 200, 2, 'succeeded'],
    ]);
    // The last model's 404 is the provider's, passed through.
    const last = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { models: ['openai:fail-404-also'] }) });
    assert.equal(last.status, 200, 'the first model served');
    const alone = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:fail-404-a', { models: ['openai:fail-404-b'] }) });
    assert.equal(alone.status, 404);
    assert.equal(alone.headers.get('ngrok-aig-attempts'), '2');
    assert.equal(alone.headers.get('ngrok-aig-model'), 'fail-404-b');
  });

  test('when every attempt fails: 429 if all were rate limits, 502 for connection errors, else 503 listing attempts', async () => {
    const limited = await keyWith([{ provider: 'openai', steps: [user('sk-429', 'sk-429b')] }]);
    const r429 = await gw(h, '/v1/chat/completions', { token: limited, body: chat('gpt-4o') });
    assert.equal(r429.status, 429);
    assert.equal(r429.json().error.code, 'ERR_NGROK_27217');
    assert.equal(r429.headers.get('retry-after'), '1');
    assert.equal(r429.headers.get('ngrok-aig-attempts'), '2');
    await assert.rejects(sdk(limited).chat.completions.create(chat('gpt-4o')), OpenAI.RateLimitError);
    const rows = await h.usage(r429.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => r.retryAction), ['next_key', 'exhausted']);
    // Azure's hint in milliseconds reaches the client too (the OpenAI SDKs read it first), and as whole seconds.
    const azure = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-ms')] }]), body: chat('gpt-4o') });
    assert.deepEqual([azure.status, azure.headers.get('retry-after-ms'), azure.headers.get('retry-after')], [429, '2500', '3']);
    // OpenAI often sends no Retry-After, only its limits' reset times: the one that ran out (requests, 6m0s) is the hint.
    const resets = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-reset')] }]), body: chat('gpt-4o') });
    assert.deepEqual([resets.status, resets.headers.get('retry-after-ms'), resets.headers.get('retry-after')], [429, '360000', '360']);
    // Several keys limited: the soonest hint, wherever it came in the chain (the retry runs the whole chain again).
    const soonLast = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-reset', 'sk-429-ms')] }]), body: chat('gpt-4o') });
    assert.deepEqual([soonLast.status, soonLast.headers.get('retry-after-ms'), soonLast.headers.get('retry-after')], [429, '2500', '3']);
    const soonFirst = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429', 'sk-429-reset')] }]), body: chat('gpt-4o') });
    assert.deepEqual([soonFirst.status, soonFirst.headers.get('retry-after-ms'), soonFirst.headers.get('retry-after')], [429, null, '1']);
    // A key out of quota (OpenAI's insufficient_quota 429) fails over like a rate limit; when every key is, the client
    // is told so with OpenAI's own type, which the SDKs and LangChain read as "stop retrying, fix billing".
    const quotaThenGood = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-quota', 'sk-good-a')] }]), body: chat('gpt-4o') });
    assert.deepEqual([quotaThenGood.status, quotaThenGood.headers.get('ngrok-aig-attempts')], [200, '2']);
    const quotaOnly = await keyWith([{ provider: 'openai', steps: [user('sk-quota')] }]);
    const quota = await gw(h, '/v1/chat/completions', { token: quotaOnly, body: chat('gpt-4o') });
    assert.deepEqual([quota.status, quota.json().error.type, quota.json().error.code, quota.headers.get('retry-after'), quota.headers.get('x-should-retry')], [429, 'insufficient_quota', 'ERR_NGROK_27217', null, 'false']);
    // The OpenAI SDK reads x-should-retry before the status: one request, not three.
    const before = h.fake.requests.length;
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: quotaOnly, maxRetries: 2 }).chat.completions.create(chat('gpt-4o')), OpenAI.RateLimitError);
    assert.equal(h.fake.requests.length - before, 1, 'the SDK did not retry');
    assert.match(quota.json().error.message, /Upstream provider quota exhausted: every attempt \(1\) was refused by the provider for insufficient quota: check the plan and billing/);
    // A rate limit beside it may pass: the plain rate limit stands.
    const quotaAndLimit = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-quota', 'sk-429')] }]), body: chat('gpt-4o') });
    assert.deepEqual([quotaAndLimit.status, quotaAndLimit.json().error.type], [429, 'rate_limit_error']);
    // Anthropic says it with a 400: the next key is tried; the last key's answer is Anthropic's own, passed through.
    const claudeMsg = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const brokeThenGood = await gw(h, '/v1/messages', { headers: { 'x-api-key': await keyWith([{ provider: 'anthropic', steps: [user('sk-quota-anth', 'sk-anth-good')] }]) }, body: claudeMsg });
    assert.deepEqual([brokeThenGood.status, brokeThenGood.headers.get('ngrok-aig-attempts')], [200, '2']);
    const rows2 = await h.usage(brokeThenGood.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows2.map((r) => [r.statusCode, r.retryAction]), [[400, 'next_key'], [200, 'succeeded']]);
    const broke = await gw(h, '/v1/messages', { headers: { 'x-api-key': await keyWith([{ provider: 'anthropic', steps: [user('sk-quota-anth')] }]) }, body: claudeMsg });
    assert.deepEqual([broke.status, broke.json().error.type], [400, 'invalid_request_error']);
    assert.match(broke.json().error.message, /credit balance is too low/);
    // Among other failures, the attempt list says which key is out of quota (tried first again once its cooling is over).
    h.coolingClock.advance(MAX_COOL_MS);
    const listed = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-quota', 'sk-500')] }]), body: chat('gpt-4o') });
    assert.equal(listed.status, 503);
    assert.match(listed.json().error.message, /HTTP 429 insufficient quota \(the provider account's plan and billing\); \[2\] openai:gpt-4o with key aigpk_\w+: HTTP 500/);

    const unreachable = await keyWith([{ provider: 'openai', steps: [user('sk-reset')] }]);
    const r502 = await gw(h, '/v1/chat/completions', { token: unreachable, body: chat('gpt-4o') });
    assert.equal(r502.status, 502);
    assert.equal(r502.json().error.code, 'ERR_NGROK_3800');
    const [conn] = await h.usage(r502.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(conn!.statusCode, 0);
    assert.equal(Number(conn!.isError), 1);
    // Reached, answered 200, then the body broke off: not "unreachable".
    const oneKey = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    const broken = await gw(h, '/v1/chat/completions', { token: oneKey, body: chat('openai:cut-json') });
    assert.equal(broken.status, 502);
    assert.equal(broken.json().error.code, 'ERR_NGROK_27235');
    assert.match(broken.json().error.message, /answered HTTP 200, then the connection broke/);
    const [brokenRow] = await h.usage(broken.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([brokenRow!.statusCode, Number(brokenRow!.isError), brokenRow!.completion], [200, 1, 'failed'], 'a 2xx whose body broke is an error attempt');

    const mixed = await keyWith([{ provider: 'openai', steps: [user('sk-500', 'sk-401')] }]);
    const r503 = await gw(h, '/v1/chat/completions', { token: mixed, body: chat('gpt-4o') });
    assert.equal(r503.status, 503);
    const err = r503.json().error;
    assert.equal(err.code, 'ERR_NGROK_3807');
    assert.match(err.message, /\[1\] openai:gpt-4o with key aigpk_\w+: HTTP 500; \[2\] openai:gpt-4o with key aigpk_\w+: HTTP 401 credential rejected$/);
    // Neither the operator's key names (free text the access-key holder has no business reading) nor the values.
    assert.doesNotMatch(err.message, /sk-500|sk-401/);
    const anthropicAllLimited = await keyWith([{ provider: 'anthropic', steps: [user('sk-429-anth')] }]);
    const a = await gw(h, '/v1/messages', { headers: { 'x-api-key': anthropicAllLimited }, body: { model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(a.status, 429);
    assert.equal(a.json().error.type, 'rate_limit_error');
  });

  test('a 429 that says when to retry only in its body (Gemini\'s RetryInfo): the gateway\'s 429 says it, and the SDK waits that long', async () => {
    // Gemini's OpenAI-compatible API sends no Retry-After: without the body's retryDelay, the SDKs retried after
    // half a second, running the whole chain again against keys that had said 1.2 s.
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-429-gemini')] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
    assert.deepEqual([r.status, r.json().error.code, r.headers.get('retry-after-ms'), r.headers.get('retry-after')], [429, 'ERR_NGROK_27217', '1200', '2']);
    h.fake.reset();
    const started = Date.now();
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 1 }).chat.completions.create(chat('gpt-4o')), OpenAI.RateLimitError);
    assert.equal(h.fake.requests.length, 2);
    assert.ok(Date.now() - started >= 1150, `the SDK retried after ${Date.now() - started} ms`);
    // Beside a key with a header hint, the soonest still wins.
    const both = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-gemini', 'sk-429')] }]), body: chat('gpt-4o') });
    assert.deepEqual([both.status, both.headers.get('retry-after-ms'), both.headers.get('retry-after')], [429, null, '1']);
  });

  test('a Retry-After the gateway cannot read (`-1`, `1,5`) is no hint: the other keys\' hints are the answer\'s, and the SDK waits for them', async () => {
    for (const value of ['-1', '1,5']) keys[`sk-429-after-${value}`] = await h.providerKey('openai', `sk-429-after-${encodeURIComponent(value)}`, `retry-after ${value}`);
    // V8's Date.parse reads `-1` as 2001-01-01 (a wait already over): it outranked the next key's 1 s and the client
    // was told `Retry-After: -1`, which the SDKs ignore for their half-second backoff.
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-429-after--1', 'sk-429')] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
    assert.deepEqual([r.status, r.json().error.code, r.headers.get('retry-after'), r.headers.get('retry-after-ms')], [429, 'ERR_NGROK_27217', '1', null]);
    h.fake.reset();
    const started = Date.now();
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 1 }).chat.completions.create(chat('gpt-4o')), OpenAI.RateLimitError);
    assert.equal(h.fake.requests.length, 4, 'the SDK ran the chain twice');
    assert.ok(Date.now() - started >= 950, `the SDK retried after ${Date.now() - started} ms`);
    // A decimal comma beside OpenAI's reset times: those say when.
    const comma = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-after-1,5', 'sk-429-reset')] }]), body: chat('gpt-4o') });
    assert.deepEqual([comma.status, comma.headers.get('retry-after'), comma.headers.get('retry-after-ms')], [429, '360', '360000']);
    // An HTTP-date is still a hint, passed on as the provider wrote it.
    const at = new Date(Date.now() + 120_000).toUTCString();
    keys['sk-429-after-date'] = await h.providerKey('openai', `sk-429-after-${encodeURIComponent(at)}`, 'retry-after date');
    const dated = await gw(h, '/v1/chat/completions', { token: await keyWith([{ provider: 'openai', steps: [user('sk-429-reset', 'sk-429-after-date')] }]), body: chat('gpt-4o') });
    assert.deepEqual([dated.status, dated.headers.get('retry-after'), dated.headers.get('retry-after-ms')], [429, at, null]);
  });

  test('every key refused for itself (rejected, out of funds, out of quota): 503 3807 the SDKs do not retry; beside a server error they still do', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-401', 'sk-402', 'sk-quota')] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
    assert.deepEqual([r.status, r.json().error.code, r.headers.get('x-should-retry'), r.headers.get('ngrok-aig-attempts')], [503, 'ERR_NGROK_3807', 'false', '3']);
    // Before, the SDK ran the whole chain three times against keys only an operator can fix.
    h.fake.reset();
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 2 }).chat.completions.create(chat('gpt-4o')), (e: unknown) => e instanceof OpenAI.APIError && e.status === 503);
    assert.equal(h.fake.requests.length, 3, 'one chain, no retry');
    // A 5xx may pass on a retry: left to the SDK.
    const mixed = await keyWith([{ provider: 'openai', steps: [user('sk-500', 'sk-401')] }]);
    h.fake.reset();
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: mixed, maxRetries: 1 }).chat.completions.create(chat('gpt-4o')), (e: unknown) => e instanceof OpenAI.APIError && e.status === 503);
    assert.equal(h.fake.requests.length, 4, 'the SDK retried the chain once');
  });

  test('timeouts: a slow attempt fails over; all slow → 504; the total budget → 504 3810', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    // 1 s: far below the slow models' 2 s, and far above what an instant answer takes on a loaded machine (a full
    // suite beside other work once took the instant fallback past 300 ms).
    await h.gatewayConfig({ perRequestTimeout: '1000ms', totalTimeout: '10s' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:slow-2000-a', { models: ['gpt-4o'] }) });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('ngrok-aig-attempts'), '2');
      const rows = await h.usage(r.headers.get('ngrok-aig-request-id')!, 2);
      assert.deepEqual(rows.map((x) => [x.statusCode, Number(x.timedOut), x.completion, x.retryAction]), [[0, 1, 'timed_out', 'next_backend'], [200, 0, 'succeeded', 'succeeded']]);
      // Each attempt is stamped when it finished: a failure at once, then an answer that took 250 ms.
      const later = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:fail-500-a', { models: ['openai:slow-250-b'] }) });
      assert.equal(later.status, 200, later.text);
      const [first, second] = await h.usage(later.headers.get('ngrok-aig-request-id')!, 2);
      const gap = Date.parse(second!.eventTime) - Date.parse(first!.eventTime);
      assert.ok(gap >= 240, `the failed attempt's eventTime is ${gap} ms before the answer's`);
      // A stream whose head came at once but no event within the attempt timeout: nothing reached the client, so
      // it fails over like a slow head.
      const silent = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:silent-2000-a', { models: ['gpt-4o'], stream: true }) });
      assert.equal(silent.status, 200, silent.text);
      assert.equal(silent.headers.get('ngrok-aig-model'), 'gpt-4o');
      const silentRows = await h.usage(silent.headers.get('ngrok-aig-request-id')!, 2);
      assert.deepEqual(silentRows.map((x) => [x.statusCode, Number(x.timedOut), x.completion]), [[200, 1, 'timed_out'], [200, 0, 'succeeded']]);
      const slow = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:slow-2000-a') });
      assert.equal(slow.status, 504);
      assert.equal(slow.json().error.code, 'ERR_NGROK_27207');
      // On Anthropic's surface the type is Anthropic's own for a timeout.
      const claudeKey = await keyWith([{ provider: 'anthropic', steps: [user('sk-anth-good')] }]);
      const slowClaude = await gw(h, '/v1/messages', { headers: { 'x-api-key': claudeKey }, body: { model: 'anthropic:slow-2000-claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(slowClaude.status, 504);
      assert.deepEqual([slowClaude.json().type, slowClaude.json().error.type, slowClaude.json().error.code], ['error', 'timeout_error', 'ERR_NGROK_27207']);
      await h.gatewayConfig({ perRequestTimeout: '300ms', totalTimeout: '450ms' });
      await new Promise((r) => setTimeout(r, 100));
      const total = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:slow-2000-a', { models: ['openai:slow-2000-b', 'gpt-4o'] }) });
      assert.equal(total.status, 504);
      assert.equal(total.json().error.code, 'ERR_NGROK_3810');
      assert.equal(total.headers.get('ngrok-aig-attempts'), '2');
    } finally {
      await h.gatewayConfig({ perRequestTimeout: '60s', totalTimeout: '120s' });
    }
  });

  test('the total timeout running out while an attempt is being journaled: 504 3810, and the provider never gets it', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    await h.gatewayConfig({ perRequestTimeout: '100ms', totalTimeout: '200ms' });
    // The attempt's begun row takes longer to note than the whole request may (a loaded loop, a slow disk).
    const begin = UsageJournal.prototype.begin;
    UsageJournal.prototype.begin = function (this: UsageJournal, attempt) {
      return begin.call(this, attempt).then(() => new Promise((resolve) => setTimeout(resolve, 400)));
    };
    try {
      await new Promise((r) => setTimeout(r, 100));
      h.fake.reset();
      const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('openai:gpt-4o-mini') });
      assert.equal(r.status, 504, r.text);
      assert.equal(r.json().error.code, 'ERR_NGROK_3810');
      UsageJournal.prototype.begin = begin;
      const rows = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual(rows.map((x) => [x.statusCode, Number(x.timedOut), x.completion, x.retryAction, Number(x.costPico)]), [[0, 1, 'timed_out', 'exhausted', 0]]);
      // Past the client's 504, the attempt would have run on (its own timeout bounded it): it was never sent.
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(h.fake.requests.length, 0, 'the provider never saw the request');
    } finally {
      UsageJournal.prototype.begin = begin;
      await h.gatewayConfig({ perRequestTimeout: '60s', totalTimeout: '120s' });
    }
  });

  test('a provider URL leading back to this gateway: 508 27237 at the first hop back, not a chain of calls', async () => {
    const inner = (await h.accessKey()).token;
    await h.api('POST', '/providers', {
      providerId: 'loopback', name: 'Back to ourselves', baseUrl: `${h.gatewayUrl}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', supportedParams: [{ name: 'messages' }] }],
      models: [{ modelId: 'm' }],
    });
    const loopKey = await h.providerKey('loopback', inner, 'our own access key');
    const looping = await keyWith([{ provider: 'loopback', steps: [{ type: 'user', keys: [{ id: loopKey }] }] }]);
    const r = await gw(h, '/v1/chat/completions', { token: looping, body: { model: 'loopback:m', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 508);
    assert.equal(r.json().error.code, 'ERR_NGROK_27237');
    // No retry can pass: the SDKs are told not to (they retry a 5xx otherwise).
    assert.equal(r.headers.get('x-should-retry'), 'false');
    assert.equal(r.headers.get('ngrok-aig-attempts'), '1');
    const events = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(events.length, 1);

    // What a provider sees: this deployment's id after the hops the request already made.
    h.fake.reset();
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: { model: 'gpt-4o', messages: [] } })).status, 200);
    const ours = h.fake.requests[0]!.headers['tollgate-via'];
    assert.match(String(ours), /^[0-9a-f]{16}$/);
    h.fake.reset();
    const chained = await gw(h, '/v1/chat/completions', { token, headers: { 'tollgate-via': '0123456789abcdef' }, body: { model: 'gpt-4o', messages: [] } });
    assert.equal(chained.status, 200);
    assert.equal(h.fake.requests[0]!.headers['tollgate-via'], `0123456789abcdef, ${ours}`);
    const endless = await gw(h, '/v1/chat/completions', { token, headers: { 'tollgate-via': Array.from({ length: 16 }, (_, i) => `hop${i}`).join(', ') }, body: { model: 'gpt-4o', messages: [] } });
    assert.equal(endless.status, 508);
  });

  test('deeply nested bodies: forwarded when only copied, 400 (not 500) when the gateway would have to walk them', async () => {
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const copied = await gw(h, '/v1/chat/completions', { token, body: `{"model":"gpt-4o","model":"openai:gpt-4o","messages":[],"x":${deep(100_000)}}` });
    assert.equal(copied.status, 200);
    const walked = await gw(h, '/v1/chat/completions', { token, body: `{"model":"gpt-4o","stream":true,"messages":[],"stream_options":{"x":${deep(100_000)}}}` });
    assert.equal(walked.status, 400);
    assert.equal(walked.json().error.code, 'ERR_NGROK_3801');
    assert.match(walked.json().error.message, /nested too deeply/);
  });

  test('unsupported parameters are stripped and reported', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('o3', { temperature: 0.2, top_p: 0.5, seed: 1 }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('ngrok-aig-removed-params'), 'temperature, top_p');
    assert.equal(h.fake.requests[0]!.body!.temperature, undefined);
    assert.equal(h.fake.requests[0]!.body!.seed, 1);
    const plain = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { temperature: 0.2 }) });
    assert.equal(plain.headers.get('ngrok-aig-removed-params'), null);
  });

  test('a reasoning effort sent to an OpenAI model without reasoning is stripped and reported, not refused by OpenAI', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    const r = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { reasoning_effort: 'low', temperature: 0.2 }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('ngrok-aig-removed-params'), 'reasoning_effort');
    assert.equal(h.fake.requests[0]!.body!.reasoning_effort, undefined);
    assert.equal(h.fake.requests[0]!.body!.temperature, 0.2);
    const responses = await gw(h, '/v1/responses', { token: t, body: { model: 'gpt-4.1', input: 'hi', reasoning: { effort: 'low' } } });
    assert.equal(responses.status, 200);
    assert.equal(responses.headers.get('ngrok-aig-removed-params'), 'reasoning');
    assert.equal(h.fake.requests[1]!.body!.reasoning, undefined);
    const reasoning = await gw(h, '/v1/chat/completions', { token: t, body: chat('o3', { reasoning_effort: 'low' }) });
    assert.equal(reasoning.headers.get('ngrok-aig-removed-params'), null);
    assert.equal(h.fake.requests[2]!.body!.reasoning_effort, 'low');
  });

  test('a chat `thinking` field (DeepSeek\'s and Anthropic\'s compatible spelling) sent to an OpenAI model is stripped and reported, not refused by OpenAI', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'openai', steps: [{ type: 'ngrok' }] }]);
    // A client switching models mid-conversation keeps the field it sent DeepSeek; OpenAI answers "Unrecognized request argument".
    for (const [model, extra] of [['gpt-4o', {}], ['o3', { reasoning_effort: 'low' }], ['gpt-5', {}]] as const) {
      const r = await gw(h, '/v1/chat/completions', { token: t, body: chat(model, { ...extra, thinking: { type: 'enabled', budget_tokens: 2048 } }) });
      assert.equal(r.status, 200, model);
      assert.equal(r.headers.get('ngrok-aig-removed-params'), 'thinking', model);
      assert.equal(h.fake.requests.at(-1)!.body!.thinking, undefined, model);
      if ('reasoning_effort' in extra) assert.equal(h.fake.requests.at(-1)!.body!.reasoning_effort, 'low');
    }
  });

  test('token caps: maxInputTokens → 413 3811 before any call; maxOutputTokens clamps what the provider sees', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    await h.gatewayConfig({ maxInputTokens: 20, maxOutputTokens: 50 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      h.fake.reset();
      const big = await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', {}, 'word '.repeat(100)) });
      assert.equal(big.status, 413);
      assert.equal(big.json().error.code, 'ERR_NGROK_3811');
      assert.match(big.json().error.message, /max 20/);
      assert.equal(h.fake.requests.length, 0);
      // Counting is how a client learns whether a prompt fits: the input cap does not refuse it.
      const anthropicKey = await keyWith([{ provider: 'anthropic', steps: [user('sk-anth-good')] }]);
      const counted = await gw(h, '/v1/messages/count_tokens', { headers: { 'x-api-key': anthropicKey }, body: { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'word '.repeat(100) }] } });
      assert.equal(counted.status, 200, counted.text);
      h.fake.reset();
      await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { max_tokens: 1000 }) });
      await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o', { max_tokens: 10 }) });
      await gw(h, '/v1/chat/completions', { token: t, body: chat('gpt-4o') });
      assert.equal(h.fake.requests[0]!.body!.max_tokens, 50);
      assert.equal(h.fake.requests[1]!.body!.max_tokens, 10);
      assert.equal(h.fake.requests[2]!.body!.max_completion_tokens, 50);
    } finally {
      await h.gatewayConfig({ maxInputTokens: null, maxOutputTokens: null });
    }
  });

  test('maxInputTokens: media sent by address do not count against the cap (their size is the provider\'s to learn); an image in the body does', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    await h.gatewayConfig({ maxInputTokens: 1_000 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      h.fake.reset();
      const withParts = (parts: unknown[]) => chat('gpt-4o', { messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise these.' }, ...parts] }] });
      // A PDF and an image by address: bounded at 100 pages and 5,000 tokens for the credit hold, not for the cap.
      const byAddress = await gw(h, '/v1/chat/completions', { token: t, body: withParts([
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
        { type: 'file', file: { file_id: 'file-abc123' } },
      ]) });
      assert.equal(byAddress.status, 200, byAddress.text);
      assert.equal(h.fake.requests.length, 1);
      // A 2,000×2,000 PNG in the body is counted at its documented bound (thousands of tokens): over the cap.
      const png = Buffer.alloc(33);
      png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
      png.writeUInt32BE(2_000, 16);
      png.writeUInt32BE(2_000, 20);
      const inBody = await gw(h, '/v1/chat/completions', { token: t, body: withParts([{ type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }]) });
      assert.equal(inBody.status, 413, inBody.text);
      assert.equal(inBody.json().error.code, 'ERR_NGROK_3811');
      assert.equal(h.fake.requests.length, 1);
    } finally {
      await h.gatewayConfig({ maxInputTokens: null });
    }
  });

  test('messages.countTokens passes through like Messages (scope, provider key, failover) and is recorded at zero tokens and cost', async () => {
    h.fake.reset();
    const t = await keyWith([{ provider: 'anthropic', steps: [user('sk-429-anth', 'sk-anth-good')] }]);
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: t, maxRetries: 0 });
    const params = countParams('claude-sonnet-4-6');
    const { data, response } = await anthropic.messages.countTokens(params).withResponse();
    assert.deepEqual(data, { input_tokens: FAKE_TOKEN_COUNT });
    assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
    assert.equal(response.headers.get('ngrok-aig-model'), 'claude-sonnet-4-6');
    assert.deepEqual(h.fake.requests.map((r) => [r.path, r.headers['x-api-key'], r.headers.authorization]), [
      ['/v1/messages/count_tokens', 'sk-429', undefined],
      ['/v1/messages/count_tokens', 'sk-anth-good', undefined],
    ]);
    assert.equal(h.fake.requests[1]!.rawBody, JSON.stringify(params), 'the body goes as the client sent it');
    // One event per attempt, like any request, but a count is neither usage nor estimated usage, and costs nothing.
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual(rows.map((r) => [r.statusCode, r.retryAction, Number(r.isError), r.inputTokens, r.outputTokens, Number(r.usageEstimated), r.inputTokensEstimate, r.outputTokensEstimate, BigInt(r.costPico)]), [
      [429, 'next_key', 1, 0, 0, 0, 0, 0, 0n],
      [200, 'succeeded', 0, 0, 0, 0, 0, 0, 0n],
    ]);

    // The scope is checked on `model`, and only providers serving Messages are asked for counts: a GPT model's is
    // the gateway's own (translation.md), with no attempt.
    const onlyOpenai = await keyWith([{ provider: 'anthropic', steps: [user('sk-anth-good')] }], { providers: { allow: ['openai'] } });
    await assert.rejects(new Anthropic({ baseURL: h.gatewayUrl, apiKey: onlyOpenai, maxRetries: 0 }).messages.countTokens(params),
      (e: unknown) => e instanceof Anthropic.PermissionDeniedError && e.message.includes('ERR_NGROK_27231'));
    const local = await anthropic.messages.countTokens(countParams('gpt-4o')).withResponse();
    assert.deepEqual([local.data.input_tokens > 0, local.data.input_tokens === FAKE_TOKEN_COUNT, local.response.headers.get('ngrok-aig-attempts')], [true, false, '0']);

    // An account output cap is never added to a count (Anthropic refuses `max_tokens` there).
    await h.gatewayConfig({ maxOutputTokens: 50 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      h.fake.reset();
      await anthropic.messages.create({ ...params, max_tokens: 1000 });
      assert.equal(h.fake.requests.at(-1)!.body!.max_tokens, 50, 'the cap is in force');
      // Messages requires max_tokens, but with a cap the gateway supplies it: the request is not refused.
      await anthropic.messages.create(params as Anthropic.MessageCreateParamsNonStreaming);
      assert.equal(h.fake.requests.at(-1)!.body!.max_tokens, 50, 'the cap is added as the limit');
      assert.deepEqual(await anthropic.messages.countTokens(params), { input_tokens: FAKE_TOKEN_COUNT });
      assert.equal(h.fake.requests.at(-1)!.body!.max_tokens, undefined);
    } finally {
      await h.gatewayConfig({ maxOutputTokens: null });
    }

    // A user-defined Anthropic-compatible provider serves counts beside its Messages surface.
    await h.api('POST', '/providers', {
      providerId: 'claude-compat', name: 'Claude-compatible', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'anthropic', surface: 'messages' }], models: [{ modelId: 'org/compat-1' }],
    });
    await h.providerKey('claude-compat', 'sk-compat-key');
    h.fake.reset();
    assert.deepEqual(await anthropic.messages.countTokens(countParams('claude-compat:org/compat-1')), { input_tokens: FAKE_TOKEN_COUNT });
    assert.deepEqual([h.fake.requests[0]!.path, h.fake.requests[0]!.headers['x-api-key'], h.fake.requests[0]!.body!.model], ['/v1/messages/count_tokens', 'sk-compat-key', 'org/compat-1']);
  });

  test('a custom provider set up with a bare origin, as ngrok\'s Ollama guide does, is called under /v1', async () => {
    await h.api('POST', '/providers', {
      providerId: 'my-ollama', name: 'Local Ollama', baseUrl: h.fake.url,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }], models: [{ modelId: 'llama3.2' }],
    });
    h.fake.reset();
    const answer = await sdk(token).chat.completions.create({ model: 'my-ollama:llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    assert.match(answer.choices[0]!.message.content ?? '', /llama3\.2/);
    assert.equal(h.fake.requests[0]!.path, '/v1/chat/completions');
    // The access guides write it `my-ollama/llama3.2`; a request copying that is told the address to use.
    await assert.rejects(sdk(token).chat.completions.create({ model: 'my-ollama/llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'ERR_NGROK_27224' && e.message.includes('Did you mean "my-ollama:llama3.2"?'));
    // A built-in provider's uncatalogued model written the same way is told its pass-through address.
    await assert.rejects(sdk(token).chat.completions.create({ model: 'openai/gpt-5-preview', messages: [{ role: 'user', content: 'hi' }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'ERR_NGROK_27224' && e.message.includes('Did you mean "openai:gpt-5-preview"?'));
  });

  test('a custom model declared with providerModelId and unsupportedParams: the provider gets its own id, without those params', async () => {
    const created = await h.api<{ id: string; models: Array<{ modelId: string; providerModelId?: string; unsupportedParams: string[] }> }>('POST', '/providers', {
      providerId: 'my-vllm', name: 'vLLM', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }],
      models: [{ modelId: 'llama-70b', providerModelId: 'meta-llama/Llama-3.3-70B-Instruct', unsupportedParams: ['logit_bias', 'seed'] }, { modelId: 'plain' }],
    });
    assert.deepEqual(created.models.map((m) => [m.modelId, m.providerModelId, m.unsupportedParams]), [
      ['llama-70b', 'meta-llama/Llama-3.3-70B-Instruct', ['logit_bias', 'seed']], ['plain', undefined, []],
    ]);
    await h.providerKey('my-vllm', 'sk-vllm');
    h.fake.reset();
    const { response } = await sdk(token).chat.completions.create({ model: 'my-vllm:llama-70b', messages: [{ role: 'user', content: 'hi' }], seed: 7, logit_bias: { 50256: -100 }, temperature: 0.2 }).withResponse();
    const sent = h.fake.requests[0]!.body!;
    assert.deepEqual([sent.model, 'seed' in sent, 'logit_bias' in sent, sent.temperature], ['meta-llama/Llama-3.3-70B-Instruct', false, false, 0.2]);
    assert.equal(response.headers.get('ngrok-aig-removed-params'), 'seed, logit_bias');
    assert.equal(response.headers.get('ngrok-aig-model'), 'meta-llama/Llama-3.3-70B-Instruct', 'the model as the provider knows it');
    const rows = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(rows[0]!.model, 'llama-70b', 'usage names the model as the account declared it');
    // A model without them is sent as named, with everything.
    h.fake.reset();
    await sdk(token).chat.completions.create({ model: 'my-vllm:plain', messages: [{ role: 'user', content: 'hi' }], seed: 7 });
    assert.deepEqual([h.fake.requests[0]!.body!.model, h.fake.requests[0]!.body!.seed], ['plain', 7]);
  });

  test('a custom provider surface with its own baseUrl (a vendor serving Anthropic\'s API under another path) is called there', async () => {
    // As DeepSeek does: Chat Completions at https://api.deepseek.com/v1, Messages at https://api.deepseek.com/anthropic.
    await h.api('POST', '/providers', {
      providerId: 'two-apis', name: 'Two APIs', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }, { format: 'anthropic', surface: 'messages', baseUrl: `${h.fake.url}/anthropic` }],
      models: [{ modelId: 'chat-1' }],
    });
    await h.providerKey('two-apis', 'sk-two');
    h.fake.reset();
    await sdk(token).chat.completions.create({ model: 'two-apis:chat-1', messages: [{ role: 'user', content: 'hi' }] });
    await gw(h, '/v1/messages', { token, body: { model: 'two-apis:chat-1', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } });
    assert.deepEqual(h.fake.requests.map((r) => r.path), ['/v1/chat/completions', '/anthropic/messages']);
    // Each surface gets the credential in its own API's header.
    assert.deepEqual(h.fake.requests.map((r) => [r.headers.authorization, r.headers['x-api-key']]), [['Bearer sk-two', undefined], [undefined, 'sk-two']]);
    // Held to the provider baseUrl's rules: no credential in it.
    await assert.rejects(h.api('POST', '/providers', {
      providerId: 'leaky', name: 'Leaky', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'anthropic', surface: 'messages', baseUrl: `${h.fake.url}/anthropic?api_key=sk-secret` }],
    }), /400/);
  });

  test('Responses, completions and embeddings surfaces pass through and are metered', async () => {
    const t = await keyWith([{ provider: 'openai', steps: [user('sk-good-a')] }]);
    const client = sdk(t);
    const resp = await client.responses.create({ model: 'gpt-4o', input: 'hello responses' });
    assert.match(resp.output_text, /fake gpt-4o/);
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] }).withResponse();
    assert.equal(emb.data.data.length, 2);
    const rows = await h.usage(emb.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(rows[0]!.inputTokens, 17);
    assert.equal(rows[0]!.model, 'text-embedding-3-small');
    // Embeddings answer in one JSON body whatever `stream` says: not recorded as a stream.
    const streamed = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a'], stream: true } as OpenAI.EmbeddingCreateParams).withResponse();
    assert.equal((await h.usage(streamed.response.headers.get('ngrok-aig-request-id')!, 1))[0]!.isStreaming ? 1 : 0, 0);
    const comp = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'say hi' });
    assert.match(comp.choices[0]!.text, /fake/);
  });
});

/** A gateway refusing requests without credit, charging a processing fee. */
const BILLING = { TOLLGATE_BILLING: 'on', TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' };

describe('billing (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('balance ≤ 0 → 403 4026 before any upstream call; credits make requests pass and usage is charged', async () => {
    const { token } = await h.accessKey();
    const denied = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    assert.equal(denied.status, 403);
    assert.equal(denied.json().error.code, 'ERR_NGROK_4026');
    assert.match(denied.json().error.message, /run out of credit/);
    assert.equal(h.fake.requests.length, 0);
    await assert.rejects(new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create(chat('gpt-4o')), OpenAI.PermissionDeniedError);
    // Refused for credit before its body is read: the connection closes, the gateway does not read (and drop) what
    // the key declared — only a body too large is drained, so the SDK can read its 413.
    const declared = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{"model":`);
    assert.deepEqual([declared.status, declared.headers.connection], [403, 'close']);
    await grantCredits(h.running.store.db, h.accountId, 500, { category: 'promotional' });
    await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
    let ok: Awaited<ReturnType<typeof gw>> | undefined;
    for (let i = 0; i < 40; i++) {
      ok = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
      if (ok.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ok!.status, 200);
    const [row] = await h.usage(ok!.headers.get('ngrok-aig-request-id')!, 1);
    // Managed key: model cost at catalog prices plus the processing fee.
    assert.ok(BigInt(row!.costPico) > 0n);
  });

  test('a count served with the managed key is neither billed nor charged the processing fee', async () => {
    const { token } = await h.accessKey();
    await grantCredits(h.running.store.db, h.accountId, 1, { category: 'promotional' });
    await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
    let counted = await gw(h, '/v1/messages/count_tokens', { token, body: countParams('claude-sonnet-4-6') });
    for (let i = 0; i < 40 && counted.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      counted = await gw(h, '/v1/messages/count_tokens', { token, body: countParams('claude-sonnet-4-6') });
    }
    assert.equal(counted.status, 200, counted.text);
    assert.deepEqual(counted.json(), { input_tokens: FAKE_TOKEN_COUNT });
    const [row] = await h.usage(counted.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.keySource, row!.inputTokens, Number(row!.usageEstimated), BigInt(row!.costPico)], ['ngrok', 0, 0, 0n]);
  });
});

describe('billing: a grant from another process (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('a grant `tollgate credits grant` just committed admits the very next request, before the change poll would see it', async () => {
    const { token } = await h.accessKey();
    // o1 at the fake's usage costs ~0.08 cents a request: a 1-cent grant is spent in about a dozen.
    const spendAll = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) if ((await gw(h, '/v1/chat/completions', { token, body: chat('o1') })).status === 403) return;
      assert.fail('a 1-cent grant was never spent');
    };
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: chat('o1') })).status, 403);
    const other = await openStore(h.database.url, { migrate: false });
    try {
      for (let round = 0; round < 3; round++) {
        // What the CLI does, on its own connection: this gateway learns of it from data_version, polled every 100 ms.
        await other.db.transaction().execute(async (trx) => {
          await grantCredits(trx, h.accountId, 1, { category: 'promotional' });
          await new ChangeBus().recordAll(trx, [{ accountId: h.accountId, kind: 'credits', resourceId: h.accountId }]);
        });
        const admitted = await gw(h, '/v1/chat/completions', { token, body: chat('o1') });
        assert.equal(admitted.status, 200, `round ${round}: ${admitted.text}`);
        await spendAll();
      }
    } finally {
      await other.close();
    }
  });
});

/** A key routed to the account's own OpenAI key, on a one-cent grant the gateway has read (a small request served). */
const small = { model: 'openai:gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
async function oneCentOnOwnKey(h: Harness): Promise<string> {
  const keyId = await h.providerKey('openai', 'sk-good-a');
  const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: keyId }] }] }] } }))).token;
  await grantUntilServed(h, h.accountId, 1, token, small);
  return token;
}

/**
 * The answer to `small` (on the account's own key) sent while `send`'s request, which the fake provider keeps about
 * 1.5 s, is in flight: refused 4026 when that request's hold leaves the balance no headroom. `send`'s request is served.
 */
async function nextWhileInFlight(h: Harness, token: string, send: () => ReturnType<typeof gw>): ReturnType<typeof gw> {
  h.fake.reset();
  const slow = send();
  for (let i = 0; i < 100 && h.fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(h.fake.requests.length, 1, 'the slow request reached the provider (its reservation is open)');
  const next = await gw(h, '/v1/chat/completions', { token, body: small });
  const served = await slow;
  assert.equal(served.status, 200, served.text);
  return next;
}

describe('billing: credit held by requests in flight (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('a positive balance that open reservations hold is refused as transient, and serves again once they settle', async () => {
    const token = await oneCentOnOwnKey(h);
    // 128 choices of an uncatalogued model's 16,384-token default limit at the 0.05 USD/Mtok fee: ~10.5 cents held
    // against a balance of under one cent, for the 1.5 s the provider takes.
    h.fake.reset();
    const slow = gw(h, '/v1/chat/completions', { token, body: { model: 'openai:slow-1500-x', n: 128, messages: [{ role: 'user', content: 'x' }] } });
    for (let i = 0; i < 100 && h.fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.fake.requests.length, 1, 'the slow request reached the provider (its reservation is open)');
    const held = await gw(h, '/v1/chat/completions', { token, body: small });
    assert.equal(held.status, 403);
    assert.equal(held.json().error.code, 'ERR_NGROK_4026');
    assert.match(held.json().error.message, /held by requests still in flight; retry when they finish/);
    assert.equal((await slow).status, 200);
    // Settled at its real cost (a few tokens of fee): the balance serves again.
    const after = await gw(h, '/v1/chat/completions', { token, body: small });
    assert.equal(after.status, 200, after.text);
  });

  test('a managed request offering OpenAI\'s code interpreter holds a session at its tier, as web searches are held: in flight on a one-cent balance, the next request is refused 4026', async () => {
    const token = await oneCentOnOwnKey(h);
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }] } }))).token;
    // gpt-4o-mini on the operator's key, kept in flight by the fake provider; 16 output tokens hold a fraction of a cent.
    const send = (tools: unknown[]) => () => gw(h, '/v1/responses', { token: managed, body: { model: 'gpt-4o-mini', input: 'x', max_output_tokens: 16, metadata: { fake_delay_ms: '1500' }, tools } });
    assert.equal((await nextWhileInFlight(h, token, send([]))).status, 200, 'its tokens alone leave the cent for the next request');
    // A 1 GB session is $0.03, three times the balance: held while the container may run.
    const held = await nextWhileInFlight(h, token, send([{ type: 'code_interpreter', container: { type: 'auto' } }]));
    assert.equal(held.status, 403, held.text);
    assert.equal(held.json().error.code, 'ERR_NGROK_4026');
    assert.match(held.json().error.message, /held by requests still in flight/);
  });
});

// Billing on: a grant that lapses while the gateway runs stops admitting requests at its expiry, not at the next
// snapshot reload (the minute's resync).
describe('billing: a grant expiring while the gateway runs (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('the first request after the only grant expired is refused 403 4026', async () => {
    const { token } = await h.accessKey();
    // Far enough ahead for the steps before it on a loaded CI machine (they take ~3 s).
    const expiresAt = new Date(Date.now() + 8000).toISOString();
    await grantCredits(h.running.store.db, h.accountId, 500, { category: 'purchase', expiresAt });
    await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
    let ok = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    for (let i = 0; i < 10 && ok.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ok = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    }
    assert.equal(ok.status, 200, ok.text);
    // Once the grant's change is applied (a new snapshot: the same process's write is seen by the 2 s poll) and a
    // request has read its figure, nothing moves the account's snapshot before the expiry.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') })).status, 200);
    assert.ok(Date.now() < Date.parse(expiresAt), 'the figure was read before the expiry');
    await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 50));
    const late = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    assert.equal(late.status, 403, `served ${Date.now() - Date.parse(expiresAt)} ms after the grant expired`);
    assert.equal(late.json().error.code, 'ERR_NGROK_4026');
  });
});

describe('providers ngrok serves on credits beyond OpenAI, Anthropic, Google and DeepSeek (sqlite)', () => {
  let h: Harness;
  // The operator's own credentials, one per provider, each pointed at the fake provider.
  const MANAGED: Record<string, string> = { xai: 'xai-managed-secret', moonshotai: 'sk-managed-moonshot', 'z-ai': 'zai-managed-secret', minimax: 'mm-managed-secret' };
  const env = (fakeUrl: string) => Object.fromEntries(Object.entries(MANAGED).flatMap(([id, key]) => {
    const suffix = id.toUpperCase().replace(/-/g, '_');
    return [[`TOLLGATE_PROVIDER_${suffix}_BASE_URL`, `${fakeUrl}/v1`], [`TOLLGATE_MANAGED_${suffix}_API_KEY`, key]];
  }).concat([['TOLLGATE_PROVIDER_QWENCLOUD_BASE_URL', `${fakeUrl}/v1`]]));
  const sdk = (t: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: t, maxRetries: 0 });
  before(async () => { h = await startHarness('sqlite', env); });
  after(async () => { await h.close(); });

  test('an access key with no provider keys calls Grok, Kimi, GLM and MiniMax models on the operator\'s key, billed at the catalog price', async () => {
    const { token } = await h.accessKey();
    // [model as ngrok's catalog names it, provider, id sent upstream, USD per million tokens: input, cached input, output]
    const cases = [
      ['xai/grok-4', 'xai', 'grok-4', 3_000_000n, 750_000n, 15_000_000n],
      ['moonshotai/kimi-k2.5', 'moonshotai', 'kimi-k2.5', 600_000n, 100_000n, 3_000_000n],
      ['z-ai/glm-5', 'z-ai', 'glm-5', 1_000_000n, 200_000n, 3_200_000n],
      ['minimax/minimax-m2.7', 'minimax', 'MiniMax-M2.7', 300_000n, 60_000n, 1_200_000n],
    ] as const;
    for (const [model, provider, upstreamId, input, cached, output] of cases) {
      const { data, response } = await sdk(token).chat.completions.create(chat(model)).withResponse();
      assert.equal(data.usage?.prompt_tokens, FAKE_USAGE.input, model);
      const sent = h.fake.requests.at(-1)!;
      assert.equal(sent.headers.authorization, `Bearer ${MANAGED[provider]}`, model);
      assert.equal(sent.body?.model, upstreamId, 'the provider\'s own (case-sensitive) id goes upstream');
      const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([row!.keySource, row!.provider, row!.model], ['ngrok', provider, upstreamId]);
      // Pico-USD per token = micro-USD per million: uncached input, cached input and output at the catalog's prices.
      const expected = BigInt(FAKE_USAGE.input - FAKE_USAGE.cacheRead) * input + BigInt(FAKE_USAGE.cacheRead) * cached + BigInt(FAKE_USAGE.output) * output;
      assert.equal(BigInt(row!.costPico) - BigInt(row!.feePico), expected, model);
    }
    // A model whose price is not known still needs the account's own key (nothing reaches the provider).
    const sent = h.fake.requests.length;
    await assert.rejects(sdk(token).chat.completions.create(chat('xai/grok-4.3')), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.match(e.message, /"grok-4\.3" is not available with a managed key for provider "xai": it has no published price to bill/);
      return true;
    });
    assert.equal(h.fake.requests.length, sent);
  });

  test('provider keys can be stored for MiniMax and QwenCloud and serve their requests', async () => {
    const minimaxKey = await h.providerKey('minimax', 'mm-account-key');
    const qwenKey = await h.providerKey('qwencloud', 'qwen-account-key');
    const { token } = await h.accessKey();
    const mm = await sdk(token).chat.completions.create(chat('minimax/minimax-m2.5')).withResponse();
    assert.equal(h.fake.requests.at(-1)!.headers.authorization, 'Bearer mm-account-key', 'the account\'s key comes before the operator\'s');
    const [mmRow] = await h.usage(mm.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([mmRow!.keySource, mmRow!.providerKeyId], ['user', minimaxKey]);
    // QwenCloud has no catalogued models: a `qwencloud:` model passes through on the account's key.
    const qwen = await sdk(token).chat.completions.create(chat('qwencloud:qwen3-max')).withResponse();
    assert.deepEqual([h.fake.requests.at(-1)!.headers.authorization, h.fake.requests.at(-1)!.body?.model], ['Bearer qwen-account-key', 'qwen3-max']);
    const [qwenRow] = await h.usage(qwen.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([qwenRow!.keySource, qwenRow!.provider, qwenRow!.providerKeyId], ['user', 'qwencloud', qwenKey]);
  });

  test('GET /v1/models lists the MiniMax models under ngrok\'s ids, usable as the model', async () => {
    const { token } = await h.accessKey();
    const ids: string[] = [];
    for await (const m of sdk(token).models.list()) ids.push(m.id);
    for (const id of ['minimax/minimax-m3', 'minimax/minimax-m2.7', 'minimax/minimax-m2.7-highspeed', 'minimax/minimax-m2.5', 'minimax/minimax-m2.5-highspeed']) assert.ok(ids.includes(id), id);
    assert.ok(ids.includes('xai/grok-4.3') && ids.includes('moonshotai/kimi-k2.6'));
  });
});

// Billing on: media in a request are held at their documented bounds (domain/media-tokens.ts), not at their bytes; a
// compaction Anthropic may run is held.
describe('billing: media and compaction in the credit hold (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('image addresses are held at 5,000 tokens each: a request in flight with them holds credit its text alone does not', async () => {
    const token = await oneCentOnOwnKey(h);
    const whileInFlight = (images: number) => {
      const parts = [{ type: 'text', text: 'Which of these is a cat?' }, ...Array.from({ length: images }, (_, i) => ({ type: 'image_url', image_url: { url: `https://example.com/${i}.png` } }))];
      return nextWhileInFlight(h, token, () => gw(h, '/v1/chat/completions', { token, body: { model: 'openai:slow-1500-x', max_tokens: 5, messages: [{ role: 'user', content: parts }] } }));
    };
    // The text alone (an uncatalogued model on the account's key: the 0.05 USD/Mtok fee on a few thousand bytes and
    // its 5 output tokens) leaves the cent for the next request.
    assert.equal((await whileInFlight(0)).status, 200);
    // 50 images of unknown size at 5,000 tokens each (the most any family counts for one): 250,000 tokens at the fee,
    // 1.25 cents held, more than the cent granted. Their ~2 KB of addresses held 0.01 cents before.
    const held = await whileInFlight(50);
    assert.equal(held.status, 403, held.text);
    assert.equal(held.json().error.code, 'ERR_NGROK_4026');
    assert.match(held.json().error.message, /held by requests still in flight/);
  });

  test('a Messages request that may compact its context holds the compaction: in flight on a balance of a cent or two, the next request is refused 4026', async () => {
    const token = await oneCentOnOwnKey(h);
    const keyId = await h.providerKey('anthropic', 'sk-good-claude');
    const claude = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: keyId }] }] }] } }))).token;
    // Claude Opus 4.6 on the account's own key: the fee alone (0.05 USD/Mtok), on about two cents (the test above left
    // most of its cent). 120,000 output tokens hold 0.6 cents; with compaction past 50,000 input tokens, which the
    // transcript may reach, the summary (up to Opus's 128,000 output tokens) and the executor reading it again hold
    // ~2.5 cents more.
    const send = (extra: Record<string, unknown>) => () => gw(h, '/v1/messages', { headers: { 'x-api-key': claude }, body: { model: 'claude-opus-4-6', max_tokens: 120_000, messages: [{ role: 'user', content: 'x' }], metadata: { fake_delay_ms: '1500' }, ...extra } });
    assert.equal((await nextWhileInFlight(h, token, send({}))).status, 200, 'its tokens alone leave credit for the next request');
    const held = await nextWhileInFlight(h, token, send({ context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 50_000 } }] } }));
    assert.equal(held.status, 403, held.text);
    assert.equal(held.json().error.code, 'ERR_NGROK_4026');
    assert.match(held.json().error.message, /held by requests still in flight/);
  });
});


describe('an attempt cut by a timeout (sqlite)', () => {
  // The operator's OpenAI key reads every request and never answers; the operator's Anthropic base URL is a TLS
  // server that accepts the connection and never says a word, so no call to it gets past its handshake.
  let h: Harness;
  let silentTls: ReturnType<typeof createServer>;
  const held: Socket[] = [];
  before(async () => {
    silentTls = createServer((socket) => { held.push(socket); });
    await new Promise<void>((resolve) => silentTls.listen(0, '127.0.0.1', resolve));
    const { port } = silentTls.address() as { port: number };
    h = await startHarness('sqlite', { TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-hang-managed', TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL: `https://127.0.0.1:${port}/v1` });
  });
  /** Claude on the operator's key, whose calls never get past their TLS handshake. */
  const silentClaude = async () => h.accessKey(await h.configuration({ router: { rules: [{ provider: 'anthropic', steps: [{ type: 'ngrok' }] }] } }));
  const claudeBody = JSON.stringify({ model: 'anthropic:claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'The quick brown fox jumps over the lazy dog. '.repeat(200) }] });
  const until = async (done: () => boolean) => { while (!done()) await new Promise((r) => setTimeout(r, 10)); };

  // First, with the default 60 s per-request timeout: the gateway aborts the call for the client, a second after it left.
  test('a client leaving while its call is still connecting: nothing billed, nothing estimated', async () => {
    const { id, token } = await silentClaude();
    const connections = held.length;
    const controller = new AbortController();
    const call = fetch(`${h.gatewayUrl}/v1/messages`, { method: 'POST', signal: controller.signal, headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: claudeBody }).catch(() => undefined);
    await until(() => held.length > connections);
    controller.abort();
    await call;
    // Long enough for a call cut only by undici's connect timeout (10 s), as it was.
    const deadline = Date.now() + 15_000;
    let rows: Awaited<ReturnType<Harness['usage']>> = [];
    while (rows.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      rows = await h.running.store.db.selectFrom('usageEvents').selectAll().where('accessKeyId', '=', id).execute();
    }
    const [row] = rows;
    assert.deepEqual([row!.keySource, row!.statusCode, row!.completion, Number(row!.usageEstimated), Number(row!.inputTokensEstimate), BigInt(row!.costPico)], ['ngrok', 0, 'unknown', 0, 0, 0n]);
  });
  after(async () => {
    await h.close();
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silentTls.close(resolve));
  });

  test('after the provider had the whole request: its input billed as estimated, no fee; the next key serves the client', async () => {
    // Written before the keys: the gateway reads the changes in order, so the keys serve with this timeout.
    await h.gatewayConfig({ perRequestTimeout: '300ms' });
    const good = await h.providerKey('openai', 'sk-good-a');
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }, { type: 'user', keys: [{ id: good }] }] }] } }))).token;
    const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
    const r = await gw(h, '/v1/chat/completions', { token, body: chat('openai:gpt-4o-mini', {}, prompt) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.headers.get('ngrok-aig-attempts'), r.json().usage.prompt_tokens], ['2', FAKE_USAGE.input]);
    // The provider had it: it read the whole request, and the gateway left it when the timeout ran out.
    const cut = await h.fake.waitForAbort((x) => x.headers.authorization === 'Bearer sk-hang-managed');
    assert.ok(cut.rawBody.includes('lazy dog'));
    const [timedOut, served] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 2);
    assert.deepEqual([timedOut!.keySource, timedOut!.statusCode, Number(timedOut!.timedOut), timedOut!.completion, Number(timedOut!.usageEstimated), Number(timedOut!.inputTokens), Number(timedOut!.outputTokens), Number(timedOut!.outputTokensEstimate)],
      ['ngrok', 0, 1, 'timed_out', 1, 0, 0, 0]);
    const input = Number(timedOut!.inputTokensEstimate);
    assert.ok(input > 1000 && input < 3000, `the prompt's ~1,800 tokens estimated: ${input}`);
    // gpt-4o-mini's input at $0.15 per million tokens (150,000 pico-USD a token), no processing fee (not a success).
    assert.deepEqual([BigInt(timedOut!.costPico), BigInt(timedOut!.inputCostPico), BigInt(timedOut!.feePico)], [BigInt(input) * 150_000n, BigInt(input) * 150_000n, 0n]);
    // The key that answered: the provider's counts, nothing estimated.
    assert.deepEqual([served!.keySource, served!.statusCode, served!.completion, Number(served!.usageEstimated), Number(served!.inputTokens), Number(served!.inputTokensEstimate)], ['user', 200, 'succeeded', 0, FAKE_USAGE.input, 0]);
  });

  test('before the request was written (still connecting): nothing billed, nothing estimated', async () => {
    const { token } = await silentClaude();
    const r = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: JSON.parse(claudeBody) });
    assert.equal(r.status, 504, r.text);
    const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.keySource, row!.statusCode, Number(row!.timedOut), row!.completion, Number(row!.usageEstimated), Number(row!.inputTokensEstimate), BigInt(row!.costPico)], ['ngrok', 0, 1, 'timed_out', 0, 0, 0n]);
  });
});
