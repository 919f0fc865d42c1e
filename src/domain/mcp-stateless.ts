// MCP's stateless revision (2026-07-28, SEP-2575), which both MCP endpoints serve beside the 2025 revisions on the
// same URL: no initialize and no session; every request names its revision and the client's capabilities in
// `params._meta`, and its Streamable HTTP POST repeats the revision, the method and the name it acts on in the
// `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers. A request's era is read from its body (the SDKs do the
// same): a request carrying the `_meta` revision is a 2026 one, any other a 2025 one, so one URL serves both.
import type { IncomingHttpHeaders } from 'node:http';
import { isRecord } from './json-value.ts';
import { RpcCode, rpcError, type JsonRpcMessage } from './json-rpc.ts';

/** The stateless revisions served, newest first (what `server/discover` and a -32022 list). */
export const STATELESS_PROTOCOL_VERSIONS = ['2026-07-28'] as const;
export const STATELESS_PROTOCOL_VERSION = STATELESS_PROTOCOL_VERSIONS[0];

/** The reserved `_meta` keys of the revision. */
export const MetaKey = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
} as const;

/**
 * The request envelope: the keys that make a message a 2026 one and speak for its client. Only these are the
 * revision's own: other reserved keys (`io.modelcontextprotocol/related-task`, 2025-11-25's tasks) are any era's.
 */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set([MetaKey.protocolVersion, MetaKey.clientCapabilities, MetaKey.clientInfo, MetaKey.logLevel]);

/** Methods the revision removed (with initialize): a stateless request naming one is a method not found. */
const REMOVED_METHODS = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);

/** Results the revision makes cacheable: they carry `ttlMs` and `cacheScope`. */
const CACHEABLE_METHODS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

/** The body field `Mcp-Name` repeats, per method. */
const NAME_FIELDS: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri', 'tasks/get': 'taskId', 'tasks/update': 'taskId', 'tasks/cancel': 'taskId' };

const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A header value sent as it is: visible ASCII and inner spaces. Anything else is sent base64-wrapped. */
const PLAIN_HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * Revisions are ISO dates: every one from 2026-07-28 on is stateless. Anything else (`latest`, `v2`) is none, and is
 * refused as a revision not served: compared as text, it sorted after every date and was taken for a 2026 request.
 */
export function isStatelessVersion(version: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= STATELESS_PROTOCOL_VERSION;
}

/** How a POSTed message is served: a 2025 request, a 2026 one (stateless), or refused with this answer. */
export type Era = { era: 'session' } | { era: 'stateless'; version: string } | { era: 'refused'; status: number; body: string };

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim();
}

/** The body's value `Mcp-Name` repeats, for the methods that have one. */
function nameOf(message: JsonRpcMessage): string | undefined {
  const field = message.method !== undefined && Object.hasOwn(NAME_FIELDS, message.method) ? NAME_FIELDS[message.method]! : undefined;
  const value = field === undefined ? undefined : message.params?.[field];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The message's era, from its `_meta` revision (a header never changes it), and, for a stateless request, the
 * revision's checks: a revision not served is HTTP 400 with -32022 and the ones served; headers that contradict the
 * body (or are missing) are 400 with -32020, since a proxy or a Firewall in front may have routed on them; a request
 * without the client's capabilities is -32602. Errors carry the request's id: a client matches them to its request.
 */
export function eraOf(message: JsonRpcMessage, headers: IncomingHttpHeaders): Era {
  const meta = message.params?._meta;
  const claim = isRecord(meta) ? meta[MetaKey.protocolVersion] : undefined;
  const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null;
  const id = isRequest ? message.id : null;
  const header = headerOf(headers, 'mcp-protocol-version');
  if (claim === undefined) {
    // A request saying in its header that it is a 2026 one, without the `_meta` the revision requires of it.
    if (isRequest && header !== undefined && isStatelessVersion(header)) {
      return refused(id, RpcCode.invalidParams, `An MCP ${header} request carries params._meta["${MetaKey.protocolVersion}"].`);
    }
    // A notification has no `_meta` revision: its header says which era it belongs to.
    return header !== undefined && isStatelessVersion(header) && !isRequest ? { era: 'stateless', version: header } : { era: 'session' };
  }
  if (typeof claim !== 'string' || claim === '') return refused(id, RpcCode.invalidParams, `params._meta["${MetaKey.protocolVersion}"] must be a protocol revision.`);
  if (!(STATELESS_PROTOCOL_VERSIONS as readonly string[]).includes(claim)) {
    return refused(id, RpcCode.unsupportedProtocolVersion, `Unsupported protocol version: ${claim.slice(0, 32)}.`, { supported: [...STATELESS_PROTOCOL_VERSIONS], requested: claim.slice(0, 32) });
  }
  if (!isRequest) return { era: 'stateless', version: claim };
  if (header !== claim) {
    return refused(id, RpcCode.headerMismatch, header === undefined ? 'The MCP-Protocol-Version header is missing.' : `The MCP-Protocol-Version header (${header.slice(0, 32)}) is not the request's revision (${claim}).`);
  }
  const method = headerOf(headers, 'mcp-method');
  if (method !== message.method) {
    return refused(id, RpcCode.headerMismatch, method === undefined ? 'The Mcp-Method header is missing.' : 'The Mcp-Method header is not the request\'s method.');
  }
  const name = nameOf(message);
  if (name !== undefined) {
    const sent = headerOf(headers, 'mcp-name');
    if (sent === undefined) return refused(id, RpcCode.headerMismatch, 'The Mcp-Name header is missing.');
    if (decodeHeaderValue(sent) !== name) return refused(id, RpcCode.headerMismatch, 'The Mcp-Name header is not the name in the request.');
  }
  if (!isRecord(meta) || !isRecord(meta[MetaKey.clientCapabilities])) {
    return refused(id, RpcCode.invalidParams, `params._meta["${MetaKey.clientCapabilities}"] must be an object: the client's capabilities.`);
  }
  return { era: 'stateless', version: claim };
}

function refused(id: JsonRpcMessage['id'], code: number, message: string, data?: Record<string, unknown>): Era {
  return { era: 'refused', status: 400, body: rpcError(id, code, message, data) };
}

/** A header value as the revision encodes it: as it is, or `=?base64?…?=` when it cannot travel as it is. */
export function encodeHeaderValue(value: string): string {
  if (PLAIN_HEADER_VALUE.test(value) && !value.startsWith(BASE64_PREFIX)) return value;
  return `${BASE64_PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${BASE64_SUFFIX}`;
}

function decodeHeaderValue(value: string): string | undefined {
  if (!value.startsWith(BASE64_PREFIX) || !value.endsWith(BASE64_SUFFIX)) return value;
  const encoded = value.slice(BASE64_PREFIX.length, value.length - BASE64_SUFFIX.length);
  return BASE64.test(encoded) ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
}

/** A stateless request naming a method the revision removed (initialize, ping, logging/setLevel, subscribe). */
export function removedMethod(method: string): boolean {
  return REMOVED_METHODS.has(method);
}

/**
 * A stateless method not served: -32601 with HTTP 404, as the revision's Streamable HTTP binding has it (a 2025
 * request's is answered 200, as before).
 */
export const METHOD_NOT_FOUND_STATUS = 404;

export interface CacheHint { ttlMs: number; scope: 'public' | 'private' }

/**
 * A result as the revision has servers send it: `resultType` (a multi-round-trip request's is another), and on a
 * cacheable method's how long it may be kept and by whom (`hint`, or not at all and for this caller only).
 */
export function statelessResult(method: string | undefined, result: Record<string, unknown>, hint?: CacheHint): Record<string, unknown> {
  const out: Record<string, unknown> = { resultType: 'complete', ...result };
  if (method !== undefined && CACHEABLE_METHODS.has(method)) {
    if (typeof out.ttlMs !== 'number') out.ttlMs = hint?.ttlMs ?? 0;
    if (out.cacheScope !== 'public' && out.cacheScope !== 'private') out.cacheScope = hint?.scope ?? 'private';
  }
  return out;
}

/** `server/discover`'s result: the revisions served, the server's capabilities and instructions, its name. */
export function discoverResult(capabilities: Record<string, unknown>, serverInfo: Record<string, unknown>, instructions: string | undefined): Record<string, unknown> {
  return {
    resultType: 'complete',
    supportedVersions: [...STATELESS_PROTOCOL_VERSIONS],
    capabilities,
    ...(instructions !== undefined ? { instructions } : {}),
    // What a server offers may change with the account's setup: nothing is kept for long.
    ttlMs: 0,
    cacheScope: 'private',
    _meta: { [MetaKey.serverInfo]: serverInfo },
  };
}

/**
 * The message as sent to a server of the given era: to a 2025 server without the revision's envelope (a dual-era
 * server would take it for a 2026 request in a 2025 session and refuse it; the rest of its `_meta`, a 2025-11-25
 * task's `related-task` too, is the client's and goes as it came); to a 2026 one, a request with the gateway's own
 * envelope (its `clientInfo`, the revision it speaks, the client's capabilities and log level).
 */
export function forEra(message: JsonRpcMessage, stateless: { clientInfo: Record<string, unknown> } | undefined): JsonRpcMessage {
  const meta = message.params?._meta;
  const kept: Record<string, unknown> = {};
  let stripped = false;
  if (isRecord(meta)) {
    for (const [k, v] of Object.entries(meta)) {
      if (ENVELOPE_KEYS.has(k)) stripped = true;
      else kept[k] = v;
    }
  }
  const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null;
  if (stateless && isRequest) {
    const capabilities = isRecord(meta) && isRecord(meta[MetaKey.clientCapabilities]) ? meta[MetaKey.clientCapabilities] : {};
    kept[MetaKey.protocolVersion] = STATELESS_PROTOCOL_VERSION;
    kept[MetaKey.clientCapabilities] = capabilities;
    kept[MetaKey.clientInfo] = stateless.clientInfo;
    if (isRecord(meta) && typeof meta[MetaKey.logLevel] === 'string') kept[MetaKey.logLevel] = meta[MetaKey.logLevel];
    return { ...message, params: { ...message.params, _meta: kept } };
  }
  if (!stripped) return message;
  const params: Record<string, unknown> = { ...message.params };
  if (Object.keys(kept).length > 0) params._meta = kept;
  else delete params._meta;
  return { ...message, params };
}

/** The revision's headers for a stateless request sent to a server. */
export function statelessHeaders(message: JsonRpcMessage): Record<string, string> {
  const headers: Record<string, string> = { 'mcp-protocol-version': STATELESS_PROTOCOL_VERSION };
  if (message.method === undefined) return headers;
  headers['mcp-method'] = message.method;
  const name = nameOf(message);
  if (name !== undefined) headers['mcp-name'] = encodeHeaderValue(name);
  return headers;
}

/** What `x-mcp-header` may name (an RFC 9110 token): a header `Mcp-Param-<name>`. */
const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_PARAM_HEADERS = 32;

/**
 * The `Mcp-Param-<name>` values a `tools/call` carries in headers in the stateless revision (a server refuses one
 * without them, 400 -32020), by lowercased header name: one per input property its tool's `inputSchema` marks with
 * `x-mcp-header`, reached through `properties` alone, holding the call's argument there when it is a string, a finite
 * number or a boolean; one absent or of another kind is left out, as the revision has a client do.
 */
function paramValues(inputSchema: unknown, args: unknown): Map<string, string> {
  const values = new Map<string, string>();
  const visit = (schema: unknown, value: unknown, depth: number): void => {
    if (!isRecord(schema) || depth > 16 || values.size >= MAX_PARAM_HEADERS) return;
    const name = schema['x-mcp-header'];
    if (depth > 0 && typeof name === 'string' && HEADER_TOKEN.test(name) && !values.has(`mcp-param-${name.toLowerCase()}`)) {
      const text = typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : typeof value === 'number' && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)) ? String(value) : undefined;
      if (text !== undefined) values.set(`mcp-param-${name.toLowerCase()}`, text);
    }
    if (!isRecord(schema.properties)) return;
    for (const [key, child] of Object.entries(schema.properties)) visit(child, isRecord(value) ? value[key] : undefined, depth + 1);
  };
  visit(inputSchema, args, 0);
  return values;
}

/** The `Mcp-Param-*` headers of a `tools/call` sent to a stateless server, encoded as `Mcp-Name` is. */
export function paramHeaders(inputSchema: unknown, args: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of paramValues(inputSchema, args)) headers[name] = value === '' ? '' : encodeHeaderValue(value);
  return headers;
}

/**
 * A stateless client's `tools/call` whose `Mcp-Param-*` headers are missing or say other than its arguments: the
 * refusal (400 -32020) with the request's id, as for the other headers a proxy or Firewall in front may route on.
 * `sentOnly`: a missing header is no mismatch (a call wrapped in another tool's, whose schema asks for none), but one
 * sent is still held to the argument, since whatever is in front may have routed on it all the same.
 */
export function paramMismatch(id: JsonRpcMessage['id'], inputSchema: unknown, args: unknown, headers: IncomingHttpHeaders, sentOnly = false): string | undefined {
  for (const [name, value] of paramValues(inputSchema, args)) {
    const sent = headerOf(headers, name);
    if (sent === undefined && sentOnly) continue;
    if (sent === undefined) return rpcError(id, RpcCode.headerMismatch, `The ${name} header is missing: the tool takes that argument in a header too.`);
    if (decodeHeaderValue(sent) !== value) return rpcError(id, RpcCode.headerMismatch, `The ${name} header is not the argument in the request.`);
  }
  return undefined;
}
