// Shapes of the built-in catalog (providers and their models). Prices are decimal strings in USD per
// million tokens as published by the provider, dated by `pricesAsOf`; they are converted to integers once.

export type ApiFormat = 'openai' | 'anthropic' | 'gemini' | 'bedrock';
/**
 * The API surfaces a provider declares; `completions` and `embeddings` are OpenAI-only, `generate-content` (Gemini's
 * native `models/{model}:generateContent`) Google's alone.
 */
export type DeclaredSurface = 'chat-completions' | 'responses' | 'completions' | 'embeddings' | 'messages' | 'generate-content';
/**
 * The API surfaces Tollgate serves: the declared ones, `count-tokens` (Anthropic's `/v1/messages/count_tokens`),
 * which no provider declares — it is served wherever `messages` is (resolve.ts) —, and `stream-generate-content`
 * (Gemini's `:streamGenerateContent`) and `interactions` (Gemini's Interactions API, `POST /v1beta/interactions`),
 * served wherever `generate-content` is, `embed-content` (Gemini's single `:embedContent`), served wherever its
 * `embeddings` (`:batchEmbedContents`) is, and the four Bedrock Runtime operations (`/model/{modelId}/converse`,
 * `/converse-stream`, `/invoke`, `/invoke-with-response-stream`), Amazon Bedrock's alone, passed through as sent, and
 * `realtime` (OpenAI's Realtime API over WebSocket, gateway/realtime/), built-in providers' alone: no custom
 * provider declares it.
 */
export type ApiSurface = DeclaredSurface | 'count-tokens' | 'stream-generate-content' | 'interactions' | 'embed-content' | BedrockSurface | 'realtime';

/** Bedrock Runtime's operations: Converse and InvokeModel, each with its event-stream twin. */
export type BedrockSurface = 'converse' | 'converse-stream' | 'invoke' | 'invoke-stream';

export interface SurfaceSpec {
  format: ApiFormat;
  surface: ApiSurface;
  /** Path appended to the provider base URL, e.g. `/chat/completions`. */
  path: string;
  /** Top-level body fields this surface accepts; empty/absent = accept everything (nothing stripped). */
  supportedParams?: readonly string[];
  /**
   * The surface's own base URL, used instead of the provider's: a custom provider's, or a built-in's other endpoint
   * (Bedrock's OpenAI-compatible `bedrock-mantle`, `{region}` filled as in the provider's).
   */
  baseUrl?: string;
  /** The surface's own credential header (its format's), used instead of the provider's. */
  auth?: 'bearer' | 'x-api-key' | 'x-goog-api-key';
  /**
   * `path` goes under the parent of the provider's base URL, not under the base URL itself: Google's native API
   * (`…/v1beta/models/…`) beside its OpenAI-compatible layer (`…/v1beta/openai`), so the one base URL (and its
   * TOLLGATE_PROVIDER_GOOGLE_BASE_URL override) places both. `{model}` in `path` is the upstream model id.
   */
  besideBase?: true;
  /**
   * A compatibility layer over the provider's own API (Anthropic's OpenAI-compatible chat completions, which
   * Anthropic calls a way to test models, not for production): served when a client calls it, but a request
   * translated for the provider goes to its own API when the gateway can translate to that.
   */
  compatibility?: true;
}

export interface CatalogPricing {
  input: string;
  output: string;
  cacheRead?: string;
  /** Cache writes kept 5 minutes (Anthropic), or the only cache-write price. */
  cacheWrite?: string;
  /** Cache writes kept 1 hour (Anthropic: 2 × input). */
  cacheWriteLong?: string;
  /** USD per 1,000 server-side web searches (Anthropic's `web_search` tool, OpenAI's Responses `web_search`: $10). */
  webSearchPerThousand?: string;
  /**
   * USD per 1,000 searches of OpenAI's older `web_search_preview` tool where it costs more than `web_search`: $25 on
   * the non-reasoning models (GPT-4o, GPT-4.1), whose search content tokens are then free (not in the usage).
   */
  webSearchPreviewPerThousand?: string;
  /**
   * Audio and image tokens where they cost more than text (OpenAI's realtime models: `input`/`output`/`cacheRead` above
   * are the text prices). Usage reporting them apart is priced by kind (gateway/realtime/metering.ts).
   */
  audio?: { input: string; output: string; cacheRead: string };
  image?: { input: string; cacheRead: string };
  /** USD per minute of input audio, for the models billed by its length (OpenAI's whisper-1, gpt-transcribe). */
  audioPerMinute?: string;
  /** Prices of the whole request when its input exceeds `above` tokens (long-context tiers). */
  longContext?: { above: number } & Omit<CatalogPricing, 'longContext' | 'webSearchPerThousand' | 'webSearchPreviewPerThousand' | 'peak' | 'audio' | 'image' | 'audioPerMinute'>;
  /**
   * Prices of a request made in the provider's peak hours (UTC, each `[from, to)`); the prices above are then the
   * off-peak ones (DeepSeek since 2026-08-16).
   */
  peak?: { hoursUtc: readonly (readonly [number, number])[] } & Omit<CatalogPricing, 'longContext' | 'webSearchPerThousand' | 'webSearchPreviewPerThousand' | 'peak' | 'audio' | 'image' | 'audioPerMinute'>;
}

/** Prices as integers (micro-USD per million tokens), derived once from CatalogPricing by createCatalog. */
export interface PriceMicro {
  input: bigint;
  output: bigint;
  cacheRead?: bigint;
  cacheWrite?: bigint;
  cacheWriteLong?: bigint;
  /** Pico-USD per web search. */
  webSearchPico?: bigint;
  /** Pico-USD per search of the `web_search_preview` tool, where it differs from webSearchPico. */
  webSearchPreviewPico?: bigint;
  /** Audio and image token prices (CatalogPricing.audio / .image), as token prices of their own. */
  audio?: PriceMicro;
  image?: PriceMicro;
  /** Pico-USD per minute of input audio (CatalogPricing.audioPerMinute). */
  audioMinutePico?: bigint;
  longContext?: { above: number; price: PriceMicro };
  /** Peak-hour prices: `hours[h]` is true for each peak UTC hour h. */
  peak?: { hours: readonly boolean[]; price: PriceMicro };
}

export interface CatalogModel {
  /** Upstream model id, sent to the provider (e.g. `gpt-4o`, `llama-3.3-70b-versatile`). */
  id: string;
  /**
   * Who made the model (`openai`, `meta-llama`, …); defaults to the provider id. `author/id` is accepted as
   * another name for the model (the catalog's newer `author/name` ids), unless `id` already carries a slash.
   */
  authorId?: string;
  displayName: string;
  contextWindow: number;
  maxOutputTokens: number;
  inputModalities: readonly string[];
  outputModalities: readonly string[];
  /** Top-level request fields this model rejects; stripped before sending and reported. */
  unsupportedParams?: readonly string[];
  /** Of those, the ones it accepts when the request turns reasoning off (`reasoning_effort` / `reasoning.effort` "none"). */
  paramsWithoutReasoning?: readonly string[];
  /** Reasoning is off unless the request sets an effort (GPT-5.1 and later default to "none"). */
  reasoningOffByDefault?: boolean;
  /**
   * Reasons in items of its own on Responses (OpenAI's reasoning models: o-series, GPT-5 and later), which a request
   * with `store: false` can only carry to the next turn encrypted (`include: ["reasoning.encrypted_content"]`); OpenAI
   * refuses that `include` for the other models.
   */
  reasoningItems?: true;
  /**
   * The only output-limit field the model takes on chat completions: OpenAI's reasoning models refuse
   * `max_tokens` ("use max_completion_tokens instead"), so the gateway renames it.
   */
  chatOutputLimitField?: 'max_completion_tokens';
  /**
   * Takes `temperature` or `top_p`, not both (Anthropic, from Claude Opus 4.1 and Sonnet/Haiku 4.5 on: "cannot both be
   * specified for this model"): with both, `top_p` is removed and reported.
   */
  oneSamplingParam?: true;
  /**
   * Constrains its answer to a JSON schema given in `output_config.format` (Claude's JSON outputs, generally available
   * from the 4.5 generation on): a translated `response_format` / `text.format` goes there instead of a forced tool.
   */
  jsonOutputs?: true;
  /**
   * Refuses a forced tool choice (`tool_choice` `any` or a named tool): Claude Sonnet 5.5, Opus 5.5 and the Fable
   * 5.1/5.2 models, as the Vercel AI SDK's Anthropic model table has them. Structured output never goes as a forced tool there.
   */
  refusesForcedTool?: true;
  /**
   * Thinks by adaptive thinking (`thinking: {type: "adaptive"}`, its depth in `output_config.effort`): Claude Opus and
   * Sonnet 4.6 on. Manual thinking (`budget_tokens`) is deprecated there and refused from Opus 4.7 on, so a translated
   * reasoning effort goes as adaptive thinking; other Claude models (and unknown ones) get a budget.
   */
  adaptiveThinking?: true;
  /**
   * Thinks by default and takes DeepSeek's switch for it on chat completions, `thinking: {type: "enabled" |
   * "disabled"}` (DeepSeek's thinking-mode guide: the V4 models; `deepseek-chat` and `deepseek-reasoner` name their
   * mode and take no switch). A client's request to think or not is written into it; no other model is sent it.
   */
  thinkingSwitch?: true;
  /** Absent when the provider publishes no price; such models cannot be served with managed credentials. */
  pricing?: CatalogPricing;
  /**
   * Dated snapshot ids of this model at the same price (`claude-haiku-4-5-20251001`, `gpt-4o-mini-2024-07-18`):
   * accepted as names of the model, and sent upstream as requested, so a client pinning a snapshot keeps it.
   */
  snapshots?: readonly string[];
  /** Surfaces this model can be used on (defaults to every surface of its provider except embeddings). */
  surfaces?: readonly ApiSurface[];
  /** Filled by createCatalog from `pricing`; absent in the raw data and for unpriced models. */
  priceMicro?: PriceMicro;
}

export interface CatalogProvider {
  id: string;
  displayName: string;
  /**
   * Default upstream base URL (overridable by TOLLGATE_PROVIDER_<ID>_BASE_URL). `{region}` in it (Bedrock's) is filled
   * per call with the region of the provider key that call uses.
   */
  baseUrl: string;
  website: string;
  /** Whether `ngrok` routing steps (operator credentials) may serve this provider. */
  managed: boolean;
  /** How the credential is sent upstream. */
  auth: 'bearer' | 'x-api-key';
  surfaces: readonly SurfaceSpec[];
  models: readonly CatalogModel[];
  /** Date the prices were taken from the provider's public price list (YYYY-MM-DD). */
  pricesAsOf: string;
}
