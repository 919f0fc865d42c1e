// What the gateway needs to know about one wire format (OpenAI or Anthropic): how to write its errors,
// where its usage sits in a JSON answer, and how to read usage from its SSE events as they pass.
import type { ApiSurface } from '../../catalog/types.ts';
import type { TollgateError } from '../../domain/errors.ts';
import { isRecord } from '../../domain/json-value.ts';

/** Provider-reported token counts, normalised: `inputTokens` counts every input token, cached ones included. */
export interface ReportedUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** Part of cacheWriteTokens kept an hour (Anthropic's `cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** Server-side web searches billed per search (Anthropic's `server_tool_use.web_search_requests`). */
  webSearchRequests?: number;
  /**
   * Anthropic's `usage.iterations`, when the answer has them (compaction, the advisor tool): the sampling iterations
   * it bills one by one, each at the rates of the model it ran on. The counts above are then their sums; the
   * top-level counts of such an answer leave iterations out (compaction's, the advisor's, later executor inputs).
   */
  iterations?: readonly UsageIteration[];
}

/** One of Anthropic's `usage.iterations`, its input counted whole (cache reads and writes included). */
export interface UsageIteration {
  /** The model it ran on when not the request's: the advisor's (`advisor_message`), a fallback's (`fallback_message`). */
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
}

/** What a JSON answer or a stream told us about the attempt. */
export interface AnswerFacts {
  usage: ReportedUsage | undefined;
  stopReason: string;
  /** The provider's id of its answer (`chatcmpl-…`, `resp_…`, `msg_…`): read only while tracing (gen_ai.response.id). */
  responseId?: string;
  /** The model the answer says generated it (a dated snapshot, a router's pick): read only while tracing (gen_ai.response.model). */
  responseModel?: string;
  /**
   * Generated output (text, tool-call arguments, reasoning) kept to estimate output tokens when the provider
   * reported no usage: at most TEXT_ESTIMATE_CAP characters. A JSON answer has it only when it lacks usage.
   */
  text?: string;
  /** Characters of output seen in all, when more than `text` kept (the estimate is scaled up by the ratio). */
  textChars?: number;
  /**
   * Hosted web searches a stream showed as they ran (billed per search): what is billed when the stream ends
   * before the usage that counts them (Anthropic's message_delta, OpenAI's response.completed).
   */
  webSearches?: number;
  /**
   * The OpenAI containers the answer named (`code_interpreter_call` items' `container_id`, hosted `shell_call` items'
   * `environment.container_id`), each once: OpenAI bills a session per container, and its usage does not count them.
   */
  containers?: string[];
}

/** Running state of one metered stream, updated event by event. */
export interface StreamFacts extends AnswerFacts {
  /** The stream carried its format's clean end (`[DONE]`, `message_stop`, `response.completed`). */
  terminal: boolean;
  /** The provider itself sent an error event inside the stream. */
  errored: boolean;
  text: string;
  textChars: number;
  /** A Responses stream's last `sequence_number`, so an error event the gateway ends it with comes next in order. */
  sequence?: number;
}

/** `StreamError`: what the format's stream error event is, SSE text or a binary frame (Bedrock's event streams). */
export interface FormatCodec<StreamError extends string | Uint8Array = string | Uint8Array> {
  /** Error body for a gateway error; the SDKs of this format parse it into their error classes. */
  errorBody(error: TollgateError, requestId: string): string;
  /**
   * A complete error event of the surface, written when a stream breaks after bytes reached the client: SSE text, or
   * a binary frame (Bedrock's event streams).
   */
  streamErrorEvent(error: TollgateError, requestId: string, surface: ApiSurface, nextSequence?: number): StreamError;
  /** Headers an error answer of this format carries beside its body (Bedrock names its exception in one). */
  errorHeaders?(error: TollgateError, requestId: string): Record<string, string>;
  /** Usage and stop reason from a parsed JSON answer. */
  factsFromJson(body: unknown, surface: ApiSurface): AnswerFacts;
  /** A parsed JSON answer's generated output (text, tool-call arguments, reasoning), to estimate its tokens. */
  answerText(body: unknown, surface: ApiSurface): string;
  /** The same read from the answer's text without parsing all of it; undefined when only a full parse can tell. */
  factsFromText(text: string, surface: ApiSurface): AnswerFacts | undefined;
  /**
   * Feeds one SSE event (event name may be '' when absent) into `facts`. Returns false when the event must
   * not reach the client (the usage-only chunk the gateway asked for itself, see `dropUsageChunk`).
   */
  onStreamEvent(facts: StreamFacts, event: string, data: string, surface: ApiSurface, dropUsageChunk: boolean): boolean;
}

export const TEXT_ESTIMATE_CAP = 64 * 1024;

/** The JSON string value following `marker` (e.g. `"content":"`) in `data`, still escaped; '' when absent. */
export function rawStringAfter(data: string, marker: string): string {
  return stringAfterMarkerAt(data, data.indexOf(marker), marker);
}

/** rawStringAfter for the last occurrence: for keys a chunk carries near its end, found without scanning it all. */
export function lastRawStringAfter(data: string, marker: string): string {
  return stringAfterMarkerAt(data, data.lastIndexOf(marker), marker);
}

function stringAfterMarkerAt(data: string, markerAt: number, marker: string): string {
  if (markerAt < 0) return '';
  const from = markerAt + marker.length;
  return data.slice(from, stringEnd(data, from - 1));
}

/** Index just past `"key"`, whitespace, `:` and whitespace at or after `from`; -1 when `key` is not a key there. */
function valueStart(text: string, at: number, key: string): number {
  let i = at + key.length + 2;
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  if (text.charCodeAt(i) !== 58 /* : */) return -1;
  i++;
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  return i;
}

/** Index of the `"` closing the JSON string whose opening quote is at `open`. */
function stringEnd(text: string, open: number): number {
  let i = open + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) { i += 2; continue; }
    if (c === 34 /* " */) return i;
    i++;
  }
  return text.length;
}

/**
 * Where the values of the answer object's own `keys` start (-1 when absent), in one string-aware scan that
 * tracks depth — so a `"usage"` key inside a tool call's input object or a quoted look-alike in the content
 * never stands in for the answer's own. Cheaper than a full parse of a long answer for its small usage block.
 */
export function topLevelValueStarts(text: string, keys: readonly string[]): number[] {
  const found = new Array<number>(keys.length).fill(-1);
  let depth = 0;
  let missing = keys.length;
  for (let i = 0; i < text.length && missing > 0; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const end = stringEnd(text, i);
      if (depth === 1) {
        const k = keyAt(text, i + 1, end, keys);
        if (k >= 0 && found[k] === -1) {
          const start = valueStart(text, i, keys[k]!);
          if (start >= 0) { found[k] = start; missing--; }
        }
      }
      i = end;
    } else if (c === 123 /* { */ || c === 91 /* [ */) depth++;
    else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return found;
}

/** Which of `keys` the text from `start` to `end` spells (-1: none), compared in place: no string per member read. */
function keyAt(text: string, start: number, end: number, keys: readonly string[]): number {
  for (let k = 0; k < keys.length; k++) if (keys[k]!.length === end - start && text.startsWith(keys[k]!, start)) return k;
  return -1;
}

/** The object starting at `start` (a `{`), parsed alone; undefined when there is none or it is cut off. */
export function objectAt(text: string, start: number): Record<string, unknown> | undefined {
  if (start < 0 || text.charCodeAt(start) !== 123) return undefined;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) i = stringEnd(text, i);
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return obj(parseJson(text.slice(start, i + 1)));
  }
  return undefined;
}

/** The string starting at `start` (a `"`), still escaped; '' when the value there is not a string. */
export function stringAt(text: string, start: number): string {
  if (start < 0 || text.charCodeAt(start) !== 34) return '';
  return rawStringAfter(text.slice(start, start + 256), '"');
}

/** The string value of the first `"key": "…"` in a JSON text, still escaped; '' when absent or not a string. */
export function firstStringOf(text: string, key: string): string {
  const at = text.indexOf(`"${key}"`);
  if (at < 0) return '';
  return stringAt(text, valueStart(text, at, key));
}

/** A top-level string of a JSON answer (never a nested object's); undefined when absent, not a string, longer than 256, or cut off by the end of `text`. */
function topLevelStringOf(text: string, key: string): string | undefined {
  const start = topLevelValueStarts(text, [key])[0]!;
  if (start < 0 || text.charCodeAt(start) !== 34) return undefined;
  const end = stringEnd(text, start);
  if (end >= text.length || end - start > 256) return undefined;
  const raw = text.slice(start + 1, end);
  return raw.includes('\\') ? stringOr(parseJson(`"${raw}"`)) || undefined : raw;
}

/**
 * The provider's id of a JSON answer: the answer object's own `id` (never a tool call's, whatever the key order), or
 * Gemini's `responseId`. Undefined when absent, not a string, or cut off by the end of `text`.
 */
export function answerIdOf(text: string): string | undefined {
  return topLevelStringOf(text, 'id') ?? topLevelStringOf(text, 'responseId');
}

/**
 * The model a JSON answer says generated it (`gpt-4o-2024-08-06` for a request to `gpt-4o`): its own top-level
 * `model`, or Gemini's `modelVersion`.
 */
export function answerModelOf(text: string): string | undefined {
  return topLevelStringOf(text, 'model') ?? topLevelStringOf(text, 'modelVersion');
}

/** What a stream's first data event says of the answer: the provider's id and the model that generates it. */
export interface StreamOpening { id?: string; model?: string }

const shortString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' && v.length <= 256 ? v : undefined);

/**
 * The provider's id of a streamed answer and its model, from its first data event within `opening` (comment lines
 * such as OpenRouter's keep-alives skipped): a chat chunk's own `id` and `model`, Responses' `response.created`
 * response's, Anthropic's `message_start` message's. The event is parsed (its keys may come in any order: a tool
 * call's id can precede the chunk's); undefined when it is not complete within `opening`. Gemini's first chunk's
 * `responseId` and `modelVersion`, Gemini Interactions' `interaction.created` interaction's `id` and `model`.
 */
export function streamOpeningOf(opening: string): StreamOpening | undefined {
  for (let from = 0; from < opening.length;) {
    const to = opening.indexOf('\n', from);
    if (to < 0) return undefined;
    if (opening.startsWith('data:', from)) {
      const event = obj(parseJson(opening.slice(from + 5, to)));
      const response = obj(event?.response);
      const message = obj(event?.message);
      const found: StreamOpening = {};
      // Gemini's chunks are each a whole answer, naming it in `responseId` and `modelVersion`; an Interactions
      // stream opens with `interaction.created`, its interaction's.
      const interaction = obj(event?.interaction);
      const id = shortString(event?.id ?? response?.id ?? message?.id ?? interaction?.id ?? event?.responseId);
      const model = shortString(event?.model ?? response?.model ?? message?.model ?? interaction?.model ?? event?.modelVersion);
      if (id !== undefined) found.id = id;
      if (model !== undefined) found.model = model;
      return found;
    }
    from = to + 1;
  }
  return undefined;
}

/**
 * JSON written with whitespace around its colons (Python's json.dumps, many OpenAI-compatible servers): the
 * compact markers the codecs search for would find nothing in it, so such an event is parsed instead. Judged by
 * the first key (a serializer spaces every colon or none), so a compact event costs a few characters' scan.
 */
export function spacedJson(data: string): boolean {
  const colon = data.indexOf(':');
  if (colon < 1) return false;
  const before = data.charCodeAt(colon - 1);
  return before !== 34 || WHITESPACE.has(data.charCodeAt(colon + 1));
}

/** Space, tab, LF, CR. */
const WHITESPACE = new Set([32, 9, 10, 13]);

/** `v` when it is a string, else empty. */
export function stringOr(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function appendText(facts: Pick<StreamFacts, 'text' | 'textChars'>, piece: string): void {
  if (!piece) return;
  facts.textChars += piece.length;
  if (facts.text.length < TEXT_ESTIMATE_CAP) facts.text += piece;
}

/** Collects an answer's output parts: strings as they are, structured values (tool inputs) as JSON. */
export function outputParts(): { add(v: unknown): void; text(): string } {
  const parts: string[] = [];
  return {
    add(v) {
      if (typeof v === 'string') parts.push(v);
      else if (v !== undefined && v !== null && typeof v === 'object') parts.push(JSON.stringify(v));
    },
    text: () => parts.join(''),
  };
}

/**
 * A provider-reported count is untrusted input (a custom provider is any URL an account chooses): past a billion
 * tokens in one answer it is a lie, and 1e19 would overflow the store's 64-bit columns and cost, refusing the
 * usage batch it sits in — and with it every later event — forever.
 */
export const MAX_REPORTED_TOKENS = 1_000_000_000;

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Math.floor(v), MAX_REPORTED_TOKENS) : 0;
}

/** A sum of counts read with `num`, held to the bound one count has. */
export const capped = (n: number): number => Math.min(n, MAX_REPORTED_TOKENS);

const PLAIN_REASON = /^[\x20-\x7e]{0,64}$/;

/**
 * A provider's finish reason as stored: printable ASCII, at most 64 characters. A NUL (`"st\u0000op"`) is refused
 * by PostgreSQL text columns, which would stop the usage shipper on that event; real reasons are short words.
 */
export function storedStopReason(reason: string): string {
  return PLAIN_REASON.test(reason) ? reason : reason.replace(/[^\x20-\x7e]/g, '').slice(0, 64);
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

export function parseJson(data: string): unknown {
  try { return JSON.parse(data); } catch { return undefined; }
}

/** Message shown to SDK users: the code first, so `err.message` contains it in every SDK. */
export function errorMessage(error: TollgateError): string {
  return `${error.code}: ${error.message}`;
}
