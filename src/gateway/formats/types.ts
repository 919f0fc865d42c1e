// What the gateway needs to know about one wire format (OpenAI or Anthropic): how to write its errors,
// where its usage sits in a JSON answer, and how to read usage from its SSE events as they pass.
import type { ApiSurface } from '../../catalog/types.ts';
import type { TollgateError } from '../../domain/errors.ts';

/** Provider-reported token counts, normalised: `inputTokens` counts every input token, cached ones included. */
export interface ReportedUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

/** What a JSON answer or a stream told us about the attempt. */
export interface AnswerFacts {
  usage: ReportedUsage | undefined;
  stopReason: string;
}

/** Running state of one metered stream, updated event by event. */
export interface StreamFacts extends AnswerFacts {
  /** The stream carried its format's clean end (`[DONE]`, `message_stop`, `response.completed`). */
  terminal: boolean;
  /** The provider itself sent an error event inside the stream. */
  errored: boolean;
  /** Generated text seen so far (capped), only used to estimate output when no usage is reported. */
  text: string;
}

export interface FormatCodec {
  /** Error body for a gateway error; the SDKs of this format parse it into their error classes. */
  errorBody(error: TollgateError, requestId: string): string;
  /** A complete SSE error event, written when a stream breaks after bytes reached the client. */
  streamErrorEvent(error: TollgateError, requestId: string): string;
  /** Usage and stop reason from a parsed JSON answer. */
  factsFromJson(body: unknown, surface: ApiSurface): AnswerFacts;
  /**
   * Feeds one SSE event (event name may be '' when absent) into `facts`. Returns false when the event must
   * not reach the client (the usage-only chunk the gateway asked for itself, see `dropUsageChunk`).
   */
  onStreamEvent(facts: StreamFacts, event: string, data: string, surface: ApiSurface, dropUsageChunk: boolean): boolean;
}

export const TEXT_ESTIMATE_CAP = 64 * 1024;

/** The JSON string value following `marker` (e.g. `"content":"`) in `data`, still escaped; '' when absent. */
export function rawStringAfter(data: string, marker: string): string {
  const start = data.indexOf(marker);
  if (start < 0) return '';
  let i = start + marker.length;
  const from = i;
  while (i < data.length) {
    const c = data.charCodeAt(i);
    if (c === 92 /* \ */) { i += 2; continue; }
    if (c === 34 /* " */) break;
    i++;
  }
  return data.slice(from, i);
}

export function appendText(facts: StreamFacts, piece: string): void {
  if (piece && facts.text.length < TEXT_ESTIMATE_CAP) facts.text += piece;
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function parseJson(data: string): unknown {
  try { return JSON.parse(data); } catch { return undefined; }
}

/** Message shown to SDK users: the code first, so `err.message` contains it in every SDK. */
export function errorMessage(error: TollgateError): string {
  return `${error.code}: ${error.message}`;
}
