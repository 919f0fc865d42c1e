// Header names and the fixed header sets of gateway responses. Constants, so no per-request allocation.
export const H_REQUEST_ID = 'Ngrok-AIG-Request-Id';
export const H_ATTEMPTS = 'Ngrok-AIG-Attempts';
export const H_MODEL = 'Ngrok-AIG-Model';
export const H_REJECTED = 'Ngrok-AIG-Rejected-Models';
export const H_REMOVED = 'Ngrok-AIG-Removed-Params';
/** Firewall's verdicts on the request and on a JSON answer's tool calls (gateway-behaviour.md "Firewall"). */
export const H_FIREWALL = 'Ngrok-AIG-Firewall';

/** Browsers may read these (gateway.md §9): our headers plus the ones SDKs look at for retries and ids. */
export const EXPOSED_HEADERS = [H_REQUEST_ID, H_ATTEMPTS, H_MODEL, H_REJECTED, H_REMOVED, H_FIREWALL, 'Retry-After', 'retry-after-ms', 'x-request-id', 'request-id'].join(', ');

// DELETE: an MCP client ends its session with one (the MCP gateway's /mcp paths), a browser's only after this preflight.
export const CORS_PREFLIGHT_METHODS = 'GET, POST, DELETE, OPTIONS';
/** Echoed when a preflight does not name its headers. */
export const CORS_DEFAULT_ALLOWED_HEADERS = 'authorization, x-api-key, x-goog-api-key, content-type, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, openai-beta';

/**
 * The W3C Trace Context headers an upstream request carries (tracing on): `traceparent` naming its attempt span, and
 * the caller's `tracestate` (its vendors' entries), which W3C Trace Context §3.3 has every participant pass on.
 */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

export function addTraceHeaders(headers: Record<string, string>, trace: TraceHeaders): void {
  headers.traceparent = trace.traceparent;
  if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
}

/** Client headers forwarded to the provider (everything else, credentials first of all, stays here). */
export const FORWARDED_REQUEST_HEADERS = ['anthropic-version', 'anthropic-beta', 'openai-beta', 'accept'] as const;

/**
 * Upstream response headers never copied to the client: hop-by-hop, framing (the gateway frames the body
 * itself), cookies, and CORS (the gateway answers its own). A `content-encoding` still present is one the
 * exchange could not decode (content-coding.ts): the bytes go on as they came, so the client must know it.
 */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-authenticate',
  'proxy-connection', 'upgrade', 'http2-settings', 'trailer', 'te', 'set-cookie', 'date', 'server', 'vary',
  'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers',
  'access-control-allow-headers', 'access-control-allow-methods', 'access-control-max-age',
]);

/** What a provider says about the account behind the key: the operator's own business on a managed key. */
const OPERATOR_ACCOUNT_HEADERS = new Set(['openai-organization', 'openai-project', 'anthropic-organization-id']);
const OPERATOR_LIMIT_PREFIXES = ['x-ratelimit-', 'anthropic-ratelimit-'];

function isOperatorAccountHeader(name: string): boolean {
  return OPERATOR_ACCOUNT_HEADERS.has(name) || OPERATOR_LIMIT_PREFIXES.some((prefix) => name.startsWith(prefix));
}

export type OutHeaders = Record<string, string | string[] | number>;

/**
 * Copies the upstream's end-to-end headers into `out` (lower-case names, as undici gives them). A chained
 * gateway's `ngrok-aig-*` headers are dropped: this gateway sets its own, and node would send both spellings.
 * `managedKey`: the answer came with the operator's credential, whose organization and project ids and rate
 * limits (shared by every tenant) are not the client's to see.
 */
export function copyUpstreamHeaders(upstream: Record<string, string | string[] | undefined>, out: OutHeaders, managedKey = false): void {
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name) || name.startsWith('ngrok-aig-')) continue;
    if (managedKey && isOperatorAccountHeader(name)) continue;
    out[name] = value;
  }
}

const HEADER_SAFE = /^[\x20-\x7e]*$/;
const UNSAFE_CHAR = /[^\x20-\x7e]/gu;
const percentEncode = (char: string): string => Buffer.from(char, 'utf8').toString('hex').replace(/../g, '%$&').toUpperCase();

/**
 * A client-chosen string (a model name, a body field's name) as a header value. node refuses characters
 * outside Latin-1 (the response could not be written at all) and sends Latin-1 ones as single bytes no client
 * decodes as UTF-8, so anything outside printable ASCII is percent-encoded as UTF-8 (`gpt-€` → `gpt-%E2%82%AC`).
 */
export function headerText(text: string): string {
  return HEADER_SAFE.test(text) ? text : text.replace(UNSAFE_CHAR, percentEncode);
}

/**
 * The headers every gateway response carries. `nosniff`: a browser must not run an error page that echoes a client's
 * path or model name as HTML; lower-case, so a provider's own (OpenAI sends it) replaces it rather than doubling it.
 */
export function baseHeaders(requestId: string): OutHeaders {
  return { [H_REQUEST_ID]: requestId, 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED_HEADERS, 'x-content-type-options': 'nosniff' };
}
