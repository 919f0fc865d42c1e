// The access-log line: one per gateway request, written after the answer is complete through the
// process's pino logger (batched destination, config/log-destination.ts). It names what happened — ids,
// models, provider, attempts, status, tokens, cost, durations — and never carries a prompt, a completion, an
// access-key token or a provider key. Bodies appear only with TOLLGATE_LOG_BODIES=1 (an operator's explicit choice for
// debugging), truncated, with credential headers removed.
import type { IncomingHttpHeaders } from 'node:http';
import pino, { type Logger } from 'pino';
import { BatchedLogDestination } from '../../config/log-destination.ts';
import { cutText, wellFormed } from '../../domain/errors.ts';

/** Longest body kept per side when body capture is on. */
export const BODY_CAPTURE_BYTES = 4096;

/**
 * Client headers never logged, even with body capture on: any name that may carry a credential (Azure's `api-key`,
 * a proxy's `x-forwarded-authorization`, an app's own `x-session-token`), any value given as an HTTP credential,
 * and any value holding a token of Tollgate's own shapes (access key `ng-xxxxx-g1-…`, API key `tgapi_…`, the console
 * Playground's `tgpg_…`) or a
 * provider key's usual shape (`sk-`, Groq's `gsk_`, xAI's `xai-`, Google's `AIza…`) or a signed token's (a JWT, `eyJ….….…`:
 * Cloudflare Access's `cf-access-jwt-assertion`, an identity proxy's), under whatever name an app sends it.
 */
const SECRET_HEADER_NAME = /auth|key|token|secret|session|cookie|signature|password|credential|jwt|assertion|bypass/i;
const CREDENTIAL_VALUE = /^\s*(bearer|basic|token)\s|ng-[0-9a-z]{5}-g1-|tgapi_|tgpg_|(^|[^0-9a-z])(sk-|gsk_|xai-)|AIza[0-9A-Za-z_-]{20}|eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]+\./i;

function secretHeader(name: string, value: string | string[]): boolean {
  if (SECRET_HEADER_NAME.test(name)) return true;
  return typeof value === 'string' ? CREDENTIAL_VALUE.test(value) : value.some((v) => CREDENTIAL_VALUE.test(v));
}

export interface AccessLine {
  requestId: string;
  accessKeyId: string | null;
  accountId: string | null;
  /** null: a request the gateway could not parse (no path known). */
  surface: string | null;
  streaming: boolean;
  modelAsked: string | null;
  modelServed: string | null;
  provider: string | null;
  keySource: string | null;
  attempts: number;
  retryActions: string;
  /** Attempts the gateway placed after their model's ready keys because their key was cooling after a rate limit; absent: none. */
  deferredAttempts?: number;
  completion: string | null;
  status: number;
  errorCode?: string;
  /** Firewall's findings (Ngrok-AIG-Firewall's text), those on a streamed answer's tool calls included. */
  firewall?: string;
  clientGone: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  usageEstimated: boolean;
  costUsd: string;
  /** null: a request the gateway could not parse (node gives no start time for it). */
  totalMs: number | null;
  upstreamMs: number;
  /** null when the client left before any byte of an answer (status 499). */
  ttfbMs: number | null;
  /** Realtime sessions only: the responses metered (usage events), and what ended the session. */
  responses?: number;
  sessionEnd?: string;
  requestHeaders?: Record<string, string | string[]>;
  requestBody?: string;
  responseBody?: string;
}

/**
 * Writes access lines exactly as `logger.info(line, 'request')` would (same level, time, bindings and message
 * fields, same destination), without pino's per-line serialiser and redaction. For lines whose
 * fields are safe by construction only.
 */
export function fastAccessWriter(logger: Logger): (line: AccessLine) => void {
  const destination = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  const level = logger.levels.values.info!;
  const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
  if (destination instanceof BatchedLogDestination) {
    // The process's own destination copies the pieces straight into its batch: the line's JSON is not copied again
    // into one joined string. One array for every line (the destination reads it before returning).
    const parts = [`{"level":${level},"time":`, '', `,${bindings},`, '', ',"msg":"request"}\n'];
    return (line) => {
      if (!logger.isLevelEnabled('info')) return;
      parts[1] = String(Date.now());
      parts[3] = JSON.stringify(line).slice(1, -1);
      destination.writeParts(parts);
      parts[3] = '';
    };
  }
  return (line) => {
    if (!logger.isLevelEnabled('info')) return;
    destination.write(`{"level":${level},"time":${Date.now()},${bindings},${JSON.stringify(line).slice(1, -1)},"msg":"request"}\n`);
  };
}

/** Pico-USD → USD with 5 decimals, rounded half up (1e-5 USD = 1e7 pico). */
export function usd5(pico: bigint): string {
  const units = (pico + 5_000_000n) / 10_000_000n;
  const whole = units / 100_000n;
  return `${whole}.${(units - whole * 100_000n).toString().padStart(5, '0')}`;
}

export function ms(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Client text as a log line or a span carries it: cut, never half an emoji at the cut, and well-formed. A lone surrogate
 * goes out as `\ud83d`, which strict JSON readers refuse (serde_json, and the log shippers built on it): a JSON body's
 * escapes may hold one whole, so it is replaced (U+FFFD) as well. Checked after the cut, on at most `max` characters.
 */
export function truncate(text: string, max = BODY_CAPTURE_BYTES): string {
  return wellFormed(cutText(text, max));
}

export function safeHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    out[name] = secretHeader(name, value) ? '[redacted]' : value;
  }
  return out;
}

