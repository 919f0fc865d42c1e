// The model-request pipeline (design.md): authenticate → admit → resolve → scope → plan → attempts
// (→ respond → meter inside the attempt loop). Each stage either fills the context or throws a
// TollgateError, which the server writes in the request's wire format.
import { Errors, TollgateError, tollgateError } from '../domain/errors.ts';
import { converseAddress, fallbackNames, refusalError, resolveCandidates, virtualModelNamed, type Candidate, type Untranslatable } from '../domain/resolve.ts';
import { asksForAutoSelection, autoSelectionOrder, AUTO_CANDIDATES, AUTO_MODEL } from '../domain/auto-select.ts';
import { bedrockCountedRequest, continuedThread, converseCountUntranslatableReason, isTranslatedResponseId, untranslatable, withStoredItemsInline } from './translate/index.ts';
import { applyScope, scopeError } from '../domain/scope.ts';
import { planAttempts, type AttemptPlan } from '../domain/routing.ts';
import { inputTokenBounds } from '../domain/token-bounds.ts';
import { countInputTokens } from '../domain/token-counter.ts';
import { containerHoldPico, reservationPico, type AdvisorHold, type CompactionHold } from '../domain/cost.ts';
import { containerTiers } from '../domain/hosted-tools.ts';
import { advisorLimit, compactionTrigger, outputLimit, outputLimitProblem, UNBOUNDED_OUTPUT_TOKENS, webSearchLimit, webSearchTool } from '../domain/params.ts';
import { interactionsProblem, requestShapeProblem } from '../domain/request-shape.ts';
import { geminiCountedRequest } from '../domain/gemini-fields.ts';
import { cutByShutdown, type GatewayDeps, type RequestContext } from './context.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from '../state/types.ts';
import { authenticate } from './authenticate.ts';
import { clientLeft, decodedBody, parseBody, readBody } from './body.ts';
import { repeatedKey } from './body-edit.ts';
import { baseHeaders, H_ATTEMPTS, H_MODEL, headerText } from './headers.ts';
import { writeJson } from './respond.ts';
import { refuseRoutingLoop } from './routing-loop.ts';
import { pathNamesAnyModel } from './routes.ts';
import { runAttempts } from './attempt.ts';
import { firewallFor, screenRequest, takeRequestPlugins } from './firewall/index.ts';
import { answerBlockedRequest } from './firewall/blocked-request.ts';
import { recordExchange } from './request-capture.ts';
import type { Reservation } from '../usage/ledger.ts';

/**
 * Stage 1, shared with GET /v1/models: fills ctx.key/account/configuration or throws 401. Synchronous when the key and
 * its configuration are in memory (the ordinary request): a promise only when the store must be read.
 */
export function authenticateStage(ctx: RequestContext): void | Promise<void> {
  const found = authenticate(ctx.deps.state, ctx.req.headers, ctx.queryKey);
  if (found instanceof Promise) return found.then((key) => admitKey(ctx, key));
  return admitKey(ctx, found);
}

function admitKey(ctx: RequestContext, found: AuthenticatedKey | TollgateError): void | Promise<void> {
  if (found instanceof TollgateError) throw found;
  return keyStage(ctx, found);
}

/** What the stages before resolution read and fill: a model request's context, or a realtime session's. */
export interface Admission {
  readonly deps: GatewayDeps;
  key?: AuthenticatedKey;
  account?: AccountSnapshot;
  configuration?: ConfigurationState | null;
}

/**
 * The authenticated key's account and configuration, or the refusal of a key whose configuration is gone; a promise
 * only when the configuration must be read again.
 */
export function keyStage(ctx: Admission, found: AuthenticatedKey): void | Promise<void> {
  ctx.key = found;
  ctx.account = ctx.deps.state.account(found.accountId);
  ctx.configuration = ctx.deps.state.configuration(found);
  if (found.configurationId !== null && ctx.configuration === null) return configurationOrRefusal(ctx, found);
}

/**
 * A key linked to a configuration this gateway does not know: the account's snapshot may predate the
 * configuration (a new key and configuration made by another process), so it is read once more; still missing
 * fails closed — no configuration means "no restrictions", which a deleted deny-all policy must never become.
 */
async function configurationOrRefusal(ctx: Admission, key: AuthenticatedKey): Promise<void> {
  const read = await ctx.deps.state.reloadAccount(key.accountId, key.configurationId!);
  ctx.account = ctx.deps.state.account(key.accountId);
  ctx.configuration = ctx.deps.state.configuration(key);
  if (ctx.configuration !== null) return;
  // The store could not be read: the key's policy is unknown, not gone — refused as "try again later" (still closed).
  if (!read) throw tollgateError('accessKeysUnavailable');
  throw tollgateError('configurationGone', { id: key.configurationId! });
}

/**
 * Stage 2: credits (billing on; BYOK traffic too) before anything else costs money. `allowance`: what of the open
 * reservations is the caller's own, already admitted, which its further work is not refused for (a realtime session's
 * input audio buffer holds its transcription's output limit from its first append: its next appends are checked on the
 * rest).
 */
export function admitCredit(ctx: Admission, allowance = 0n): void | Promise<void> {
  const available = ctx.deps.ledger?.available(ctx.key!.accountId, ctx.account!);
  if (available instanceof Promise) return available.then((headroom) => admitOrCatchUp(ctx, headroom + allowance, allowance));
  if (available !== undefined && available + allowance <= 0n) return admitOrCatchUp(ctx, available + allowance, allowance);
}

/**
 * No credit on this gateway's figure: a grant another process just committed (the CLI) may not have reached it
 * yet. When a change is pending, the refusal waits for it and the balance it brings; otherwise it stands at once.
 */
function admitOrCatchUp(ctx: Admission, available: bigint, allowance: bigint): void | Promise<void> {
  if (available > 0n) return;
  const accountId = ctx.key!.accountId;
  const arriving = ctx.deps.state.changesArriving(accountId);
  if (!arriving) throw creditRefusal(ctx);
  return arriving.then(() => {
    // The newer snapshot only tells the ledger to read the balance again; this request keeps the one it was authenticated on.
    const again = ctx.deps.ledger!.available(accountId, ctx.deps.state.account(accountId));
    if (again instanceof Promise) return again.then((headroom) => refuseUnlessPositive(ctx, headroom + allowance));
    refuseUnlessPositive(ctx, again + allowance);
  });
}

function refuseUnlessPositive(ctx: Admission, available: bigint): void {
  if (available <= 0n) throw creditRefusal(ctx);
}

/** An empty account, or one whose balance other requests' reservations hold for now. */
function creditRefusal(ctx: Admission): TollgateError {
  const balance = ctx.deps.ledger?.balance(ctx.key!.accountId) ?? 0n;
  return tollgateError(balance > 0n ? 'creditHeldInFlight' : 'outOfCredit');
}

/**
 * Stage 5b (billing on): hold the most this request can cost — the dearest planned attempt at the input
 * estimate and its output limit, with the web searches, advisor consultations, compaction and code interpreter
 * containers it allows — while balance − open
 * reservations is still positive; metering settles it.
 */
function reserveCredit(ctx: RequestContext, attempts: readonly AttemptPlan[]): void | Promise<void> {
  const ledger = ctx.deps.ledger;
  if (!ledger) return;
  // The free bound (bytes plus media bounds, no tokenising) while the balance covers it easily; a tight balance pays for the exact
  // estimate so it is not held back by an inflated reservation.
  const bound = reservationBound(ctx, attempts, inputBound(ctx));
  if (bound <= ledger.headroom(ctx.key!.accountId)) return reserve(ctx, ledger, bound);
  return exactInputTokens(ctx).then((tokens) => reserve(ctx, ledger, reservationBound(ctx, attempts, tokens)));
}

function reserve(ctx: RequestContext, ledger: NonNullable<RequestContext['deps']['ledger']>, bound: bigint): void {
  ctx.reservation = holdCredit(ctx, ledger, bound);
}

/** Holds `pico` of the account's credit while balance − open reservations is positive, else the credit refusal. */
export function holdCredit(ctx: Admission, ledger: NonNullable<GatewayDeps['ledger']>, pico: bigint): Reservation {
  const reservation = ledger.reserve(ctx.key!.accountId, pico);
  if (!reservation) throw creditRefusal(ctx);
  return reservation;
}

/** The free bound on the input (its media walked once per body: the input cap and the hold both read it). */
const inputBounds = new WeakMap<Buffer, { bound: number; referenced: number }>();
function inputBoundParts(ctx: RequestContext): { bound: number; referenced: number } {
  let bounds = inputBounds.get(ctx.rawBody!);
  if (bounds === undefined) inputBounds.set(ctx.rawBody!, bounds = inputTokenBounds(ctx.rawBody!, ctx.body));
  return bounds;
}
function inputBound(ctx: RequestContext): number {
  return inputBoundParts(ctx).bound;
}

/** The tokenizer's estimate of the request's input, counted once per request (off the event loop). */
async function exactInputTokens(ctx: RequestContext): Promise<number> {
  return (ctx.inputEstimate ??= await countInputTokens(ctx.rawBody!, ctx.route.surface));
}

function reservationBound(ctx: RequestContext, attempts: readonly AttemptPlan[], inputTokens: number): bigint {
  const fee = ctx.deps.options.processingFeeMicroUsdPerMtok;
  // Attempts are sent from now until the total timeout at the latest (an hour-priced model bills the hour sent).
  const now = Date.now();
  const last = now + ctx.account!.settings.totalTimeoutMs;
  let bound = 0n;
  // Searches that may run on OpenAI's dearer `web_search_preview` tool are held at its price; the tools are read
  // for it only when some attempt may search.
  let previewSearches: boolean | undefined;
  for (const a of attempts) {
    const searches = webSearchLimit(ctx.body!, a, ctx.route.surface);
    // Some web search tool is offered when searches > 0: the preview one, alone or beside `web_search`, or not.
    if (searches > 0) previewSearches ??= webSearchTool(ctx.body!) !== 'standard';
    // A session for each container its code interpreter and hosted shell tools may create (OpenAI's; one a tool).
    let pico = containerHoldPico(containerTiers(ctx.body!, a.candidate.surface.surface, ctx.route.surface), a);
    for (const run of [a, ...fallbackRuns(ctx, a)]) {
      pico += reservationPico(inputTokens, outputLimit(ctx.body!, run, ctx.account!.settings, ctx.route.surface), run, fee, searches, now, last, previewSearches, advisorHold(ctx, run), compactionHold(ctx, run));
    }
    if (pico > bound) bound = pico;
  }
  return bound;
}

/**
 * Anthropic's server-side fallbacks: a request the model refuses is run again on each named model in turn, billed at
 * that model's prices (`fallback_message`), so each is held as an attempt of its own (on the managed key every one is
 * a model the catalog prices, routing.ts; on the account's own key only the fee on its tokens is held).
 */
function fallbackRuns(ctx: RequestContext, a: AttemptPlan): AttemptPlan[] {
  const fallbacks = ctx.body!.fallbacks;
  if (!Array.isArray(fallbacks) || a.candidate.surface.format !== 'anthropic' || a.candidate.surface.surface !== ctx.route.surface) return [];
  const runs: AttemptPlan[] = [];
  for (const entry of fallbacks) {
    const name = entry !== null && typeof entry === 'object' ? (entry as { model?: unknown }).model : undefined;
    if (typeof name !== 'string') continue;
    const model = ctx.deps.catalog.model(a.candidate.provider.id, name);
    runs.push({ ...a, candidate: { ...a.candidate, modelId: model?.id ?? name, catalogModel: model } });
  }
  return runs;
}

/**
 * The advisor consultations an attempt may run, each at the advisor model's catalog price (a managed request naming
 * one the catalog cannot price is refused, routing.ts) and up to its output limit: the tool's, else the model's.
 */
function advisorHold(ctx: RequestContext, a: AttemptPlan): AdvisorHold | undefined {
  const limit = advisorLimit(ctx.body!, a, ctx.route.surface);
  if (!limit) return undefined;
  const model = ctx.deps.catalog.model(a.candidate.provider.id, limit.model);
  return { calls: limit.calls, outputTokens: limit.outputTokens ?? model?.maxOutputTokens ?? UNBOUNDED_OUTPUT_TOKENS, price: model?.priceMicro };
}

/**
 * The compaction an attempt may run (Anthropic's; billed as an iteration at the request's model, cost.ts): a summary
 * up to the model's maximum output, of a transcript up to its context window (a model the catalog does not know: a
 * summary of 16,384 tokens, no window).
 */
function compactionHold(ctx: RequestContext, a: AttemptPlan): CompactionHold | undefined {
  const trigger = compactionTrigger(ctx.body!, a, ctx.route.surface);
  if (trigger === undefined) return undefined;
  const model = a.candidate.catalogModel;
  return { trigger, outputTokens: model?.maxOutputTokens ?? UNBOUNDED_OUTPUT_TOKENS, contextWindow: model?.contextWindow };
}

/** Stage 2b: account token cap on the estimated input, before any upstream call. */
function admitInput(ctx: RequestContext): void | Promise<void> {
  const max = ctx.account!.settings.maxInputTokens;
  if (max === null || max <= 0) return;
  // Media sent by reference count for nothing here: their size is the provider's to learn (token-bounds.ts).
  const { bound, referenced } = inputBoundParts(ctx);
  if (bound - referenced <= max) return;
  return exactInputTokens(ctx).then((estimate) => {
    const tokens = estimate - referenced;
    if (tokens > max) throw tollgateError('inputTooLarge', { tokens: String(tokens), max: String(max) });
  });
}

/**
 * A Responses request referring to output this gateway kept (its translated answers, translate/stored-items.ts)
 * becomes the request with that output written out, once, before anything measures it: the input cap and the
 * credit hold see what the model will read, any candidate is sent the same turns (a model serving Responses
 * never saw those ids), and an item evicted later cannot drop a turn mid-request.
 */
function inlineStoredItems(ctx: RequestContext): void {
  const inlined = withStoredItemsInline(ctx.body!, ctx.key!.accountId);
  if (!inlined) return;
  ctx.body = inlined;
  ctx.rawBody = Buffer.from(JSON.stringify(inlined));
}

/**
 * Stages 3–4: ordered candidates serving the request's surface, filtered by the key's scope. `model` null: the
 * `models` alone (automatic selection's fallbacks; undefined would take the body's `model` again). A Gemini call's
 * model is the one its path names: its body has no `model` or `models`.
 */
function scopedCandidates(ctx: RequestContext, model: unknown = ctx.pathModel ?? ctx.body!.model, models: unknown = ctx.pathModel === undefined ? ctx.body!.models : undefined): Candidate[] {
  const { deps, body, account, configuration } = ctx;
  const skipped: string[] = [];
  // untranslatable is asked only when a candidate would be translated (it walks the input); it reads the path's model
  // too (Gemini's embeddings: every request of a batch must name it).
  const pathModel = ctx.pathModel;
  const refusal: typeof untranslatable = pathModel === undefined ? untranslatable : (surface, request, target, model) => untranslatable(surface, request, target, model, pathModel);
  const candidates = resolveCandidates({ model, models, format: ctx.route.format, surface: ctx.route.surface, untranslatable: refusal, body: body! }, deps.catalog, account!, skipped);
  const access = configuration?.access ?? null;
  const { allowed, rejected } = applyScope(candidates, access);
  // Skipped candidates, whether resolution (unknown, or not on this surface) or the key's scope ruled them out
  // (gateway.md §9).
  if (rejected.length > 0 || skipped.length > 0) ctx.rejectedModels = headerText([...skipped, ...rejected.map((c) => c.requested)].join(', '));
  if (allowed.length === 0) throw scopeError(rejected, access, configuration?.id);
  return allowed;
}

/**
 * Stages 3–4 for `ngrok/auto` (or no model on chat, Responses, Messages): the models of the prompt's price band
 * that this key may use and has credentials for, cheapest first (auto-select.ts), one a provider, then the request's
 * `models` fallbacks. Models automatic selection passed over are not "rejected": the client named none of them.
 * `virtualModel`: the virtual model whose only target is `ngrok/auto`, when the request named one (usage records it).
 */
function autoCandidates(ctx: RequestContext, virtualModel?: string): Candidate[] {
  const { deps, body } = ctx;
  const surface = ctx.route.surface;
  // Checked first: a malformed fallback list is the client's mistake, automatic selection or not.
  const fallbacks = fallbackNames(body!.models);
  const { addresses } = autoSelectionOrder(deps.catalog, body!, surface);
  let resolved = resolveQuietly(ctx, addresses, untranslatable);
  // On Responses, models serving it natively first: their responses can be continued (`previous_response_id`),
  // a translated one cannot.
  if (surface === 'responses') resolved = [...resolved.filter((c) => c.surface.surface === surface), ...resolved.filter((c) => c.surface.surface !== surface)];
  const picked = usableAuto(ctx, resolved);
  if (virtualModel !== undefined) for (let i = 0; i < picked.length; i++) picked[i] = { ...picked[i]!, virtualModel };
  if (fallbacks.length > 0) {
    const seen = new Set(picked.map((c) => `${c.provider.id}\u0000${c.modelId.toLowerCase()}`));
    const more = picked.length > 0 ? tryScoped(ctx, fallbacks) : scopedCandidates(ctx, null, fallbacks);
    for (const c of more) if (!seen.has(`${c.provider.id}\u0000${c.modelId.toLowerCase()}`)) picked.push(c);
  }
  if (picked.length === 0) {
    const refused = sharedRefusal(ctx, usableAuto(ctx, resolveQuietly(ctx, addresses, undefined)));
    if (refused) throw refused;
    throw tollgateError('badRequestBody', { reason: 'automatic model selection ("ngrok/auto", or no "model") found no catalogued model this access key may use and has a provider key or managed credentials for, that takes this request (its images or files, its length): name a model, or add a provider key.' });
  }
  return picked;
}

/**
 * The refusal every model automatic selection could use gets when each would be translated and `untranslatable`
 * refuses each for the same reason: the answer a named model gets. A thread continued with only translated models
 * to take it: 404 thread_not_found, on which the Anthropic SDK replays the whole conversation (which automatic
 * selection then serves); two tools of one name: their 400. "Found no model … add a provider key" would send the
 * client after credentials it has. Undefined when there is no such model, or when the reasons differ.
 */
function sharedRefusal(ctx: RequestContext, usable: readonly Candidate[]): TollgateError | undefined {
  const surface = ctx.route.surface;
  let shared: Untranslatable | undefined;
  for (const candidate of usable) {
    const reason = candidate.surface.surface === surface ? undefined : untranslatable(surface, ctx.body!, candidate.surface.surface, candidate.catalogModel);
    if (reason === undefined || (shared !== undefined && JSON.stringify(reason) !== JSON.stringify(shared))) return undefined;
    shared = reason;
  }
  return shared === undefined ? undefined : refusalError(usable[0]!, surface, shared);
}

/** Automatic selection's models resolved for the request; none when none can take it (it is not the client's error). */
function resolveQuietly(ctx: RequestContext, addresses: readonly string[], refusal: typeof untranslatable | undefined): Candidate[] {
  if (addresses.length === 0) return [];
  try {
    return resolveCandidates({ model: undefined, models: addresses, format: ctx.route.format, surface: ctx.route.surface, untranslatable: refusal, body: ctx.body! }, ctx.deps.catalog, ctx.account!, []);
  } catch (error) {
    if (!(error instanceof TollgateError)) throw error;
    return [];
  }
}

/**
 * Of automatic selection's resolved models, those the key may use and has credentials for, in order, at most
 * AUTO_CANDIDATES: one model a provider, as failing over to the next-cheapest model of a provider that just failed
 * rarely helps.
 */
function usableAuto(ctx: RequestContext, resolved: readonly Candidate[]): Candidate[] {
  const { deps, body, account, configuration } = ctx;
  const picked: Candidate[] = [];
  const providers = new Set<string>();
  for (const candidate of applyScope([...resolved], configuration?.access ?? null).allowed) {
    if (picked.length === AUTO_CANDIDATES) break;
    if (providers.has(candidate.provider.id)) continue;
    const translated = candidate.surface.surface !== ctx.route.surface;
    if (planAttempts(candidate, configuration ?? null, account!, deps.options.managedKeys, translated ? undefined : body!).attempts.length > 0) {
      picked.push(candidate);
      providers.add(candidate.provider.id);
    }
  }
  return picked;
}

/**
 * The scoped candidates of `models` fallbacks after automatic selection found some: theirs is not the request's
 * error, but every one that cannot serve is named in Ngrok-AIG-Rejected-Models, as any skipped fallback is.
 */
function tryScoped(ctx: RequestContext, models: readonly string[]): Candidate[] {
  try {
    return scopedCandidates(ctx, null, models);
  } catch (error) {
    if (!(error instanceof TollgateError)) throw error;
    ctx.rejectedModels = headerText(models.join(', '));
    return [];
  }
}

/**
 * Token counting for a model only translation reaches (a GPT model asked through the Anthropic SDK, whose other
 * calls are translated; Claude Code counts before long requests; or through Gemini's `:countTokens` or Bedrock's
 * CountTokens): no provider counts the client's format for it, so the gateway answers with its own tokenizer's count
 * (o200k, GPT's own) in the client's shape (`input_tokens`, Google's `totalTokens`, Bedrock's `inputTokens`) rather than refuse the one call of the conversation it
 * cannot translate. Nothing is sent upstream, so nothing is metered. False when the model is not reachable so
 * either, or the key may not use it: the original refusal stands. A thread continued (Anthropic's message threads)
 * gets what `/v1/messages` answers for that model, 404 `thread_not_found`: the thread's turns are held by Anthropic,
 * so a count of the new messages alone would understate the prompt the model would read.
 */
async function countedHere(ctx: RequestContext): Promise<boolean> {
  const { deps, body, account, configuration } = ctx;
  const format = ctx.route.format;
  // Gemini's count reads a whole `generateContentRequest` when one is given (gemini-fields.ts), as Google does;
  // Bedrock's, the Converse request (or InvokeModel body) in its `input`.
  const bedrock = format === 'bedrock' ? bedrockCountedRequest(body!) : undefined;
  const counted = format === 'gemini' ? geminiCountedRequest(body!) : bedrock ? bedrock.request : body!;
  const thread = format === 'anthropic' ? continuedThread(body!) : undefined;
  let candidates: Candidate[];
  try {
    // A continued thread is refused by `untranslatable`: resolved without it, to find the model it was asked of.
    const generation = format === 'gemini' ? { model: ctx.pathModel, models: undefined, format, surface: 'generate-content' } as const
      : format === 'bedrock' ? { model: ctx.pathModel, models: undefined, format, surface: 'converse' } as const
        : { model: body!.model, models: body!.models, format: 'anthropic', surface: 'messages' } as const;
    candidates = resolveCandidates({ ...generation, untranslatable: thread === undefined ? untranslatable : undefined, body: counted }, deps.catalog, account!);
  } catch (error) {
    // A body no model could take (nested too deeply, a member of the wrong type: translate/client-types.ts) is
    // refused for what it is, not as a surface the model lacks.
    if (error instanceof TollgateError && (error.spec === Errors.badRequestBody || error.spec === Errors.invalidRequest)) throw error;
    return false;
  }
  // Claude on Bedrock too, for a Messages or Gemini client: Bedrock's CountTokens is its AWS SDK clients' (gateway-behaviour.md).
  const served = applyScope(candidates, configuration?.access ?? null).allowed.find((c) => c.surface.surface === 'chat-completions' || c.surface.format === 'bedrock');
  if (!served) return false;
  if (thread !== undefined) throw tollgateError('threadNotHeld', { provider: served.provider.id, model: served.modelId, surface: ctx.route.surface, id: thread });
  // An InvokeModel body that is not Claude's has nothing here to count (bedrockCountedRequest finds no messages): its
  // count would be of an empty request. Refused as Claude at Anthropic refuses it.
  const unread = format === 'bedrock' ? converseCountUntranslatableReason(body!) : undefined;
  if (unread !== undefined) throw refusalError(served, ctx.route.surface, unread);
  const tokens = format === 'anthropic' ? await countInputTokens(ctx.rawBody!, 'count-tokens')
    : await countInputTokens(Buffer.from(JSON.stringify(counted)), bedrock?.surface ?? 'generate-content');
  if (ctx.clientGone || ctx.res.headersSent) return true;
  const headers = baseHeaders(ctx.requestId);
  headers[H_ATTEMPTS] = '0';
  headers[H_MODEL] = headerText(served.modelId);
  // The request id where each SDK reads it (the AWS SDK's `$metadata.requestId`).
  if (format === 'anthropic') headers['request-id'] = ctx.requestId;
  if (format === 'bedrock') headers['x-amzn-requestid'] = ctx.requestId;
  const answer = format === 'gemini' ? { totalTokens: tokens } : format === 'bedrock' ? { inputTokens: tokens } : { input_tokens: tokens };
  writeJson(ctx.res, 200, headers, JSON.stringify(answer));
  ctx.endedAt = performance.now();
  deps.observer?.answered(ctx);
  return true;
}

/** The name of the virtual model `model` names when its only target is `ngrok/auto`: the request asks for automatic selection. */
function autoVirtualModel(ctx: RequestContext): string | undefined {
  const virtual = virtualModelNamed(ctx.account!, ctx.body!.model);
  return virtual?.targets.length === 1 && virtual.targets[0]!.toLowerCase() === AUTO_MODEL ? virtual.name : undefined;
}

/** Stage 5: routing plans → the attempts to make. */
function planAll(ctx: RequestContext, allowed: readonly Candidate[]): readonly AttemptPlan[] {
  const { deps, account, configuration } = ctx;
  // One candidate (the usual request): its plan's own array, not a copy.
  let attempts: AttemptPlan[] | undefined;
  // Token counting bills nothing (meter.ts): no parameter of it needs the managed key's checks.
  const counting = ctx.route.surface === 'count-tokens';
  let problem: TollgateError | undefined;
  let unserved: string[] | undefined;
  for (const candidate of allowed) {
    // A translated candidate is sent none of the fields the checks read (service tiers, hosted tools, premiums):
    // translation removes them all.
    const translated = candidate.surface.surface !== ctx.route.surface;
    const plan = planAttempts(candidate, configuration ?? null, account!, deps.options.managedKeys, counting || translated ? undefined : ctx.body!);
    if (allowed.length === 1) attempts = plan.attempts;
    else for (const a of plan.attempts) (attempts ??= []).push(a);
    if (plan.attempts.length === 0) (unserved ??= []).push(candidate.requested);
    problem ??= plan.problem;
  }
  if (attempts === undefined || attempts.length === 0) throw problem ?? tollgateError('noProviderKeys', { provider: allowed[0]!.provider.id });
  // A candidate no credential can serve (no key for its provider, or an uncatalogued model on the managed key)
  // is skipped like one the scope refused: the client learns why its fallback answered instead.
  if (unserved) ctx.rejectedModels = headerText(ctx.rejectedModels ? `${ctx.rejectedModels}, ${unserved.join(', ')}` : unserved.join(', '));
  return attempts;
}

export async function handleModelRequest(ctx: RequestContext): Promise<void> {
  const authenticated = authenticateStage(ctx);
  if (authenticated) await authenticated;
  if (ctx.account!.settings.requestCapture) recordExchange(ctx);
  refuseRoutingLoop(ctx.req.headers, ctx.deps.options.loopId);
  const admitted = admitCredit(ctx);
  if (admitted) await admitted;
  const limit = ctx.deps.options.maxBodyBytes;
  let received = decodedBody(ctx.req, await readBody(ctx.req, limit), limit);
  if (received instanceof Promise) {
    received = await received;
    // Decoding waited on zlib's pool: a client that left meanwhile is not worth the admission work.
    if (ctx.clientGone) throw clientLeft();
  }
  ctx.recording?.request.push(received);
  const request = parseBody(received);
  ctx.rawBody = request.raw;
  ctx.body = request.body;
  const malformed = requestShapeProblem(ctx.body, ctx.route.surface, ctx.account!.settings.maxOutputTokens, ctx.route.format) ?? outputLimitProblem(ctx.body, ctx.route.surface);
  if (malformed) throw tollgateError('badRequestBody', { reason: malformed });
  takeRequestPlugins(ctx);
  if (ctx.route.surface === 'interactions') {
    // Google's parser might keep the first of a repeated key where the checks here read the last: the managed key's
    // text-only rule reads inside `input`, which goes upstream as written.
    const twice = repeatedKey(ctx.rawBody.toString('utf8'));
    if (twice !== undefined) throw tollgateError('invalidRequest', { reason: `the key "${twice.slice(0, 64)}" is given twice in one object: Google could read the value this gateway did not check. Send it once.` });
    const unserved = interactionsProblem(ctx.body);
    if (unserved) throw tollgateError('invalidRequest', { reason: unserved });
  }
  if (ctx.route.surface === 'responses') {
    // A response this gateway translated lives nowhere: no model could continue it, OpenAI's least of all.
    if (isTranslatedResponseId(ctx.body.previous_response_id)) throw tollgateError('invalidRequest', { reason: `"previous_response_id" names a response this gateway translated from another model's answer ("${String(ctx.body.previous_response_id)}"): no provider holds it. Send the whole conversation instead (its output items may be sent back as item_reference).` });
    inlineStoredItems(ctx);
  }
  // A Converse call's path (or CountTokens') may name another provider's model (`gpt-4o`), then served by translation.
  if (ctx.route.format === 'bedrock' && pathNamesAnyModel(ctx.route.surface) && ctx.pathModel !== undefined) ctx.pathModel = converseAddress(ctx.pathModel, ctx.deps.catalog, ctx.account!);
  const counting = ctx.route.surface === 'count-tokens';
  let allowed: Candidate[];
  try {
    const autoVirtual = ctx.pathModel !== undefined || counting ? undefined : autoVirtualModel(ctx);
    allowed = autoVirtual !== undefined ? autoCandidates(ctx, autoVirtual)
      : ctx.pathModel === undefined && asksForAutoSelection(ctx.body, ctx.route.surface) ? autoCandidates(ctx) : scopedCandidates(ctx);
  } catch (error) {
    // What a model no counting reaches is refused with: Messages' "the provider lacks this surface", Gemini's 3813.
    const uncounted = ctx.route.format === 'gemini' ? Errors.noCompatibleModels.code : Errors.providerLacksSurface.code;
    if (counting && error instanceof TollgateError && error.code === uncounted && await countedHere(ctx)) return;
    throw error;
  }
  // Counting tokens is how a client learns whether a prompt fits, and it is never billed (meter.ts): the input
  // cap does not refuse it, and nothing is held (nor tokenised to size a hold) once the balance admitted it.
  const admittedInput = counting ? undefined : admitInput(ctx);
  if (admittedInput) {
    await admittedInput;
    // The cap's count waited on the tokenizer: a client that left meanwhile left a request not yet admitted (no event,
    // as for one that left while its body was read or decoded), and is not worth judging, holding or sending for.
    if (ctx.clientGone) throw clientLeft();
  }
  const attempts = planAll(ctx, allowed);
  // Firewall's request rules, once the request would be served (its refusals come first): a block is answered here,
  // never sent, so nothing is held or billed (a zero-cost usage event records the verdict).
  ctx.firewall = firewallFor(ctx);
  if (ctx.firewall) {
    // Decision rules wait on the decision model; other rules answer at once.
    let blocked = screenRequest(ctx, ctx.firewall);
    if (blocked instanceof Promise) blocked = await blocked;
    if (blocked) {
      answerBlockedRequest(ctx, blocked, attempts[0]!);
      return;
    }
  }
  // The shutdown grace period ran out before any attempt (mostly while the rules were judged: no verdict then,
  // firewall/index.ts): the client has its 503 ("retry"). Or the client left while they were judged (no verdict
  // either). Nothing will be sent, so nothing is held; the attempt loop records the request's first attempt, never
  // sent, as one the stop cut, or its client left, while it was being noted: the request admitted and judged is in usage.
  const reserved = counting || cutByShutdown(ctx) || ctx.clientGone ? undefined : reserveCredit(ctx, attempts);
  if (reserved) await reserved;
  try {
    await runAttempts(ctx, attempts);
  } catch (error) {
    // Metering (which settles) never ran: give the held credit back.
    ctx.deps.ledger?.release(ctx.reservation);
    throw error;
  }
}
