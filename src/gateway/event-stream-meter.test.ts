import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamMeter, MAX_EVENT_STREAM_FRAME_BYTES, eventStreamBytesCopied } from './event-stream-meter.ts';
import { eventStreamCodec } from './formats/bedrock.ts';
import type { StreamTranslation } from './translate/index.ts';

function eventFrame(type: string, body: unknown): Buffer {
  return Buffer.from(eventStreamCodec.encode({
    headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' } },
    body: Buffer.from(JSON.stringify(body)),
  }));
}

/** A frame's 4-byte length prefix declaring `total` bytes, then `filler` bytes of it. */
function declared(total: number, filler: number): Buffer {
  const bytes = Buffer.alloc(4 + filler);
  bytes.writeUInt32BE(total, 0);
  return bytes;
}

describe('EventStreamMeter', () => {
  it('relays whole frames as they complete, however the reads split them, and meters ConverseStream usage', () => {
    const all = Buffer.concat([
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
      eventFrame('metadata', { usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 } }),
    ]);
    for (const size of [1, 3, 5, 17, all.length]) {
      const meter = new EventStreamMeter('converse-stream');
      const out: Buffer[] = [];
      for (let i = 0; i < all.length; i += size) {
        const relayed = meter.push(all.subarray(i, i + size));
        if (relayed) out.push(Buffer.from(relayed));
      }
      assert.deepEqual(Buffer.concat(out), all, `split every ${size}`);
      assert.equal(meter.facts.usage?.inputTokens, 10);
      assert.equal(meter.facts.stopReason, 'end_turn');
      assert.equal(meter.facts.terminal, true);
    }
  });

  it('a frame declaring more than an event-stream message may be (16 MiB) ends the metering at once, nothing held', () => {
    const meter = new EventStreamMeter('converse-stream');
    assert.equal(meter.push(declared(MAX_EVENT_STREAM_FRAME_BYTES, 100)), undefined);
    assert.equal(meter.overflowed, false, 'a frame of the most AWS sends is waited for');
    const over = new EventStreamMeter('converse-stream');
    // The length prefix split across reads: judged once it is whole.
    const prefix = declared(MAX_EVENT_STREAM_FRAME_BYTES + 1, 0);
    assert.equal(over.push(prefix.subarray(0, 2)), undefined);
    assert.equal(over.overflowed, false);
    assert.equal(over.push(Buffer.concat([prefix.subarray(2), Buffer.alloc(64)])), undefined);
    assert.equal(over.overflowed, true);
  });

  it('a large frame arriving in many small reads is held without re-copying what came before each read', () => {
    // 8 MiB in 4 KiB reads: joined on every read this copies ~8 GiB; held as it came, 16 MiB.
    const body = { bytes: Buffer.alloc(6 * 1024 * 1024, 1).toString('base64') };
    const frame = eventFrame('chunk', body);
    const meter = new EventStreamMeter('invoke-stream');
    const before = eventStreamBytesCopied();
    let relayed = 0;
    for (let i = 0; i < frame.length; i += 4096) relayed += meter.push(frame.subarray(i, i + 4096))?.length ?? 0;
    const copied = eventStreamBytesCopied() - before;
    assert.equal(relayed, frame.length);
    assert.ok(copied < 3 * frame.length, `${copied} bytes copied for one ${frame.length}-byte frame`);
  });

  it('a frame whose checksum does not match fails the stream, and a translated stream\'s client is told', () => {
    const events: [string, string][] = [];
    const translation: StreamTranslation = { event: (event, data) => { events.push([event, data]); }, take: () => '', finish: () => '' };
    const meter = new EventStreamMeter('invoke-stream', translation);
    const frame = eventFrame('chunk', { bytes: Buffer.from('{"type":"ping"}').toString('base64') });
    frame[frame.length - 1]! ^= 0xff;
    assert.ok(meter.push(frame), 'relayed as it came');
    assert.equal(meter.facts.errored, true);
    assert.deepEqual(events.map(([event]) => event), ['internalServerException']);
    assert.match(JSON.parse(events[0]![1]).message, /checksum/);
  });
});
