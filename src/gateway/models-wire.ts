// The model endpoints' answers in each SDK's shape. OpenAI: `{object:"list",data:[…]}` of
// `{id,object:"model",created,owned_by}`, and one such object. Anthropic (its SDK's `Page` and `ModelInfo`):
// `{data:[…],has_more,first_id,last_id}` of `{type:"model",id,display_name,created_at,…}`, paged by `limit`
// and `after_id` / `before_id`, and one ModelInfo. Gemini (the Gen AI SDK's models.list and get): `{models:[…],
// nextPageToken}` of Model resources (`{name:"models/…",displayName,inputTokenLimit,…}`), paged by `pageSize` and
// `pageToken`, and one Model.
import { modelNames } from '../catalog/index.ts';
import type { ApiFormat } from '../catalog/types.ts';
import { tollgateError } from '../domain/errors.ts';
import { servesSurface, type Candidate } from '../domain/resolve.ts';

export interface ModelAnswers {
  /** The list; `query` holds the request's query parameters (pages, for Anthropic). */
  list(models: readonly Candidate[], query: URLSearchParams): string;
  one(model: Candidate): string;
}

/**
 * A model's id in every answer. A catalog model's is its full catalog id (`openai/gpt-5.5`,
 * `meta-llama/llama-3.3-70b-versatile`), the control plane's list id: ngrok's "Other agents" guide says model pickers
 * filled from the gateway's GET /v1/models see "full catalog ID such as openai/gpt-5.5", and that those work as the
 * model value (they resolve to the same provider). A user-defined provider's model has no catalog id: `provider:model`.
 * A virtual model's is its name, which requests send as the model.
 */
export const modelId = (c: Candidate): string => c.virtualModel ?? (c.catalogModel ? modelNames(c.catalogModel, c.provider.id).at(-1)! : modelAddress(c));

/** The address that pins the model's provider, `provider:model`. */
export const modelAddress = (c: Candidate): string => `${c.provider.id}:${c.modelId}`;

function openaiModel(c: Candidate): Record<string, unknown> {
  return { id: modelId(c), object: 'model', created: 0, owned_by: c.provider.id };
}

/** Release dates are not in the catalog: the epoch, which Anthropic documents for an unknown date (OpenAI's `created: 0`). */
const UNKNOWN_DATE = '1970-01-01T00:00:00Z';

interface AnthropicModel { id: string; [field: string]: unknown }

/** Every field of the SDK's ModelInfo: what the catalog knows (limits), null for what it does not track. */
function anthropicModel(c: Candidate): AnthropicModel {
  const m = c.catalogModel;
  return {
    type: 'model', id: modelId(c), display_name: c.displayName, created_at: UNKNOWN_DATE,
    max_input_tokens: m?.contextWindow ?? null, max_tokens: m?.maxOutputTokens ?? null,
    capabilities: null, line: null, lifecycle: 'active', deprecated_at: null, retires_at: null,
  };
}

/** Anthropic's largest page. */
const MAX_LIMIT = 1000;

/**
 * The page size: without `limit`, the whole list — not Anthropic's default of 20. Anthropic's own list is shorter
 * than that, so clients written against it may read only the first page; the gateway's spans every provider.
 */
function pageLimit(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return Infinity;
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : 0;
  if (limit < 1 || limit > MAX_LIMIT) throw tollgateError('invalidRequest', { reason: `limit must be an integer from 1 to ${MAX_LIMIT}.` });
  return limit;
}

function cursorAt(models: readonly AnthropicModel[], name: string, id: string): number {
  const at = models.findIndex((m) => m.id === id);
  if (at < 0) throw tollgateError('invalidRequest', { reason: `${name} "${id}" is not a model of this list.` });
  return at;
}

/** Every model here is `active` (the catalog tracks no deprecations): a `lifecycle` filter without it lists none. */
function wantsActive(query: URLSearchParams): boolean {
  const stages = [...query.getAll('lifecycle'), ...query.getAll('lifecycle[]')];
  return stages.length === 0 || stages.includes('active');
}

/** One page, as Anthropic pages: after `after_id`, or the `limit` models just before `before_id` (has_more: earlier ones). */
function anthropicPage(candidates: readonly Candidate[], query: URLSearchParams): string {
  const limit = pageLimit(query);
  const after = query.get('after_id') || undefined;
  const before = query.get('before_id') || undefined;
  if (after !== undefined && before !== undefined) throw tollgateError('invalidRequest', { reason: 'after_id and before_id cannot be used together.' });
  const models = wantsActive(query) ? candidates.map(anthropicModel) : [];
  let start: number;
  let end: number;
  let hasMore: boolean;
  if (before !== undefined) {
    end = cursorAt(models, 'before_id', before);
    start = Math.max(0, end - limit);
    hasMore = start > 0;
  } else {
    start = after !== undefined ? cursorAt(models, 'after_id', after) + 1 : 0;
    end = Math.min(models.length, start + limit);
    hasMore = end < models.length;
  }
  const data = models.slice(start, end);
  return JSON.stringify({ data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
}

/**
 * What Gemini's API serves of a model, natively or by translation (servesSurface: as a request naming it is
 * resolved), named as Google's `supportedGenerationMethods` names them: a generating model's `generateContent` (its
 * stream, `:streamGenerateContent`, beside it: Google names no method for it) and `countTokens` — Google's own
 * models, and every model generateContent reaches by translation (GPT and other chat models, Claude), whose count
 * is Anthropic's count_tokens or the gateway's own (pipeline.ts countedHere) —; an embedding model's `embedContent`
 * (served at `:embedContent`, and at `:batchEmbedContents`, which the SDK's embedContent calls), a catalog model's, or
 * a model of a user-defined provider serving embeddings alone. None: a model
 * Gemini's API does not reach (a realtime or legacy-completions model), which its list leaves out.
 */
export function geminiMethods(c: Candidate): string[] {
  const methods: string[] = [];
  const generates = servesSurface(c, 'gemini', 'generate-content');
  if (generates) methods.push('generateContent', 'countTokens');
  // A user-defined provider's models are all reached alike: which of them embed, only the catalog knows — unless the
  // provider serves embeddings alone, when every one of them does.
  if ((c.catalogModel || !generates) && servesSurface(c, 'gemini', 'embed-content')) methods.push('embedContent');
  return methods;
}

/**
 * A model's name on Gemini's API, which the Gen AI SDK sends back as the model: a catalog model's own id (unique
 * in the catalog, and the one a bare name resolves to), a user-defined provider's `provider:model` (a bare name may
 * be another's), a virtual model's name.
 */
function geminiName(c: Candidate): string {
  return c.virtualModel ?? (c.provider.custom ? modelAddress(c) : c.modelId);
}

/**
 * A Model resource as Google's API writes one: `name` is what the Gen AI SDK sends back as the model
 * (`models/gemini-2.5-flash`), limits from the catalog; what the catalog does not track (version, sampling defaults)
 * is left out, as Google leaves out what a model does not have.
 */
function geminiModel(c: Candidate): Record<string, unknown> {
  const m = c.catalogModel;
  return {
    name: `models/${geminiName(c)}`, baseModelId: c.modelId, displayName: c.displayName,
    inputTokenLimit: m?.contextWindow, outputTokenLimit: m?.maxOutputTokens || undefined,
    supportedGenerationMethods: geminiMethods(c),
  };
}

/** Google's page sizes: 50 models when not given (or 0), at most 1000 whatever is asked. */
const GEMINI_DEFAULT_PAGE = 50;
const GEMINI_MAX_PAGE = 1000;

/**
 * One page of Gemini's list. The page token is the name of the last model of the previous page (an opaque string to
 * the SDK); the last page has no `nextPageToken` — the SDK's pager reads one, even empty, as another page to fetch.
 */
function geminiPage(candidates: readonly Candidate[], query: URLSearchParams): string {
  const raw = query.get('pageSize');
  const asked = raw === null || raw === '' ? 0 : /^\d{1,9}$/.test(raw) ? Number(raw) : -1;
  if (asked < 0) throw tollgateError('invalidRequest', { reason: `pageSize must be a non-negative integer, got "${raw!.slice(0, 40)}".` });
  const size = Math.min(asked || GEMINI_DEFAULT_PAGE, GEMINI_MAX_PAGE);
  // A name listed once (a virtual model named as a catalog model is: the first, the one a request reaches), so a
  // page token names one place in the list.
  const names = new Set<string>();
  const models = candidates.map(geminiModel).filter((m) => !names.has(String(m.name)) && names.add(String(m.name)));
  const token = query.get('pageToken') || undefined;
  let start = 0;
  if (token !== undefined) {
    const at = models.findIndex((m) => m.name === token);
    if (at < 0) throw tollgateError('invalidRequest', { reason: `pageToken "${token.slice(0, 80)}" is not a page of this list.` });
    start = at + 1;
  }
  const page = models.slice(start, start + size);
  const more = start + size < models.length;
  return JSON.stringify({ models: page, nextPageToken: more ? page[page.length - 1]!.name : undefined });
}

/**
 * The model endpoints in each SDK's shape: the OpenAI and Anthropic SDKs' /v1/models (routes.ts modelsRouteFor), the
 * Gen AI SDK's /v1beta/models.
 */
const OPENAI_ANSWERS: ModelAnswers = {
  list: (models) => JSON.stringify({ object: 'list', data: models.map(openaiModel) }),
  one: (model) => JSON.stringify(openaiModel(model)),
};

export const MODEL_ANSWERS: Readonly<Record<ApiFormat, ModelAnswers>> = {
  openai: OPENAI_ANSWERS,
  // No route lists models in Bedrock's shape (its model listing is the control API's, not Bedrock Runtime's).
  bedrock: OPENAI_ANSWERS,
  anthropic: {
    list: anthropicPage,
    one: (model) => JSON.stringify(anthropicModel(model)),
  },
  gemini: {
    list: geminiPage,
    one: (model) => JSON.stringify(geminiModel(model)),
  },
};
