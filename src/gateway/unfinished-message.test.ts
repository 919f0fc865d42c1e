// UnfinishedMessage against the installed `ws` itself: that its 'message' comes within its own 'data' listener (so a
// read is counted after the messages it completed), with fragments and pings between them, however the bytes arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { HeldAnswers } from './exchange.ts';
import { UNCOUNTED_BYTES, UnfinishedMessage } from './unfinished-message.ts';
import { seeded } from '../../test/helpers/seeded.ts';

/** A client's frame (masked, key 0: the payload as is). */
function frame(opcode: number, fin: boolean, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0, 0x80 | length]) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (length >= 126 && length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else if (length >= 65536) {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  header[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

test('a message still arriving is never counted under what ws holds of it past the free allowance, whatever the reads, fragments and pings; each whole message gives its bytes back, and the socket\'s close the rest', async () => {
  const seed = Number(process.env.TALLY_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = seeded(seed);
  const tally = new HeldAnswers(1024 * 1024 * 1024);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  const server: Server = createServer();
  const checks = { reads: 0, messages: 0, peak: 0 };
  const failures: string[] = [];
  let closed: Promise<void> | undefined;
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const unfinished = new UnfinishedMessage(tally, 'acct', () => failures.push('full'));
      // As realtime/gateway.ts listens: after ws's own reader.
      socket.on('data', (chunk: Buffer) => {
        unfinished.read(chunk.length);
        checks.reads++;
        const receiver = (ws as unknown as { _receiver: { _bufferedBytes: number; _messageLength: number } })._receiver;
        const holds = receiver._bufferedBytes + receiver._messageLength;
        checks.peak = Math.max(checks.peak, holds);
        if (unfinished.counted + UNCOUNTED_BYTES < holds) failures.push(`seed ${seed}: ws holds ${holds}, counted ${unfinished.counted}`);
        if (tally.held !== unfinished.counted) failures.push(`seed ${seed}: tally ${tally.held}, counted ${unfinished.counted}`);
      });
      ws.on('message', () => {
        unfinished.completed();
        checks.messages++;
      });
      closed = new Promise((resolve) => ws.once('close', () => {
        unfinished.release();
        resolve();
      }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const socket: Socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await once(socket, 'data');
    const frames: Buffer[] = [];
    let sent = 0;
    for (let i = 0; i < 40; i++) {
      const fragments = random() < 0.4 ? 1 + Math.floor(random() * 5) : 1;
      for (let f = 0; f < fragments; f++) {
        frames.push(frame(f === 0 ? 1 : 0, f === fragments - 1, Buffer.alloc(Math.floor(random() ** 3 * 400 * 1024), 0x61)));
        if (random() < 0.3) frames.push(frame(9, true, Buffer.from('ping')));
      }
      sent++;
    }
    // The last message never finished: its bytes stay counted until the socket closes.
    frames.push(frame(1, false, Buffer.alloc(300 * 1024, 0x61)));
    const bytes = Buffer.concat(frames);
    for (let at = 0; at < bytes.length;) {
      const piece = 1 + Math.floor(random() ** 2 * 200 * 1024);
      socket.write(bytes.subarray(at, at + piece));
      at += piece;
      if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const deadline = Date.now() + 10_000;
    while ((checks.messages < sent || tally.held < 300 * 1024 - UNCOUNTED_BYTES) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(checks.messages, sent, `seed ${seed}`);
    assert.ok(tally.held >= 300 * 1024 - UNCOUNTED_BYTES, `seed ${seed}: the unfinished message is counted`);
    socket.destroy();
    await closed;
    assert.deepEqual(failures, []);
    assert.equal(tally.held, 0, `seed ${seed}: the close gives the rest back`);
    assert.equal(tally.heldBy('acct'), 0);
  } finally {
    server.close();
    wss.close();
  }
});
