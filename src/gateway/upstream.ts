// The upstream client: one undici Pool per provider origin (keep-alive connections reused across requests;
// never global fetch, which costs ~300 µs per call), driven through `dispatch` with the exchange's handler.
// Targets (origin + path + query) are parsed once per base URL and surface path and cached.
import { Pool, type Dispatcher } from 'undici';
import type { AttemptPlan } from '../domain/routing.ts';
import { addTraceHeaders, FORWARDED_REQUEST_HEADERS, type TraceHeaders } from './headers.ts';
import { VIA_HEADER, viaValue } from './routing-loop.ts';
import { isNonPublicHost, NonPublicAddressError, publicOnlyLookup, type Lookup } from '../domain/public-address.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { UpstreamExchange } from './exchange.ts';
import { BedrockRoles, type BedrockRoleOptions } from './bedrock-role.ts';
import type { ProviderKeyState } from '../state/types.ts';

interface Target { origin: string; path: string; hostname: string; nonPublicLiteral: boolean }

/** A pool and whether a call used it since the last sweep (a flag per dispatch instead of a clock read). */
interface PoolEntry { pool: Pool; used: boolean }

/** How often idle pools are looked for; one unused for a whole period, with nothing in flight, is closed. */
const SWEEP_MS = 5 * 60_000;
/** Targets kept before the cache starts over: each distinct provider base URL adds one (tenants choose them). */
const MAX_TARGET_BASES = 1_000;

export interface UpstreamCall {
  plan: AttemptPlan;
  body: Buffer;
  clientHeaders: IncomingHttpHeaders;
  /**
   * undici's own limit on a silence before the head or between body chunks: a backstop, never shorter than the
   * gateway's timers (the attempt's until it is answered, the stream's quiet limit after).
   */
  idleTimeoutMs: number;
  /** W3C trace context of the attempt's span (tracing on only). */
  trace?: TraceHeaders | undefined;
}

const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Where a base URL takes its provider key's AWS region (Bedrock's). */
const REGION = '{region}';
const BEDROCK_HEADER_PREFIX = 'x-amzn-bedrock-';

function copyBedrockHeaders(client: IncomingHttpHeaders, out: Record<string, string>): void {
  for (const name in client) {
    const value = client[name];
    if (name.startsWith(BEDROCK_HEADER_PREFIX) && typeof value === 'string') out[name] = value;
  }
}

export class Upstreams {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #sweeper: NodeJS.Timeout;
  /** base URL → surface path → target: two lookups instead of a concatenated key built per request. */
  readonly #targets = new Map<string, Map<string, Target>>();
  readonly #connections: number;

  readonly #loopId: string;
  /** Connect-time lookup for tenants' custom providers; absent when the operator allows private upstreams. */
  readonly #publicOnly: LookupFunction | undefined;
  /** Bedrock keys backed by an IAM role: their temporary credentials, and the signing of their calls. */
  readonly #roles: BedrockRoles;

  /**
   * `loopId`: this deployment's id, added to every call's `tollgate-via` (routing-loop.ts). `allowPrivate`: the
   * operator lets custom providers reach non-public addresses; otherwise their connections resolve through
   * `publicOnlyLookup` (`lookup` replaces the system resolver, for tests).
   */
  constructor(options: { connectionsPerOrigin?: number; loopId: string; allowPrivate: boolean; lookup?: Lookup; sweepMs?: number; bedrockRoles?: BedrockRoleOptions }) {
    this.#connections = options.connectionsPerOrigin ?? 1024;
    this.#roles = new BedrockRoles(options.bedrockRoles);
    this.#loopId = options.loopId;
    this.#publicOnly = options.allowPrivate ? undefined : publicOnlyLookup(options.lookup);
    // Tenants' custom providers can name any number of origins over time (and change them by PATCH): a pool no
    // call has used for a whole period is closed, so the map holds the origins in use, not every one ever seen.
    this.#sweeper = setInterval(() => this.sweep(), options.sweepMs ?? SWEEP_MS).unref();
  }

  /**
   * Closes the pools unused since the last sweep with nothing in flight; marks the others unused. Drops the role keys'
   * credentials that lapsed, so an idle gateway does not hold them until its next Bedrock call.
   */
  sweep(): void {
    this.#roles.sweep();
    for (const [key, entry] of this.#pools) {
      const { running, pending } = entry.pool.stats;
      if (entry.used || running > 0 || pending > 0) {
        entry.used = false;
        continue;
      }
      this.#pools.delete(key);
      void entry.pool.close().catch(() => {});
    }
  }

  /** An account's provider keys were read again (GatewayState.onReload): a deleted or changed role key's credentials go. */
  providerKeysReloaded(before: ReadonlyMap<string, ProviderKeyState>, now: ReadonlyMap<string, ProviderKeyState>): void {
    this.#roles.prune(before, now);
  }

  /** Origins with an open pool (for tests and diagnostics). */
  get poolCount(): number {
    return this.#pools.size;
  }

  /** `besideBase`: the path goes under the base URL's parent (SurfaceSpec.besideBase). */
  target(baseUrl: string, surfacePath: string, besideBase = false): Target {
    let byPath = this.#targets.get(baseUrl);
    if (!byPath) {
      if (this.#targets.size >= MAX_TARGET_BASES) this.#targets.clear();
      this.#targets.set(baseUrl, (byPath = new Map()));
    }
    let t = byPath.get(surfacePath);
    if (!t) {
      // Custom providers may carry a query string (Azure `?api-version=`): the surface path goes before it, and a
      // query of the surface's own (Gemini's `?alt=sse`) joins it.
      const url = new URL(baseUrl);
      let base = url.pathname.replace(/\/+$/, '');
      if (besideBase) base = base.slice(0, base.lastIndexOf('/'));
      const query = surfacePath.indexOf('?');
      const path = query < 0 ? `${base}${surfacePath}${url.search}`
        : `${base}${surfacePath}${url.search ? `&${url.search.slice(1)}` : ''}`;
      t = { origin: url.origin, path, hostname: url.hostname, nonPublicLiteral: isNonPublicHost(url.hostname) };
      byPath.set(surfacePath, t);
    }
    return t;
  }

  /**
   * One pool per origin, and a separate one per origin for custom providers when they must stay public: an
   * operator's provider URL (a built-in's base URL set by environment) may well be private, a tenant's may not.
   */
  #pool(origin: string, publicOnly: boolean): Pool {
    const key = publicOnly ? `public ${origin}` : origin;
    let entry = this.#pools.get(key);
    if (!entry) {
      const pool = new Pool(origin, {
        connections: this.#connections, pipelining: 1, keepAliveTimeout: 30_000,
        ...(publicOnly ? { connect: { lookup: this.#publicOnly } } : {}),
      });
      this.#pools.set(key, (entry = { pool, used: true }));
    }
    entry.used = true;
    return entry.pool;
  }

  /** Starts the call; its head, body and failure reach `exchange`. */
  dispatch(call: UpstreamCall, exchange: UpstreamExchange): void {
    const { candidate } = call.plan;
    let baseUrl = candidate.surface.baseUrl ?? candidate.provider.baseUrl;
    // Bedrock's endpoint is its key's region's (a key without one was refused when it was stored).
    if (baseUrl.includes(REGION)) baseUrl = baseUrl.replace(REGION, call.plan.providerKey?.awsRegion ?? '');
    const t = this.target(baseUrl, candidate.surface.path, candidate.surface.besideBase);
    // Gemini names the model in the path: filled per call, so the targets cached stay one per surface, not per model.
    const path = t.path.includes('{model}') ? t.path.replace('{model}', encodeURIComponent(candidate.upstreamModelId ?? candidate.modelId)) : t.path;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'accept-encoding': 'identity', [VIA_HEADER]: viaValue(call.clientHeaders, this.#loopId) };
    const format = candidate.surface.format;
    for (const name of FORWARDED_REQUEST_HEADERS) {
      // Instructions for another API (a translated request's `anthropic-beta`, sent to a chat server) stay here.
      if (name.startsWith('anthropic-') ? format !== 'anthropic' : name === 'openai-beta' && format !== 'openai') continue;
      const v = call.clientHeaders[name];
      if (typeof v === 'string') headers[name] = v;
    }
    // Bedrock's request settings ride in headers of its own (X-Amzn-Bedrock-Trace, -GuardrailIdentifier, -Accept…).
    if (format === 'bedrock') copyBedrockHeaders(call.clientHeaders, headers);
    if (call.trace !== undefined) addTraceHeaders(headers, call.trace);
    if (format === 'anthropic' && !headers['anthropic-version']) headers['anthropic-version'] = DEFAULT_ANTHROPIC_VERSION;
    // The provider credential replaces the client's access key, in the provider's own header.
    if (call.plan.credential) {
      const auth = candidate.surface.auth ?? candidate.provider.auth;
      if (auth === 'bearer') headers.authorization = `Bearer ${call.plan.credential}`;
      else headers[auth] = call.plan.credential;
    }
    const publicOnly = this.#publicOnly !== undefined && candidate.provider.custom;
    // An address literal never goes through a lookup: judged here (providers saved while private upstreams
    // were allowed, or before a range was added to the list, are not trusted either).
    if (publicOnly && t.nonPublicLiteral) {
      exchange.refuse(new NonPublicAddressError(t.hostname, t.hostname));
      return;
    }
    const pool = this.#pool(t.origin, publicOnly);
    const options = { origin: t.origin, path, method: 'POST' as const, headers, body: call.body, headersTimeout: call.idleTimeoutMs, bodyTimeout: call.idleTimeoutMs };
    // A Bedrock key backed by an IAM role: no key to send, the call is signed (SigV4) with the role's credentials
    // instead, which may first need STS. Its failure fails the exchange, as a refused connection would.
    const key = call.plan.providerKey;
    if (key?.awsRole !== undefined && candidate.provider.id === 'bedrock' && !candidate.provider.custom) {
      // Bedrock's OpenAI-compatible endpoint is another AWS service to SigV4 (`bedrock-mantle`) than Bedrock Runtime.
      const service = format === 'bedrock' ? 'bedrock' : 'bedrock-mantle';
      this.#roles.sign(key, t.origin, { path, headers, body: call.body }, service).then((signed) => pool.dispatch({ ...options, headers: signed }, exchange), (error: unknown) => {
        exchange.refuse(error instanceof Error ? error : new Error(String(error)));
      });
      return;
    }
    pool.dispatch(options, exchange);
  }

  /**
   * A request to an MCP server (mcp/upstream.ts). Tenants choose these URLs, as they do custom providers' base URLs, so
   * they connect public-only unless the operator allows private upstreams.
   */
  request(url: URL, options: { method: 'POST' | 'DELETE'; headers: Record<string, string>; body?: string | Buffer; signal: AbortSignal; headersTimeout: number; bodyTimeout: number }): Promise<Dispatcher.ResponseData> {
    const publicOnly = this.#publicOnly !== undefined;
    if (publicOnly && isNonPublicHost(url.hostname)) return Promise.reject(new NonPublicAddressError(url.hostname, url.hostname));
    return this.#pool(url.origin, publicOnly).request({ origin: url.origin, path: `${url.pathname}${url.search}`, ...options });
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#roles.close();
    const entries = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(entries.map((e) => e.pool.destroy()));
  }
}
