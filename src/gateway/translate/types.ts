// A translation serves a request of one API surface (the client's SDK) with a model that only serves another
// (ngrok's "any model, any SDK"): the request body goes up in the model's format, and the answer, the stream
// and the provider's errors come back in the client's. Usage is metered on the upstream answer, untranslated.
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiSurface } from '../../catalog/types.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { TollgateError } from '../../domain/errors.ts';

export interface TranslatedRequest {
  body: Record<string, unknown>;
  /** Top-level client fields the upstream format has no place for: dropped, and named in Ngrok-AIG-Removed-Params. */
  removed: string[];
  /** Tools renamed to fit the upstream's rules: the name the upstream knows → the client's own. */
  toolNames?: ReadonlyMap<string, string>;
  /**
   * Upstream fields the gateway may still remove for the model (params.ts) → the client's field they came from, so
   * Ngrok-AIG-Removed-Params names what the client sent (`stop_sequences`, not the chat `stop` it became).
   */
  clientFields?: Readonly<Record<string, string>>;
  /**
   * The surface whose output-limit fields the body carries, when not the upstream's: a Messages body sent to
   * Bedrock's InvokeModel keeps `max_tokens`, which the account's cap then clamps (params.ts).
   */
  limitSurface?: ApiSurface;
}

/**
 * Turns the upstream's SSE events, one at a time, into the client's stream: SSE text, or binary frames for a client
 * that reads those (Bedrock's ConverseStream: AWS event-stream frames).
 */
export interface StreamTranslation<Out extends string | Uint8Array = string> {
  /** One upstream event (its `event:` name, '' when absent, and its data). */
  event(event: string, data: string): void;
  /** The client's stream produced since the last call (empty when none). */
  take(): Out;
  /** The upstream finished cleanly: closes what is still open and ends the client's stream in its format. */
  finish(): Out;
  /** A Responses client's stream: the sequence number its next event takes (an error event the gateway ends it with). */
  nextSequence?(): number;
  /**
   * After finish(): the error the client's stream ends with in place of its final events, when the answer could not
   * be given in the client's format (a tool call whose arguments are not a JSON object); finish() then wrote only
   * what goes before it.
   */
  failure?(): TollgateError | undefined;
  /**
   * What it keeps of the answer until the stream ends (characters of the calls' arguments, and of the text and
   * reasoning its final events repeat or it sends late): the relay ends a stream whose translation keeps more than
   * MAX_HELD_STREAM_BYTES. Absent when it keeps nothing past the event at hand.
   */
  readonly held?: number;
}

/**
 * Whose request is translated, and what it asked of the answer: output a client may refer back to is kept per
 * account (stored-items.ts) unless it asked not to store it (`keep` false); a chat client's stream carries a usage
 * chunk when it asked for one (`includeUsage`).
 */
export interface TranslationScope {
  accountId: string; keep: boolean; includeUsage: boolean; toolNames?: ReadonlyMap<string, string> | undefined;
  /** The client's request, for what its format's answer repeats of it (a Responses object's tools, instructions…). */
  request?: Record<string, unknown> | undefined;
  /** The gateway's estimate of the request's input tokens, once counted (for a stream's opening event, before the provider's count). */
  inputTokens?: (() => number | undefined) | undefined;
  /** When the request went to the provider (performance.now()), for what a format reports of its latency (Converse's `metrics`). */
  startedAt?: number | undefined;
  /**
   * The model the provider was asked for (its id upstream), for an answer whose format names none (Converse's): the
   * client's answer then names it as the other translations name the provider's own.
   */
  model?: string | undefined;
  /** The operator's log, for what a translation leaves out of an answer because it could not be given faithfully. */
  warn?: ((details: Record<string, unknown>, message: string) => void) | undefined;
}

export interface Translator<Out extends string | Uint8Array = string> {
  /** `headers`: the client's, for what a format carries in its headers (Anthropic's `anthropic-beta`). */
  request(body: Record<string, unknown>, plan: AttemptPlan, headers?: IncomingHttpHeaders): TranslatedRequest;
  /** The upstream's parsed JSON answer in the client's format. */
  answer(upstream: unknown, scope: TranslationScope): unknown;
  /** A provider's error answer (status kept) in the client's error format. */
  error(status: number, upstream: string): string;
  /** Headers the client's SDK reads an error's kind from, when its format has them (Bedrock's `x-amzn-errortype`). */
  errorHeaders?(status: number): Record<string, string>;
  stream(scope: TranslationScope): StreamTranslation<Out>;
}

/** Any translator, whatever its client's stream is made of (translate/index.ts picks one per request). */
export type AnyTranslator = Translator<string | Uint8Array>;

