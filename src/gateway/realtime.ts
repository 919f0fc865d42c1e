// OpenAI's Realtime API over WebSocket: `GET /v1/realtime?model=…` upgraded on the gateway's port (HTTP/1.1 only, as
// WebSockets are), relayed frame by frame to the provider's own WebSocket (its base URL's `/realtime`, ws scheme).
// Everything is decided before the upgrade — key, scope, credits, model, the session limit, and the provider's
// handshake, failing over to the next credential on 401/403/429/5xx — so every refusal is an HTTP error in the
// gateway's shape. Once upgraded there is no failover: the provider holds the conversation; a client event that
// starts billable work is relayed only while the account has credit, else refused with an `error` event and the
// session kept open, and a response the provider starts by itself (server VAD) meanwhile is cancelled. A response
// (the client's or the provider's own) holds the most it can cost from its admission until its usage is recorded, as
// an HTTP request does, so concurrent responses cannot spend credit the account does not have. Every
// `response.done` the provider sends is metered as a usage event, priced by kind of token; a response still open when
// the session ends is cancelled and given a moment to report its usage, and recorded as failed when it does not,
// billed on an estimate of what the client was sent of it.
// Input audio transcription, which the provider bills apart at the transcription model's prices, is metered from each
// `conversation.item.input_audio_transcription.completed`, and held for from the first append of the audio it
// transcribes until then (billing on). A session ends when its access key is deleted or no longer
// allows it, when the account's provider key it runs on is deleted or rotated, and when the Playground token that
// opened it expires (docs/decisions/gateway-behaviour.md, "Realtime").
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { attemptCost, audioDurationPico, reservationPico, type AttemptCost, type IterationUsage, type TokenUsage } from '../domain/cost.ts';
import { Errors, TollgateError, tollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { nowIso } from '../domain/clock.ts';
import { byteSize } from '../domain/byte-size.ts';
import { isRecord } from '../domain/json-value.ts';
import { resolveCandidates, type Candidate } from '../domain/resolve.ts';
import { applyScope, scopeError } from '../domain/scope.ts';
import { planAttempts, type AttemptPlan } from '../domain/routing.ts';
import type { CatalogModel, PriceMicro } from '../catalog/types.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from '../state/types.ts';
import { NO_COST, type BegunAttempt, type Completion, type RetryAction, type UsageEvent } from '../usage/event.ts';
import type { GatewayDeps, RealtimeLimits } from './context.ts';
import { accessToken, authenticateToken, unknownKey } from './authenticate.ts';
import { admitCredit, holdCredit, keyStage, type Admission } from './pipeline.ts';
import { refuseUnscreenedSession } from './firewall/index.ts';
import { refuseRoutingLoop, VIA_HEADER, viaValue } from './routing-loop.ts';
import { addTraceHeaders, baseHeaders, H_MODEL, H_REQUEST_ID, headerText, type TraceHeaders } from './headers.ts';
import { codecs } from './formats/index.ts';
import { formatMs } from './failure.ts';
import { appendText, num, storedStopReason, TEXT_ESTIMATE_CAP, type StreamFacts } from './formats/types.ts';
import { outputEstimate } from './meter.ts';
import { UNBOUNDED_OUTPUT_TOKENS } from '../domain/params.ts';
import type { Reservation } from '../usage/ledger.ts';
import type { RealtimeHandshake, RealtimeObservation, RealtimeOutcome } from './observe/observer.ts';
import type { RequestTrace } from './observe/tracing.ts';
import { reportedTokens } from './observe/tokens.ts';
import { PROCESS_HELD_ANSWERS, type HeldRoom } from './exchange.ts';
import { UnfinishedMessage } from './unfinished-message.ts';
import { FREE_QUEUED_BYTES, QueuedMessages } from './queued-messages.ts';
import { editedBodyText } from './body-edit.ts';

export const REALTIME_PATH = '/v1/realtime';

/**
 * The longest message relayed either way. OpenAI's own events are small but for audio appended in one piece (base64,
 * 15 MiB of it is some five minutes of 24 kHz PCM): a single message past this ends the session rather than be held.
 * What all messages still arriving hold at once counts in the process's held answers (UnfinishedMessage).
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const DEFAULT_REALTIME_LIMITS: RealtimeLimits = { maxSessions: 100, idleTimeoutMs: 15 * 60_000, maxDurationMs: 60 * 60_000 };

/** The browser's way to send a key (WebSocket has no headers there): a subprotocol `openai-insecure-api-key.<key>`. */
const KEY_PROTOCOL = 'openai-insecure-api-key.';
const REALTIME_PROTOCOL = 'realtime';
/** The browser's way to opt in to the older realtime protocol (OpenAI's `openai-beta: realtime=v1` header). */
const BETA_PROTOCOL = 'openai-beta.realtime-v1';

/** How long a response left open when a session ends may take to report its usage after it is cancelled. */
const METER_GRACE_MS = 1000;
/** How long a closing handshake may take before the socket is dropped. */
const CLOSE_WAIT_MS = 1000;
/** Bytes waiting for a slow reader before the other side is paused (no session is ever held whole). */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Of a provider's refusal of the handshake, this much of its body is passed to the client. */
const REFUSAL_BODY_BYTES = 64 * 1024;

/**
 * Close codes (RFC 6455 §7.4): a limit ended the session; the gateway is stopping; the provider failed; the gateway
 * could not hold a message beside the others it holds (1013 "Try Again Later", as the 503 it tells).
 */
const CLOSE_POLICY = 1008;
const CLOSE_RESTART = 1012;
const CLOSE_UPSTREAM = 1011;
const CLOSE_BUSY = 1013;
/** The client's message was over MAX_MESSAGE_BYTES: "Message Too Big", the code `ws` closes with itself. */
const CLOSE_TOO_BIG = 1009;
/** `ws`'s errors for a message over its `maxPayload`, and for a frame whose header says more than 2^53 - 1 bytes. */
const MESSAGE_TOO_LONG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
const FRAME_TOO_LONG = 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH';
/** A frame that breaks the protocol (RFC 6455 §7.4.1), when `ws` does not say its own close code (brokenFrame). */
const CLOSE_PROTOCOL = 1002;

const DONE = Buffer.from('"response.done"');
const CREATED = Buffer.from('"response.created"');
const CREATE = Buffer.from('"response.create"');
const APPEND = Buffer.from('"input_audio_buffer.append"');
const COMMIT = Buffer.from('"input_audio_buffer.commit"');
const BILLABLE = new Set(['response.create', 'input_audio_buffer.append', 'input_audio_buffer.commit']);
/** Client events that add to the conversation a response's hold counts (billing on): read only then. */
const ITEM_CREATE = Buffer.from('"conversation.item.create"');
const SESSION_UPDATE = Buffer.from('"session.update"');
/** The provider's refusal of a `response.create` while a response of the conversation runs. */
const BUSY = 'conversation_already_has_active_response';
const TRANSCRIBED = Buffer.from('"conversation.item.input_audio_transcription.completed"');
const TRANSCRIPTION_FAILED = Buffer.from('"conversation.item.input_audio_transcription.failed"');
const COMMITTED = Buffer.from('"input_audio_buffer.committed"');
const CLEARED = Buffer.from('"input_audio_buffer.cleared"');
/** A JSON string may spell any character as an escape (`response\u002ecreate`): no byte search can rule such a message out. */
const BACKSLASH = 0x5c;
const SESSION_CREATED = Buffer.from('"session.created"');
const TRANSCRIPTION = Buffer.from('transcription"');
const SESSION_UPDATED = Buffer.from('"session.updated"');
const ERROR = Buffer.from('"error"');
/**
 * OpenAI's event at each response's start with the credential's limits and what is left of them: on the managed key,
 * the operator's, and every tenant's use of them.
 */
const RATE_LIMITS = Buffer.from('"rate_limits.updated"');
/** What OpenAI's limit refusals name the credential's organization with ("… in organization org-…: Limit 1000, Used 1000"). */
const ORGANIZATION = Buffer.from(' organization org-');
/** What ends the type of each output delta, whose relayed output estimates a response that never reports (#finish). */
const DELTA = Buffer.from('.delta"');
/**
 * The deltas of output the model generates as text, billed as text output tokens: text, function call arguments, and
 * an audio response's transcript (OpenAI reports an audio response's output as text tokens beside its audio tokens).
 * GA names, then the beta's.
 */
const TEXT_DELTAS = new Set(['response.output_text.delta', 'response.output_audio_transcript.delta', 'response.function_call_arguments.delta', 'response.text.delta', 'response.audio_transcript.delta']);
const AUDIO_DELTAS = new Set(['response.output_audio.delta', 'response.audio.delta']);
/** Output audio is billed at one token per 50 ms of it (developers.openai.com/api/docs/guides/realtime-costs). */
const AUDIO_OUTPUT_TOKENS_PER_SECOND = 20;
/** The user's audio, one token per 100 ms (the same page). */
const AUDIO_INPUT_TOKENS_PER_SECOND = 10;
/** A format whose rate is not known is held as the slowest the gateway knows (G.711): the most tokens per byte. */
const SLOWEST_AUDIO_BYTES_PER_SECOND = 8000;
/** A session's output and input audio until it says otherwise: OpenAI's default, 24 kHz 16-bit mono PCM. */
const DEFAULT_AUDIO_BYTES_PER_SECOND = 48_000;
/** The prefix of the `event_id` the gateway gives the `response.cancel` it sends of its own (a session's own follows it). */
const OWN_EVENT = 'event_tollgate_';
/** What follows a session's own prefix in the `event_id` given to a client's `response.create` that had none. */
const OWN_CREATE = 'create_';
/** The same for a client's `session.update` asking for input audio transcription (billing on). */
const OWN_UPDATE = 'update_';

/**
 * A client event that starts work the provider bills: `response.create`; audio appended — under server VAD (a
 * session's default) the provider starts a response by itself when the speech in it stops, and no other client event
 * comes first; and audio committed — OpenAI: it "will trigger input audio transcription (if enabled in session
 * configuration)", billed at the transcription model's prices. A commit is refused whether or not transcription is on:
 * the gateway learns that only from the provider's `session.updated`, which a commit sent right after the client's
 * `session.update` can overtake. Not billable: `session.update`, `conversation.item.create`, `response.cancel`, and
 * the rest. Undefined for any other event; else the event, its type and the client's `event_id`, which its refusal
 * names.
 */
function billableEvent(event: Record<string, unknown> | undefined): Billable | undefined {
  if (event === undefined || typeof event.type !== 'string' || !BILLABLE.has(event.type)) return undefined;
  return { type: event.type, clientEventId: clientEventIdOf(event), event };
}

interface Billable { type: string; clientEventId: string | null; event: Record<string, unknown> }

/**
 * A client event the gateway reads: a billable one (billableEvent), and with `holds` (billing on) one adding to the
 * conversation (noteInput). Only a message holding such an event's name, or an escape that could spell it, is parsed;
 * undefined for any other.
 */
function clientEvent(data: Buffer, holds: boolean): Record<string, unknown> | typeof UNREADABLE | undefined {
  if (!data.includes(CREATE) && !data.includes(APPEND) && !data.includes(COMMIT) && !data.includes(BACKSLASH) && !(holds && (data.includes(ITEM_CREATE) || data.includes(SESSION_UPDATE)))) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(data.toString('utf8'));
  } catch {
    return UNREADABLE;
  }
  return isRecord(event) ? event : undefined;
}

/**
 * A message that may name billable work (clientEvent's filter) and is no JSON text: a byte order mark before it, a
 * parser's leniency (a trailing comma, a comment). Relayed, it would pass the credit check unread, and
 * whether the provider's parser reads it is not the gateway's to guess: with billing on it is refused instead.
 */
const UNREADABLE = Symbol('unreadable');

/** A client event's own `event_id`, which an `error` event answering it names; null when it gave none. */
function clientEventIdOf(event: Record<string, unknown>): string | null {
  return typeof event.event_id === 'string' ? event.event_id : null;
}

/**
 * The transcription model a client's `session.update` turns on (transcriptionOf), with the client's `event_id`;
 * undefined for any other event, or one that turns none on. Only a message naming a transcription, or holding an
 * escape that could spell one, is parsed.
 */
function transcriptionAsked(data: Buffer): { model: string; clientEventId: string | null } | undefined {
  if (!data.includes(TRANSCRIPTION) && !data.includes(BACKSLASH)) return undefined;
  const event = eventOf(data, 'session.update');
  if (!event) return undefined;
  const model = transcriptionOf(member(event, 'session'))?.model;
  return model !== undefined ? { model, clientEventId: clientEventIdOf(event) } : undefined;
}

/**
 * Whether a provider message is a `rate_limits.updated` event. Only a message holding the name as a JSON string of its
 * own is parsed: text quoting it (a transcript's delta) has its quotes escaped, and OpenAI writes its event types plain.
 */
function isRateLimitsEvent(data: Buffer): boolean {
  return data.includes(RATE_LIMITS) && eventOf(data, 'rate_limits.updated') !== undefined;
}

/** A message as the event of `type` it is; undefined when it is not JSON or another event. */
function eventOf(data: Buffer, type: string): Record<string, unknown> | undefined {
  let event: unknown;
  try {
    event = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  return isRecord(event) && event.type === type ? event : undefined;
}

/**
 * An `error` event of the managed key's with the operator's organization id and its use of a limit taken out of its
 * message ("Rate limit reached for … in organization org-…: Limit 1000, Used 1000, Requested 1. Please try again in
 * 1m26.4s."): the limit named and the wait stay. Undefined when there is nothing to take out.
 */
function withoutOperatorAccount(data: Buffer): Buffer | undefined {
  if (!data.includes(ORGANIZATION)) return undefined;
  const event = eventOf(data, 'error');
  const error = member(event, 'error');
  if (typeof error?.message !== 'string') return undefined;
  const message = error.message.replace(/ in organization org-[\w-]+/g, ' on the gateway\'s managed key').replace(/Limit [\d,.]+, Used [\d,.]+(, Requested [\d,.]+)?\. */g, '');
  return Buffer.from(JSON.stringify({ ...event, error: { ...error, message } }));
}

/** Whether a request's upgrade is one this gateway takes (node:http hands every other one to the request handler). */
export function isRealtimeUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket' || req.method !== 'GET') return false;
  return pathOf(req.url ?? '/') === REALTIME_PATH;
}

/**
 * The request target's path, as the HTTP routes match it (no dot segments resolved). Never throws: node:http calls
 * this before any handler, so an exception here (`GET //`, `GET http://[`) would be uncaught and stop the process.
 */
function pathOf(target: string): string | undefined {
  if (target.startsWith('/')) {
    const q = target.indexOf('?');
    return q < 0 ? target : target.slice(0, q);
  }
  return URL.parse(target)?.pathname;
}

/** The subprotocols the client offers (`Sec-WebSocket-Protocol`), the browser's only way to say anything more. */
function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  const offered = headers['sec-websocket-protocol'];
  return typeof offered === 'string' ? offered.split(',').map((p) => p.trim()) : [];
}

/** RFC 7230's token, the one shape a subprotocol may take (RFC 6455 §4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * What makes the upgrade one `ws` would refuse, if anything: said before admission, so a doomed handshake opens no
 * provider session, and its client reads OpenAI's error shape rather than `ws`'s plain-text 400. The same rules as
 * `ws` (RFC 6455 §4.1, versions 13 and 8), and HTTP/1.1, which the handshake requires and `ws` does not check.
 */
function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) return 'a WebSocket upgrade takes HTTP/1.1 (RFC 6455 §4.1).';
  // Its bytes would follow the 101 and be read as the client's first WebSocket frames (a protocol error, 1002).
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return 'a WebSocket upgrade is a GET without a body (RFC 6455 §4.1); send no "Content-Length" or "Transfer-Encoding".';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) return 'the "Sec-WebSocket-Key" header is missing or is not 16 bytes in base64 (RFC 6455 §4.1).';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'the "Sec-WebSocket-Version" header must be 13 (RFC 6455 §4.1).';
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    const protocols = offeredProtocols(req.headers);
    if (!protocols.every((p) => TOKEN.test(p)) || new Set(protocols).size !== protocols.length) {
      return 'the "Sec-WebSocket-Protocol" header must list subprotocols (tokens, such as "realtime") separated by commas, none empty or twice.';
    }
  }
  return undefined;
}

/** The access key: a header as on every gateway route, else the browser's subprotocol. */
function realtimeToken(headers: IncomingHttpHeaders): string | undefined {
  const token = accessToken(headers);
  if (token !== undefined) return token;
  for (const p of offeredProtocols(headers)) {
    if (p.startsWith(KEY_PROTOCOL) && p.length > KEY_PROTOCOL.length) return p.slice(KEY_PROTOCOL.length);
  }
  return undefined;
}

/** A provider's refusal of the handshake that no other credential would change (a 400: the request is wrong): passed on. */
class ProviderRefusal {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string | undefined;
  constructor(status: number, body: Buffer, contentType: string | undefined) {
    this.status = status;
    this.body = body;
    this.contentType = contentType;
  }
}

type Opened = { socket: WebSocket } | { status: number; body: Buffer; contentType: string | undefined } | { error: string };

/** Why a handshake's failure moves on to the next credential, as an HTTP attempt's does (attempt.ts failureOf). */
function failsOver(status: number): boolean {
  return status === 401 || status === 402 || status === 403 || status === 404 || status === 408 || status === 429 || (status >= 500 && status !== 508) || (status >= 300 && status < 400);
}

function validCloseCode(code: number): boolean {
  return (code >= 3000 && code <= 4999) || (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006);
}

function member(value: unknown, name: string): Record<string, unknown> | undefined {
  const v = isRecord(value) ? value[name] : undefined;
  return isRecord(v) ? v : undefined;
}

/**
 * A `response.done`'s usage as the gateway prices it: text, audio and image tokens each at their price (an iteration
 * each, cost.ts), whatever the totals hold beyond the parts counted as text.
 */
export function realtimeUsage(usage: Record<string, unknown> | undefined, price: PriceMicro | undefined): TokenUsage {
  const input = num(usage?.input_tokens);
  const output = num(usage?.output_tokens);
  const inDetails = member(usage, 'input_token_details');
  const outDetails = member(usage, 'output_token_details');
  const cachedDetails = member(inDetails, 'cached_tokens_details');
  const cached = Math.min(num(inDetails?.cached_tokens), input);
  const audioIn = Math.min(num(inDetails?.audio_tokens), input);
  const imageIn = Math.min(num(inDetails?.image_tokens), input - audioIn);
  const audioCached = Math.min(num(cachedDetails?.audio_tokens), audioIn, cached);
  const imageCached = Math.min(num(cachedDetails?.image_tokens), imageIn, cached - audioCached);
  const audioOut = Math.min(num(outDetails?.audio_tokens), output);
  // Cached tokens the breakdown does not place (`cached_tokens_details` is optional) are text's as far as text input
  // goes, then audio's, then image's: every cached token is priced as cached, none past the input it is part of
  // (cost.ts would price a text part's excess as nothing and leave the audio it came from at the uncached price).
  const textIn = input - audioIn - imageIn;
  let unplaced = cached - audioCached - imageCached;
  const textCached = Math.min(unplaced, textIn);
  unplaced -= textCached;
  const audioCachedAll = audioCached + Math.min(unplaced, audioIn - audioCached);
  unplaced -= audioCachedAll - audioCached;
  const imageCachedAll = imageCached + Math.min(unplaced, imageIn - imageCached);
  const audio: IterationUsage = { inputTokens: audioIn, outputTokens: audioOut, cacheReadTokens: audioCachedAll, cacheWriteTokens: 0, ...(price?.audio ? { price: price.audio } : {}) };
  const image: IterationUsage = { inputTokens: imageIn, outputTokens: 0, cacheReadTokens: imageCachedAll, cacheWriteTokens: 0, ...(price?.image ? { price: price.image } : {}) };
  const text: IterationUsage = { inputTokens: textIn, outputTokens: output - audioOut, cacheReadTokens: textCached, cacheWriteTokens: 0 };
  return { inputTokens: input, outputTokens: output, cacheReadTokens: cached, cacheWriteTokens: 0, reasoningTokens: 0, iterations: [text, audio, image] };
}

/**
 * A response the provider started (`response.created`) and has not reported done, and what of it was relayed; or a
 * client's create not yet answered. `hold`: the credit it holds until its usage is recorded (billing on).
 */
interface OpenResponse { eventId: string; startedAt: number; relayed?: RelayedOutput; hold?: Reservation }

/**
 * What the client was sent of a response's output, which estimates what the provider bills for a response the session
 * ended before it reported: its text as an HTTP stream's is kept (TEXT_ESTIMATE_CAP), and its audio's length.
 */
interface RelayedOutput extends Pick<StreamFacts, 'text' | 'textChars'> { audioSeconds: number }

/**
 * A client's `response.create` noted in the journal: the event id the provider sees (the client's, or the one the
 * gateway gave it, #ask), for the response it starts or its refusal.
 */
interface Ask { clientEventId: string | null; began: OpenResponse; sent: boolean }

/**
 * A committed audio item being transcribed: the model in force at the commit, its begun usage row, and (billing on)
 * the hold its buffer took, until its usage is recorded.
 */
interface Transcribing extends OpenResponse { model: string }

/**
 * The audio the client appended since the provider's last commit or clear (billing on), and what its transcription
 * holds while transcription is on: the most it can cost (transcriptionHold), from the first append on, grown with
 * each. `fixed`: the part of the hold no append adds to, which the buffer's own appends are not refused for.
 */
interface InputBuffer { bytes: number; hold: Reservation | undefined; fixed: bigint }

function emptyBuffer(): InputBuffer {
  return { bytes: 0, hold: undefined, fixed: 0n };
}

/**
 * A `response.created` no counted `response.create` asked for: the provider's own (server VAD), or the answer to a
 * create without an `event_id`, which took that create's hold (#checkUnasked).
 */
interface Unasked { responseId: string }

/**
 * `frame-too-long`: the provider's message was over MAX_MESSAGE_BYTES; `client-frame-too-long`: the client's.
 * `client-protocol-error`: `ws` refused any other frame of the client's (invalid UTF-8, a reserved opcode; brokenFrame);
 * `provider-protocol-error`: of the provider's (upstreamFault).
 * `client-unheld`, `provider-unheld`: that side's message still arriving could not be held (UnfinishedMessage);
 * `client-unheld` too: messages waiting for either side's reader could not be (QueuedMessages).
 */
type Ending = 'client-left' | 'upstream-closed' | 'idle' | 'duration' | 'shutdown' | 'frame-too-long' | 'client-frame-too-long' | 'client-protocol-error' | 'provider-protocol-error' | 'revoked' | 'client-unheld' | 'provider-unheld';

const OUTCOMES: Readonly<Record<Ending, RealtimeOutcome>> = {
  'client-left': 'client_closed', 'upstream-closed': 'provider_closed', idle: 'idle_limit', duration: 'duration_limit', shutdown: 'shutdown', 'frame-too-long': 'frame_too_long', revoked: 'key_revoked',
  'client-frame-too-long': 'client_frame_too_long', 'client-protocol-error': 'client_protocol_error', 'provider-protocol-error': 'provider_protocol_error',
  'client-unheld': 'gateway_busy', 'provider-unheld': 'gateway_busy',
};

/**
 * The close code the client gets when the gateway ends its session (CLOSE_POLICY when not named: a limit, a key; the
 * one `ws` gives a client frame that breaks the protocol: brokenFrame).
 */
const CLOSES: Readonly<Partial<Record<Ending, number>>> = {
  shutdown: CLOSE_RESTART, 'frame-too-long': CLOSE_UPSTREAM, 'provider-protocol-error': CLOSE_UPSTREAM, 'client-frame-too-long': CLOSE_TOO_BIG, 'client-unheld': CLOSE_BUSY, 'provider-unheld': CLOSE_BUSY,
};

/**
 * Sockets a session no longer reads, for good (#unheld): a relay's drain or a credit check's end (#release) resumes
 * a socket it paused, and `ws` would then take in the rest of the message that could not be held, counted nowhere,
 * until the closing handshake's limit (CLOSE_WAIT_MS) drops the socket — up to MAX_MESSAGE_BYTES a session.
 */
const unread = new WeakSet<WebSocket>();

/** Reading `socket` again, unless its session stopped reading it for good. */
function resumeReading(socket: WebSocket): void {
  if (!unread.has(socket)) socket.resume();
}

/** Why a message could not be held, as the session's end tells it: whose message, and which room was full. */
const UNHELD: Readonly<Record<HeldRoom, string>> = {
  gateway: 'it already holds as much of messages and answers still arriving as it holds at once.',
  account: "this account's messages and answers still arriving already hold as much as one account's may at once.",
};

/** Input audio transcription as a session turns it on: its model, and its prompt's bytes (a transcription reads it). */
interface TranscriptionSetting { model: string; promptBytes: number }

/** The one a client's `session.update` asks for, and that update's `event_id`, which the provider's refusal names. */
interface AskedTranscription extends TranscriptionSetting { eventId: string | null }

/**
 * The input audio transcription a session's configuration turns on, as the provider reports it (`session.created`,
 * `session.updated`) or a client's `session.update` asks: GA's `audio.input.transcription`, the beta's
 * `input_audio_transcription`. Null when it turns transcription off; undefined when the session object says neither
 * (the last one stands).
 */
export function transcriptionOf(session: Record<string, unknown> | undefined): TranscriptionSetting | null | undefined {
  const input = member(member(session, 'audio'), 'input');
  let config: unknown;
  if (input !== undefined && 'transcription' in input) config = input.transcription;
  else if (session !== undefined && 'input_audio_transcription' in session) config = session.input_audio_transcription;
  else return undefined;
  if (!isRecord(config) || typeof config.model !== 'string' || config.model === '') return null;
  return { model: config.model, promptBytes: typeof config.prompt === 'string' ? Buffer.byteLength(config.prompt) : 0 };
}

/**
 * Bytes a second of the output (or input) audio format a session object names (GA's `audio.output.format`, the beta's
 * `output_audio_format`; `audio.input.format`, `input_audio_format`): PCM 16-bit mono at its rate (24 kHz unless said),
 * G.711 a byte a sample at 8 kHz. Null for a format it does not know (its audio is not estimated); undefined when the
 * object names none (the last one stands).
 */
export function audioByteRate(session: Record<string, unknown> | undefined, direction: 'input' | 'output' = 'output'): number | null | undefined {
  const side = member(member(session, 'audio'), direction);
  const format = side !== undefined && 'format' in side ? side.format : session?.[`${direction}_audio_format`];
  if (format === undefined) return undefined;
  const type = isRecord(format) ? format.type : format;
  if (type === 'audio/pcm' || type === 'pcm16') {
    const rate = isRecord(format) ? format.rate : undefined;
    return 2 * (typeof rate === 'number' && Number.isInteger(rate) && rate > 0 ? rate : 24_000);
  }
  return type === 'audio/pcmu' || type === 'audio/pcma' || type === 'g711_ulaw' || type === 'g711_alaw' ? 8000 : null;
}

/**
 * A response's output estimated from what was relayed of it, as a `response.done`'s usage: `textTokens` (counted
 * from its text) and its audio at OpenAI's rate, a started 50 ms counted whole (the sum of the deltas' lengths is
 * floating: a millionth of a token of slack). Undefined when nothing was relayed.
 */
function relayedUsage(relayed: RelayedOutput | undefined, textTokens: number): Record<string, unknown> | undefined {
  const audio = Math.max(0, Math.ceil((relayed?.audioSeconds ?? 0) * AUDIO_OUTPUT_TOKENS_PER_SECOND - 1e-6));
  if (audio + textTokens === 0) return undefined;
  return { output_tokens: textTokens + audio, output_token_details: { text_tokens: textTokens, audio_tokens: audio } };
}

/**
 * The session's input as the gateway knows it, which each response's hold counts: the provider sends the whole
 * conversation with every response and bills it as input, and holds it itself, so the gateway counts what it sees
 * join it — the client's items and audio, the session's instructions and tools, each response's output — and raises
 * that to the provider's own count of what a response read, at each `response.done`.
 */
interface Conversation {
  /** Text tokens in it (the tokenizer's count of what the client added; the responses' reported text output). */
  textTokens: number;
  /** Audio tokens in it: the client's audio at 10 tokens a second of it, the responses' reported audio output. */
  audioTokens: number;
  /** The session's instructions and tools: the largest `session.update` counted (a partial one keeps the rest). */
  instructionsTokens: number;
  /** Text handed to the tokenizer whose count has not come back: held as a token a byte meanwhile, never fewer. */
  countingBytes: number;
}

/** A client event's content as a hold counts it: its text (as JSON, base64 audio taken out) and its audio's bytes. */
function contentOf(value: unknown): { text: string; audioBytes: number } {
  let audioBytes = 0;
  const text = JSON.stringify(value, (key, v: unknown) => {
    if (key !== 'audio' || typeof v !== 'string') return v;
    audioBytes += Buffer.byteLength(v, 'base64');
    return undefined;
  }) ?? '';
  return { text, audioBytes };
}

/** The members of `parts` that are set; undefined when none is (nothing to count, not even `{}`). */
function defined(parts: Record<string, unknown>): Record<string, unknown> | undefined {
  const set = Object.entries(parts).filter(([, v]) => v !== undefined);
  return set.length > 0 ? Object.fromEntries(set) : undefined;
}

/** Audio tokens of `bytes` of the session's input audio. */
function inputAudioTokens(s: Session, bytes: number): number {
  return (bytes / s.inputAudioBytesPerSecond) * AUDIO_INPUT_TOKENS_PER_SECOND;
}

/** `text` counted on the tokenizer thread (the first 64 KiB, scaled, as an HTTP stream's text is) into the conversation. */
function countInto(s: Session, text: string, apply: (tokens: number) => void): void {
  if (text === '') return;
  const bytes = Buffer.byteLength(text);
  // One piece is kept whole by appendText: cut here, so a large item costs the shared tokenizer thread 64 KiB, scaled.
  const facts = { text: text.length > TEXT_ESTIMATE_CAP ? text.slice(0, TEXT_ESTIMATE_CAP) : text, textChars: text.length };
  s.conversation.countingBytes += bytes;
  void outputEstimate(facts).then((tokens) => {
    s.conversation.countingBytes -= bytes;
    apply(tokens);
  });
}

/** A client event relayed (billing on): what it adds to the conversation, for later responses' holds. */
function noteInput(s: Session, event: Record<string, unknown>): void {
  const c = s.conversation;
  if (event.type === 'input_audio_buffer.append') {
    c.audioTokens += inputAudioTokens(s, contentOf({ audio: event.audio }).audioBytes);
  } else if (event.type === 'conversation.item.create') {
    const { text, audioBytes } = contentOf(event.item);
    c.audioTokens += inputAudioTokens(s, audioBytes);
    countInto(s, text, (tokens) => { c.textTokens += tokens; });
  } else if (event.type === 'session.update') {
    const session = member(event, 'session');
    countInto(s, contentOf(defined({ instructions: session?.instructions, tools: session?.tools })).text, (tokens) => { c.instructionsTokens = Math.max(c.instructionsTokens, tokens); });
    const transcription = transcriptionOf(session);
    if (transcription !== undefined) s.askedTranscription = transcription === null ? undefined : { ...transcription, eventId: clientEventIdOf(event) };
  }
}

/**
 * The provider refused the `session.update` asking for the transcription the buffer is held at: the session has what
 * it had, and the buffer's hold is brought back to that (nothing when transcription is off), as if never asked.
 */
function askRefused(s: Session): void {
  s.askedTranscription = undefined;
  const { buffer } = s;
  const hold = buffer.hold;
  if (hold === undefined) return;
  const bound = bufferHold(s, buffer.bytes);
  if (bound === undefined) {
    s.deps.ledger?.release(hold);
    s.buffer = { bytes: buffer.bytes, hold: undefined, fixed: 0n };
    return;
  }
  s.deps.ledger?.reduce(hold, hold.pico - bound.total);
  buffer.fixed = bound.fixed;
}

/**
 * What of the account's holds a billable client event is not refused for: its input audio buffer's own — for an
 * append, the part no append adds to (its audio is checked on the rest of the balance, so no buffer's audio runs past
 * it); for a commit, which adds nothing, all of it.
 */
function bufferAllowance(s: Session, type: string): bigint {
  const hold = s.buffer.hold;
  if (hold === undefined || !hold.open) return 0n;
  if (type === 'input_audio_buffer.append') return s.buffer.fixed;
  return type === 'input_audio_buffer.commit' ? hold.pico : 0n;
}

/**
 * Audio appended, or a commit, admitted (billing on): while transcription may be on, the buffer holds the most its
 * transcription can cost (bufferHold) — taken at its first append, or at a commit of a buffer nothing held, as a
 * `response.create`'s is (refused when other holds cover the balance); grown by each later append to the bound of all
 * the buffer's audio. Throws the credit refusal.
 */
function holdBuffer(s: Session, ledger: NonNullable<GatewayDeps['ledger']>, event: Record<string, unknown>): void {
  const buffer = s.buffer;
  const bytes = buffer.bytes + (event.type === 'input_audio_buffer.append' ? contentOf({ audio: event.audio }).audioBytes : 0);
  const bound = bufferHold(s, bytes);
  if (bound !== undefined) {
    if (buffer.hold === undefined) buffer.hold = holdCredit(creditCheck(s), ledger, bound.total);
    else ledger.enlarge(buffer.hold, bound.total - buffer.hold.pico);
    if (bound.fixed > buffer.fixed) buffer.fixed = bound.fixed;
  }
  buffer.bytes = bytes;
}

/**
 * The hold of a transcription the provider started on audio its buffer held nothing for — appended while
 * transcription was off, or on its way as the provider committed the audio before it: it cannot be refused, so it
 * holds its bound if credit is left, and nothing when none is.
 */
function lateHold(s: Session, setting: TranscriptionSetting, audioBytes: number): Reservation | undefined {
  return s.deps.ledger?.reserve(s.key!.accountId, transcriptionHold(s, setting, audioBytes).total);
}

/**
 * `data` given an `event_id` of the session's own (`kind` after its prefix), and that id, when its `event` names none
 * — absent, or null — for the provider's refusal of it to name; undefined otherwise. A null member is replaced where
 * it stands (eventIdReplaced): a second member would leave the provider to pick one. An `event_id` of another type is
 * left as the client sent it, for the same reason.
 */
function ownNamed(s: Session, data: Buffer, event: Record<string, unknown>, kind: string): [Buffer, string] | undefined {
  if ('event_id' in event && event.event_id !== null) return undefined;
  const eventId = `${s.ownEvent}${kind}${++s.ownNamed}`;
  const named = 'event_id' in event ? eventIdReplaced(data, event, eventId) : withEventId(data, eventId);
  return named === undefined ? undefined : [named, eventId];
}

/**
 * `data` (a JSON object, as parsed) with `eventId` as its `event_id`, every other member as the client wrote it
 * (body-edit.ts, as an HTTP body's edits): written again from the event as parsed, a number past 2^53 (an id in
 * `metadata`) or past a double's range would reach the provider changed. Of duplicate members the last is the one
 * parsed and the only one written: the provider reads the gateway's.
 */
function eventIdReplaced(data: Buffer, event: Record<string, unknown>, eventId: string): Buffer {
  return Buffer.from(editedBodyText(data.toString('utf8'), event, { ...event, event_id: eventId }));
}

/**
 * `data` (a JSON object, as parsed) with an `event_id` member first; undefined when its text does not open with the
 * object (no JSON text the gateway parsed as one does not).
 */
function withEventId(data: Buffer, eventId: string): Buffer | undefined {
  let at = 0;
  while (at < data.length && (data[at] === 0x20 || data[at] === 0x09 || data[at] === 0x0a || data[at] === 0x0d)) at++;
  if (data[at] !== 0x7b) return undefined;
  // The object has its `type` at least: a comma after the new member is always followed by another.
  return Buffer.concat([data.subarray(0, at + 1), Buffer.from(`"event_id":${JSON.stringify(eventId)},`), data.subarray(at + 1)]);
}

/**
 * A response's reported usage: its output joins the conversation (later responses read it), and what it read, as the
 * provider counted it, raises the gateway's figure (the provider holds what the gateway never saw: its own default
 * instructions, items of an earlier connection's conversation).
 */
function noteResponse(s: Session, usage: Record<string, unknown> | undefined): void {
  const c = s.conversation;
  const input = num(usage?.input_tokens);
  const output = num(usage?.output_tokens);
  const audioIn = Math.min(num(member(usage, 'input_token_details')?.audio_tokens), input);
  const audioOut = Math.min(num(member(usage, 'output_token_details')?.audio_tokens), output);
  c.audioTokens = Math.max(c.audioTokens + audioOut, audioIn + audioOut);
  c.textTokens = Math.max(c.textTokens + output - audioOut, input - audioIn - c.instructionsTokens + output - audioOut);
}

/**
 * A session's or a response's output limit (GA `max_output_tokens`, beta `max_response_output_tokens`) as OpenAI takes
 * it: a positive integer, or "inf" (Infinity); undefined when unsaid, or anything else.
 */
function outputLimitIn(config: Record<string, unknown> | undefined): number | undefined {
  const value = config?.max_output_tokens ?? config?.max_response_output_tokens;
  if (value === 'inf') return Infinity;
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

/** Whether a session or a response's output may be audio (GA `output_modalities`, beta `modalities`); undefined: unsaid. */
function speaksIn(config: Record<string, unknown> | undefined): boolean | undefined {
  const modalities = config?.output_modalities ?? config?.modalities;
  return Array.isArray(modalities) ? modalities.includes('audio') : undefined;
}

/**
 * The most a response can cost, held from its admission until its usage is recorded (docs/decisions/usage-durability.md,
 * "Overshoot bound"): the session's input as known (Conversation) and `create`'s own (its instructions, tools and input
 * items, a token a byte: it is held before the tokenizer could count it), no more than the model's context window, at
 * the input prices (audio at the audio one); and its output limit — the create's, else the session's, within the
 * model's maximum, else 16,384 as an HTTP request's — at the output price, the audio one when it may speak; and the
 * processing fee on all of it. Model prices on the managed key only, as an HTTP hold (cost.ts reservationPico).
 */
function responseHold(s: Session, create: Record<string, unknown> | undefined): bigint {
  const plan = s.plan!;
  const model = plan.candidate.catalogModel;
  const c = s.conversation;
  const own = contentOf(create === undefined ? undefined : defined({ instructions: create.instructions, tools: create.tools, input: create.input }));
  let audio = Math.ceil(c.audioTokens + inputAudioTokens(s, own.audioBytes) - 1e-6);
  let text = c.textTokens + c.instructionsTokens + c.countingBytes + Buffer.byteLength(own.text);
  // The provider truncates a conversation past the context window: no response reads more (audio is the dearer).
  if (model?.contextWindow) {
    audio = Math.min(audio, model.contextWindow);
    text = Math.min(text, model.contextWindow - audio);
  }
  const limit = outputLimitIn(create) ?? s.outputLimit ?? Infinity;
  const maximum = model?.maxOutputTokens ? model.maxOutputTokens : Infinity;
  const most = Math.min(limit, maximum);
  const output = most === Infinity ? UNBOUNDED_OUTPUT_TOKENS : most;
  const audioPrice = model?.priceMicro?.audio;
  const speaks = speaksIn(create) ?? s.outputAudio;
  const outputAsAudio = speaks && (audioPrice?.output ?? 0n) > (model?.priceMicro?.output ?? 0n);
  const fee = s.deps.options.processingFeeMicroUsdPerMtok;
  const now = Date.now();
  return reservationPico(text, outputAsAudio ? 0 : output, plan, fee, 0, now, now) + reservationPico(audio, outputAsAudio ? output : 0, audioPriced(plan), fee, 0, now, now);
}

/** `plan` priced at its model's audio prices (`CatalogPricing.audio`), as cost.ts prices an audio iteration; else as it is. */
function audioPriced(plan: AttemptPlan): AttemptPlan {
  const model = plan.candidate.catalogModel;
  const audio = model?.priceMicro?.audio;
  return model && audio ? { ...plan, candidate: { ...plan.candidate, catalogModel: { ...model, priceMicro: audio } } } : plan;
}

/** The session's credential serving a transcription by `model`, priced as the catalog prices it (unpriced when unknown). */
function transcriptionPlan(s: Session, model: string): AttemptPlan {
  const plan = s.plan!;
  const served = plan.candidate;
  const catalogModel: CatalogModel | undefined = s.deps.catalog.model(served.provider.id, model);
  return { ...plan, candidate: { ...served, modelId: model, displayName: catalogModel?.displayName ?? model, catalogModel } };
}

/**
 * The most a transcription by `setting` of `audioBytes` of the session's input audio can cost, as the provider bills
 * it (#recordTranscription): by the audio's length at a per-minute price — no tokens, no fee — or by tokens: the
 * audio at OpenAI's 10 tokens a second of user audio at the audio input price, the prompt a token a byte at the text
 * input price, and the model's output limit (else 16,384, as an HTTP request's) at the output price, with the fee on
 * those tokens. The audio's part is priced on the whole buffer's length, never summed from rounded appends. `fixed`:
 * the part the audio does not change (the prompt and the output), which a buffer holds from its first append. Model
 * prices on the managed key only, as every hold (cost.ts reservationPico).
 */
function transcriptionHold(s: Session, setting: TranscriptionSetting, audioBytes: number): { fixed: bigint; total: bigint } {
  const plan = transcriptionPlan(s, setting.model);
  const model = plan.candidate.catalogModel;
  const seconds = audioBytes / s.inputAudioBytesPerSecond;
  const perMinute = model?.priceMicro?.audioMinutePico;
  if (perMinute !== undefined) {
    if (plan.keySource !== 'ngrok') return { fixed: 0n, total: 0n };
    return { fixed: 0n, total: audioDurationPico(seconds * 1000, perMinute) };
  }
  const fee = s.deps.options.processingFeeMicroUsdPerMtok;
  const now = Date.now();
  const output = model?.maxOutputTokens ? model.maxOutputTokens : UNBOUNDED_OUTPUT_TOKENS;
  const fixed = reservationPico(setting.promptBytes, output, plan, fee, 0, now, now);
  const audio = Math.max(0, Math.ceil(seconds * AUDIO_INPUT_TOKENS_PER_SECOND - 1e-6));
  return { fixed, total: fixed + reservationPico(audio, 0, audioPriced(plan), fee, 0, now, now) };
}

/**
 * The hold of a transcription of `audioBytes` of the buffer by whichever model may transcribe it — the one the provider
 * last reported, or the one the client's `session.update` relayed since asks — the dearer; undefined when
 * transcription is off.
 */
function bufferHold(s: Session, audioBytes: number): { fixed: bigint; total: bigint } | undefined {
  let most: { fixed: bigint; total: bigint } | undefined;
  for (const setting of [s.transcription, s.askedTranscription]) {
    if (setting === undefined) continue;
    const hold = transcriptionHold(s, setting, audioBytes);
    if (most === undefined || hold.total > most.total) most = hold;
  }
  return most;
}

/**
 * A transcription's usage as the gateway prices it: `tokens` as a response's (text and audio input apart), `duration`
 * as the audio's length, in milliseconds as reported (not rounded to the millisecond: cost.ts prices it to the
 * microsecond).
 */
export function transcriptionUsage(usage: Record<string, unknown> | undefined, price: PriceMicro | undefined): TokenUsage {
  if (usage?.type !== 'duration') return realtimeUsage(usage, price);
  const seconds = typeof usage.seconds === 'number' && Number.isFinite(usage.seconds) && usage.seconds > 0 ? usage.seconds : 0;
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioDurationMs: seconds * 1000 };
}

/** One realtime session, from its upgrade request to its last usage event. */
class Session implements Admission, RealtimeObservation {
  readonly deps: GatewayDeps;
  readonly req: IncomingMessage;
  readonly requestId = newId('request');
  readonly startedAt = performance.now();
  upgradedAt = 0;
  endedAt = 0;
  askedModel: string | undefined;
  /** Every provider handshake, the one that opened the session last. */
  readonly handshakes: RealtimeHandshake[] = [];
  /** 101 once upgraded, else the refusal's status (0: the client left before any answer). */
  status = 0;
  outcome: RealtimeOutcome | undefined;
  refusal: string | undefined;
  errorCode: string | undefined;
  /** Its responses' usage events (responses counted; transcriptions' tokens and cost summed too), for the access line and the span. */
  responses = 0;
  inputTokens = 0;
  outputTokens = 0;
  cacheReadTokens = 0;
  costPico = 0n;
  /** Some of them were billed on the gateway's estimate (a response the provider never reported). */
  usageEstimated = false;
  key?: AuthenticatedKey;
  account?: AccountSnapshot;
  configuration?: ConfigurationState | null;
  /** The credential that serves it, and its attempt number among those tried. */
  plan: AttemptPlan | undefined;
  attemptNumber = 0;
  client: WebSocket | undefined;
  upstream: WebSocket | undefined;
  /** The provider's socket whose handshake is under way, for a shutdown to abort. */
  dialing: WebSocket | undefined;
  /**
   * The provider's messages that came before the client's socket was ready, relayed once it is. Not counted in the
   * held answers: the client's socket is attached in the same turn of the event loop as the provider's handshake
   * completes (promise steps and ws's synchronous handleUpgrade, no I/O between), so they are at most what came in the
   * socket read that carried the provider's 101 — 64 KiB, what a message still arriving never counts either.
   */
  early: [Buffer, boolean][] = [];
  readonly open = new Map<string, OpenResponse>();
  /**
   * Audio items committed while transcription is on whose transcription has not reported yet: item id → the
   * transcription model in force at the commit (the one that transcribes it whatever the session says by then) and
   * its journaled begin.
   */
  readonly transcribing = new Map<string, Transcribing>();
  /** The client's upgrade request went away before the session started. */
  clientGone = false;
  /** Set once the session holds a slot of its account's. */
  slot: string | undefined;
  ending: Ending | undefined;
  finished = false;
  lastFrameAt = performance.now();
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  durationTimer: ReturnType<typeof setTimeout> | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Client messages waiting, in order, behind a credit check that waits for a balance read (#fromClient). */
  held: [Buffer, boolean][] | undefined;
  /** Audio was refused for credit and nothing billable passed since: the next refused append is not told again. */
  audioRefused = false;
  /**
   * The `event_id`s of the client's `response.create`s relayed whose `response.created` has not come: a
   * `response.created` beyond them is checked as one the provider started by itself (server VAD). A create without an
   * `event_id` is among them by the one the gateway gave it (#ask); one whose `event_id` is not a string is not: the
   * provider's refusal of it could name nothing, and its ask, left behind, would pass a later unpaid response for the
   * client's. Its own response takes its hold instead, as the oldest sent ask.
   */
  readonly requested: string[] = [];
  /**
   * The client's `response.create`s, oldest first, each with its begun usage row: noted before the create is relayed
   * (`sent` once it is), as an HTTP attempt is before it leaves, and taken by the next `response.created`. A gateway
   * that dies before the provider's `response.created` still leaves the response's event.
   */
  readonly asks: Ask[] = [];
  /** A create's begin under way: the client's messages wait behind it, in order (#release). */
  noting = false;
  /**
   * What starts the `event_id` of each `response.cancel` the gateway sends of its own, unguessable (no client event
   * is taken for one): the provider's `error` naming one answers the gateway, not the client. Nothing is kept per
   * cancel: the answer may come at any time — a response that ends before the cancel reaches the provider reports
   * `response.done` and then the cancel's `error`, and one the cancel stops reports only `response.done`, so no
   * `response.done` tells whether an answer is still to come — and a long session may cancel many responses.
   */
  readonly ownEvent = `${OWN_EVENT}${randomBytes(12).toString('base64url')}_`;
  ownCancels = 0;
  /** The `event_id`s given to the client's events that had none: the session's own prefix, OWN_CREATE or OWN_UPDATE, a count. */
  ownNamed = 0;
  trace: RequestTrace | undefined;
  /** How long the session may run: the operator's limit, or less when a Playground token that expires sooner opened it. */
  durationLimitMs = 0;
  /**
   * Why its access key no longer allows it (the refusal a new upgrade would get), or its provider key is retired;
   * told when it is ended for that.
   */
  revokedBy: TollgateError | undefined;
  /** The input audio transcription the provider last reported for the session (undefined: transcription off). */
  transcription: TranscriptionSetting | undefined;
  /**
   * The transcription the client's last `session.update` relayed turns on (billing on), until the provider reports it:
   * a commit sent right behind the update is transcribed by it, before its `session.updated` could say so.
   */
  askedTranscription: AskedTranscription | undefined;
  /** The provider's input audio buffer as the gateway knows it (billing on): what its transcription holds. */
  buffer: InputBuffer = emptyBuffer();
  /** Bytes a second of its output audio (audioByteRate), as the provider last reported; undefined: not known. */
  outputAudioBytesPerSecond: number | undefined = DEFAULT_AUDIO_BYTES_PER_SECOND;
  /** Its input audio's, as the provider last reported (a format not known is held as the slowest the gateway knows). */
  inputAudioBytesPerSecond: number = DEFAULT_AUDIO_BYTES_PER_SECOND;
  /** What a response's hold counts the session's input at (billing on; see Conversation). */
  readonly conversation: Conversation = { textTokens: 0, audioTokens: 0, instructionsTokens: 0, countingBytes: 0 };
  /** The provider's `max_output_tokens` for the session (the beta's `max_response_output_tokens`); undefined: none. */
  outputLimit: number | undefined;
  /** Whether its responses may speak (`output_modalities`, the beta's `modalities`): audio output is dearer. */
  outputAudio = true;
  /** The room of the process's held answers that had none left for a message still arriving (UnfinishedMessage). */
  unheldRoom: HeldRoom | undefined;
  /** What could not be held in it, as the client is told; a message still arriving of the side whose `Ending` it is when unset. */
  unheldWhat: string | undefined;
  /**
   * The frame `ws` refused that ended the session (`client-protocol-error`, `provider-protocol-error`): why, and ws's
   * close code for it (the client's is closed with it).
   */
  brokenFrame: { reason: string; closeCode: number } | undefined;
  /**
   * The provider's frame `ws` refused (upstreamFault): what it ends the session as. Kept for a frame that came with the
   * provider's 101, before the client's socket was attached: the session ends for it as it starts (#start).
   */
  upstreamFault: UpstreamFault | undefined;
  /** Messages relayed waiting for the client's reader, and for the provider's, as the held answers count them. */
  toClient: QueuedMessages | undefined;
  toProvider: QueuedMessages | undefined;

  constructor(deps: GatewayDeps, req: IncomingMessage) {
    this.deps = deps;
    this.req = req;
  }
}

export class RealtimeGateway {
  readonly #deps: GatewayDeps;
  readonly #limits: RealtimeLimits;
  readonly #server: WebSocketServer;
  readonly #sessions = new Set<Session>();
  readonly #perAccount = new Map<string, number>();
  /** Request ids and models of upgrades being completed, for the 101's headers. */
  readonly #answering = new WeakMap<IncomingMessage, Session>();
  #stopping = false;
  /** The shutdown deadline passed: a session whose admission was still under way is ended as it starts. */
  #cut = false;
  #idle: (() => void)[] = [];

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
    this.#limits = deps.options.realtime ?? DEFAULT_REALTIME_LIMITS;
    // The `realtime` subprotocol is answered when offered (a browser offering its key that way requires it); the
    // key's own subprotocol never is. No permessage-deflate, here or to the provider: UnfinishedMessage counts a message's
    // bytes as its socket reads them, which holds only while ws handles each read at once (inflating, it would not).
    this.#server = new WebSocketServer({
      noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(REALTIME_PROTOCOL) ? REALTIME_PROTOCOL : false),
    });
    this.#server.on('headers', (headers: string[], req: IncomingMessage) => {
      const session = this.#answering.get(req);
      if (!session) return;
      // As on every gateway answer: the id under the name the OpenAI SDK and most HTTP tooling read too.
      headers.push(`${H_REQUEST_ID}: ${session.requestId}`, `x-request-id: ${session.requestId}`);
      if (session.plan) headers.push(`${H_MODEL}: ${headerText(session.plan.candidate.modelId)}`);
    });
    deps.state.onAccessKeyChange?.((accessKeyId) => this.#keyChanged(accessKeyId));
    deps.state.onReload?.((_before, now) => this.#accountReloaded(now));
  }

  /** node:http's `upgrade` for GET /v1/realtime. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const session = new Session(this.#deps, req);
    this.#sessions.add(session);
    socket.on('error', ignore);
    const malformed = handshakeProblem(req);
    if (malformed) {
      this.#refuse(session, socket, tollgateError('invalidRequest', { reason: malformed }));
      this.#finish(session);
      return;
    }
    const gone = () => { session.clientGone = true; };
    socket.once('close', gone);
    this.#admit(session, req).then((upstream) => {
      socket.off('close', gone);
      if (session.clientGone || socket.destroyed) {
        session.refusal = 'client_gone';
        upstream.terminate();
        this.#finish(session);
        return;
      }
      this.#answering.set(req, session);
      // Synchronous without verifyClient: no client by its return means ws refused the handshake (a 400 of its own).
      this.#server.handleUpgrade(req, socket, head, (client) => this.#start(session, client, socket));
      if (!session.client) {
        session.status = 400;
        session.refusal = 'handshake_invalid';
        upstream.terminate();
        this.#finish(session);
      }
    }, (error: unknown) => {
      socket.off('close', gone);
      this.#refuse(session, socket, error);
      this.#finish(session);
    });
  }

  /** The gateway is stopping: upgrades from now on are refused (503), sessions open run until cutShort(). */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /** The shutdown grace period is over: every session is told, its open responses cancelled and metered, and closed. */
  cutShort(): void {
    this.#cut = true;
    // A handshake still under way would hold the shutdown for as long as the provider takes (up to the per-request
    // timeout): it is dropped, and its client refused as every upgrade after the stop is.
    for (const session of this.#sessions) if (session.client) this.#end(session, 'shutdown');
    else session.dialing?.terminate();
  }

  /** Resolves once every session (and every upgrade being admitted) has ended and recorded its usage. */
  idle(): Promise<void> {
    return this.#sessions.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  async #admit(s: Session, req: IncomingMessage): Promise<WebSocket> {
    const { deps } = s;
    const models = new URL(req.url ?? '/', 'http://gateway').searchParams.getAll('model');
    s.askedModel = models[0];
    if (this.#stopping) throw tollgateError('gatewayStopping');
    let found = authenticateToken(deps.state, realtimeToken(req.headers), req.headers.authorization !== undefined);
    if (found instanceof Promise) found = await found;
    if (found instanceof TollgateError) throw found;
    await keyStage(s, found);
    refuseUnscreenedSession(s.account!, s.configuration);
    refuseRoutingLoop(req.headers, deps.options.loopId);
    const admitted = admitCredit(s);
    if (admitted) await admitted;
    const attempts = this.#plan(s, this.#candidates(s, models));
    const accountId = found.accountId;
    const open = this.#perAccount.get(accountId) ?? 0;
    if (open >= this.#limits.maxSessions) throw tollgateError('realtimeSessionsLimitExceeded', { limit: String(this.#limits.maxSessions) });
    this.#perAccount.set(accountId, open + 1);
    s.slot = accountId;
    return this.#connect(s, attempts, req.headers);
  }

  #candidates(s: Session, models: string[]): Candidate[] {
    // Which one the client meant is not the gateway's to guess; the provider would be sent one of them.
    if (models.length > 1) throw tollgateError('invalidRequest', { reason: 'the "model" query parameter is given more than once; name one model.' });
    const model = models[0];
    if (!model) throw tollgateError('invalidRequest', { reason: 'name a model in the "model" query parameter, as /v1/realtime?model=gpt-realtime.' });
    const candidates = resolveCandidates({ model, models: undefined, format: 'openai', surface: 'realtime' }, s.deps.catalog, s.account!);
    const access = s.configuration?.access ?? null;
    const { allowed, rejected } = applyScope(candidates, access);
    if (allowed.length === 0) throw scopeError(rejected, access, s.configuration?.id);
    return allowed;
  }

  #plan(s: Session, allowed: readonly Candidate[]): AttemptPlan[] {
    const attempts: AttemptPlan[] = [];
    let problem: TollgateError | undefined;
    for (const candidate of allowed) {
      const plan = planAttempts(candidate, s.configuration ?? null, s.account!, s.deps.options.managedKeys);
      attempts.push(...plan.attempts);
      problem ??= plan.problem;
    }
    if (attempts.length === 0) throw problem ?? tollgateError('noProviderKeys', { provider: allowed[0]!.provider.id });
    return attempts;
  }

  /** The provider's WebSocket, through the first credential whose handshake succeeds. */
  async #connect(s: Session, attempts: readonly AttemptPlan[], clientHeaders: IncomingHttpHeaders): Promise<WebSocket> {
    const failures: string[] = [];
    let rateLimited = 0;
    for (let i = 0; i < attempts.length; i++) {
      const plan = attempts[i]!;
      if (s.clientGone) throw tollgateError('requestCanceled');
      if (this.#cut) throw tollgateError('gatewayStopping');
      const startedAt = performance.now();
      // Set before the handshake: the provider's first messages may come in the chunk that opens it, and are metered.
      s.plan = plan;
      s.attemptNumber = i + 1;
      // Tracing on: the handshake's span starts here and its trace headers go upstream, as an HTTP attempt's.
      const trace = s.deps.observer?.tracer?.startRealtimeHandshake(s, plan, i + 1, startedAt);
      const unfinished = new UnfinishedMessage(PROCESS_HELD_ANSWERS, s.key!.accountId, (room) => this.#unheld(s, 'provider-unheld', room));
      const opened = await openUpstream(upstreamUrl(plan.candidate), upstreamHeaders(plan, clientHeaders, s.deps.options.loopId, trace), s.account!.settings.perRequestTimeoutMs, {
        onMessage: (data, isBinary) => this.#fromUpstream(s, data as Buffer, isBinary), onError: (error) => this.#upstreamError(s, error),
        dialing: (socket) => { s.dialing = socket; },
      }, unfinished);
      s.dialing = undefined;
      if ('socket' in opened) {
        s.upstream = opened.socket;
        // In use from now on (an HTTP attempt's key is marked as its answer is metered): a session of an hour, or one
        // whose gateway dies, must not leave the keys looking unused all along. Marked again when it ends.
        s.deps.state.markUsed(s.key!.id, plan.providerKey?.id);
        // Its duration runs until the session ends (#finish), as a served HTTP attempt's covers its stream.
        s.handshakes.push({ plan, status: 101, retryAction: 'succeeded', startedAt, durationMs: 0 });
        return opened.socket;
      }
      s.plan = undefined;
      const status = 'status' in opened ? opened.status : 0;
      const passed = status !== 0 && !failsOver(status);
      // The shutdown dropped this handshake (cutShort): no credential is tried after it.
      const cut = this.#cut;
      const last = passed || cut || i === attempts.length - 1;
      const retryAction: RetryAction = passed ? 'fail_fast' : last ? 'exhausted' : 'next_key';
      const durationMs = performance.now() - startedAt;
      s.handshakes.push({ plan, status, retryAction, startedAt, durationMs });
      this.#recordHandshake(s, plan, i + 1, status, durationMs, retryAction, last);
      if (cut) throw tollgateError('gatewayStopping');
      if (passed) throw new ProviderRefusal(status, (opened as { body: Buffer }).body, (opened as { contentType: string | undefined }).contentType);
      if (status === 429) rateLimited++;
      const key = plan.keySource === 'ngrok' ? 'managed key' : plan.providerKey ? `key ${plan.providerKey.id}` : 'no key';
      failures.push(`${plan.candidate.provider.id}:${plan.candidate.modelId} (${key}): ${status ? `HTTP ${status}` : 'connection failed'}`);
    }
    if (rateLimited === attempts.length) throw tollgateError('upstreamRateLimited', { reason: 'every credential was rate limited.' });
    throw tollgateError('allProvidersFailed', { errors: failures.join('; ') });
  }

  #start(s: Session, client: WebSocket, socket: Duplex): void {
    s.client = client;
    s.upgradedAt = performance.now();
    s.status = 101;
    s.deps.observer?.realtimeOpened(s);
    const upstream = s.upstream!;
    s.lastFrameAt = performance.now();
    // Listening after `ws` (attached as it took the socket, just before this): its message events come first.
    const accountId = s.key!.accountId;
    const unfinished = new UnfinishedMessage(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room));
    socket.on('data', (chunk: Buffer) => unfinished.read(chunk.length));
    // Messages waiting for either reader that cannot be held end the session as the client's message still arriving
    // does: the client is no longer read and the provider is, for the response.done of each open response cancelled.
    // Reading the provider on holds nothing more when it is the client that is slow: nothing goes to a client whose
    // socket is closing (relay()).
    const toClient = s.toClient = new QueuedMessages(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room, 'messages waiting for this session\'s client to read them'));
    const toProvider = s.toProvider = new QueuedMessages(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room, 'messages waiting for the provider to read them'));
    upstream.once('close', () => toProvider.release());
    client.on('message', (data: RawData, isBinary: boolean) => {
      unfinished.completed();
      // Ended by the gateway (a limit, the shutdown): the client is told and its socket closing, and nothing it still
      // sends goes on — a response it started now would run on past the metering grace, unbilled (#end).
      if (s.ending !== undefined) return;
      s.lastFrameAt = performance.now();
      if (s.held) {
        s.held.push([data as Buffer, isBinary]);
        // A relay's drain may have resumed the socket meanwhile (relay()): held messages stay bounded by what one read
        // brings, not by what the client sends during the check.
        client.pause();
      } else this.#fromClient(s, data as Buffer, isBinary);
    });
    // Any error of ws's receiver (a message too long, invalid UTF-8, a reserved opcode): ws reads the rest only to
    // discard it, until the socket closes (its close timer: 30 s), so nothing more is held and none of it counts.
    client.on('error', () => unfinished.release());
    // ws closes a frame it refuses (a message over maxPayload: 1009; invalid UTF-8: 1007; a reserved opcode, an unmasked
    // frame: 1002) and says nothing more, its own 'error' coming once the close frame is sent: its receiver's error
    // comes before that, and the client is told why first, in OpenAI's shape, with ws's close code. No public API
    // gives it; without the receiver (another `ws`) the client gets ws's bare close, as before.
    (client as unknown as { _receiver?: Writable })._receiver?.prependListener('error', (error: Error & { code?: string }) => {
      if (tooLong(error)) this.#end(s, 'client-frame-too-long');
      else if (s.ending === undefined) {
        s.brokenFrame = brokenFrame(error);
        this.#end(s, 'client-protocol-error');
      }
    });
    client.once('close', () => {
      unfinished.release();
      toClient.release();
      this.#end(s, 'client-left');
    });
    upstream.once('close', (code: number, reason: Buffer) => this.#upstreamClosed(s, code, reason));
    for (const [data, isBinary] of s.early) relay(client, data, isBinary, upstream, toClient);
    s.early = [];
    s.idleTimer = setTimeout(checkIdle, this.#limits.idleTimeoutMs, this, s);
    // A Playground token's session ends with the token (domain/playground-token.ts): it stands for the key no longer.
    const expiresAt = s.key!.expiresAt;
    s.durationLimitMs = expiresAt === undefined ? this.#limits.maxDurationMs : Math.max(0, Math.min(this.#limits.maxDurationMs, expiresAt - Date.now()));
    s.durationTimer = setTimeout(() => this.#end(s, 'duration'), s.durationLimitMs);
    // Closed before its client was attached (the provider hung up at once, or sent a frame ws refused, upstreamFault):
    // the session ends now.
    if (upstream.readyState !== WebSocket.OPEN) {
      if (s.upstreamFault) this.#end(s, s.upstreamFault);
      else this.#upstreamClosed(s, 1011, Buffer.alloc(0));
    }
    else if (this.#cut) this.#end(s, 'shutdown');
    // Its key was found revoked while the upgrade completed.
    else if (s.revokedBy) this.#end(s, 'revoked');
  }

  /**
   * A client message: relayed, unless it starts billable work (billableEvent) while the account has no credit — the
   * check an HTTP request passes (admitCredit: in memory, no store I/O; nothing with billing off). A refused event is
   * answered with an `error` event and the session stays open: credit bought meanwhile lets the next one through.
   */
  #fromClient(s: Session, data: Buffer, isBinary: boolean): void {
    const client = s.client!;
    // A binary frame too (here and for credit): whether the provider reads one as an event is not the gateway's to guess.
    if (s.plan?.keySource === 'ngrok' && this.#unpricedTranscription(s, data)) return;
    const read = clientEvent(data, s.deps.ledger !== undefined);
    if (read === UNREADABLE && s.deps.ledger) {
      this.#refuseEvent(s, tollgateError('invalidRequest', { reason: 'the message is not a JSON text (UTF-8, without a byte order mark); it was not sent to the provider.' }), { type: 'unreadable', clientEventId: null });
      return;
    }
    const event = read === UNREADABLE ? undefined : read;
    const billable = billableEvent(event);
    if (billable === undefined) {
      if (event !== undefined && s.deps.ledger) {
        // A transcription asked for is held at until the provider reports it or refuses: its refusal must name the update.
        const asks = event.type === 'session.update' && transcriptionOf(member(event, 'session')) ? ownNamed(s, data, event, OWN_UPDATE) : undefined;
        if (asks !== undefined) data = asks[0];
        noteInput(s, asks === undefined ? event : { ...event, event_id: asks[1] });
      }
      relay(s.upstream!, data, isBinary, client, s.toProvider!);
      return;
    }
    let admitted: void | Promise<void>;
    try {
      admitted = admitCredit(creditCheck(s), bufferAllowance(s, billable.type));
    } catch (error) {
      this.#refuseEvent(s, error, billable);
      return;
    }
    if (!admitted) {
      this.#admitted(s, billable, data, isBinary);
      return;
    }
    // A refusal that waits for a balance read under way (a grant may be arriving; ledger.available): what the client
    // sends meanwhile waits behind it, in order, and its socket is not read until the check is decided.
    s.held = [];
    client.pause();
    admitted.then(() => {
      if (s.ending !== undefined) return;
      this.#admitted(s, billable, data, isBinary);
    }, (error: unknown) => this.#refuseEvent(s, error, billable)).finally(() => this.#release(s));
  }

  /**
   * A `session.update` turning on transcription by a model the catalog cannot price, refused on the managed key (as
   * an HTTP request's unpriced option is, 27238): OpenAI bills each transcription at that model's price, which the
   * gateway could not bill. Answered with an `error` event naming it, the session left open and as it was.
   */
  #unpricedTranscription(s: Session, data: Buffer): boolean {
    const asked = transcriptionAsked(data);
    const { candidate } = s.plan!;
    if (asked === undefined || s.deps.catalog.model(candidate.provider.id, asked.model)?.priceMicro !== undefined) return false;
    const refusal = this.#counted(s, tollgateError('managedPremium', { option: `input audio transcription by ${JSON.stringify(asked.model.slice(0, 64))}`, model: candidate.modelId, provider: candidate.provider.id }));
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(refusal, asked.clientEventId)));
    return true;
  }

  /**
   * A billable client event the account can pay for, relayed; a `response.create` noted as the client's ask, holding
   * the most its response can cost (responseHold), and audio appended or committed held for its transcription
   * (holdBuffer) — refused, as at a zero balance, when other responses' and requests' holds cover the balance.
   */
  #admitted(s: Session, billable: Billable, data: Buffer, isBinary: boolean): void {
    let hold: Reservation | undefined;
    const ledger = s.deps.ledger;
    if (ledger) {
      try {
        if (billable.type === 'response.create') hold = holdCredit(creditCheck(s), ledger, responseHold(s, member(billable.event, 'response')));
        else holdBuffer(s, ledger, billable.event);
      } catch (error) {
        this.#refuseEvent(s, error, billable);
        return;
      }
    }
    s.audioRefused = false;
    if (billable.type === 'response.create') this.#ask(s, billable, data, isBinary, hold);
    else {
      if (s.deps.ledger) noteInput(s, billable.event);
      relay(s.upstream!, data, isBinary, s.client!, s.toProvider!);
    }
  }

  /**
   * A `response.create`, relayed once its begun row is in the journal; the client's later messages wait behind it. A
   * session that ends meanwhile never sends it: its row is recorded failed, at no cost.
   */
  #ask(s: Session, create: Billable, data: Buffer, isBinary: boolean, hold: Reservation | undefined): void {
    let clientEventId = create.clientEventId;
    // Without an `event_id`, the provider's refusal of the create (an error in its parameters as much as another
    // response running) could name nothing, and the create's hold would stay until a later response took its place
    // or the session ended: it is given one of the gateway's own, which the refusal names (ownNamed). With billing off
    // nothing is held and the frame goes as sent.
    if (hold !== undefined) {
      const named = ownNamed(s, data, create.event, OWN_CREATE);
      if (named !== undefined) [data, clientEventId] = named;
    }
    const ask: Ask = { clientEventId, began: { eventId: newId('usageEvent'), startedAt: performance.now(), hold }, sent: false };
    s.asks.push(ask);
    s.held ??= [];
    s.noting = true;
    s.client!.pause();
    s.deps.usage.begin(this.#begun(s, ask.began)).then(() => {
      if (s.ending !== undefined || s.finished) {
        this.#answerAsk(s, ask, 'not_sent');
        return;
      }
      ask.sent = true;
      if (clientEventId !== null) s.requested.push(clientEventId);
      relay(s.upstream!, data, isBinary, s.client!, s.toProvider!);
    }, (error: unknown) => {
      // Not noted, so never sent: its row is recorded failed at no cost and its hold given back now, not at the
      // session's end, and the client told (the gateway's fault, as an HTTP request's 500 would be).
      this.#answerAsk(s, ask, 'not_sent');
      this.#refuseEvent(s, error, create, 'realtime response.create not noted in the usage journal');
    }).finally(() => {
      s.noting = false;
      this.#release(s);
    });
  }

  /**
   * The provider refused a create without an `event_id` because a response runs: its `error` names nothing, but the
   * provider answers a connection's events in order, so it is the oldest such create relayed and not yet answered.
   * Left behind, its hold stayed until some later response took its place: a client that creates its responses itself
   * (no server VAD) had every later create refused for that hold at a small balance, until the session ended.
   */
  #busyUnnamed(s: Session): void {
    const ask = s.asks.find((a) => a.sent && a.clientEventId === null);
    if (ask !== undefined) this.#answerAsk(s, ask, BUSY);
  }

  /** An ask no response will answer (refused by the provider, or never sent): its begun row recorded failed, at no cost. */
  #answerAsk(s: Session, ask: Ask, reason: string): void {
    const at = s.asks.indexOf(ask);
    if (at < 0) return;
    s.asks.splice(at, 1);
    this.#recordResponse(s, ask.began, { status: 'failed', status_details: { reason } });
    if (settled(s)) this.#finish(s);
  }

  /** The messages held behind a credit check, each handled in turn (one may wait for a check of its own). */
  #release(s: Session): void {
    // A create being noted releases them itself once it is relayed.
    if (s.noting) return;
    const held = s.held ?? [];
    s.held = undefined;
    resumeReading(s.client!);
    while (held.length > 0 && s.ending === undefined) {
      const [data, isBinary] = held.shift()!;
      this.#fromClient(s, data, isBinary);
      // It waits for a check of its own (#fromClient set a new queue, which TypeScript cannot see): the rest go behind it.
      const waiting = s.held as [Buffer, boolean][] | undefined;
      if (waiting) {
        waiting.push(...held);
        return;
      }
    }
  }

  /**
   * A client event refused (for credit, mostly): OpenAI's `error` event naming the client's event, the session left
   * open. `failure`: what an unexpected error is logged as.
   */
  #refuseEvent(s: Session, error: unknown, event: Pick<Billable, 'type' | 'clientEventId'>, failure?: string): void {
    if (s.ending !== undefined) return;
    const told = this.#counted(s, error, failure);
    // Audio streams in many small appends: one refusal tells the client, until something billable passes again.
    if (event.type === 'input_audio_buffer.append') {
      if (s.audioRefused) return;
      s.audioRefused = true;
    }
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(told, event.clientEventId)));
  }

  /** Idle timer: re-armed for what is left when a frame came since it was set. */
  idleCheck(s: Session): void {
    const quiet = performance.now() - s.lastFrameAt;
    if (quiet >= this.#limits.idleTimeoutMs) this.#end(s, 'idle');
    else s.idleTimer = setTimeout(checkIdle, Math.max(1, this.#limits.idleTimeoutMs - quiet), this, s);
  }

  #fromUpstream(s: Session, data: Buffer, isBinary: boolean): void {
    s.lastFrameAt = performance.now();
    // Not the client's to see, as the managed key's rate-limit headers are not (headers.ts): another account's
    // sessions showed in what it had left.
    if (!isBinary && s.plan?.keySource === 'ngrok') {
      if (isRateLimitsEvent(data)) return;
      // Nor its organization's id and use, in the refusals that name them.
      data = withoutOperatorAccount(data) ?? data;
    }
    const metered = isBinary ? undefined : this.#meter(s, data);
    if (metered === 'drop') return;
    const told = metered !== undefined && 'rewritten' in metered ? metered.rewritten : data;
    if (s.client) relay(s.client, told, isBinary, s.upstream!, s.toClient!);
    else s.early.push([told, isBinary]);
    // Checked once the client has its `response.created`, so that the refusal naming the response comes after it.
    if (metered !== undefined && 'responseId' in metered) this.#checkUnasked(s, metered);
  }

  /**
   * Reads only the events metering needs (output deltas among them, whose relayed output estimates a response that
   * never reports). Says which response the provider started by itself (no `response.create` of the client's asked
   * for it), which message is not the client's to read, and which the client reads rewritten.
   */
  #meter(s: Session, data: Buffer): Unasked | 'drop' | { rewritten: Buffer } | undefined {
    // Finished: its open responses are recorded already (as failed), a late report would record one twice.
    if (s.finished) return undefined;
    if (!data.includes(DONE) && !data.includes(CREATED) && !data.includes(DELTA) && !data.includes(TRANSCRIBED) && !data.includes(TRANSCRIPTION_FAILED) && !data.includes(COMMITTED) && !data.includes(CLEARED) && !data.includes(SESSION_CREATED) && !data.includes(SESSION_UPDATED) && !data.includes(ERROR)) return undefined;
    let event: unknown;
    try {
      event = JSON.parse(data.toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isRecord(event)) return undefined;
    const response = member(event, 'response');
    const id = typeof response?.id === 'string' ? response.id : '';
    if (typeof event.type === 'string' && (TEXT_DELTAS.has(event.type) || AUDIO_DELTAS.has(event.type))) {
      noteRelayed(s, event.type, event);
    } else if (event.type === 'response.created') {
      // The client's create, noted before it left, or one the provider started by itself (server VAD): noted now,
      // before its usage is known, so a gateway that dies mid-response still leaves its event.
      const ask = s.asks[0]?.sent ? s.asks.shift() : undefined;
      const began: OpenResponse = { eventId: ask ? ask.began.eventId : newId('usageEvent'), startedAt: performance.now(), relayed: { text: '', textChars: 0, audioSeconds: 0 }, hold: ask?.began.hold };
      s.open.set(id, began);
      if (!ask) s.deps.usage.begin(this.#begun(s, began)).catch(ignore);
      // Asked for before the session began ending, started after its cancels went: stopped now, and waited for.
      if (s.ending !== undefined && s.upstream?.readyState === WebSocket.OPEN) cancelUpstream(s, s.upstream, id);
      // The provider answers the client's events in order: the first response.created after a response.create is its.
      if (s.requested.length > 0) s.requested.shift();
      else return { responseId: id };
    } else if (event.type === 'error') {
      const cause = member(event, 'error')?.event_id;
      if (typeof cause !== 'string') {
        if (member(event, 'error')?.code === BUSY) this.#busyUnnamed(s);
        return undefined;
      }
      const ownNamedEvent = cause.startsWith(`${s.ownEvent}${OWN_CREATE}`) || cause.startsWith(`${s.ownEvent}${OWN_UPDATE}`);
      // The gateway's own cancel came after its response ended: the client never sent it, and is not told of it.
      if (cause.startsWith(s.ownEvent) && !ownNamedEvent) return 'drop';
      if (s.askedTranscription?.eventId === cause) askRefused(s);
      // A response.create the provider refused starts no response: the next one created is not its.
      const refused = s.requested.indexOf(cause);
      if (refused >= 0) {
        s.requested.splice(refused, 1);
        const ask = s.asks.find((a) => a.sent && a.clientEventId === cause);
        const code = member(event, 'error')?.code;
        if (ask) this.#answerAsk(s, ask, typeof code === 'string' ? code : 'refused');
      }
      // The client sent that create or update without an `event_id`: it reads the refusal as the provider would have sent it.
      if (ownNamedEvent) return { rewritten: Buffer.from(JSON.stringify({ ...event, error: { ...member(event, 'error'), event_id: null } })) };
    } else if (event.type === 'response.done') {
      const began = s.open.get(id) ?? { eventId: newId('usageEvent'), startedAt: performance.now() };
      s.open.delete(id);
      noteResponse(s, member(response, 'usage'));
      this.#recordResponse(s, began, response);
      // A session ending waits for its open responses' and transcriptions' usage: the last one came.
      if (settled(s)) this.#finish(s);
    } else if (event.type === 'input_audio_buffer.committed' && typeof event.item_id === 'string' && s.transcribing.has(event.item_id)) {
      // The same item announced again (a provider's retried send) is one transcription: the first keeps its hold and
      // its begun row, and audio appended since stays the next commit's, with its hold.
    } else if (event.type === 'input_audio_buffer.committed') {
      const buffer = s.buffer;
      s.buffer = emptyBuffer();
      // With transcription on, the provider transcribes the item (and bills it) whatever happens to the session: noted
      // durably now, as a response is at its start, so a gateway that dies before the transcription reports still
      // leaves its event. It takes its buffer's hold.
      if (s.transcription !== undefined && typeof event.item_id === 'string') {
        const began: Transcribing = { eventId: newId('usageEvent'), startedAt: performance.now(), model: s.transcription.model, hold: buffer.hold ?? lateHold(s, s.transcription, buffer.bytes) };
        s.transcribing.set(event.item_id, began);
        s.deps.usage.begin(this.#transcriptionBegun(s, began).begun).catch(ignore);
      } else s.deps.ledger?.release(buffer.hold);
    } else if (event.type === 'input_audio_buffer.cleared') {
      // Nothing of it will be transcribed.
      s.deps.ledger?.release(s.buffer.hold);
      s.buffer = emptyBuffer();
    } else if (event.type === 'conversation.item.input_audio_transcription.completed' || event.type === 'conversation.item.input_audio_transcription.failed') {
      const itemId = typeof event.item_id === 'string' ? event.item_id : '';
      // Turning transcription off or switching its model after a commit does not change what transcribes that audio.
      const began = s.transcribing.get(itemId);
      s.transcribing.delete(itemId);
      // A failed transcription is not billed, but its begun row still gets its event.
      if (event.type === 'conversation.item.input_audio_transcription.completed') this.#recordTranscription(s, began ?? s.transcription?.model, member(event, 'usage'));
      else if (began) this.#recordTranscription(s, began, undefined, 'failed');
      if (settled(s)) this.#finish(s);
    } else if (event.type === 'session.created' || event.type === 'session.updated') {
      const session = member(event, 'session');
      const transcription = transcriptionOf(session);
      if (transcription !== undefined) {
        s.transcription = transcription ?? undefined;
        // The client's ask is in force: the provider reports it.
        if (transcription !== null && s.askedTranscription?.model === transcription.model) s.askedTranscription = undefined;
      }
      const rate = audioByteRate(session);
      if (rate !== undefined) s.outputAudioBytesPerSecond = rate ?? undefined;
      const inputRate = audioByteRate(session, 'input');
      if (inputRate !== undefined) s.inputAudioBytesPerSecond = inputRate ?? SLOWEST_AUDIO_BYTES_PER_SECOND;
      const limit = outputLimitIn(session);
      if (limit !== undefined) s.outputLimit = limit;
      const speaks = speaksIn(session);
      if (speaks !== undefined) s.outputAudio = speaks;
    }
    return undefined;
  }

  /**
   * A response the provider started by itself — under server VAD, on speech it already holds, which may have been
   * appended before the credit ran out — passes the credit check a client's `response.create` would. Refused, it is
   * cancelled at once and the client told; what it produced until then is metered from its `response.done`, as the
   * provider bills it. The input buffer is left alone: the audio is the client's, only the paid work is stopped.
   */
  #checkUnasked(s: Session, unasked: Unasked): void {
    // One that took the hold of a create of the client's (one without an `event_id`, which it may answer) is paid for.
    if (s.ending !== undefined || s.open.get(unasked.responseId)?.hold !== undefined) return;
    let admitted: void | Promise<void>;
    try {
      admitted = admitCredit(creditCheck(s));
    } catch (error) {
      this.#cancelUnpaid(s, unasked, error);
      return;
    }
    // A balance read under way (a grant may be arriving): the response runs meanwhile, and is cancelled if refused.
    if (admitted) admitted.then(() => this.#holdUnasked(s, unasked), (error: unknown) => this.#cancelUnpaid(s, unasked, error));
    else this.#holdUnasked(s, unasked);
  }

  /**
   * An admitted response the provider started by itself holds the most it can cost, as a client's create does;
   * cancelled as unpaid when other holds cover the balance. Nothing is held for one done already (its usage is settled).
   */
  #holdUnasked(s: Session, unasked: Unasked): void {
    const began = s.open.get(unasked.responseId);
    const ledger = s.deps.ledger;
    if (!ledger || !began || began.hold !== undefined || s.ending !== undefined || s.finished) return;
    try {
      began.hold = holdCredit(creditCheck(s), ledger, responseHold(s, undefined));
    } catch (error) {
      this.#cancelUnpaid(s, unasked, error);
    }
  }

  /**
   * A refusal of a client event or of a response (an unexpected failure told as internal, and logged as `failure`:
   * a credit check's unless named), counted as a refused event under the code told.
   */
  #counted(s: Session, error: unknown, failure = 'realtime credit check failed'): TollgateError {
    const refusal = error instanceof TollgateError ? error : tollgateError('internal');
    if (!(error instanceof TollgateError)) s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, failure);
    s.deps.observer?.realtimeEventRefused(s, refusal.code);
    return refusal;
  }

  /** Cancels a response no counted ask of the client's started that the credit check refused, and tells the client. */
  #cancelUnpaid(s: Session, { responseId }: Unasked, error: unknown): void {
    const upstream = s.upstream;
    // Done already, or the session ending (which cancels what is open itself): nothing to stop.
    if (s.ending !== undefined || !s.open.has(responseId) || !upstream || upstream.readyState !== WebSocket.OPEN) return;
    cancelUpstream(s, upstream, responseId);
    const refusal = this.#counted(s, error);
    const told = refusal.code !== Errors.outOfCredit.code ? refusal : tollgateError('realtimeResponseUnpaid', { reason: refusal.message, responseId });
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(told)));
  }

  #upstreamClosed(s: Session, code: number, reason: Buffer): void {
    if (s.finished) return;
    if (s.ending === undefined) {
      s.ending = 'upstream-closed';
      const client = s.client;
      if (client && client.readyState === WebSocket.OPEN) closeSoon(client, validCloseCode(code) ? code : CLOSE_UPSTREAM, reason.toString('utf8'));
    }
    // Nothing more can come from the provider: what is still open is recorded as it stands.
    this.#finish(s);
  }

  /**
   * Ends a session: the client told why (a limit, the shutdown), open responses cancelled, and they and the
   * transcriptions under way given a moment to report.
   */
  #end(s: Session, why: Ending): void {
    if (s.ending !== undefined || s.finished) return;
    s.ending = why;
    const told = toldError(s, why, this.#limits);
    s.errorCode = told?.code;
    const client = s.client;
    if (told && client && client.readyState === WebSocket.OPEN) {
      client.send(JSON.stringify(errorEvent(told)));
      closeSoon(client, why === 'client-protocol-error' ? s.brokenFrame!.closeCode : CLOSES[why] ?? CLOSE_POLICY, told.code);
    }
    const upstream = s.upstream;
    // The provider's message that ended it stands before any answer to a cancel: none would be read.
    if (!settled(s) && upstream && upstream.readyState === WebSocket.OPEN && why !== 'frame-too-long' && why !== 'provider-protocol-error' && why !== 'provider-unheld') {
      // The provider bills what it generated: a cancelled response still reports its usage in its response.done, and
      // a transcription under way runs to its end (and its bill) whether or not the client is still there. Each by its
      // id: a bare cancel stops the conversation's response only, and an out-of-band one would run on unmetered. A
      // response.create relayed whose response.created has not come (a client that asked and left at once) starts a
      // response all the same: it is cancelled as it is created (#meter) and waited for like the others.
      for (const responseId of s.open.keys()) cancelUpstream(s, upstream, responseId);
      // The relay may have paused the provider for a client not reading (HIGH_WATER_BYTES), whose drain may never come:
      // each response.done must still be read within the grace. Nothing more is held: relay() drops what would go to a
      // client no longer open, and this one is closing or gone.
      resumeReading(upstream);
      s.graceTimer = setTimeout(() => this.#finish(s), METER_GRACE_MS);
      return;
    }
    this.#finish(s);
  }

  /**
   * A message still arriving that the process's held answers have no room for: that side's socket is no longer read
   * (what it sends next would be held too), and the session ends, its client told the gateway is busy. Its responses
   * are metered as at any end: cancelled and waited for when it is the client's message; recorded as they stand when
   * it is the provider's (its answers would come behind the message). `client-unheld` also stands for messages
   * waiting for either reader (#start).
   */
  #unheld(s: Session, why: 'client-unheld' | 'provider-unheld', room: HeldRoom, what?: string): void {
    if (s.finished) return;
    s.unheldRoom = room;
    s.unheldWhat = what;
    const side = why === 'client-unheld' ? s.client : s.upstream;
    if (side) {
      unread.add(side);
      side.pause();
    }
    // Not yet relayed to a client (the provider's first messages, during the upgrade): the session ends as it starts.
    if (why === 'provider-unheld' && !s.client) {
      s.upstream?.terminate();
      return;
    }
    this.#end(s, why);
  }

  /**
   * A frame of the provider's that ws refused, and closed its socket for (a message over MAX_MESSAGE_BYTES, or one
   * that breaks the protocol): the client is told why its session ends, rather than read a bare close as if the
   * provider had ended it. One refused before the client's socket is attached ends the session as it starts (#start).
   */
  #upstreamError(s: Session, error: Error & { code?: string }): void {
    if (s.ending !== undefined || s.finished || s.upstreamFault !== undefined) return;
    const fault = upstreamFault(error);
    if (fault === undefined) return;
    s.upstreamFault = fault;
    if (fault === 'provider-protocol-error') s.brokenFrame = brokenFrame(error);
    if (s.client) this.#end(s, fault);
  }

  #finish(s: Session): void {
    if (s.finished) return;
    s.finished = true;
    s.endedAt = performance.now();
    if (s.upgradedAt > 0) s.outcome = OUTCOMES[s.ending ?? 'client-left'];
    clearTimeout(s.idleTimer);
    clearTimeout(s.durationTimer);
    clearTimeout(s.graceTimer);
    const recorded = this.#recordUnreported(s, [...s.open.values()]);
    s.open.clear();
    // Creates no response.created answered (a refusal that named no event, the provider hung up): failed, at no cost.
    for (const ask of s.asks.splice(0)) this.#recordResponse(s, ask.began, { status: 'failed', status_details: { reason: ask.sent ? 'no_response' : 'not_sent' } });
    // Transcriptions that never reported (the provider hung up, the grace ran out): recorded as cut, at no cost.
    for (const began of s.transcribing.values()) this.#recordTranscription(s, began, undefined, 'stream_failed');
    s.transcribing.clear();
    // Audio never committed: nothing of it is transcribed.
    s.deps.ledger?.release(s.buffer.hold);
    s.buffer = emptyBuffer();
    if (s.upstream && s.upstream.readyState !== WebSocket.CLOSED) closeSoon(s.upstream, 1000, '');
    if (s.client && s.client.readyState === WebSocket.OPEN) closeSoon(s.client, CLOSE_UPSTREAM, 'session ended');
    if (s.slot !== undefined) {
      const left = (this.#perAccount.get(s.slot) ?? 1) - 1;
      if (left > 0) this.#perAccount.set(s.slot, left);
      else this.#perAccount.delete(s.slot);
      s.slot = undefined;
    }
    if (s.plan && s.key) s.deps.state.markUsed(s.key.id, s.plan.providerKey?.id);
    const opened = s.upstream ? s.handshakes[s.handshakes.length - 1] : undefined;
    if (opened) opened.durationMs = s.endedAt - opened.startedAt;
    // The session is over once its last usage event is recorded: a stopping gateway waits for it (idle()).
    if (recorded) void recorded.then(() => this.#closed(s));
    else this.#closed(s);
  }

  /**
   * The responses a session ended before they reported (the provider gone, or silent through the grace): billed as
   * estimated on what the client was sent of their output — the provider bills what it generated, which is at least
   * that — their text counted on the tokenizer thread as an HTTP stream's is. A promise when there is text to count.
   */
  #recordUnreported(s: Session, unreported: readonly OpenResponse[]): void | Promise<void> {
    const record = (texts: readonly number[]) => unreported.forEach((began, i) => this.#recordResponse(s, began, undefined, texts[i] ?? 0));
    if (!unreported.some((began) => (began.relayed?.textChars ?? 0) > 0)) return record([]);
    return Promise.all(unreported.map((began) => outputEstimate(began.relayed))).then(record);
  }

  /** A finished session's last steps, once its usage is recorded: observed, and no longer among those a stop waits for. */
  #closed(s: Session): void {
    s.deps.observer?.realtimeFinished(s);
    this.#sessions.delete(s);
    if (this.#sessions.size > 0 || this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  /** An upgrade refused before it happened: an HTTP answer in the gateway's error shape (or the provider's own refusal). */
  #refuse(s: Session, socket: Duplex, error: unknown): void {
    if (socket.destroyed || !socket.writable) {
      s.refusal = 'client_gone';
      return;
    }
    const headers = baseHeaders(s.requestId);
    // Where the SDKs read an error's request id, as on every gateway error (respond.ts writeError).
    headers['x-request-id'] = headers['request-id'] = s.requestId;
    if (error instanceof ProviderRefusal) {
      s.status = error.status;
      s.refusal = 'provider';
      headers['content-type'] = error.contentType ?? 'application/json';
      writeRaw(socket, error.status, headers, error.body);
      return;
    }
    let answer: TollgateError;
    if (error instanceof TollgateError) answer = error;
    else {
      s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, 'realtime upgrade failed');
      answer = tollgateError('internal');
    }
    s.status = answer.status;
    s.refusal = s.errorCode = answer.code;
    headers['content-type'] = 'application/json';
    writeRaw(socket, answer.status, headers, Buffer.from(codecs.openai.errorBody(answer, s.requestId)));
  }

  #begun(s: Session, began: OpenResponse): BegunAttempt {
    const { candidate } = s.plan!;
    return {
      id: began.eventId, accountId: s.key!.accountId, requestId: s.requestId, accessKeyId: s.key!.id,
      provider: candidate.provider.id, providerDisplayName: candidate.provider.displayName, model: candidate.modelId, modelDisplayName: candidate.displayName,
      attemptNumber: s.attemptNumber, isStreaming: true, inputTokensEstimate: 0, keySource: s.plan!.keySource,
      providerKeyId: s.plan!.providerKey?.id ?? null, providerKeyDisplayName: s.plan!.providerKey?.keyRedacted ?? null,
      retryAction: 'succeeded', eventTime: nowIso(), virtualModel: candidate.virtualModel ?? null, firewall: null,
    };
  }

  /**
   * A response's usage event: from its `response.done`, or (undefined) one the session ended before it reported,
   * estimated from what was relayed of it (`textTokens` counted from its text).
   */
  #recordResponse(s: Session, began: OpenResponse, response: Record<string, unknown> | undefined, textTokens = 0): void {
    const plan = s.plan!;
    const status = typeof response?.status === 'string' ? response.status : '';
    const failed = response === undefined || status === 'failed';
    const estimate = response === undefined ? relayedUsage(began.relayed, textTokens) : undefined;
    const usage = realtimeUsage(estimate ?? member(response, 'usage'), plan.candidate.catalogModel?.priceMicro);
    const durationMs = performance.now() - began.startedAt;
    const cost = attemptCost(usage, plan, s.deps.options.processingFeeMicroUsdPerMtok, !failed, Date.now() - durationMs);
    const reason = member(response, 'status_details')?.reason;
    const completion: Completion = response === undefined ? 'stream_failed' : failed ? 'failed' : 'succeeded';
    s.responses++;
    this.#recordUsage(s, usageEvent(this.#begun(s, began), usage, cost, {
      isError: failed, stopReason: storedStopReason(typeof reason === 'string' ? reason : status), completion, upstreamDurationMs: Math.round(durationMs),
    }, estimate !== undefined), plan.candidate, began.hold);
  }

  /** A transcription's begun row: the session's, named after the transcription model, and that model as a candidate. */
  #transcriptionBegun(s: Session, began: Transcribing): { begun: BegunAttempt; candidate: Candidate } {
    const { candidate } = transcriptionPlan(s, began.model);
    return { begun: { ...this.#begun(s, began), model: candidate.modelId, modelDisplayName: candidate.displayName }, candidate };
  }

  /**
   * An input audio transcription's usage event: billed by the provider apart from the responses, at the transcription
   * model's prices (the catalog's; an uncatalogued model's usage is recorded unpriced), and named after that model.
   * One begun at its commit keeps that event id, and its hold is settled; `failed` (reported failed, or never
   * reported) is at no cost.
   */
  #recordTranscription(s: Session, given: Transcribing | string | undefined, usage: Record<string, unknown> | undefined, failed?: 'failed' | 'stream_failed'): void {
    const plan = s.plan!;
    const began: Transcribing = typeof given === 'object' ? given : { eventId: newId('usageEvent'), startedAt: performance.now(), model: given ?? 'unknown' };
    const { begun, candidate } = this.#transcriptionBegun(s, began);
    const transcribed = transcriptionUsage(usage, candidate.catalogModel?.priceMicro);
    const cost = attemptCost(transcribed, { ...plan, candidate }, s.deps.options.processingFeeMicroUsdPerMtok, failed === undefined, Date.now());
    const end = failed === undefined
      ? { isError: false, stopReason: '', completion: 'succeeded' as const, upstreamDurationMs: 0 }
      : { isError: true, stopReason: '', completion: failed, upstreamDurationMs: Math.round(performance.now() - began.startedAt) };
    this.#recordUsage(s, usageEvent(begun, transcribed, cost, end), candidate, began.hold);
  }

  /** A usage event journalled (UsageSink.record), then counted, settled (replacing `hold`) and debited, as every response's is. */
  #recordUsage(s: Session, event: UsageEvent, candidate: Candidate, hold?: Reservation): void {
    const accountId = s.key!.accountId;
    s.deps.usage.record(event);
    // The counts billed: a response the provider never reported is billed on what the client was sent of it.
    const billed = reportedTokens(event);
    s.inputTokens += billed.input;
    s.outputTokens += billed.output;
    s.cacheReadTokens += event.cacheReadTokens;
    s.costPico += event.costPico;
    s.usageEstimated ||= event.usageEstimated;
    s.deps.observer?.meteredApart(event, candidate);
    s.deps.ledger?.settle(accountId, hold, event.costPico);
    if (event.costPico > 0n) s.deps.state.debit(accountId, event.costPico);
  }

  /** An access key changed (deleted, re-linked, edited): its sessions are checked against it as stored now. */
  #keyChanged(accessKeyId: string): void {
    const affected = [...this.#sessions].filter((s) => s.key?.id === accessKeyId && s.ending === undefined && !s.finished);
    if (affected.length === 0 || !this.#deps.state.accessKeyById) return;
    let found: AuthenticatedKey | null | Promise<AuthenticatedKey | null>;
    try {
      found = this.#deps.state.accessKeyById(accessKeyId);
    } catch (error) {
      found = Promise.reject(error);
    }
    void Promise.resolve(found).then((key) => {
      for (const s of affected) void this.#recheck(s, key);
    }, () => {
      // The store does not answer: what the key allows is unknown, and the gateway fails closed (pipeline.ts keyStage).
      for (const s of affected) this.#revoke(s, tollgateError('accessKeysUnavailable'));
    });
  }

  /**
   * An account's snapshot replaced (a configuration, a Firewall policy, a provider key changed): its sessions are
   * checked against it.
   */
  #accountReloaded(account: AccountSnapshot): void {
    for (const s of this.#sessions) {
      if (s.key?.accountId !== account.accountId || s.ending !== undefined || s.finished || !s.plan) continue;
      const configuration = s.key.configurationId === null ? null : account.configurations.get(s.key.configurationId);
      try {
        if (configuration === undefined) throw tollgateError('configurationGone', { id: s.key.configurationId! });
        allows(s.plan.candidate, account, configuration);
        const retired = providerKeyRetired(s.plan, account);
        if (retired) throw retired;
        s.account = account;
        s.configuration = configuration;
      } catch (error) {
        this.#revoke(s, error);
      }
    }
  }

  /** The session's key as stored now (null: deleted): still the account's, still allowing the session's model. */
  async #recheck(s: Session, key: AuthenticatedKey | null): Promise<void> {
    try {
      if (key === null || key.accountId !== s.key!.accountId) throw unknownKey();
      const check: Admission = { deps: s.deps };
      await keyStage(check, key);
      if (s.plan) allows(s.plan.candidate, check.account!, check.configuration ?? null);
      s.key = s.key!.expiresAt === undefined ? key : { ...key, expiresAt: s.key!.expiresAt };
      s.account = check.account;
      s.configuration = check.configuration ?? null;
    } catch (error) {
      this.#revoke(s, error);
    }
  }

  /**
   * Ends a session its access key no longer allows, or whose provider key is retired, telling the client why (1008);
   * one still being admitted ends as it starts.
   */
  #revoke(s: Session, error: unknown): void {
    if (s.ending !== undefined || s.finished) return;
    s.revokedBy = error instanceof TollgateError ? error : tollgateError('internal');
    if (!(error instanceof TollgateError)) s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, 'realtime key check failed');
    if (s.client) this.#end(s, 'revoked');
  }

  /** A handshake that did not open a session: an attempt like an HTTP one that failed, at no cost. */
  #recordHandshake(s: Session, plan: AttemptPlan, attemptNumber: number, status: number, durationMs: number, retryAction: RetryAction, last: boolean): void {
    const { candidate } = plan;
    const key = s.key!;
    s.deps.usage.record({
      id: newId('usageEvent'), accountId: key.accountId, requestId: s.requestId, accessKeyId: key.id,
      provider: candidate.provider.id, providerDisplayName: candidate.provider.displayName, model: candidate.modelId, modelDisplayName: candidate.displayName,
      attemptNumber, isFinalAttempt: last, statusCode: status, timedOut: false, isError: true, isStreaming: true, stopReason: '',
      inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0,
      usageEstimated: false, inputTokensEstimate: 0, outputTokensEstimate: 0, ...NO_COST,
      keySource: plan.keySource, providerKeyId: plan.providerKey?.id ?? null, providerKeyDisplayName: plan.providerKey?.keyRedacted ?? null,
      retryAction, completion: 'failed', upstreamDurationMs: Math.round(durationMs), eventTime: nowIso(),
      virtualModel: candidate.virtualModel ?? null, firewall: null,
    });
  }
}

/**
 * An output delta the client is being sent, noted against its open response: text kept as an HTTP stream's, audio
 * as its length in the session's output format (not when that format's rate is not known).
 */
function noteRelayed(s: Session, type: string, event: Record<string, unknown>): void {
  const relayed = typeof event.response_id === 'string' ? s.open.get(event.response_id)?.relayed : undefined;
  if (relayed === undefined || typeof event.delta !== 'string') return;
  if (TEXT_DELTAS.has(type)) appendText(relayed, event.delta);
  else if (s.outputAudioBytesPerSecond !== undefined) relayed.audioSeconds += Buffer.byteLength(event.delta, 'base64') / s.outputAudioBytesPerSecond;
}

/**
 * An ending session has nothing left to report: no response open, no transcription under way, no response.create of
 * the client's relayed without its response.created (nor the provider's refusal of it).
 */
function settled(s: Session): boolean {
  return s.ending !== undefined && s.open.size === 0 && s.transcribing.size === 0 && s.asks.length === 0;
}

function checkIdle(gateway: RealtimeGateway, s: Session): void {
  gateway.idleCheck(s);
}

function ignore(): void {
  // A broken socket ends its session through its 'close'; nothing to answer.
}

/**
 * A metered event of the session's: its counts and cost, and how it ended. An `estimated` one's output is the
 * gateway's estimate, kept apart from the provider's counts as an HTTP attempt's is (meter.ts).
 */
function usageEvent(begun: BegunAttempt, usage: TokenUsage, cost: AttemptCost, end: Pick<UsageEvent, 'isError' | 'stopReason' | 'completion' | 'upstreamDurationMs'>, estimated = false): UsageEvent {
  return {
    ...begun, ...end,
    isFinalAttempt: true, statusCode: 200, timedOut: false,
    inputTokens: usage.inputTokens, outputTokens: estimated ? 0 : usage.outputTokens, cacheReadTokens: usage.cacheReadTokens, cacheWriteTokens: 0, cacheWrite1hTokens: 0,
    reasoningTokens: 0, usageEstimated: estimated, outputTokensEstimate: estimated ? usage.outputTokens : 0,
    costPico: cost.totalPico, inputCostPico: cost.inputPico, outputCostPico: cost.outputPico, cacheReadCostPico: cost.cacheReadPico,
    cacheWrite5mCostPico: cost.cacheWrite5mPico, cacheWrite1hCostPico: cost.cacheWrite1hPico, feePico: cost.feePico,
  };
}

/**
 * Throws the refusal a new upgrade would get when the session's model, or the session itself, is no longer allowed
 * under `configuration` (null: the key has none) and the account's Firewall policies.
 */
function allows(candidate: Candidate, account: AccountSnapshot, configuration: ConfigurationState | null): void {
  refuseUnscreenedSession(account, configuration);
  const access = configuration?.access ?? null;
  const { allowed, rejected } = applyScope([candidate], access);
  if (allowed.length === 0) throw scopeError(rejected, access, configuration?.id);
}

/**
 * The refusal for a session on the account's own provider key that `account` no longer holds as the session opened
 * with it: deleted, or rotated — its value replaced (one this process can no longer decrypt was replaced too: it read
 * the old one). The session would otherwise speak with the retired secret until its limits. Undefined while the key
 * stands, and for the managed key (the operator's, not the account's).
 */
function providerKeyRetired(plan: AttemptPlan, account: AccountSnapshot): TollgateError | undefined {
  const key = plan.providerKey;
  if (key === undefined || account.providerKeys.get(key.id)?.value === key.value) return undefined;
  const change = account.providerKeys.has(key.id) || account.unreadableProviderKeys.has(key.id) ? 'rotated' : 'deleted';
  return tollgateError('realtimeProviderKeyRetired', { id: key.id, provider: key.providerId, change });
}

/** The error a session ended by the gateway tells its client, undefined when the client or the provider ended it. */
function toldError(s: Session, why: Ending, limits: RealtimeLimits): TollgateError | undefined {
  switch (why) {
    case 'idle': return tollgateError('realtimeSessionIdleLimitExceeded', { limit: formatMs(limits.idleTimeoutMs) });
    // A Playground token's limit is whatever was left of it: named to the second.
    case 'duration': return tollgateError('realtimeSessionDurationLimitExceeded', { limit: formatMs(s.durationLimitMs === limits.maxDurationMs || s.durationLimitMs < 1000 ? s.durationLimitMs : Math.round(s.durationLimitMs / 1000) * 1000) });
    case 'revoked': return s.revokedBy;
    case 'shutdown': return tollgateError('gatewayStopping');
    case 'frame-too-long': return tollgateError('realtimeUpstreamFrameTooLong', { limit: byteSize(MAX_MESSAGE_BYTES) });
    case 'client-frame-too-long': return tollgateError('realtimeClientFrameTooLong', { limit: byteSize(MAX_MESSAGE_BYTES) });
    case 'client-protocol-error': return tollgateError('realtimeClientFrameInvalid', { reason: s.brokenFrame!.reason });
    case 'provider-protocol-error': return tollgateError('realtimeUpstreamFrameInvalid', { reason: s.brokenFrame!.reason });
    case 'client-unheld':
    case 'provider-unheld': return tollgateError('realtimeMessageUnheld', { reason: `${s.unheldWhat ?? (why === 'client-unheld' ? 'the rest of a message of this session\'s client' : 'the rest of a message the provider is sending')} could not be held: ${UNHELD[s.unheldRoom ?? 'gateway']}` });
    default: return undefined;
  }
}

type UpstreamFault = 'frame-too-long' | 'provider-protocol-error';

/** A frame `ws` refused for its length: a message over MAX_MESSAGE_BYTES, or a header saying more than 2^53 - 1 bytes. */
function tooLong(error: Error & { code?: string }): boolean {
  return error.code === MESSAGE_TOO_LONG || error.code === FRAME_TOO_LONG;
}

/**
 * How a provider's frame `ws`'s receiver refused ends the session: over the limit (a message over MAX_MESSAGE_BYTES,
 * or a frame saying more than 2^53 - 1 bytes, as the client's is), or breaking the protocol (any other `WS_ERR_` code:
 * invalid UTF-8, a reserved opcode, a masked frame, an RSV bit, a bad close code). Undefined for any other error: after
 * the handshake, only the receiver's carry those codes.
 */
function upstreamFault(error: Error & { code?: string }): UpstreamFault | undefined {
  if (tooLong(error)) return 'frame-too-long';
  return error.code?.startsWith('WS_ERR_') ? 'provider-protocol-error' : undefined;
}

/**
 * What `ws`'s receiver says of a frame it refused: its message without ws's prefix ("invalid UTF-8 sequence", "invalid
 * opcode 3"), and the close code it gives it, which ws keeps under a symbol of its own (`kStatusCode`, exported
 * nowhere): the session closes with it before ws would.
 */
function brokenFrame(error: Error): { reason: string; closeCode: number } {
  const key = Object.getOwnPropertySymbols(error).find((k) => k.description === 'status-code');
  const code = key === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[key];
  return { reason: error.message.replace(/^Invalid WebSocket frame: /, ''), closeCode: typeof code === 'number' ? code : CLOSE_PROTOCOL };
}

/**
 * OpenAI's `error` server event, which the SDK raises as an error: the code and message are the gateway's, and
 * `error.event_id` the client event it refuses (null when none, or when none is refused).
 */
function errorEvent(error: TollgateError, clientEventId: string | null = null): Record<string, unknown> {
  return {
    type: 'error', event_id: `event_${newId('request').slice(3)}`,
    error: { type: error.spec.type ?? 'api_error', code: error.code, message: error.message, param: null, event_id: clientEventId },
  };
}

/** A `response.cancel` of the gateway's own: the provider's `error` answering it (the response ended first) is not relayed. */
function cancelUpstream(s: Session, upstream: WebSocket, responseId: string): void {
  const eventId = `${s.ownEvent}${++s.ownCancels}`;
  // A response.created that carried no id: a bare cancel, which stops the conversation's response.
  upstream.send(JSON.stringify({ type: 'response.cancel', event_id: eventId, response_id: responseId || undefined }));
}

/**
 * The session's credit check as an HTTP request's, on the account's current snapshot: the ledger reads the balance
 * again when the snapshot changed (a grant), and a stale one would make it read on every check.
 */
function creditCheck(s: Session): Admission {
  const key = s.key!;
  let account = s.account!;
  try {
    account = s.deps.state.account(key.accountId);
  } catch {
    // The account is no longer loaded here (deleted): the session's own snapshot decides.
  }
  return { deps: s.deps, key, account };
}

/**
 * Sends `data` on, pausing `from` while `to`'s reader lags HIGH_WATER_BYTES behind; what waits for that reader past
 * FREE_QUEUED_BYTES counts in `queue` until it is sent. Not sent when it cannot be held: the session is ending.
 */
function relay(to: WebSocket, data: Buffer, isBinary: boolean, from: WebSocket, queue: QueuedMessages): void {
  if (to.readyState !== WebSocket.OPEN) return;
  const queued = to.bufferedAmount + data.length;
  if (queued <= FREE_QUEUED_BYTES) {
    to.send(data, { binary: isBinary });
    return;
  }
  if (!queue.hold(queued)) return;
  const pause = queued > HIGH_WATER_BYTES && !from.isPaused;
  if (pause) from.pause();
  to.send(data, { binary: isBinary }, () => {
    queue.sent(to.bufferedAmount);
    if (pause) resumeReading(from);
  });
}

/** A closing handshake, bounded: a peer that never answers it is dropped. */
function closeSoon(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === WebSocket.CLOSED) return;
  if (socket.readyState === WebSocket.OPEN) socket.close(code, Buffer.from(reason).subarray(0, 123));
  else if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
    return;
  }
  setTimeout(() => socket.terminate(), CLOSE_WAIT_MS).unref();
}

function writeRaw(socket: Duplex, status: number, headers: Record<string, string | string[] | number>, body: Buffer): void {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  headers['content-length'] = body.length;
  headers.connection = 'close';
  for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
}

/** The provider's realtime WebSocket: its base URL's `/realtime` with the ws scheme, the upstream model in the query. */
function upstreamUrl(candidate: Candidate): string {
  const base = (candidate.surface.baseUrl ?? candidate.provider.baseUrl).replace(/\/+$/, '');
  const url = new URL(`${base}${candidate.surface.path}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('model', candidate.upstreamModelId ?? candidate.modelId);
  return url.href;
}

/**
 * The credential replaces the client's access key; `openai-beta` (the older realtime protocol's opt-in) goes along,
 * from the header or from the browser's `openai-beta.realtime-v1` subprotocol (a browser cannot set headers, and the
 * subprotocol is never passed on: the gateway answers the client's handshake itself).
 */
function upstreamHeaders(plan: AttemptPlan, clientHeaders: IncomingHttpHeaders, loopId: string, trace: TraceHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = { [VIA_HEADER]: viaValue(clientHeaders, loopId) };
  if (trace !== undefined) addTraceHeaders(headers, trace);
  const beta = clientHeaders['openai-beta'];
  if (typeof beta === 'string') headers['openai-beta'] = beta;
  else if (offeredProtocols(clientHeaders).includes(BETA_PROTOCOL)) headers['openai-beta'] = 'realtime=v1';
  if (plan.credential) headers.authorization = `Bearer ${plan.credential}`;
  return headers;
}

/** What an open provider socket says, from its first frame on, and the socket being dialled (for a shutdown to abort). */
interface UpstreamListeners {
  onMessage(data: RawData, isBinary: boolean): void;
  /** An error of the open socket's: a frame ws refused. */
  onError(error: Error & { code?: string }): void;
  dialing(socket: WebSocket): void;
}

/**
 * One handshake with the provider. Its messages and its frames ws refuses go to `on` from the first (they may come in
 * the read that carries the 101), so none is lost before the client is attached.
 */
function openUpstream(url: string, headers: Record<string, string>, timeoutMs: number, on: UpstreamListeners, unfinished: UnfinishedMessage): Promise<Opened> {
  return new Promise((resolve) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, { headers, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, handshakeTimeout: timeoutMs, followRedirects: false });
    } catch (error) {
      resolve({ error: error instanceof Error ? error.message : String(error) });
      return;
    }
    on.dialing(socket);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      unfinished.completed();
      on.onMessage(data, isBinary);
    });
    let raw: Duplex | undefined;
    socket.once('upgrade', (response: IncomingMessage) => { raw = response.socket; });
    // 'open' comes once `ws` has taken the socket, its own reader first: a read is counted after its messages are out.
    socket.once('open', () => {
      raw?.on('data', (chunk: Buffer) => unfinished.read(chunk.length));
      // ws emits 'open' before it reads what came with the 101: listening now, no frame of it is missed.
      socket.on('error', on.onError);
      resolve({ socket });
    });
    socket.once('close', () => unfinished.release());
    socket.on('error', (error: Error) => {
      // After its receiver's error (as the client's, #start) ws only discards what it reads until the socket closes.
      unfinished.release();
      resolve({ error: error.message });
    });
    socket.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        resolve({ status: response.statusCode ?? 502, body: Buffer.concat(chunks), contentType: typeof response.headers['content-type'] === 'string' ? response.headers['content-type'] : undefined });
        request.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        if (size >= REFUSAL_BODY_BYTES) return;
        chunks.push(chunk.subarray(0, REFUSAL_BODY_BYTES - size));
        size += chunk.length;
        if (size >= REFUSAL_BODY_BYTES) done();
      });
      response.once('end', done);
      response.once('error', done);
    });
  });
}

