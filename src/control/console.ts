// The web console's server side: serves the built single-page app (console/dist) at `/` and `/assets/*`,
// and turns a control-plane API key into a browser session. The console itself only calls the public
// contract API; the session cookie is merely another way to present the same API key identity:
//  - POST /console/session {apiKey} checks the key with the API's own SHA-256 lookup and sets an httpOnly,
//    SameSite=Strict cookie holding a random session id. The cookie never carries the token; the server
//    keeps {apiKeyId, accountId, csrfToken, expiry} in memory (a restart signs everyone out, by design).
//  - Cookie-authenticated state-changing requests must echo the session's CSRF token in `x-csrf-token`.
//    SameSite=Strict already stops cross-site sends; the token is the second, independent guard.
//  - POST /console/playground-token {accessKeyId} mints the Playground's 15-minute stand-in for one of the account's
//    access keys (domain/playground-token.ts), which the page sends to the gateway itself (its URL is in the answer and
//    in the CSP's connect-src).
import { timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors, TollgateError, textPrefix } from '../domain/errors.ts';
import { sha256Hex } from '../domain/ids.ts';
import { PlaygroundTokens } from '../domain/playground-token.ts';
import { baseUrlOf, type ControlDeps, type Principal, type RouteExtension, type SessionAuthenticator } from './app.ts';
import { notFound } from './resource.ts';
import { SESSION_TTL_MS, SessionStore, type Session } from './console-sessions.ts';

export const SESSION_COOKIE = 'tollgate_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

// The SPA loads only its own bundle; Chart.js and Preact set element styles through the CSSOM, which
// style-src does not restrict, but Vite may emit a small inline style for the initial paint. The page fetches the
// gateway too (the Playground): connect-src names its origin.
const securityHeaders = (gatewayOrigin: string | undefined): Record<string, string> => ({
  'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'${gatewayOrigin ? ` ${gatewayOrigin}` : ''}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

/**
 * The gateway's base URL as this browser reaches it: TOLLGATE_PUBLIC_GATEWAY_URL, else the host the console was
 * opened at with the gateway's port (the bound one when this process runs the gateway on port 0). Undefined when the
 * request's Host is no host (baseUrlOf refuses it).
 */
function gatewayBaseUrl(request: FastifyRequest, deps: ControlDeps): string | undefined {
  if (deps.config.publicGatewayUrl) return deps.config.publicGatewayUrl;
  let opened: URL;
  try {
    opened = new URL(baseUrlOf(request, deps.config));
  } catch {
    return undefined;
  }
  const bound = deps.gatewayUrl?.();
  opened.port = bound ? new URL(bound).port : String(deps.config.gatewayPort);
  return opened.origin;
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Served over HTTPS: directly, or behind a TLS proxy named by TOLLGATE_PUBLIC_API_URL. */
function isSecure(request: FastifyRequest, publicUrl: string | undefined): boolean {
  return request.protocol === 'https' || publicUrl?.startsWith('https:') === true;
}

/**
 * Over HTTPS the cookie is `__Host-` prefixed: browsers then accept it only from this exact host, Secure, with
 * Path=/ and no Domain, so a sibling subdomain cannot plant a session of its own choosing (the attacker's
 * account) in the console. Only that name is read there. Plain HTTP (local use) cannot have the prefix.
 */
function cookieName(request: FastifyRequest, publicUrl: string | undefined): string {
  return isSecure(request, publicUrl) ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}

function cookie(request: FastifyRequest, publicUrl: string | undefined, value: string, maxAgeSeconds: number): string {
  // Secure only over HTTPS: browsers drop Secure cookies set by plain-HTTP origins other than localhost.
  const secure = isSecure(request, publicUrl) ? '; Secure' : '';
  return `${cookieName(request, publicUrl)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

function isJson(request: FastifyRequest): boolean {
  // A cross-site page cannot send application/json without a CORS preflight this server never grants,
  // which keeps "log the victim in as the attacker" (login CSRF) out of reach.
  return (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json');
}

async function sendFile(reply: FastifyReply, path: string, cache: string, gatewayUrl: string | undefined): Promise<FastifyReply> {
  const body = await readFile(path);
  return reply
    .headers(securityHeaders(gatewayUrl === undefined ? undefined : new URL(gatewayUrl).origin))
    .header('cache-control', cache)
    .type(CONTENT_TYPES[extname(path)] ?? 'application/octet-stream')
    .send(body);
}

async function isFile(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
}

function registerStatic(app: FastifyInstance, deps: ControlDeps): void {
  const index = resolve(DIST, 'index.html');
  app.get('/', async (request, reply) => {
    if (!(await isFile(index))) {
      return reply.code(503).type('text/plain; charset=utf-8')
        .send('The web console is not built. Run `npm run build:console` (scripts/run.sh does it on install).');
    }
    // index.html names the hashed bundles, so it must be revalidated; the bundles themselves never change.
    // no-store, not no-cache: a page that showed a new token must not come back from the back/forward cache.
    return sendFile(reply, index, 'no-store', gatewayBaseUrl(request, deps));
  });
  app.get('/assets/*', async (request, reply) => {
    const rest = (request.params as { '*': string })['*'];
    const path = resolve(DIST, 'assets', rest);
    if (!path.startsWith(resolve(DIST, 'assets') + sep) || !(await isFile(path))) {
      throw new TollgateError(Errors.routeNotFound, { method: 'GET', path: request.url.split('?')[0]! });
    }
    return sendFile(reply, path, 'public, max-age=31536000, immutable', gatewayBaseUrl(request, deps));
  });
}

async function principalForKey(deps: ControlDeps, apiKeyId: string): Promise<Principal | undefined> {
  // Re-read per request so deleting the API key ends its console sessions at once.
  const row = await deps.store.db.selectFrom('apiKeys').select(['id', 'accountId']).where('id', '=', apiKeyId).executeTakeFirst();
  return row ? { accountId: row.accountId, apiKeyId: row.id } : undefined;
}

function csrfRejected(): TollgateError {
  return new TollgateError(Errors.validationFailed, { reason: 'Missing or wrong x-csrf-token header for a cookie-authenticated request; reload the console and sign in again.' }, 403);
}

/** What the page needs of its session; `paymentsConfigured`: whether buying credits can work on this server at all. */
function sessionInfo(session: Session, deps: ControlDeps) {
  return { csrfToken: session.csrfToken, apiKeyId: session.apiKeyId, accountId: session.accountId, expiresAt: new Date(session.expiresAt).toISOString(), paymentsConfigured: deps.config.stripeSecretKey !== undefined };
}

export const consoleExtension: RouteExtension = (app, deps) => {
  const sessions = new SessionStore();
  const playgroundTokens = new PlaygroundTokens(deps.config.masterKey);
  registerStatic(app, deps);

  app.post('/console/session', async (request, reply) => {
    if (!isJson(request)) throw new TollgateError(Errors.validationFailed, { reason: 'Send the API key as JSON: {"apiKey": "..."}.' }, 415);
    const body = request.body as { apiKey?: unknown } | undefined;
    const apiKey = typeof body?.apiKey === 'string' ? body.apiKey.trim() : '';
    if (apiKey === '') throw new TollgateError(Errors.validationFailed, { field: 'apiKey', reason: 'Enter an API key to sign in.' });
    const row = await deps.store.db.selectFrom('apiKeys').select(['id', 'accountId']).where('tokenHash', '=', sha256Hex(apiKey)).executeTakeFirst();
    if (!row) throw new TollgateError(Errors.unauthorized, { reason: 'That API key is not known to this server. Check that you copied the whole key.' });
    const { id, session } = sessions.create(row.id, row.accountId);
    reply.header('set-cookie', cookie(request, deps.config.publicApiUrl, id, SESSION_TTL_MS / 1000)).header('cache-control', 'no-store');
    return sessionInfo(session, deps);
  });

  // Lets a reloaded page recover its CSRF token; cross-origin pages cannot read this (no CORS headers).
  app.get('/console/session', async (request, reply) => {
    const session = sessions.get(readCookie(request, cookieName(request, deps.config.publicApiUrl)));
    if (!session || !(await principalForKey(deps, session.apiKeyId))) throw new TollgateError(Errors.unauthorized);
    reply.header('cache-control', 'no-store');
    return sessionInfo(session, deps);
  });

  app.delete('/console/session', async (request, reply) => {
    const id = readCookie(request, cookieName(request, deps.config.publicApiUrl));
    const session = sessions.get(id);
    if (session && !sameSecret(String(request.headers['x-csrf-token'] ?? ''), session.csrfToken)) throw csrfRejected();
    sessions.delete(id);
    return reply.header('set-cookie', cookie(request, deps.config.publicApiUrl, '', 0)).code(204).send();
  });

  const sessionAuthenticator: SessionAuthenticator = async (request) => {
    const session = sessions.get(readCookie(request, cookieName(request, deps.config.publicApiUrl)));
    if (!session) return undefined;
    if (!SAFE_METHODS.has(request.method) && !sameSecret(String(request.headers['x-csrf-token'] ?? ''), session.csrfToken)) throw csrfRejected();
    return principalForKey(deps, session.apiKeyId);
  };

  // A session's only: a script holding an API key has the access keys' own tokens to call the gateway with.
  app.post('/console/playground-token', async (request, reply) => {
    const principal = await sessionAuthenticator(request);
    if (!principal) throw new TollgateError(Errors.unauthorized, { reason: 'Sign in to the console to use the Playground.' });
    if (!isJson(request)) throw new TollgateError(Errors.validationFailed, { reason: 'Send the access key as JSON: {"accessKeyId": "..."}.' }, 415);
    const body = request.body as { accessKeyId?: unknown } | undefined;
    const accessKeyId = typeof body?.accessKeyId === 'string' ? body.accessKeyId : '';
    if (accessKeyId === '') throw new TollgateError(Errors.validationFailed, { field: 'accessKeyId', reason: 'Choose the access key the Playground sends its requests with: {"accessKeyId": "..."}.' });
    const row = await deps.store.db.selectFrom('accessKeys').select('id').where('id', '=', accessKeyId).where('accountId', '=', principal.accountId).executeTakeFirst();
    // Ids are short: one that is not is named by its start only (the body may hold a megabyte of it).
    if (!row) throw notFound('Access key', accessKeyId.length > 64 ? `${textPrefix(accessKeyId, 64)}…` : accessKeyId, 'accessKeyId');
    const gatewayUrl = gatewayBaseUrl(request, deps);
    if (gatewayUrl === undefined) throw new TollgateError(Errors.validationFailed, { reason: 'The Host header must be a host name or address with an optional port.' });
    const { token, expiresAt } = playgroundTokens.mint(principal.accountId, row.id);
    reply.header('cache-control', 'no-store');
    // The lifetime too: the page counts it from its own clock, which may not agree with this host's.
    return { token, expiresAt: new Date(expiresAt).toISOString(), expiresInSeconds: Math.floor((expiresAt - Date.now()) / 1000), gatewayUrl };
  });
  return { sessionAuthenticator };
};
