// Shapes shared by the gateway's stages: what the server depends on, and the per-request context that
// the stages fill in as the request moves through the pipeline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/index.ts';
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from '../state/types.ts';
import type { UsageSink } from '../usage/event.ts';
import type { CreditLedger, Reservation } from '../usage/ledger.ts';
import type { Upstreams } from './upstream.ts';
import type { UpstreamExchange } from './exchange.ts';
import type { GatewayObserver } from './observe/observer.ts';
import type { RequestTrace } from './observe/tracing.ts';
import type { BodyCapture } from '../domain/request-capture.ts';
import type { CompiledPolicy, FirewallFinding } from '../domain/firewall.ts';
import type { CaptureSink, ExchangeRecording } from './request-capture.ts';
import type { McpGatewayOptions } from './mcp/index.ts';
import type { FirewallDecisionModel } from '../config/config.ts';
import type { KeyCooldowns } from './key-cooldown.ts';
import type { AttemptPlan } from '../domain/routing.ts';

/** The part of GatewayState (src/state) the data plane reads; all of it answers from memory. */
export interface GatewayStateView {
  authenticate(token: string): AuthenticatedKey | null | Promise<AuthenticatedKey | null>;
  account(accountId: string): AccountSnapshot;
  configuration(key: AuthenticatedKey): ConfigurationState | null;
  /**
   * Reads the account's snapshot again (at most once a second per `missing` id), resolving once loaded: false when
   * the read failed.
   */
  reloadAccount(accountId: string, missing: string): Promise<boolean>;
  /** Resolves once changes committed elsewhere and not yet applied here are applied; undefined when none are pending. */
  changesArriving(accountId: string): Promise<void> | undefined;
  markUsed(accessKeyId: string, providerKeyId?: string): void;
  /** Moves the snapshot's displayed balance between reloads (metrics); admission uses the ledger. */
  debit(accountId: string, pico: bigint): void;
  /**
   * What ends work opened under a key that no longer allows it (realtime sessions): the access key by id as stored now
   * (null: gone), and the hooks telling of a key's change and an account's reload. Absent in bare test setups.
   */
  accessKeyById?(id: string): AuthenticatedKey | null | Promise<AuthenticatedKey | null>;
  onAccessKeyChange?(listener: (accessKeyId: string) => void): void;
  onReload?(listener: (before: AccountSnapshot, now: AccountSnapshot) => void): void;
}

export interface GatewayOptions {
  maxBodyBytes: number;
  managedKeys: Record<string, string>;
  processingFeeMicroUsdPerMtok: bigint;
  /** What each MCP tools/call a server answered costs (mcp/gateway.ts); absent: nothing. */
  mcpCallFeeMicroUsd?: bigint;
  /** This deployment's id in `tollgate-via` (routing-loop.ts). */
  loopId: string;
  /** How long a client may take to send its headers / its whole request (src/http/client-timeouts.ts). */
  clientHeadersTimeoutMs: number;
  clientRequestTimeoutMs: number;
  /**
   * Once a stream reached the client: how long the provider may stay quiet, and how long the request may run in all
   * when its account set no totalTimeout of its own (docs/decisions/gateway-behaviour.md, "Timeouts").
   */
  streamIdleTimeoutMs: number;
  streamTimeoutMs: number;
  /** Realtime sessions' limits (realtime/); absent: its defaults (bare test setups). */
  realtime?: RealtimeLimits;
  /** The MCP gateway's session limits (mcp/gateway.ts); absent: its defaults. */
  mcp?: McpGatewayOptions;
  /** The model judging Firewall's decision rules (firewall/decision.ts); absent: they are unchecked, and refused in `plugins`. */
  firewallDecision?: FirewallDecisionModel;
}

export interface RealtimeLimits {
  /** Sessions one account may have open at once. */
  maxSessions: number;
  /** A session with no data frame either way for this long is ended. */
  idleTimeoutMs: number;
  /** A session is ended this long after it opened. */
  maxDurationMs: number;
}

export interface GatewayDeps {
  state: GatewayStateView;
  catalog: Catalog;
  usage: UsageSink;
  /** Present with TOLLGATE_BILLING=on: credit checks and reservations (src/usage/ledger.ts). */
  ledger?: CreditLedger;
  upstreams: Upstreams;
  options: GatewayOptions;
  logger: Logger;
  /** Metrics, traces and the access log (src/gateway/observe); absent in bare test setups. */
  observer?: GatewayObserver;
  /** Request capture's writer (usage/capture-writer.ts); absent in bare test setups, which capture nothing. */
  captures?: CaptureSink;
  /** Rate-limited provider keys waiting their turn (key-cooldown.ts); absent in bare test setups: the planned order. */
  keyCooldowns?: KeyCooldowns;
}

/** A gateway route: the API format and surface a path serves. */
export interface SurfaceRoute { format: ApiFormat; surface: ApiSurface }

/**
 * Why the current upstream call was aborted (set before aborting, read when the call fails). `abandoned`: the
 * attempt ended (a gateway bug threw) with the exchange still open, so its connection is released.
 */
/** `shutdown`: the gateway stopped while the request was still open past the shutdown grace period. */
/** `stream-idle`: a stream that reached the client went quiet for longer than `streamIdleTimeoutMs`. */
/** `answered`: the client has the whole stream, and the provider held its connection past FINAL_EVENT_LINGER_MS. */
export type AbortCause = 'attempt-timeout' | 'total-timeout' | 'stream-idle' | 'oversized-event' | 'oversized-call' | 'oversized-answer' | 'client-gone' | 'abandoned' | 'shutdown' | 'answered';

export interface RequestContext {
  readonly deps: GatewayDeps;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly startedAt: number;
  route: SurfaceRoute;
  key?: AuthenticatedKey;
  account?: AccountSnapshot;
  configuration?: ConfigurationState | null;
  rawBody?: Buffer;
  body?: Record<string, unknown>;
  /**
   * A Gemini native call's model, the one its path names (its body names none), or a Bedrock operation's as
   * `bedrock:<id>`; undefined on every other route.
   */
  pathModel: string | undefined;
  /**
   * The `?key=` access key of any Gemini route (calls, Interactions, model pages), as Google's API takes its key there
   * too; undefined elsewhere. Read by authentication only: the client's query is never sent upstream nor logged.
   */
  queryKey: string | undefined;
  /** Comma list for Ngrok-AIG-Rejected-Models, '' when scope dropped nothing. */
  rejectedModels: string;
  /** The in-flight upstream exchange; aborted on timeouts and client disconnect. */
  current: UpstreamExchange | undefined;
  /**
   * The gateway's own calls on the request while they are open (Firewall judgements): none is `current`, so a stopping
   * gateway aborts them beside it.
   */
  gatewayCalls?: Set<UpstreamExchange>;
  abortCause: AbortCause | undefined;
  /** The request's total-timeout timer; a committed stream moves it to the stream's deadline. */
  totalTimer: ReturnType<typeof setTimeout> | undefined;
  /** The total time limit in force (ms), for the 3810 message. */
  timeLimitMs: number;
  /**
   * The upstream attempts made so far, for Ngrok-AIG-Attempts (gateway.md §9, "number of upstream attempts made"), the
   * stopping gateway's 503 included: an attempt begun and never sent (the total ran out, or the stop came, while it
   * was noted or while Firewall judged the request) has its usage event, yet no provider was called for it.
   */
  attemptsMade: number;
  /** Attempts placed after their model's ready keys because their key was cooling (key-cooldown.ts); unset: none. */
  deferredAttempts?: readonly AttemptPlan[];
  /** A request Firewall's request rules blocked: the attempt it would have made first, which usage records it under. */
  blockedPlan?: AttemptPlan;
  /** The fee of the MCP tools/call this request carried (mcp/gateway.ts), for its access line; unset: none charged. */
  mcpCostPico?: bigint;
  clientGone: boolean;
  /**
   * A status the connection's own error handler answered with (408: the body did not arrive in time), 0 if none:
   * the request is observed with it, and the connection closing after it is not a client that left.
   */
  answeredStatus: number;
  /**
   * A streamed answer is being relayed: a client leaving now lets the provider's final usage arrive for a
   * moment (METER_GRACE_MS) before the call is aborted, so the request is billed what the provider counted.
   */
  relaying: boolean;
  /** Input-token estimate, computed at most once. */
  inputEstimate: number | undefined;
  /** While a Responses answer streams: the sequence number an error event ending it must take. */
  nextSequence: (() => number) | undefined;
  /** The credit held for this request (billing on) until metering settles it. */
  reservation: Reservation | undefined;
  /** Observation (observe/observer.ts): performance.now() of the first streamed byte and of the answer's end, 0 until then. */
  firstByteAt: number;
  endedAt: number;
  /**
   * The code of the error the gateway answered with itself (writeError: a refusal, every provider failed, a timeout;
   * the connection's 408), for the access line: a client reporting `ERR_NGROK_3807` is found by it whether or not
   * attempts were made. `client-gone` for a client that left before its body arrived. The access line's only source.
   */
  errorCode: string | undefined;
  /** Set once the request was observed (metrics, spans, access line), so it never counts twice. */
  observed: boolean;
  /** The request's spans, only while tracing is on. */
  trace: RequestTrace | undefined;
  /** Response bytes kept for the access log, only with TOLLGATE_LOG_BODIES=1. */
  capture: BodyCapture | undefined;
  /** The exchange kept for request capture (request-capture.ts), only when the key's account has it on. */
  recording: ExchangeRecording | undefined;
  /** The key's Firewall policies (firewall/index.ts), undefined for a key with none: the common path reads nothing more. */
  firewall: readonly CompiledPolicy[] | undefined;
  /** The request's own Firewall rules (its `plugins` field, firewall/plugins.ts), compiled; undefined when it sent none. */
  requestFirewall: readonly CompiledPolicy[] | undefined;
  /** Firewall's findings so far (request rules, then the answer's tool calls), for Ngrok-AIG-Firewall and the access line. */
  firewallFindings: FirewallFinding[] | undefined;
}

/**
 * The shutdown grace period ran out on the request (server.ts `cutShort`): its client has the 503 ("retry"), so nothing
 * more is asked or written for it. A function, not an inline check: the cause changes while a stage awaits.
 */
export function cutByShutdown(ctx: { readonly abortCause: AbortCause | undefined }): boolean {
  return ctx.abortCause === 'shutdown';
}
