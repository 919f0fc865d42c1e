// One realtime session's state, from its upgrade request to its last usage event.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { TollgateError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from '../../state/types.ts';
import type { GatewayDeps } from '../context.ts';
import type { Admission } from '../pipeline.ts';
import type { StreamFacts } from '../formats/types.ts';
import type { Reservation } from '../../usage/ledger.ts';
import type { RealtimeHandshake, RealtimeObservation, RealtimeOutcome } from '../observe/observer.ts';
import type { RequestTrace } from '../observe/tracing.ts';
import type { HeldRoom } from '../exchange.ts';
import type { QueuedMessages } from '../queued-messages.ts';
import type { UpstreamFault } from './relay.ts';
import type { Ending } from './ending.ts';
import { DEFAULT_AUDIO_BYTES_PER_SECOND, OWN_EVENT, type TranscriptionSetting, type AskedTranscription } from './events.ts';

/**
 * A response the provider started (`response.created`) and has not reported done, and what of it was relayed; or a
 * client's create not yet answered. `hold`: the credit it holds until its usage is recorded (billing on).
 */
export interface OpenResponse { eventId: string; startedAt: number; relayed?: RelayedOutput; hold?: Reservation }

/**
 * What the client was sent of a response's output, which estimates what the provider bills for a response the session
 * ended before it reported: its text as an HTTP stream's is kept (TEXT_ESTIMATE_CAP), and its audio's length.
 */
export interface RelayedOutput extends Pick<StreamFacts, 'text' | 'textChars'> { audioSeconds: number }

/**
 * A client's `response.create` noted in the journal: the event id the provider sees (the client's, or the one the
 * gateway gave it, #ask), for the response it starts or its refusal.
 */
export interface Ask { clientEventId: string | null; began: OpenResponse; sent: boolean }

/**
 * A committed audio item being transcribed: the model in force at the commit, its begun usage row, and (billing on)
 * the hold its buffer took, until its usage is recorded.
 */
export interface Transcribing extends OpenResponse { model: string }

/**
 * The audio the client appended since the provider's last commit or clear (billing on), and what its transcription
 * holds while transcription is on: the most it can cost (transcriptionHold), from the first append on, grown with
 * each. `fixed`: the part of the hold no append adds to, which the buffer's own appends are not refused for.
 */
interface InputBuffer { bytes: number; hold: Reservation | undefined; fixed: bigint }

export function emptyBuffer(): InputBuffer {
  return { bytes: 0, hold: undefined, fixed: 0n };
}

/**
 * A `response.created` no counted `response.create` asked for: the provider's own (server VAD), or the answer to a
 * create without an `event_id`, which took that create's hold (#checkUnasked).
 */
export interface Unasked { responseId: string }

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

/** One realtime session, from its upgrade request to its last usage event. */
export class Session implements Admission, RealtimeObservation {
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

/**
 * An ending session has nothing left to report: no response open, no transcription under way, no response.create of
 * the client's relayed without its response.created (nor the provider's refusal of it).
 */
export function settled(s: Session): boolean {
  return s.ending !== undefined && s.open.size === 0 && s.transcribing.size === 0 && s.asks.length === 0;
}
