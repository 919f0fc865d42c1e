// Reads usage from an SSE answer as it passes, chunk by chunk. It keeps only the unfinished tail of the
// current event (never the whole answer) and hands each complete event to the format's codec. In the
// ordinary case the client receives exactly the upstream bytes; only when the gateway itself asked for
// the OpenAI usage chunk does it re-emit complete events minus that chunk.
import { StringDecoder } from 'node:string_decoder';
import type { ApiSurface } from '../catalog/types.ts';
import type { FormatCodec, StreamFacts } from './formats/types.ts';

export class StreamMeter {
  readonly facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '' };
  readonly #codec: FormatCodec;
  readonly #surface: ApiSurface;
  readonly #dropUsageChunk: boolean;
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';

  constructor(codec: FormatCodec, surface: ApiSurface, dropUsageChunk: boolean) {
    this.#codec = codec;
    this.#surface = surface;
    this.#dropUsageChunk = dropUsageChunk;
  }

  /** Meters `chunk`; returns what to forward: `chunk` itself, or (filtering) the complete kept events. */
  push(chunk: Buffer): Buffer | undefined {
    let text = this.#pending + this.#decoder.write(chunk);
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    let kept = '';
    let start = 0;
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
      const block = text.slice(start, end);
      start = end + 2;
      if (this.#event(block) && this.#dropUsageChunk) kept += block + '\n\n';
    }
    this.#pending = text.slice(start);
    if (!this.#dropUsageChunk) return chunk;
    return kept ? Buffer.from(kept) : undefined;
  }

  /** The upstream ended: meters a last event without its blank line; returns held bytes to forward. */
  end(): Buffer | undefined {
    const rest = this.#pending + this.#decoder.end();
    this.#pending = '';
    if (!rest.trim()) return this.#dropUsageChunk && rest ? Buffer.from(rest) : undefined;
    const keep = this.#event(rest.replace(/\n+$/, ''));
    return this.#dropUsageChunk && keep ? Buffer.from(rest) : undefined;
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
    return this.#codec.onStreamEvent(this.facts, event, data, this.#surface, this.#dropUsageChunk);
  }
}
