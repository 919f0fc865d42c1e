import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelsByProvider } from './models.ts';
import { builtinProviders } from './providers.ts';
import { createCatalog } from './index.ts';
import { usdPerMillionToMicro } from '../domain/money.ts';

test('every priced model parses and model ids are unique per provider', () => {
  for (const [providerId, models] of Object.entries(modelsByProvider)) {
    assert.ok(builtinProviders.some((p) => p.id === providerId), `models listed for unknown provider ${providerId}`);
    const seen = new Set<string>();
    for (const model of models) {
      const key = model.id.toLowerCase();
      assert.ok(!seen.has(key), `${providerId}: duplicate model ${model.id}`);
      seen.add(key);
      assert.ok(model.contextWindow > 0 && model.maxOutputTokens >= 0, `${providerId}/${model.id}: limits`);
      if (model.pricing) {
        const { longContext, peak, audio, image, ...flat } = model.pricing;
        for (const value of [...Object.values(flat), ...[longContext, peak, audio, image].flatMap((tier) => Object.values(tier ?? {}).filter((v) => typeof v === 'string'))]) {
          assert.equal(typeof usdPerMillionToMicro(value), 'bigint', `${providerId}/${model.id}: price ${value}`);
        }
        // Peak hours are hours of a day, and peak prices never make tokens cheaper. cost.ts applies a peak tier or a
        // long-context tier, never both: a model has at most one.
        if (peak) {
          assert.ok(peak.hoursUtc.every(([from, to]) => from >= 0 && from < to && to <= 24), `${providerId}/${model.id}: peak hours`);
          for (const field of ['input', 'output', 'cacheRead', 'cacheWrite'] as const) {
            const base = model.pricing[field];
            if (base !== undefined) assert.ok(usdPerMillionToMicro(peak[field] ?? '0') >= usdPerMillionToMicro(base), `${providerId}/${model.id}: peak ${field}`);
          }
          assert.equal(longContext, undefined, `${providerId}/${model.id}: a peak tier and a long-context tier`);
        }
        // A tier starts above the base prices' range and never makes tokens cheaper.
        if (longContext) {
          assert.ok(longContext.above > 0, `${providerId}/${model.id}: tier line`);
          assert.ok(usdPerMillionToMicro(longContext.input) >= usdPerMillionToMicro(model.pricing.input), `${providerId}/${model.id}: tier input`);
          assert.ok(usdPerMillionToMicro(longContext.output) >= usdPerMillionToMicro(model.pricing.output), `${providerId}/${model.id}: tier output`);
        }
      }
    }
  }
});

test('providers carry a pricesAsOf date and the openai chat surface passes every param', () => {
  for (const p of builtinProviders) assert.match(p.pricesAsOf, /^\d{4}-\d{2}-\d{2}$/);
  const openai = builtinProviders.find((p) => p.id === 'openai')!;
  const chat = openai.surfaces.find((s) => s.surface === 'chat-completions')!;
  assert.equal(chat.supportedParams?.length ?? 0, 0);
});

test('createCatalog converts prices once and applies base URL overrides', () => {
  const catalog = createCatalog({ openai: 'http://127.0.0.1:9999/v1/' });
  assert.equal(catalog.provider('openai')!.baseUrl, 'http://127.0.0.1:9999/v1');
  assert.equal(catalog.provider('anthropic')!.baseUrl, 'https://api.anthropic.com/v1');
  const gpt4o = catalog.model('openai', 'gpt-4o')!;
  assert.deepEqual(gpt4o.priceMicro, { input: 2_500_000n, output: 10_000_000n, cacheRead: 1_250_000n, webSearchPico: 10_000_000_000n, webSearchPreviewPico: 25_000_000_000n });
  assert.equal(catalog.model('google', 'gemini-3.6-flash')!.priceMicro!.input, 750_000n);
  assert.equal(catalog.model('moonshotai', 'kimi-k2.6')!.priceMicro, undefined);
});

test('lookups are case-insensitive and accept author/name ids', () => {
  const catalog = createCatalog({});
  assert.equal(catalog.model('openai', 'GPT-4o')!.id, 'gpt-4o');
  assert.equal(catalog.model('openai', 'openai/gpt-5.5')!.id, 'gpt-5.5');
  assert.equal(catalog.model('anthropic', 'gpt-4o'), undefined);
  assert.equal(catalog.provider('OpenAI'), undefined, 'provider ids are exact');
  const found = catalog.findModel('Claude-Sonnet-4-6')!;
  assert.equal(found.provider.id, 'anthropic');
  assert.equal(found.model.id, 'claude-sonnet-4-6');
  const llama = catalog.findModel('meta-llama/llama-3.3-70b-versatile')!;
  assert.equal(llama.provider.id, 'groq');
  assert.equal(llama.model.id, 'llama-3.3-70b-versatile');
  assert.equal(catalog.findModel('openai/gpt-oss-120b')!.provider.id, 'groq');
  assert.equal(catalog.findModel('openai/gpt-4o')!.provider.id, 'openai');
  assert.equal(catalog.findModel('no-such-model'), undefined);
});

test('Bedrock: bring-your-own-key only; Claude under its Bedrock ids, the global profile at list price, the regional ids 10 % above', () => {
  const catalog = createCatalog();
  const bedrock = catalog.provider('bedrock')!;
  assert.equal(bedrock.managed, false);
  assert.equal(bedrock.baseUrl, 'https://bedrock-runtime.{region}.amazonaws.com');
  const regional = catalog.model('bedrock', 'anthropic.claude-sonnet-4-6')!;
  const global = catalog.model('bedrock', 'global.anthropic.claude-sonnet-4-6')!;
  assert.deepEqual([regional.priceMicro!.input, regional.priceMicro!.output, regional.priceMicro!.cacheRead], [3_300_000n, 16_500_000n, 330_000n]);
  assert.deepEqual([global.priceMicro!.input, global.priceMicro!.output, global.priceMicro!.cacheWrite], [3_000_000n, 15_000_000n, 3_750_000n]);
  // A geographic inference profile is the regional model under its own id, sent upstream as named.
  assert.equal(catalog.model('bedrock', 'us.anthropic.claude-opus-4-6-v1')!.id, 'us.anthropic.claude-opus-4-6-v1');
  assert.equal(catalog.findModel('anthropic.claude-haiku-4-5-20251001-v1:0')!.provider.id, 'bedrock');
});

test('Bedrock: Gemma 4 on its OpenAI-compatible endpoint alone, at AWS\'s prices; Claude on Bedrock Runtime\'s operations alone', () => {
  const catalog = createCatalog();
  const chat = catalog.provider('bedrock')!.surfaces.find((s) => s.surface === 'chat-completions')!;
  assert.deepEqual([chat.format, chat.baseUrl, chat.path], ['openai', 'https://bedrock-mantle.{region}.api.aws', '/v1/chat/completions']);
  const gemma = catalog.model('bedrock', 'google.gemma-4-31b')!;
  assert.deepEqual(gemma.surfaces, ['chat-completions']);
  assert.deepEqual([gemma.priceMicro!.input, gemma.priceMicro!.output], [140_000n, 400_000n]);
  assert.deepEqual([catalog.model('bedrock', 'google.gemma-4-26b-a4b')!.priceMicro!.input, catalog.model('bedrock', 'google.gemma-4-e2b')!.priceMicro!.output], [130_000n, 80_000n]);
  assert.equal(catalog.findModel('google.gemma-4-e2b')!.provider.id, 'bedrock');
  for (const id of ['anthropic.claude-sonnet-4-6', 'global.anthropic.claude-sonnet-4-6', 'eu.anthropic.claude-sonnet-4-6']) {
    assert.ok(!catalog.model('bedrock', id)!.surfaces!.includes('chat-completions'), id);
  }
  // An operator's base URL (a test's loopback, a proxy) stands for the OpenAI-compatible endpoint too, its path kept.
  const overridden = createCatalog({ bedrock: 'http://127.0.0.1:9/{region}' }).provider('bedrock')!;
  const moved = overridden.surfaces.find((s) => s.surface === 'chat-completions')!;
  assert.deepEqual([moved.baseUrl, moved.path, overridden.baseUrl], [undefined, '/v1/chat/completions', 'http://127.0.0.1:9/{region}']);
});
