import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../../catalog/index.ts';
import { resolveCandidates } from '../../domain/resolve.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { ApiSurface } from '../../catalog/types.ts';
import { snapshot } from '../../../test/helpers/snapshot.ts';
import { geminiBatchEmbedViaOpenai, geminiEmbedViaOpenai } from './gemini-embed-via-openai.ts';
import { translatorFor, untranslatable } from './index.ts';
import { Errors, TollgateError } from '../../domain/errors.ts';

const catalog = createCatalog({});
const scope = { accountId: 'acct_test', keep: false, includeUsage: false };
const plan = (model: string, surface: ApiSurface = 'embeddings'): AttemptPlan => ({ candidate: resolveCandidates({ model, models: undefined, format: 'gemini', surface }, catalog, snapshot())[0]!, keySource: 'user', credential: 'k' });

test('Gemini embeddings reach OpenAI-format embedding models over /v1/embeddings; a Gemini embedding model stays native; a chat model embeds nowhere', () => {
  for (const surface of ['embeddings', 'embed-content'] as const) {
    const served = plan('text-embedding-3-small', surface).candidate.surface;
    assert.deepEqual([served.format, served.surface], ['openai', 'embeddings'], surface);
    assert.equal(translatorFor({ format: 'gemini', surface }, served), surface === 'embeddings' ? geminiBatchEmbedViaOpenai : geminiEmbedViaOpenai);
    assert.deepEqual([plan('gemini-embedding-001', surface).candidate.surface.format], ['gemini'], 'native wins');
    assert.throws(() => plan('gpt-4o', surface), (e: unknown) => e instanceof TollgateError && e.code === Errors.noCompatibleModels.code);
  }
  // OpenAI's own /v1/embeddings is never translated.
  assert.throws(() => resolveCandidates({ model: 'gemini-2.5-flash', models: undefined, format: 'openai', surface: 'embeddings' }, catalog, snapshot()));
});

test('batchEmbedContents: the requests\' texts are one call\'s input, in order; outputDimensionality is dimensions; taskType and title are named removed, as the client spelt them', () => {
  const { body, removed } = geminiBatchEmbedViaOpenai.request({
    requests: [
      { model: 'models/text-embedding-3-small', content: { parts: [{ text: 'first' }, { text: 'more' }] }, taskType: 'RETRIEVAL_DOCUMENT', title: 'T', outputDimensionality: 8 },
      { model: 'models/text-embedding-3-small', content: { parts: { text: 'second' } }, task_type: 'RETRIEVAL_DOCUMENT', output_dimensionality: 8 },
    ],
  }, plan('text-embedding-3-small'));
  assert.deepEqual(body, { model: 'text-embedding-3-small', input: ['first\nmore', 'second'], dimensions: 8 });
  assert.deepEqual(removed.sort(), ['requests.taskType', 'requests.task_type', 'requests.title'].sort());
});

test('embedContent: one input; unknown members are named removed too', () => {
  const translated = geminiEmbedViaOpenai.request({ content: { parts: [{ text: 'one' }] }, title: 'T', embedContentConfig: {} }, plan('text-embedding-3-small', 'embed-content'));
  assert.deepEqual(translated.body, { model: 'text-embedding-3-small', input: 'one' });
  assert.deepEqual(translated.removed.sort(), ['embedContentConfig', 'title']);
});

test('the answer: OpenAI\'s data in the order of its index, floats or base64, as Google\'s embeddings; usage is not Google\'s to carry', () => {
  const base64 = Buffer.from(new Float32Array([0.5, -0.25]).buffer).toString('base64');
  const upstream = { object: 'list', data: [{ index: 1, embedding: base64 }, { index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 5, total_tokens: 5 } };
  assert.deepEqual(geminiBatchEmbedViaOpenai.answer(upstream, scope), { embeddings: [{ values: [0.1, 0.2] }, { values: [0.5, -0.25] }] });
  assert.deepEqual(geminiEmbedViaOpenai.answer({ data: [{ index: 0, embedding: [1, 2, 3] }] }, scope), { embedding: { values: [1, 2, 3] } });
});

test('a provider refusal comes back in Google\'s error shape, its status kept', () => {
  const error = JSON.parse(geminiBatchEmbedViaOpenai.error(400, JSON.stringify({ error: { message: 'This model does not support specifying dimensions.', type: 'invalid_request_error' } })));
  assert.deepEqual(error, { error: { code: 400, message: 'This model does not support specifying dimensions.', status: 'INVALID_ARGUMENT' } });
});

test('refused before any call: a part that is not text, a batch asking two dimensionalities (27226); a request naming another model than the path\'s (27228)', () => {
  const image = { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } };
  assert.match(String(untranslatable('embeddings', { requests: [{ content: { parts: [{ text: 'a' }, image] } }] }, 'embeddings')), /not text/);
  assert.match(String(untranslatable('embed-content', { content: { parts: [{ file_data: { file_uri: 'gs://x' } }] } }, 'embeddings')), /not text/);
  assert.match(String(untranslatable('embeddings', { requests: [{ content: { parts: [{ text: 'a' }] }, outputDimensionality: 4 }, { content: { parts: [{ text: 'b' }] } }] }, 'embeddings')), /outputDimensionality/);
  const batch = { requests: [{ model: 'models/text-embedding-3-small', content: { parts: [{ text: 'a' }] } }, { model: 'models/text-embedding-3-large', content: { parts: [{ text: 'b' }] } }] };
  assert.deepEqual(untranslatable('embeddings', batch, 'embeddings', undefined, 'text-embedding-3-small'), { error: 'invalidRequest', details: { reason: 'a request names the model "models/text-embedding-3-large", not the path\'s "models/text-embedding-3-small": every request of one call embeds with the path\'s model' } });
  assert.equal(untranslatable('embeddings', { requests: batch.requests.slice(0, 1) }, 'embeddings', undefined, 'text-embedding-3-small'), undefined);
  assert.equal(untranslatable('embed-content', { model: 'models/openai:text-embedding-3-small', content: { parts: [{ text: 'a' }] } }, 'embeddings', undefined, 'openai:text-embedding-3-small'), undefined);
});

test('a batch over OpenAI\'s 2,048 inputs per call is refused before any call (27226), not sent for the provider\'s 400', () => {
  const batch = (n: number) => ({ requests: Array.from({ length: n }, (_, i) => ({ content: { parts: [{ text: `t${i}` }] } })) });
  assert.match(String(untranslatable('embeddings', batch(2049), 'embeddings')), /2049 contents in one batch.*at most 2048/);
  assert.equal(untranslatable('embeddings', batch(2048), 'embeddings'), undefined);
});
