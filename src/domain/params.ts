// The body sent upstream for one attempt (gateway.md §9). The client's object is never mutated: a shallow
// copy is made only when something changes, so the common case (nothing to strip, same model id) lets the
// gateway forward the original bytes without re-serialising.
import type { ApiSurface, CatalogModel } from '../catalog/types.ts';
import type { AccountSettings } from '../state/types.ts';
import { MANAGED_SERVICE_TIER, type AttemptPlan } from './routing.ts';
import { geminiMembers, geminiObject, geminiProtoName, geminiSpelling } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';

export interface PreparedBody { body: Record<string, unknown>; changed: boolean; removed: string[] }

const GEMINI_CONFIG = 'generationConfig';
const GEMINI_LIMIT = 'maxOutputTokens';

/** Output-limit fields per surface; every one present is clamped to the account's maxOutputTokens. */
const OUTPUT_LIMIT_FIELDS: Readonly<Record<ApiSurface, readonly string[]>> = {
  'chat-completions': ['max_tokens', 'max_completion_tokens'],
  completions: ['max_tokens'],
  responses: ['max_output_tokens'],
  messages: ['max_tokens'],
  embeddings: [],
  'embed-content': [],
  // Token counting generates nothing, and Anthropic refuses a `max_tokens` there ("Extra inputs are not permitted"):
  // the account's output cap is never added to it.
  'count-tokens': [],
  // A realtime session's limits are its own events' (`max_output_tokens` in session.update), relayed as sent.
  realtime: [],
  // Gemini's, inside its generation settings (geminiConfig), read under both of Google's names (gemini-fields.ts);
  // named here as the cap is written: GenerateContent's JSON name, Interactions' documented proto name.
  'generate-content': [GEMINI_LIMIT],
  'stream-generate-content': [GEMINI_LIMIT],
  interactions: [geminiProtoName(GEMINI_LIMIT)],
  // Bedrock's bodies pass through as the AWS SDK wrote them (Converse's `inferenceConfig.maxTokens`, a model's own
  // field on InvokeModel): the account's output cap is not written into them (docs/decisions/gateway-behaviour.md).
  converse: [],
  'converse-stream': [],
  invoke: [],
  'invoke-stream': [],
};

/**
 * Gemini's generation settings, where its output limit and candidate count are: undefined on other surfaces, else
 * the object under either of Google's names (gemini-fields.ts; a limit read under one would be bypassed by the
 * other), read as empty when absent. Interactions documents only the proto names (`generation_config.
 * max_output_tokens`); whether it also takes the JSON names is not said, so both are read there too.
 */
function geminiConfig(body: Record<string, unknown>, surface: ApiSurface): Record<string, unknown> | undefined {
  if (surface !== 'generate-content' && surface !== 'stream-generate-content' && surface !== 'interactions') return undefined;
  return geminiObject(body, GEMINI_CONFIG) ?? {};
}

/**
 * The name the request gives Gemini's generation settings (when it gives none, the surface's own: GenerateContent's
 * `generationConfig`, Interactions' `generation_config`).
 */
function geminiConfigName(body: Record<string, unknown>, surface: ApiSurface): string {
  return surface === 'interactions' && geminiMembers(body, GEMINI_CONFIG).length === 0 ? geminiProtoName(GEMINI_CONFIG) : geminiSpelling(body, GEMINI_CONFIG);
}

/** Fields the gateway itself reads and that must survive a surface allowlist. */
const ALWAYS_KEPT = new Set(['model']);

/** Output tokens assumed when neither the request, the account nor the catalog bounds them (a custom model). */
export const UNBOUNDED_OUTPUT_TOKENS = 16_384;

/**
 * The most output an attempt can be billed for: per choice, the smallest of the request's own limit (the
 * largest of its limit fields), the account's cap and the model's maximum, times the choices generated (`n`,
 * `best_of`); embeddings produce none. The limit fields read are those of `surface`, the client's: a translated
 * request names its limit in its own format.
 */
export function outputLimit(body: Record<string, unknown>, attempt: AttemptPlan, settings: AccountSettings, surface: ApiSurface = attempt.candidate.surface.surface): number {
  const converseSurface = surface === 'converse' || surface === 'converse-stream';
  // Bedrock's own operations answered by a Bedrock model: the body goes as the AWS SDK wrote it, never under the
  // account's cap, and the processing fee is billed on its output (was held as nothing: every such request in flight
  // could run its output's fee past the balance). An InvokeModel body names its limit in the model's own field, so
  // only the model's maximum bounds it.
  const bedrock = attempt.candidate.surface.format === 'bedrock' && (converseSurface || surface === 'invoke' || surface === 'invoke-stream');
  // Converse's limit is in its inference settings, which Bedrock applies, and a translation for another provider's
  // model sends.
  const converse = converseSurface ? [(body.inferenceConfig as Record<string, unknown> | null | undefined)?.maxTokens] : bedrock ? [] : undefined;
  const fields = OUTPUT_LIMIT_FIELDS[surface];
  if (fields.length === 0 && !converse) return 0;
  const config = geminiConfig(body, surface);
  let requested: number | undefined;
  for (const value of converse ?? (config ? geminiMembers(config, GEMINI_LIMIT) : fields.map((field) => body[field]))) {
    if (typeof value === 'number' && value >= 0 && (requested === undefined || value > requested)) requested = value;
  }
  let limit = requested ?? Infinity;
  const cap = settings.maxOutputTokens;
  if (!bedrock && cap !== null && cap > 0 && cap < limit) limit = cap;
  const modelMax = attempt.candidate.catalogModel?.maxOutputTokens;
  if (modelMax !== undefined && modelMax > 0 && modelMax < limit) limit = modelMax;
  return (limit === Infinity ? UNBOUNDED_OUTPUT_TOKENS : limit) * choices(config ?? body);
}

/**
 * Searches a request's hosted web search tool may run (each billed, catalog `webSearchPerThousand`). Messages
 * (Anthropic): each web search tool's `max_uses`. Responses (OpenAI): the request's `max_tool_calls`, which bounds
 * every hosted tool call. WEB_SEARCHES_WITHOUT_LIMIT where neither is set (the providers impose no limit, so no
 * bound is exact).
 */
export function webSearchLimit(body: Record<string, unknown>, attempt: AttemptPlan, clientSurface: ApiSurface = attempt.candidate.surface.surface): number {
  const surface = attempt.candidate.surface.surface;
  // A translated request sends no hosted tool (translate/ removes them): nothing to hold for.
  if (surface !== clientSurface) return 0;
  if ((surface !== 'messages' && surface !== 'responses') || !Array.isArray(body.tools)) return 0;
  let searches = 0;
  for (const tool of body.tools) {
    if (tool === null || typeof tool !== 'object') continue;
    const { type, max_uses: maxUses } = tool as { type?: unknown; max_uses?: unknown };
    if (typeof type !== 'string' || !type.startsWith('web_search')) continue;
    if (surface === 'responses') return limitOr(body.max_tool_calls);
    searches = Math.min(searches + limitOr(maxUses), MAX_WEB_SEARCHES_HELD);
  }
  return searches;
}

/**
 * Anthropic's advisor tool as a Messages request offers it (`advisor_20260301`): the advisor model, the consultations
 * it may run (`max_uses`, else ADVISOR_CALLS_WITHOUT_LIMIT; at most MAX_ADVISOR_CALLS_HELD) and the output each may
 * write (the tool's `max_tokens`, which bounds each call's thinking and text; undefined: the advisor model's own
 * maximum). Undefined without one, or when the attempt's provider serves another surface (translate/ sends no
 * hosted tool).
 */
export interface AdvisorLimit { model: string; calls: number; outputTokens: number | undefined }
export function advisorLimit(body: Record<string, unknown>, attempt: AttemptPlan, clientSurface: ApiSurface = attempt.candidate.surface.surface): AdvisorLimit | undefined {
  const surface = attempt.candidate.surface.surface;
  if (surface !== clientSurface || surface !== 'messages' || !Array.isArray(body.tools)) return undefined;
  for (const tool of body.tools) {
    if (tool === null || typeof tool !== 'object') continue;
    const { type, model, max_uses: maxUses, max_tokens: maxTokens } = tool as { type?: unknown; model?: unknown; max_uses?: unknown; max_tokens?: unknown };
    if (typeof type !== 'string' || !type.startsWith('advisor_') || typeof model !== 'string') continue;
    const calls = typeof maxUses === 'number' && Number.isInteger(maxUses) && maxUses >= 0 ? Math.min(maxUses, MAX_ADVISOR_CALLS_HELD) : ADVISOR_CALLS_WITHOUT_LIMIT;
    const outputTokens = typeof maxTokens === 'number' && Number.isInteger(maxTokens) && maxTokens > 0 ? maxTokens : undefined;
    return { model, calls, outputTokens };
  }
  return undefined;
}

/**
 * Anthropic's compaction, as a Messages request asks for it: a `compact_…` edit in `context_management` (the context
 * summarized once the input passes its `trigger`, `{ type: 'input_tokens', value }`, else COMPACTION_TRIGGER_DEFAULT)
 * or `compaction` (the request is a summary of its conversation: 0, always). The input tokens past which a compaction
 * iteration runs (billed in `usage.iterations`, cost.ts); undefined without one, or when the attempt's provider
 * serves another surface (translate/ sends neither).
 */
export function compactionTrigger(body: Record<string, unknown>, attempt: AttemptPlan, clientSurface: ApiSurface = attempt.candidate.surface.surface): number | undefined {
  const surface = attempt.candidate.surface.surface;
  if (surface !== clientSurface || surface !== 'messages') return undefined;
  if (isRecord(body.compaction)) return 0;
  const edits = isRecord(body.context_management) ? body.context_management.edits : undefined;
  if (!Array.isArray(edits)) return undefined;
  for (const edit of edits) {
    if (!isRecord(edit) || typeof edit.type !== 'string' || !edit.type.startsWith('compact_')) continue;
    const value = isRecord(edit.trigger) ? edit.trigger.value : undefined;
    return typeof value === 'number' && value >= 0 ? value : COMPACTION_TRIGGER_DEFAULT;
  }
  return undefined;
}

/** Anthropic's default trigger of `compact_20260112`: 150,000 input tokens. */
export const COMPACTION_TRIGGER_DEFAULT = 150_000;

/**
 * Advisor consultations held for a tool without `max_uses`: Anthropic sets no limit, so, as for web searches, no
 * bound is exact; an agentic turn consults it a few times, not at every step.
 */
export const ADVISOR_CALLS_WITHOUT_LIMIT = 3;

/** At most this many consultations are held, however large `max_uses` (as MAX_WEB_SEARCHES_HELD for searches). */
export const MAX_ADVISOR_CALLS_HELD = 20;

/**
 * Which of OpenAI's hosted web search tools a Responses request offers: `preview` when only the older
 * `web_search_preview` (dated or not), `standard` when only `web_search`, `both`, or undefined for none. OpenAI prices
 * the two differently on some models (catalog `webSearchPreviewPerThousand`), and an answer's `web_search_call`
 * items do not say which tool ran them: the request does, and with both offered a search is billed at the dearer.
 */
export type WebSearchTool = 'preview' | 'standard' | 'both';
export function webSearchTool(body: Record<string, unknown>): WebSearchTool | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  let preview = false;
  let standard = false;
  for (const tool of body.tools) {
    const type = tool !== null && typeof tool === 'object' ? (tool as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !type.startsWith('web_search')) continue;
    if (type.startsWith('web_search_preview')) preview = true;
    else standard = true;
  }
  return preview ? (standard ? 'both' : 'preview') : standard ? 'standard' : undefined;
}

/**
 * At most this many searches are held for one request ($1 at $10 per thousand), however large its declared limit:
 * like `n`, an absurd `max_uses` would otherwise hold the whole balance (every other request refused while it
 * runs), or sum past Number's range to Infinity and hold nothing.
 */
export const MAX_WEB_SEARCHES_HELD = 100;

const limitOr = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? Math.min(value, MAX_WEB_SEARCHES_HELD) : WEB_SEARCHES_WITHOUT_LIMIT);

/** Searches held for a web search tool without `max_uses`: a long research turn, not the worst case (none exists). */
export const WEB_SEARCHES_WITHOUT_LIMIT = 10;

/** OpenAI's `n` (choices returned) and `best_of` (completions generated), Gemini's `candidateCount`: every one is billed output. */
function choices(body: Record<string, unknown>): number {
  let most = 1;
  for (const value of [body.n, body.best_of, ...geminiMembers(body, 'candidateCount')]) {
    if (typeof value === 'number' && Number.isInteger(value) && value > most) most = Math.min(value, MAX_CHOICES);
  }
  return most;
}

/** OpenAI allows n ≤ 128; past that the provider refuses the request, so a larger hold would only refuse early. */
const MAX_CHOICES = 128;

/** The model's rejected fields, less those it accepts again because the request turned reasoning off. */
function deniedParams(body: Record<string, unknown>, model: CatalogModel | undefined): readonly string[] | undefined {
  const deny = model?.unsupportedParams;
  const allowed = model?.paramsWithoutReasoning;
  if (!deny || !allowed) return deny;
  const effort = reasoningEffort(body);
  const off = effort === 'none' || ((effort === undefined || effort === null) && model.reasoningOffByDefault === true);
  return off ? deny.filter((name) => !allowed.includes(name)) : deny;
}

/**
 * `max_tokens` on a model that takes only `max_completion_tokens` (chat): renamed, value kept — not a removal. With
 * both set, `max_completion_tokens` is the model's own and `max_tokens` is dropped (and reported).
 */
function renameMaxTokens(current: Record<string, unknown>, edit: () => Record<string, unknown>, removed: string[]): void {
  const value = current.max_tokens;
  if (value === undefined) return;
  const target = edit();
  delete target.max_tokens;
  if (current.max_completion_tokens === undefined || current.max_completion_tokens === null) target.max_completion_tokens = value;
  else removed.push('max_tokens');
}

/**
 * `reasoning_effort: "none"` (OpenAI's "do not reason", a Responses client's `reasoning.effort` too once translated)
 * on a model that thinks by default (DeepSeek's V4, `thinkingSwitch`): DeepSeek's chat API names no `none` effort,
 * and turns thinking off only by its own switch, `thinking: {type: "disabled"}`, which it becomes. A `thinking` the
 * client sent itself (DeepSeek's own field, through the OpenAI SDK's extra body) is the client's word, kept.
 */
function thinkingOff(current: Record<string, unknown>, edit: () => Record<string, unknown>): void {
  if (current.reasoning_effort !== 'none') return;
  const target = edit();
  delete target.reasoning_effort;
  if (!isSet(current.thinking)) target.thinking = { type: 'disabled' };
}

/** `reasoning_effort` (chat completions) or `reasoning.effort` (responses). */
function reasoningEffort(body: Record<string, unknown>): unknown {
  if (body.reasoning_effort !== undefined) return body.reasoning_effort;
  const reasoning = body.reasoning;
  return typeof reasoning === 'object' && reasoning !== null ? (reasoning as Record<string, unknown>).effort : undefined;
}

const isSet = (value: unknown): boolean => value !== undefined && value !== null;

/**
 * Gemini's `:batchEmbedContents` names the model again in each request, and Google refuses one that is not the
 * path's: the Gen AI SDK writes there what the client asked (`models/google:gemini-embedding-001`), so each is set to
 * the model the call goes to — only when one differs, the body otherwise going out as sent. A single `:embedContent`
 * may name it too (its EmbedContentRequest has the member; REST callers and older SDKs send it): the same, when sent.
 */
function nameEmbeddingModel(body: Record<string, unknown>, edit: () => Record<string, unknown>, upstreamModel: string, surface: ApiSurface): void {
  const name = `models/${upstreamModel}`;
  if (surface === 'embed-content') {
    if (isSet(body.model) && body.model !== name) edit().model = name;
    return;
  }
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.every((r) => typeof r !== 'object' || r === null || (r as Record<string, unknown>).model === name)) return;
  edit().requests = requests.map((r: unknown) => (typeof r === 'object' && r !== null && !Array.isArray(r) ? { ...(r as Record<string, unknown>), model: name } : r));
}

/**
 * `limitSurface`: the surface whose output-limit fields `body` carries, when a translation wrote it (else the
 * upstream's own: a body as its client wrote it).
 */
export function prepareUpstreamBody(body: Record<string, unknown>, attempt: AttemptPlan, settings: AccountSettings, limitSurface?: ApiSurface): PreparedBody {
  const { candidate } = attempt;
  let out: Record<string, unknown> | undefined;
  const edit = (): Record<string, unknown> => (out ??= { ...body });
  const removed: string[] = [];

  const upstreamModel = candidate.upstreamModelId ?? candidate.modelId;
  // Gemini names the model in the path (upstream.ts), and its body has none to set.
  if (body.model !== upstreamModel && !candidate.surface.path.includes('{model}')) edit().model = upstreamModel;
  if ('models' in body) delete edit().models;
  if (candidate.surface.format === 'gemini' && (candidate.surface.surface === 'embeddings' || candidate.surface.surface === 'embed-content')) nameEmbeddingModel(body, edit, upstreamModel, candidate.surface.surface);
  // ngrok serves Interactions statelessly: nothing is kept at Google (the gateway could not route a later read of it
  // to the key that made it), so every request goes with `store: false` — Google's default is true. `store: true` was
  // refused before (request-shape.ts).
  if (candidate.surface.surface === 'interactions' && body.store !== false) edit().store = false;

  // 1. Surface allowlist (only when the provider declares one), 2. the model's denylist.
  const allow = candidate.surface.supportedParams;
  const deny = candidate.unsupportedParams ?? deniedParams(body, candidate.catalogModel);
  if ((allow && allow.length > 0) || (deny && deny.length > 0)) {
    for (const name of Object.keys(body)) {
      if (name === 'models' || ALWAYS_KEPT.has(name)) continue;
      if ((allow && allow.length > 0 && !allow.includes(name)) || deny?.includes(name)) {
        delete edit()[name];
        removed.push(name);
      }
    }
  }

  if (candidate.catalogModel?.chatOutputLimitField !== undefined && candidate.surface.surface === 'chat-completions') renameMaxTokens(out ?? body, edit, removed);
  if (candidate.catalogModel?.thinkingSwitch && candidate.surface.surface === 'chat-completions') thinkingOff(out ?? body, edit);

  // 3. A model that takes one sampling knob refuses the pair: `temperature` is kept (the one SDKs set), `top_p` goes.
  const sampling = out ?? body;
  if (candidate.catalogModel?.oneSamplingParam && isSet(sampling.temperature) && isSet(sampling.top_p)) {
    delete edit().top_p;
    removed.push('top_p');
  }

  const cap = settings.maxOutputTokens;
  // A Converse body the gateway wrote (translate/messages-via-converse.ts) is held to the cap as any request is: the
  // credit hold counts on it. One the AWS SDK wrote passes as it came (OUTPUT_LIMIT_FIELDS).
  if (cap !== null && cap > 0 && limitSurface === 'converse') capConverseLimit(out ?? body, edit, cap);
  else if (cap !== null && cap > 0 && clampOutput(out ?? body, edit, limitSurface ?? candidate.surface.surface, cap, attempt, removed)) {
    fitThinkingBudget(out ?? body, edit, cap, removed);
  }

  // 4. The operator's credential is billed at the catalog's standard prices. A request that leaves the tier to the
  // provider gets its default, `auto`, which serves at priority (and its price) wherever the operator's
  // organisation has priority capacity: the standard tier is asked for explicitly.
  const tier = attempt.keySource === 'ngrok' ? standardTierOf(candidate.provider.id, candidate.surface.surface) : undefined;
  if (tier !== undefined && !isSet((out ?? body).service_tier)) edit().service_tier = tier;
  if (attempt.keySource === 'ngrok') keepNothingStored(out ?? body, edit, candidate.surface.surface, removed);
  if (attempt.keySource === 'ngrok' && candidate.surface.surface === 'responses') carryReasoningStateless(out ?? body, edit, candidate.catalogModel, removed);
  if (CLAUDE_BODIES.has(`${candidate.provider.id}:${candidate.surface.surface}`)) dropUnsignedThinking(out ?? body, edit, removed);

  return out ? { body: out, changed: true, removed } : { body, changed: false, removed };
}

/**
 * 5. What the provider stores would be kept in the operator's account, shared by every tenant (stored-state.ts): a
 * managed Responses request goes with `"store": false` (the API's default is true), a chat request asking to store
 * its completion too. The answer is whole without it; a client that sent `"store": true` finds `store` in
 * Ngrok-AIG-Removed-Params, and a later request using what it meant to store is refused on the managed key.
 */
function keepNothingStored(current: Record<string, unknown>, edit: () => Record<string, unknown>, surface: ApiSurface, removed: string[]): void {
  if (surface !== 'responses' && surface !== 'chat-completions') return;
  const store = current.store;
  if (store === false || (surface === 'chat-completions' && !isSet(store))) return;
  edit().store = false;
  if (isSet(store)) removed.push('store');
}

/** What a Responses request asks to get back so that a reasoning item can be sent back without being stored. */
const ENCRYPTED_REASONING = 'reasoning.encrypted_content';

/**
 * 6. With `store: false` (5.) OpenAI keeps no reasoning item, so a client sending back the items it got (the Agents
 * SDK does, `store` left unset) is answered 404 "Item with id 'rs_…' not found. Items are not persisted when `store`
 * is set to false" on its second turn — unless the item carries its reasoning encrypted, OpenAI's way to be
 * stateless. A reasoning model is asked for that copy (`include`, the client's own entries kept), and a reasoning item
 * sent back by id alone (from a turn served without it: another key, an older gateway, a client that strips it) is
 * dropped and named `input.reasoning`: nothing holds what the id stood for, and the turn goes on without it as OpenAI
 * suggests ("remove this item from your input") rather than fail. Items with `encrypted_content` go as sent.
 */
function carryReasoningStateless(current: Record<string, unknown>, edit: () => Record<string, unknown>, model: CatalogModel | undefined, removed: string[]): void {
  const input = current.input;
  if (Array.isArray(input)) {
    const kept = input.filter((item: unknown) => !(isRecord(item) && item.type === 'reasoning' && typeof item.encrypted_content !== 'string'));
    if (kept.length !== input.length) {
      edit().input = kept;
      removed.push('input.reasoning');
    }
  }
  if (!model?.reasoningItems) return;
  const asked: unknown = current.include;
  // Anything but an array is the client's mistake, refused by OpenAI as sent.
  if (isSet(asked) && !Array.isArray(asked)) return;
  const list: unknown[] = Array.isArray(asked) ? asked : [];
  if (!list.includes(ENCRYPTED_REASONING)) edit().include = [...list, ENCRYPTED_REASONING];
}

/** The standard tier's name where the provider's surface takes a `service_tier` (routing.ts checks the same). */
function standardTierOf(provider: string, surface: ApiSurface): string | undefined {
  if (provider === 'openai' && (surface === 'chat-completions' || surface === 'responses')) return MANAGED_SERVICE_TIER.openai;
  if (provider === 'anthropic' && surface === 'messages') return MANAGED_SERVICE_TIER.anthropic;
  return undefined;
}

/**
 * Why the request's output limit is not one, if it is not: present (null is absent, as the APIs read it) but not an
 * integer (`"100000"`, `[100]`). The providers' own APIs refuse it, lenient compatible servers read `"100000"` as a
 * number — past the account's cap, which only an integer can be checked against.
 */
export function outputLimitProblem(body: Record<string, unknown>, surface: ApiSurface): string | undefined {
  const config = geminiConfig(body, surface);
  // Both names are one field to Google: which of the two it would read is not this gateway's to guess.
  if (config && geminiMembers(body, GEMINI_CONFIG).length > 1) return '"generationConfig" and "generation_config" name one field: send it once.';
  // Gemini's limit under both of its names, the surface's own first.
  const fields = config ? [...new Set([...OUTPUT_LIMIT_FIELDS[surface], GEMINI_LIMIT, geminiProtoName(GEMINI_LIMIT)])] : OUTPUT_LIMIT_FIELDS[surface];
  for (const field of fields) {
    const value = (config ?? body)[field];
    const name = config ? `${geminiConfigName(body, surface)}.${field}` : field;
    if (value !== undefined && value !== null && !Number.isInteger(value)) return `"${name}" must be an integer, got ${JSON.stringify(value).slice(0, 40)}.`;
  }
  return undefined;
}

/**
 * Lowers every output-limit field above the cap; when the request sets none, adds the surface's field so the
 * cap holds (chat: `max_completion_tokens` on OpenAI — its reasoning models reject `max_tokens` — else
 * `max_tokens`, unless that field is one the model rejects or was just stripped). True when the cap is now the
 * request's output limit (lowered or added).
 */
function clampOutput(current: Record<string, unknown>, edit: () => Record<string, unknown>, surface: ApiSurface, cap: number, attempt: AttemptPlan, removed: string[]): boolean {
  const fields = OUTPUT_LIMIT_FIELDS[surface];
  if (fields.length === 0) return false;
  const config = geminiConfig(current, surface);
  if (config) {
    // Gemini's limit, inside its generation config: that one member is rewritten (the rest of the body kept as
    // sent), its limit under one name (the surface's own: GenerateContent's `maxOutputTokens`, Interactions'
    // `max_output_tokens`). Rewritten also when it is within the cap: the config then go upstream as parsed here, so
    // a key written twice inside them (`"maxOutputTokens":99999,"maxOutputTokens":1`) cannot carry the one this
    // gateway did not read.
    const values = geminiMembers(config, GEMINI_LIMIT);
    const within = values.length > 0 && values.every((v) => typeof v === 'number' && v <= cap);
    const { [GEMINI_LIMIT]: _, [geminiProtoName(GEMINI_LIMIT)]: __, ...rest } = config;
    edit()[geminiConfigName(current, surface)] = { ...rest, [fields[0]!]: within ? Math.max(...(values as number[])) : cap };
    return !within;
  }
  let present = false;
  let lowered = false;
  for (const field of fields) {
    const value = current[field];
    if (value === undefined || value === null) continue;
    present = true;
    if (typeof value === 'number' && value > cap) {
      edit()[field] = cap;
      lowered = true;
    }
  }
  if (present) return lowered;
  const denied = attempt.candidate.unsupportedParams ?? attempt.candidate.catalogModel?.unsupportedParams;
  const usable = fields.filter((f) => !removed.includes(f) && !denied?.includes(f)
    && !(attempt.candidate.surface.supportedParams?.length && !attempt.candidate.surface.supportedParams.includes(f)));
  const preferred = surface === 'chat-completions' && attempt.candidate.provider.id === 'openai' ? 'max_completion_tokens' : fields[0]!;
  const field = usable.includes(preferred) ? preferred : usable[0];
  if (field === undefined) return false;
  edit()[field] = cap;
  return true;
}

/** Converse's output limit (`inferenceConfig.maxTokens`) at most `cap`, set to it when the request gave none. */
function capConverseLimit(current: Record<string, unknown>, edit: () => Record<string, unknown>, cap: number): void {
  const config = isRecord(current.inferenceConfig) ? current.inferenceConfig : {};
  if (typeof config.maxTokens === 'number' && config.maxTokens <= cap) return;
  edit().inferenceConfig = { ...config, maxTokens: cap };
}

/** Anthropic's smallest extended-thinking budget. */
const MIN_THINKING_BUDGET = 1024;

/**
 * Extended thinking (Anthropic) needs `thinking.budget_tokens` below `max_tokens`: a request valid as sent would
 * otherwise become one the provider refuses once the account's cap lowered its limit. The budget is lowered to fit
 * under the cap; when not even the smallest budget fits, thinking is dropped (and reported like a stripped param).
 */
function fitThinkingBudget(current: Record<string, unknown>, edit: () => Record<string, unknown>, cap: number, removed: string[]): void {
  const thinking = current.thinking;
  if (typeof thinking !== 'object' || thinking === null || Array.isArray(thinking)) return;
  const budget = (thinking as Record<string, unknown>).budget_tokens;
  if (typeof budget !== 'number' || budget < cap) return;
  if (cap - 1 >= MIN_THINKING_BUDGET) {
    edit().thinking = { ...thinking, budget_tokens: cap - 1 };
    return;
  }
  delete edit().thinking;
  removed.push('thinking');
}

/** The provider surfaces whose body is Anthropic's Messages request to Claude itself (a custom provider's may be another model's). */
const CLAUDE_BODIES: ReadonlySet<string> = new Set(['anthropic:messages', 'anthropic:count-tokens', 'bedrock:invoke', 'bedrock:invoke-stream']);

const isThinking = (block: unknown): boolean => isRecord(block) && (block.type === 'thinking' || block.type === 'redacted_thinking');

/** A thinking block no one signed: a chat model's reasoning as the gateway answers it to a Messages client (`signature` ""). */
const isUnsigned = (block: unknown): boolean => isRecord(block) && block.type === 'thinking' && (typeof block.signature !== 'string' || block.signature === '');

/**
 * 7. Claude refuses, in any turn, a thinking block it did not sign ("Invalid `signature` in `thinking` block"): a
 * chat model's reasoning (DeepSeek's, as translate/messages-via-chat.ts answers it: signature "") in a conversation
 * moved to Claude — a virtual model failing over from DeepSeek, Claude Code switching models. Anthropic lets thinking
 * be left out, so those blocks go (named `messages.thinking`), and a turn left empty with them; Claude would refuse
 * the request where it could answer. With thinking on, a tool turn in progress (or a prefill) whose thinking went is
 * refused in turn ("a final assistant message must start with a thinking block"): that request goes without
 * thinking, `thinking` named, as a chat client's turn without Claude's thinking does (chat-via-messages.ts).
 */
function dropUnsignedThinking(current: Record<string, unknown>, edit: () => Record<string, unknown>, removed: string[]): void {
  const messages = current.messages;
  if (!Array.isArray(messages) || !messages.some((m: unknown) => isRecord(m) && m.role === 'assistant' && Array.isArray(m.content) && m.content.some(isUnsigned))) return;
  const final = finalTurn(messages);
  let finalStripped = false;
  const kept: unknown[] = [];
  for (const message of messages) {
    if (!isRecord(message) || message.role !== 'assistant' || !Array.isArray(message.content) || !message.content.some(isUnsigned)) {
      kept.push(message);
      continue;
    }
    if (message === final) finalStripped = true;
    const content = message.content.filter((block: unknown) => !isUnsigned(block));
    // Anthropic refuses an empty turn; consecutive user turns it takes, as one.
    if (content.length > 0) kept.push({ ...message, content });
  }
  edit().messages = kept;
  removed.push('messages.thinking');
  const thinking = isRecord(current.thinking) ? current.thinking.type : undefined;
  const thinkingOn = thinking === 'enabled' || thinking === 'adaptive';
  const opens = finalTurn(kept)?.content;
  if (thinkingOn && finalStripped && !(Array.isArray(opens) && isThinking(opens[0]))) {
    delete edit().thinking;
    removed.push('thinking');
  }
}

/** The assistant turn Claude continues, which must open with thinking when thinking is on: a prefill, or the turn whose tool results end the request. */
function finalTurn(messages: readonly unknown[]): Record<string, unknown> | undefined {
  const last = messages.at(-1);
  if (!isRecord(last)) return undefined;
  if (last.role === 'assistant') return last;
  const results = last.role === 'user' && Array.isArray(last.content) && last.content.some((b: unknown) => isRecord(b) && b.type === 'tool_result');
  const turn = results ? messages.at(-2) : undefined;
  return isRecord(turn) && turn.role === 'assistant' ? turn : undefined;
}
