// Prometheus metrics of the data plane, served by prom-client's registry. Everything is observed once per
// request, after the answer went out (observer.ts), through label children resolved once per label tuple
// and cached here (fast-series.ts: an update is an addition, no label object or hash per request). Labels are bounded by construction: surfaces, status
// classes, key sources and retry actions are enums; providers are catalog or account-declared ids; models
// are catalog or custom-provider-declared ids (pass-through names collapse to `other`); access-key ids only
// when the operator asks for them. Gauges that mirror state (balances, usage backlog, in-flight) are read
// at scrape time, so keeping them current costs the request path nothing.
import { Counter, Gauge, type Registry } from 'prom-client';
import { FastCounter, FastHistogram, FastUsdCounter, type CounterChild, type HistogramChild, type UsdChild } from './fast-series.ts';
import type { RetryAction } from '../../usage/event.ts';

export interface MetricsOptions {
  /** Adds an `access_key` label (access-key id, never the token) to requests, tokens and cost. */
  accessKeyLabel: boolean;
  /** Most accounts given a balance series (the lowest balances first); 0 turns the gauge off. */
  maxBalanceAccounts: number;
}

/** Read at scrape time from whoever owns the numbers (the composition root wires them). */
export interface MetricsSources {
  inFlight(): number;
  openStreams(): number;
  /** Usage events recorded but not yet in the store (journal / shipper backlog). */
  usageBacklog(): number;
  /** Usage events the store refused and the journal set aside since the process started. */
  usageRefused(): number;
  /** Credit balances in pico-USD of the accounts this process serves. */
  balances(): Iterable<{ accountId: string; balancePico: bigint }>;
  /** (Provider key, model) pairs cooling after a rate limit on this node (key-cooldown.ts). */
  keysCooling(): number;
  /** 1 while this gateway's LISTEN session hears no notifications (a transaction pooler), else 0. */
  listenDeaf(): number;
}

export const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** 0 (no HTTP answer: connection error, timeout) → `none`. */
export function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c : 0;
}

const RETRY_ACTIONS: readonly RetryAction[] = ['succeeded', 'next_key', 'next_backend', 'managed_fallback', 'fail_fast', 'exhausted'];
const RETRY_INDEX = new Map<string, number>(RETRY_ACTIONS.map((a, i) => [a, i]));
const FAILOVER: ReadonlySet<string> = new Set(['next_key', 'next_backend', 'managed_fallback']);

export const KEY_SOURCES = ['user', 'ngrok', 'none'] as const;
export type KeySourceLabel = (typeof KEY_SOURCES)[number];
const KEY_INDEX: Readonly<Record<KeySourceLabel, number>> = { user: 0, ngrok: 1, none: 2 };

/** Latency buckets (seconds): sub-millisecond resolution for the gateway's own time, minutes for models. */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const TTFB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Series of one (provider, model[, access key]) whose labels include the access key when enabled. */
class KeyedSeries {
  readonly tokens: readonly [CounterChild, CounterChild, CounterChild, CounterChild, CounterChild];
  readonly #metrics: GatewayMetrics;
  readonly #labels: readonly string[];
  readonly #cost: (UsdChild | undefined)[] = [];
  /** Indexed by surface × status class × key source; filled on first use. */
  readonly #requests: (CounterChild | undefined)[] = [];

  constructor(metrics: GatewayMetrics, labels: readonly string[]) {
    this.#metrics = metrics;
    this.#labels = labels;
    const t = metrics.tokens;
    this.tokens = [
      t.child(...labels, 'input'), t.child(...labels, 'output'), t.child(...labels, 'cache_read'),
      t.child(...labels, 'cache_write'), t.child(...labels, 'reasoning'),
    ];
  }

  cost(keySource: KeySourceLabel): UsdChild {
    const i = KEY_INDEX[keySource];
    return (this.#cost[i] ??= this.#metrics.cost.child(...this.#labels, keySource));
  }

  request(surface: number, status: number, keySource: KeySourceLabel): CounterChild {
    const s = statusClassIndex(status);
    const i = (surface * STATUS_CLASSES.length + s) * KEY_SOURCES.length + KEY_INDEX[keySource];
    let child = this.#requests[i];
    if (!child) {
      const [provider, model, ...key] = this.#labels;
      child = this.#metrics.requests.child(this.#metrics.surfaces[surface]!, provider!, model!, STATUS_CLASSES[s], keySource, ...key);
      this.#requests[i] = child;
    }
    return child;
  }
}

/** Series of one (provider, model): attempts and upstream latency (never per access key). */
class ModelSeries {
  readonly #metrics: GatewayMetrics;
  readonly #provider: string;
  readonly #model: string;
  readonly #attempts: (CounterChild | undefined)[] = [];
  readonly #failovers: (CounterChild | undefined)[] = [];
  #deferred: CounterChild | undefined;
  readonly #keyed = new Map<string, KeyedSeries>();
  #upstream: HistogramChild | undefined;

  constructor(metrics: GatewayMetrics, provider: string, model: string) {
    this.#metrics = metrics;
    this.#provider = provider;
    this.#model = model;
  }

  /** Made on first use: requests that never reached a provider have no latency series. */
  get upstream(): HistogramChild {
    return (this.#upstream ??= this.#metrics.upstreamSeconds.child(this.#provider, this.#model));
  }

  keyed(accessKeyId: string): KeyedSeries {
    let series = this.#keyed.get(accessKeyId);
    if (!series) {
      const labels = this.#metrics.options.accessKeyLabel ? [this.#provider, this.#model, accessKeyId] : [this.#provider, this.#model];
      series = new KeyedSeries(this.#metrics, labels);
      this.#keyed.set(accessKeyId, series);
    }
    return series;
  }

  /** A served answer that broke after it began (`stream_failed`, `timed_out`). */
  broken(completion: string): void {
    this.#metrics.brokenAnswers.child(this.#provider, this.#model, completion).inc();
  }

  /** An attempt placed after the model's ready keys because its key was cooling (sent or not). */
  deferred(): void {
    (this.#deferred ??= this.#metrics.deferredAttempts.child(this.#provider, this.#model)).inc();
  }

  attempt(retryAction: RetryAction, status: number): void {
    const r = RETRY_INDEX.get(retryAction) ?? 0;
    const s = statusClassIndex(status);
    const i = r * STATUS_CLASSES.length + s;
    (this.#attempts[i] ??= this.#metrics.attempts.child(this.#provider, this.#model, retryAction, STATUS_CLASSES[s])).inc();
    if (FAILOVER.has(retryAction)) (this.#failovers[r] ??= this.#metrics.failovers.child(this.#provider, this.#model, retryAction)).inc();
  }
}

export class GatewayMetrics {
  readonly registry: Registry;
  readonly options: MetricsOptions;
  /** Surface label values; callers pass indexes (surfaceIndex). */
  readonly surfaces: readonly string[];
  readonly requests: FastCounter;
  readonly attempts: FastCounter;
  readonly failovers: FastCounter;
  readonly deferredAttempts: FastCounter;
  /** Answers that began (2xx) and then failed: the HTTP status says success, the client got an error event. */
  readonly brokenAnswers: FastCounter;
  readonly tokens: FastCounter;
  readonly cost: FastUsdCounter;
  readonly upstreamSeconds: FastHistogram;
  readonly overheadSeconds: FastHistogram;
  readonly ttfbSeconds: FastHistogram;
  readonly durationSeconds: FastHistogram;
  /** Realtime sessions (WebSocket): upgraded, ended by what ended them, and upgrades refused by the refusal's code. */
  readonly realtimeStarted: FastCounter;
  readonly realtimeEnded: FastCounter;
  readonly realtimeRefused: FastCounter;
  /** Client events refused inside a session (no credit left), by provider and code. */
  readonly realtimeEventsRefused: FastCounter;
  /** Realtime sessions open now, per provider; a provider keeps its series (at 0) once it had one. */
  readonly realtimeOpen = new Map<string, number>();
  /** Requests node:http could not parse (no route, no surface: not in `requests`), by the status answered. */
  readonly unparsableRequests: FastCounter;
  readonly #surfaceIndex: ReadonlyMap<string, number>;
  readonly #overhead: HistogramChild[];
  readonly #ttfb: HistogramChild[];
  readonly #duration: HistogramChild[];
  readonly #models = new Map<string, Map<string, ModelSeries>>();

  constructor(registry: Registry, options: MetricsOptions, sources: MetricsSources, surfaces: readonly string[]) {
    this.registry = registry;
    this.options = options;
    this.surfaces = surfaces;
    this.#surfaceIndex = new Map(surfaces.map((s, i) => [s, i]));
    const key = options.accessKeyLabel ? ['access_key'] : [];
    const registers = [registry];
    const counter = (name: string, help: string, labels: string[]) => new FastCounter(name, help, labels, registry);
    this.requests = counter('tollgate_requests_total', 'Gateway requests by surface, served provider and model, status class and key source.', ['surface', 'provider', 'model', 'status_class', 'key_source', ...key]);
    this.attempts = counter('tollgate_upstream_attempts_total', 'Upstream attempts by provider, model, retry action and upstream status class (none: no HTTP answer).', ['provider', 'model', 'retry_action', 'status_class']);
    this.failovers = counter('tollgate_failovers_total', 'Failed attempts that moved on to another attempt, by retry action.', ['provider', 'model', 'retry_action']);
    this.deferredAttempts = counter('tollgate_deferred_attempts_total', 'Attempts placed after their model\'s ready provider keys because their key was cooling after a rate limit (planned, whether or not they were sent), by provider and model.', ['provider', 'model']);
    this.brokenAnswers = counter('tollgate_broken_answers_total', 'Served answers that began with a 2xx and then failed (a stream cut by the provider or a timeout: the client got an error event, not a complete answer), by completion.', ['provider', 'model', 'completion']);
    this.tokens = counter('tollgate_tokens_total', 'Tokens metered (provider-reported, else estimated), by type: input (all, cached included), output (all, reasoning included), cache_read, cache_write, reasoning.', ['provider', 'model', ...key, 'type']);
    this.cost = new FastUsdCounter('tollgate_cost_usd_total', 'Cost charged in USD (model cost on managed keys plus the processing fee; MCP tool calls\' fees under provider mcp), by key source.', ['provider', 'model', ...key, 'key_source'], registry);
    this.upstreamSeconds = new FastHistogram('tollgate_upstream_duration_seconds', 'Upstream attempt duration (request sent to answer complete; streams included).', ['provider', 'model'], UPSTREAM_BUCKETS, registry);
    this.overheadSeconds = new FastHistogram('tollgate_gateway_overhead_seconds', "The gateway's own time per request: total duration minus the upstream attempts' time.", ['surface'], OVERHEAD_BUCKETS, registry);
    this.ttfbSeconds = new FastHistogram('tollgate_time_to_first_byte_seconds', 'Request received to the first body byte sent to the client (streams: first streamed chunk).', ['surface', 'streaming'], TTFB_BUCKETS, registry);
    this.durationSeconds = new FastHistogram('tollgate_request_duration_seconds', 'Request received to answer complete.', ['surface'], UPSTREAM_BUCKETS, registry);
    this.realtimeStarted = counter('tollgate_realtime_sessions_started_total', 'Realtime sessions upgraded (101), by provider and model.', ['provider', 'model']);
    this.realtimeEnded = counter('tollgate_realtime_sessions_ended_total', 'Realtime sessions ended, by what ended them: client_closed, provider_closed, idle_limit, duration_limit, frame_too_long (the provider\'s message), client_frame_too_long, client_protocol_error (a frame of the client\'s that breaks the WebSocket protocol), provider_protocol_error (one of the provider\'s), shutdown, key_revoked, gateway_busy.', ['provider', 'model', 'outcome']);
    this.realtimeRefused = counter('tollgate_realtime_upgrades_refused_total', 'Realtime upgrades refused before the session, by the provider tried (none before one was), status class and code (the gateway\'s error code; provider: the provider\'s own refusal relayed; client_gone; handshake_invalid).', ['provider', 'status_class', 'code']);
    this.realtimeEventsRefused = counter('tollgate_realtime_events_refused_total', 'Client events of open realtime sessions not relayed, and responses the provider started by itself that were cancelled, by the session\'s provider and the error code the client was told: ERR_NGROK_4026 no credit left, ERR_NGROK_27228 a message with billing on that is no JSON text, ERR_NGROK_27238 a transcription the managed key cannot bill, ERR_NGROK_27009 the gateway failed (a response asked for whose usage row the journal refused, a check that failed).', ['provider', 'code']);
    this.unparsableRequests = counter('tollgate_unparsable_requests_total', 'Requests the gateway could not parse as HTTP, answered with an error before any route (400 malformed request line or headers, 408 headers not finished in time, 431 request line and headers over 16 KB), by status. Not in tollgate_requests_total.', ['status']);
    this.#overhead = surfaces.map((s) => this.overheadSeconds.child(s));
    this.#duration = surfaces.map((s) => this.durationSeconds.child(s));
    this.#ttfb = surfaces.flatMap((s) => [this.ttfbSeconds.child(s, 'false'), this.ttfbSeconds.child(s, 'true')]);

    new Gauge({ name: 'tollgate_requests_in_flight', help: 'Model requests received and not yet answered.', registers, collect() { this.set(sources.inFlight()); } });
    new Gauge({ name: 'tollgate_open_streams', help: 'Streamed answers being relayed right now.', registers, collect() { this.set(sources.openStreams()); } });
    const realtimeOpen = this.realtimeOpen;
    new Gauge({
      name: 'tollgate_realtime_sessions_open', help: 'Realtime sessions open now (upgraded, not yet ended), by provider.', labelNames: ['provider'], registers,
      collect() { for (const [provider, open] of realtimeOpen) this.labels(provider).set(open); },
    });
    new Gauge({ name: 'tollgate_provider_keys_cooling', help: 'Provider keys (each with a model) this process holds back after a rate limit, until the wait their provider gave.', registers, collect() { this.set(sources.keysCooling()); } });
    new Gauge({ name: 'tollgate_state_listen_deaf', help: 'PostgreSQL: 1 while this gateway\'s LISTEN session hears no notifications (through a transaction pooler; set TOLLGATE_DATABASE_LISTEN_URL), so it sees other processes\' changes only by its poll.', registers, collect() { this.set(sources.listenDeaf()); } });
    new Gauge({ name: 'tollgate_usage_backlog_events', help: 'Usage events recorded by this process and not yet written to the store.', registers, collect() { this.set(sources.usageBacklog()); } });
    // A count kept by the journal, read at scrape time: never reset while the process runs, so a counter.
    new Counter({ name: 'tollgate_usage_refused_events_total', help: 'Usage events the store refused (bad data, a constraint) that this process set aside beside its journal instead of storing.', registers, collect() { this.reset(); this.inc(sources.usageRefused()); } });
    if (options.maxBalanceAccounts > 0) {
      const max = options.maxBalanceAccounts;
      new Gauge({
        name: 'tollgate_credit_balance_usd', help: `Credit balance in USD of the accounts this process serves (at most ${max}, lowest first).`, labelNames: ['account'], registers,
        collect() {
          this.reset();
          const all = [...sources.balances()];
          if (all.length > max) all.sort((a, b) => (a.balancePico < b.balancePico ? -1 : a.balancePico > b.balancePico ? 1 : 0));
          for (let i = 0; i < all.length && i < max; i++) this.labels(all[i]!.accountId).set(picoToUsd(all[i]!.balancePico));
        },
      });
    }
  }

  surfaceIndex(surface: string): number {
    return this.#surfaceIndex.get(surface) ?? this.surfaces.length - 1;
  }

  model(provider: string, model: string): ModelSeries {
    let byModel = this.#models.get(provider);
    if (!byModel) this.#models.set(provider, (byModel = new Map()));
    let series = byModel.get(model);
    if (!series) byModel.set(model, (series = new ModelSeries(this, provider, model)));
    return series;
  }

  timings(surface: number, streaming: boolean, totalMs: number, overheadMs: number, ttfbMs: number | undefined): void {
    this.#duration[surface]!.observe(totalMs / 1000);
    this.#overhead[surface]!.observe(overheadMs > 0 ? overheadMs / 1000 : 0);
    if (ttfbMs !== undefined) this.#ttfb[surface * 2 + (streaming ? 1 : 0)]!.observe(ttfbMs / 1000);
  }

  /** Positional (not an object) so metering a request allocates nothing. */
  addTokens(series: KeyedSeries, input: number, output: number, cacheRead: number, cacheWrite: number, reasoning: number): void {
    const t = series.tokens;
    if (input > 0) t[0].inc(input);
    if (output > 0) t[1].inc(output);
    if (cacheRead > 0) t[2].inc(cacheRead);
    if (cacheWrite > 0) t[3].inc(cacheWrite);
    if (reasoning > 0) t[4].inc(reasoning);
  }
}

export type { KeyedSeries, ModelSeries };

/** Pico-USD (integer) → USD float, for Prometheus only (the ledger stays integer). */
export function picoToUsd(pico: bigint): number {
  // Split so balances beyond 2^53 pico (~9,000 USD) keep their cents exactly.
  const whole = pico / 1_000_000_000_000n;
  return Number(whole) + Number(pico - whole * 1_000_000_000_000n) / 1e12;
}
