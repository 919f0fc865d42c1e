// OpenTelemetry traces following the GenAI semantic conventions: one SERVER span per gateway request and one
// CLIENT span per upstream attempt, or per HTTP call to an MCP server (their MCP conventions), exported over
// OTLP/HTTP (JSON). Loaded by the composition root only when OTEL_EXPORTER_OTLP_ENDPOINT is set (dynamic
// import), so without it no OTel code runs or is even loaded.
// No global provider, context manager or propagator is registered: parents are passed explicitly, which is
// all a request/attempt tree needs and leaves the host process's own OTel setup (if any) alone.
// The request span starts lazily (at the first attempt, or when the request ends) with the request's own
// start time, so requests refused early cost one span and nothing before their answer.
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { millisToHrTime, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, ATTR_URL_PATH, ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { ApiSurface } from '../../catalog/types.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { UsageEvent } from '../../usage/event.ts';
import type { RequestContext } from '../context.ts';
import { GEMINI_MODELS_PATH, GEMINI_MODELS_PREFIX, geminiMethodOf, MODEL_PATH_PREFIX, MODELS_PATH, mcpRouteOf, nonModelRoute } from '../routes.ts';
import type { AttemptRecord } from '../meter.ts';
import type { RealtimeObservation } from './observer.ts';
import { reportedTokens } from './tokens.ts';
import type { TraceHeaders } from '../headers.ts';
import type { McpCall, McpCallSpan, McpTracing } from '../mcp/upstream.ts';
import { truncate } from './access-log.ts';
import { textPrefix, wellFormed } from '../../domain/errors.ts';

// GenAI attribute names (incubating in @opentelemetry/semantic-conventions; copied, as its docs advise,
// rather than loading the whole incubating entry point).
const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
const GEN_AI_SYSTEM = 'gen_ai.system';
const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
const GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
const GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
// Parts of the input and output counts above (the conventions ask that they be included in them, as they are here).
const GEN_AI_USAGE_CACHE_READ = 'gen_ai.usage.cache_read.input_tokens';
const GEN_AI_USAGE_CACHE_CREATION = 'gen_ai.usage.cache_creation.input_tokens';
const GEN_AI_USAGE_REASONING = 'gen_ai.usage.reasoning.output_tokens';
// The MCP conventions' (GenAI semantic conventions, "Model Context Protocol"), for a call to an MCP server.
const GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
const MCP_METHOD_NAME = 'mcp.method.name';
const MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
const JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
const RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code';

const OPERATION: Readonly<Record<ApiSurface, string>> = {
  'chat-completions': 'chat', messages: 'chat', responses: 'chat', completions: 'text_completion', embeddings: 'embeddings', 'embed-content': 'embeddings',
  // No GenAI well-known name for token counting: a custom value, as the conventions allow.
  'count-tokens': 'count_tokens',
  'generate-content': 'generate_content', 'stream-generate-content': 'generate_content', interactions: 'generate_content',
  // Bedrock's Converse is a chat; InvokeModel takes whatever the model's own API is.
  converse: 'chat', 'converse-stream': 'chat', invoke: 'generate_content', 'invoke-stream': 'generate_content',
  realtime: 'realtime',
};

/** The realtime route: its path is the only one a session has (`url.path` never carries the query's model). */
const REALTIME_ROUTE = '/v1/realtime';

/** Catalog provider ids whose GenAI well-known name differs; everything else is reported as its id. */
const PROVIDER_NAMES: Readonly<Record<string, string>> = { google: 'gcp.gemini', xai: 'x_ai' };

/** A request's spans, kept on its context while it runs. */
export interface RequestTrace {
  span: Span;
  attempts: Span[];
  /**
   * Wall-clock ms minus performance.now(), read once for the request's spans. Given performance.now() times, the
   * SDK places each span with an offset of its own from Date.now(), whole milliseconds: an attempt span would sit
   * up to a millisecond outside its request span. One offset for all of them keeps each attempt within.
   */
  epochOffsetMs: number;
}

const at = (t: RequestTrace, performanceMs: number): HrTime => millisToHrTime(performanceMs + t.epochOffsetMs);

export interface TracingOptions {
  /** Full OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  serviceName: string;
  serviceVersion: string;
  /** Tests pass an exporter; production uses OTLP/HTTP JSON to `url`. */
  exporter?: SpanExporter;
}

const propagator = new W3CTraceContextPropagator();

/** The host and port an upstream base URL names (`server.address`, `server.port`); one parse per base URL. */
const servers = new Map<string, { address: string; port: number } | undefined>();
function serverOf(baseUrl: string): { address: string; port: number } | undefined {
  if (servers.has(baseUrl)) return servers.get(baseUrl);
  let server: { address: string; port: number } | undefined;
  try {
    server = addressOf(new URL(baseUrl));
  } catch {
    server = undefined;
  }
  // Base URLs come from the catalog and the accounts' custom providers: bounded, but not by the gateway; a full
  // map starts over rather than growing.
  if (servers.size >= 1000) servers.clear();
  servers.set(baseUrl, server);
  return server;
}

/** The host and port `url` names, as `server.address` and `server.port` write them. */
function addressOf(url: URL): { address: string; port: number } {
  const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  // An IPv6 literal without its brackets, as the conventions write addresses.
  return { address: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** `timeout` or `stream_failed` for an answer that went out as a 2xx and then broke off; undefined otherwise. */
function brokenAnswer(r: AttemptRecord): string | undefined {
  if (!r.served || r.statusCode < 200 || r.statusCode >= 300) return undefined;
  if (r.completion === 'timed_out') return 'timeout';
  return r.completion === 'stream_failed' ? 'stream_failed' : undefined;
}

/**
 * The model that generated an answer, as the answer names it (OpenAI's `gpt-4o-2024-08-06` for `gpt-4o`, a custom
 * model's own upstream id), which is what the conventions' gen_ai.response.model is; the model asked when it names none.
 */
function responseModelOf(r: AttemptRecord): string {
  return truncate(r.facts?.responseModel ?? r.plan.candidate.modelId, MAX_NAME);
}

function errorTypeOf(r: AttemptRecord): string | undefined {
  if (r.failure === undefined) return r.statusCode >= 400 ? String(r.statusCode) : undefined;
  return r.statusCode > 0 ? String(r.statusCode) : r.failure;
}

/** The methods HTTP defines; any other is `_OTHER`, as the HTTP semantic conventions ask (a client picks the name). */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** Longest text a client chooses (a path, a pass-through model's name) kept in a span name or attribute. */
const MAX_NAME = 256;

/**
 * The gateway's own route (`http.route`, and the span's name after the method): `/v1/models/{model}` for a model's
 * page, Gemini's `/v1beta/models/{model}:generateContent`; none for a path it does not serve — a client's invented
 * paths must not each make a span name.
 */
function routeOf(path: string, route: RequestContext['route']): string | undefined {
  const kind = nonModelRoute(route);
  if (kind === 'other') return undefined;
  if (kind === 'mcp') return mcpRouteOf(path);
  if (kind === 'models') {
    if (route.format === 'gemini') return path.startsWith(GEMINI_MODELS_PREFIX) ? `${GEMINI_MODELS_PREFIX}{model}` : GEMINI_MODELS_PATH;
    return path.startsWith(MODEL_PATH_PREFIX) ? `${MODEL_PATH_PREFIX}{model}` : MODELS_PATH;
  }
  // Gemini's paths hold the model the client named: one route per method, as for a model's page.
  if (route.format === 'gemini' && route.surface !== 'interactions') return `${GEMINI_MODELS_PREFIX}{model}:${geminiMethodOf(route) ?? 'generateContent'}`;
  return path;
}

/**
 * The scheme the client used: the gateway itself listens on plain HTTP, and a TLS-terminating proxy in front of it
 * (the ngrok agent among them) says the client's in `x-forwarded-proto`. Only the two values HTTP has are taken.
 */
function schemeOf(req: RequestContext['req']): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]!.trim().toLowerCase();
  if (first === 'https' || first === 'http') return first;
  return 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
}

/** Client text in a span's name: its first MAX_NAME characters, never half an emoji, well-formed (no count of the rest). */
function spanNamePart(text: string): string {
  return wellFormed(textPrefix(text, MAX_NAME));
}

/**
 * The trace headers naming `span` (the caller's tracestate carried on with it), sampled or not (its flags say which);
 * none for a span whose context is not valid.
 */
function traceHeadersOf(span: Span): TraceHeaders | undefined {
  const carrier: Partial<TraceHeaders> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  if (carrier.traceparent === undefined) return undefined;
  // A caller's tracestate of no valid entry serialises empty: no header rather than an empty one.
  if (carrier.tracestate === '') delete carrier.tracestate;
  return carrier as TraceHeaders;
}

/** A call to an MCP server's span: its status code when the server answers, its outcome when the call is over. */
class McpCallTrace implements McpCallSpan {
  readonly headers: TraceHeaders | undefined;
  readonly #t: RequestTrace;
  readonly #span: Span;
  #ended = false;

  constructor(t: RequestTrace, span: Span, headers: TraceHeaders | undefined) {
    this.#t = t;
    this.#span = span;
    this.headers = headers;
  }

  responded(status: number): void {
    if (!this.#ended) this.#span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  }

  end(error?: string | number, endedAt = performance.now()): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      const type = String(error);
      this.#span.setAttribute(ATTR_ERROR_TYPE, type);
      // A JSON-RPC error's code, which the MCP conventions put in both.
      if (typeof error === 'number') this.#span.setAttribute(RPC_RESPONSE_STATUS_CODE, type);
      this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.#span.end(at(this.#t, endedAt));
  }
}

export class RequestTracer {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;

  constructor(options: TracingOptions) {
    const exporter = options.exporter ?? new OTLPTraceExporter({ url: options.url });
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: options.serviceVersion }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
    });
    this.#tracer = this.#provider.getTracer('tollgate-gateway', options.serviceVersion);
  }

  /** The request span, started on first use with the request's start time and the caller's traceparent as parent. */
  #trace(ctx: RequestContext): RequestTrace {
    if (ctx.trace) return ctx.trace;
    const parent = propagator.extract(ROOT_CONTEXT, ctx.req.headers, defaultTextMapGetter);
    const url = ctx.req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const sent = ctx.req.method ?? 'POST';
    const method = HTTP_METHODS.has(sent) ? sent : '_OTHER';
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path.slice(0, MAX_NAME), [ATTR_URL_SCHEME]: schemeOf(ctx.req), 'tollgate.request_id': ctx.requestId,
    };
    if (method !== sent) attributes['http.request.method_original'] = sent.slice(0, MAX_NAME);
    const route = routeOf(path, ctx.route);
    if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
    const epochOffsetMs = Date.now() - performance.now();
    const span = this.#tracer.startSpan(route === undefined ? method : `${method} ${route}`, { kind: SpanKind.SERVER, startTime: millisToHrTime(ctx.startedAt + epochOffsetMs), attributes }, parent);
    ctx.trace = { span, attempts: [], epochOffsetMs };
    return ctx.trace;
  }

  /**
   * Starts the attempt's span at `startedAt` (performance.now(), the attempt record's: its duration is measured from
   * there); returns the trace headers to send upstream (the attempt span as parent).
   */
  startAttempt(ctx: RequestContext, plan: AttemptPlan, attemptNumber: number, startedAt: number): TraceHeaders | undefined {
    return this.#startClientSpan(this.#trace(ctx), plan, attemptNumber, startedAt, OPERATION[ctx.route.surface]);
  }

  /** An attempt's CLIENT span, a child of `t`'s, and the trace headers naming it. */
  #startClientSpan(t: RequestTrace, plan: AttemptPlan, attemptNumber: number, startedAt: number, operation: string): TraceHeaders | undefined {
    const { candidate } = plan;
    const provider = PROVIDER_NAMES[candidate.provider.id] ?? candidate.provider.id;
    const attributes: Attributes = {
      [GEN_AI_OPERATION_NAME]: operation, [GEN_AI_PROVIDER_NAME]: provider, [GEN_AI_SYSTEM]: provider,
      [GEN_AI_REQUEST_MODEL]: truncate(candidate.modelId, MAX_NAME), 'tollgate.attempt': attemptNumber, 'tollgate.key_source': plan.keySource,
    };
    const server = serverOf(candidate.surface.baseUrl ?? candidate.provider.baseUrl);
    if (server) {
      attributes[ATTR_SERVER_ADDRESS] = server.address;
      attributes[ATTR_SERVER_PORT] = server.port;
    }
    const span = this.#tracer.startSpan(`${operation} ${spanNamePart(candidate.modelId)}`, {
      kind: SpanKind.CLIENT, startTime: at(t, startedAt), attributes,
    }, trace.setSpan(ROOT_CONTEXT, t.span));
    t.attempts.push(span);
    return traceHeadersOf(span);
  }

  /**
   * The tracing of a request's calls to MCP servers (mcp/upstream.ts): each HTTP call a CLIENT span under the request's
   * span, named and attributed as the MCP conventions have a client's call. Its end is the caller's (McpCallSpan.end),
   * which may come after the request's own: a session opened for a request that stopped waiting, a notification passed on.
   */
  mcpCalls(ctx: RequestContext): McpTracing {
    return { start: (call) => this.#startMcpCall(this.#trace(ctx), call) };
  }

  #startMcpCall(t: RequestTrace, call: McpCall): McpCallSpan {
    // No URL (a query-parameter secret sits in it), header or session id; the server's label is the account's name for it.
    const attributes: Attributes = { 'network.protocol.name': 'http', 'network.transport': 'tcp', 'tollgate.mcp_server': call.server.label };
    let name: string;
    if (call.method === undefined) {
      // The DELETE ending a session is no MCP message: an HTTP client span, as the HTTP conventions name one.
      name = 'DELETE';
      attributes[ATTR_HTTP_REQUEST_METHOD] = 'DELETE';
    } else {
      // A client's own method, passed through on a server's own endpoint, is its text: cut as a model's name is.
      attributes[MCP_METHOD_NAME] = truncate(call.method, MAX_NAME);
      name = spanNamePart(call.method);
      if (call.tool !== undefined) {
        attributes[GEN_AI_TOOL_NAME] = truncate(call.tool, MAX_NAME);
        attributes[GEN_AI_OPERATION_NAME] = 'execute_tool';
        name = `${name} ${spanNamePart(call.tool)}`;
      }
      if (call.id !== undefined && call.id !== null) attributes[JSONRPC_REQUEST_ID] = truncate(String(call.id), MAX_NAME);
    }
    if (call.protocolVersion !== undefined) attributes[MCP_PROTOCOL_VERSION] = call.protocolVersion;
    // From the URL each time, not serverOf's map: a server's URL may hold its secret, never to be kept apart from it.
    const server = addressOf(call.url);
    attributes[ATTR_SERVER_ADDRESS] = server.address;
    attributes[ATTR_SERVER_PORT] = server.port;
    const span = this.#tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: at(t, performance.now()), attributes }, trace.setSpan(ROOT_CONTEXT, t.span));
    return new McpCallTrace(t, span, traceHeadersOf(span));
  }

  /** Ends the request's spans once its answer is complete, with what the attempts and the meter learnt. */
  finish(ctx: RequestContext, records: readonly AttemptRecord[], events: readonly UsageEvent[], status: number, endedAt: number, askedModel: string | undefined): void {
    const t = this.#trace(ctx);
    // A model listing or an unknown path is no GenAI operation (trace backends would count a listing as a chat).
    const operation = nonModelRoute(ctx.route) === undefined ? OPERATION[ctx.route.surface] : undefined;
    let input = 0;
    let output = 0;
    const parts = { read: 0, creation: 0, reasoning: 0, reported: false };
    for (let i = 0; i < t.attempts.length; i++) {
      const span = t.attempts[i]!;
      const r = records[i];
      const e = events[i];
      if (!r) { span.end(at(t, endedAt)); continue; }
      const attributes: Attributes = { 'tollgate.retry_action': r.retryAction, 'tollgate.completion': r.completion };
      if (r.statusCode > 0) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = r.statusCode;
      const answered = r.served && r.statusCode >= 200 && r.statusCode < 300;
      if (answered) attributes[GEN_AI_RESPONSE_MODEL] = responseModelOf(r);
      if (answered && r.facts?.responseId) attributes[GEN_AI_RESPONSE_ID] = r.facts.responseId;
      // A 2xx stream that broke off or timed out mid-way failed as surely as a 5xx (the client got an error event).
      const broken = brokenAnswer(r);
      const ok = answered && broken === undefined;
      if (e) {
        const tokens = reportedTokens(e);
        attributes[GEN_AI_USAGE_INPUT_TOKENS] = tokens.input;
        attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = tokens.output;
        input += tokens.input;
        output += tokens.output;
        // Cache and reasoning parts only beside the provider's own counts (an estimate has none).
        if (tokens.providerCounted) {
          attributes[GEN_AI_USAGE_CACHE_READ] = e.cacheReadTokens;
          attributes[GEN_AI_USAGE_CACHE_CREATION] = e.cacheWriteTokens;
          attributes[GEN_AI_USAGE_REASONING] = e.reasoningTokens;
          parts.reported = true;
          parts.read += e.cacheReadTokens;
          parts.creation += e.cacheWriteTokens;
          parts.reasoning += e.reasoningTokens;
        }
        if (e.stopReason) attributes[GEN_AI_RESPONSE_FINISH_REASONS] = [e.stopReason];
      }
      const error = ok ? undefined : broken ?? errorTypeOf(r);
      if (error !== undefined) {
        attributes[ATTR_ERROR_TYPE] = error;
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.setAttributes(attributes);
      span.end(at(t, r.startedAt + r.durationMs));
    }
    const attributes: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status, 'tollgate.attempts': records.length };
    if (operation !== undefined) attributes[GEN_AI_OPERATION_NAME] = operation;
    if (askedModel !== undefined) attributes[GEN_AI_REQUEST_MODEL] = askedModel;
    if (ctx.key) attributes['tollgate.access_key_id'] = ctx.key.id;
    const served = records.find((r) => r.served);
    // The provider of the answer, else of the last attempt (a 503/504, a client gone): the metrics and the access
    // line name it too. A response model only for an answer a model generated (not a provider's 400 relayed).
    const asked = served ?? records[records.length - 1];
    if (asked) {
      const provider = asked.plan.candidate.provider.id;
      attributes[GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES[provider] ?? provider;
    }
    if (served && served.statusCode >= 200 && served.statusCode < 300) {
      attributes[GEN_AI_RESPONSE_MODEL] = responseModelOf(served);
      if (served.facts?.responseId) attributes[GEN_AI_RESPONSE_ID] = served.facts.responseId;
    }
    if (events.length > 0) {
      attributes[GEN_AI_USAGE_INPUT_TOKENS] = input;
      attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = output;
      if (parts.reported) {
        attributes[GEN_AI_USAGE_CACHE_READ] = parts.read;
        attributes[GEN_AI_USAGE_CACHE_CREATION] = parts.creation;
        attributes[GEN_AI_USAGE_REASONING] = parts.reasoning;
      }
    }
    const brokenServed = served ? brokenAnswer(served) : undefined;
    if (status >= 500 || brokenServed !== undefined) {
      attributes[ATTR_ERROR_TYPE] = status >= 500 ? String(status) : brokenServed!;
      t.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    t.span.setAttributes(attributes);
    t.span.end(at(t, endedAt));
  }

  /**
   * A realtime session's spans, made once it ended (or was refused): a SERVER span from the upgrade request to the
   * session's end and a CLIENT span per provider handshake, the one that opened the session lasting as long as it.
   * Attributes as a request's and its attempts'; usage is the sum of its responses'. No frame content.
   */
  finishRealtime(o: RealtimeObservation, status: number, askedModel: string | undefined): void {
    const t = this.#realtimeTrace(o);
    const session = t.span;
    const attributes: Attributes = {
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: status, 'tollgate.attempts': o.handshakes.length, 'tollgate.realtime.responses': o.responses,
    };
    if (askedModel !== undefined) attributes[GEN_AI_REQUEST_MODEL] = askedModel;
    if (o.key) attributes['tollgate.access_key_id'] = o.key.id;
    const last = o.handshakes[o.handshakes.length - 1];
    if (last) {
      const provider = last.plan.candidate.provider.id;
      attributes[GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES[provider] ?? provider;
    }
    if (o.upgradedAt > 0) {
      attributes[GEN_AI_RESPONSE_MODEL] = last!.plan.candidate.modelId;
      attributes[GEN_AI_USAGE_INPUT_TOKENS] = o.inputTokens;
      attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = o.outputTokens;
      attributes[GEN_AI_USAGE_CACHE_READ] = o.cacheReadTokens;
    }
    if (o.outcome !== undefined) attributes['tollgate.realtime.session_end'] = o.outcome;
    // A provider message too long, or a provider frame that breaks the protocol, ends the session as the gateway's
    // failure to relay it (the client is told a 502), and so does a message it had no room to hold (a 503).
    const error = status >= 500 ? String(status) : o.outcome === 'frame_too_long' || o.outcome === 'provider_protocol_error' || o.outcome === 'gateway_busy' ? o.outcome : undefined;
    if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
    session.setAttributes(attributes);
    if (error !== undefined) session.setStatus({ code: SpanStatusCode.ERROR });
    for (let i = 0; i < o.handshakes.length; i++) {
      const h = o.handshakes[i]!;
      const { candidate } = h.plan;
      // Each handshake's span started with it (startRealtimeHandshake); one missing is made now, from its record.
      if (t.attempts[i] === undefined) this.#startClientSpan(t, h.plan, i + 1, h.startedAt, OPERATION.realtime);
      const span = t.attempts[i]!;
      const a: Attributes = { 'tollgate.retry_action': h.retryAction };
      if (h.status > 0) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = h.status;
      const opened = h.status === 101;
      if (opened) {
        a[GEN_AI_RESPONSE_MODEL] = candidate.modelId;
        a[GEN_AI_USAGE_INPUT_TOKENS] = o.inputTokens;
        a[GEN_AI_USAGE_OUTPUT_TOKENS] = o.outputTokens;
        a[GEN_AI_USAGE_CACHE_READ] = o.cacheReadTokens;
      } else a[ATTR_ERROR_TYPE] = h.status > 0 ? String(h.status) : 'connection';
      span.setAttributes(a);
      if (!opened) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(at(t, Math.min(h.startedAt + h.durationMs, o.endedAt)));
    }
    session.end(at(t, o.endedAt));
  }

  /**
   * A provider handshake of a realtime session begins: its CLIENT span starts (the session's SERVER span with it, the
   * first time), and the trace headers naming it go in the handshake, as an HTTP attempt's go in its request.
   */
  startRealtimeHandshake(o: RealtimeObservation, plan: AttemptPlan, attemptNumber: number, startedAt: number): TraceHeaders | undefined {
    return this.#startClientSpan(this.#realtimeTrace(o), plan, attemptNumber, startedAt, OPERATION.realtime);
  }

  /** A realtime session's SERVER span, started with its upgrade request's time and the caller's traceparent as parent. */
  #realtimeTrace(o: RealtimeObservation): RequestTrace {
    if (o.trace) return o.trace;
    const parent = propagator.extract(ROOT_CONTEXT, o.req.headers, defaultTextMapGetter);
    const epochOffsetMs = Date.now() - performance.now();
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: 'GET', [ATTR_URL_PATH]: REALTIME_ROUTE, [ATTR_URL_SCHEME]: schemeOf(o.req), [ATTR_HTTP_ROUTE]: REALTIME_ROUTE,
      'tollgate.request_id': o.requestId, [GEN_AI_OPERATION_NAME]: OPERATION.realtime,
    };
    const span = this.#tracer.startSpan(`GET ${REALTIME_ROUTE}`, { kind: SpanKind.SERVER, startTime: millisToHrTime(o.startedAt + epochOffsetMs), attributes }, parent);
    o.trace = { span, attempts: [], epochOffsetMs };
    return o.trace;
  }

  /** Exports what is buffered and stops (the process is stopping). */
  async shutdown(): Promise<void> {
    await this.#provider.forceFlush();
    await this.#provider.shutdown();
  }
}
