// Firewall's response rules on Bedrock's own streams (gateway-behaviour.md "Firewall"), whose events are binary AWS
// event-stream frames, each closed by a CRC: a frame is screened whole, and one that changes is encoded anew with the
// SDK's codec. ConverseStream: a `toolUse` block's frames are held from its contentBlockStart to its contentBlockStop
// and judged there; text frames pass as they come. InvokeModelWithResponseStream (Claude's, the only body let through:
// firewall/index.ts): each `chunk` carries one Anthropic Messages event, screened by the Messages guard.
import type { ApiSurface } from '../../catalog/types.ts';
import type { CompiledPolicy, FirewallFinding } from '../../domain/firewall.ts';
import { eventFrame, eventStreamCodec } from '../formats/bedrock.ts';
import { MIN_FRAME_BYTES } from '../event-stream-meter.ts';
import { obj, parseJson } from '../formats/types.ts';
import type { Json } from '../translate/json.ts';
import { callBlockedText, CountingGuard, judged, streamGuard, type ToolCallGuard } from './tool-calls.ts';

/** A decoded event frame: its `:event-type` and its body's text; undefined for an exception frame or a torn one. */
function eventOf(frame: Buffer): { type: string; body: string } | undefined {
  let message;
  try {
    message = eventStreamCodec.decode(frame);
  } catch {
    // A checksum that does not match: it goes to the client as it came, whose SDK raises the mismatch.
    return undefined;
  }
  if (message.headers[':message-type']?.value !== 'event') return undefined;
  return { type: String(message.headers[':event-type']?.value ?? ''), body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8') };
}

/** Screens an event stream frame by frame (the stream meter relays whole frames; a partial one waits for its end). */
abstract class FrameGuard extends CountingGuard {
  #pending: Buffer | undefined;

  get sequenceShift(): number {
    return 0;
  }

  protected screen(bytes: Buffer): Buffer | undefined {
    const data = this.#pending ? Buffer.concat([this.#pending, bytes]) : bytes;
    this.#pending = undefined;
    const out: Buffer[] = [];
    let at = 0;
    while (data.length - at >= 4) {
      const total = data.readUInt32BE(at);
      // No frame declares less: the rest is not frames, and goes as it came (the meter ends such a stream).
      if (total < MIN_FRAME_BYTES) {
        out.push(data.subarray(at));
        at = data.length;
        break;
      }
      if (data.length - at < total) break;
      out.push(...this.frame(data.subarray(at, at + total)));
      at += total;
    }
    if (at < data.length) this.#pending = Buffer.from(data.subarray(at));
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : Buffer.concat(out);
  }

  end(): Buffer | undefined {
    const out = [...this.finish()];
    if (this.#pending) out.push(this.#pending);
    this.#pending = undefined;
    return out.length === 0 ? undefined : Buffer.concat(out);
  }

  /** One whole frame → the frames to send now. */
  protected abstract frame(frame: Buffer): Buffer[];

  /** The stream ended: what is left to send. */
  protected finish(): Buffer[] {
    return [];
  }
}

/** ConverseStream: a `toolUse` block from its contentBlockStart to its contentBlockStop. */
class ConverseStreamGuard extends FrameGuard {
  #held: { index: unknown; name: string; args: string; frames: Buffer[] } | undefined;
  #released = 0;
  #blocked = false;

  protected holding(): boolean {
    return this.#held !== undefined;
  }

  protected frame(frame: Buffer): Buffer[] {
    const event = eventOf(frame);
    if (!event) return [frame];
    const held = this.#held;
    // Most frames are text deltas, passed on unread while no call is held.
    if (event.type === 'contentBlockStart') {
      const body = obj(parseJson(event.body));
      const use = obj(obj(body?.start)?.toolUse);
      if (use) {
        this.#held = { index: body!.contentBlockIndex, name: typeof use.name === 'string' ? use.name : '', args: '', frames: [frame] };
        return [];
      }
    } else if (held && (event.type === 'contentBlockDelta' || event.type === 'contentBlockStop')) {
      const body = obj(parseJson(event.body));
      if (body && body.contentBlockIndex === held.index) {
        held.frames.push(frame);
        const input = obj(obj(body.delta)?.toolUse)?.input;
        if (typeof input === 'string') held.args += input;
        return event.type === 'contentBlockStop' ? this.#judged() : [];
      }
    } else if (event.type === 'messageStop' && this.#blocked && this.#released === 0) {
      const body = obj(parseJson(event.body));
      // Every call was blocked: the turn ends as one without calls does.
      if (body && body.stopReason === 'tool_use') return [eventFrame('messageStop', { ...body, stopReason: 'end_turn' })];
    }
    return [frame];
  }

  #judged(): Buffer[] {
    const held = this.#held!;
    this.#held = undefined;
    // A block streamed with no input delta is a call without arguments.
    const finding = judged(this.policies, held.name, held.args === '' ? '{}' : held.args, this.noted);
    if (!finding) {
      this.#released++;
      return held.frames;
    }
    this.#blocked = true;
    // A text block of the same index: Bedrock streams text blocks without a contentBlockStart.
    const contentBlockIndex = held.index;
    return [
      eventFrame('contentBlockDelta', { contentBlockIndex, delta: { text: callBlockedText(finding, held.name) } }),
      eventFrame('contentBlockStop', { contentBlockIndex }),
    ];
  }

  /** A call cut off by the stream's end is not released: it never completed. */
  protected override finish(): Buffer[] {
    this.#held = undefined;
    return [];
  }
}

/** Anthropic's event name as SSE may carry it; anything else (line breaks: SSE framing of its own) is left to the data. */
const EVENT_NAME = /^[a-z_]+$/;

/** Messages SSE, as the Messages guard writes it, back into InvokeModel's `chunk` frames (one event each). */
export function sseAsChunks(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const raw of text.split('\n\n')) {
    const data = raw.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n');
    if (data !== '') out.push(eventFrame('chunk', { bytes: Buffer.from(data).toString('base64') }));
  }
  return out;
}

/**
 * InvokeModelWithResponseStream for Claude: each chunk's Messages event through the Messages guard, as SSE (its JSON on
 * one line). A chunk the guard passes unchanged goes out as the very frame it was; what it releases or writes in a
 * held block's place, as chunk frames again.
 */
class InvokeStreamGuard extends FrameGuard {
  readonly #messages: ToolCallGuard;

  constructor(policies: readonly CompiledPolicy[], noted: FirewallFinding[]) {
    super(policies, noted);
    this.#messages = streamGuard('messages', policies, noted)!;
  }

  protected holding(): boolean {
    return this.#messages.held > 0;
  }

  protected frame(frame: Buffer): Buffer[] {
    const event = eventOf(frame);
    if (event?.type !== 'chunk') return [frame];
    const bytes = obj(parseJson(event.body))?.bytes;
    const message: Json | undefined = typeof bytes === 'string' ? obj(parseJson(Buffer.from(bytes, 'base64').toString('utf8'))) : undefined;
    if (typeof message?.type !== 'string') return [frame];
    const sse = `${EVENT_NAME.test(message.type) ? `event: ${message.type}\n` : ''}data: ${JSON.stringify(message)}\n\n`;
    const out = this.#messages.push(Buffer.from(sse))?.toString('utf8') ?? '';
    return out === sse ? [frame] : sseAsChunks(out);
  }

  protected override finish(): Buffer[] {
    return sseAsChunks(this.#messages.end()?.toString('utf8') ?? '');
  }
}

/** The guard for a stream of the client's surface: Bedrock's event streams here, SSE surfaces' in tool-calls.ts. */
export function responseGuard(surface: ApiSurface, policies: readonly CompiledPolicy[], noted: FirewallFinding[]): ToolCallGuard | undefined {
  if (surface === 'converse-stream') return new ConverseStreamGuard(policies, noted);
  if (surface === 'invoke-stream') return new InvokeStreamGuard(policies, noted);
  return streamGuard(surface, policies, noted);
}
