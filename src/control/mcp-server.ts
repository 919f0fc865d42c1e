// The control plane as an MCP server (`POST /mcp` on the API port): ngrok's MCP server gives coding agents AI
// Gateway tools (`aigw_list_models`, `aigw_usage_overview`, `aigw_list_usage`…) and, since its changelog's "can now
// create and change your AI Gateway setup", tools that write. Here every contract operation is a tool, derived from
// spec/control-plane.openapi.yaml like the routes themselves, and a call runs through the same route (Fastify's
// inject) with the caller's own API key: authentication, validation, account scoping and change announcements
// are the API's, never a second copy. Decisions: docs/decisions/control-plane-resources.md, "MCP server".
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRecord } from '../domain/json-value.ts';
import { Errors, TollgateError, textPrefix } from '../domain/errors.ts';
import { apiKeyPrincipal, bearerToken, contractErrorBody, type ControlDeps, type RouteExtension } from './app.ts';
import { contractDocument, operations, toJsonSchema, type ContractOperation } from './contract.ts';
import { asMessage, RpcCode, rpcError, rpcResult, type JsonRpcId, type JsonRpcMessage } from '../domain/json-rpc.ts';
import { asEventStream, isJsonContentType, mcpAccepts, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE } from '../domain/mcp-http.ts';
import { closeAfterAnswer } from '../http/client-timeouts.ts';
import { discoverResult, eraOf, METHOD_NOT_FOUND_STATUS, removedMethod, statelessResult, type CacheHint } from '../domain/mcp-stateless.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * MCP revisions this server speaks with initialize; the newest is offered to a client asking for one it does not know.
 * The stateless revision (2026-07-28) is served beside them (domain/mcp-stateless.ts).
 */
const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;
const SERVER_INFO = { name: 'tollgate-control-plane', title: 'Tollgate AI Gateway', version: VERSION };
/** The tool list is the contract's, the same for every API key: a stateless client may keep it a while and share it. */
const TOOLS_CACHE: CacheHint = { ttlMs: 5 * 60_000, scope: 'public' };

/**
 * Operations that move money are not tools: an agent's mistaken or injected call would charge the account's card
 * (a purchase) or open a payment page for it. The API serves them to a person's script as before.
 */
const NOT_TOOLS = new Set(['CreateCreditPurchase', 'CreateCheckoutSession']);

/** ngrok's own tool names where its page names them; the rest follow the operation's name the same way. */
const NGROK_NAMES: Record<string, string> = {
  GetAIGatewayUsageOverview: 'aigw_usage_overview',
  GetAIGatewayConfig: 'aigw_get_gateway_config',
  UpdateAIGatewayConfig: 'aigw_update_gateway_config',
};

type Schema = Record<string, unknown>;

interface Tool {
  name: string;
  description: string;
  inputSchema: Schema;
  annotations: { title: string; readOnlyHint: boolean; destructiveHint: boolean; idempotentHint: boolean; openWorldHint: false };
  /** The operation it runs, or a function of the tool's own (aigw_get_model). */
  run: ContractOperation | ((call: ToolCall) => Promise<ToolResult>);
  pathParams: string[];
  queryParams: string[];
}

interface ToolCall { args: Record<string, unknown>; request: FastifyRequest; app: FastifyInstance }
interface ToolResult { content: { type: 'text'; text: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean }

/** `ListAIGatewayProviderAPIKeys` → `aigw_list_provider_api_keys`. */
export function toolName(operationId: string): string {
  const named = NGROK_NAMES[operationId];
  if (named) return named;
  const words = operationId.replace('AIGateway', '').replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2');
  return `aigw_${words.toLowerCase()}`;
}

const componentSchemas = (contractDocument.components as Record<string, Record<string, unknown>>).schemas!;

/**
 * A contract schema as a self-contained JSON Schema: MCP clients show and check a tool's `inputSchema` alone, so
 * its `$ref`s are inlined (a reference back into itself becomes `{}`) and the spec's `x-` notes are dropped.
 */
function inline(node: unknown, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(n, seen));
  if (!isRecord(node)) return node;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    const name = ref.slice(ref.lastIndexOf('/') + 1);
    if (seen.includes(name)) return {};
    return inline(toJsonSchema(componentSchemas[name] as never), [...seen, name]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-')) continue;
    out[key] = key === 'properties' && isRecord(value)
      ? Object.fromEntries(Object.entries(value).map(([p, s]) => [p, inline(s, seen)]))
      : inline(value, seen);
  }
  return out;
}

function operationText(op: ContractOperation): { summary: string; description: string } {
  const raw = (contractDocument.paths as Record<string, Record<string, Record<string, unknown>>>)[op.path]![op.method.toLowerCase()]!;
  const summary = typeof raw.summary === 'string' ? raw.summary : op.operationId;
  const description = typeof raw.description === 'string' ? raw.description.trim() : '';
  return { summary, description };
}

function toolFor(op: ContractOperation): Tool {
  const pathParams = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const properties: Schema = {};
  const required: string[] = [...pathParams];
  for (const p of pathParams) properties[p] = { type: 'string', description: `The ${p === 'id' ? 'resource' : p} id, as the list or create answer gives it.` };
  for (const q of op.queryParameters) {
    properties[q.name] = inline(toJsonSchema(q.schema as never));
    if (q.required) required.push(q.name);
  }
  let additionalProperties = false;
  if (op.requestSchema) {
    // The body's fields sit beside the id: an agent writes `{id, name}`, not `{id, body: {name}}`. No body field
    // is named like a path or query parameter (checked when this module loads).
    const body = inline({ $ref: `#/components/schemas/${op.requestSchema}` }) as Schema;
    for (const [name, s] of Object.entries((body.properties as Schema | undefined) ?? {})) {
      if (name in properties) throw new Error(`${op.operationId}: body field "${name}" is also a parameter`);
      properties[name] = s;
    }
    required.push(...((body.required as string[] | undefined) ?? []));
    additionalProperties = body.additionalProperties !== false;
  }
  const { summary, description } = operationText(op);
  const readOnly = op.method === 'GET';
  return {
    name: toolName(op.operationId),
    description: description ? `${summary}. ${description}` : summary,
    inputSchema: { type: 'object', properties, ...(required.length > 0 ? { required } : {}), additionalProperties },
    annotations: { title: summary, readOnlyHint: readOnly, destructiveHint: op.method === 'DELETE', idempotentHint: op.method !== 'POST', openWorldHint: false },
    run: op,
    pathParams,
    queryParams: op.queryParameters.map((q) => q.name),
  };
}

/** ngrok's `aigw_get_model`: one entry of the model list, by its id or a `provider:model` name. */
const getModel: Tool = {
  name: 'aigw_get_model',
  description: 'Get one model: each provider that offers it, with its token prices, limits and API formats. Takes the id the model list gives (e.g. "openai/gpt-4o") or a provider-qualified name ("openai:gpt-4o", "my-provider:my-model").',
  inputSchema: { type: 'object', properties: { modelId: { type: 'string', description: 'The model id, e.g. "openai/gpt-4o", "gpt-4o" or "my-provider:my-model".' } }, required: ['modelId'], additionalProperties: false },
  annotations: { title: 'Get a model', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  pathParams: [],
  queryParams: [],
  async run({ args, request, app }) {
    const res = await forward(app, request, 'GET', '/v1/models');
    if (res.isError) return res;
    const wanted = String(args.modelId).toLowerCase();
    const models = (res.structuredContent?.data as Record<string, unknown>[] | undefined) ?? [];
    const found = models.find((m) => [m.id, m.slug, m.canonical_slug].some((v) => typeof v === 'string' && v.toLowerCase() === wanted))
      ?? models.find((m) => typeof m.id === 'string' && (m.id.toLowerCase().endsWith(`/${wanted}`) || m.id.toLowerCase() === wanted.replace(':', '/')));
    if (!found) return toolError(`No model "${String(args.modelId)}" is listed for this account. aigw_list_models lists them.`);
    return { content: [{ type: 'text', text: JSON.stringify(found) }], structuredContent: found };
  },
};

const tools: Tool[] = [...operations.filter((op) => op.method !== 'HEAD' && !NOT_TOOLS.has(op.operationId)).map(toolFor), getModel];
const toolsByName = new Map(tools.map((t) => [t.name, t]));
const toolList = tools.map(({ name, description, inputSchema, annotations }) => ({ name, description, inputSchema, annotations }));

function toolError(text: string): ToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Runs one API request as the MCP caller (same Authorization and Host, so answers' `uri`s name this API). */
async function forward(app: FastifyInstance, request: FastifyRequest, method: string, url: string, body?: string): Promise<ToolResult> {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: {
      authorization: request.headers.authorization ?? '',
      ...(request.headers.host ? { host: request.headers.host } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { payload: body } : {}),
  });
  const text = res.body;
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  if (!ok) return { content: [{ type: 'text', text: text || `HTTP ${res.statusCode}` }], isError: true };
  if (json === undefined) return { content: [{ type: 'text', text: `Done (HTTP ${res.statusCode}).` }] };
  return { content: [{ type: 'text', text }], ...(isRecord(json) ? { structuredContent: json } : {}) };
}

async function callTool(tool: Tool, args: Record<string, unknown>, request: FastifyRequest, app: FastifyInstance): Promise<ToolResult> {
  if (typeof tool.run === 'function') {
    if (typeof args.modelId !== 'string' || args.modelId === '') return toolError('"modelId" is required: a model id such as "openai/gpt-4o".');
    return tool.run({ args, request, app });
  }
  const op = tool.run;
  let path = op.path;
  for (const p of tool.pathParams) {
    const v = args[p];
    if (typeof v !== 'string' || v === '') return toolError(`"${p}" is required: the id of the resource, as a string.`);
    // A dot segment survives encodeURIComponent and is resolved when the URL is read: `..` would run another route.
    if (v === '.' || v === '..') return toolError(`"${p}": no resource has the id "${v}".`);
    path = path.replace(`{${p}}`, encodeURIComponent(v));
  }
  const query = new URLSearchParams();
  let payload: string | undefined;
  try {
    for (const q of tool.queryParams) {
      const v = args[q];
      if (v !== undefined && v !== null) query.set(q, typeof v === 'string' ? v : JSON.stringify(v));
    }
    if (op.requestSchema) {
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(args)) if (!tool.pathParams.includes(k) && !tool.queryParams.includes(k)) body[k] = v;
      payload = JSON.stringify(body);
    }
  } catch {
    // JSON.parse took the arguments, JSON.stringify recurses: nesting deep enough overflows the stack (a RangeError).
    return toolError(`${tool.name}: the arguments nest too deeply to be sent on.`);
  }
  if (!op.requestSchema) {
    const unknown = Object.keys(args).filter((k) => !tool.pathParams.includes(k) && !tool.queryParams.includes(k));
    if (unknown.length > 0) return toolError(`${tool.name} takes no ${unknown.map((k) => `"${k}"`).join(', ')}.`);
  }
  const qs = query.toString();
  return forward(app, request, op.method, qs ? `${path}?${qs}` : path, payload);
}

/**
 * A JSON-RPC answer: over 200 as a one-event stream to a client that takes only streams (as the gateway's MCP
 * endpoint answers one), any other as JSON.
 */
function send(reply: FastifyReply, body: string, status = 200): FastifyReply {
  reply.code(status).header('cache-control', 'no-store');
  if (status === 200 && !mcpAccepts(reply.request.headers.accept).json) return reply.type('text/event-stream').send(asEventStream(body));
  return reply.type('application/json').send(body);
}

const INSTRUCTIONS = 'Tools for this Tollgate AI gateway account: models and prices (aigw_list_models, aigw_get_model), usage and cost '
  + '(aigw_usage_overview, aigw_list_usage, aigw_get_request_attempts for one request\'s provider attempts), and the setup: '
  + 'access keys and their configurations, provider keys, custom providers, virtual models, firewall policies, MCP servers. '
  + 'Write tools change the live gateway at once; an access key\'s token is shown only in the answer that creates it.';

async function answer(message: JsonRpcMessage, stateless: boolean, request: FastifyRequest, reply: FastifyReply, app: FastifyInstance): Promise<FastifyReply> {
  // A request: a message without an id (a notification) was answered 202 before this.
  const { method, params = {} } = message;
  const id = message.id as JsonRpcId;
  const capabilities = { tools: { listChanged: false } };
  // The stateless revision's results say they are complete (and, for a list, how long they may be kept).
  const result = (r: Record<string, unknown>, hint?: CacheHint) => rpcResult(id, stateless ? statelessResult(method, r, hint) : r);
  const notFound = () => send(reply, rpcError(id, RpcCode.methodNotFound, `Method not found: ${textPrefix(String(method), 100)}.`), stateless ? METHOD_NOT_FOUND_STATUS : 200);
  if (stateless && removedMethod(String(method))) return notFound();
  switch (method) {
    case 'initialize': {
      const asked = params.protocolVersion;
      const protocolVersion = PROTOCOL_VERSIONS.find((v) => v === asked) ?? PROTOCOL_VERSIONS[0];
      return send(reply, rpcResult(id, { protocolVersion, capabilities, serverInfo: SERVER_INFO, instructions: INSTRUCTIONS }));
    }
    case 'server/discover':
      return stateless ? send(reply, rpcResult(id, discoverResult(capabilities, SERVER_INFO, INSTRUCTIONS))) : notFound();
    case 'ping':
      return send(reply, rpcResult(id, {}));
    case 'tools/list':
      return send(reply, result({ tools: toolList }, TOOLS_CACHE));
    case 'tools/call': {
      const tool = typeof params.name === 'string' ? toolsByName.get(params.name) : undefined;
      if (!tool) return send(reply, rpcError(id, RpcCode.invalidParams, `Unknown tool: ${typeof params.name === 'string' ? textPrefix(params.name, 100) : '(no name)'}.`));
      const args = params.arguments ?? {};
      if (!isRecord(args)) return send(reply, rpcError(id, RpcCode.invalidParams, '"arguments" must be an object.'));
      return send(reply, result({ ...(await callTool(tool, args, request, app)) }));
    }
    default:
      return notFound();
  }
}

/**
 * `POST /mcp`: MCP's Streamable HTTP transport, every answer one JSON message: the 2025 revisions without a session, and
 * the stateless one (2026-07-28) beside them on the same URL.
 */
export const controlMcpServer: RouteExtension = (app: FastifyInstance, deps: ControlDeps) => {
  /** Why a POST is refused before its body is read: its caller (401), or the media types it sends or takes. */
  const refusalOf = async (request: FastifyRequest): Promise<TollgateError | { status: number; message: string } | undefined> => {
    // HTTP-level authentication, so MCP clients see the 401 their OAuth discovery expects: an API key here.
    const token = bearerToken(request.headers.authorization);
    if (!token) return new TollgateError(Errors.unauthorized, { reason: 'No API key: send "Authorization: Bearer <API key>".' });
    try {
      await apiKeyPrincipal(deps.store, token, request.log);
    } catch (error) {
      if (error instanceof TollgateError && error.status === 401) return error;
      throw error;
    }
    const accepts = mcpAccepts(request.headers.accept);
    if (!accepts.json && !accepts.events) return { status: 406, message: NOT_ACCEPTABLE };
    if (!isJsonContentType(request.headers['content-type'])) return { status: 415, message: UNSUPPORTED_MEDIA_TYPE };
    return undefined;
  };
  const challenge = (reply: FastifyReply, err: TollgateError) => reply.code(err.status)
    .header('www-authenticate', 'Bearer realm="control-plane"').type('application/json')
    .send(contractErrorBody(err.status, err.code, err.message, err.details));
  app.post('/mcp', {
    // Refused before the body is read, in the order the gateway's MCP endpoint refuses: the caller, then the answer
    // it takes (JSON or an event stream; 406 for neither), then its body's type (415 for any but application/json:
    // the rest of the API reads any type as JSON, but an MCP client always sends it, and the SDKs' servers require it).
    onRequest: async (request, reply) => {
      const refusal = await refusalOf(request);
      if (refusal === undefined) return undefined;
      // The body is not read: the connection closes after the answer rather than read the rest.
      closeAfterAnswer(request.raw, reply.raw);
      return refusal instanceof TollgateError ? challenge(reply, refusal) : send(reply, rpcError(null, RpcCode.mediaType, refusal.message), refusal.status);
    },
    // A body that is not JSON is a JSON-RPC parse error, not the API's 400.
    errorHandler: (error, _request, reply) => {
      // Only the body parser's refusals (not JSON, not UTF-8, compressed); the rest is the API's error handler's.
      if (!(error instanceof TollgateError) || error.code !== Errors.validationFailed.code) throw error;
      return send(reply, rpcError(null, RpcCode.parseError, error.message), error.status);
    },
  }, async (request, reply) => {
    const message = asMessage(request.body);
    if (!message) return send(reply, rpcError(null, RpcCode.invalidRequest, 'The body must be one JSON-RPC 2.0 message.'), 400);
    // MCP forbids a request a null id; taken for a notification, it would go unanswered and the client wait on it.
    if (message.method !== undefined && message.id === null) return send(reply, rpcError(null, RpcCode.invalidRequest, 'A request\'s id must be a string or a number, not null.'), 400);
    // A request of the stateless revision (2026-07-28) is told from a 2025 one by its `_meta`, and checked against its
    // headers; this server kept no session for either.
    const era = eraOf(message, request.headers);
    if (era.era === 'refused') return send(reply, era.body, era.status);
    // A notification or a response to us: accepted, nothing to answer (the transport's 202).
    if (message.method === undefined || message.id === undefined) return reply.code(202).send();
    return answer(message, era.era === 'stateless', request, reply, app);
  });
  // No server-initiated stream and no sessions: the transport's answer for GET and DELETE is 405.
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({ method, url: '/mcp', handler: async (_request, reply) => reply.code(405).header('allow', 'POST').type('application/json').send(contractErrorBody(405, Errors.methodNotAllowed.code, 'The MCP endpoint takes POST only: this server keeps no sessions and sends no notifications.', {})) });
  }
};
