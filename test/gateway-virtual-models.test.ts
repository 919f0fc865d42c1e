// Virtual models on the gateway (ngrok's "Use Virtual Models" guide): a request naming one is tried against its
// targets in order, each within the key's scope; usage names the virtual model and bills the model that served;
// a change made through the control plane is what the next request gets; GET /v1/models lists the ones the key may use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user' as const, content: 'hello' }], ...extra });
type Virtual = { id: string; name: string };
type Attempts = { attempts: { event: { model: string; virtualModel?: string; statusCode: number; totalCost: string } }[] };

describe('virtual models on the gateway (sqlite)', () => {
  let h: Harness;
  const keys: Record<string, string> = {};
  const user = (...names: string[]) => ({ type: 'user', keys: names.map((n) => ({ id: keys[n] })) });
  const sdk = (token: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
  /** OpenAI limited by its only key (429); Anthropic on the managed key. */
  let limited: string;

  before(async () => {
    h = await startHarness('sqlite');
    keys['sk-429'] = await h.providerKey('openai', 'sk-429');
    keys['sk-good'] = await h.providerKey('openai', 'sk-good');
    limited = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [user('sk-429')] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }] } }))).token;
  });
  after(async () => { await h.close(); });

  test('an OpenAI SDK request naming a virtual model fails over from a 429 target to the next; usage names it and bills the model that served', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'chat-default', targets: ['openai:gpt-4o', 'anthropic:claude-sonnet-4-6'] });
    h.fake.reset();
    const served = await sdk(limited).chat.completions.create(chat('chat-default')).withResponse();
    assert.deepEqual([served.response.headers.get('ngrok-aig-model'), served.response.headers.get('ngrok-aig-attempts')], ['claude-sonnet-4-6', '2']);
    assert.deepEqual(h.fake.requests.map((r) => r.body!.model), ['gpt-4o', 'claude-sonnet-4-6'], 'each target asked for by its own name');
    const requestId = served.response.headers.get('ngrok-aig-request-id')!;
    const [failed, succeeded] = await h.usage(requestId, 2);
    assert.deepEqual([failed!.model, failed!.statusCode, failed!.virtualModel], ['gpt-4o', 429, 'chat-default']);
    assert.deepEqual([succeeded!.model, succeeded!.keySource, succeeded!.virtualModel], ['claude-sonnet-4-6', 'ngrok', 'chat-default']);
    // Billed as the model that served: what the same request naming that model directly costs.
    const direct = await sdk(limited).chat.completions.create(chat('anthropic:claude-sonnet-4-6')).withResponse();
    const [directRow] = await h.usage(direct.response.headers.get('ngrok-aig-request-id')!, 1);
    assert.ok(BigInt(succeeded!.costPico) > 0n);
    assert.equal(BigInt(succeeded!.costPico), BigInt(directRow!.costPico));
    assert.equal(directRow!.virtualModel, null);
    // The usage API shows it on each attempt.
    const attempts = await h.api<Attempts>('GET', `/usage/requests/${requestId}`);
    assert.deepEqual(attempts.attempts.map((a) => [a.event.model, a.event.virtualModel]), [['gpt-4o', 'chat-default'], ['claude-sonnet-4-6', 'chat-default']]);
    // Names match whatever their case, as model names do; the request's `models` come after the targets.
    h.fake.reset();
    const withFallback = await gw(h, '/v1/chat/completions', { token: limited, body: chat('CHAT-DEFAULT', { models: ['gpt-4o-mini'] }) });
    assert.deepEqual([withFallback.status, withFallback.headers.get('ngrok-aig-model')], [200, 'claude-sonnet-4-6'], withFallback.text);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('a target the key\'s scope refuses is skipped and reported; with none allowed, the first one\'s refusal', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'scoped', targets: ['openai:gpt-4o', 'anthropic:claude-sonnet-4-6'] });
    const anthropicOnly = (await h.accessKey(await h.configuration({ access: { models: { allow: ['anthropic/claude-sonnet-4-6'] } } }))).token;
    h.fake.reset();
    const r = await gw(h, '/v1/chat/completions', { token: anthropicOnly, body: chat('scoped') });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.headers.get('ngrok-aig-model'), r.headers.get('ngrok-aig-attempts'), r.headers.get('ngrok-aig-rejected-models')], ['claude-sonnet-4-6', '1', 'openai:gpt-4o']);
    assert.deepEqual(h.fake.requests.map((x) => x.body!.model), ['claude-sonnet-4-6'], 'the refused target is never called');
    const nothing = (await h.accessKey(await h.configuration({ access: { models: { allow: ['openai/gpt-4o-mini'] } } }))).token;
    const refused = await gw(h, '/v1/chat/completions', { token: nothing, body: chat('scoped') });
    assert.deepEqual([refused.status, refused.json().error.code], [403, 'ERR_NGROK_27232'], refused.text);
    assert.match(refused.json().error.message, /Model "openai:gpt-4o" is not allowed/);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('a virtual model keeps its name against a model of that name declared later, and an allow-list entry of that name written before it allows nothing through it', async () => {
    const before = (await h.accessKey(await h.configuration({ access: { models: { allow: ['shadow'] } }, router: { rules: [{ provider: 'openai', steps: [user('sk-good')] }] } }))).token;
    const open = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [user('sk-good')] }] } }))).token;
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'shadow', targets: ['openai:gpt-4o'] });
    const provider = await h.api<{ id: string }>('POST', '/providers', { providerId: 'later', name: 'Later', baseUrl: `${h.fake.url}/v1`, models: [{ modelId: 'shadow' }] });
    const named = await gw(h, '/v1/chat/completions', { token: open, body: chat('shadow') });
    assert.deepEqual([named.status, named.headers.get('ngrok-aig-model'), h.fake.requests.at(-1)!.headers.authorization], [200, 'gpt-4o', 'Bearer sk-good'], named.text);
    const refused = await gw(h, '/v1/chat/completions', { token: before, body: chat('shadow') });
    assert.deepEqual([refused.status, refused.json().error.code], [403, 'ERR_NGROK_27232'], refused.text);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
    await h.api('DELETE', `/providers/${provider.id}`);
  });

  test('a change to a virtual model is what the next request gets, with no restart: new targets, a new name, deleted', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'moving', targets: ['openai:gpt-4o'] });
    const good = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [user('sk-good')] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }] } }))).token;
    const modelOf = async (name: string) => {
      const r = await gw(h, '/v1/chat/completions', { token: good, body: chat(name) });
      return r.status === 200 ? r.headers.get('ngrok-aig-model') : `${r.status} ${r.json().error.code}`;
    };
    assert.equal(await modelOf('moving'), 'gpt-4o');
    await h.api('PATCH', `/virtual-models/${virtual.id}`, { targets: ['anthropic:claude-sonnet-4-6', 'openai:gpt-4o'] });
    assert.equal(await modelOf('moving'), 'claude-sonnet-4-6');
    await h.api('PATCH', `/virtual-models/${virtual.id}`, { name: 'moved' });
    assert.equal(await modelOf('moving'), '400 ERR_NGROK_27224');
    const r = await gw(h, '/v1/chat/completions', { token: good, body: chat('moved') });
    assert.equal(r.headers.get('ngrok-aig-model'), 'claude-sonnet-4-6');
    const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(row!.virtualModel, 'moved', 'the name as it was at request time');
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
    assert.equal(await modelOf('moved'), '400 ERR_NGROK_27224');
    // The usage already recorded keeps the name it had.
    assert.equal((await h.usage(r.headers.get('ngrok-aig-request-id')!, 1))[0]!.virtualModel, 'moved');
  });

  test('the Anthropic SDK on /v1/messages names a virtual model as any model', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'claude-default', targets: ['anthropic:claude-sonnet-4-6'] });
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: limited, maxRetries: 0 });
    const { data, response } = await client.messages.create({ model: 'claude-default', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    assert.equal(data.type, 'message');
    assert.equal(response.headers.get('ngrok-aig-model'), 'claude-sonnet-4-6');
    assert.equal(h.fake.requests.at(-1)!.body!.model, 'claude-sonnet-4-6');
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([row!.model, row!.virtualModel], ['claude-sonnet-4-6', 'claude-default']);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('one standing for ngrok/auto is automatic selection, recorded under its name', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'pick-for-me', targets: ['ngrok/auto'] });
    const managed = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'ngrok' }] }, { provider: 'anthropic', steps: [{ type: 'ngrok' }] }] } }))).token;
    const r = await gw(h, '/v1/chat/completions', { token: managed, body: chat('pick-for-me') });
    assert.deepEqual([r.status, r.headers.get('ngrok-aig-model')], [200, 'gpt-5-nano'], r.text);
    const [row] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    assert.equal(row!.virtualModel, 'pick-for-me');
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('one standing for ngrok/auto counts no tokens, as ngrok/auto sent itself does not: 400 asking for a model, on Messages\' count_tokens and Gemini\'s :countTokens', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'auto-count', targets: ['ngrok/auto'] });
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: limited, maxRetries: 0 });
    const count = (model: string) => client.messages.countTokens({ model, messages: [{ role: 'user', content: 'hello' }] });
    const refusal = async (model: string): Promise<string> => {
      const e: unknown = await count(model).then(() => undefined, (error: unknown) => error);
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      return (e.error as { error: { message: string } }).error.message;
    };
    assert.match(await refusal('ngrok/auto'), /^ERR_NGROK_3801: .*"ngrok\/auto" \(automatic model selection\) is taken .*not for token counting: name a model\.$/);
    assert.match(await refusal('auto-count'), /^ERR_NGROK_3801: .*virtual model "auto-count" stands for "ngrok\/auto" \(automatic model selection\), which does not count tokens: name a model\.$/);
    const sent = h.fake.requests.length;
    const gemini = await gw(h, '/v1beta/models/auto-count:countTokens', { headers: { 'x-goog-api-key': limited }, body: { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] } });
    assert.equal(gemini.status, 400, gemini.text);
    assert.match(JSON.parse(gemini.text).error.message, /^ERR_NGROK_3801: .*virtual model "auto-count" stands for "ngrok\/auto" \(automatic model selection\), which does not count tokens: name a model\.$/);
    assert.equal(h.fake.requests.length, sent, 'nothing went upstream');
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
  });

  test('GET /v1/models lists the virtual models the key may use a target of', async () => {
    const virtual = await h.api<Virtual>('POST', '/virtual-models', { name: 'listed', targets: ['openai:gpt-4o', 'anthropic:claude-sonnet-4-6'] });
    const ids = async (token: string) => (await sdk(token).models.list()).data.map((m) => m.id);
    assert.ok((await ids(limited)).includes('listed'));
    const anthropicOnly = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }))).token;
    assert.ok((await ids(anthropicOnly)).includes('listed'), 'one target allowed is enough');
    const retrieved = await sdk(anthropicOnly).models.retrieve('listed');
    assert.equal(retrieved.id, 'listed');
    const googleOnly = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['google'] } } }))).token;
    assert.ok(!(await ids(googleOnly)).includes('listed'), 'no target allowed: not listed');
    await assert.rejects(sdk(googleOnly).models.retrieve('listed'), OpenAI.NotFoundError);
    await h.api('DELETE', `/virtual-models/${virtual.id}`);
    assert.ok(!(await ids(limited)).includes('listed'));
  });
});
