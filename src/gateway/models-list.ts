// GET /v1/models and GET /v1/models/{id} on the gateway (and Gemini's GET /v1beta/models): the models this access key may use and the
// client's API reaches — the account's virtual models, the catalog and the account's user-defined providers, filtered by the key's
// access scope and by what a request of the client's API can call — under the control plane's list ids
// (full catalog ids `author/name`, `provider:model` for user-defined providers; both are model addresses the gateway
// accepts), in the shape of the client's SDK (models-wire.ts).
import type { Catalog } from '../catalog/index.ts';
import type { ApiFormat, ApiSurface, CatalogProvider } from '../catalog/types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { customProvider, resolveListedModel, servesSurface, virtualModelNamed, type Candidate, type ResolvedProvider } from '../domain/resolve.ts';
import { AUTO_MODEL } from '../domain/auto-select.ts';
import { applyScope } from '../domain/scope.ts';
import { suggestName } from '../domain/suggest.ts';
import type { AccessScope, AccountSnapshot, VirtualModelState } from '../state/types.ts';
import type { RequestContext } from './context.ts';
import { baseHeaders, H_ATTEMPTS } from './headers.ts';
import { geminiMethods, MODEL_ANSWERS, modelAddress, modelId } from './models-wire.ts';
import { authenticateStage } from './pipeline.ts';
import { writeJson } from './respond.ts';
import { GEMINI_MODELS_PREFIX, MODEL_PATH_PREFIX } from './routes.ts';

const catalogCandidates = new WeakMap<Catalog, Candidate[]>();

function resolvedBuiltin(p: CatalogProvider): ResolvedProvider {
  return { id: p.id, displayName: p.displayName, baseUrl: p.baseUrl, auth: p.auth, surfaces: p.surfaces, managed: p.managed, custom: false };
}

/** Every catalog model as a scope-checkable candidate; built once per catalog. */
function candidatesOf(catalog: Catalog): Candidate[] {
  let list = catalogCandidates.get(catalog);
  if (!list) {
    list = [];
    for (const p of catalog.providers) {
      const provider = resolvedBuiltin(p);
      for (const m of p.models) {
        list.push({ requested: `${p.id}:${m.id}`, provider, modelId: m.id, displayName: m.displayName, catalogModel: m, surface: p.surfaces[0]! });
      }
    }
    catalogCandidates.set(catalog, list);
  }
  return list;
}

/** Which models an API's list holds: those a request of that API reaches (reachedBy). */
type Reaches = (c: Candidate) => boolean;

/** The models the key may use: the account's virtual models, the catalog, then the account's own providers' declared models. */
export function visibleModels(catalog: Catalog, account: AccountSnapshot, access: AccessScope | null, reaches: Reaches): Candidate[] {
  return [...visibleVirtualModels(catalog, account, access, reaches), ...visibleRealModels(catalog, account, access).filter(reaches)];
}

/**
 * A virtual model as the list shows it, when the key may use one of its targets (a request naming it would be served
 * by that one; the others are skipped): the first such target, under the virtual model's name. One standing for
 * `ngrok/auto` is shown while the key may use any listed model. A target the list does not show itself (a built-in
 * provider's uncatalogued model) does not make its virtual model shown. `reaches`: on Gemini's list, a target its
 * methods do not reach (a realtime model) is skipped as a request skips it, so a virtual model that goes on to one
 * they do is listed, as that one.
 */
function virtualEntry(virtual: VirtualModelState, catalog: Catalog, account: AccountSnapshot, access: AccessScope | null, real: () => readonly Candidate[], reaches: Reaches): Candidate | undefined {
  for (const target of virtual.targets) {
    const served = target.toLowerCase() === AUTO_MODEL ? real()[0] : resolveListedModel(target, catalog, account);
    if (served && reaches(served) && applyScope([served], access).allowed.length === 1) return { ...served, displayName: virtual.name, virtualModel: virtual.name };
  }
  return undefined;
}

function visibleVirtualModels(catalog: Catalog, account: AccountSnapshot, access: AccessScope | null, reaches: Reaches): Candidate[] {
  if (account.virtualModels.size === 0) return [];
  let real: Candidate[] | undefined;
  const lazyReal = () => (real ??= visibleRealModels(catalog, account, access).filter(reaches));
  return [...account.virtualModels.values()].flatMap((v) => virtualEntry(v, catalog, account, access, lazyReal, reaches) ?? []);
}

function visibleRealModels(catalog: Catalog, account: AccountSnapshot, access: AccessScope | null): Candidate[] {
  const all = candidatesOf(catalog).slice();
  for (const custom of account.customProviders.values()) {
    const provider = customProvider(custom);
    for (const modelId of custom.models) {
      all.push({ requested: `${provider.id}:${modelId}`, provider, modelId, displayName: modelId, surface: provider.surfaces[0]! });
    }
  }
  return applyScope(all, access).allowed;
}

/**
 * The model `requested` names, when the key may use it: any name a request could use for a listed model (a
 * listed id, a bare or `author/` name, a dated snapshot), answered under its listed id — as Anthropic
 * answers an alias with the model it stands for. Anything else is not found, whether it does not exist or the
 * key's scope refuses it: the list does not show it either.
 */
function findModel(requested: string, catalog: Catalog, account: AccountSnapshot, access: AccessScope | null, reaches: Reaches): Candidate {
  const virtual = virtualModelNamed(account, requested);
  const listed = virtual && virtualEntry(virtual, catalog, account, access, () => visibleRealModels(catalog, account, access).filter(reaches), reaches);
  if (listed) return listed;
  const found = virtual ? undefined : resolveListedModel(requested, catalog, account);
  // Another API's model is no model of Gemini's: not found, as Google answers a name it does not serve.
  if (found && reaches(found) && applyScope([found], access).allowed.length === 1) return found;
  // Suggested in the form asked: a bare name among bare names (`gpt-4oo` is 7 edits from `openai/gpt-4o`).
  const form = requested.includes(':') ? modelAddress : requested.includes('/') ? modelId : (c: Candidate) => c.modelId;
  const best = suggestName(requested, visibleModels(catalog, account, access, reaches).map(form));
  // 27224 is the gateway's "unknown model", answered 404 here: the SDKs raise their NotFoundError.
  throw new TollgateError(Errors.unknownModel, { model: requested, suggestion: best ? ` Did you mean "${best}"?` : '' }, 404);
}

/** The id of `/v1/models/{id}` (or `/v1beta/models/{model}`): percent-decoded (SDKs encode a custom model's `/`); kept raw when not decodable. */
function requestedId(path: string, prefix: string): string {
  const raw = path.slice(prefix.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * A model Gemini's API serves: a Google model, or one its methods reach by translation — generateContent a chat model
 * or Claude, embedContent an OpenAI-format embedding model (models-wire.ts geminiMethods).
 */
const speaksGemini = (c: Candidate): boolean => geminiMethods(c).length > 0;

/**
 * The surfaces an OpenAI or Anthropic client calls (routes.ts; Anthropic's token counting rides on Messages, OpenAI's
 * realtime is GET /v1/realtime): a model its list shows is one a request on one of them reaches, natively or by
 * translation (docs/decisions/gateway-behaviour.md, "GET /v1/models, /v1/models/{id}").
 */
const CLIENT_SURFACES: Readonly<Record<'openai' | 'anthropic', readonly ApiSurface[]>> = {
  openai: ['chat-completions', 'responses', 'completions', 'embeddings', 'realtime'],
  anthropic: ['messages'],
};

/**
 * Which models the list of a client of `format` holds: those a request of its API reaches. A speech-to-text model
 * priced for realtime transcription is reached by none; an embedding or realtime model is no model of Anthropic's.
 */
export function reachedBy(format: ApiFormat): Reaches {
  if (format === 'gemini') return speaksGemini;
  const client = format === 'anthropic' ? 'anthropic' : 'openai';
  const surfaces = CLIENT_SURFACES[client];
  return (c) => surfaces.some((surface) => servesSurface(c, client, surface));
}

/**
 * GET/HEAD /v1/models (`query`: the Anthropic page parameters) or /v1/models/{id}, in the route's format; Gemini's
 * /v1beta/models (`query`: its pageSize and pageToken) and /v1beta/models/{model}, of the models Gemini's API serves.
 */
export async function modelsStage(ctx: RequestContext, path: string, query: string): Promise<void> {
  await authenticateStage(ctx);
  const { catalog } = ctx.deps;
  const account = ctx.account!;
  const access = ctx.configuration?.access ?? null;
  const answers = MODEL_ANSWERS[ctx.route.format];
  const reaches = reachedBy(ctx.route.format);
  const prefix = ctx.route.format === 'gemini' ? GEMINI_MODELS_PREFIX : MODEL_PATH_PREFIX;
  const body = path.startsWith(prefix)
    ? answers.one(findModel(requestedId(path, prefix), catalog, account, access, reaches))
    : answers.list(visibleModels(catalog, account, access, reaches), new URLSearchParams(query));
  const headers = baseHeaders(ctx.requestId);
  // ngrok: "Every response through ngrok.ai includes the Ngrok-AIG-Attempts header"; a list is answered from the
  // catalog, with no upstream attempt.
  headers[H_ATTEMPTS] = '0';
  writeJson(ctx.res, 200, headers, body);
  ctx.deps.observer?.answered(ctx);
}
