// Reads usage from a Bedrock event stream (`application/vnd.amazon.eventstream`) as it passes: each frame goes to the
// client as it came as soon as it is whole (a 4-byte total length leads each), decoded on the way with the SDK's own
// codec. Only the unfinished frame is held: a client can read nothing of a frame before its end (its CRC closes it),
// and a stream that breaks mid-frame can still end with a whole exception frame the SDK raises, never a torn one. ConverseStream: text from `contentBlockDelta`, the stop reason
// from `messageStop`, usage from `metadata` (its last event). InvokeModelWithResponseStream: each `chunk` carries the
// model's own event base64-encoded (Claude's are Anthropic's Messages events, metered as those are), and the last one
// Bedrock's `amazon-bedrock-invocationMetrics`. An `exception` frame is the provider's failure, relayed as it came.
import type { ApiSurface } from '../catalog/types.ts';
import { anthropic } from './formats/anthropic.ts';
import { converseUsage, eventStreamCodec, invocationMetricsUsage } from './formats/bedrock.ts';
import { appendText, obj, parseJson, stringOr, type StreamFacts } from './formats/types.ts';
import { MAX_HELD_BYTES } from './exchange.ts';
import type { StreamTranslation } from './translate/index.ts';

/** Prelude (total and header lengths, their CRC) and the message CRC: the least a frame can be. */
const MIN_FRAME_BYTES = 16;

export class EventStreamMeter {
  readonly facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  readonly #surface: ApiSurface;
  /**
   * A Messages client's stream (translate/messages-via-invoke.ts): each chunk's Anthropic event goes to it as
   * (its type, its JSON), an exception frame as (its `:exception-type`, its body); it writes what the client receives.
   */
  readonly #translation: StreamTranslation | undefined;
  /** The unfinished frame's bytes, not yet relayed. */
  #held: Buffer = Buffer.alloc(0);
  readonly #maxFrameBytes: number;
  /** A frame longer than the limit (or one that is no frame): the stream can no longer be metered, and the relay ends it. */
  overflowed = false;

  constructor(surface: ApiSurface, translation?: StreamTranslation, maxFrameBytes = MAX_HELD_BYTES) {
    this.#surface = surface;
    this.#translation = translation;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Meters `chunk`; returns the whole frames it completes, to relay as they are (`chunk` itself when it holds whole
   * frames only, the usual case), undefined when it completes none.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (this.overflowed) return undefined;
    const joined = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    let at = 0;
    while (joined.length - at >= 4) {
      const total = joined.readUInt32BE(at);
      if (total < MIN_FRAME_BYTES || total > this.#maxFrameBytes) {
        this.overflowed = true;
        this.#held = Buffer.alloc(0);
        return undefined;
      }
      if (joined.length - at < total) break;
      this.#frame(joined.subarray(at, at + total));
      at += total;
    }
    // Kept as a copy: the chunk it views is handed on to the client's socket.
    this.#held = at === joined.length ? Buffer.alloc(0) : Buffer.from(joined.subarray(at));
    if (at === 0) return undefined;
    return at === joined.length && joined === chunk ? chunk : joined.subarray(0, at);
  }

  /** The upstream ended: a frame cut off in the middle is left unmetered (the stream did not finish). */
  end(): Buffer | undefined {
    this.#held = Buffer.alloc(0);
    return undefined;
  }

  #frame(frame: Buffer): void {
    let message;
    try {
      message = eventStreamCodec.decode(frame);
    } catch {
      // A checksum that does not match: no SDK reads past it, so the stream failed at the provider.
      this.facts.errored = true;
      return;
    }
    const kind = message.headers[':message-type']?.value;
    const text = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8');
    if (kind !== 'event') {
      this.facts.errored = true;
      this.#translation?.event(String(message.headers[':exception-type']?.value ?? 'internalServerException'), text);
      return;
    }
    const type = message.headers[':event-type']?.value;
    const body = obj(parseJson(text));
    if (this.#surface === 'converse-stream') this.#converseEvent(String(type), body);
    else if (type === 'chunk') this.#invokeChunk(body);
  }

  #converseEvent(type: string, body: Record<string, unknown> | undefined): void {
    if (type === 'contentBlockDelta') {
      const delta = obj(body?.delta);
      appendText(this.facts, stringOr(delta?.text) || stringOr(obj(delta?.toolUse)?.input) || stringOr(obj(delta?.reasoningContent)?.text));
    } else if (type === 'messageStop') {
      this.facts.stopReason = stringOr(body?.stopReason);
    } else if (type === 'metadata') {
      this.facts.usage = converseUsage(body?.usage) ?? this.facts.usage;
      // ConverseStream's last event: the client's answer is complete with it.
      this.facts.terminal = true;
    }
  }

  #invokeChunk(body: Record<string, unknown> | undefined): void {
    const bytes = body?.bytes;
    if (typeof bytes !== 'string') return;
    const data = Buffer.from(bytes, 'base64').toString('utf8');
    const event = obj(parseJson(data));
    // Claude's Messages events: their usage, stop reason and text as on Anthropic's own stream.
    if (typeof event?.type === 'string') {
      anthropic.onStreamEvent(this.facts, event.type, data, 'messages', false);
      this.#translation?.event(event.type, data);
    }
    const metrics = invocationMetricsUsage(event?.['amazon-bedrock-invocationMetrics']);
    if (metrics) {
      // What Bedrock counted (and bills), on the stream's last chunk, whatever the model reported before.
      this.facts.usage = metrics;
      this.facts.terminal = true;
    }
  }
}
