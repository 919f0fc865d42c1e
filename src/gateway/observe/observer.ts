// The gateway's one observation point. The request path calls it at four places only: a model request
// arrives (server.ts), its response closes (server.ts), an attempt or a call to an MCP server is about to be
// sent (attempt.ts, mcp/upstream.ts; tracing only) and the request is over (meter.ts after metering; server.ts
// for requests refused before any attempt, and for those node:http could not parse: `unparsable`). Everything
// costly — metric updates, span attributes, the access-log line — happens in `finished`, which runs after the
// answer is complete, off the client's critical path.
import { Errors } from '../../domain/errors.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metricsAccess, METRICS_HEADERS, METRICS_REFUSALS } from '../../http/metrics-access.ts';
import type { Logger } from 'pino';
import type { Candidate } from '../../domain/resolve.ts';
import { streamsAnswer } from '../../domain/request-shape.ts';
import type { RetryAction, UsageEvent } from '../../usage/event.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { AuthenticatedKey } from '../../state/types.ts';
import type { RequestContext } from '../context.ts';
import { firewallReport } from '../firewall/index.ts';
import type { AttemptRecord } from '../meter.ts';
import { nonModelRoute } from '../routes.ts';
import { STATUS_CLASSES, statusClassIndex, type GatewayMetrics } from './metrics.ts';
import type { RequestTrace, RequestTracer } from './tracing.ts';
import { reportedTokens } from './tokens.ts';
import { BODY_CAPTURE_BYTES, fastAccessWriter, ms, safeHeaders, truncate, usd5, type AccessLine } from './access-log.ts';
import { BodyCapture } from '../../domain/request-capture.ts';
import { tapWrites } from '../response-tap.ts';

/** Surface label values, in GatewayMetrics index order; `other` (unknown paths) last. */
export const SURFACE_LABELS = ['chat-completions', 'responses', 'completions', 'embeddings', 'messages', 'count-tokens', 'generate-content', 'stream-generate-content', 'interactions', 'embed-content', 'converse', 'converse-stream', 'invoke', 'invoke-stream', 'models', 'mcp', 'other'] as const;

export interface ObserverOptions {
  metrics: GatewayMetrics;
  /** Present only when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracer?: RequestTracer | undefined;
  logger: Logger;
  accessLog: boolean;
  logBodies: boolean;
  metricsOnGateway: boolean;
  /** TOLLGATE_METRICS_TOKEN (src/http/metrics-access.ts). */
  metricsToken?: string | undefined;
}

/** One provider handshake of a realtime session: a failed one as its usage event records it, or the one that opened it (101). */
export interface RealtimeHandshake {
  readonly plan: AttemptPlan;
  readonly status: number;
  readonly retryAction: RetryAction;
  readonly startedAt: number;
  /** The one that opened the session: until the session ended (set when it ends). */
  durationMs: number;
}

/** What ended a realtime session (the `outcome` label, the access line's `sessionEnd`). */
export type RealtimeOutcome = 'client_closed' | 'provider_closed' | 'idle_limit' | 'duration_limit' | 'frame_too_long' | 'client_frame_too_long' | 'client_protocol_error' | 'provider_protocol_error' | 'shutdown' | 'key_revoked' | 'gateway_busy';

/** What observation reads of a realtime session (realtime/session.ts): never a frame's content. */
export interface RealtimeObservation {
  readonly req: IncomingMessage;
  readonly requestId: string;
  /** performance.now() of the upgrade request, of the 101 (0: refused) and of the session's end. */
  readonly startedAt: number;
  readonly upgradedAt: number;
  readonly endedAt: number;
  readonly key?: AuthenticatedKey | undefined;
  /** The `model` query parameter, as the client gave it. */
  readonly askedModel: string | undefined;
  readonly handshakes: readonly RealtimeHandshake[];
  /** 101, or the refusal's status; 0 when the client left before any answer. */
  readonly status: number;
  readonly outcome: RealtimeOutcome | undefined;
  /** Why the upgrade was refused, as the refused counter's `code`: an error code, `provider`, `client_gone`, `handshake_invalid`. */
  readonly refusal: string | undefined;
  /** The error code the client was told (a refusal's, or the `error` event's of a limit or the shutdown). */
  readonly errorCode: string | undefined;
  readonly clientGone: boolean;
  /** Usage events of its responses, and their sums. */
  readonly responses: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly costPico: bigint;
  readonly usageEstimated: boolean;
  /** Its spans while it runs (tracing on): started with its first handshake, ended when it ends. */
  trace: RequestTrace | undefined;
}

const NO_RECORDS: readonly AttemptRecord[] = [];
const NO_EVENTS: readonly UsageEvent[] = [];

/** Model label: catalog ids and custom-provider-declared ids; pass-through names (unbounded) collapse. */
function modelLabel(candidate: Candidate): string {
  return candidate.catalogModel || candidate.provider.custom ? candidate.modelId : 'other';
}

function surfaceOf(ctx: RequestContext): string {
  return nonModelRoute(ctx.route) ?? ctx.route.surface;
}

export class GatewayObserver {
  /** Model requests received and not yet closed; read by the in-flight gauge at scrape time. */
  inFlight = 0;
  openStreams = 0;
  readonly tracer: RequestTracer | undefined;
  readonly metricsOnGateway: boolean;
  readonly metrics: GatewayMetrics;
  readonly #access: Logger | undefined;
  readonly #logBodies: boolean;
  readonly #accessLine: ((line: AccessLine) => void) | undefined;
  readonly #metricsToken: string | undefined;
  readonly #logger: Logger;

  constructor(options: ObserverOptions) {
    this.#logger = options.logger;
    this.#metricsToken = options.metricsToken;
    this.metrics = options.metrics;
    this.tracer = options.tracer;
    this.metricsOnGateway = options.metricsOnGateway;
    this.#access = options.accessLog ? options.logger.child({ log: 'access' }) : undefined;
    // The ordinary line (no bodies) is serialised here and handed to the logger's own batched destination:
    // its fields are safe by construction, so pino's path redaction and generic serialiser (≈ 4× the cost of
    // JSON.stringify on this flat object) buy nothing. Body capture keeps the full pino path, redaction included.
    if (this.#access && !options.logBodies) this.#accessLine = fastAccessWriter(this.#access);
    this.#logBodies = options.logBodies;
  }

  /** Bound once: relay.ts hands it to the stream's promise, no closure per stream. */
  readonly streamClosed = (): void => { this.openStreams--; };

  started(ctx: RequestContext): void {
    this.inFlight++;
    if (this.#logBodies) {
      const kept = new BodyCapture(BODY_CAPTURE_BYTES);
      ctx.capture = kept;
      tapWrites(ctx.res, (chunk) => kept.push(chunk));
    }
  }

  closed(): void {
    this.inFlight--;
  }

  /** A request answered without any upstream attempt (refused early, /v1/models, unknown path). */
  answered(ctx: RequestContext): void {
    this.finished(ctx, NO_RECORDS, NO_EVENTS);
  }

  /** The request is over: metrics, spans and the access line, exactly once per request. */
  finished(ctx: RequestContext, records: readonly AttemptRecord[], events: readonly UsageEvent[]): void {
    if (ctx.observed) return;
    ctx.observed = true;
    const endedAt = ctx.endedAt > 0 ? ctx.endedAt : performance.now();
    const totalMs = endedAt - ctx.startedAt;
    let upstreamMs = 0;
    let served: AttemptRecord | undefined;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      upstreamMs += r.durationMs;
      if (r.served) served = r;
    }
    const last = served ?? records[records.length - 1];
    // 499 (nginx's "client closed request"): the client left before any answer was written.
    const status = ctx.answeredStatus !== 0 ? ctx.answeredStatus : ctx.res.headersSent ? ctx.res.statusCode : 499;
    // No first byte when the client left before any answer: its wait is in the duration, not in time to first byte.
    const ttfbMs = ctx.firstByteAt > 0 ? ctx.firstByteAt - ctx.startedAt : status === 499 ? undefined : totalMs;
    const streaming = streamsAnswer(ctx.body, ctx.route.surface);
    const surface = surfaceOf(ctx);
    const m = this.metrics;
    const keyLabel = m.options.accessKeyLabel ? (ctx.key?.id ?? 'none') : '';
    let input = 0, output = 0, cacheRead = 0, cacheWrite = 0, reasoning = 0, estimated = false;
    let cost = ctx.mcpCostPico ?? 0n;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const series = m.model(r.plan.candidate.provider.id, modelLabel(r.plan.candidate));
      series.attempt(r.retryAction, r.statusCode);
      if (r.served && (r.completion === 'stream_failed' || r.completion === 'timed_out')) series.broken(r.completion);
      series.upstream.observe(r.durationMs / 1000);
      const e = events[i];
      if (!e) continue;
      const { input: inTokens, output: outTokens } = reportedTokens(e);
      const keyed = series.keyed(keyLabel);
      m.addTokens(keyed, inTokens, outTokens, e.cacheReadTokens, e.cacheWriteTokens, e.reasoningTokens);
      if (e.costPico > 0n) keyed.cost(e.keySource).add(e.costPico);
      input += inTokens; output += outTokens; cacheRead += e.cacheReadTokens; cacheWrite += e.cacheWriteTokens; reasoning += e.reasoningTokens;
      estimated ||= e.usageEstimated;
      cost += e.costPico;
    }
    const deferred = ctx.deferredAttempts;
    if (deferred) for (const plan of deferred) m.model(plan.candidate.provider.id, modelLabel(plan.candidate)).deferred();
    const surfaceIndex = m.surfaceIndex(surface);
    // A blocked request made no attempt: it is counted under the model usage records it under, as its usage event is.
    const target = last?.plan ?? ctx.blockedPlan;
    const requestSeries = target ? m.model(target.candidate.provider.id, modelLabel(target.candidate)) : m.model('none', 'none');
    requestSeries.keyed(keyLabel).request(surfaceIndex, status, target ? target.keySource : 'none').inc();
    m.timings(surfaceIndex, streaming, totalMs, totalMs - upstreamMs, ttfbMs);

    const named = ctx.pathModel ?? ctx.body?.model;
    const asked = typeof named === 'string' ? truncate(named, 256) : undefined;
    this.tracer?.finish(ctx, records, events, status, endedAt, asked);

    if (!this.#access) return;
    const line: AccessLine = {
      requestId: ctx.requestId,
      accessKeyId: ctx.key?.id ?? null,
      accountId: ctx.key?.accountId ?? null,
      surface, streaming,
      modelAsked: asked ?? null,
      modelServed: last ? truncate(`${last.plan.candidate.provider.id}:${last.plan.candidate.modelId}`, 256) : null,
      provider: last ? last.plan.candidate.provider.id : null,
      keySource: last ? last.plan.keySource : null,
      attempts: records.length,
      retryActions: records.length === 1 ? records[0]!.retryAction : records.map((r) => r.retryAction).join(','),
      // What the served answer came to: a 200 whose stream broke reads `stream_failed` here, not success.
      completion: last ? last.completion : null,
      status,
      clientGone: ctx.clientGone,
      inputTokens: input, outputTokens: output, cacheReadTokens: cacheRead, cacheWriteTokens: cacheWrite, reasoningTokens: reasoning,
      usageEstimated: estimated,
      costUsd: usd5(cost),
      totalMs: ms(totalMs), upstreamMs: ms(upstreamMs), ttfbMs: ttfbMs === undefined ? null : ms(ttfbMs),
    };
    if (ctx.errorCode !== undefined) line.errorCode = ctx.errorCode;
    if (deferred) line.deferredAttempts = deferred.length;
    if (ctx.firewallFindings?.length) line.firewall = firewallReport(ctx.firewallFindings);
    if (this.#accessLine) {
      this.#accessLine(line);
      return;
    }
    if (this.#logBodies) {
      line.requestHeaders = safeHeaders(ctx.req.headers);
      if (ctx.rawBody) line.requestBody = truncate(ctx.rawBody.toString('utf8'));
      if (ctx.capture) line.responseBody = truncate(ctx.capture.text());
    }
    this.#access.info(line, 'request');
  }

  /**
   * A request node:http could not parse, answered by the server (client-error.ts: 400, 408 or 431 only, so `status`
   * is a bounded label): counted, and one access line with what is known of it, under the request id the client got.
   * Never its headers or bytes, even with TOLLGATE_LOG_BODIES: unparsed, nothing in them is known not to be a credential.
   */
  unparsable(requestId: string, status: number): void {
    this.metrics.unparsableRequests.child(String(status)).inc();
    if (!this.#access) return;
    // Node gives no time for a request it could not parse: its duration is unknown (null), not 0.
    const line: AccessLine = {
      requestId, accessKeyId: null, accountId: null, surface: null, streaming: false, modelAsked: null, modelServed: null,
      provider: null, keySource: null, attempts: 0, retryActions: '', completion: null, status, clientGone: false,
      inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, usageEstimated: false,
      costUsd: '0.00000', totalMs: null, upstreamMs: 0, ttfbMs: null, errorCode: Errors.invalidRequest.code,
    };
    this.#write(line);
  }

  /** An access line with nothing more to add: written by the fast writer when there is one. */
  #write(line: AccessLine): void {
    if (this.#accessLine) this.#accessLine(line);
    else this.#access!.info(line, 'request');
  }

  /** A realtime session was upgraded: open under its provider from now until realtimeFinished. */
  realtimeOpened(o: RealtimeObservation): void {
    const served = o.handshakes[o.handshakes.length - 1]!.plan.candidate;
    const m = this.metrics;
    const provider = served.provider.id;
    m.realtimeOpen.set(provider, (m.realtimeOpen.get(provider) ?? 0) + 1);
    m.realtimeStarted.child(provider, modelLabel(served)).inc();
  }

  /**
   * A usage event no request's attempts carry, counted as it is recorded: a realtime response's (a session may run an
   * hour; finished() never sees a session) and a Firewall judgement's (the operator's call to its decision model, at no
   * cost to the tenant): the tokens and cost series HTTP attempts feed, which such usage reaches by no other way.
   */
  meteredApart(e: UsageEvent, candidate: Candidate): void {
    const m = this.metrics;
    const keyed = m.model(e.provider, modelLabel(candidate)).keyed(m.options.accessKeyLabel ? e.accessKeyId : '');
    // As an HTTP attempt's: a response cut before the provider reported it counts the estimate it was billed on.
    const { input, output } = reportedTokens(e);
    m.addTokens(keyed, input, output, e.cacheReadTokens, e.cacheWriteTokens, e.reasoningTokens);
    if (e.costPico > 0n) keyed.cost(e.keySource).add(e.costPico);
  }

  /**
   * An MCP tools/call's usage event (mcp/gateway.ts), as it is recorded: its fee in the cost series under provider `mcp`
   * (the tool's name is the server's to choose, never a label) and on its request's access line. No attempt record
   * carries it, so finished() would never see it.
   */
  mcpCall(ctx: RequestContext, e: UsageEvent): void {
    if (e.costPico === 0n) return;
    const m = this.metrics;
    m.model('mcp', 'none').keyed(m.options.accessKeyLabel ? e.accessKeyId : '').cost(e.keySource).add(e.costPico);
    ctx.mcpCostPico = (ctx.mcpCostPico ?? 0n) + e.costPico;
  }

  /** A client event of an open session refused (no credit): the session goes on. */
  realtimeEventRefused(o: RealtimeObservation, code: string): void {
    const provider = o.handshakes[o.handshakes.length - 1]!.plan.candidate.provider.id;
    this.metrics.realtimeEventsRefused.child(provider, code).inc();
  }

  /** A realtime session ended, or its upgrade was refused: metrics, its span and its access line, once. */
  realtimeFinished(o: RealtimeObservation): void {
    const m = this.metrics;
    let upstreamMs = 0;
    for (const h of o.handshakes) {
      upstreamMs += h.durationMs;
      m.model(h.plan.candidate.provider.id, modelLabel(h.plan.candidate)).attempt(h.retryAction, h.status);
    }
    const last = o.handshakes[o.handshakes.length - 1];
    const provider = last?.plan.candidate.provider.id;
    if (o.upgradedAt > 0) {
      m.realtimeOpen.set(provider!, (m.realtimeOpen.get(provider!) ?? 1) - 1);
      m.realtimeEnded.child(provider!, modelLabel(last!.plan.candidate), o.outcome ?? 'client_closed').inc();
    } else {
      m.realtimeRefused.child(provider ?? 'none', STATUS_CLASSES[statusClassIndex(o.status)], o.refusal ?? 'client_gone').inc();
    }
    const asked = o.askedModel === undefined ? undefined : truncate(o.askedModel, 256);
    const status = o.status === 0 ? 499 : o.status;
    this.tracer?.finishRealtime(o, status, asked);
    if (!this.#access) return;
    const totalMs = o.endedAt - o.startedAt;
    const ttfbMs = o.upgradedAt > 0 ? o.upgradedAt - o.startedAt : o.status === 0 ? undefined : totalMs;
    const line: AccessLine = {
      requestId: o.requestId,
      accessKeyId: o.key?.id ?? null,
      accountId: o.key?.accountId ?? null,
      surface: 'realtime', streaming: true,
      modelAsked: asked ?? null,
      modelServed: last ? truncate(`${last.plan.candidate.provider.id}:${last.plan.candidate.modelId}`, 256) : null,
      provider: provider ?? null,
      keySource: last ? last.plan.keySource : null,
      attempts: o.handshakes.length,
      retryActions: o.handshakes.map((h) => h.retryAction).join(','),
      completion: null,
      status,
      clientGone: o.clientGone,
      inputTokens: o.inputTokens, outputTokens: o.outputTokens, cacheReadTokens: o.cacheReadTokens, cacheWriteTokens: 0, reasoningTokens: 0,
      usageEstimated: o.usageEstimated,
      costUsd: usd5(o.costPico),
      totalMs: ms(totalMs), upstreamMs: ms(upstreamMs), ttfbMs: ttfbMs === undefined ? null : ms(ttfbMs),
      responses: o.responses,
    };
    if (o.outcome !== undefined) line.sessionEnd = o.outcome;
    if (o.errorCode !== undefined) line.errorCode = o.errorCode;
    // Never bodies, even with TOLLGATE_LOG_BODIES: a session's frames are the conversation itself.
    this.#write(line);
  }

  /** GET /metrics on the gateway port (TOLLGATE_METRICS_ON_GATEWAY=1). */
  serveMetrics(req: IncomingMessage, res: ServerResponse): void {
    const access = metricsAccess(req, this.#metricsToken);
    if (access !== 'allowed') {
      const { status, text, headers } = METRICS_REFUSALS[access];
      res.writeHead(status, { ...headers, ...METRICS_HEADERS, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const registry = this.metrics.registry;
    registry.metrics().then((text) => {
      res.writeHead(200, { ...METRICS_HEADERS, 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }, () => {
      res.writeHead(500, { ...METRICS_HEADERS, 'content-length': 0 });
      res.end();
    });
  }

  /** Exports the last spans; a collector that cannot take them is logged, not a failure of the stop. */
  async close(): Promise<void> {
    try {
      await this.tracer?.shutdown();
    } catch (error) {
      const errors = Array.isArray(error) ? error : [error];
      this.#logger.warn({ err: errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ') }, 'the last trace spans could not be exported while stopping');
    }
  }
}
