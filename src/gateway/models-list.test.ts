// The model lists against resolution, over the whole catalog: what GET /v1/models shows an OpenAI client, an Anthropic
// client (`anthropic-version`) and Gemini's GET /v1beta/models shows the Gen AI SDK is exactly what a request of that
// client, naming the listed id, reaches on one of its surfaces (natively or by translation). Resolution only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';
import { resolveCandidates, resolveListedModel } from '../domain/resolve.ts';
import { TollgateError } from '../domain/errors.ts';
import { ollama, snapshot } from '../../test/helpers/snapshot.ts';
import { reachedBy, visibleModels } from './models-list.ts';
import { MODEL_ANSWERS } from './models-wire.ts';

const catalog = createCatalog({});
/** Beside the catalog, a user-defined provider serving chat completions and one serving embeddings alone. */
const embedder = { ...ollama, id: 'aigp_embedder', providerId: 'embedder', name: 'Embedder', surfaces: [{ format: 'openai' as const, surface: 'embeddings' as const }], models: ['nomic-embed-text'] };
const account = snapshot({ customProviders: [ollama, embedder] });

type ListFormat = Exclude<ApiFormat, 'bedrock'>;

/** Every surface each client's SDK calls with a model (routes.ts), the model in the body or the path. */
const CLIENT_SURFACES: Readonly<Record<ListFormat, readonly ApiSurface[]>> = {
  openai: ['chat-completions', 'responses', 'completions', 'embeddings', 'realtime'],
  anthropic: ['messages', 'count-tokens'],
  gemini: ['generate-content', 'stream-generate-content', 'count-tokens', 'embeddings', 'embed-content', 'interactions'],
};

/** The ids the client's list answers with, read off the wire answer as its SDK reads them. */
function listedIds(format: ListFormat): string[] {
  const body = JSON.parse(MODEL_ANSWERS[format].list(visibleModels(catalog, account, null, reachedBy(format)), new URLSearchParams({ pageSize: '1000' })));
  if (format === 'gemini') return (body.models as { name: string }[]).map((m) => m.name.replace(/^models\//, ''));
  return (body.data as { id: string }[]).map((m) => m.id);
}

/** The client's surfaces a request naming `model` is served on (resolution accepts it). */
function servedOn(model: string, format: ListFormat): ApiSurface[] {
  return CLIENT_SURFACES[format].filter((surface) => {
    try {
      return resolveCandidates({ model, models: undefined, format, surface }, catalog, account).length > 0;
    } catch (error) {
      if (error instanceof TollgateError) return false;
      throw error;
    }
  });
}

/** Every model a list could show, by the address that pins its provider. */
const everyModel = [
  ...catalog.providers.flatMap((p) => p.models.map((m) => `${p.id}:${m.id}`)),
  ...[ollama, embedder].flatMap((p) => p.models.map((m) => `${p.providerId}:${m}`)),
];

for (const format of ['openai', 'anthropic', 'gemini'] as const) {
  test(`the ${format} model list shows what an ${format} client can call, and everything it can call`, () => {
    const listed = listedIds(format);
    assert.deepEqual(listed.filter((id) => servedOn(id, format).length === 0), [], 'listed, but no request of this client reaches them');
    // Listed under a catalog id (`openai/gpt-4o`) or a Gemini name (`gpt-4o`): each names one model, as its address does.
    const listedAddresses = new Set(listed.map((id) => {
      const model = resolveListedModel(id, catalog, account);
      return model ? `${model.provider.id}:${model.modelId}` : id;
    }));
    const callable = everyModel.filter((address) => servedOn(address, format).length > 0);
    assert.deepEqual(callable.filter((address) => !listedAddresses.has(address)), [], 'callable, but not listed');
  });
}

test('what each list holds, for the models a user would look for', () => {
  const has = (format: ListFormat, id: string) => listedIds(format).includes(id);
  // Reported: an OpenAI client that picks gemini-embedding-001 from the list can embed with it.
  assert.deepEqual(['openai', 'anthropic', 'gemini'].map((f) => has(f as ListFormat, 'google/gemini-embedding-001') || has(f as ListFormat, 'gemini-embedding-001')), [true, false, true]);
  assert.deepEqual([has('openai', 'openai/text-embedding-3-small'), has('anthropic', 'openai/text-embedding-3-small'), has('gemini', 'text-embedding-3-small')], [true, false, true]);
  // A realtime model is an OpenAI client's (GET /v1/realtime) alone; a transcription model is priced for realtime
  // sessions, and no request names it.
  assert.deepEqual([has('openai', 'openai/gpt-realtime'), has('anthropic', 'openai/gpt-realtime')], [true, false]);
  assert.ok(!has('openai', 'openai/whisper-1'));
  // Chat models are every client's.
  assert.deepEqual([has('openai', 'anthropic/claude-sonnet-4-6'), has('anthropic', 'openai/gpt-4o'), has('gemini', 'claude-sonnet-4-6')], [true, true, true]);
  // A user-defined provider serving embeddings alone is no Anthropic client's.
  assert.deepEqual([has('openai', 'embedder:nomic-embed-text'), has('anthropic', 'embedder:nomic-embed-text'), has('anthropic', 'my-ollama:llama3.2')], [true, false, true]);
});
