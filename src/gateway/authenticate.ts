// Stage 1: the access key from `Authorization: Bearer`, `x-api-key` or `x-goog-api-key` (or a Gemini call's
// `?key=`), looked up in memory. Missing or unknown → 401 before anything else happens; no provider is ever reached.
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthenticatedKey } from '../state/types.ts';
import { tollgateError, type TollgateError } from '../domain/errors.ts';
import type { GatewayStateView } from './context.ts';

export function accessToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  // Scheme is case-insensitive (RFC 9110); the token is everything after the first space.
  if (auth && auth.length > 7 && auth.charCodeAt(6) === 32 && auth.slice(0, 6).toLowerCase() === 'bearer') {
    const token = auth.slice(7).trim();
    if (token) return token;
  }
  const key = apiKeyHeader(headers);
  return key !== undefined && key !== '' ? key.trim() : undefined;
}

/** The key of the API-key header (Anthropic's `x-api-key`, else Google's `x-goog-api-key`), as sent. */
function apiKeyHeader(headers: IncomingHttpHeaders): string | undefined {
  const key = headers['x-api-key'] ?? headers['x-goog-api-key'];
  return typeof key === 'string' ? key : undefined;
}

export const missingKey = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'no access key in the request; send it as "Authorization: Bearer <key>" or "x-api-key: <key>".' });
const malformedAuthorization = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'the Authorization header is not "Bearer <access key>".' });
export const unknownKey = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'the access key is invalid or has been deleted.' });
/** The control plane's key sent here: said so, as the two look alike to a user holding only one. */
const controlPlaneKey = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'that is a control-plane API key (tgapi_…), which only the control plane takes; the gateway takes an access key (ng-…), created with POST /access-keys.' });
/** A key header sent twice, which node:http joins with ", " (server.ts, joinDuplicateHeaders): no key has a comma. */
const repeatedKeyHeader = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'the request sends its access key header more than once (two Authorization or x-api-key headers); send one key, once.' });
/** A bearer token refused while an `x-api-key` holds another: the user must learn which of the two was read. */
const unknownBearerBesideApiKey = (): TollgateError => tollgateError('accessKeyMissing', { reason: 'the access key in the Authorization header is invalid or has been deleted. The request also has an x-api-key header with another key, which is not read when Authorization holds one: send one key.' });

function unknown(token: string, headers: IncomingHttpHeaders | undefined): TollgateError {
  if (token.startsWith('tgapi_')) return controlPlaneKey();
  if (token.includes(',')) return repeatedKeyHeader();
  const other = headers === undefined ? undefined : apiKeyHeader(headers)?.trim();
  if (headers?.authorization !== undefined && other !== undefined && other !== '' && other !== token) return unknownBearerBesideApiKey();
  return unknownKey();
}
/** A key not in memory, and the database that would know it does not answer: ngrok's "Failed to validate API key.
 * Please try again later." (500 27009), a retry may well succeed (the state logs the outage once). */
const keysUnavailable = (): TollgateError => tollgateError('accessKeysUnavailable');

/**
 * The authenticated key, or a 401 error. Synchronous when the key is cached. `queryKey`: a Gemini route's `?key=`
 * (Google's API takes its key there too), read when no header carries one.
 */
export function authenticate(state: GatewayStateView, headers: IncomingHttpHeaders, queryKey?: string): AuthenticatedKey | TollgateError | Promise<AuthenticatedKey | TollgateError> {
  return authenticateToken(state, accessToken(headers) ?? (queryKey || undefined), headers.authorization !== undefined, headers);
}

/**
 * `token` (found where the caller's endpoint takes it: the MCP gateway prefers `x-api-key`) as an authenticated key,
 * or a 401 error; `authorization`: the request had an Authorization header, which held no bearer token when none is given.
 * `headers`: the request's, when the token was read by accessToken's order (a refusal then names the header it read).
 */
export function authenticateToken(state: GatewayStateView, token: string | undefined, authorization: boolean, headers?: IncomingHttpHeaders): AuthenticatedKey | TollgateError | Promise<AuthenticatedKey | TollgateError> {
  if (!token) return authorization ? malformedAuthorization() : missingKey();
  const found = state.authenticate(token);
  if (found instanceof Promise) return found.then((k) => k ?? unknown(token, headers), keysUnavailable);
  return found ?? unknown(token, headers);
}
