// What a 200 event stream says before the gateway commits to it. Responses and Messages streams open with events
// that carry no answer (`response.created`, `response.in_progress`; `message_start`, `ping`), and providers report
// a failure right after them: OpenAI's rate limits and server errors as an `error` event (or `response.failed`)
// after `response.in_progress`, Anthropic's `overloaded_error` after `message_start`. Committed at the first byte,
// such a stream would hand the client an error the next key or model could have answered. So the opening is held
// until its first event past those (at most PREAMBLE_HOLD_MS, after which the stream is committed as it is).
import type { FailureKind } from './meter.ts';

const PREAMBLE = new Set(['response.created', 'response.in_progress', 'message_start', 'ping']);

/** Longest the opening is held waiting for an event past the preamble (a reasoning model may think long first). */
export const PREAMBLE_HOLD_MS = 1000;
/** Only this much of the opening is read: a preamble is a few hundred bytes. */
const OPENING_BYTES = 64 * 1024;

export type Opening = 'preamble' | 'content' | { failure: FailureKind; quotaExhausted: boolean };

const RATE_LIMITED = /rate_limit|too_many_requests|rate limit/i;
const QUOTA = /insufficient_quota/;

/** The request's own fault, which another key or model would refuse too: relayed as the provider said it. */
const CLIENT_FAULT = /"(?:type|code)"\s*:\s*"(?:invalid_request_error|invalid_prompt|context_length_exceeded|content_filter|content_policy_violation|request_too_large)"/;

function failureOf(data: string): Opening {
  if (CLIENT_FAULT.test(data)) return 'content';
  const quotaExhausted = QUOTA.test(data);
  return { failure: quotaExhausted || RATE_LIMITED.test(data) ? 'rate-limited' : 'server', quotaExhausted };
}

/**
 * `preamble` while every complete event so far is a preamble event (or none is complete); `content` once another
 * event came; a failure when that event reports one (`error`, `response.failed`, an OpenAI-style `{"error": …}`).
 */
export function streamOpening(received: readonly Buffer[]): Opening {
  let bytes = 0;
  const parts: Buffer[] = [];
  for (const chunk of received) {
    parts.push(chunk);
    bytes += chunk.length;
    if (bytes >= OPENING_BYTES) return 'content';
  }
  let text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes)).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  let start = 0;
  for (let end = text.indexOf('\n\n'); end >= 0; start = end + 2, end = text.indexOf('\n\n', start)) {
    let event = '';
    let data = '';
    for (const line of text.slice(start, end).split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
    }
    if (event === '' && data === '') continue;
    if (event === '') event = /^\{\s*"type"\s*:\s*"([^"]+)"/.exec(data)?.[1] ?? '';
    if (PREAMBLE.has(event)) continue;
    if (event === 'error' || event === 'response.failed' || /^\{\s*"error"\s*:/.test(data)) return failureOf(data);
    return 'content';
  }
  return 'preamble';
}
