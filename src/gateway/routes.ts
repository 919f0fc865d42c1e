// Path → API format and surface (gateway.md §3). The path decides the client's format; a model that does not serve
// it may still be reached by translation (translate/, docs/decisions/translation.md).
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiSurface } from '../catalog/types.ts';
import type { SurfaceRoute } from './context.ts';

export const SURFACE_ROUTES: ReadonlyMap<string, SurfaceRoute> = new Map([
  ['/v1/chat/completions', { format: 'openai', surface: 'chat-completions' }],
  ['/v1/responses', { format: 'openai', surface: 'responses' }],
  ['/v1/completions', { format: 'openai', surface: 'completions' }],
  ['/v1/embeddings', { format: 'openai', surface: 'embeddings' }],
  ['/v1/messages', { format: 'anthropic', surface: 'messages' }],
  // Anthropic's token counting, passed through like Messages and never billed (meter.ts).
  ['/v1/messages/count_tokens', { format: 'anthropic', surface: 'count-tokens' }],
  // Gemini's Interactions API (Google's Gen AI SDK's `interactions.create`), served statelessly: the model in the body.
  ['/v1beta/interactions', { format: 'gemini', surface: 'interactions' }],
]);

/** For errors on paths that are not routes: Anthropic-looking paths get Anthropic-shaped errors (Gemini's, below). */
export const OPENAI_ROUTE: SurfaceRoute = { format: 'openai', surface: 'chat-completions' };
export const ANTHROPIC_ROUTE: SurfaceRoute = { format: 'anthropic', surface: 'messages' };
/**
 * GET /v1/models and /v1/models/{id}, per client: answers and errors in the OpenAI shape, or in Anthropic's for an
 * Anthropic client (models-list.ts). Objects of their own so observation can tell them apart (surface `models`).
 */
export const MODELS_ROUTE: SurfaceRoute = { format: 'openai', surface: 'chat-completions' };
export const ANTHROPIC_MODELS_ROUTE: SurfaceRoute = { format: 'anthropic', surface: 'messages' };

/** The Anthropic SDK sends `anthropic-version` on every call, the OpenAI SDK never: that header picks the shape. */
export function modelsRouteFor(headers: IncomingHttpHeaders): SurfaceRoute {
  return headers['anthropic-version'] !== undefined ? ANTHROPIC_MODELS_ROUTE : MODELS_ROUTE;
}

export const MODELS_PATH = '/v1/models';
/** `/v1/models/{id}`: the id is the rest of the path, percent-decoded (ids hold `:` and may hold `/`). */
export const MODEL_PATH_PREFIX = '/v1/models/';

/**
 * The error shape for a request that reached no route. An Anthropic SDK call to a path this gateway does not
 * serve (`beta.files`, `beta.skills`, a base URL with `/v1` once too often) sends `anthropic-version` like every
 * call it makes, and its `err.type` is read from Anthropic's shape (`not_found_error`, not OpenAI's
 * `invalid_request_error`).
 */
export function errorRouteFor(path: string, headers: IncomingHttpHeaders): SurfaceRoute {
  // The AWS SDK's Bedrock Runtime paths: errors it reads (`x-amzn-errortype`), an operation this gateway lacks included.
  if (path.startsWith(BEDROCK_MODEL_PREFIX)) return BEDROCK_ROUTE;
  // Google's Gen AI SDK calls `/v1beta/…` with its key in `x-goog-api-key`, and reads Google's error shape.
  if (path.startsWith('/v1beta/') || headers['x-goog-api-key'] !== undefined) return GEMINI_ROUTE;
  // `/v1/v1/messages` (a base URL given with /v1 to the Anthropic SDK) is an Anthropic client all the same.
  return /\/messages(\/|$)/.test(path) || headers['anthropic-version'] !== undefined ? ANTHROPIC_ROUTE : OPENAI_ROUTE;
}

/** Whether `method path` is served (a model call, a model listing), so a hint never points at another 404. */
function served(method: string | undefined, path: string): boolean {
  if (SURFACE_ROUTES.has(path)) return method === 'POST';
  return (path === MODELS_PATH || path.startsWith(MODEL_PATH_PREFIX)) && (method === 'GET' || method === 'HEAD');
}

/**
 * An interaction's own paths (`GET`/`DELETE /v1beta/interactions/{id}`, its `/cancel`, a stream resumed with
 * `last_event_id`): what the Gen AI SDK's interactions.get, delete and cancel call. Nothing is stored to answer them.
 */
const INTERACTIONS_PREFIX = '/v1beta/interactions/';
/**
 * A stored response's own paths (`GET`/`DELETE /v1/responses/{id}`, its `/cancel` and `/input_items`): what the OpenAI
 * SDK's responses.retrieve, delete, cancel and inputItems.list call. The gateway serves POST /v1/responses only.
 */
const RESPONSE_PATH = /^\/v1\/responses\/[^/]+(\/(cancel|input_items))?$/;
/** The rest of Google's Interactions platform, which ngrok does not serve (gateway.md §3). */
const GEMINI_UNSERVED = /^\/v1beta\/(agents|environments|webhooks|triggers)(\/|:|$)/;

/**
 * What a 404's path most likely meant: a served path with a trailing slash, or one of the mistakes SDK users make: an
 * OpenAI SDK's base URL without `/v1` (`POST /chat/completions`, or `GET /models`, the first call of a model picker),
 * an Anthropic SDK's with it (`POST /v1/v1/messages`, `GET /v1/v1/models`), a Gen AI SDK left on API version v1
 * (`POST /v1/models/{model}:generateContent`). Empty when none.
 */
export function pathHint(method: string | undefined, path: string): string {
  // Paths are served only as the contract names them (a hand-written URL that worked here might work nowhere else):
  // a trailing slash is said, not forgiven.
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed !== path && served(method, trimmed)) return ` Did you mean ${trimmed}? The path ends with a slash.`;
  if (path.startsWith(INTERACTIONS_PREFIX)) return ' Gemini Interactions are served statelessly: each goes to Google with "store": false, so none can be retrieved, deleted, cancelled or resumed here; only POST /v1beta/interactions is served.';
  if (RESPONSE_PATH.test(path)) return ' Only POST /v1/responses is served: the gateway keeps no responses, so none can be retrieved, deleted, cancelled or listed here. Continue one with "previous_response_id" in POST /v1/responses (answered by OpenAI, which stores it), or read it at OpenAI with your own key.';
  if (GEMINI_UNSERVED.test(path)) return ' Gemini agents, environments, webhooks and triggers are not served through ngrok\'s AI Gateway.';
  if (served(method, `/v1${path}`)) return ` Did you mean /v1${path}? An OpenAI SDK's base URL ends with /v1.`;
  if (path.startsWith('/v1/v1/') && served(method, path.slice(3))) return ` Did you mean ${path.slice(3)}? The base URL has /v1 once too often: the Anthropic SDK adds /v1 itself, so its base URL ends without it.`;
  // The Gen AI SDK's default API version in 3.x; Gemini's API is served at v1beta, as ngrok's guide sets the SDK up.
  if (method === 'POST' && path.startsWith(MODEL_PATH_PREFIX) && geminiRoute(`/v1beta${path.slice(3)}`)) return geminiVersionHint(path);
  return '';
}

/** For a Gen AI SDK call on API version v1 (`/v1/…`): the same path at v1beta, where Gemini's API is served. */
export function geminiVersionHint(path: string): string {
  return ` Did you mean /v1beta${path.slice(3)}? Gemini's API is served as version v1beta: give Google's Gen AI SDK apiVersion: 'v1beta' (its default is v1).`;
}

/** Gemini's native calls, as Google's Gen AI SDK makes them (API version v1beta): the model is in the path. */
export const GEMINI_GENERATE_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'generate-content' };
export const GEMINI_STREAM_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'stream-generate-content' };
/** `:countTokens`, served as Anthropic's count_tokens is: passed through, never billed (meter.ts). */
export const GEMINI_COUNT_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'count-tokens' };
/** `:batchEmbedContents`, what the Gen AI SDK's embedContent calls on the Gemini API. */
export const GEMINI_EMBED_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'embeddings' };
/** `:embedContent`, one content (REST callers, LangChain, older SDKs): served wherever `:batchEmbedContents` is. */
export const GEMINI_EMBED_ONE_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'embed-content' };
/** For errors on `/v1beta/…` paths that are not routes, and on any Gen AI SDK call (`x-goog-api-key`): Google's shape. */
export const GEMINI_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'generate-content' };
/** GET /v1beta/models and /v1beta/models/{model} (the SDK's models.list and models.get), answered in Google's shape. */
export const GEMINI_MODELS_ROUTE: SurfaceRoute = { format: 'gemini', surface: 'generate-content' };

export const GEMINI_MODELS_PATH = '/v1beta/models';
export const GEMINI_MODELS_PREFIX = '/v1beta/models/';

/** Gemini's methods the gateway serves, after the model's `:`, and the path each has in `http.route`. */
const GEMINI_METHODS: ReadonlyMap<string, SurfaceRoute> = new Map([
  ['generateContent', GEMINI_GENERATE_ROUTE],
  ['streamGenerateContent', GEMINI_STREAM_ROUTE],
  ['countTokens', GEMINI_COUNT_ROUTE],
  ['batchEmbedContents', GEMINI_EMBED_ROUTE],
  ['embedContent', GEMINI_EMBED_ONE_ROUTE],
]);

/** The method of a Gemini route, as its path says it (`/v1beta/models/{model}:countTokens`). */
export function geminiMethodOf(route: SurfaceRoute): string | undefined {
  for (const [method, r] of GEMINI_METHODS) if (r === route) return method;
  return undefined;
}

/**
 * `/v1beta/models/{model}:generateContent` (or another of GEMINI_METHODS) → its route and the model, percent-decoded
 * (`gemini-2.5-flash`, or `google:gemini-2.5-flash`, whose `:` the last one's method follows). Undefined otherwise.
 */
export function geminiRoute(path: string): { route: SurfaceRoute; model: string } | undefined {
  return modelInPath(path, GEMINI_MODELS_PREFIX, ':', GEMINI_METHODS);
}

/**
 * `{prefix}{model}{separator}{method}`, the method one of `methods` and last in the path → its route and the model,
 * percent-decoded; undefined otherwise.
 */
function modelInPath(path: string, prefix: string, separator: string, methods: ReadonlyMap<string, SurfaceRoute>): { route: SurfaceRoute; model: string } | undefined {
  if (!path.startsWith(prefix)) return undefined;
  const at = path.lastIndexOf(separator);
  if (at <= prefix.length) return undefined;
  const route = methods.get(path.slice(at + 1));
  if (!route) return undefined;
  try {
    return { route, model: decodeURIComponent(path.slice(prefix.length, at)) };
  } catch {
    return undefined;
  }
}

/**
 * Whether `path` is Gemini's model listing or one model's page: `/v1beta/models`, or `/v1beta/models/{model}` naming
 * none of the methods served (`google:gemini-2.5-flash` is a model: no method follows its `:`). A method's path with
 * GET is a known path with the wrong method, a 404 like any.
 */
export function isGeminiModelsPath(path: string): boolean {
  if (path === GEMINI_MODELS_PATH) return true;
  return path.startsWith(GEMINI_MODELS_PREFIX) && path.length > GEMINI_MODELS_PREFIX.length && geminiRoute(path) === undefined;
}

/** The MCP gateway's endpoints (mcp/): their errors are JSON-RPC's, never a model API's. */
export const MCP_ROUTE: SurfaceRoute = { format: 'openai', surface: 'chat-completions' };
export const MCP_PATH = '/mcp';
const MCP_SERVER_PREFIX = '/mcp/s-';

/**
 * An MCP gateway path → the server id of a server's own endpoint (undefined: the aggregate endpoint); null when the
 * path is none. `/mcp` and `/mcp/s-<id>` on any host; `/` and `/s-<id>` on a host named `mcp.…` (ngrok's `mcp.ngrok.ai`).
 */
export function mcpPath(path: string, host: string | undefined): { serverId: string | undefined } | null {
  if (path === MCP_PATH) return { serverId: undefined };
  if (path.startsWith(MCP_SERVER_PREFIX) && path.length > MCP_SERVER_PREFIX.length) return { serverId: path.slice(MCP_SERVER_PREFIX.length) };
  if (host === undefined || host.length < 5 || host.slice(0, 4).toLowerCase() !== 'mcp.') return null;
  if (path === '/') return { serverId: undefined };
  if (path.startsWith('/s-') && path.length > 3) return { serverId: path.slice(3) };
  return null;
}

/** An MCP path's route for traces: the server's id is not part of it. */
export function mcpRouteOf(path: string): string {
  if (path.startsWith(MCP_PATH)) return path === MCP_PATH ? MCP_PATH : `${MCP_SERVER_PREFIX}{id}`;
  return path === '/' ? '/' : '/s-{id}';
}

/** What a request that calls no model is, for observation: a model listing, the MCP gateway, or an unknown path; undefined for a model call. */
export function nonModelRoute(route: SurfaceRoute): 'models' | 'mcp' | 'other' | undefined {
  if (route === MCP_ROUTE) return 'mcp';
  if (route === MODELS_ROUTE || route === ANTHROPIC_MODELS_ROUTE || route === GEMINI_MODELS_ROUTE) return 'models';
  if (route === OPENAI_ROUTE || route === ANTHROPIC_ROUTE || route === GEMINI_ROUTE || route === BEDROCK_ROUTE) return 'other';
  return undefined;
}

/** Bedrock Runtime's operations, as the AWS SDK calls them: `POST /model/{modelId}/{operation}`. */
const BEDROCK_MODEL_PREFIX = '/model/';
const BEDROCK_OPERATIONS: ReadonlyMap<string, SurfaceRoute> = new Map([
  ['converse', { format: 'bedrock', surface: 'converse' }],
  ['converse-stream', { format: 'bedrock', surface: 'converse-stream' }],
  ['invoke', { format: 'bedrock', surface: 'invoke' }],
  ['invoke-with-response-stream', { format: 'bedrock', surface: 'invoke-stream' }],
  // CountTokens (the SDK's CountTokensCommand), never billed (meter.ts), as every token count.
  ['count-tokens', { format: 'bedrock', surface: 'count-tokens' }],
]);
/** For errors on `/model/…` paths that are not one of the operations: Bedrock's shape. */
export const BEDROCK_ROUTE: SurfaceRoute = { format: 'bedrock', surface: 'converse' };

/**
 * `/model/{modelId}/converse` (or another of BEDROCK_OPERATIONS) → its route and the model id, percent-decoded: the SDK
 * encodes the id whole (`anthropic.claude-sonnet-4-6-v1%3A0`, an ARN's `/` as `%2F`), so the operation is the last
 * segment. Undefined otherwise.
 */
export function bedrockRoute(path: string): { route: SurfaceRoute; model: string } | undefined {
  return modelInPath(path, BEDROCK_MODEL_PREFIX, '/', BEDROCK_OPERATIONS);
}

/**
 * The model address a Bedrock path's id stands for: Bedrock's own (`bedrock:<id>`), so any id Bedrock knows (an
 * uncatalogued model, an inference profile's ARN) passes through to it, and no other provider's model of that name
 * is reached by a Bedrock operation.
 */
export function bedrockAddress(modelId: string): string {
  return modelId.startsWith('bedrock:') ? modelId : `bedrock:${modelId}`;
}

/** Converse's operations, whose body is the same whatever the model: translated for a model that does not serve Bedrock. */
export function isConverse(surface: ApiSurface): boolean {
  return surface === 'converse' || surface === 'converse-stream';
}

/**
 * Bedrock operations whose path may name another provider's model (`gpt-4o`): Converse's, and CountTokens, which
 * counts a Converse request (or Claude's InvokeModel body) for whichever model the path names.
 */
export function pathNamesAnyModel(surface: ApiSurface): boolean {
  return isConverse(surface) || surface === 'count-tokens';
}
