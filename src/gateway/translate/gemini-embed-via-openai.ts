// Gemini's embeddings (`:embedContent`, and `:batchEmbedContents`, which the Gen AI SDK's `models.embedContent`
// calls) served by a model that only embeds over OpenAI's `/v1/embeddings` (`text-embedding-3-small`): the texts go up
// as one call's `input`, the vectors come back as Google's `embedding` / `embeddings`. docs/decisions/translation.md.
import type { AttemptPlan } from '../../domain/routing.ts';
import { geminiJsonName, geminiMember, geminiObjects, geminiSpelling } from '../../domain/gemini-fields.ts';
import { obj } from '../formats/types.ts';
import { geminiViaChat } from './gemini-via-chat.ts';
import { objects, type Json } from './json.ts';
import type { TranslatedRequest, Translator } from './types.ts';

/** An EmbedContentRequest's members: those OpenAI has a place for, and those it has none for (dropped and named). */
const CARRIED = new Set(['model', 'content', 'outputDimensionality']);
const DROPPED = ['taskType', 'title'];

/** The embedded requests of a client's body: the one EmbedContentRequest, or each of a batch's `requests`. */
function requestsOf(body: Json, batch: boolean): Json[] {
  return batch ? geminiObjects(body.requests) : [body];
}

/** A request's model as the path names it (`models/text-embedding-3-small` → `text-embedding-3-small`). */
function modelNamed(request: Json): string | undefined {
  const model = request.model;
  return typeof model === 'string' ? model.replace(/^models\//, '') : undefined;
}

/**
 * A request of the call naming another model than the path's, if one does: Google refuses it, and the gateway, which
 * sends one OpenAI call for the whole batch with the path's model, could not honour it either.
 */
export function geminiEmbedModelProblem(body: Json, batch: boolean, pathModel: string): string | undefined {
  const other = requestsOf(body, batch).find((r) => modelNamed(r) !== undefined && modelNamed(r) !== pathModel);
  return other && `a request names the model "${String(other.model)}", not the path's "models/${pathModel}": every request of one call embeds with the path's model`;
}

/** OpenAI's most inputs in one `/v1/embeddings` call: it refuses a longer `input` list with a 400. */
const OPENAI_EMBEDDING_INPUTS = 2048;

/**
 * Why Gemini embeddings cannot go to an OpenAI-format embedding model, if they cannot. OpenAI embeds text: a part that
 * is none (an image, a file) would be left out of the vector, never dropped silently. One call takes one `dimensions`,
 * so a batch asking several is refused; and at most 2,048 inputs, so a longer batch is refused before the call rather
 * than by the provider's 400 after it (split, it would be several calls, one answer: see translation.md). A body of
 * another shape (an OpenAI one: `input`) has none of these members.
 */
export function geminiEmbedUntranslatableReason(body: Json, batch: boolean): string | undefined {
  const requests = requestsOf(body, batch);
  if (requests.length > OPENAI_EMBEDDING_INPUTS) {
    return `it embeds ${requests.length} contents in one batch, and this model takes at most ${OPENAI_EMBEDDING_INPUTS} in one call; send them in batches of ${OPENAI_EMBEDDING_INPUTS} or fewer`;
  }
  if (requests.some((r) => geminiObjects(obj(geminiMember(r, 'content'))?.parts).some((part) => typeof part.text !== 'string'))) {
    return 'it sends a part that is not text (an image, a file: inlineData, fileData…), and this model embeds text only; send the text alone, or use a Gemini embedding model such as "gemini-embedding-001"';
  }
  const dimensions = new Set(requests.map((r) => geminiMember(r, 'outputDimensionality')));
  if (dimensions.size > 1) return 'its requests ask different "outputDimensionality", and this model embeds them in one call with one "dimensions"; send one call per dimensionality';
  return undefined;
}

/** A Content's text, as Google embeds it: its parts' texts, joined by a newline. */
function textOf(content: unknown): string {
  return geminiObjects(obj(content)?.parts).map((part) => (typeof part.text === 'string' ? part.text : '')).join('\n');
}

function request(body: Json, plan: AttemptPlan, batch: boolean): TranslatedRequest {
  const requests = requestsOf(body, batch);
  const removed = new Set<string>();
  const prefix = batch ? `${geminiSpelling(body, 'requests')}.` : '';
  for (const r of requests) {
    for (const name of DROPPED) if (geminiMember(r, name) !== undefined) removed.add(prefix + geminiSpelling(r, name));
    for (const name of Object.keys(r)) if (!CARRIED.has(geminiJsonName(name)) && !DROPPED.includes(geminiJsonName(name))) removed.add(prefix + name);
  }
  // A batch's own members beside `requests` have no place either.
  if (batch) for (const name of Object.keys(body)) if (name !== 'requests') removed.add(name);
  const texts = requests.map((r) => textOf(geminiMember(r, 'content')));
  const out: Json = { model: plan.candidate.upstreamModelId ?? plan.candidate.modelId, input: batch ? texts : texts[0] ?? '' };
  const dimensions = geminiMember(requests[0], 'outputDimensionality');
  if (dimensions !== undefined) out.dimensions = dimensions;
  const translated: TranslatedRequest = { body: out, removed: [...removed] };
  // A single request's `outputDimensionality` is named as sent when the model refuses `dimensions` (params.ts); a
  // batch's sits in a list, which the header does not name into.
  if (!batch) translated.clientFields = { dimensions: geminiSpelling(body, 'outputDimensionality') };
  return translated;
}

/** An embedding as OpenAI wrote it: floats, or (`encoding_format: "base64"`, which a server may default to) little-endian float32. */
function valuesOf(embedding: unknown): number[] {
  if (Array.isArray(embedding)) return embedding.filter((v): v is number => typeof v === 'number');
  if (typeof embedding !== 'string') return [];
  const bytes = Buffer.from(embedding, 'base64');
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4));
  return Array.from(floats);
}

/** OpenAI's `data`, in the order of its `index` (the order of the inputs), as Google's ContentEmbeddings. */
function embeddingsOf(upstream: unknown): { values: number[] }[] {
  const data = objects(obj(upstream)?.data).map((d, at) => ({ at: typeof d.index === 'number' ? d.index : at, values: valuesOf(d.embedding) }));
  return data.sort((a, b) => a.at - b.at).map(({ values }) => ({ values }));
}

function translator(batch: boolean): Translator {
  return {
    request: (body, plan) => request(body, plan, batch),
    answer: (upstream) => (batch ? { embeddings: embeddingsOf(upstream) } : { embedding: embeddingsOf(upstream)[0] ?? { values: [] } }),
    // Google's error shape, the provider's status kept, as for GenerateContent.
    error: geminiViaChat.error,
    // Embeddings never stream (the path says so); the field is the interface's.
    stream: geminiViaChat.stream,
  };
}

/** `:batchEmbedContents` (the Gen AI SDK's embedContent, one content or several) → one `/v1/embeddings` call. */
export const geminiBatchEmbedViaOpenai = translator(true);
/** `:embedContent` (one content: REST callers, LangChain, older SDKs) → `/v1/embeddings` with one input. */
export const geminiEmbedViaOpenai = translator(false);
