// Reads usage from an SSE answer as it passes, chunk by chunk. It keeps only the unfinished tail of the
// current event (never the whole answer) and hands each complete event to the format's codec. In the
// ordinary case the client receives exactly the upstream bytes; only when the gateway itself asked for
// the OpenAI usage chunk does it re-emit complete events minus that chunk. A translated stream's events also go
// to its translation, which writes what the client receives instead (translate/).
import { StringDecoder } from 'node:string_decoder';
import type { ApiSurface } from '../catalog/types.ts';
import type { FormatCodec, StreamFacts } from './formats/types.ts';
import type { StreamTranslation } from './translate/index.ts';
import { MAX_HELD_BYTES } from './exchange.ts';

/** `bytes` has two line feeds right before `end`: an event ended there. */
function blankLineEndsAt(bytes: Buffer, end: number): boolean {
  return end >= 2 && bytes[end - 1] === 10 && bytes[end - 2] === 10;
}

export class StreamMeter {
  readonly facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  readonly #codec: FormatCodec;
  readonly #surface: ApiSurface;
  readonly #dropUsageChunk: boolean;
  /** A translated stream: every metered event also goes to its translation, which writes the client's events. */
  readonly #translation: StreamTranslation<string | Uint8Array> | undefined;
  readonly #decoder = new StringDecoder('utf8');
  /**
   * The unfinished event, in the pieces it arrived in: joined only once it completes, and only the newest piece
   * is searched for the blank line that ends it — a provider's multi-megabyte event costs its length, not its
   * length squared.
   */
  #pieces: string[] = [];
  /** Characters in `#pieces`. */
  #pendingChars = 0;
  /** The most one unfinished event may hold (an event never ended by a blank line would otherwise grow without bound). */
  readonly #maxEventChars: number;
  /** An event grew past the limit: the stream can be neither metered nor translated, and the relay ends it. */
  overflowed = false;
  /** The pending text ends with a newline (a blank line may straddle two pieces). */
  #endsWithNewline = false;
  /** The last piece ended with a CR already turned into LF: an LF starting the next one is that CRLF's. */
  #carryCr = false;
  /** The last chunk ended with a line feed byte: the decoder holds no part of a character. */
  #lastByteLf = true;
  /** Some text was decoded already (a byte-order mark is only one at the very start of the stream). */
  #started = false;

  constructor(codec: FormatCodec, surface: ApiSurface, dropUsageChunk: boolean, translation?: StreamTranslation<string | Uint8Array>, maxEventChars = MAX_HELD_BYTES) {
    this.#maxEventChars = maxEventChars;
    this.#codec = codec;
    this.#surface = surface;
    this.#dropUsageChunk = dropUsageChunk;
    this.#translation = translation;
  }

  /** Meters `chunk`; returns what to forward: `chunk` itself, or (filtering) the complete kept events. */
  push(chunk: Buffer): Buffer | undefined {
    if (this.overflowed) return undefined;
    const decoded = this.#decoder.write(chunk);
    const text = this.#normalised(decoded);
    // Filtering, a chunk of whole events that keeps them all goes on as it came, not copied: the usual case, as
    // providers flush event by event and only the one usage chunk is dropped.
    const whole = this.#dropUsageChunk && this.#pieces.length === 0 && this.#lastByteLf && text === decoded && blankLineEndsAt(chunk, chunk.length);
    this.#lastByteLf = chunk.length === 0 ? this.#lastByteLf : chunk[chunk.length - 1] === 10;
    let dropped = false;
    let kept = '';
    let start = 0;
    if (this.#pieces.length > 0 && this.#endsWithNewline && text.charCodeAt(0) === 10) {
      const block = this.#take().slice(0, -1);
      if (this.#event(block) && this.#dropUsageChunk) kept += block + '\n\n';
      start = 1;
    }
    for (let end = text.indexOf('\n\n', start); end >= 0; end = text.indexOf('\n\n', start)) {
      const block = start === 0 && this.#pieces.length > 0 ? this.#take() + text.slice(0, end) : text.slice(start, end);
      start = end + 2;
      if (!this.#event(block)) dropped = true;
      else if (this.#dropUsageChunk) kept += block + '\n\n';
    }
    if (start < text.length) {
      const piece = start === 0 ? text : text.slice(start);
      this.#pendingChars += piece.length;
      if (this.#pendingChars > this.#maxEventChars) {
        this.overflowed = true;
        this.#pieces = [];
        return undefined;
      }
      this.#pieces.push(piece);
      this.#endsWithNewline = text.charCodeAt(text.length - 1) === 10;
    }
    if (!this.#dropUsageChunk) return chunk;
    if (whole && !dropped && start === text.length) return chunk;
    return kept ? Buffer.from(kept) : undefined;
  }

  /** The upstream ended: meters a last event without its blank line; returns held bytes to forward. */
  end(): Buffer | undefined {
    if (this.overflowed) return undefined;
    const rest = this.#take() + this.#normalised(this.#decoder.end());
    if (!rest.trim()) return this.#dropUsageChunk && rest ? Buffer.from(rest) : undefined;
    const keep = this.#event(rest.replace(/\n+$/, ''));
    return this.#dropUsageChunk && keep ? Buffer.from(rest) : undefined;
  }

  /** SSE line ends (CRLF, CR, LF) as LF, a CRLF split between two chunks included; a leading BOM dropped. */
  #normalised(text: string): string {
    if (text === '') return text;
    if (!this.#started) {
      this.#started = true;
      // The SSE format ignores a leading U+FEFF, as the SDKs do: the first event must not hide behind it.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text === '') return text;
    }
    if (this.#carryCr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.#carryCr = text.charCodeAt(text.length - 1) === 13;
    return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  }

  #take(): string {
    const joined = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join('');
    this.#pieces = [];
    this.#pendingChars = 0;
    this.#endsWithNewline = false;
    return joined;
  }

  /** Parses one event block; returns whether it is kept for the client. */
  #event(block: string): boolean {
    let event = '';
    let data: string | undefined;
    let from = 0;
    while (from <= block.length) {
      let to = block.indexOf('\n', from);
      if (to < 0) to = block.length;
      if (block.startsWith('data:', from)) {
        const value = block.slice(block.charCodeAt(from + 5) === 32 ? from + 6 : from + 5, to);
        data = data === undefined ? value : `${data}\n${value}`;
      } else if (block.startsWith('event:', from)) {
        event = block.slice(block.charCodeAt(from + 6) === 32 ? from + 7 : from + 6, to);
      }
      from = to + 1;
    }
    if (data === undefined) return true;
    // Some compatible servers send no `event:` lines; Anthropic's and OpenAI's Responses events name themselves in
    // their data's leading `type` too. A chat chunk (`{"id":…`) fails the check at its second character.
    if (event === '' && data.startsWith('{"type":"')) {
      const end = data.indexOf('"', 9);
      if (end > 9) event = data.slice(9, end);
    }
    const kept = this.#codec.onStreamEvent(this.facts, event, data, this.#surface, this.#dropUsageChunk);
    this.#translation?.event(event, data);
    return kept;
  }
}
