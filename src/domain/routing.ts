// Routing (gateway.md §6, control-plane.md §8): one candidate → the ordered credentials to try. A model rule
// beats a provider rule; steps run in order and keys inside a step in order; without a rule the defaults
// apply (account keys oldest first, then the operator's managed key). Each (model, key) pair appears once.
import type { AccountSnapshot, ConfigurationState, ProviderKeyState, StoredRouterRule, StoredRouterStep } from '../state/types.ts';
import { tollgateError, type TollgateError } from './errors.ts';
import type { Candidate } from './resolve.ts';
import { isCandidateProvider, matchesModelRef } from './model-match.ts';
import { geminiJsonName, geminiList, geminiMember, geminiMembers, geminiObjects, geminiProtoName, geminiSpelling } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';
import { codeExecutionIsFree, containerTier, runsInContainer } from './hosted-tools.ts';
import { storedStateField } from './stored-state.ts';
import { builtinProviders } from '../catalog/providers.ts';
import { createCatalog } from '../catalog/index.ts';

export interface AttemptPlan {
  candidate: Candidate;
  keySource: 'ngrok' | 'user';
  /** The upstream secret; '' = send no credential header (a custom provider without keys, e.g. local Ollama). */
  credential: string;
  providerKey?: ProviderKeyState;
}

export interface PlanResult { attempts: AttemptPlan[]; problem?: TollgateError }

/** The rule governing this candidate: the first matching model rule, else the first provider-only rule. */
export function findRule(candidate: Candidate, configuration: ConfigurationState | null): StoredRouterRule | undefined {
  const rules = configuration?.rules;
  if (!rules) return undefined;
  let providerRule: StoredRouterRule | undefined;
  for (const rule of rules) {
    if (rule.provider !== undefined && !isCandidateProvider(candidate, rule.provider)) continue;
    if (rule.model !== undefined) {
      if (matchesModelRef(candidate, rule.model, false)) return rule;
    } else if (rule.provider !== undefined) {
      providerRule ??= rule;
    }
  }
  return providerRule;
}

/**
 * The one `service_tier` the operator's credential may be asked for (gateway.md §6, 3815): a tenant asking for
 * priority (or `auto`, which uses it where the operator's organisation has it) would be served at a price the
 * catalog does not bill.
 */
export const MANAGED_SERVICE_TIER: Readonly<Record<string, string>> = { openai: 'default', anthropic: 'standard_only' };
/** Gemini Interactions' `service_tier` on the operator's credential: Standard only (not flex, priority or deferred). */
const MANAGED_INTERACTIONS_TIER = 'standard';

/**
 * What of the request (its body, passed as is) the managed credential must check: only what the catalog can bill
 * may use it.
 */
export interface ManagedAsk {
  /** `service_tier`, when the request has one. */
  readonly service_tier?: unknown;
  /** Responses `background`: generated after the request's answer, where no usage reaches the gateway. */
  readonly background?: unknown;
  /** State the provider keeps between requests (stored-state.ts), here the operator's: `previous_response_id`,
   * `conversation`, a stored `prompt`, item references and file ids in `input` / `messages`, Messages' `container`,
   * Gemini's `cachedContent`. */
  readonly previous_response_id?: unknown;
  readonly conversation?: unknown;
  readonly prompt?: unknown;
  readonly container?: unknown;
  /** The request's `tools`: hosted tools the provider bills apart from tokens must be ones the catalog prices. */
  readonly tools?: unknown;
  /** Anthropic fast mode (`speed: "fast"`, about 6 × the standard price on Opus 4.6) and data residency
   * (`inference_geo`, 1.1 × for US-only): premiums the catalog does not price. */
  readonly speed?: unknown;
  readonly inference_geo?: unknown;
  /** Anthropic's server-side `fallbacks`: a refused request is answered by another model, billed at its rates. */
  readonly fallbacks?: unknown;
  /** Chat `messages` / Responses `input`: read only for audio, on models that take it at a price the catalog lacks. */
  readonly messages?: unknown;
  /** Gemini GenerateContent's turns (and its system instruction, under either name): read only for audio too. */
  readonly contents?: unknown;
  /**
   * Also Gemini Interactions' `input`, which a managed key serves as text only (with the fields below). Interactions'
   * members are read under both of Google's names (gemini-fields.ts): `response_modalities` or `responseModalities`.
   */
  readonly input?: unknown;
  readonly response_modalities?: unknown;
  readonly response_format?: unknown;
  readonly response_mime_type?: unknown;
  readonly generation_config?: unknown;
}

const AUDIO_DATA = /^data:audio\//i;

/** An `input_audio` part, or a file or image part whose data URL is audio (chat `file.file_data`, `image_url.url`; Responses `file_data`, `image_url`). */
function isAudioPart(part: unknown): boolean {
  if (part === null || typeof part !== 'object') return false;
  const p = part as { type?: unknown; file?: { file_data?: unknown }; image_url?: unknown; file_data?: unknown };
  if (p.type === 'input_audio') return true;
  const image = p.image_url !== null && typeof p.image_url === 'object' ? (p.image_url as { url?: unknown }).url : p.image_url;
  for (const data of [p.file?.file_data, image, p.file_data]) if (typeof data === 'string' && AUDIO_DATA.test(data)) return true;
  return false;
}

/**
 * Whether Gemini parts carry audio: inline (`inlineData`) or by URI (`fileData`), told by the MIME type Google
 * requires of both, each member under either of Google's names (gemini-fields.ts), and inside a function's response
 * (whose `parts` may hold media of their own).
 */
function geminiAudioIn(parts: unknown): boolean {
  for (const part of geminiObjects(parts)) {
    for (const media of [...geminiMembers(part, 'inlineData'), ...geminiMembers(part, 'fileData')]) {
      if (geminiMembers(media, 'mimeType').some((mime) => typeof mime === 'string' && /^audio\//i.test(mime))) return true;
    }
    for (const response of geminiMembers(part, 'functionResponse')) if (geminiAudioIn(geminiMember(response, 'parts'))) return true;
  }
  return false;
}

/**
 * Whether a request sends audio: a chat or Responses request's `input_audio` content parts (or audio data URLs), a
 * Gemini GenerateContent request's audio parts (its turns and system instruction). Providers bill audio input at its
 * own price (Gemini 2.5 Flash: $1.00 per million tokens against $0.30 for text), which the catalog does not hold:
 * on the managed credential it would be charged as text.
 */
function sendsAudio(ask: ManagedAsk): boolean {
  for (const content of [...geminiObjects(ask.contents), ...geminiMembers(ask, 'systemInstruction')]) if (geminiAudioIn(geminiMember(content, 'parts'))) return true;
  for (const turns of [ask.messages, ask.input]) {
    if (!Array.isArray(turns)) continue;
    for (const turn of turns) {
      const content = turn !== null && typeof turn === 'object' ? (turn as { content?: unknown }).content : undefined;
      if (!Array.isArray(content)) continue;
      for (const part of content) if (isAudioPart(part)) return true;
    }
  }
  return false;
}

/**
 * The media type of an Interactions content that is not text (`image`, `audio`, `document`, `video`), if any: also
 * inside a turn's or step's contents, a function's result and a thought's summary (text or images).
 */
function mediaContent(contents: unknown): string | undefined {
  for (const content of Array.isArray(contents) ? contents : [contents]) {
    if (!isRecord(content)) continue;
    if (typeof content.type === 'string' && ['image', 'audio', 'document', 'video'].includes(content.type)) return content.type;
    // A step: a turn's contents, a function's result (text, or contents), a thought's summary.
    const inner = mediaContent(content.content) ?? (Array.isArray(content.result) ? mediaContent(content.result) : undefined) ?? (Array.isArray(content.summary) ? mediaContent(content.summary) : undefined);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * What a Gemini Interactions request asks beyond text in and text or JSON out, said for the refusal: media in its
 * input, or media output (`response_modalities`, a non-text `response_format` or `response_mime_type`, image,
 * speech or video settings). Each member under both of Google's names, said as the client spelled it: Interactions
 * documents the snake_case ones, and a rule that read only those would be passed by the camelCase ones wherever
 * Google's parser takes them as GenerateContent's does.
 */
function interactionsBeyondText(ask: ManagedAsk): string | undefined {
  const media = typeof ask.input === 'string' ? undefined : mediaContent(ask.input);
  if (media) return `sends "${media}" input`;
  const named = (path: string) => geminiSpelling(ask, path);
  for (const modalities of geminiMembers(ask, 'responseModalities')) {
    const other = geminiList(modalities).find((m) => typeof m !== 'string' || m.toLowerCase() !== 'text');
    if (other !== undefined) return `asks for ${shownValue(other)} output (${named('responseModalities')})`;
  }
  for (const format of geminiMembers(ask, 'responseFormat').flatMap(geminiList)) {
    if (isRecord(format) && format.type !== undefined && format.type !== 'text') return `asks for ${shownValue(format.type)} output (${named('responseFormat')})`;
  }
  for (const mime of geminiMembers(ask, 'responseMimeType')) {
    if (typeof mime === 'string' && !/^(text\/|application\/json\b)/i.test(mime)) return `asks for ${shownValue(mime)} output (${named('responseMimeType')})`;
  }
  for (const config of geminiMembers(ask, 'generationConfig')) {
    for (const setting of ['imageConfig', 'speechConfig', 'videoConfig']) {
      if (geminiMembers(config, setting).length > 0) return `sets ${named(`generationConfig.${setting}`)}`;
    }
  }
  return undefined;
}

/**
 * Interactions' tools (`{type: …}`) that a managed key cannot bill: Google's grounding, billed per grounded prompt
 * as GenerateContent's (GEMINI_BILLED_TOOLS), and computer use, whose screenshots are image input. Code execution
 * and URL context are billed as tokens. The type is a value, which Google documents in snake_case only; its
 * camelCase twin is refused too, as GenerateContent's tools are under both names (nothing is lost: a type Google
 * does not know fails there anyway).
 */
const INTERACTIONS_BILLED_TOOLS = ['google_search', 'google_maps', 'file_search', 'retrieval', 'computer_use'].flatMap((name) => [name, geminiJsonName(name)]);

function interactionsBilledTool(tools: unknown): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const tool of tools) if (isRecord(tool) && typeof tool.type === 'string' && INTERACTIONS_BILLED_TOOLS.includes(tool.type)) return tool.type;
  return undefined;
}

/** The premium option a request asks for that the catalog cannot price, if any (`speed`, `inference_geo`). */
function unpricedPremium(ask: ManagedAsk): string | undefined {
  if (ask.speed !== undefined && ask.speed !== null && ask.speed !== 'standard') return `"speed": ${shownValue(ask.speed)}`;
  if (ask.inference_geo !== undefined && ask.inference_geo !== null && ask.inference_geo !== 'global') return `"inference_geo": ${shownValue(ask.inference_geo)}`;
  return undefined;
}

/** A client's value as JSON, cut short before it is encoded (so a long string still reads as one). */
function shownValue(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 32) : value)?.slice(0, 48) ?? String(value);
}

const NOTHING_ASKED: ManagedAsk = {};

/**
 * Gemini's grounding tools (a tool object keyed by its name, no `type`): Google bills grounded prompts beside their
 * tokens, at prices the catalog does not hold. Its code execution and URL context are billed as tokens. Each under
 * both names Google's proto JSON reads (`google_search` is how its REST examples write it).
 */
const GEMINI_BILLED_TOOLS = ['googleSearch', 'googleSearchRetrieval', 'googleMaps', 'enterpriseWebSearch', 'fileSearch'].flatMap((name) => [name, geminiProtoName(name)]);

/**
 * xAI's server-side tools it bills per call beside the tokens (docs.x.ai/developers/pricing: X Search $5, file
 * attachment search $10, collections search $2.50 per 1,000 calls; its web search, $5, falls under the per-search
 * price rule, its code execution and `file_search` under theirs).
 */
const XAI_BILLED_TOOLS = ['x_search', 'attachment_search', 'collections_search'];

/**
 * Provider-hosted tools billed apart from tokens that a managed key cannot bill (docs/decisions/gateway-routing.md):
 * OpenAI file search (its vector stores would be the operator's: a managed key has none of the account's, and their
 * storage is billed to their owner) and image generation (GPT Image models the catalog does not price, at sizes and
 * qualities no hold bounds); code interpreter and hosted shell on another provider than OpenAI, or in a container
 * named by id (its memory tier, which prices it, was chosen where the gateway did not see it); Anthropic code
 * execution billed per container hour, which no answer reports — unless a web search or fetch tool of the request
 * makes it free. Web search is priced (cost.ts) on the models whose catalog price has a per-search price
 * (`searchPriced`), and so are OpenAI's auto containers (one session per container the answer names); xAI bills its own
 * search tools per call too (XAI_BILLED_TOOLS), at prices the catalog does not hold.
 */
function unpricedHostedTool(tools: unknown, providerId: string, searchPriced: boolean): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const tool of tools) {
    const type = tool !== null && typeof tool === 'object' ? (tool as { type?: unknown }).type : undefined;
    if (typeof type !== 'string') {
      const billed = tool !== null && typeof tool === 'object' ? GEMINI_BILLED_TOOLS.find((name) => Object.hasOwn(tool, name)) : undefined;
      if (billed) return billed;
      continue;
    }
    if (type === 'file_search' || type === 'image_generation') return type;
    if (type.startsWith('web_search') && !searchPriced) return type;
    if (providerId === 'xai' && XAI_BILLED_TOOLS.includes(type)) return type;
    if (runsInContainer(tool) && (providerId !== 'openai' || containerTier(tool) === undefined)) return type;
    if (type.startsWith('code_execution') && !codeExecutionIsFree(tools)) return type;
  }
  return undefined;
}

/**
 * Anthropic's advisor tool (`advisor_20260301`) naming a model the catalog does not price: each advisor call is a
 * sub-inference Anthropic bills at the advisor model's rates (meter.ts prices it so), which could not be billed here.
 */
function unpricedAdvisor(tools: unknown, providerId: string): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const tool of tools) {
    const t = tool !== null && typeof tool === 'object' ? (tool as { type?: unknown; model?: unknown }) : undefined;
    if (typeof t?.type !== 'string' || !t.type.startsWith('advisor_')) continue;
    if (typeof t.model !== 'string' || !pricedModel(providerId, t.model)) return `${t.type} (advisor model ${shownValue(t.model)})`;
  }
  return undefined;
}

/**
 * Anthropic's server-side fallbacks (`fallbacks: [{ model }]`) naming a model the catalog does not price, or leaving
 * the model to Anthropic (any other value, such as `"default"`): a refused request is then answered by that model,
 * billed at its rates (its `fallback_message` iteration, priced as meter.ts prices it), which could not be billed here.
 */
function unpricedFallback(fallbacks: unknown, providerId: string): string | undefined {
  if (fallbacks === undefined || fallbacks === null) return undefined;
  if (!Array.isArray(fallbacks)) return `"fallbacks": ${shownValue(fallbacks)} (a model of the provider's choosing)`;
  for (const entry of fallbacks) {
    const model = entry !== null && typeof entry === 'object' ? (entry as { model?: unknown }).model : undefined;
    if (typeof model !== 'string' || !pricedModel(providerId, model)) return `the fallback model ${shownValue(model)}`;
  }
  return undefined;
}

/** The built-in catalog's prices (base URLs play no part in them): the lookup the meter prices iterations with. */
const PRICES = createCatalog();

/** Whether the built-in provider lists `name` (an id, `author/id` or a dated snapshot, any case) with a price. */
function pricedModel(providerId: string, name: string): boolean {
  return PRICES.model(providerId, name)?.priceMicro !== undefined;
}

export function planAttempts(
  candidate: Candidate,
  configuration: ConfigurationState | null,
  account: AccountSnapshot,
  managedKeys: Record<string, string>,
  ask: ManagedAsk = NOTHING_ASKED,
): PlanResult {
  const rule = findRule(candidate, configuration);
  const plan = new Planner(candidate, account, managedKeys, ask);
  if (rule) {
    for (const step of rule.steps) plan.step(step);
  } else {
    plan.accountKeys();
    if (!candidate.provider.custom && candidate.provider.managed) plan.managed();
    // A user-defined provider with no key at all is called without credentials (local Ollama needs none).
    if (candidate.provider.custom && plan.attempts.length === 0) plan.attempts.push({ candidate, keySource: 'user', credential: '' });
  }
  if (plan.attempts.length > 0) return { attempts: plan.attempts };
  return { attempts: [], problem: plan.problem ?? (rule ? emptyRule(candidate, configuration!) : tollgateError('noProviderKeys', { provider: candidate.provider.id })) };
}

/** The rule's configuration is named, as scope refusals name theirs: where a user fixes it. */
function emptyRule(candidate: Candidate, configuration: ConfigurationState): TollgateError {
  return tollgateError('noCredentials', { provider: candidate.provider.id, reason: `the routing rule for it in access key configuration "${configuration.id}" lists no usable keys (deleted keys are skipped).` });
}

class Planner {
  readonly attempts: AttemptPlan[] = [];
  problem: TollgateError | undefined;
  readonly #candidate: Candidate;
  readonly #account: AccountSnapshot;
  readonly #managedKeys: Record<string, string>;
  readonly #ask: ManagedAsk;

  constructor(candidate: Candidate, account: AccountSnapshot, managedKeys: Record<string, string>, ask: ManagedAsk) {
    this.#candidate = candidate;
    this.#account = account;
    this.#managedKeys = managedKeys;
    this.#ask = ask;
  }

  step(step: StoredRouterStep): void {
    if (step.type === 'ngrok') return this.managed();
    for (const ref of step.keys ?? []) {
      const key = this.#account.providerKeys.get(ref.id);
      // Deleted keys are skipped; a key of another provider would leak a secret to the wrong upstream.
      if (key && this.#ownsKey(key)) this.#user(key);
      else if (!key) this.#noteUnreadable(this.#account.unreadableProviderKeys.get(ref.id));
    }
  }

  accountKeys(): void {
    const p = this.#candidate.provider;
    const keys = this.#account.providerKeysByProvider.get(p.id) ?? (p.resourceId ? this.#account.providerKeysByProvider.get(p.resourceId) : undefined) ?? [];
    for (const key of keys) this.#user(key);
    if (keys.length === 0) for (const providerId of this.#account.unreadableProviderKeys.values()) this.#noteUnreadable(providerId);
  }

  /** A stored key of this provider that this process cannot decrypt: the operator's fault, named if nothing is left. */
  #noteUnreadable(providerId: string | undefined): void {
    if (providerId !== undefined && isCandidateProvider(this.#candidate, providerId)) this.#note(tollgateError('providerKeyUnreadable', { provider: this.#candidate.provider.id }));
  }

  managed(): void {
    const c = this.#candidate;
    if (this.#planned(undefined)) return;
    // The model as the provider knows it (bare): the messages name the provider apart, as ngrok's do.
    const named = { model: c.modelId, provider: c.provider.id };
    if (c.provider.custom || !c.provider.managed) return this.#note(tollgateError('managedNotConfigured', { provider: c.provider.id, supported: this.#managedProviders() }));
    const credential = this.#managedKeys[c.provider.id];
    if (!credential) return this.#note(tollgateError('managedKeyUnset', named));
    // Managed credentials bill the account at catalog prices, so the model must be cataloged and priced.
    if (!c.catalogModel) return this.#note(tollgateError('managedUncataloged', named));
    if (!c.catalogModel.pricing) return this.#note(tollgateError('managedUnpriced', named));
    // The answer of a background response is fetched later from the provider (GET /v1/responses/{id}), never
    // through this request: the operator's account would pay for a generation no usage event counts.
    if (this.#ask.background === true) return this.#note(tollgateError('managedBackground', named));
    // What the provider keeps is kept in the operator's account, which every tenant's managed requests share: one
    // tenant could continue another's response by its id. The account's own keys serve it (their account, their state).
    const stored = storedStateField(this.#ask, c.surface.surface);
    if (stored) return this.#note(tollgateError('managedStoredState', { field: stored, provider: c.provider.displayName }));
    const interactions = c.surface.surface === 'interactions';
    if (interactions) {
      const beyond = interactionsBeyondText(this.#ask);
      if (beyond) return this.#note(tollgateError('managedTextOnly', { ...named, what: beyond }));
    }
    const tool = interactions ? interactionsBilledTool(this.#ask.tools) : unpricedHostedTool(this.#ask.tools, c.provider.id, c.catalogModel.priceMicro?.webSearchPico !== undefined) ?? unpricedAdvisor(this.#ask.tools, c.provider.id);
    if (tool) return this.#note(tollgateError('managedHostedTool', { ...named, tool: tool.slice(0, 64) }));
    const premium = unpricedPremium(this.#ask) ?? (c.surface.format === 'anthropic' ? unpricedFallback(this.#ask.fallbacks, c.provider.id) : undefined);
    if (premium) return this.#note(tollgateError('managedPremium', { ...named, option: premium }));
    if (c.catalogModel.inputModalities.includes('audio') && sendsAudio(this.#ask)) return this.#note(tollgateError('managedPremium', { ...named, option: 'audio input' }));
    const allowed = interactions ? MANAGED_INTERACTIONS_TIER : MANAGED_SERVICE_TIER[c.surface.format] ?? 'default';
    // Interactions' under both of Google's names (`serviceTier` too): any one asking for another tier is refused.
    const tier = interactions ? geminiMembers(this.#ask, 'serviceTier').find((t) => t !== allowed) : this.#ask.service_tier;
    if (tier !== undefined && tier !== null && tier !== allowed) {
      const format = interactions ? 'Gemini Interactions' : c.surface.format === 'anthropic' ? 'Anthropic Messages' : 'OpenAI-format';
      return this.#note(tollgateError('managedServiceTier', { tier: typeof tier === 'string' ? tier.slice(0, 64) : JSON.stringify(tier).slice(0, 64), allowed, format }));
    }
    this.attempts.push({ candidate: c, keySource: 'ngrok', credential });
  }

  /**
   * The providers this gateway serves with managed keys, for a message pointing elsewhere ('none' when none): those
   * marked managed that the operator gave a key (a key set for any other provider is never used).
   */
  #managedProviders(): string {
    const ids = builtinProviders.filter((p) => p.managed && this.#managedKeys[p.id]).map((p) => p.id).sort();
    return ids.length > 0 ? ids.join(', ') : 'none';
  }

  /**
   * Whether the plan has this provider key already (undefined: the managed key): each is tried once. A look through the
   * few attempts planned, not a set made for every candidate of every request.
   */
  #planned(keyId: string | undefined): boolean {
    for (const a of this.attempts) if (keyId === undefined ? a.keySource === 'ngrok' : a.providerKey?.id === keyId) return true;
    return false;
  }

  #user(key: ProviderKeyState): void {
    if (this.#planned(key.id)) return;
    this.attempts.push({ candidate: this.#candidate, keySource: 'user', credential: key.value, providerKey: key });
  }

  #ownsKey(key: ProviderKeyState): boolean {
    return isCandidateProvider(this.#candidate, key.providerId);
  }

  /** The first reason a step yielded nothing is the one reported if no attempt is left at all. */
  #note(problem: TollgateError): void {
    this.problem ??= problem;
  }
}
