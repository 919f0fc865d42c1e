// Built-in models per provider with limits, modalities and prices (USD per million tokens).
// Prices are the providers' public list prices for standard (non-batch) usage as of the
// provider's `pricesAsOf` in providers.ts; a model without a price we could vouch for has no `pricing` and
// therefore cannot be served by an `ngrok` (operator-credential) step, which must bill it.
import type { ApiSurface, CatalogModel, CatalogPricing } from './types.ts';
import { usdPerMillionToMicro } from '../domain/money.ts';

const TEXT = ['text'] as const;
const TEXT_IMAGE = ['text', 'image'] as const;
const TEXT_IMAGE_FILE = ['text', 'image', 'file'] as const;
const GEMINI_IN = ['text', 'image', 'audio', 'video', 'file'] as const;

/**
 * Claude on Bedrock is reached on Bedrock Runtime's own operations only: Bedrock's OpenAI-compatible chat endpoint
 * does not serve it (chat completions reach it through Messages and InvokeModel instead, translation.md).
 */
export const BEDROCK_RUNTIME_SURFACES: readonly ApiSurface[] = ['converse', 'converse-stream', 'invoke', 'invoke-stream'];

/** OpenAI text models are served on chat and responses; /completions is legacy (instruct models only). */
const OPENAI_TEXT_SURFACES: readonly ApiSurface[] = ['chat-completions', 'responses'];

/** Sampling knobs OpenAI's reasoning models (o-series, gpt-5 family) answer with a 400 for. */
const REASONING_UNSUPPORTED = [
  'temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias', 'thinking',
] as const;

/** o1, o3 and o4-mini also refuse `stop` ("Not supported with latest reasoning models o3 and o4-mini"). */
const O_SERIES_UNSUPPORTED = [...REASONING_UNSUPPORTED, 'stop'] as const;

/**
 * GPT-5.1 and later accept these again with reasoning effort "none" (OpenAI's GPT-5.1 guide: temperature, top_p
 * and logprobs are supported only then).
 */
const SAMPLING_WITHOUT_REASONING = ['temperature', 'top_p', 'logprobs', 'top_logprobs'] as const;

/** Groq documents these as unsupported on its OpenAI-compatible API (a 400 when present). */
const GROQ_UNSUPPORTED = ['logprobs', 'logit_bias', 'top_logprobs'] as const;

/** xAI's reasoning Grok models reject these. */
const GROK_REASONING_UNSUPPORTED = ['presence_penalty', 'frequency_penalty', 'stop'] as const;

function price(input: string, output: string, cacheRead?: string, cacheWrite?: string): CatalogPricing {
  const p: CatalogPricing = { input, output };
  if (cacheRead !== undefined) p.cacheRead = cacheRead;
  if (cacheWrite !== undefined) p.cacheWrite = cacheWrite;
  return p;
}

interface ModelInit {
  displayName: string;
  context: number;
  maxOut: number;
  input?: readonly string[];
  output?: readonly string[];
  pricing?: CatalogPricing;
  unsupported?: readonly string[];
  withoutReasoning?: readonly string[];
  surfaces?: readonly ApiSurface[];
  authorId?: string;
}

function m(id: string, init: ModelInit): CatalogModel {
  const model: CatalogModel = {
    id,
    displayName: init.displayName,
    contextWindow: init.context,
    maxOutputTokens: init.maxOut,
    inputModalities: init.input ?? TEXT,
    outputModalities: init.output ?? TEXT,
  };
  if (init.authorId !== undefined) model.authorId = init.authorId;
  if (init.unsupported !== undefined) model.unsupportedParams = init.unsupported;
  if (init.withoutReasoning !== undefined) {
    model.paramsWithoutReasoning = init.withoutReasoning;
    // OpenAI: "gpt-5.1 defaults to none … All models before gpt-5.1 default to medium" — the models that can turn
    // reasoning off are those that have it off unless asked.
    model.reasoningOffByDefault = true;
  }
  if (init.unsupported === REASONING_UNSUPPORTED || init.unsupported === O_SERIES_UNSUPPORTED) model.chatOutputLimitField = 'max_completion_tokens';
  if (init.pricing !== undefined) model.pricing = init.pricing;
  if (init.surfaces !== undefined) model.surfaces = init.surfaces;
  return model;
}

/**
 * OpenAI's hosted web search (Responses `web_search` tool): $10 per 1,000 calls on every model, the search content
 * tokens billed as input (they are in the reported usage). The older `web_search_preview` tool costs the same on
 * reasoning models and $25 per 1,000 on the others (GPT-4o, GPT-4.1), whose search content tokens are then free.
 * Searches a call runs internally are billed but not shown: see docs/decisions/gateway-routing.md.
 */
const withOpenaiWebSearch = (pricing: CatalogPricing): CatalogPricing => ({ ...pricing, webSearchPerThousand: '10.00' });
const withOpenaiWebSearchPreview = (pricing: CatalogPricing): CatalogPricing => ({ ...withOpenaiWebSearch(pricing), webSearchPreviewPerThousand: '25.00' });

function openaiReasoning(id: string, displayName: string, context: number, maxOut: number, pricing: CatalogPricing, canTurnReasoningOff = false): CatalogModel {
  const model = m(id, {
    displayName, context, maxOut, input: TEXT_IMAGE, pricing: withOpenaiWebSearch(pricing), unsupported: /^o\d/.test(id) ? O_SERIES_UNSUPPORTED : REASONING_UNSUPPORTED, surfaces: OPENAI_TEXT_SURFACES,
    ...(canTurnReasoningOff ? { withoutReasoning: SAMPLING_WITHOUT_REASONING } : {}),
  });
  model.reasoningItems = true;
  return model;
}

/**
 * OpenAI's models without reasoning (GPT-4o, GPT-4.1, GPT-3.5) refuse a reasoning effort with a 400 ("Unrecognized
 * request argument supplied: reasoning_effort"; Responses: "Unsupported parameter: 'reasoning.effort'"): a client
 * that asks every model for reasoning (the console Playground, an agent switching models) gets the answer without it,
 * the field named in Ngrok-AIG-Removed-Params. `thinking` (the chat field DeepSeek's and Anthropic's compatible APIs
 * read) is refused as an unrecognized argument by every OpenAI model, so it is in the reasoning models' list too.
 */
const NO_REASONING_UNSUPPORTED = ['reasoning_effort', 'reasoning', 'thinking'] as const;

function openaiChat(id: string, displayName: string, context: number, maxOut: number, pricing: CatalogPricing, input: readonly string[] = TEXT_IMAGE): CatalogModel {
  return m(id, { displayName, context, maxOut, input, pricing: withOpenaiWebSearchPreview(pricing), unsupported: NO_REASONING_UNSUPPORTED, surfaces: OPENAI_TEXT_SURFACES });
}

/**
 * OpenAI's realtime models (speech in, speech out over WebSocket, gateway/realtime/): served on `realtime` alone, never
 * as chat. Text, audio and image tokens each have their price (the model pages; cached audio costs what cached text
 * does on the newer ones).
 */
function openaiRealtime(id: string, displayName: string, text: [string, string, string], audio: [string, string, string], image?: [string, string]): CatalogModel {
  const pricing: CatalogPricing = { ...price(text[0], text[2], text[1]), audio: { input: audio[0], cacheRead: audio[1], output: audio[2] } };
  if (image) pricing.image = { input: image[0], cacheRead: image[1] };
  return m(id, { displayName, context: 32_000, maxOut: 4_096, input: image ? ['text', 'audio', 'image'] : ['text', 'audio'], output: ['text', 'audio'], pricing, surfaces: ['realtime'] });
}

/**
 * OpenAI's speech-to-text models, catalogued for what a realtime session's input audio transcription costs (billed
 * apart from the session's model, reported in `conversation.item.input_audio_transcription.completed`): served on no
 * surface of their own here. `tokens`: [text input, text output, audio input] USD per million tokens; else `perMinute`,
 * USD per minute of audio, for the models billed by duration.
 */
function openaiTranscription(id: string, displayName: string, rate: { tokens: [string, string, string] } | { perMinute: string }): CatalogModel {
  const pricing: CatalogPricing = 'tokens' in rate
    ? { ...price(rate.tokens[0], rate.tokens[1]), audio: { input: rate.tokens[2], output: '0', cacheRead: rate.tokens[2] } }
    : { ...price('0', '0'), audioPerMinute: rate.perMinute };
  return m(id, { displayName, context: 16_000, maxOut: 2_000, input: ['audio', 'text'], pricing, surfaces: [] });
}

function embedding(id: string, displayName: string, inputPrice: string): CatalogModel {
  return m(id, { displayName, context: 8191, maxOut: 0, output: ['embedding'], pricing: price(inputPrice, '0'), surfaces: ['embeddings'] });
}

/**
 * OpenAI bills a request whose input exceeds 272K tokens at 2 × input (cached input too) and 1.5 × output, on the
 * 1M-context models from GPT-5.4 on. OpenAI's GPT-6 models also bill prompt-cache writes, but their usage block
 * does not separate written tokens from input that Tollgate reads, so writes are billed as input (see
 * docs/decisions/gateway-routing.md, "Catalog").
 */
function openaiLongContext(input: string, output: string, cacheRead: string): CatalogPricing {
  return { ...price(input, output, cacheRead), longContext: { above: 272_000, ...price(times(input, 2n), times(output, 3n, 2n), times(cacheRead, 2n)) } };
}

const openai: readonly CatalogModel[] = [
  // GPT-6 (2026-09 on): reasoning on by default (Sol and Luna default to effort "medium"; Astra and the 6.1/6.2 Sol
  // refuse "none"), so sampling knobs are always removed.
  openaiReasoning('gpt-6.2-astra', 'GPT-6.2 Astra', 1_050_000, 128_000, openaiLongContext('8.00', '40.00', '0.40')),
  openaiReasoning('gpt-6.2-sol', 'GPT-6.2 Sol', 1_050_000, 128_000, openaiLongContext('2.00', '10.00', '0.10')),
  openaiReasoning('gpt-6.1-sol', 'GPT-6.1 Sol', 1_050_000, 128_000, openaiLongContext('2.00', '10.00', '0.10')),
  openaiReasoning('gpt-6-astra', 'GPT-6 Astra', 1_050_000, 128_000, openaiLongContext('10.00', '50.00', '1.00')),
  openaiReasoning('gpt-6-sol', 'GPT-6 Sol', 1_050_000, 128_000, openaiLongContext('2.00', '10.00', '0.20')),
  openaiReasoning('gpt-6-luna', 'GPT-6 Luna', 1_050_000, 128_000, openaiLongContext('0.10', '0.50', '0.01')),
  openaiReasoning('gpt-5.5', 'GPT-5.5', 1_050_000, 128_000, openaiLongContext('5.00', '30.00', '0.50'), true),
  openaiReasoning('gpt-5.4', 'GPT-5.4', 1_050_000, 128_000, openaiLongContext('2.50', '15.00', '0.25'), true),
  openaiReasoning('gpt-5.4-mini', 'GPT-5.4 mini', 400_000, 128_000, price('0.75', '4.50', '0.075'), true),
  openaiReasoning('gpt-5.2', 'GPT-5.2', 400_000, 128_000, price('1.75', '14.00', '0.175'), true),
  openaiReasoning('gpt-5.1', 'GPT-5.1', 400_000, 128_000, price('1.25', '10.00', '0.125'), true),
  openaiReasoning('gpt-5', 'GPT-5', 400_000, 128_000, price('1.25', '10.00', '0.125')),
  openaiReasoning('gpt-5-mini', 'GPT-5 mini', 400_000, 128_000, price('0.25', '2.00', '0.025')),
  openaiReasoning('gpt-5-nano', 'GPT-5 nano', 400_000, 128_000, price('0.05', '0.40', '0.005')),
  openaiChat('gpt-4.1', 'GPT-4.1', 1_047_576, 32_768, price('2.00', '8.00', '0.50')),
  openaiChat('gpt-4.1-mini', 'GPT-4.1 mini', 1_047_576, 32_768, price('0.40', '1.60', '0.10')),
  openaiChat('gpt-4.1-nano', 'GPT-4.1 nano', 1_047_576, 32_768, price('0.10', '0.40', '0.025')),
  openaiChat('gpt-4o', 'GPT-4o', 128_000, 16_384, price('2.50', '10.00', '1.25')),
  openaiChat('gpt-4o-mini', 'GPT-4o mini', 128_000, 16_384, price('0.15', '0.60', '0.075')),
  openaiReasoning('o3', 'o3', 200_000, 100_000, price('2.00', '8.00', '0.50')),
  openaiReasoning('o4-mini', 'o4-mini', 200_000, 100_000, price('1.10', '4.40', '0.275')),
  m('o3-mini', { displayName: 'o3-mini', context: 200_000, maxOut: 100_000, pricing: price('1.10', '4.40', '0.55'), unsupported: REASONING_UNSUPPORTED, surfaces: OPENAI_TEXT_SURFACES }),
  openaiReasoning('o1', 'o1', 200_000, 100_000, price('15.00', '60.00', '7.50')),
  openaiChat('gpt-3.5-turbo', 'GPT-3.5 Turbo', 16_385, 4_096, price('0.50', '1.50'), TEXT),
  // [input, cached input, output] per kind, USD per million tokens.
  openaiRealtime('gpt-realtime-1.5', 'GPT-Realtime-1.5', ['4.00', '0.40', '16.00'], ['32.00', '0.40', '64.00'], ['5.00', '0.50']),
  openaiRealtime('gpt-realtime', 'gpt-realtime', ['4.00', '0.40', '16.00'], ['32.00', '0.40', '64.00'], ['5.00', '0.50']),
  openaiRealtime('gpt-realtime-mini', 'gpt-realtime-mini', ['0.60', '0.06', '2.40'], ['10.00', '0.30', '20.00'], ['0.80', '0.08']),
  openaiRealtime('gpt-4o-realtime-preview', 'GPT-4o Realtime', ['5.00', '2.50', '20.00'], ['40.00', '2.50', '80.00']),
  openaiRealtime('gpt-4o-mini-realtime-preview', 'GPT-4o mini Realtime', ['0.60', '0.30', '2.40'], ['10.00', '0.30', '20.00']),
  // Transcription, as OpenAI's pricing page lists it on 2026-12-07 (text and audio token tables; the per-minute
  // "transcription audio duration" table) and each model's page (developers.openai.com/api/docs/models/<id>):
  // gpt-4o-transcribe and gpt-4o-mini-transcribe bill tokens, the others the audio's length.
  openaiTranscription('gpt-4o-transcribe', 'GPT-4o Transcribe', { tokens: ['2.50', '10.00', '6.00'] }),
  // Its own page (developers.openai.com/api/docs/models/gpt-4o-transcribe-diarize, 2026-12-07: $2.50 in, $10 out,
  // marked deprecated) and the pricing page's transcription tables give it gpt-4o-transcribe's row: $6 audio in.
  openaiTranscription('gpt-4o-transcribe-diarize', 'GPT-4o Transcribe Diarize', { tokens: ['2.50', '10.00', '6.00'] }),
  openaiTranscription('gpt-4o-mini-transcribe', 'GPT-4o mini Transcribe', { tokens: ['1.25', '5.00', '3.00'] }),
  openaiTranscription('gpt-transcribe', 'GPT-Transcribe', { perMinute: '0.0045' }),
  openaiTranscription('gpt-live-transcribe', 'GPT-Live-Transcribe', { perMinute: '0.017' }),
  openaiTranscription('gpt-realtime-whisper', 'GPT-Realtime-Whisper', { perMinute: '0.017' }),
  openaiTranscription('whisper-1', 'Whisper', { perMinute: '0.006' }),
  m('gpt-3.5-turbo-instruct', { displayName: 'GPT-3.5 Turbo Instruct', context: 4_096, maxOut: 4_096, pricing: price('1.50', '2.00'), surfaces: ['completions'] }),
  embedding('text-embedding-3-small', 'Text Embedding 3 Small', '0.02'),
  embedding('text-embedding-3-large', 'Text Embedding 3 Large', '0.13'),
  embedding('text-embedding-ada-002', 'Text Embedding Ada 002', '0.10'),
];

/**
 * Claude models that refuse `temperature` with `top_p` (400 "cannot both be specified for this model"): Opus 4.1,
 * and every model from the 4.5 generation on (Anthropic's API reference; AWS Bedrock's Claude parameters page).
 */
const ONE_SAMPLING_PARAM = /^claude-(opus-4-1|(opus|sonnet|haiku)-4-[5-9]|[a-z]+-[5-9])/;

/**
 * Claude models that refuse the sampling parameters altogether (400 "`temperature` is deprecated for this model"):
 * Opus 4.7 on and the Claude 5 line, as the Vercel AI SDK's Anthropic model table has them. Removed and reported.
 */
const NO_SAMPLING = /^claude-(opus-4-[7-9]|[a-z]+-[5-9])/;
const SAMPLING_PARAMS = ['temperature', 'top_p', 'top_k'] as const;

/** JSON outputs (`output_config.format`) generally available: the 4.5 generation on (Opus 4.1 had them in beta only). */
const JSON_OUTPUTS = /^claude-((opus|sonnet|haiku)-4-[5-9]|[a-z]+-[5-9])/;

/** Claude models that take adaptive thinking (Anthropic's thinking page: Opus and Sonnet 4.6 on, the Claude 5 line). */
const ADAPTIVE_THINKING = /^claude-((opus|sonnet)-4-[6-9]|[a-z]+-[5-9])/;

/** Claude models that refuse a forced tool choice (the Vercel AI SDK's Anthropic model table, `forcedToolUse: false`). */
const REFUSES_FORCED_TOOL = /^claude-(sonnet-5-5|opus-5-5|fable-5-[12])/;

function claude(id: string, displayName: string, context: number, maxOut: number, pricing: CatalogPricing): CatalogModel {
  const model = m(id, { displayName, context, maxOut, input: TEXT_IMAGE_FILE, pricing });
  if (NO_SAMPLING.test(id)) model.unsupportedParams = SAMPLING_PARAMS;
  else if (ONE_SAMPLING_PARAM.test(id)) model.oneSamplingParam = true;
  if (JSON_OUTPUTS.test(id)) model.jsonOutputs = true;
  if (REFUSES_FORCED_TOOL.test(id)) model.refusesForcedTool = true;
  if (ADAPTIVE_THINKING.test(id)) model.adaptiveThinking = true;
  return model;
}

/** `usd` × num / den, exactly (prices are whole micro-USD). */
function times(usd: string, num: bigint, den = 1n): string {
  const micro = (usdPerMillionToMicro(usd) * num) / den;
  return `${micro / 1_000_000n}.${(micro % 1_000_000n).toString().padStart(6, '0')}`;
}

/**
 * Anthropic's published ratios: cache reads 0.1 × input, cache writes 1.25 × input (5-minute TTL) or 2 × input
 * (1 hour), web search $10 per 1,000. Sonnet 4 / 4.5 with the `context-1m` beta bill a request whose input
 * exceeds 200K tokens at 2 × input and 1.5 × output (cache prices scale with input). Opus 4.6 and Sonnet 4.6 take
 * the 1M window at standard prices throughout: Anthropic dropped their long-context premium when the window went
 * generally available (2026-03-13).
 */
function claudePrice(input: string, output: string, longContext: boolean): CatalogPricing {
  const tokens = (i: string, o: string) => ({ input: i, output: o, cacheRead: times(i, 1n, 10n), cacheWrite: times(i, 5n, 4n), cacheWriteLong: times(i, 2n) });
  return { ...tokens(input, output), webSearchPerThousand: '10.00', ...(longContext ? { longContext: { above: 200_000, ...tokens(times(input, 2n), times(output, 3n, 2n)) } } : {}) };
}

/**
 * The Claude 5 models' published rates, which no longer follow one ratio (Opus 5.5 reads its cache at 0.05 × input).
 * Haiku 5.5 bills a prompt over 100K tokens (cache reads and writes included) at 5 × its rates.
 */
function claudeTokens(input: string, output: string, write5m: string, write1h: string, read: string) {
  return { input, output, cacheRead: read, cacheWrite: write5m, cacheWriteLong: write1h };
}

function claudeRates(input: string, output: string, write5m: string, write1h: string, read: string): CatalogPricing {
  return { ...claudeTokens(input, output, write5m, write1h, read), webSearchPerThousand: '10.00' };
}

const anthropic: readonly CatalogModel[] = [
  claude('claude-fable-5-2', 'Claude Fable 5.2', 1_000_000, 128_000, claudeRates('8.00', '40.00', '10.00', '16.00', '0.20')),
  claude('claude-fable-5-1', 'Claude Fable 5.1', 1_000_000, 128_000, claudeRates('10.00', '50.00', '12.50', '20.00', '0.25')),
  claude('claude-opus-5-5', 'Claude Opus 5.5', 1_000_000, 128_000, claudeRates('4.00', '20.00', '5.00', '8.00', '0.20')),
  claude('claude-opus-5', 'Claude Opus 5', 1_000_000, 128_000, claudeRates('5.00', '25.00', '6.25', '10.00', '0.50')),
  claude('claude-sonnet-5-5', 'Claude Sonnet 5.5', 1_000_000, 128_000, claudeRates('2.00', '10.00', '2.50', '4.00', '0.20')),
  claude('claude-sonnet-5', 'Claude Sonnet 5', 1_000_000, 128_000, claudeRates('2.00', '10.00', '2.50', '4.00', '0.20')),
  claude('claude-haiku-5-5', 'Claude Haiku 5.5', 1_000_000, 128_000, {
    ...claudeRates('0.10', '0.50', '0.125', '0.20', '0.01'),
    longContext: { above: 100_000, ...claudeTokens('0.50', '2.50', '0.625', '1.00', '0.05') },
  }),
  claude('claude-opus-4-6', 'Claude Opus 4.6', 1_000_000, 128_000, claudePrice('5.00', '25.00', false)),
  claude('claude-sonnet-4-6', 'Claude Sonnet 4.6', 1_000_000, 128_000, claudePrice('3.00', '15.00', false)),
  claude('claude-opus-4-5', 'Claude Opus 4.5', 200_000, 64_000, claudePrice('5.00', '25.00', false)),
  claude('claude-sonnet-4-5', 'Claude Sonnet 4.5', 200_000, 64_000, claudePrice('3.00', '15.00', true)),
  claude('claude-haiku-4-5', 'Claude Haiku 4.5', 200_000, 64_000, claudePrice('1.00', '5.00', false)),
  claude('claude-opus-4-1', 'Claude Opus 4.1', 200_000, 32_000, claudePrice('15.00', '75.00', false)),
  claude('claude-opus-4-0', 'Claude Opus 4', 200_000, 32_000, claudePrice('15.00', '75.00', false)),
  claude('claude-sonnet-4-0', 'Claude Sonnet 4', 200_000, 64_000, claudePrice('3.00', '15.00', true)),
];

/**
 * Claude on Amazon Bedrock, the four models ngrok's Bedrock page names, under Bedrock's model ids. AWS prices them per
 * endpoint: the `global.` cross-region inference profile at Anthropic's list prices, the in-region model id and the
 * geographic profiles (`us.`, `eu.`, `jp.`, `apac.`, `au.`) 10 % above (Claude 4.5 and later), with Anthropic's cache
 * ratios (reads 0.1 ×, 5-minute writes 1.25 ×, 1-hour writes 2 × input). No web search: Bedrock has no server tools.
 */
function bedrockClaude(id: string, displayName: string, context: number, maxOut: number, input: string, output: string): CatalogModel[] {
  const tokens = (i: string, o: string): CatalogPricing => ({ input: i, output: o, cacheRead: times(i, 1n, 10n), cacheWrite: times(i, 5n, 4n), cacheWriteLong: times(i, 2n) });
  const surfaces = BEDROCK_RUNTIME_SURFACES;
  const regional = m(`anthropic.${id}`, { displayName, context, maxOut, input: TEXT_IMAGE_FILE, pricing: tokens(times(input, 11n, 10n), times(output, 11n, 10n)), surfaces });
  regional.snapshots = ['us', 'eu', 'jp', 'apac', 'au'].map((geo) => `${geo}.anthropic.${id}`);
  const global = m(`global.anthropic.${id}`, { displayName: `${displayName} (global)`, context, maxOut, input: TEXT_IMAGE_FILE, pricing: tokens(input, output), surfaces });
  if (ADAPTIVE_THINKING.test(id)) regional.adaptiveThinking = global.adaptiveThinking = true;
  return [regional, global];
}

/**
 * Gemma 4 on Amazon Bedrock (ngrok's Bedrock page: chat completions and Responses "reach Gemma 4"). AWS's model card
 * (model-card-google-gemma-4-31b, read 2026-12-07): "Gemma 4 models are only available on the bedrock-mantle
 * endpoint", with Chat Completions and Responses, no Converse, no InvokeModel — so only the OpenAI-compatible chat
 * surface (Bedrock's `bedrock-mantle` endpoint, providers.ts). The three instruction-tuned variants of AWS's launch
 * post ("Introducing Gemma 4 models on Amazon Bedrock"), on-demand per million tokens as AWS's price page lists them
 * (quoted in braintrustdata/braintrust-proxy#1077, 2026-12-07): 31B $0.14 / $0.40, 26B-A4B $0.13 / $0.40, E2B
 * $0.04 / $0.08. Context 256K (AWS's card; E2B 128K, Google's model card). No regional or profile ids: the
 * OpenAI-compatible endpoint is called in the key's region under the one id.
 */
function bedrockGemma(id: string, displayName: string, context: number, input: string, output: string): CatalogModel {
  return m(`google.${id}`, { displayName, context, maxOut: 32_768, input: TEXT_IMAGE, pricing: price(input, output), surfaces: ['chat-completions'] });
}

/**
 * Amazon Nova on Bedrock: Bedrock Runtime's alone (AWS's model card, model-card-amazon-nova-lite, read 2026-12-07:
 * InvokeModel and Converse, no Chat Completions, no bedrock-mantle; context 300K, Micro 128K; "Max output tokens:
 * 5K"), so chat completions, Responses, Messages and Gemini clients reach it through Converse
 * (translate/messages-via-converse.ts). On-demand per million tokens (AWS's price page as quoted 2026-05 by
 * swfte.com and pristren.com, 2026-12-07): Micro $0.035 / $0.14, Lite $0.06 / $0.24, Pro $0.80 / $3.20. The
 * geographic inference profiles (`us.`, `eu.`, the card's "Geo inference ID") at the same price, as snapshots.
 */
function bedrockNova(id: string, displayName: string, context: number, input: readonly string[], inPrice: string, outPrice: string): CatalogModel {
  const model = m(`amazon.${id}`, { displayName, context, maxOut: 5_000, input, pricing: price(inPrice, outPrice), surfaces: BEDROCK_RUNTIME_SURFACES });
  model.snapshots = ['us', 'eu'].map((geo) => `${geo}.amazon.${id}`);
  return model;
}

const bedrock: readonly CatalogModel[] = [
  ...bedrockClaude('claude-opus-4-6-v1', 'Claude Opus 4.6', 1_000_000, 128_000, '5.00', '25.00'),
  ...bedrockClaude('claude-sonnet-4-6', 'Claude Sonnet 4.6', 1_000_000, 128_000, '3.00', '15.00'),
  ...bedrockClaude('claude-opus-4-5-20251101-v1:0', 'Claude Opus 4.5', 200_000, 64_000, '5.00', '25.00'),
  ...bedrockClaude('claude-haiku-4-5-20251001-v1:0', 'Claude Haiku 4.5', 200_000, 64_000, '1.00', '5.00'),
  bedrockGemma('gemma-4-31b', 'Gemma 4 31B', 262_144, '0.14', '0.40'),
  bedrockGemma('gemma-4-26b-a4b', 'Gemma 4 26B A4B', 262_144, '0.13', '0.40'),
  bedrockGemma('gemma-4-e2b', 'Gemma 4 E2B', 131_072, '0.04', '0.08'),
  bedrockNova('nova-pro-v1:0', 'Nova Pro', 300_000, TEXT_IMAGE, '0.80', '3.20'),
  bedrockNova('nova-lite-v1:0', 'Nova Lite', 300_000, TEXT_IMAGE, '0.06', '0.24'),
  bedrockNova('nova-micro-v1:0', 'Nova Micro', 128_000, TEXT, '0.035', '0.14'),
];

function gemini(id: string, displayName: string, pricing: CatalogPricing | undefined, maxOut = 65_536): CatalogModel {
  return m(id, { displayName, context: 1_048_576, maxOut, input: GEMINI_IN, ...(pricing ? { pricing } : {}) });
}

const google: readonly CatalogModel[] = [
  // Google's newest reasoning model (per-request thinking_level); its price rose to these on 2026-12-01.
  gemini('gemini-4-argon', 'Gemini 4 Argon', price('4.00', '20.00', '0.20')),
  gemini('gemini-3.6-flash', 'Gemini 3.6 Flash', price('0.75', '3.75')),
  // Pro models bill a prompt over 200K tokens at their long-context rates, input and output alike.
  gemini('gemini-3.1-pro-preview', 'Gemini 3.1 Pro Preview', { ...price('2.00', '12.00', '0.20'), longContext: { above: 200_000, ...price('4.00', '18.00', '0.40') } }),
  gemini('gemini-3-flash-preview', 'Gemini 3 Flash Preview', price('0.50', '3.00', '0.05')),
  gemini('gemini-2.5-pro', 'Gemini 2.5 Pro', { ...price('1.25', '10.00', '0.125'), longContext: { above: 200_000, ...price('2.50', '15.00', '0.25') } }),
  gemini('gemini-2.5-flash', 'Gemini 2.5 Flash', price('0.30', '2.50', '0.03')),
  gemini('gemini-2.5-flash-lite', 'Gemini 2.5 Flash-Lite', price('0.10', '0.40', '0.01')),
  gemini('gemini-2.0-flash', 'Gemini 2.0 Flash', price('0.10', '0.40', '0.025'), 8_192),
  // Served on Gemini's own API (`:batchEmbedContents`, what the Gen AI SDK's embedContent calls) and on Google's
  // OpenAI-compatible `/embeddings` (OpenAI's `/v1/embeddings`, passed through); 2,048 input
  // tokens a text, $0.15 per million (Google's announcement of its general availability).
  m('gemini-embedding-001', { displayName: 'Gemini Embedding 001', context: 2_048, maxOut: 0, output: ['embedding'], pricing: price('0.15', '0'), surfaces: ['embeddings'] }),
];

/**
 * DeepSeek bills by the hour since 2026-08-16: peak hours (01:00–04:00 and 06:00–10:00 UTC) at twice the off-peak
 * rates (api-docs.deepseek.com/quick_start/pricing, as of 2026-11-15).
 */
const DEEPSEEK_PEAK_HOURS = [[1, 4], [6, 10]] as const;

function deepseekPrice(input: string, output: string, cacheRead: string): CatalogPricing {
  return { ...price(input, output, cacheRead), peak: { hoursUtc: DEEPSEEK_PEAK_HOURS, ...price(times(input, 2n), times(output, 2n), times(cacheRead, 2n)) } };
}

const DEEPSEEK_FLASH: ModelInit = { displayName: 'DeepSeek Flash', context: 1_000_000, maxOut: 384_000, input: TEXT_IMAGE, pricing: deepseekPrice('0.15', '0.60', '0.003') };

/** A DeepSeek model that thinks by default and takes the `thinking` switch (CatalogModel.thinkingSwitch). */
function switchable(model: CatalogModel): CatalogModel {
  return { ...model, thinkingSwitch: true };
}

const deepseek: readonly CatalogModel[] = [
  switchable(m('deepseek-v4-pro', { displayName: 'DeepSeek V4 Pro', context: 1_000_000, maxOut: 384_000, pricing: deepseekPrice('0.66', '1.98', '0.022') })),
  // DeepSeek-V4.1-Flash; `deepseek-v4-flash` is its retired predecessor's name, still accepted and served by it.
  switchable(m('deepseek-flash', DEEPSEEK_FLASH)),
  switchable(m('deepseek-v4-flash', { ...DEEPSEEK_FLASH, displayName: 'DeepSeek V4 Flash' })),
  m('deepseek-chat', { displayName: 'DeepSeek Chat', context: 128_000, maxOut: 8_192, pricing: price('0.28', '0.42', '0.028') }),
  m('deepseek-reasoner', { displayName: 'DeepSeek Reasoner', context: 128_000, maxOut: 64_000, pricing: price('0.28', '0.42', '0.028'), unsupported: ['logprobs', 'top_logprobs'] }),
];

function groqModel(id: string, init: Omit<ModelInit, 'unsupported'>): CatalogModel {
  return m(id, { ...init, unsupported: GROQ_UNSUPPORTED });
}

// Groq's upstream ids: Llama 3.x without an author prefix, newer models with one.
const groq: readonly CatalogModel[] = [
  groqModel('llama-3.3-70b-versatile', { displayName: 'Llama 3.3 70B Versatile', authorId: 'meta-llama', context: 131_072, maxOut: 32_768, pricing: price('0.59', '0.79') }),
  groqModel('llama-3.1-8b-instant', { displayName: 'Llama 3.1 8B Instant', authorId: 'meta-llama', context: 131_072, maxOut: 131_072, pricing: price('0.05', '0.08') }),
  groqModel('meta-llama/llama-4-scout-17b-16e-instruct', { displayName: 'Llama 4 Scout', authorId: 'meta-llama', context: 131_072, maxOut: 8_192, input: TEXT_IMAGE, pricing: price('0.11', '0.34') }),
  groqModel('meta-llama/llama-4-maverick-17b-128e-instruct', { displayName: 'Llama 4 Maverick', authorId: 'meta-llama', context: 131_072, maxOut: 8_192, input: TEXT_IMAGE, pricing: price('0.20', '0.60') }),
  groqModel('openai/gpt-oss-120b', { displayName: 'GPT-OSS 120B', authorId: 'openai', context: 131_072, maxOut: 65_536, pricing: price('0.15', '0.60') }),
  groqModel('openai/gpt-oss-20b', { displayName: 'GPT-OSS 20B', authorId: 'openai', context: 131_072, maxOut: 65_536, pricing: price('0.075', '0.30') }),
  groqModel('qwen/qwen3-32b', { displayName: 'Qwen3 32B', authorId: 'qwen', context: 131_072, maxOut: 40_960, pricing: price('0.29', '0.59') }),
  groqModel('moonshotai/kimi-k2-instruct-0905', { displayName: 'Kimi K2 Instruct', authorId: 'moonshotai', context: 262_144, maxOut: 16_384, pricing: price('1.00', '3.00') }),
];

const moonshotai: readonly CatalogModel[] = [
  m('kimi-k2.6', { displayName: 'Kimi K2.6', context: 262_144, maxOut: 262_144, input: TEXT_IMAGE }),
  m('kimi-k2.5', { displayName: 'Kimi K2.5', context: 262_144, maxOut: 262_144, input: TEXT_IMAGE, pricing: price('0.60', '3.00', '0.10') }),
  m('kimi-k2-thinking', { displayName: 'Kimi K2 Thinking', context: 262_144, maxOut: 262_144, pricing: price('0.60', '2.50', '0.15') }),
  m('kimi-k2-0905-preview', { displayName: 'Kimi K2 0905', context: 262_144, maxOut: 262_144, pricing: price('0.60', '2.50', '0.15') }),
];

const zai: readonly CatalogModel[] = [
  m('glm-5.1', { displayName: 'GLM-5.1', context: 200_000, maxOut: 131_072 }),
  m('glm-5', { displayName: 'GLM-5', context: 200_000, maxOut: 131_072, pricing: price('1.00', '3.20', '0.20') }),
  m('glm-4.7', { displayName: 'GLM-4.7', context: 200_000, maxOut: 131_072, pricing: price('0.60', '2.20', '0.11') }),
  m('glm-4.6', { displayName: 'GLM-4.6', context: 200_000, maxOut: 131_072, pricing: price('0.60', '2.20', '0.11') }),
  m('glm-4.5', { displayName: 'GLM-4.5', context: 131_072, maxOut: 98_304, pricing: price('0.60', '2.20', '0.11') }),
  m('glm-4.5-air', { displayName: 'GLM-4.5-Air', context: 131_072, maxOut: 98_304, pricing: price('0.20', '1.10', '0.03') }),
];

function grok(id: string, displayName: string, context: number, maxOut: number, pricing?: CatalogPricing): CatalogModel {
  return m(id, { displayName, context, maxOut, input: TEXT_IMAGE, unsupported: GROK_REASONING_UNSUPPORTED, ...(pricing ? { pricing } : {}) });
}

// The newest Grok generations (4.3+) are listed with their published limits; neither xAI's pages nor ngrok's
// changelog we could read gives their prices (only resellers do), so they need the account's own xAI key.
const xai: readonly CatalogModel[] = [
  grok('grok-4.7', 'Grok 4.7', 500_000, 128_000),
  grok('grok-4.6', 'Grok 4.6', 500_000, 128_000),
  grok('grok-4.5', 'Grok 4.5', 500_000, 128_000),
  grok('grok-4.3', 'Grok 4.3', 1_000_000, 128_000),
  grok('grok-build-0.1', 'Grok Build 0.1', 256_000, 128_000),
  grok('grok-4', 'Grok 4', 256_000, 128_000, price('3.00', '15.00', '0.75')),
  grok('grok-4-1-fast-reasoning', 'Grok 4.1 Fast Reasoning', 2_000_000, 30_000, price('0.20', '0.50', '0.05')),
  m('grok-4-1-fast-non-reasoning', { displayName: 'Grok 4.1 Fast', context: 2_000_000, maxOut: 30_000, input: TEXT_IMAGE, pricing: price('0.20', '0.50', '0.05') }),
  m('grok-code-fast-1', { displayName: 'Grok Code Fast 1', context: 256_000, maxOut: 10_000, unsupported: GROK_REASONING_UNSUPPORTED, pricing: price('0.20', '1.50', '0.02') }),
  m('grok-3', { displayName: 'Grok 3', context: 131_072, maxOut: 16_384, pricing: price('3.00', '15.00', '0.75') }),
  m('grok-3-mini', { displayName: 'Grok 3 Mini', context: 131_072, maxOut: 16_384, pricing: price('0.30', '0.50', '0.075') }),
];

/**
 * MiniMax's pay-as-you-go list prices (platform.minimax.io, "Pay as You Go"; the same ratios as its CNY page on
 * platform.minimaxi.com): cache reads at 0.2 × input on M2.7, 0.1 × input on M2.5. Its cache-write price ($0.375) is
 * not carried: the OpenAI-compatible usage block reports no written tokens for it to apply to. M3 is unpriced: sources
 * disagree on whether $0.30 / $1.20 is its list price or a discount off $0.60 / $2.40, and on its tier above 512K.
 * M2 and M2.1 are not in the price table we could read. Upstream ids are case-sensitive (`MiniMax-M2.7`);
 * ngrok's `minimax/minimax-m2.7` reaches them through the catalog's case-insensitive lookup.
 */
const minimax: readonly CatalogModel[] = [
  m('MiniMax-M3', { displayName: 'MiniMax M3', context: 1_000_000, maxOut: 131_072, input: TEXT_IMAGE }),
  m('MiniMax-M2.7', { displayName: 'MiniMax M2.7', context: 204_800, maxOut: 131_072, pricing: price('0.30', '1.20', '0.06') }),
  // A separate model id, not an option of the base model (ngrok's MiniMax page).
  m('MiniMax-M2.7-highspeed', { displayName: 'MiniMax M2.7 Highspeed', context: 204_800, maxOut: 131_072, pricing: price('0.60', '2.40', '0.06') }),
  m('MiniMax-M2.5', { displayName: 'MiniMax M2.5', context: 204_800, maxOut: 131_072, pricing: price('0.30', '1.20', '0.03') }),
  m('MiniMax-M2.5-highspeed', { displayName: 'MiniMax M2.5 Highspeed', context: 204_800, maxOut: 131_072, pricing: price('0.60', '2.40', '0.03') }),
  m('MiniMax-M2.1', { displayName: 'MiniMax M2.1', context: 204_800, maxOut: 131_072 }),
  m('MiniMax-M2', { displayName: 'MiniMax M2', context: 204_800, maxOut: 131_072 }),
];

/**
 * Dated ids the providers publish for catalogued aliases, where the snapshot is billed as the alias (a snapshot
 * priced differently, such as gpt-4o-2024-05-13, is left out: it stays a pass-through with `openai:`).
 */
const SNAPSHOTS: Readonly<Record<string, readonly string[]>> = {
  'gpt-5.1': ['gpt-5.1-2025-11-13'],
  'gpt-5': ['gpt-5-2025-08-07'],
  'gpt-5-mini': ['gpt-5-mini-2025-08-07'],
  'gpt-5-nano': ['gpt-5-nano-2025-08-07'],
  'gpt-4.1': ['gpt-4.1-2025-04-14'],
  'gpt-4.1-mini': ['gpt-4.1-mini-2025-04-14'],
  'gpt-4.1-nano': ['gpt-4.1-nano-2025-04-14'],
  'gpt-4o': ['gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'],
  'gpt-4o-mini': ['gpt-4o-mini-2024-07-18'],
  'o3': ['o3-2025-04-16'],
  'o4-mini': ['o4-mini-2025-04-16'],
  'o3-mini': ['o3-mini-2025-01-31'],
  'o1': ['o1-2024-12-17'],
  'gpt-3.5-turbo': ['gpt-3.5-turbo-0125'],
  'gpt-realtime': ['gpt-realtime-2025-08-28'],
  'gpt-realtime-mini': ['gpt-realtime-mini-2025-10-06'],
  // The 2024-10-01 snapshot billed cached audio at $20: left out.
  'gpt-4o-realtime-preview': ['gpt-4o-realtime-preview-2024-12-17', 'gpt-4o-realtime-preview-2025-06-03'],
  'gpt-4o-mini-realtime-preview': ['gpt-4o-mini-realtime-preview-2024-12-17'],
  'gpt-4o-mini-transcribe': ['gpt-4o-mini-transcribe-2025-12-15'],
  'claude-opus-4-5': ['claude-opus-4-5-20251101'],
  'claude-sonnet-4-5': ['claude-sonnet-4-5-20250929'],
  'claude-haiku-4-5': ['claude-haiku-4-5-20251001'],
  'claude-opus-4-1': ['claude-opus-4-1-20250805'],
  'claude-opus-4-0': ['claude-opus-4-20250514'],
  'claude-sonnet-4-0': ['claude-sonnet-4-20250514'],
};

const withSnapshots = (models: readonly CatalogModel[]): readonly CatalogModel[] =>
  models.map((model) => (SNAPSHOTS[model.id] ? { ...model, snapshots: SNAPSHOTS[model.id] } : model));

export const modelsByProvider: Record<string, readonly CatalogModel[]> = {
  openai: withSnapshots(openai),
  anthropic: withSnapshots(anthropic),
  google,
  deepseek,
  groq,
  moonshotai,
  'z-ai': zai,
  xai,
  minimax,
  bedrock,
};
