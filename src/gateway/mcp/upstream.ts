// The gateway as an MCP client of each registered server (Streamable HTTP): a session per (client session, server),
// opened lazily with the gateway's own initialize, re-opened once when the server says it expired (404), bounded in
// number and closed when idle; and each server's tool list, kept a short while per credential. All in memory: the
// request path reads no database. A server that refuses initialize but answers `server/discover` speaks only the
// stateless revision (MCP 2026-07-28): its "session" is what discover said, and every request carries the revision's
// `_meta` and headers instead of a session id.
import type { Dispatcher } from 'undici';
import type { McpServerState } from '../../domain/mcp-server.ts';
import type { Upstreams } from '../upstream.ts';
import { addTraceHeaders, type TraceHeaders } from '../headers.ts';
import { EventData } from './jsonrpc.ts';
import { parseMessage, RpcCode, type JsonRpcId, type JsonRpcMessage } from '../../domain/json-rpc.ts';
import { forEra, paramHeaders, STATELESS_PROTOCOL_VERSION, statelessHeaders } from '../../domain/mcp-stateless.ts';

/** The revision the gateway asks its upstreams for (they answer with the one they speak). */
export const UPSTREAM_PROTOCOL_VERSION = '2025-11-25';
const CLIENT_INFO = { name: 'tollgate-mcp-gateway', version: '1.0.0' };
const ACCEPT = 'application/json, text/event-stream';
/** Largest answer to the gateway's own requests (initialize, a tools/list page) read, and a whole tool list's pages together. */
const MAX_OWN_ANSWER_BYTES = 16 << 20;
/** tools/list pages followed before a server's list is taken as complete. */
const MAX_TOOL_PAGES = 50;

/** One call's destination and the credential its server's auth type adds. */
export interface McpTarget {
  server: McpServerState;
  /** Whose server it is: the account its sessions count against (SessionOptions.maxSessionsPerAccount). */
  accountId: string;
  /** The server's URL, a query-parameter secret included. */
  url: URL;
  /** Credential headers (a stored secret, forwarded headers, the client's OAuth token). */
  headers: Record<string, string>;
  /** Identifies the credential: tool lists fetched with one are never served to a caller with another. */
  credential: string;
  /** The stored secret, kept out of any message built from the server's words. */
  secret: string | undefined;
}

/**
 * How long a call may take: `headersMs` to the head of each upstream answer, `idleMs` between its body's chunks; `signal`
 * ends it. `trace`: the client request's tracing (tracing on), under whose span each HTTP call to a server is one.
 */
export interface Budget { headersMs: number; idleMs: number; signal: AbortSignal; trace?: McpTracing | undefined }

/**
 * Traces the calls made for one client request (observe/tracing.ts): each HTTP call to a server a CLIENT span under
 * the request's span, its trace headers sent with it. Absent with tracing off: no call then builds anything for it.
 */
export interface McpTracing {
  start(call: McpCall): McpCallSpan;
}

/**
 * What a call's span may say of it. Never its URL (a query-parameter secret is in it), a header, the session id (a
 * server may take it for a credential) or the message's arguments and result.
 */
export interface McpCall {
  server: McpServerState;
  url: URL;
  /** The JSON-RPC method; undefined for the DELETE that ends a session. */
  method: string | undefined;
  /** A request's id; undefined for a notification. */
  id: JsonRpcId | undefined;
  /** The tool a `tools/call` runs, as its server names it. */
  tool: string | undefined;
  protocolVersion: string | undefined;
}

export interface McpCallSpan {
  /** The trace headers naming the span, sent with the call. */
  readonly headers: TraceHeaders | undefined;
  /** The head of the server's answer came. */
  responded(status: number): void;
  /**
   * The call is over (once; later calls do nothing): `error` how it failed — a JSON-RPC error code, `tool_error`, an
   * HTTP status, `timeout`, `connection`, `unreadable`, `cancelled`. `endedAt`: performance.now() of the end, now if not given.
   */
  end(error?: string | number, endedAt?: number): void;
}

/** The span of each traced call whose answer is being read: whoever reads the answer ends it with what it said. */
const spans = new WeakMap<Dispatcher.ResponseData, McpCallSpan>();

/** The answer to a call was read (tracing on, its span ends): `error` as McpCallSpan.end takes it. */
export function answered(response: Dispatcher.ResponseData, error?: string | number): void {
  spans.get(response)?.end(error);
}

/**
 * How a call that got no usable answer failed, for its span: the server's JSON-RPC code or HTTP status, `timeout`,
 * `cancelled` (the client left or cancelled it, the gateway ended or stopped it), `unreadable` (an answer the gateway
 * could not read or hold) or `connection`. `error` as thrown, before upstreamFailure names it.
 */
export function callErrorType(error: unknown, signal: AbortSignal): string | number {
  // A call's own limit (AbortSignal.timeout's reason is a TimeoutError) or its request's.
  if (signal.aborted) return signal.reason === 'timeout' || (signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : 'cancelled';
  if (error instanceof McpUpstreamError) return error.rpcCode ?? (error.status > 0 ? String(error.status) : error.timedOut ? 'timeout' : 'unreadable');
  const code = (error as { code?: string } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'connection';
}

/**
 * An answer came to a traced call: its span ends when its reader says what it said (answered), or, for an answer only
 * let go (a notification's 202, a 404 sent again), when its body closes, as its status says. That end waits a turn,
 * so a reader that finishes on the same close (a JSON body read to its end) has its say first.
 */
function traced(response: Dispatcher.ResponseData, span: McpCallSpan): void {
  const status = response.statusCode;
  span.responded(status);
  spans.set(response, span);
  response.body.once('close', () => {
    const closedAt = performance.now();
    setImmediate(() => span.end(status >= 400 ? String(status) : undefined, closedAt));
  });
}

/** A server that could not be used: unreachable, timed out, an HTTP error, or an unreadable answer. */
export class McpUpstreamError extends Error {
  readonly label: string;
  readonly status: number;
  readonly timedOut: boolean;
  /** The server's `WWW-Authenticate` challenges with a 401 (an OAuth server's pointer to its protected resource metadata). */
  readonly challenge: string[] | undefined;
  /** The JSON-RPC error code the server answered with, when it answered one. */
  readonly rpcCode: number | undefined;

  constructor(label: string, reason: string, status = 0, timedOut = false, challenge?: string[], rpcCode?: number) {
    super(`MCP server "${label}" ${reason}`);
    this.label = label;
    this.status = status;
    this.timedOut = timedOut;
    this.challenge = challenge;
    this.rpcCode = rpcCode;
  }
}

/** Challenges relayed at most, and how long each may be: a server's header is not the client's to be flooded with. */
const MAX_CHALLENGES = 4;
const MAX_CHALLENGE_CHARS = 4096;

/** A non-2xx answer as the failure it is; a 401's `WWW-Authenticate` kept (bounded) for a client that must sign in. */
export function httpFailure(label: string, status: number, headers: Record<string, string | string[] | undefined>): McpUpstreamError {
  const raw = status === 401 ? headers['www-authenticate'] : undefined;
  const challenge = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((c) => c !== '' && c.length <= MAX_CHALLENGE_CHARS).slice(0, MAX_CHALLENGES);
  return new McpUpstreamError(label, `answered HTTP ${status}.`, status, false, challenge.length > 0 ? challenge : undefined);
}

export interface McpTool { name: string; [field: string]: unknown }

interface UpstreamSession {
  id: string | undefined;
  protocolVersion: string;
  /** The server speaks the stateless revision only: no session, the revision's `_meta` and headers on each request. */
  stateless: boolean;
  capabilities: Record<string, unknown>;
  instructions: string | undefined;
  lastUsed: number;
  /** Answers of the server's still being read: a session relaying a long tool call is not idle, however long ago it began. */
  busy: number;
  /** Where to send the DELETE that ends it. */
  target: McpTarget;
}

export interface SessionOptions {
  /** Open sessions kept, and one account's share of them: its sessions past the share end its own oldest. */
  maxSessions: number; maxSessionsPerAccount: number; idleMs: number; toolsTtlMs: number; maxToolLists: number;
  /** A server's whole tool list, every page's answer together: a hostile server cannot have the gateway hold more. */
  maxToolListBytes: number;
  /** Every kept tool list together: one server listed under many credentials (forwarded headers) could fill memory. */
  maxToolCacheBytes: number;
}

const DEFAULTS: SessionOptions = { maxSessions: 10_000, maxSessionsPerAccount: 1_000, idleMs: 10 * 60_000, toolsTtlMs: 30_000, maxToolLists: 1_000, maxToolListBytes: MAX_OWN_ANSWER_BYTES, maxToolCacheBytes: 128 << 20 };

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function scrub(text: string, secret: string | undefined): string {
  // Replaced before the cut: a secret the cut went through would otherwise be quoted in part.
  const scrubbed = secret ? text.split(secret).join('[secret]') : text;
  return scrubbed.length > 200 ? `${scrubbed.slice(0, 200)}…` : scrubbed;
}

/** The failure as the client is told it: the server's label, never its URL or credential. */
export function upstreamFailure(error: unknown, label: string, signal: AbortSignal): McpUpstreamError {
  if (error instanceof McpUpstreamError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || (signal.aborted && signal.reason === 'timeout')) {
    return new McpUpstreamError(label, 'did not answer in time.', 0, true);
  }
  if (signal.aborted && signal.reason === 'shutdown') return new McpUpstreamError(label, 'had not answered when the gateway stopped; retry the call.');
  if (code === 'ERR_TOLLGATE_NON_PUBLIC_ADDRESS') return new McpUpstreamError(label, 'is at an address that is not public.');
  return new McpUpstreamError(label, 'could not be reached.');
}

export class McpUpstreamSessions {
  readonly #upstreams: Upstreams;
  readonly #options: SessionOptions;
  /** Least recently used first (a use moves a session last). */
  readonly #sessions = new Map<string, UpstreamSession | Promise<UpstreamSession>>();
  /** Where each session still being opened goes, so one whose server changed meanwhile can be let go (endStale). */
  readonly #opening = new WeakMap<Promise<UpstreamSession>, McpTarget>();
  readonly #tools = new Map<string, { tools: McpTool[]; expires: number; size: number }>();
  #toolBytes = 0;
  readonly #sweeper: NodeJS.Timeout;

  constructor(upstreams: Upstreams, options: Partial<SessionOptions> = {}) {
    this.#upstreams = upstreams;
    this.#options = { ...DEFAULTS, ...options };
    this.#sweeper = setInterval(() => this.sweep(), Math.min(60_000, this.#options.idleMs));
    this.#sweeper.unref();
  }

  /**
   * The gateway stops: every open session is ended (its DELETE sent), waited for at most `waitMs`, since no one will
   * use them again — a client's next request, on another node or this one restarted, opens its own.
   */
  async close(waitMs: number): Promise<void> {
    clearInterval(this.#sweeper);
    const ending: Promise<void>[] = [];
    for (const s of this.#sessions.values()) if (!(s instanceof Promise)) ending.push(this.#end(s));
    this.#sessions.clear();
    this.#tools.clear();
    this.#toolBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ending), new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); })]);
    clearTimeout(timer);
  }

  /**
   * Ends the sessions idle longer than the idle limit, and lets go of expired tool lists. A session whose server is
   * still answering (a tool call streaming past the limit) is not idle: ended, the server would cut the call short.
   */
  sweep(now = performance.now()): void {
    for (const [key, s] of this.#sessions) {
      if (s instanceof Promise || s.busy > 0 || now - s.lastUsed < this.#options.idleMs) continue;
      this.#sessions.delete(key);
      this.#end(s);
    }
    for (const [key, kept] of this.#tools) if (kept.expires <= now) this.#dropTools(key);
  }

  /**
   * The client session (or the key, for its requests without one) ended: its upstream sessions end too. One still
   * being opened is let go here and ended once open (#session).
   */
  forget(owner: string, trace?: McpTracing): void {
    const prefix = `${owner}\0`;
    for (const [key, s] of this.#sessions) if (key.startsWith(prefix)) this.#letGo(key, s, trace);
  }

  /** A session no one will use again: ended now, or, still being opened, once it is open (#session). */
  #letGo(key: string, s: UpstreamSession | Promise<UpstreamSession>, trace?: McpTracing): void {
    this.#sessions.delete(key);
    if (!(s instanceof Promise)) this.#end(s, trace);
  }

  /** Whether `owner` has a session open or being opened. */
  hasSession(owner: string): boolean {
    const prefix = `${owner}\0`;
    for (const key of this.#sessions.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /**
   * Ends account `accountId`'s sessions whose destination `stale` says no longer holds (the server deleted, moved,
   * its credential changed): nothing will use them again, and their servers would keep them until their own expiry.
   */
  endStale(accountId: string, stale: (target: McpTarget) => boolean): void {
    for (const [key, s] of this.#sessions) {
      const target = s instanceof Promise ? this.#opening.get(s) : s.target;
      if (target && target.accountId === accountId && stale(target)) this.#letGo(key, s);
    }
  }

  /** The session `owner` (a client session) has with the target's server, opened if it has none. */
  async session(owner: string, target: McpTarget, budget: Budget): Promise<{ capabilities: Record<string, unknown>; instructions: string | undefined }> {
    return this.#session(owner, target, budget);
  }

  /**
   * Sends a client's message to the server in `owner`'s session; a session the server no longer knows (404) is
   * opened again and the message sent once more. The answer is the caller's to read (a relay streams it). `tool`: the
   * definition of the tool a `tools/call` runs, whose `Mcp-Param-*` headers a stateless server requires.
   */
  async send(owner: string, target: McpTarget, body: JsonRpcMessage, budget: Budget, tool?: McpTool): Promise<Dispatcher.ResponseData> {
    let session = await this.#session(owner, target, budget);
    let response = await this.#post(target, session, body, budget, tool);
    if (response.statusCode === 404 && session.id !== undefined) {
      await response.body.dump();
      const key = sessionKey(owner, target);
      if (this.#sessions.get(key) === session) this.#sessions.delete(key);
      session = await this.#session(owner, target, budget);
      response = await this.#post(target, session, body, budget, tool);
    }
    busyWhileRead(session, response);
    return response;
  }

  /**
   * Passes a client's notification (or its answer to a server's request) on, in `owner`'s session. Not to a stateless
   * server: the revision has neither (closing a request's stream cancels it).
   */
  async notify(owner: string, target: McpTarget, message: JsonRpcMessage, budget: Budget): Promise<void> {
    const session = await this.#session(owner, target, budget);
    if (session.stateless) return;
    const response = await this.#post(target, session, message, budget);
    await response.body.dump();
  }

  /**
   * Tells the server request `requestId`, sent in `owner`'s session, is cancelled (MCP `notifications/cancelled`),
   * unawaited and given 5 seconds. Only in that session while it is open: one opened now would not know the request,
   * and a stateless server's request is cancelled by closing its stream.
   */
  cancel(owner: string, target: McpTarget, requestId: JsonRpcId, reason: string | undefined, trace?: McpTracing): void {
    const s = this.#sessions.get(sessionKey(owner, target));
    if (s === undefined || s instanceof Promise || s.stateless) return;
    const message: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/cancelled', params: reason === undefined ? { requestId } : { requestId, reason } };
    this.#post(target, s, message, { headersMs: 5000, idleMs: 5000, signal: AbortSignal.timeout(5000), trace }).then((r) => r.body.dump(), () => {});
  }

  /** The server's tools (every page), from the list fetched with this credential in the last few seconds when there is one. */
  async tools(owner: string, target: McpTarget, budget: Budget, fresh = false): Promise<McpTool[]> {
    const key = `${target.server.id}\0${target.server.upstreamUrl}\0${target.credential}`;
    const cached = this.#tools.get(key);
    const now = performance.now();
    if (cached && !fresh && cached.expires > now) return cached.tools;
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    let left = this.#options.maxToolListBytes;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const { result, size } = await this.#rpc(owner, target, 'tools/list', cursor === undefined ? {} : { cursor }, budget, left);
      left -= size;
      const listed = Array.isArray(result.tools) ? result.tools : [];
      for (const t of listed) if (typeof t === 'object' && t !== null && typeof (t as McpTool).name === 'string') tools.push(t as McpTool);
      cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
      if (cursor === undefined) break;
    }
    const size = this.#options.maxToolListBytes - left;
    this.#dropTools(key);
    while (this.#tools.size > 0 && (this.#tools.size >= this.#options.maxToolLists || this.#toolBytes + size > this.#options.maxToolCacheBytes)) {
      this.#dropTools(this.#tools.keys().next().value!);
    }
    this.#tools.set(key, { tools, expires: now + this.#options.toolsTtlMs, size });
    this.#toolBytes += size;
    return tools;
  }

  /**
   * The server said its tools changed (`notifications/tools/list_changed`): every list kept for it, under any
   * credential, is let go, so the client re-listing on that notification sees the new tools, not 30 seconds late.
   */
  toolsChanged(server: McpServerState): void {
    const prefix = `${server.id}\0${server.upstreamUrl}\0`;
    for (const key of [...this.#tools.keys()]) if (key.startsWith(prefix)) this.#dropTools(key);
  }

  #dropTools(key: string): void {
    const kept = this.#tools.get(key);
    if (!kept) return;
    this.#tools.delete(key);
    this.#toolBytes -= kept.size;
  }

  async #session(owner: string, target: McpTarget, budget: Budget): Promise<UpstreamSession> {
    // A request that stopped (its client left or cancelled it, the gateway ended it) opens nothing: a session opened
    // for it would serve no one, and under an owner already ended, would be held by no one until idle.
    if (budget.signal.aborted) throw upstreamFailure(budget.signal.reason, target.server.label, budget.signal);
    const key = sessionKey(owner, target);
    const found = this.#sessions.get(key);
    if (found !== undefined) {
      this.#sessions.delete(key);
      this.#sessions.set(key, found);
      const s = found instanceof Promise ? await waitedFor(found, budget.signal, target) : found;
      // Waiting on its opening, which was ended meanwhile (#opened).
      if (found instanceof Promise && this.#sessions.get(key) !== s) throw endedWhileOpening(target);
      s.lastUsed = performance.now();
      return s;
    }
    const opening = this.#opened(key, target, budget);
    this.#sessions.set(key, opening);
    this.#opening.set(opening, target);
    return waitedFor(opening, budget.signal, target);
  }

  /**
   * Opens the session kept under `key` on its own time, not its request's: a request that stops waiting (its client
   * left or cancelled, the gateway ended it) does not cut the server's initialize short, or the server would hold a
   * session whose id the gateway never read, and could never end. Given twice the per-request limit in all (its
   * initialize, then notifications/initialized). Its owner ended (or its server changed) while it was being opened:
   * no one would use or end it, so the server would keep it until its own expiry; it is ended once open, and the
   * requests waiting on it fail, as a request already sent in a session that ends does.
   */
  #opened(key: string, target: McpTarget, budget: Budget): Promise<UpstreamSession> {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort('timeout'), 2 * budget.headersMs);
    timer.unref();
    // Its calls are spans of the request that asked for it, even those ending after it (the request stopped waiting).
    const opening: Promise<UpstreamSession> = this.#open(target, { headersMs: budget.headersMs, idleMs: budget.idleMs, signal: limit.signal, trace: budget.trace }).then((s) => {
      if (this.#sessions.get(key) !== opening) {
        this.#end(s);
        throw endedWhileOpening(target);
      }
      this.#sessions.set(key, s);
      this.#makeRoom(key, target.accountId);
      return s;
    }, (error: unknown) => {
      if (this.#sessions.get(key) === opening) this.#sessions.delete(key);
      throw error;
    }).finally(() => clearTimeout(timer));
    // Every request waiting on it may have stopped waiting: its failure is theirs, never an unhandled rejection.
    opening.catch(() => {});
    return opening;
  }

  /**
   * The least recently used open sessions ended until the limits are kept: first the opener's account's own, past its
   * share (a global limit alone let one account end every other account's sessions by opening 10,000 of its own; a
   * scan per session opened, a network round trip each), then any account's past the global limit. Room is made once
   * a session is open, not before: one a server refuses (an OAuth server's 401 to a client not signed in) ends no
   * other. Sessions still being opened count against neither limit: counted in the node's, an account opening many
   * at once (on a server of its own that answers when it likes) ended other accounts' open sessions past its share.
   */
  #makeRoom(opened: string, accountId: string): void {
    let open = 0;
    let own = 0;
    for (const s of this.#sessions.values()) {
      if (s instanceof Promise) continue;
      open++;
      if (s.target.accountId === accountId) own++;
    }
    for (const [key, s] of this.#sessions) {
      if (own <= this.#options.maxSessionsPerAccount) break;
      if (key === opened || s instanceof Promise || s.target.accountId !== accountId) continue;
      this.#sessions.delete(key);
      this.#end(s);
      own--;
      open--;
    }
    for (const [key, s] of this.#sessions) {
      if (open <= this.#options.maxSessions) return;
      if (key === opened || s instanceof Promise) continue;
      this.#sessions.delete(key);
      this.#end(s);
      open--;
    }
  }

  async #open(target: McpTarget, budget: Budget): Promise<UpstreamSession> {
    const id = 'tollgate-initialize';
    const init: JsonRpcMessage = { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: UPSTREAM_PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO } };
    const response = await this.#post(target, undefined, init, budget);
    const sessionId = header(response.headers['mcp-session-id']);
    let result: Record<string, unknown>;
    try {
      ({ result } = await this.#answer(target, response, id, budget.signal));
    } catch (error) {
      if (!refusedInitialize(error)) throw error;
      return this.#discover(target, budget, error);
    }
    const session: UpstreamSession = {
      id: sessionId,
      stateless: false,
      protocolVersion: typeof result.protocolVersion === 'string' ? result.protocolVersion : UPSTREAM_PROTOCOL_VERSION,
      capabilities: typeof result.capabilities === 'object' && result.capabilities !== null ? result.capabilities as Record<string, unknown> : {},
      instructions: typeof result.instructions === 'string' ? result.instructions : undefined,
      lastUsed: performance.now(),
      busy: 0,
      target,
    };
    const ack = await this.#post(target, session, { jsonrpc: '2.0', method: 'notifications/initialized' }, budget);
    await ack.body.dump();
    return session;
  }

  /**
   * A server that refused initialize, asked whether it speaks the stateless revision (`server/discover`); one that
   * does not answer as one fails as its initialize did.
   */
  async #discover(target: McpTarget, budget: Budget, refused: McpUpstreamError): Promise<UpstreamSession> {
    const id = 'tollgate-discover';
    const stateless: UpstreamSession = {
      id: undefined, stateless: true, protocolVersion: STATELESS_PROTOCOL_VERSION, capabilities: {}, instructions: undefined, lastUsed: performance.now(), busy: 0, target,
    };
    let result: Record<string, unknown>;
    try {
      const response = await this.#post(target, stateless, { jsonrpc: '2.0', id, method: 'server/discover', params: {} }, budget);
      ({ result } = await this.#answer(target, response, id, budget.signal));
    } catch {
      throw refused;
    }
    if (!Array.isArray(result.supportedVersions) || !result.supportedVersions.includes(STATELESS_PROTOCOL_VERSION)) throw refused;
    if (typeof result.capabilities === 'object' && result.capabilities !== null) stateless.capabilities = result.capabilities as Record<string, unknown>;
    if (typeof result.instructions === 'string') stateless.instructions = result.instructions;
    return stateless;
  }

  /** A request of the gateway's own in `owner`'s session: its result, or the failure. */
  async #rpc(owner: string, target: McpTarget, method: string, params: Record<string, unknown>, budget: Budget, limit: number): Promise<Answer> {
    const id = `tollgate-${method}`;
    const response = await this.send(owner, target, { jsonrpc: '2.0', id, method, params }, budget);
    return this.#answer(target, response, id, budget.signal, limit);
  }

  /** One message to the server, in its session's era (a client's message is of either, whichever the server's is). */
  #post(target: McpTarget, session: UpstreamSession | undefined, message: JsonRpcMessage, budget: Budget, tool?: McpTool): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT, 'accept-encoding': 'identity', ...target.headers };
    const sent = forEra(message, session?.stateless ? { clientInfo: CLIENT_INFO } : undefined);
    if (session?.stateless) Object.assign(headers, statelessHeaders(sent), tool ? paramHeaders(tool.inputSchema, sent.params?.arguments) : {});
    else if (session) {
      headers['mcp-protocol-version'] = session.protocolVersion;
      if (session.id !== undefined) headers['mcp-session-id'] = session.id;
    }
    const body = JSON.stringify(sent);
    const span = budget.trace?.start({
      server: target.server, url: target.url, method: message.method, id: message.id ?? undefined, tool: message.method === 'tools/call' && typeof message.params?.name === 'string' ? message.params.name : undefined,
      protocolVersion: session?.protocolVersion,
    });
    if (span?.headers) addTraceHeaders(headers, span.headers);
    const sending = this.#upstreams.request(target.url, { method: 'POST', headers, body, signal: budget.signal, headersTimeout: budget.headersMs, bodyTimeout: budget.idleMs });
    if (!span) return sending.catch((error: unknown) => { throw upstreamFailure(error, target.server.label, budget.signal); });
    return sending.then((response) => {
      traced(response, span);
      return response;
    }, (error: unknown) => {
      span.end(callErrorType(error, budget.signal));
      throw upstreamFailure(error, target.server.label, budget.signal);
    });
  }

  /**
   * The result of request `id` in the answer (JSON, or the event stream carrying it), read up to `limit` characters.
   * The call's span (tracing on) ends with what it said.
   */
  async #answer(target: McpTarget, response: Dispatcher.ResponseData, id: string, signal: AbortSignal, limit = MAX_OWN_ANSWER_BYTES): Promise<Answer> {
    try {
      const label = target.server.label;
      if (response.statusCode < 200 || response.statusCode >= 300) {
        await response.body.dump();
        throw httpFailure(label, response.statusCode, response.headers);
      }
      const stream = (header(response.headers['content-type']) ?? '').includes('text/event-stream');
      let found: JsonRpcMessage | undefined;
      let size = 0;
      let text = '';
      const events = new EventData(MAX_OWN_ANSWER_BYTES);
      const onData = (data: string): void => {
        const m = parseMessage(data);
        if (m && m.id === id && (m.result !== undefined || m.error !== undefined)) found ??= m;
      };
      response.body.setEncoding('utf8');
      for await (const chunk of response.body as AsyncIterable<string>) {
        size += chunk.length;
        if (size > limit) throw new McpUpstreamError(label, 'answered with more than the gateway reads.');
        if (stream) {
          events.push(chunk, onData);
          if (found) break;
        } else {
          text += chunk;
        }
      }
      if (!stream) found = parseMessage(text);
      if (!found) throw new McpUpstreamError(label, 'gave no answer the gateway could read.');
      if (found.error) throw new McpUpstreamError(label, `answered error ${found.error.code}: ${scrub(String(found.error.message), target.secret)}`, 0, false, undefined, found.error.code);
      answered(response);
      return { result: found.result ?? {}, size };
    } catch (error) {
      answered(response, callErrorType(error, signal));
      throw error;
    }
  }

  /**
   * Best effort: the server may free what it holds for the session. `trace`: the client request that ended it (its
   * DELETE), under whose span this one is; a session ended on no request's behalf (idle, evicted, its server or key
   * changed, the gateway stopping) is no span, and its server gets no trace headers.
   */
  #end(s: UpstreamSession, trace?: McpTracing): Promise<void> {
    if (s.id === undefined) return Promise.resolve();
    const headers: Record<string, string> = { ...s.target.headers, 'mcp-session-id': s.id, 'mcp-protocol-version': s.protocolVersion };
    const span = trace?.start({ server: s.target.server, url: s.target.url, method: undefined, id: undefined, tool: undefined, protocolVersion: s.protocolVersion });
    if (span?.headers) addTraceHeaders(headers, span.headers);
    const signal = AbortSignal.timeout(5000);
    return this.#upstreams.request(s.target.url, { method: 'DELETE', headers, signal, headersTimeout: 5000, bodyTimeout: 5000 })
      .then((r) => {
        if (span) traced(r, span);
        return r.body.dump();
      }, (error: unknown) => span?.end(callErrorType(error, signal)));
  }
}

/** The session being opened, waited for until `signal` aborts: the request gives up, the opening goes on (#opened). */
function waitedFor(opening: Promise<UpstreamSession>, signal: AbortSignal, target: McpTarget): Promise<UpstreamSession> {
  if (signal.aborted) return Promise.reject(upstreamFailure(signal.reason, target.server.label, signal));
  return new Promise((resolve, reject) => {
    const stop = (): void => reject(upstreamFailure(signal.reason, target.server.label, signal));
    signal.addEventListener('abort', stop, { once: true });
    opening.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

function endedWhileOpening(target: McpTarget): McpUpstreamError {
  return new McpUpstreamError(target.server.label, 'had its session ended while the gateway opened it (the client\'s session, its key or the server ended).');
}

/** The session is in use until the answer is read (or let go): only then does its idle time start. */
function busyWhileRead(session: UpstreamSession, response: Dispatcher.ResponseData): void {
  session.busy++;
  response.body.once('close', () => {
    session.busy--;
    session.lastUsed = performance.now();
  });
}

/**
 * A session is its credential's too: requests without a client session share their key's, and a server that keeps
 * state per session (or binds it to the user it authenticated) must not see one user's session under another's token.
 */
function sessionKey(owner: string, target: McpTarget): string {
  return `${owner}\0${target.server.id}\0${target.server.upstreamUrl}\0${target.credential}`;
}

interface Answer { result: Record<string, unknown>; size: number }

/**
 * An initialize a server refused as one it does not serve, not for its credential nor as a failure: a 4xx other than
 * the auth ones (a stateless-only server's 400 with -32022), or a JSON-RPC error saying the method or its revision is not
 * the server's. Only then is the server asked whether it is a stateless one.
 */
function refusedInitialize(error: unknown): error is McpUpstreamError {
  if (!(error instanceof McpUpstreamError)) return false;
  if (error.status >= 400 && error.status < 500) return error.status !== 401 && error.status !== 403 && error.status !== 408 && error.status !== 429;
  return error.status === 0 && (error.rpcCode === RpcCode.methodNotFound || error.rpcCode === RpcCode.unsupportedProtocolVersion || error.rpcCode === RpcCode.invalidRequest || error.rpcCode === RpcCode.invalidParams);
}
