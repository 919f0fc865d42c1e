// Request capture (ngrok's account setting "request capture"): the request a client sent and the answer it got,
// kept for a while so a person or an agent can see what went wrong. What is kept, and what never is, is decided
// here; the gateway fills a capture as the exchange runs and the control plane reads it back
// (GET /usage/requests/{requestId}/capture). Decisions: docs/decisions/credits-usage-settings.md, "Request capture".
import type { SecretBox } from './secret-box.ts';

export interface CapturedBody {
  /** Headers that carry no credential, lower-cased (REQUEST_HEADERS / RESPONSE_HEADERS). */
  headers: Record<string, string>;
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  /** The whole body's size, captured or not. */
  bodyBytes: number;
  bodyTruncated: boolean;
}

export interface CapturedRequest extends CapturedBody { method: string; path: string }
export interface CapturedResponse extends CapturedBody { statusCode: number; complete: boolean }

export interface RequestCapture {
  accountId: string;
  requestId: string;
  capturedAt: string;
  request: CapturedRequest;
  response: CapturedResponse;
}

/** Each body's first bytes kept by default (TOLLGATE_REQUEST_CAPTURE_MAX_BYTES). */
export const DEFAULT_CAPTURE_MAX_BYTES = 64 * 1024;
/** How long a capture is kept by default (TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS): a week of debugging. */
export const DEFAULT_CAPTURE_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * The request headers kept: what describes the request and the client. An allow list, not a deny list, since a
 * header the gateway does not know (a proxy's, a custom `x-my-token`) may carry a secret: Authorization, X-Api-Key,
 * x-goog-api-key, cookies and every header not named here are never stored.
 */
const REQUEST_HEADERS = new Set([
  'content-type', 'content-length', 'content-encoding', 'accept', 'accept-encoding', 'user-agent',
  'anthropic-version', 'anthropic-beta', 'openai-beta', 'x-goog-api-client', 'mcp-protocol-version',
  'x-stainless-lang', 'x-stainless-package-version', 'x-stainless-os', 'x-stainless-arch', 'x-stainless-runtime',
  'x-stainless-runtime-version', 'x-stainless-retry-count', 'x-stainless-timeout', 'x-amz-user-agent',
]);

/** The answer's headers kept: its type, and the gateway's own `Ngrok-AIG-*` and request ids (none a secret). */
const RESPONSE_HEADERS = new Set([
  'content-type', 'content-length', 'content-encoding', 'retry-after', 'retry-after-ms', 'x-should-retry',
  'x-request-id', 'request-id', 'x-amzn-errortype', 'x-amzn-requestid', 'mcp-session-id',
]);

type HeaderValue = string | number | readonly string[] | undefined;

function keptHeaders(headers: Record<string, HeaderValue>, keep: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(headers)) {
    const name = raw.toLowerCase();
    if (value === undefined || !keep(name)) continue;
    // A header value is bounded as ngrok's Traffic Inspector bounds it (1 KB): a multi-kilobyte beta list says
    // nothing more, and the row stays small.
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    out[name] = text.length > 1024 ? text.slice(0, 1024) : text;
  }
  return out;
}

export function capturedRequestHeaders(headers: Record<string, HeaderValue>): Record<string, string> {
  return keptHeaders(headers, (n) => REQUEST_HEADERS.has(n));
}

export function capturedResponseHeaders(headers: Record<string, HeaderValue>): Record<string, string> {
  return keptHeaders(headers, (n) => RESPONSE_HEADERS.has(n) || n.startsWith('ngrok-aig-'));
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A body's first `limit` bytes, fed chunk by chunk as it passes (nothing is held past the limit, so a long stream
 * costs the gateway `limit` bytes at most), and its whole size.
 */
export class BodyCapture {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #total = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Buffer | Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#total += bytes.length;
    const room = this.#limit - this.#kept;
    if (room <= 0) return;
    // A copy: the caller's buffer may be pooled and reused once written.
    const part = Buffer.from(bytes.subarray(0, Math.min(room, bytes.length)));
    this.#chunks.push(part);
    this.#kept += part.length;
  }

  get bytes(): number {
    return this.#total;
  }

  /** The captured start read as UTF-8, any byte that is not shown as U+FFFD (the access log's body). */
  text(): string {
    return Buffer.concat(this.#chunks, this.#kept).toString('utf8');
  }

  /** The captured start as text when it is UTF-8 (a character cut at the limit dropped), else base64. */
  result(): Pick<CapturedBody, 'body' | 'bodyEncoding' | 'bodyBytes' | 'bodyTruncated'> {
    const kept = Buffer.concat(this.#chunks, this.#kept);
    const truncated = this.#total > this.#kept;
    const text = utf8Prefix(kept, truncated);
    return text === undefined
      ? { body: kept.toString('base64'), bodyEncoding: 'base64', bodyBytes: this.#total, bodyTruncated: truncated }
      : { body: text, bodyEncoding: 'utf8', bodyBytes: this.#total, bodyTruncated: truncated };
  }
}

/** `bytes` as text, or undefined when they are not UTF-8; a cut body may end inside a character (up to 3 bytes). */
function utf8Prefix(bytes: Buffer, cut: boolean): string | undefined {
  for (let drop = 0; drop <= (cut ? Math.min(3, bytes.length) : 0); drop++) {
    try {
      return STRICT_UTF8.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // try without one more trailing byte
    }
  }
  return undefined;
}

/** Bound to the account and the request: a sealed capture copied to another row no longer opens. */
function captureBinding(accountId: string, requestId: string): string {
  return `tollgate request capture ${accountId} ${requestId}`;
}

export function sealCapture(box: SecretBox, capture: RequestCapture): string {
  return box.seal(JSON.stringify({ request: capture.request, response: capture.response }), captureBinding(capture.accountId, capture.requestId));
}

export function openCapture(box: SecretBox, accountId: string, requestId: string, sealed: string): Pick<RequestCapture, 'request' | 'response'> {
  return JSON.parse(box.open(sealed, captureBinding(accountId, requestId))) as Pick<RequestCapture, 'request' | 'response'>;
}
