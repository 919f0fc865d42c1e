// The control-plane HTTP app. Routes come from the contract: every operation in
// spec/control-plane.openapi.yaml is bound to the handler of the same operationId, HEAD operations reuse
// their GET handler (its header fields without the body), and the app refuses to start if any operation has
// no handler.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { IncomingHttpHeaders } from 'node:http';
import { byteSize } from '../domain/byte-size.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { sha256Hex } from '../domain/ids.ts';
import type { Store } from '../store/database.ts';
import type { Config } from '../config/config.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import type { ChangeBus } from '../state/changes.ts';
import { contractDocument, operations, type ContractOperation } from './contract.ts';
import { validateBody, validateQuery } from './validation.ts';
import { ApiKeyUsage } from './api-key-usage.ts';
import { answerClientError } from '../http/client-error.ts';
import { clientTimeoutOptions, closeAfterAnswer } from '../http/client-timeouts.ts';

/**
 * PostgreSQL text cannot hold U+0000 (SQLite can): refused in every body and URL on both stores, so a client's
 * NUL is a 400 rather than an internal error, and the two stores accept the same input.
 */
const NUL_ESCAPE = /%00/i;
/** Throws on invalid UTF-8; a leading byte-order mark is dropped. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The first text value or key in `value` a store would not keep as sent: a NUL, or a lone surrogate (JSON's
 * `"\ud800"` escape unpaired — not Unicode text; both stores would keep U+FFFD instead, while the create answer
 * echoed the original: the silent change invalid UTF-8 bytes are refused to avoid).
 */
function unstorableText(value: unknown): 'nul' | 'surrogate' | undefined {
  const check = (s: string) => (s.includes('\0') ? 'nul' : s.isWellFormed() ? undefined : 'surrogate');
  // Iterative: a deeply nested body must not overflow the stack here (validation refuses it later).
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      const found = check(v);
      if (found) return found;
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        const found = check(key);
        if (found) return found;
        pending.push(item);
      }
    }
  }
  return undefined;
}

export interface Principal { accountId: string; apiKeyId: string }

export interface ControlDeps {
  store: Store;
  config: Config;
  secretBox: SecretBox;
  changes: ChangeBus;
  logger: Logger;
  /**
   * Resolves a principal from something other than the Bearer header (the console's session cookie).
   * Tried only when no Bearer header is present, so API-key callers behave exactly as before. It may
   * throw a TollgateError (e.g. 403 for a missing CSRF token) and returns undefined when it has no opinion.
   */
  sessionAuthenticator?: SessionAuthenticator;
  /** Where API keys' lastUsed times are kept until flushed (one is made, and flushed on close, if absent). */
  apiKeyUsage?: ApiKeyUsage;
  /** The gateway's bound URL when this process runs it too (its port when TOLLGATE_GATEWAY_PORT is 0). */
  gatewayUrl?: () => string | undefined;
}

export type SessionAuthenticator = (request: FastifyRequest) => Promise<Principal | undefined>;

export interface Call {
  op: ContractOperation;
  principal: Principal;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Absolute base URL of this API (for resource `uri`s). */
  base: string;
  /** Request path without the query string. */
  path: string;
  /** The request's headers (operations with header parameters, such as Idempotency-Key). */
  headers: IncomingHttpHeaders;
}

/** Returns the success body (undefined for 204). */
export type Handler = (call: Call) => Promise<unknown>;
export type HandlerTable = Record<string, Handler>;
export type HandlerFactory = (deps: ControlDeps) => HandlerTable;

/**
 * Extra non-contract routes (webhooks, health, spec, console) a module may add. An extension may return a
 * session authenticator (the console does), because ControlDeps are built by callers that know no console.
 */
export type RouteExtension = (app: FastifyInstance, deps: ControlDeps) => void | { sessionAuthenticator?: SessionAuthenticator };

export function contractErrorBody(status: number, code: string | undefined, msg: string, details: Record<string, string>) {
  return code === undefined ? { statusCode: status, msg, details } : { errorCode: code, statusCode: status, msg, details };
}

/** The account and API key a control-plane API key token names; 401 when it names none. */
export async function apiKeyPrincipal(store: Store, token: string, log: FastifyBaseLogger): Promise<Principal> {
  const row = await store.db.selectFrom('apiKeys').select(['id', 'accountId']).where('tokenHash', '=', sha256Hex(token)).executeTakeFirst().catch((error: unknown) => {
    log.error({ err: error }, 'control-plane API key lookup failed');
    throw new TollgateError(Errors.authenticationUnavailable);
  });
  if (!row) {
    // A gateway access key looks like a key too: said so, as for the reverse on the gateway.
    throw new TollgateError(Errors.unauthorized, { reason: token.startsWith('ng-') ? 'That is a gateway access key (ng-…); the control plane takes a control-plane API key (tgapi_…).' : 'The API key is unknown or was deleted.' });
  }
  return { accountId: row.accountId, apiKeyId: row.id };
}

/** The token of an `Authorization: Bearer <token>` header; undefined when there is none or it is not that form. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** RFC 9110 §11.6.1: a 401 names the scheme that would be accepted (the console's cookie is no HTTP scheme). */
const CHALLENGE = 'Bearer realm="control-plane"';

/** The client-error answer's extra header line (written on the socket, past the onSend hook). */
const NO_STORE_LINE = 'cache-control: no-store\r\n';

/** Methods whose body an operation reads; any other's is read off the connection and ignored (RFC 9110 §9.3). */
const BODY_METHODS = new Set(['POST', 'PATCH', 'PUT']);
/** The largest control-plane body read: the resources are small JSON documents. */
const CONTROL_BODY_LIMIT = 1024 * 1024;

function sendError(reply: FastifyReply, err: TollgateError): FastifyReply {
  if (err.status === 401) reply.header('www-authenticate', CHALLENGE);
  return reply.code(err.status).type('application/json').send(contractErrorBody(err.status, err.code, err.message, err.details));
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

function toFastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** RFC 9112 §3.2's `host [ ":" port ]`: a name or an IPv4 address (unreserved characters), or a bracketed IPv6 one. */
const HOST_HEADER = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{0,5})?$/;

/**
 * The answers' `uri`s and `nextPageUri` are built from the Host the client sent (or the configured public URL).
 * Any other value (`evil.example/x#`, `a b`) would make a client that follows `nextPageUri` send its API key
 * elsewhere: a 400, as RFC 9112 asks for an invalid Host.
 */
export function baseUrlOf(request: FastifyRequest, config: Config): string {
  if (config.publicApiUrl) return config.publicApiUrl;
  // HTTP/1.0 needs no Host: the address the request came in on names this server.
  if (!request.host) {
    const { localAddress, localPort } = request.raw.socket;
    if (localAddress) return `${request.protocol}://${localAddress.includes(':') ? `[${localAddress}]` : localAddress}:${localPort}`;
  }
  if (!HOST_HEADER.test(request.host)) throw new TollgateError(Errors.validationFailed, { reason: 'The Host header must be a host name or address with an optional port.' });
  return `${request.protocol}://${request.host}`;
}

export async function buildControlApp(deps: ControlDeps, factories: readonly HandlerFactory[], extensions: readonly RouteExtension[] = []): Promise<FastifyInstance> {
  const timeouts = clientTimeoutOptions(deps.config.clientHeadersTimeoutMs, deps.config.clientRequestTimeoutMs);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    bodyLimit: CONTROL_BODY_LIMIT,
    // Fastify passes `http` to http.createServer and sets `requestTimeout` itself (its default, 0, is off).
    http: timeouts,
    requestTimeout: timeouts.requestTimeout!,
    // Fastify's own 503 while closing has its own body ({error, message}); answered in the contract's shape below.
    return503OnClosing: false,
    // The router refuses a path parameter over its limit as a route that does not exist (Fastify's default, 100
    // characters, even with its own 414 body): every id must reach its handler, whose answer for an unknown one is the
    // resource's not-found. So the limit is above what a request line can carry within the server's header limit
    // (16 KB; longer is 431, client-error.ts); what the router still refuses (an injected request) gets the contract's
    // error shape below.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 65_536 },
    frameworkErrors: (error, request, reply) => {
      const path = request.url.split('?')[0]!;
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        return sendError(reply, new TollgateError(Errors.routeNotFound, { method: request.method, path: path.slice(0, 200) }));
      }
      return sendError(reply, new TollgateError(Errors.validationFailed, { reason: `The request URL is malformed: ${error.message}` }));
    },
    clientErrorHandler: (error, socket) => answerClientError(error, socket, ({ status, reason }) =>
      JSON.stringify(contractErrorBody(status, Errors.validationFailed.code, reason, { reason })), NO_STORE_LINE),
  });

  // Answers are per caller, errors included (a 404 or a 400 names ids and resources of the account), and some carry
  // a secret shown once (a new token): kept by no cache, the browser's back/forward cache included. A route that
  // sets its own policy keeps it (the console's hashed bundles are immutable).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  // Scripts often omit Content-Type; every body on this API is JSON, so parse whatever arrives as JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    // A DELETE's body has no meaning: a malformed one must not refuse the delete.
    if (!BODY_METHODS.has(req.method)) return done(null, undefined);
    let text: string;
    try {
      // JSON is UTF-8 (RFC 8259): invalid bytes are refused, not stored as U+FFFD in a key's name or secret.
      text = typeof body === 'string' ? body : STRICT_UTF8.decode(body);
    } catch {
      return done(new TollgateError(Errors.validationFailed, { reason: 'The request body is not valid UTF-8.' }), undefined);
    }
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return done(new TollgateError(Errors.validationFailed, { reason: `The request body is not valid JSON: ${(e as Error).message}` }), undefined);
    }
    // Only bodies that could hold one are walked (a NUL or a surrogate is written as a `\u` escape in JSON; a NUL may
    // also come raw, while strict decoding already refused surrogates sent as bytes).
    const unstorable = text.includes('\\u') || text.includes('\0') ? unstorableText(value) : undefined;
    if (unstorable === 'nul') {
      return done(new TollgateError(Errors.validationFailed, { reason: 'Text values must not contain NUL characters (U+0000).' }), undefined);
    }
    if (unstorable === 'surrogate') {
      return done(new TollgateError(Errors.validationFailed, { reason: 'Text values must be Unicode text: an unpaired surrogate escape (\\ud800 to \\udfff alone) is not.' }), undefined);
    }
    done(null, value);
  });

  // A compressed body (`Content-Encoding: gzip`) is refused as such rather than read as JSON that is "not valid
  // UTF-8": bodies here are a few hundred bytes. RFC 9110 §15.5.16: 415, with the codings accepted (none).
  app.addHook('preParsing', async (request, reply) => {
    const coding = request.headers['content-encoding']?.trim().toLowerCase();
    if (coding === undefined || coding === '' || coding === 'identity' || !BODY_METHODS.has(request.method) || request.is404) return;
    reply.header('accept-encoding', 'identity');
    throw new TollgateError(Errors.validationFailed, { reason: `Content-Encoding "${coding.slice(0, 40)}" is not accepted: send the JSON body uncompressed.` }, 415);
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof TollgateError) return sendError(reply, error);
    const e = error as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new TollgateError(Errors.requestBodyTooLong, { limit: byteSize(CONTROL_BODY_LIMIT) }));
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, new TollgateError(Errors.validationFailed, { reason: e.message ?? 'Bad request.' }, e.statusCode));
    }
    request.log.error({ err: error, operation: request.routeOptions.config }, 'control-plane request failed');
    return sendError(reply, new TollgateError(Errors.internal));
  });

  const patterns = operations.map((op) => ({ op, re: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}/?$`) }));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const sameResource = patterns.filter((p) => p.re.test(path));
    if (sameResource.length > 0) {
      // RFC 9110: a 405 lists the methods the resource does support.
      reply.header('allow', [...new Set(sameResource.map((p) => p.op.method))].join(', '));
      return sendError(reply, new TollgateError(Errors.methodNotAllowed, { method: request.method, path }));
    }
    // A model call sent to the control plane's port: the user mixed the two URLs up.
    const details: Record<string, string> = { method: request.method, path };
    if (/^\/v1(beta)?\//.test(path)) details.reason = 'This is the control plane; model requests (/v1/…) go to the gateway, on its own port (TOLLGATE_GATEWAY_PORT, 8080 by default).';
    return sendError(reply, new TollgateError(Errors.routeNotFound, details));
  });

  // A request that reaches a closing app (pipelined, or on a busy keep-alive connection) is shed with a 503 before
  // any other work, as Fastify's return503OnClosing would, but in the contract's Error shape.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onRequest', async (request, reply) => {
    if (!closing) return;
    const reason = 'The server is shutting down; retry the request.';
    closeAfterAnswer(request.raw, reply.raw);
    return reply.code(503).header('connection', 'close').type('application/json').send(contractErrorBody(503, undefined, reason, { reason }));
  });

  const apiKeyUsage = deps.apiKeyUsage ?? new ApiKeyUsage(deps.store.db, deps.logger);
  app.addHook('onClose', () => apiKeyUsage.close());

  const handlers: HandlerTable = {};
  for (const factory of factories) Object.assign(handlers, factory(deps));

  // Filled from deps and from extensions (registered after the routes; read per request, so that is fine).
  const sessionAuthenticators: SessionAuthenticator[] = deps.sessionAuthenticator ? [deps.sessionAuthenticator] : [];
  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      // A malformed or non-Bearer Authorization header is refused as such, never rescued by a session cookie.
      if (request.headers.authorization !== undefined) throw new TollgateError(Errors.unauthorized, { reason: 'The Authorization header is not "Bearer <API key>".' });
      for (const resolve of sessionAuthenticators) {
        const principal = await resolve(request);
        if (principal) return principal;
      }
      throw new TollgateError(Errors.unauthorized, { reason: 'No API key: send "Authorization: Bearer <API key>".' });
    }
    return apiKeyPrincipal(deps.store, token, request.log);
  };

  const principals = new WeakMap<FastifyRequest, Principal>();
  const missing: string[] = [];
  for (const op of operations) {
    const getTwin = op.method === 'HEAD' ? operations.find((o) => o.method === 'GET' && o.path === op.path) : undefined;
    const handler = handlers[op.operationId] ?? (getTwin ? handlers[getTwin.operationId] : undefined);
    if (!handler) { missing.push(op.operationId); continue; }
    const validationOp = getTwin ?? op;
    // `PATCH {}` changes nothing: answered as the GET it amounts to (404 for an unknown id), so the resource's
    // updatedAt and lastUpdatedBy stay, and no gateway is told to reload.
    const readTwin = op.method === 'PATCH' ? operations.find((o) => o.method === 'GET' && o.path === op.path) : undefined;
    const readHandler = readTwin ? handlers[readTwin.operationId] : undefined;
    app.route({
      method: op.method,
      url: toFastifyPath(op.path),
      // Before the body is read and parsed: an anonymous caller costs a header lookup, not a 1 MiB JSON parse.
      onRequest: async (request, reply) => {
        try {
          principals.set(request, await authenticate(request));
        } catch (error) {
          closeAfterAnswer(request.raw, reply.raw);
          throw error;
        }
      },
      handler: async (request, reply) => {
        const principal = principals.get(request)!;
        apiKeyUsage.mark(principal.apiKeyId);
        if (NUL_ESCAPE.test(request.url)) throw new TollgateError(Errors.validationFailed, { reason: 'The request URL must not contain NUL characters (%00).' });
        const query = validateQuery<Record<string, unknown>>(validationOp, request.query as Record<string, unknown>);
        const body = op.method === 'POST' || op.method === 'PATCH' ? validateBody(op, request.body) : undefined;
        const path = request.url.split('?')[0]!;
        const unchanged = readHandler !== undefined && isEmptyObject(body);
        const result = await (unchanged ? readHandler : handler)({ op: unchanged ? readTwin! : op, principal, params: request.params as Record<string, string>, query, body, base: baseUrlOf(request, deps.config), path, headers: request.headers });
        reply.code(op.successStatus);
        if (op.successStatus === 204 || result === undefined) return reply.send();
        // A HEAD is answered with its GET's header fields, Content-Type and Content-Length included (RFC 9110
        // §9.3.2); node writes no body for it.
        return reply.type('application/json').send(result);
      },
    });
  }
  if (missing.length > 0) throw new Error(`control plane has no handler for: ${missing.join(', ')}`);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/openapi.json', async () => contractDocument);
  for (const extend of extensions) {
    const hooks = extend(app, deps);
    if (hooks?.sessionAuthenticator) sessionAuthenticators.push(hooks.sessionAuthenticator);
  }
  await app.ready();
  return app;
}
