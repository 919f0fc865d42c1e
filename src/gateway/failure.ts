// What the client sees when no attempt served an answer (gateway.md §8, decisions in
// docs/decisions/gateway-behaviour.md): every failure a 429 → 429 (SDKs raise RateLimitError); the total
// timeout → 504 3810; the last attempt timed out → 504 27207; every answer longer than the gateway holds → 502
// UPSTREAM_RESPONSE_TOO_LONG; only connection errors → 502 3800 (27235 when the last one broke off after the
// provider answered); anything
// else → 503 3807 listing each attempt (provider, model, key id, status — never a secret or a provider body); a
// request never written (a stored key no header can carry) among them, said so rather than "unreachable".
import { byteSize } from '../domain/byte-size.ts';
import { tollgateError, type TollgateError } from '../domain/errors.ts';
import type { AttemptRecord } from './meter.ts';

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0) return `${(ms / 1000).toFixed(3).replace(/0+$/, '')}s`;
  const s = ms / 1000;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
}

function describe(r: AttemptRecord, i: number, perRequestMs: number): string {
  const { candidate, providerKey, keySource } = r.plan;
  // The key's id, not its name: the answer goes to whoever holds the access key (an app, a customer), while a
  // name is the operator's free text ("acme-prod-billing"); the id is opaque and all the operator needs to find it.
  const key = keySource === 'ngrok' ? 'managed key' : providerKey ? `key ${providerKey.id}` : 'no key';
  let what: string;
  switch (r.failure) {
    case 'timeout': what = `timed out after ${formatMs(perRequestMs)}`; break;
    case 'connection': what = r.statusCode ? `HTTP ${r.statusCode}, then the connection broke` : 'connection failed'; break;
    case 'empty': what = `HTTP ${r.statusCode}, then a stream that ended without any event`; break;
    case 'unreadable': what = `HTTP ${r.statusCode}, then a body that is not a JSON answer`; break;
    case 'rate-limited': {
      // In a 200 stream (an error event after its opening events) or as a 429.
      const how = r.statusCode < 300 ? `HTTP ${r.statusCode}, then a ${r.quotaExhausted ? 'quota' : 'rate-limit'} error event` : 'HTTP 429';
      what = r.quotaExhausted ? `${how} insufficient quota (the provider account's plan and billing)` : `${how} rate limited`;
      break;
    }
    case 'server':
      if (r.statusCode < 300) what = `HTTP ${r.statusCode}, then an error event before any output`;
      else if (r.statusCode < 400) what = `HTTP ${r.statusCode} redirect, not followed`;
      else what = `HTTP ${r.statusCode}`;
      break;
    case 'auth': what = r.keyError ? `${r.keyError.code} ${r.keyError.message}` : r.statusCode === 402 ? 'HTTP 402 credential out of funds' : r.quotaExhausted ? `HTTP ${r.statusCode} credit balance too low (the provider account's plan and billing)` : `HTTP ${r.statusCode} credential rejected`; break;
    case 'too-long': what = r.heldShared === 'account' ? `HTTP ${r.statusCode}, then an answer the gateway could not hold beside this account's others it held (${byteSize(r.heldLimit ?? 0)} of one account's answers at once)`
      : r.heldShared ? `HTTP ${r.statusCode}, then an answer the gateway could not hold beside the others it held (${byteSize(r.heldLimit ?? 0)} of answers at once)` : `HTTP ${r.statusCode}, then an answer longer than ${byteSize(r.heldLimit ?? 0)}`; break;
    case 'unsendable': what = 'not sent: a header value holds characters HTTP forbids (rotate the provider key to one without line breaks or control characters)'; break;
    default: what = r.statusCode ? `HTTP ${r.statusCode}` : 'no response';
  }
  return `[${i + 1}] ${candidate.provider.id}:${candidate.modelId} with ${key}: ${what}`;
}

export function exhaustedError(records: readonly AttemptRecord[], totalTimedOut: boolean, settings: { totalTimeoutMs: number; perRequestTimeoutMs: number }): TollgateError {
  if (totalTimedOut) return tollgateError('totalTimeout', { timeout: formatMs(settings.totalTimeoutMs) });
  const last = records[records.length - 1];
  if (records.length > 0 && records.every((r) => r.failure === 'rate-limited')) {
    // Out of quota everywhere: no retry will help, and the client's SDK must not treat it as a passing rate limit.
    if (records.every((r) => r.quotaExhausted)) {
      return tollgateError('upstreamQuotaExhausted', { reason: `every attempt (${records.length}) was refused by the provider for insufficient quota: check the plan and billing of the provider account, or add a key of another account.` });
    }
    return tollgateError('upstreamRateLimited', { reason: `every attempt (${records.length}) was rate limited by the provider.` });
  }
  // Every key failed before any call (a Bedrock role key AWS refused, or one without its role yet): the last one's
  // own code and message, which name the key and what to fix.
  if (last?.keyError && records.every((r) => r.keyError)) return last.keyError;
  if (last?.failure === 'timeout') return tollgateError('upstreamTimeout', { timeout: formatMs(settings.perRequestTimeoutMs) });
  // Every answer was longer than the gateway holds: the request's own doing (so much output, unstreamed), which
  // ngrok's page names with its remedy, where a list of attempts would not.
  if (records.length > 0 && records.every((r) => r.failure === 'too-long')) {
    const own = records.filter((r) => !r.heldShared);
    // Refused only for the room other answers took: the gateway's capacity, which a retry may find again.
    if (own.length === 0) return tollgateError('gatewayBusy');
    return tollgateError('upstreamResponseTooLong', { limit: byteSize(Math.max(...own.map((r) => r.heldLimit ?? 0))) });
  }
  if (last && records.every((r) => r.failure === 'connection')) {
    // The provider was reached and answered, but its body broke off: not "unreachable".
    if (last.statusCode) {
      return tollgateError('upstreamStreamBroken', { reason: `provider "${last.plan.candidate.provider.id}" answered HTTP ${last.statusCode}, then the connection broke before the answer was complete.` });
    }
    return tollgateError('upstreamUnreachable', { provider: last.plan.candidate.provider.id, reason: records.length > 1 ? `${records.length} connection attempts failed.` : 'the connection failed.' });
  }
  return tollgateError('allProvidersFailed', { errors: records.map((r, i) => describe(r, i, settings.perRequestTimeoutMs)).join('; ') });
}
