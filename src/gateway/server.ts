// The gateway's HTTP server: plain node:http (the hot path; no framework; HTTP/2 with prior knowledge on the same
// port through node:http2's compatibility API, src/http/h2c.ts), routing by method + path to the
// model pipeline, GET /v1/models and /v1/models/{id}, /healthz and CORS preflights. Every response carries a fresh `rq_…` id
// in Ngrok-AIG-Request-Id, errors included.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { newId } from '../domain/ids.ts';
import { stopTokenCounter } from '../domain/token-counter.ts';
import { Errors, TollgateError, tollgateError } from '../domain/errors.ts';
import { answerClientError, TIMED_OUT } from '../http/client-error.ts';
import { clientTimeoutOptions } from '../http/client-timeouts.ts';
import { requestHost, serveH2c } from '../http/h2c.ts';
import type { Duplex } from 'node:stream';
import type { GatewayDeps, RequestContext, SurfaceRoute } from './context.ts';
import { baseHeaders, CORS_DEFAULT_ALLOWED_HEADERS, CORS_PREFLIGHT_METHODS, H_ATTEMPTS, H_REQUEST_ID } from './headers.ts';
import { codecs } from './formats/index.ts';
import { bedrockAddress, bedrockRoute, errorRouteFor, geminiRoute, geminiVersionHint, GEMINI_MODELS_ROUTE, GEMINI_STREAM_ROUTE, isGeminiModelsPath, MCP_ROUTE, mcpPath, MODEL_PATH_PREFIX, MODELS_PATH, modelsRouteFor, pathHint, pathNamesAnyModel, SURFACE_ROUTES } from './routes.ts';
import { endStreamWithError, writeError, writeJson } from './respond.ts';
import { handleModelRequest } from './pipeline.ts';
import { awaitContinue } from './body.ts';
import { modelsStage } from './models-list.ts';
import { McpGateway } from './mcp/index.ts';
import { isRealtimeUpgrade, RealtimeGateway, REALTIME_PATH } from './realtime/index.ts';

export interface GatewayServer {
  server: Server;
  /** `http://host:port` with the port actually bound (ports 0 pick one). */
  url: string;
  /** Stops accepting, lets in-flight answers finish (up to graceMs), then closes upstream pools. */
  close(graceMs?: number): Promise<void>;
}

const CTX = Symbol('tollgate.ctx');
type TrackedResponse = ServerResponse & { [CTX]?: RequestContext };

const HEALTH_BODY = '{"status":"ok"}';

function newContext(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse, route: SurfaceRoute): RequestContext {
  return {
    // Every field the plain path sets is here from the start: added later, each grew the object's property store.
    deps, req, res, route, requestId: newId('request'), startedAt: performance.now(), key: undefined, account: undefined, configuration: undefined, rawBody: undefined, body: undefined,
    pathModel: undefined, queryKey: undefined, rejectedModels: '',
    current: undefined, abortCause: undefined, totalTimer: undefined, timeLimitMs: 0, attemptsMade: 0, clientGone: false, answeredStatus: 0, relaying: false, inputEstimate: undefined, nextSequence: undefined, reservation: undefined,
    firstByteAt: 0, endedAt: 0, errorCode: undefined, observed: false, trace: undefined, capture: undefined, recording: undefined, firewall: undefined, requestFirewall: undefined, firewallFindings: undefined,
  };
}

/**
 * How long a stream is still read after its client left: the provider's usage comes in the last events, right
 * after the last words, so a client hanging up between the two (by accident or to skip the bill) is still
 * billed what the provider counted; a stream left earlier costs at most this much more generation.
 */
const METER_GRACE_MS = 1000;

function abortAfterGrace(ctx: RequestContext): void {
  ctx.current?.abort('client-gone');
}

/**
 * The client went away before the answer was complete: the upstream call is aborted so the provider stops too —
 * after METER_GRACE_MS, in which an answer already on its way (a JSON answer's body, a stream's last events)
 * still brings the provider's usage, which is what the provider bills for the work.
 */
function onResponseClose(this: TrackedResponse): void {
  const ctx = this[CTX];
  if (!ctx) return;
  ctx.deps.observer?.closed();
  // Cut by a stopping gateway (its answer already ended with an error), or closed after the gateway's own 408:
  // not a client that left.
  if (this.writableFinished || ctx.abortCause === 'shutdown' || ctx.answeredStatus !== 0) return;
  ctx.clientGone = true;
  ctx.abortCause = 'client-gone';
  // Paused for a client that stopped reading, a stream would never be read again: 'drain' will not come.
  if (ctx.relaying) ctx.current?.resume();
  // No call in flight: the attempt loop stops before making one.
  if (ctx.current) setTimeout(abortAfterGrace, METER_GRACE_MS, ctx);
}

/** A stack overflow while handling a request comes from the client's nesting (a body JSON.parse accepted but
 * a recursive walk could not follow): the client's mistake, not the gateway's. */
function isTooDeep(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes('call stack');
}

/** The request's body stopped arriving because its connection closed (client gone, or a request timeout). */
function isClientAbort(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ECONNRESET';
}

function onStageError(this: RequestContext, error: unknown): void {
  if (isClientAbort(error)) {
    // The body timed out and the connection's handler answered 408 (answerUnparsable): that is the answer.
    if (this.answeredStatus === 0) {
      // Nobody to answer, and not the gateway's failure: no error line, no `internal` in the metrics.
      this.errorCode = 'client-gone';
      // An HTTP/2 stream reset mid-body fails the read before its response's 'close' (onResponseClose) would say so.
      this.clientGone = true;
    }
    this.deps.observer?.answered(this);
    return;
  }
  try {
    if (error instanceof TollgateError || isTooDeep(error)) {
      const answer = error instanceof TollgateError ? error : tollgateError('badRequestBody', { reason: 'the body is nested too deeply.' });
      writeError(this, answer);
      this.deps.observer?.answered(this);
      return;
    }
    this.deps.logger.error({ requestId: this.requestId, err: error instanceof Error ? error.message : String(error) }, 'gateway request failed');
    const internal = tollgateError('internal');
    writeError(this, internal);
    // Headers already out (a bug mid-stream): no error answer could be written, but the access line still names the
    // failure the client's cut answer came from.
    const cut = this.res.headersSent && !this.res.writableEnded;
    if (cut) this.errorCode ??= internal.code;
    this.deps.observer?.answered(this);
    // End the answer rather than leave the client hanging.
    if (cut) this.res.end();
  } catch (failure) {
    // Even the error answer could not be written: this connection goes, never the process.
    this.deps.logger.error({ requestId: this.requestId, err: failure instanceof Error ? failure.message : String(failure) }, 'gateway error answer failed');
    this.res.destroy();
  }
}

function preflight(req: IncomingMessage, res: ServerResponse): void {
  const headers = baseHeaders(newId('request'));
  // ngrok: "every response through ngrok.ai includes" it; no provider is called for a preflight.
  headers[H_ATTEMPTS] = '0';
  headers['Access-Control-Allow-Methods'] = CORS_PREFLIGHT_METHODS;
  const asked = req.headers['access-control-request-headers'];
  headers['Access-Control-Allow-Headers'] = typeof asked === 'string' && asked ? asked : CORS_DEFAULT_ALLOWED_HEADERS;
  headers['Access-Control-Max-Age'] = '86400';
  headers['content-length'] = 0;
  res.writeHead(204, headers);
  res.end();
}

/**
 * Model and MCP requests from arrival until their usage is recorded — which, for a stream the client cut or an answer
 * whose tokens are being counted, is after the HTTP exchange ended. A stopping gateway waits for none left.
 */
export class RequestsInFlight {
  /** Each open request, with how to end it when the grace period is over if not the model gateway's way. */
  readonly #open = new Map<RequestContext, (() => void) | undefined>();
  #idle: (() => void)[] = [];

  /** `cut`: ends this request at the end of the grace period in its own protocol (an MCP request's JSON-RPC error). */
  enter(ctx: RequestContext, cut?: () => void): void { this.#open.set(ctx, cut); }

  leave(ctx: RequestContext): void {
    this.#open.delete(ctx);
    if (this.#open.size > 0 || this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  /**
   * The shutdown grace period is over: every answer still open ends now with an error the client's SDK raises —
   * a 503 "retry" when nothing was sent yet, the format's error event mid-stream — and its upstream call is
   * aborted. Its usage is still recorded (as failed), before the usage sink closes.
   */
  cutShort(): void {
    for (const [ctx, cut] of this.#open) {
      const { res } = ctx;
      if (cut) {
        // Not a client that left, when its connection closes next.
        ctx.abortCause = 'shutdown';
        cut();
        continue;
      }
      if (res.writableEnded) {
        // The answer went out whole (a stream ends at its final event) and its provider still holds the connection:
        // no more waiting for it. The attempt stays what it was, a delivered stream.
        ctx.current?.abort('shutdown');
        continue;
      }
      if (res.destroyed) continue;
      ctx.abortCause = 'shutdown';
      if (res.headersSent) {
        const error = tollgateError('upstreamStreamBroken', { reason: 'the gateway stopped before the stream finished; retry the request.' });
        endStreamWithError(ctx, error, ctx.nextSequence?.());
      } else {
        writeError(ctx, tollgateError('gatewayStopping'));
      }
      ctx.current?.abort('shutdown');
      // A judgement has no deadline of the grace period's: left open, the stop would wait for it up to its own limit.
      for (const call of ctx.gatewayCalls ?? []) call.abort('shutdown');
    }
  }

  idle(): Promise<void> {
    return this.#open.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }
}

/**
 * The request target as a path: RFC 9112 §3.2.2 has servers accept the absolute form (`POST http://host/v1/…`),
 * which clients set to use the gateway as a proxy send.
 */
function originForm(target: string): string {
  const match = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
  return match ? (match[1] === '' ? '/' : match[1]!.startsWith('?') ? `/${match[1]}` : match[1]!) : target;
}

/** The gateway's request handler; `closeMcp` ends the MCP gateway's sessions with servers once requests are done. */
export type GatewayHandler = ((req: IncomingMessage, res: ServerResponse) => void) & { closeMcp(): Promise<void> };

export function createGatewayHandler(deps: GatewayDeps, inFlight = new RequestsInFlight()): GatewayHandler {
  // Made on the first MCP request: a gateway nobody uses as an MCP gateway keeps no sessions nor timers for it.
  let mcpGateway: McpGateway | undefined;
  const onRequest = function onRequest(req: IncomingMessage, res: ServerResponse): void {
    let url = req.url ?? '/';
    // Rewritten on the request itself, so every later reader (tracing, logs) sees the path.
    if (url.charCodeAt(0) !== 47 /* / */) req.url = url = originForm(url);
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method;
    if (method === 'OPTIONS') return preflight(req, res);
    let route = SURFACE_ROUTES.get(path);
    const gemini = route === undefined && method === 'POST' ? geminiRoute(path) : undefined;
    if (gemini) route = gemini.route;
    const bedrock = route === undefined && method === 'POST' ? bedrockRoute(path) : undefined;
    if (bedrock) route = bedrock.route;
    if (route && method === 'POST') {
      const ctx = newContext(deps, req, res, route);
      if (route.format === 'gemini') {
        // Google's API takes its key in `?key=` on every path, Interactions (which name no model in theirs) included.
        const query = queryOf(url, q);
        ctx.queryKey = query?.get('key') ?? undefined;
        if (gemini) {
          ctx.pathModel = gemini.model;
          // Google streams a JSON array without `alt=sse`: this gateway relays and meters SSE only (the SDKs ask for it).
          if (route === GEMINI_STREAM_ROUTE && query?.get('alt') !== 'sse') return refuse(ctx, tollgateError('invalidRequest', { reason: 'streamGenerateContent is served as server-sent events only: add "alt=sse" to the query, as Google\'s Gen AI SDKs do.' }));
        }
      }
      // Bedrock names the model in the path too, as an id of Bedrock's own; a Converse call's may name any model,
      // known once the account is (pipeline.ts, converseAddress).
      if (bedrock) ctx.pathModel = pathNamesAnyModel(bedrock.route.surface) ? bedrock.model : bedrockAddress(bedrock.model);
      (res as TrackedResponse)[CTX] = ctx;
      // `on`: a response emits 'close' once (node marks it closed), and `once` wrapped the listener in two objects more.
      res.on('close', onResponseClose);
      deps.observer?.started(ctx);
      inFlight.enter(ctx);
      handleModelRequest(ctx).then(() => inFlight.leave(ctx), (error: unknown) => {
        try { onStageError.call(ctx, error); } finally { inFlight.leave(ctx); }
      });
      return;
    }
    // The MCP gateway, looked for only once the path is no model call's: model requests pay nothing for it.
    // An mcp.* host over h2c too: HTTP/2 names it in `:authority`.
    const mcp = mcpPath(path, requestHost(req));
    if (mcp) {
      const ctx = newContext(deps, req, res, MCP_ROUTE);
      (res as TrackedResponse)[CTX] = ctx;
      res.once('close', onResponseClose);
      deps.observer?.started(ctx);
      // Counted in flight as a model request is: a stopping gateway lets a running tools/call finish and record its
      // usage, and at the end of the grace period ends it with a JSON-RPC error rather than a cut connection.
      const stopping = new AbortController();
      inFlight.enter(ctx, () => stopping.abort('shutdown'));
      void (mcpGateway ??= new McpGateway(deps, deps.options.mcp)).handle(ctx, mcp.serverId, stopping.signal).finally(() => inFlight.leave(ctx));
      return;
    }
    // Only a read is a model page: under /v1beta/models/ and /v1/models/ any other method is a call to a method not
    // served, refused in its client's shape (a Gen AI SDK's `POST /v1/models/{model}:generateContent` in Google's).
    const read = method === 'GET' || method === 'HEAD';
    const geminiModels = read && isGeminiModelsPath(path);
    // Google's Gen AI SDK left on API version v1 (its key in x-goog-api-key) reads `/v1/models` too: served OpenAI's
    // listing, its pager found no models at all. It gets the v1beta hint in Google's shape, as its calls do.
    const modelsPath = path === MODELS_PATH || path.startsWith(MODEL_PATH_PREFIX);
    if (read && modelsPath && req.headers['x-goog-api-key'] !== undefined) {
      const ctx = newContext(deps, req, res, errorRouteFor(path, req.headers));
      return refuse(ctx, tollgateError('unsupportedPath', { method: method ?? '', path, hint: geminiVersionHint(path) }));
    }
    const models = read && modelsPath;
    const ctx = newContext(deps, req, res, geminiModels ? GEMINI_MODELS_ROUTE : models ? modelsRouteFor(req.headers) : errorRouteFor(path, req.headers));
    if (geminiModels || models) {
      const query = q < 0 ? '' : url.slice(q + 1);
      // Google's API takes its key in `?key=` too, on its model pages as on its calls.
      if (geminiModels) ctx.queryKey = queryOf(url, q)?.get('key') ?? undefined;
      modelsStage(ctx, path, query).catch(onStageError.bind(ctx));
      return;
    }
    if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) {
      const headers = baseHeaders(ctx.requestId);
      headers[H_ATTEMPTS] = '0';
      writeJson(res, 200, headers, HEALTH_BODY);
      return;
    }
    // Scrapers that reach only the gateway nodes (TOLLGATE_METRICS_ON_GATEWAY=1); 404 like any path otherwise.
    if (path === '/metrics' && method === 'GET' && deps.observer?.metricsOnGateway) return deps.observer.serveMetrics(req, res);
    // The realtime path without a WebSocket upgrade (the upgrade itself never reaches this handler): 426 naming the
    // protocol, as RFC 9110 §15.5.22 asks. Upgrade and Connection are HTTP/1.1's own (RFC 9113 §8.2.2 forbids them in HTTP/2).
    if (path === REALTIME_PATH && method === 'GET') {
      // A Connection header of ours replaces node's own, so a client's `close` (or HTTP/1.0's default) is kept in it.
      const connection = res.shouldKeepAlive ? 'upgrade' : 'upgrade, close';
      writeError(ctx, tollgateError('realtimeUpgradeRequired'), req.httpVersionMajor === 1 ? { upgrade: 'websocket', connection } : undefined);
      return ctx.deps.observer?.answered(ctx);
    }
    // A `%` not followed by two hex digits, or escapes that are not UTF-8: no path at all (RFC 3986 §2.1), a 400 as Go's
    // net/http answers it, not a path this gateway lacks. Looked for only once no route took the path.
    if (path.includes('%') && !percentDecodable(path)) return refuse(ctx, tollgateError('invalidRequest', { reason: 'the path is not validly percent-encoded: each "%" must start an escape of two hex digits, and the escapes must spell UTF-8.' }));
    refuse(ctx, tollgateError('unsupportedPath', { method: method ?? '', path, hint: pathHint(method, path) }));
  };
  return Object.assign(onRequest, { closeMcp: async () => mcpGateway?.close() });
}

function percentDecodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * An `Expect` other than `100-continue` (RFC 9110 §10.1.1): 417 as node would answer, but in the error shape of the
 * path's API with a request id, as every other refusal. Both protocols: node:http2's compatibility API asks the same.
 */
function createExpectationHandler(deps: GatewayDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return function onExpectation(req, res) {
    const url = originForm(req.url ?? '/');
    const q = url.indexOf('?');
    const ctx = newContext(deps, req, res, errorRouteFor(q < 0 ? url : url.slice(0, q), req.headers));
    refuse(ctx, new TollgateError(Errors.invalidRequest, { reason: `the Expect header asks for "${String(req.headers.expect).slice(0, 40)}"; only "100-continue" is supported.` }, 417));
  };
}

/** A request answered with an error before any stage ran (a path that is no route, a call the route cannot take). */
function refuse(ctx: RequestContext, error: TollgateError): void {
  writeError(ctx, error);
  ctx.deps.observer?.answered(ctx);
}

/** The query of a URL whose query starts after index `q` (-1: none), parsed once for all the parameters read. */
function queryOf(url: string, q: number): URLSearchParams | undefined {
  return q < 0 ? undefined : new URLSearchParams(url.slice(q + 1));
}

/**
 * Requests node:http could not parse: answered in the OpenAI error shape (the format is unknown), request id included,
 * and observed (a counter and an access line) under that id, so a client refused for its header size is seen.
 */
function createUnparsableHandler(deps: GatewayDeps): (error: Error & { code?: string }, socket: Duplex) => void {
  return function answerUnparsable(error, socket) {
    // A request whose body did not arrive in time, or whose body's framing broke (a bad chunk), is already being
    // handled: the answer is its own, and it is observed once, with that status, when its body read fails.
    const ctx = (socket as Duplex & { _httpMessage?: TrackedResponse | null })._httpMessage?.[CTX];
    const owner = ctx && (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !ctx.req.complete) ? ctx : undefined;
    const requestId = owner?.requestId ?? newId('request');
    const answered = answerClientError(error, socket, ({ status, reason }) => codecs.openai.errorBody(new TollgateError(Errors.invalidRequest, { reason }, status), requestId),
      `${H_REQUEST_ID}: ${requestId}\r\n${H_ATTEMPTS}: 0\r\naccess-control-allow-origin: *\r\nx-content-type-options: nosniff\r\n`);
    if (!answered) return;
    if (owner) {
      owner.answeredStatus = answered.status;
      owner.errorCode = Errors.invalidRequest.code;
    } else deps.observer?.unparsable(requestId, answered.status);
  };
}

/**
 * An HTTP/2 request whose body did not all arrive within the request timeout (node:http raises clientError for an
 * HTTP/1.1 one: answerUnparsable): a model request not yet answered gets the 408 in its own format and is observed
 * with it once its body read fails.
 */
function answerH2RequestTimeout(_req: IncomingMessage, res: ServerResponse): void {
  const ctx = (res as TrackedResponse)[CTX];
  if (!ctx || res.headersSent || ctx.answeredStatus !== 0) return;
  ctx.answeredStatus = TIMED_OUT.status;
  writeError(ctx, new TollgateError(Errors.invalidRequest, { reason: TIMED_OUT.reason }, TIMED_OUT.status));
}

/** Requests one HTTP/2 connection may have open at once: RFC 9113 §6.5.2 asks for no fewer than 100. */
const MAX_CONCURRENT_STREAMS = 100;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export async function startGatewayServer(deps: GatewayDeps, host: string, port: number): Promise<GatewayServer> {
  const inFlight = new RequestsInFlight();
  const { clientHeadersTimeoutMs, clientRequestTimeoutMs } = deps.options;
  const timeouts = clientTimeoutOptions(clientHeadersTimeoutMs, clientRequestTimeoutMs);
  const handler = createGatewayHandler(deps, inFlight);
  // Realtime sessions are in-flight work too: a stopping gateway lets them run for the grace period, then ends them.
  const realtime = new RealtimeGateway(deps);
  // Only GET /v1/realtime's WebSocket upgrade is taken as one; any other request naming an upgrade is an ordinary request.
  // joinDuplicateHeaders: node otherwise keeps the first of two Authorization (or Host) headers and drops the other
  // unseen, so which key a request was served with depended on an order proxies do not keep; joined, two keys are
  // no key (authenticate.ts), the request is refused and says why.
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, ...timeouts, shouldUpgradeCallback: isRealtimeUpgrade, joinDuplicateHeaders: true }, handler);
  const onExpectation = createExpectationHandler(deps);
  server.on('checkExpectation', onExpectation);
  // `Expect: 100-continue`: answered `100 Continue` only once the body is read (body.ts awaitContinue).
  const onContinue = (req: IncomingMessage, res: ServerResponse): void => {
    awaitContinue(req, () => res.writeContinue());
    handler(req, res);
  };
  server.on('checkContinue', onContinue);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => realtime.upgrade(req, socket, head));
  // The same port takes HTTP/2 with prior knowledge (the AWS SDK's default for Bedrock Runtime), same handler, same limits.
  const h2c = serveH2c(server, handler, {
    headersTimeoutMs: timeouts.headersTimeout, requestTimeoutMs: timeouts.requestTimeout, keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS, maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
  }, answerH2RequestTimeout);
  h2c.server.on('checkExpectation', onExpectation);
  // node:http2 emits 'checkContinue' in place of 'request': re-emitted so every request listener runs (repeated fields
  // joined, the upload's timeout), not the handler alone — which served two Authorization headers with the first.
  h2c.server.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    awaitContinue(req as unknown as IncomingMessage, () => res.writeContinue());
    h2c.server.emit('request', req, res);
  });
  // Sockets are tracked (per connection, not per request) so close() can drop connections a client opened
  // but never sent a request on: node counts those as active, not idle, and would wait for them.
  const sockets = new Set<Socket>();
  const forget = function (this: Socket) { sockets.delete(this); };
  server.on('connection', (socket: Socket) => { sockets.add(socket); socket.once('close', forget); });
  server.on('clientError', createUnparsableHandler(deps));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    async close(graceMs = 5000) {
      realtime.stopAccepting();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // HTTP/2 connections get GOAWAY: their open requests finish, no new one starts (node:http's list holds none of them).
      h2c.closeSessions();
      // Keep-alive connections that finish their answer after close() was called become idle later: sweep.
      const sweepOnce = () => {
        server.closeIdleConnections();
        for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
      };
      const sweep = setInterval(sweepOnce, 50);
      const force = setTimeout(() => {
        inFlight.cutShort();
        realtime.cutShort();
        // After the error answers are handed to the sockets: closing ends them (a written answer is sent first
        // only when the kernel takes it at once, which a short error does).
        setImmediate(() => { server.closeAllConnections(); h2c.destroyConnections(); });
      }, graceMs);
      sweepOnce();
      await closed;
      clearInterval(sweep);
      // Connections are gone, but a cut stream or an answer whose tokens are being counted is metered a little
      // later: every request's usage is recorded before the usage sink closes. The grace period still bounds a
      // stream delivered whole whose provider holds its connection open.
      await Promise.all([inFlight.idle(), realtime.idle()]);
      clearTimeout(force);
      await stopTokenCounter();
      // Before the connections they need close: the servers' sessions this gateway held are ended.
      await handler.closeMcp();
      await deps.upstreams.close();
    },
  };
}
