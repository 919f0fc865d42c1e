// What a 200 event stream says before the gateway commits to it. Responses and Messages streams open with events
// that carry no answer (`response.created`, `response.in_progress`; `message_start`, `ping`), and providers report
// a failure right after them: OpenAI's rate limits and server errors as an `error` event (or `response.failed`)
// after `response.in_progress`, Anthropic's `overloaded_error` after `message_start`. Committed at the first byte,
// such a stream would hand the client an error the next key or model could have answered. So the opening is held
// until its first event past those (at most PREAMBLE_HOLD_MS, after which the stream is committed as it is).
import { StringDecoder } from 'node:string_decoder';
import type { FailureKind } from './meter.ts';
import { obj, parseJson } from './formats/types.ts';
import { providerErrorKind } from './formats/provider-error.ts';

// Gemini Interactions open with `interaction.created` and an `in_progress` `interaction.status_update`.
const PREAMBLE = new Set(['response.created', 'response.in_progress', 'message_start', 'ping', 'interaction.created', 'interaction.status_update']);

/** Longest the opening is held waiting for an event past the preamble (a reasoning model may think long first). */
export const PREAMBLE_HOLD_MS = 1000;
/** Only this much of the opening is read: a preamble is a few hundred bytes (a large request's echo, more). */
const OPENING_BYTES = 256 * 1024;

export type Opening = 'preamble' | 'content' | { failure: FailureKind; quotaExhausted: boolean };

/**
 * A failure event's verdict: the request's own fault is relayed as the provider said it (another key or model would
 * refuse it too); anything else is failed over. Shapes: `{"type":"error","code",…}` (OpenAI's documented event),
 * `{"type":"error","error":{"type","code"}}` (OpenAI's as sent, Anthropic's), `{"response":{"error":{"code"}}}`
 * (`response.failed`), `{"error":{…}}` (OpenAI chat).
 */
function failureOf(data: string): Opening {
  const event = obj(parseJson(data));
  const error = obj(event?.error) ?? obj(obj(event?.response)?.error) ?? event;
  switch (providerErrorKind(error, event?.code)) {
    case 'client-fault': return 'content';
    case 'quota': return { failure: 'rate-limited', quotaExhausted: true };
    case 'rate-limited': return { failure: 'rate-limited', quotaExhausted: false };
    default: return { failure: 'server', quotaExhausted: false };
  }
}

/**
 * Reads a stream's opening as its chunks come, each byte once: `preamble` while every complete event so far is a
 * preamble event (or none is complete); `content` once another event came; a failure when that event reports one
 * (`error`, `response.failed`, an OpenAI-style `{"error": …}`).
 */
export class OpeningReader {
  readonly #decoder = new StringDecoder('utf8');
  #chunks = 0;
  #bytes = 0;
  /** The unfinished event in the pieces it came in (joined once, when it completes: linear in its length). */
  #pieces: string[] = [];
  #endsWithNewline = false;
  #carryCr = false;
  #started = false;
  #verdict: Opening = 'preamble';

  read(received: readonly Buffer[]): Opening {
    while (this.#verdict === 'preamble' && this.#chunks < received.length) {
      const chunk = received[this.#chunks++]!;
      this.#bytes += chunk.length;
      if (this.#bytes > OPENING_BYTES) return (this.#verdict = 'content');
      this.#feed(this.#normalised(this.#decoder.write(chunk)));
    }
    return this.#verdict;
  }

  /** Line ends as LF (a CRLF split between chunks included), a leading byte-order mark dropped. */
  #normalised(text: string): string {
    if (text === '') return text;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#carryCr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.#carryCr = text.charCodeAt(text.length - 1) === 13;
    return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  }

  #feed(text: string): void {
    let start = 0;
    if (this.#pieces.length > 0 && this.#endsWithNewline && text.charCodeAt(0) === 10) {
      this.#verdict = verdictOf(this.#take().slice(0, -1));
      start = 1;
    }
    for (let end = text.indexOf('\n\n', start); end >= 0 && this.#verdict === 'preamble'; end = text.indexOf('\n\n', start)) {
      const block = start === 0 && this.#pieces.length > 0 ? this.#take() + text.slice(0, end) : text.slice(start, end);
      start = end + 2;
      this.#verdict = verdictOf(block);
    }
    if (this.#verdict === 'preamble' && start < text.length) {
      this.#pieces.push(start === 0 ? text : text.slice(start));
      this.#endsWithNewline = text.charCodeAt(text.length - 1) === 10;
    }
  }

  #take(): string {
    const joined = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join('');
    this.#pieces = [];
    this.#endsWithNewline = false;
    return joined;
  }
}

function verdictOf(block: string): Opening {
  let event = '';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
  }
  if (event === '' && data === '') return 'preamble';
  if (event === '') event = /^\{\s*"type"\s*:\s*"([^"]+)"/.exec(data)?.[1] ?? '';
  if (PREAMBLE.has(event)) return 'preamble';
  if (event === 'error' || event === 'response.failed' || /^\{\s*"error"\s*:/.test(data)) return failureOf(data);
  return 'content';
}

/** One reading of a whole opening (tests, and a caller with all its chunks at once). */
export function streamOpening(received: readonly Buffer[]): Opening {
  return new OpeningReader().read(received);
}
