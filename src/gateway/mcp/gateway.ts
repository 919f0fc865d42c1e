// The MCP gateway of one process (the overview: index.ts): each request authenticated and served, the answers it
// gives itself, the calls it forwards tracked until answered and relayed, their usage recorded, and the client
// sessions it keeps, ended by their limits and by their key's and account's changes.
import { createHash, randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { nowIso } from '../../domain/clock.ts';
import { TollgateError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { aggregateToolName, MCP_TOOL_SEPARATOR, mcpSecretProvider, type McpServerState } from '../../domain/mcp-server.ts';
import type { AccessScope, AccountSnapshot, AuthenticatedKey } from '../../state/types.ts';
import { NO_COST, type UsageEvent } from '../../usage/event.ts';
import { authenticateToken } from '../authenticate.ts';
import { decodedBody, readBody } from '../body.ts';
import type { GatewayDeps, RequestContext } from '../context.ts';
import { recordExchange } from '../request-capture.ts';
import { admitCredit, holdCredit } from '../pipeline.ts';
import { mcpServerAllowed, mcpToolAllowed } from './access.ts';
import { CallEnded, keyDeleted, notAllowed, serverChange, serverChanged, serverDeleted, sessionEnded } from './ending.ts';
import { EventData } from './jsonrpc.ts';
import { PROCESS_HELD_ANSWERS, type HeldAnswers } from '../exchange.ts';
import { parseMessage, RpcCode, rpcError, rpcResult, type JsonRpcId, type JsonRpcMessage } from '../../domain/json-rpc.ts';
import { asEventStream, isJsonContentType, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE } from '../../domain/mcp-http.ts';
import { discoverResult, eraOf, isStatelessVersion, METHOD_NOT_FOUND_STATUS, paramMismatch, removedMethod } from '../../domain/mcp-stateless.ts';
import { CALL_TOOL, callArgs, META_TOOLS, SEARCH_INSTRUCTIONS, SEARCH_TOOLS, searchArgs, searchTools, TOOL_SEARCH_PARAM, TOOL_SEARCH_VALUE, toolSearchOf, type Listed } from './search.ts';
import { answered, callErrorType, httpFailure, McpUpstreamError, McpUpstreamSessions, upstreamFailure, type McpTarget, type McpTool, type McpTracing } from './upstream.ts';
import { answer, endedError, endEmpty, listed, refuse, refuseCall, toolError, toolResult, upstreamError, writeStreamHead } from './answer.ts';
import { callBudget, endedOf, isCancelled, type CallBudget } from './budget.ts';
import { pendingKey, type Call, type Metered, type Pending } from './call.ts';
import { challenged, secretOf } from './credentials.ts';
import { drained, HELD_ANSWERS_FULL, MAX_RELAYED_MESSAGE_BYTES, outcomeOf, refusalOf, restated } from './relay.ts';
import { acceptsOf, headerOf, mcpAccessToken } from './request.ts';
import { keyOwner, MCP_PROTOCOL_VERSIONS, SERVER_INFO, SESSION_HEADER, SESSION_ID, type ClientSession } from './session.ts';
import { begun, denied, unanswered, type Outcome } from './usage.ts';

/**
 * `maxSessions`: client sessions kept, and upstream sessions, on this node; `maxSessionsPerAccount`: of those, one
 * account's (a tenth by default), so one account's sessions past it end its own oldest, never another account's.
 */
export interface McpGatewayOptions {
  maxSessions?: number; maxSessionsPerAccount?: number; sessionIdleMs?: number; upstreamIdleMs?: number; toolsTtlMs?: number;
  /** What answers held whole count in: the process's tally (exchange.ts) unless a test gives its own. */
  heldAnswers?: HeldAnswers;
}

export class McpGateway {
  readonly sessions: McpUpstreamSessions;
  readonly #deps: GatewayDeps;
  /** Client sessions by id, least recently used first. */
  readonly #clients = new Map<string, ClientSession>();
  /** Requests forwarded and not yet answered, by their client session (or key) and id: what a cancellation names. */
  readonly #pending = new Map<string, Pending>();
  /**
   * Every request forwarded and not yet answered, what ends with its session, key or server: a client reusing an id
   * replaces the first request in #pending, never here, so no request escapes its end that way.
   */
  readonly #running = new Set<Pending>();
  readonly #maxSessions: number;
  readonly #maxPerAccount: number;
  /** Each account's client sessions in #clients. */
  readonly #perAccount = new Map<string, number>();
  readonly #sessionIdleMs: number;
  readonly #heldAnswers: HeldAnswers;
  readonly #sweeper: NodeJS.Timeout;

  constructor(deps: GatewayDeps, options: McpGatewayOptions = {}) {
    this.#deps = deps;
    this.#maxSessions = options.maxSessions ?? 10_000;
    this.#maxPerAccount = options.maxSessionsPerAccount ?? Math.max(1, Math.floor(this.#maxSessions / 10));
    this.#sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.#heldAnswers = options.heldAnswers ?? PROCESS_HELD_ANSWERS;
    this.sessions = new McpUpstreamSessions(deps.upstreams, {
      maxSessions: this.#maxSessions, maxSessionsPerAccount: this.#maxPerAccount, idleMs: options.upstreamIdleMs ?? 10 * 60_000, ...(options.toolsTtlMs !== undefined ? { toolsTtlMs: options.toolsTtlMs } : {}),
    });
    // Unref'd, as the upstream sessions' sweep: neither keeps a stopping process alive.
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, this.#sessionIdleMs));
    this.#sweeper.unref();
    deps.state.onAccessKeyChange?.((accessKeyId) => this.#keyChanged(accessKeyId));
    deps.state.onReload?.((_before, now) => this.#accountReloaded(now));
  }

  /**
   * The gateway stops, its requests answered: its sessions with servers are ended (at most `waitMs` waited for), and
   * nothing is swept any more.
   */
  close(waitMs = 1000): Promise<void> {
    clearInterval(this.#sweeper);
    this.#clients.clear();
    this.#perAccount.clear();
    return this.sessions.close(waitMs);
  }

  /**
   * An access key changed: deleted, its calls still running end now, told why, and its sessions with them, their
   * servers' sessions too (a best-effort DELETE each), rather than when idle; re-linked or its configuration edited,
   * its calls running that it may no longer make end. Each request is authenticated anew, so this frees what nothing
   * can use again; a key the store cannot be asked about is left to the idle limits.
   */
  #keyChanged(accessKeyId: string): void {
    const lookup = this.#deps.state.accessKeyById;
    const ofKey = (p: Pending): boolean => p.call.key.id === accessKeyId;
    // Most keys changed have nothing here: the store is not asked about them.
    if (!lookup || (![...this.#running].some(ofKey) && ![...this.#clients.values()].some((s) => s.keyId === accessKeyId) && !this.sessions.hasSession(keyOwner(accessKeyId)))) return;
    const found = (key: AuthenticatedKey | null): void => {
      if (key !== null) {
        const scope = this.#deps.state.configuration(key)?.access ?? null;
        this.#endDisallowed((p) => (ofKey(p) ? scope : undefined), (p) => p.server.label);
        return;
      }
      // Its calls end first, so each tells its client the key is gone rather than that its session ended.
      this.#endCalls((p) => (ofKey(p) ? keyDeleted(p.server) : undefined));
      for (const [id, s] of this.#clients) if (s.keyId === accessKeyId) this.#endSession(id);
      this.sessions.forget(keyOwner(accessKeyId));
    };
    try {
      const key = lookup.call(this.#deps.state, accessKeyId);
      if (key instanceof Promise) key.then(found, () => {});
      else found(key);
    } catch {
      // As a rejected lookup: left to the idle limits.
    }
  }

  /**
   * An account's snapshot replaced: sessions with a server it no longer holds, or holds at another URL or with
   * another credential (its auth changed, its stored secret rotated), end now with a best-effort DELETE. Nothing
   * would use them again (a session belongs to its URL and credential), and their servers would keep them. Calls
   * running on such a server end with them, told why, and so do calls the key's configuration no longer allows.
   */
  #accountReloaded(now: AccountSnapshot): void {
    const ofAccount = (p: Pending): boolean => p.call.key.accountId === now.accountId;
    this.#endCalls((p) => {
      if (!ofAccount(p)) return undefined;
      const change = serverChange(now, p.server, p.target?.secret);
      return change === undefined ? undefined : change === 'deleted' ? serverDeleted(p.server) : serverChanged(p.server);
    });
    this.#endDisallowed((p) => {
      if (!ofAccount(p)) return undefined;
      const { configurationId } = p.call.key;
      return (configurationId === null ? undefined : now.configurations.get(configurationId))?.access ?? null;
    }, (p) => now.mcpServers.get(p.server.id)?.label ?? p.server.label);
    this.sessions.endStale(now.accountId, (target) => serverChange(now, target.server, target.secret) !== undefined);
  }

  /**
   * Ends the requests still running that `ending` names, each told why. The answer, the usage event and the fee's hold
   * are the request's own path's, as for any request whose server did not answer: each is written once.
   */
  #endCalls(ending: (p: Pending) => CallEnded | undefined): void {
    for (const p of [...this.#running]) {
      if (!p.budget.running()) continue;
      const why = ending(p);
      if (why) p.budget.end(why);
    }
  }

  /**
   * Ends the requests running that their key's allow lists (`scopeOf` them; undefined: not this change's) no longer
   * let it make, as they would be refused now.
   */
  #endDisallowed(scopeOf: (p: Pending) => AccessScope | null | undefined, labelOf: (p: Pending) => string): void {
    this.#endCalls((p) => {
      const scope = scopeOf(p);
      if (scope === undefined) return undefined;
      const label = labelOf(p);
      if (p.tool === undefined ? mcpServerAllowed(scope, label) : mcpToolAllowed(scope, label, p.tool)) return undefined;
      // Its session stays (the key may still use it): the server is told, as for a client's cancellation.
      if (p.target) this.sessions.cancel(p.call.owner, p.target, p.id, 'The gateway no longer allows this request.');
      return notAllowed(p.server, p.tool);
    });
  }

  /**
   * Serves one request; `serverId` for a server's own endpoint. `stopping` aborts when the gateway's shutdown grace
   * period is over: the request then ends with a JSON-RPC error. Settles once the request's usage is recorded; never
   * rejects.
   */
  handle(ctx: RequestContext, serverId: string | undefined, stopping?: AbortSignal): Promise<void> {
    return this.#serve(ctx, serverId, stopping).catch((error: unknown) => {
      this.#deps.logger.error({ requestId: ctx.requestId, err: error instanceof Error ? error.message : String(error) }, 'mcp request failed');
      if (ctx.res.headersSent) ctx.res.destroy();
      else refuse(ctx, 500, RpcCode.internal, 'Internal error; retry the request.');
    }).finally(() => this.#deps.observer?.answered(ctx));
  }

  /** Ends the client sessions idle past the limit: one with a request still running is not idle, however long it runs. */
  #sweep(): void {
    const now = performance.now();
    const running = new Set([...this.#running].map((p) => p.call.owner));
    for (const [id, s] of this.#clients) {
      if (now - s.lastUsed < this.#sessionIdleMs || running.has(id)) continue;
      this.#endSession(id);
    }
  }

  async #serve(ctx: RequestContext, serverId: string | undefined, stopping: AbortSignal | undefined): Promise<void> {
    const { req, deps } = ctx;
    const method = req.method;
    const version = headerOf(req.headers['mcp-protocol-version']);
    // A 2026-07-28 client has no session to end and no stream to open: POST is all there is.
    if (version !== undefined && isStatelessVersion(version) && method !== 'POST') return answer(ctx, 405, undefined, { Allow: 'POST' });
    // No stream of the server's own to listen to (GET), as Streamable HTTP allows: clients go on without one.
    if (method !== 'POST' && method !== 'DELETE') return answer(ctx, 405, undefined, { Allow: 'POST, DELETE' });
    const { token, viaApiKey } = mcpAccessToken(ctx);
    let found = authenticateToken(deps.state, token, req.headers.authorization !== undefined);
    if (found instanceof Promise) found = await found;
    if (found instanceof TollgateError) {
      ctx.errorCode = found.code;
      // No WWW-Authenticate: an MCP client reading one would start an OAuth flow this gateway does not offer.
      return refuse(ctx, found.status, found.status === 401 ? RpcCode.unauthorized : RpcCode.internal, found.message, { errorCode: found.code });
    }
    const key = found;
    ctx.key = key;
    const account = deps.state.account(key.accountId);
    ctx.account = account;
    if (account.settings.requestCapture) recordExchange(ctx);
    const scope = deps.state.configuration(key)?.access ?? null;
    let server: McpServerState | undefined;
    if (serverId !== undefined) {
      server = account.mcpServers.get(serverId);
      if (!server) return refuse(ctx, 404, RpcCode.invalidRequest, `No MCP server s-${serverId.slice(0, 64)} in this account.`);
      if (!mcpServerAllowed(scope, server.label)) return refuse(ctx, 403, RpcCode.notAllowed, `MCP server "${server.label}" is not allowed for this key.`);
    }
    const search = toolSearchOf(req.url ?? '/');
    if (typeof search === 'string') return refuse(ctx, 400, RpcCode.invalidRequest, search);
    if (search && server) return refuse(ctx, 400, RpcCode.invalidRequest, `Tool search is served on the aggregate endpoint (?${TOOL_SEARCH_PARAM}=${TOOL_SEARCH_VALUE} there), where a server's own tools are found with every other's.`);
    const presented = headerOf(req.headers['mcp-session-id']);
    if (method === 'DELETE') {
      if (presented === undefined) return refuse(ctx, 400, RpcCode.invalidRequest, 'DELETE ends a session: send its Mcp-Session-Id.');
      const s = this.#clients.get(presented);
      if (!SESSION_ID.test(presented) || (s && s.keyId !== key.id)) return refuse(ctx, 404, RpcCode.invalidRequest, 'Session not found.');
      // Its servers' sessions end on this request's behalf: their DELETEs are spans under its own.
      this.#endSession(presented, deps.observer?.tracer?.mcpCalls(ctx));
      return answer(ctx, 200, undefined);
    }
    // Streamable HTTP: a POST is answered with JSON or an event stream. A client taking neither is refused (406,
    // -32000, the official SDK's server's answer), before the body is read; one taking either is served in it.
    const accepts = acceptsOf(ctx);
    if (!accepts.json && !accepts.events) return refuse(ctx, 406, RpcCode.mediaType, NOT_ACCEPTABLE);
    // A POST's body is a JSON-RPC message, sent as application/json. Refused as the official SDK's server refuses it
    // (415, -32000), before the body is read: a form or text body is no client's MCP message.
    if (!isJsonContentType(headerOf(req.headers['content-type']))) return refuse(ctx, 415, RpcCode.mediaType, UNSUPPORTED_MEDIA_TYPE);
    if (version !== undefined && !isStatelessVersion(version) && !(MCP_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
      return refuse(ctx, 400, RpcCode.invalidRequest, `Unsupported protocol version: ${version.slice(0, 32)}.`, { supported: [...MCP_PROTOCOL_VERSIONS], requested: version.slice(0, 32) });
    }
    let raw: Buffer;
    try {
      raw = await decodedBody(req, await readBody(req, deps.options.maxBodyBytes), deps.options.maxBodyBytes);
      ctx.recording?.request.push(raw);
    } catch (error) {
      if (error instanceof TollgateError) return refuse(ctx, error.status, error.status === 413 ? RpcCode.invalidRequest : RpcCode.parseError, error.message);
      throw error;
    }
    const text = raw.toString('utf8');
    const message = parseMessage(text);
    if (!message) {
      const trimmed = text.trimStart();
      if (trimmed.startsWith('[')) return refuse(ctx, 400, RpcCode.invalidRequest, 'JSON-RPC batches are not served: send one message per POST (MCP 2025-06-18 and later).');
      return refuse(ctx, 400, RpcCode.parseError, 'The body is not one JSON-RPC 2.0 message.');
    }
    const era = eraOf(message, req.headers);
    if (era.era === 'refused') return answer(ctx, era.status, era.body);
    const stateless = era.era === 'stateless';
    const call: Call = { ctx, key, account, scope, server, message, viaApiKey, token: token!, owner: '', stopping, stateless, search, viaCallTool: false };
    if (!stateless && message.method === 'initialize' && message.id !== undefined && message.id !== null) return this.#initialize(call, message.id);
    // A stateless request has no session (one it names is ignored, as the revision says): it uses its key's upstream
    // sessions, as a 2025 request sent without one does.
    call.owner = this.#owner(stateless ? undefined : presented, key);
    if (call.owner === '') return refuse(ctx, 404, RpcCode.invalidRequest, 'Session not found.');
    // MCP: a request's id is a string or a number, never null.
    if (message.method !== undefined && message.id === null) return refuse(ctx, 400, RpcCode.invalidRequest, 'A request\'s id must be a string or a number, not null.');
    // A notification, or the client's answer to a server's request: accepted (202). Only those go on to a server: a
    // request sent without an id (a `tools/call`) is not one, and would reach the server unchecked and unrecorded.
    if (message.method === undefined || message.id === undefined || message.id === null) {
      // The revision has no client notifications over HTTP (a request is cancelled by closing its stream) and no
      // server requests to answer.
      if (stateless) return answer(ctx, 202, undefined);
      const passes = message.method === undefined ? message.result !== undefined || message.error !== undefined : message.method.startsWith('notifications/');
      // A cancellation of a call still running goes to the server running it (on the aggregate endpoint too), and
      // the gateway stops waiting for its answer.
      const pending = message.method === 'notifications/cancelled' ? this.#pending.get(pendingKey(call.owner, message.params?.requestId)) : undefined;
      if (pending) this.#cancel(call, pending);
      else if (server && passes && message.method !== 'notifications/initialized') this.#forgetful(call, server, undefined);
      return answer(ctx, 202, undefined);
    }
    const id = message.id;
    // Not served statelessly: what the revision removed, and its change stream (the gateway keeps no stream open to
    // a server to hear its changes on, so it offers no listChanged).
    if (stateless && (removedMethod(message.method) || message.method === 'subscriptions/listen')) {
      return answer(ctx, METHOD_NOT_FOUND_STATUS, rpcError(id, RpcCode.methodNotFound, `Method not found: ${message.method.slice(0, 64)} (MCP ${era.version}).`));
    }
    switch (message.method) {
      case 'ping': return answer(ctx, 200, rpcResult(id, {}));
      case 'server/discover': if (stateless) return this.#discover(call, id); break;
      case 'tools/list': return this.#toolsList(call, id);
      case 'tools/call': return search ? this.#searchCall(call, id) : this.#toolsCall(call, id);
    }
    if (server) return this.#forward(call, id, server, message, undefined);
    return answer(ctx, stateless ? METHOD_NOT_FOUND_STATUS : 200, rpcError(id, RpcCode.methodNotFound, `Method not found: ${message.method.slice(0, 64)}. The aggregate MCP endpoint serves tools only; a server's own endpoint (/s-<id>) passes its other methods through.`));
  }

  /**
   * Whose upstream sessions a request uses: its client session's, or its key's when it sends none. A session id this
   * node does not know (issued by another node, or before a restart) is taken up: it holds nothing the gateway could
   * not open again. '' when the session is another key's.
   */
  #owner(presented: string | undefined, key: AuthenticatedKey): string {
    if (presented === undefined) return keyOwner(key.id);
    if (!SESSION_ID.test(presented)) return '';
    const s = this.#clients.get(presented);
    if (s && s.keyId !== key.id) return '';
    this.#touch(presented, key);
    return presented;
  }

  #touch(id: string, key: AuthenticatedKey): void {
    const known = this.#clients.get(id);
    if (known) {
      // Moved last: the map's order is the order of use.
      this.#clients.delete(id);
      known.lastUsed = performance.now();
      this.#clients.set(id, known);
      return;
    }
    // Sessions cost a client nothing to make (an unknown id is taken up): a global limit alone let one account end
    // every other account's sessions, and their servers' sessions, by presenting 10,000 ids of its own.
    if ((this.#perAccount.get(key.accountId) ?? 0) >= this.#maxPerAccount) {
      for (const [oldest, s] of this.#clients) {
        if (s.accountId !== key.accountId) continue;
        this.#endSession(oldest);
        break;
      }
    }
    if (this.#clients.size >= this.#maxSessions) this.#endSession(this.#clients.keys().next().value!);
    this.#clients.set(id, { keyId: key.id, accountId: key.accountId, lastUsed: performance.now() });
    this.#perAccount.set(key.accountId, (this.#perAccount.get(key.accountId) ?? 0) + 1);
  }

  /**
   * Ends client session `id` (known here or not), its requests still running (told why) and its upstream sessions;
   * `trace`: the client's DELETE ending it, whose spans the upstream sessions' DELETEs are.
   */
  #endSession(id: string, trace?: McpTracing): void {
    this.#endCalls((p) => (p.call.owner === id ? sessionEnded(p.server) : undefined));
    const s = this.#clients.get(id);
    if (s) {
      this.#clients.delete(id);
      const left = (this.#perAccount.get(s.accountId) ?? 1) - 1;
      if (left > 0) this.#perAccount.set(s.accountId, left);
      else this.#perAccount.delete(s.accountId);
    }
    this.sessions.forget(id, trace);
  }

  async #initialize(call: Call, id: JsonRpcId): Promise<void> {
    const asked = call.message.params?.protocolVersion;
    const protocolVersion = typeof asked === 'string' && (MCP_PROTOCOL_VERSIONS as readonly string[]).includes(asked) ? asked : MCP_PROTOCOL_VERSIONS[0];
    const sessionId = `mcps_${randomBytes(24).toString('base64url')}`;
    call.owner = sessionId;
    const offer = await this.#offer(call, id);
    // Refused (a server's challenge relayed): no session, which the client was never told of and would only have
    // taken a place among the sessions kept.
    if (!offer) return;
    this.#touch(sessionId, call.key);
    const result: Record<string, unknown> = { protocolVersion, capabilities: offer.capabilities, serverInfo: SERVER_INFO };
    if (offer.instructions !== undefined) result.instructions = offer.instructions;
    answer(call.ctx, 200, rpcResult(id, result), { [SESSION_HEADER]: sessionId });
  }

  /** `server/discover` (MCP 2026-07-28): what initialize answers, without a session. */
  async #discover(call: Call, id: JsonRpcId): Promise<void> {
    const offer = await this.#offer(call, id);
    if (offer) answer(call.ctx, 200, rpcResult(id, discoverResult(offer.capabilities, SERVER_INFO, offer.instructions)));
  }

  /**
   * What the endpoint offers: tools; on a server's own endpoint also what the server offers (its resources, prompts),
   * its session opened now to learn it. Change notifications and subscriptions need a stream the gateway does not
   * keep, so they are left out. Undefined once answered: an OAuth server the client has not signed in to, whose
   * challenge is the client's way to the sign-in.
   */
  async #offer(call: Call, id: JsonRpcId): Promise<{ capabilities: Record<string, unknown>; instructions: string | undefined } | undefined> {
    const { ctx, server } = call;
    const capabilities: Record<string, unknown> = { tools: { listChanged: false } };
    if (!server) return { capabilities, instructions: call.search ? SEARCH_INSTRUCTIONS : undefined };
    const budget = this.#budget(call);
    try {
      const upstream = await this.sessions.session(call.owner, this.#target(call, server), budget.budget);
      // The stateless revision sets a request's log level in its `_meta`, not with logging/setLevel.
      for (const name of call.stateless ? ['resources', 'prompts', 'completions'] : ['resources', 'prompts', 'completions', 'logging']) {
        if (upstream.capabilities[name] !== undefined) capabilities[name] = {};
      }
      return { capabilities, instructions: upstream.instructions };
    } catch (error) {
      if (challenged(error, server)) {
        this.#failed(call, id, error, server, budget);
        return undefined;
      }
      this.#deps.logger.warn({ requestId: ctx.requestId, server: server.label, err: error instanceof Error ? error.message : String(error) }, 'mcp server could not be initialized');
      return { capabilities, instructions: undefined };
    } finally {
      budget.done();
    }
  }

  async #toolsList(call: Call, id: JsonRpcId): Promise<void> {
    const { ctx, scope, server } = call;
    const budget = this.#budget(call);
    try {
      if (server) {
        let tools: McpTool[];
        try {
          tools = await this.sessions.tools(call.owner, this.#target(call, server), budget.budget);
        } catch (error) {
          return this.#failed(call, id, error, server, budget);
        }
        return answer(ctx, 200, rpcResult(id, listed(call, { tools: tools.filter((t) => mcpToolAllowed(scope, server.label, t.name)) })));
      }
      // Tool search lists its own two tools whatever the servers offer: nothing to ask them.
      if (call.search) return answer(ctx, 200, rpcResult(id, listed(call, { tools: META_TOOLS })));
      const tools = (await this.#reachableTools(call, budget)).map(({ label, tool }) => ({ ...tool, name: aggregateToolName(label, tool.name) }));
      answer(ctx, 200, rpcResult(id, listed(call, { tools })));
    } finally {
      budget.done();
    }
  }

  /**
   * Every tool the key may call on the aggregate endpoint (where it is named `<label>__<tool>`): ordered by label, each
   * server's tools in its own order, as the servers' kept lists hold them (tool search indexes those objects once).
   */
  async #reachableTools(call: Call, budget: CallBudget): Promise<Listed[]> {
    const { ctx, account, scope } = call;
    const servers = [...account.mcpServers.values()].filter((s) => mcpServerAllowed(scope, s.label)).sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    const lists = await Promise.allSettled(servers.map(async (s) => this.sessions.tools(call.owner, this.#target(call, s), budget.budget)));
    const tools: Listed[] = [];
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i]!;
      const listed = lists[i]!;
      if (listed.status === 'rejected') {
        // One server down leaves the others' tools usable; its calls say what is wrong.
        this.#deps.logger.warn({ requestId: ctx.requestId, server: s.label, err: listed.reason instanceof Error ? listed.reason.message : String(listed.reason) }, 'mcp server tools not listed');
        continue;
      }
      for (const t of listed.value) if (mcpToolAllowed(scope, s.label, t.name)) tools.push({ label: s.label, tool: t });
    }
    return tools;
  }

  /**
   * A tools/call on a tool-search connection: `search_tools`, `call_tool`, or a tool's own name (an agent coded
   * against names keeps working).
   */
  async #searchCall(call: Call, id: JsonRpcId): Promise<void> {
    const params = call.message.params ?? {};
    if (params.name === SEARCH_TOOLS) return this.#searchTools(call, id, params.arguments);
    if (params.name !== CALL_TOOL) return this.#toolsCall(call, id);
    const args = callArgs(params.arguments);
    if (typeof args === 'string') return toolError(call, id, args);
    // The call made as if the client had named the tool itself: the one path, with its access checks, usage event,
    // cancellation (the id is the client's) and errors; `_meta` (a progress token) goes with it.
    const unwrapped: Record<string, unknown> = { ...params, name: args.name };
    if (args.arguments === undefined) delete unwrapped.arguments;
    else unwrapped.arguments = args.arguments;
    return this.#toolsCall({ ...call, message: { ...call.message, params: unwrapped }, viaCallTool: true }, id);
  }

  /** `search_tools`: the key's tools matching the query, answered by the gateway (no server is called, nothing recorded). */
  async #searchTools(call: Call, id: JsonRpcId, given: unknown): Promise<void> {
    const args = searchArgs(given);
    if (typeof args === 'string') return toolError(call, id, args);
    const budget = this.#budget(call);
    let tools: Listed[];
    try {
      tools = await this.#reachableTools(call, budget);
    } finally {
      budget.done();
    }
    const found = searchTools(tools, args.query, args.limit);
    toolResult(call, id, { content: [{ type: 'text', text: JSON.stringify(found) }], structuredContent: found });
  }

  async #toolsCall(call: Call, id: JsonRpcId): Promise<void> {
    const { ctx, account, scope, message } = call;
    const params = message.params ?? {};
    const asked = params.name;
    if (typeof asked !== 'string' || asked === '') return answer(ctx, 200, rpcError(id, RpcCode.invalidParams, 'tools/call needs params.name, the tool\'s name.'));
    let server = call.server;
    let tool = asked;
    if (!server) {
      const first = asked.indexOf(MCP_TOOL_SEPARATOR);
      let label = first > 0 ? asked.slice(0, first) : undefined;
      tool = first > 0 ? asked.slice(first + MCP_TOOL_SEPARATOR.length) : asked;
      // A label may end in "_" and a tool begin with one: `a___b` is `a_`'s `b` or `a`'s `_b`. Every split within the
      // first run of underscores is tried, the longest label the account has winning (the allow lists are checked on
      // the server it names, whichever it is).
      for (let at = first; at > 0 && !asked.slice(0, at).includes(MCP_TOOL_SEPARATOR); at = asked.indexOf(MCP_TOOL_SEPARATOR, at + 1)) {
        const candidate = asked.slice(0, at);
        for (const s of account.mcpServers.values()) {
          if (s.label !== candidate) continue;
          server = s;
          label = candidate;
          tool = asked.slice(at + MCP_TOOL_SEPARATOR.length);
        }
      }
      if (!server || tool === '') {
        this.#record(call, label ?? '', tool, undefined, denied(RpcCode.invalidParams));
        return refuseCall(call, id, RpcCode.invalidParams, `Unknown tool: ${asked.slice(0, 200)}`);
      }
    }
    if (!mcpToolAllowed(scope, server.label, tool)) {
      this.#record(call, server.label, tool, undefined, denied(RpcCode.notAllowed));
      return refuseCall(call, id, RpcCode.notAllowed, 'tool not allowed for this key');
    }
    const budget = this.#budget(call);
    const pending = this.#track(call, id, server, budget, tool);
    try {
      await this.#callTool(call, id, server, tool, budget, pending);
    } finally {
      this.#untrack(pending);
    }
  }

  /** An allowed tools/call: the tool checked in the server's list, noted in usage, then forwarded. */
  async #callTool(call: Call, id: JsonRpcId, server: McpServerState, tool: string, budget: CallBudget, pending: Pending): Promise<void> {
    const { ctx, message } = call;
    const params = message.params ?? {};
    const asked = String(params.name);
    let target: McpTarget;
    let definition: McpTool | undefined;
    try {
      target = this.#target(call, server);
      pending.target = target;
      // A name the server does not list is refused here, once its list, fetched again, still lacks it.
      const known = (tools: McpTool[]) => tools.find((t) => t.name === tool);
      definition = known(await this.sessions.tools(call.owner, target, budget.budget)) ?? known(await this.sessions.tools(call.owner, target, budget.budget, true));
      if (!definition) {
        budget.done();
        this.#record(call, server.label, tool, undefined, denied(RpcCode.invalidParams));
        return refuseCall(call, id, RpcCode.invalidParams, `Unknown tool: ${asked.slice(0, 200)}`);
      }
    } catch (error) {
      budget.done();
      const failure = upstreamFailure(error, server.label, budget.budget.signal);
      this.#record(call, server.label, tool, undefined, unanswered(budget, failure, 0));
      return this.#failed(call, id, failure, server, budget);
    }
    // The arguments a stateless client repeats in headers must be the body's, as its other headers must (eraOf). Through
    // call_tool, whose schema asks for none, a header left out is not missing; one sent must still agree, or a proxy in
    // front would have routed on a value the tool never got.
    const mismatch = call.stateless ? paramMismatch(id, definition.inputSchema, params.arguments, ctx.req.headers, call.viaCallTool) : undefined;
    if (mismatch) {
      budget.done();
      this.#record(call, server.label, tool, undefined, denied(RpcCode.headerMismatch));
      return answer(ctx, 400, mismatch);
    }
    // The message as the gateway read it, never the client's bytes: a body naming the tool twice (or the method) would
    // otherwise be checked by its last name here and run by its first at a server whose parser keeps the first.
    const body: JsonRpcMessage = { ...message, params: { ...params, name: tool } };
    let refused: TollgateError | undefined;
    try {
      refused = await this.#holdFee(call);
    } catch (error) {
      // The balance could not be read (the store failing its first read): the call's timer goes with it.
      budget.done();
      throw error;
    }
    if (refused) {
      budget.done();
      // The access line carries the catalog's code, as a model request refused for credit has it: an operator
      // counting 4026 refusals in the log would otherwise miss every MCP one (answered over HTTP 200).
      ctx.errorCode = refused.code;
      this.#record(call, server.label, tool, undefined, denied(RpcCode.notAllowed));
      return refuseCall(call, id, RpcCode.notAllowed, refused.message, { errorCode: refused.code });
    }
    const eventId = newId('usageEvent');
    try {
      // Noted durably before the call leaves: a call that reached the server is never missing from usage.
      try {
        await this.#deps.usage.begin(begun(call, eventId, server.label, tool, target));
      } catch (error) {
        budget.done();
        throw error;
      }
      await this.#forward(call, id, server, body, { eventId, tool, target, definition }, budget);
    } finally {
      // Settled when the call was recorded; a call that ended any other way (a gateway fault) gives it back.
      this.#deps.ledger?.release(call.hold);
    }
  }

  /**
   * Billing on with a per-call fee: the call is admitted as a model request is (balance − open reservations > 0) and
   * holds its fee until it is recorded, so concurrent calls cannot spend credit the account does not have. The
   * refusal when it may not; undefined when admitted (or nothing is billed).
   */
  async #holdFee(call: Call): Promise<TollgateError | undefined> {
    const ledger = this.#deps.ledger;
    const fee = this.#fee();
    if (!ledger || fee === 0n) return undefined;
    try {
      const admitted = admitCredit(call.ctx);
      if (admitted) await admitted;
      call.hold = holdCredit(call.ctx, ledger, fee);
      return undefined;
    } catch (error) {
      if (error instanceof TollgateError) return error;
      throw error;
    }
  }

  #fee(): bigint {
    return (this.#deps.options.mcpCallFeeMicroUsd ?? 0n) * 1_000_000n;
  }

  /**
   * Sends the message to the server and relays its answer (JSON or an event stream) as it arrives; a failure before
   * the answer is a JSON-RPC error naming the server. `metered`: a tools/call, recorded once it ends.
   */
  async #forward(call: Call, id: JsonRpcId, server: McpServerState, body: JsonRpcMessage, metered: Metered | undefined, given?: CallBudget): Promise<void> {
    const budget = given ?? this.#budget(call);
    // A tools/call is tracked from its start (#toolsCall); any other request forwarded from here.
    const pending = given ? undefined : this.#track(call, id, server, budget);
    try {
      await this.#send(call, id, server, body, metered, budget, pending);
    } finally {
      if (pending) this.#untrack(pending);
    }
  }

  async #send(call: Call, id: JsonRpcId, server: McpServerState, body: JsonRpcMessage, metered: Metered | undefined, budget: CallBudget, pending: Pending | undefined): Promise<void> {
    const startedAt = performance.now();
    let response: Dispatcher.ResponseData;
    let target: McpTarget;
    try {
      target = metered?.target ?? this.#target(call, server);
      if (pending) pending.target = target;
      response = await this.sessions.send(call.owner, target, body, budget.budget, metered?.definition);
    } catch (error) {
      budget.done();
      const failure = upstreamFailure(error, server.label, budget.budget.signal);
      if (metered) this.#record(call, server.label, metered.tool, undefined, unanswered(budget, failure, performance.now() - startedAt), metered.eventId);
      return this.#failed(call, id, failure, server, budget);
    }
    const status = response.statusCode;
    const type = headerOf(response.headers['content-type']) ?? '';
    const streaming = type.includes('text/event-stream');
    if (status < 200 || status >= 300 || status === 202 || (!streaming && !type.includes('application/json'))) {
      // A server refusing the request in JSON-RPC (a stateless server's -32601 with 404, its -32602 or -32020 with 400):
      // the client is told what the server said, as it would be told a 2xx answer's error.
      const error = status >= 400 && status < 500 && status !== 401 && type.includes('application/json') ? await refusalOf(response, id) : undefined;
      if (error) {
        answered(response, error.code);
        budget.done();
        if (metered) this.#record(call, server.label, metered.tool, metered.target, { status, completion: 'failed', stopReason: `jsonrpc_error_${error.code}`, streaming: false, durationMs: performance.now() - startedAt }, metered.eventId);
        // A stateless client is given the status the revision's binding gives the refusal; a 2025 one, as a 2025 server answers an error.
        // Its words, never the server's stored secret (one in its URL, quoted back by a server naming the request).
        const relayed = JSON.stringify({ jsonrpc: '2.0', id, error });
        return answer(call.ctx, call.stateless && (status === 400 || status === 404) ? status : 200, target.secret ? relayed.split(target.secret).join('[secret]') : relayed);
      }
      await response.body.dump().catch(() => {});
      answered(response, status >= 200 && status < 300 ? 'unreadable' : String(status));
      budget.done();
      const failure = status >= 200 && status < 300 ? new McpUpstreamError(server.label, 'gave no answer the gateway could read.', status) : httpFailure(server.label, status, response.headers);
      if (metered) this.#record(call, server.label, metered.tool, undefined, unanswered(budget, failure, performance.now() - startedAt), metered.eventId);
      return this.#failed(call, id, failure, server, budget);
    }
    const outcome = await this.#relay(call, id, server, response, streaming, budget);
    outcome.durationMs = performance.now() - startedAt;
    if (metered) this.#record(call, server.label, metered.tool, metered.target, outcome, metered.eventId);
  }

  /**
   * A request that got no answer from its server, answered: a JSON-RPC error naming the server; nothing for one the
   * client cancelled (it ignores any answer); and for an OAuth-passthrough server that answered 401, on its own
   * endpoint its 401 and challenge (the client's way to the server's authorization server), on the aggregate
   * endpoint an error saying the server needs the client's authorization.
   */
  #failed(call: Call, id: JsonRpcId, error: unknown, server: McpServerState, budget: CallBudget): void {
    const { ctx } = call;
    if (isCancelled(budget)) return endEmpty(ctx);
    const ended = endedOf(budget);
    if (ended) return answer(ctx, 200, endedError(call, id, ended));
    if (call.server && challenged(error, server)) return answer(ctx, 401, rpcError(id, RpcCode.unauthorized, error.message, { server: server.label, status: 401 }), { 'WWW-Authenticate': error.challenge });
    if (!call.server && error instanceof McpUpstreamError && error.status === 401 && server.auth.type === 'oauthPassthrough') {
      return answer(ctx, 200, rpcError(id, RpcCode.unauthorized, `MCP server "${server.label}" needs authorization: it takes the client's own OAuth token, and answered HTTP 401. Its own endpoint, s-${server.id}, passes its challenge on for the client to sign in.`, { server: server.label, status: 401, endpoint: `s-${server.id}` }));
    }
    answer(ctx, 200, upstreamError(id, error, server, budget.budget.signal));
  }

  #track(call: Call, id: JsonRpcId, server: McpServerState, budget: CallBudget, tool?: string): Pending {
    const pending: Pending = { key: pendingKey(call.owner, id), id, call, server, tool, target: undefined, budget };
    this.#pending.set(pending.key, pending);
    this.#running.add(pending);
    return pending;
  }

  #untrack(pending: Pending): void {
    // A client reusing an id while the first request runs replaced it: that one is not this one to remove.
    if (this.#pending.get(pending.key) === pending) this.#pending.delete(pending.key);
    this.#running.delete(pending);
    // Its session is idle from now, not from when the request came.
    const session = this.#clients.get(pending.call.owner);
    if (session) session.lastUsed = performance.now();
  }

  /**
   * The client cancelled a request (`notifications/cancelled`): its server is told, in the session the request went
   * in and under the same id (the gateway sends a client's ids unchanged), and the gateway stops waiting. Only in a
   * session open now: a request cancelled before it was sent (while noted in usage, or its session opened) is never
   * sent, and a session opened to tell of it would know no such request.
   */
  #cancel(call: Call, pending: Pending): void {
    this.#untrack(pending);
    pending.budget.cancel();
    const reason = call.message.params?.reason;
    if (pending.target) this.sessions.cancel(call.owner, pending.target, pending.id, typeof reason === 'string' ? reason : undefined, this.#deps.observer?.tracer?.mcpCalls(call.ctx));
  }

  /**
   * Relays the server's answer: an event stream event by event as they arrive, a JSON answer once read whole. Only
   * this request's answer and the server's notifications reach the client (and, on a server's own endpoint, the
   * server's own requests, whose answers go back to it); the outcome usage records is read on the way. A client that
   * takes no event stream is answered with the stream's answer alone, as JSON.
   */
  async #relay(call: Call, id: JsonRpcId, server: McpServerState, response: Dispatcher.ResponseData, streaming: boolean, budget: CallBudget): Promise<Outcome> {
    const { ctx } = call;
    const { res } = ctx;
    const outcome: Outcome = { status: response.statusCode, completion: 'succeeded', stopReason: 'completed', streaming, durationMs: 0 };
    const relayed = streaming && acceptsOf(ctx).events;
    // A stateless client takes no server requests either: the revision asks for input within a result instead; nor
    // does one answered in JSON, which carries the answer alone.
    const noRequests = call.server === undefined || call.stateless || !relayed;
    let final: JsonRpcMessage | undefined;
    let finalText = '';
    let out = '';
    const onData = (data: string): void => {
      const m = final ? undefined : parseMessage(data);
      if (!m) return;
      // The client re-lists on this notification: the list kept for the server must not be the old one.
      if (m.method === 'notifications/tools/list_changed') this.sessions.toolsChanged(server);
      if (m.method === undefined) {
        // An answer to another id would settle another of the client's requests (on the aggregate endpoint, one sent
        // to another server) with this server's words.
        if (m.id !== id || (m.result === undefined && m.error === undefined)) return;
        final = m;
        answered(response, outcomeOf(m));
      } else if (noRequests && m.id !== undefined && m.id !== null) {
        // A server's request (sampling, elicitation): the aggregate endpoint cannot take its answer back, and its id
        // is in the server's numbering, which the client would take for the gateway's.
        return;
      }
      const sent = final === m && call.stateless ? restated(call, m) : data;
      if (final === m) finalText = sent;
      if (relayed) out += asEventStream(sent);
    };
    // A stream runs under the stream's limit from here (the account's totalTimeout when it set one).
    if (streaming) budget.streaming();
    if (relayed) {
      writeStreamHead(ctx);
      res.flushHeaders();
    }
    const events = new EventData(MAX_RELAYED_MESSAGE_BYTES);
    let json = '';
    // A JSON answer is held whole, as the model gateway's collected answers are: it counts in the same process-wide
    // tally, within the account's share, or a tenant's server answering its many concurrent calls with 16 MB each
    // would hold gigabytes past the bound that keeps the model answers' in check.
    const held = this.#heldAnswers;
    let holding = 0;
    try {
      response.body.setEncoding('utf8');
      for await (const chunk of response.body as AsyncIterable<string>) {
        if (ctx.firstByteAt === 0) ctx.firstByteAt = performance.now();
        if (!streaming) {
          json += chunk;
          if (json.length > MAX_RELAYED_MESSAGE_BYTES) throw new McpUpstreamError(server.label, 'answered with more than the gateway relays.');
          const room = held.take(call.key.accountId, chunk.length);
          if (room !== 'taken') throw new McpUpstreamError(server.label, HELD_ANSWERS_FULL[room]);
          holding += chunk.length;
          continue;
        }
        events.push(chunk, onData);
        if (res.destroyed) break;
        if (out !== '') {
          const written = out;
          out = '';
          if (!res.write(written)) await drained(res, budget.budget.signal);
        }
        // The request is answered: whatever the server sends after is no one's.
        if (final) break;
      }
      if (!streaming) {
        const m = parseMessage(json);
        if (m && m.method === undefined && m.id === id && (m.result !== undefined || m.error !== undefined)) final = m;
        else throw new McpUpstreamError(server.label, 'gave no answer the gateway could read.');
        answered(response, outcomeOf(final));
      }
      if (!final) throw new McpUpstreamError(server.label, 'ended its stream before its answer.');
    } catch (error) {
      answered(response, callErrorType(error, budget.budget.signal));
      if (isCancelled(budget)) {
        // The client cancelled it: it ignores any answer (MCP), so the stream just ends.
        outcome.completion = 'unknown';
        outcome.stopReason = 'cancelled';
        endEmpty(ctx);
        budget.done();
        return outcome;
      }
      const failure = upstreamFailure(error, server.label, budget.budget.signal);
      const ended = endedOf(budget);
      // A client that left is recorded as the model gateway records it: `unknown`, since it never got the answer.
      outcome.completion = !ended && (ctx.clientGone || budget.budget.signal.reason === 'client-gone') ? 'unknown' : failure.timedOut ? 'timed_out' : streaming ? 'stream_failed' : 'failed';
      outcome.stopReason = `jsonrpc_error_${ended?.code ?? RpcCode.internal}`;
      const told = ended ? endedError(call, id, ended) : upstreamError(id, failure, server, budget.budget.signal);
      // An event stream ends with the answer's error in it, so the client's pending request is not left waiting.
      if (!relayed) answer(ctx, 200, told);
      else if (!res.destroyed) res.end(asEventStream(told));
      else res.destroy();
      budget.done();
      return outcome;
    } finally {
      // Read whole (or given up): what is left of it is the answer's text alone, no longer growing.
      held.give(call.key.accountId, holding);
    }
    budget.done();
    ctx.endedAt = performance.now();
    if (relayed) res.end();
    else answer(ctx, 200, streaming ? finalText : call.stateless ? restated(call, final) : json);
    if (final.error) outcome.stopReason = `jsonrpc_error_${final.error.code}`;
    else if (final.result?.isError === true) outcome.stopReason = 'tool_error';
    return outcome;
  }

  /**
   * Passes a client's notification (or its answer to a server's request) to a server, unawaited: a server's own
   * endpoint's, or (`given`) where the request it cancels went.
   */
  #forgetful(call: Call, server: McpServerState, given: McpTarget | undefined): void {
    const budget = this.#budget(call);
    let target: McpTarget;
    try {
      target = given ?? this.#target(call, server);
    } catch {
      budget.done();
      return;
    }
    this.sessions.notify(call.owner, target, call.message, budget.budget).catch(() => {}).finally(() => budget.done());
  }

  /** The server's destination and credential for this request, by its auth type. Throws when its secret is missing. */
  #target(call: Call, server: McpServerState): McpTarget {
    const url = new URL(server.upstreamUrl);
    const headers: Record<string, string> = {};
    const { auth } = server;
    let secret: string | undefined;
    if (auth.type === 'secret') {
      const stored = secretOf(call.account, server);
      secret = stored.value;
      if (auth.in === 'query') url.searchParams.set(auth.name ?? 'api_key', secret);
      else headers[(auth.name ?? 'authorization').toLowerCase()] = `${auth.prefix ?? ''}${secret}`;
    } else if (auth.type === 'forwardHeaders') {
      for (const name of auth.headers ?? []) {
        const value = headerOf(call.ctx.req.headers[name.toLowerCase()]);
        // The access key never leaves, whatever header a server was told to take.
        if (value !== undefined && !value.includes(call.token)) headers[name.toLowerCase()] = value;
      }
    } else if (auth.type === 'oauthPassthrough') {
      const authorization = headerOf(call.ctx.req.headers.authorization);
      if (call.viaApiKey && authorization !== undefined && !authorization.includes(call.token)) headers.authorization = authorization;
    }
    const credential = auth.type === 'none' ? '' : createHash('sha256').update(`${url.search}\n${JSON.stringify(headers)}`).digest('base64url');
    return { server, accountId: call.key.accountId, url, headers, credential, secret };
  }

  #budget(call: Call): CallBudget {
    return callBudget(call.ctx, call.account, this.#deps, call.stopping);
  }

  /** The tools/call's usage event: provider `mcp:<label>`, model the tool's name, no tokens, the outcome. */
  #record(call: Call, label: string, tool: string, target: McpTarget | undefined, outcome: Outcome, eventId = newId('usageEvent')): void {
    const stored = target?.secret !== undefined ? secretOf(call.account, target.server) : undefined;
    const ok = outcome.completion === 'succeeded' && outcome.stopReason === 'completed';
    // The operation billed is a call the server answered (its tool may have failed); refusals and failures are free.
    const billable = outcome.completion === 'succeeded' && outcome.status >= 200 && outcome.status < 300;
    const fee = billable ? this.#fee() : 0n;
    const event: UsageEvent = {
      id: eventId, accountId: call.key.accountId, requestId: call.ctx.requestId, accessKeyId: call.key.id,
      provider: mcpSecretProvider(label), providerDisplayName: label, model: tool.slice(0, 256), modelDisplayName: tool.slice(0, 256),
      attemptNumber: 1, isFinalAttempt: true, statusCode: outcome.status, timedOut: outcome.completion === 'timed_out', isError: !ok,
      isStreaming: outcome.streaming, stopReason: outcome.stopReason,
      inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
      usageEstimated: false, inputTokensEstimate: 0, outputTokensEstimate: 0, ...NO_COST, costPico: fee, feePico: fee,
      keySource: 'user', providerKeyId: stored?.id ?? null, providerKeyDisplayName: stored?.keyRedacted ?? null,
      retryAction: outcome.completion === 'succeeded' ? 'succeeded' : 'fail_fast', completion: outcome.completion,
      upstreamDurationMs: Math.round(outcome.durationMs), eventTime: nowIso(), virtualModel: null, firewall: null,
    };
    this.#deps.usage.record(event);
    this.#deps.observer?.mcpCall(call.ctx, event);
    // The fee replaces its hold (a free outcome just gives the hold back).
    this.#deps.ledger?.settle(call.key.accountId, call.hold, fee);
    if (fee > 0n) this.#deps.state.debit(call.key.accountId, fee);
    this.#deps.state.markUsed(call.key.id, stored?.id);
  }
}
