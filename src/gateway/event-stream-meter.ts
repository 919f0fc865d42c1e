// Reads usage from a Bedrock event stream (`application/vnd.amazon.eventstream`) as it passes: each frame goes to the
// client as it came as soon as it is whole (a 4-byte total length leads each), decoded on the way with the SDK's own
// codec. Only the unfinished frame is held: a client can read nothing of a frame before its end (its CRC closes it),
// and a stream that breaks mid-frame can still end with a whole exception frame the SDK raises, never a torn one. ConverseStream: text from `contentBlockDelta`, the stop reason
// from `messageStop`, usage from `metadata` (its last event). InvokeModelWithResponseStream: each `chunk` carries the
// model's own event base64-encoded (Claude's are Anthropic's Messages events, metered as those are), and the last one
// Bedrock's `amazon-bedrock-invocationMetrics`. An `exception` frame is the provider's failure, relayed as it came.
import type { ApiSurface } from '../catalog/types.ts';
import { anthropic } from './formats/anthropic.ts';
import { converseUsage, eventStreamCodec, invocationMetricsUsage, withLongWrites } from './formats/bedrock.ts';
import { appendText, obj, parseJson, stringOr, type StreamFacts } from './formats/types.ts';
import type { StreamTranslation } from './translate/index.ts';

/** Prelude (total and header lengths, their CRC) and the message CRC: the least a frame can be. */
export const MIN_FRAME_BYTES = 16;

/**
 * The most an event-stream message may be, prelude and CRCs included: AWS's own codec (aws-c-event-stream) refuses
 * anything longer, so no Bedrock frame is. A frame declaring more is never whole: held, it would only fill memory.
 */
export const MAX_EVENT_STREAM_FRAME_BYTES = 16 * 1024 * 1024;

/** Bytes copied while holding unfinished frames so far (tests check it stays linear in what arrives). */
let copiedBytes = 0;
export function eventStreamBytesCopied(): number {
  return copiedBytes;
}

export class EventStreamMeter {
  readonly facts: StreamFacts = { usage: undefined, stopReason: '', terminal: false, errored: false, text: '', textChars: 0 };
  readonly #surface: ApiSurface;
  /**
   * A Messages client's stream (translate/messages-via-invoke.ts): each chunk's Anthropic event goes to it as
   * (its type, its JSON), an exception frame as (its `:exception-type`, its body); it writes what the client receives.
   */
  readonly #translation: StreamTranslation<string | Uint8Array> | undefined;
  /**
   * The unfinished frame's bytes, not yet relayed, as they came: joined once the frame is whole, so a frame arriving in
   * many small reads is copied once, not once per read.
   */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** The unfinished frame's declared length (0: its 4-byte prefix has not all come yet). */
  #needed = 0;
  readonly #maxFrameBytes: number;
  /** A frame longer than the limit (or one that is no frame): the stream can no longer be metered, and the relay ends it. */
  overflowed = false;

  constructor(surface: ApiSurface, translation?: StreamTranslation<string | Uint8Array>, maxFrameBytes = MAX_EVENT_STREAM_FRAME_BYTES) {
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
    if (this.#heldBytes > 0) {
      // Still short of the frame's end: held as it came (`needed` known once its length prefix is all here).
      if (this.#needed === 0 && this.#heldBytes + chunk.length >= 4) this.#needed = this.#declared(Buffer.concat([...this.#held, chunk.subarray(0, 4)]));
      if (this.overflowed) return undefined;
      if (this.#needed === 0 || this.#heldBytes + chunk.length < this.#needed) {
        copiedBytes += chunk.length;
        this.#hold(Buffer.from(chunk));
        return undefined;
      }
    }
    const joined = this.#heldBytes === 0 ? chunk : Buffer.concat([...this.#held, chunk]);
    if (joined !== chunk) copiedBytes += joined.length;
    this.#held = [];
    this.#heldBytes = 0;
    this.#needed = 0;
    let at = 0;
    while (joined.length - at >= 4) {
      const total = this.#declared(joined.subarray(at));
      if (this.overflowed) return undefined;
      if (joined.length - at < total) {
        this.#needed = total;
        break;
      }
      this.#frame(joined.subarray(at, at + total));
      at += total;
    }
    // Kept as a copy: the chunk it views is handed on to the client's socket.
    if (at < joined.length) {
      copiedBytes += joined.length - at;
      this.#hold(Buffer.from(joined.subarray(at)));
    }
    if (at === 0) return undefined;
    return at === joined.length && joined === chunk ? chunk : joined.subarray(0, at);
  }

  /** The upstream ended: a frame cut off in the middle is left unmetered (the stream did not finish). */
  end(): Buffer | undefined {
    this.#held = [];
    this.#heldBytes = 0;
    this.#needed = 0;
    return undefined;
  }

  /** The total length `bytes`' frame declares; a length no frame can have marks the stream overflowed. */
  #declared(bytes: Buffer): number {
    const total = bytes.readUInt32BE(0);
    if (total < MIN_FRAME_BYTES || total > this.#maxFrameBytes) {
      this.overflowed = true;
      this.#held = [];
      this.#heldBytes = 0;
    }
    return total;
  }

  #hold(bytes: Buffer): void {
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
  }

  #frame(frame: Buffer): void {
    let message;
    try {
      message = eventStreamCodec.decode(frame);
    } catch {
      // A checksum that does not match: no SDK reads past it, so the stream failed at the provider. The frame goes to
      // a Bedrock client as it came (its SDK raises the mismatch); a translated stream's client gets an error event.
      this.facts.errored = true;
      this.#translation?.event('internalServerException', JSON.stringify({ message: 'Bedrock sent an event-stream frame whose checksum does not match.' }));
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
    if (this.#surface === 'converse-stream') {
      this.#converseEvent(String(type), body);
      // A Messages client's stream (translate/messages-via-converse.ts): each event goes to it as it came.
      this.#translation?.event(String(type), text);
    }
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
    const reported = event?.['amazon-bedrock-invocationMetrics'];
    if (obj(reported)) {
      // What Bedrock counted (and bills), on the stream's last chunk, whatever the model reported before (which stays
      // when Bedrock's counts are not all there).
      const counted = invocationMetricsUsage(reported);
      if (counted) this.facts.usage = withLongWrites(counted, this.facts.usage?.cacheWrite1hTokens);
      this.facts.terminal = true;
    }
  }
}
