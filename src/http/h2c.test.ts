import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { serveH2c } from './h2c.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const TIMEOUT_MS = 300;

/** A server on both protocols with short limits; `accepted`: the server's side of its first connection. */
async function serve(): Promise<{ port: number; accepted: Promise<Socket>; close(): Promise<void> }> {
  const handler = (_req: IncomingMessage, res: ServerResponse): void => { res.end('ok'); };
  const server = createServer({ headersTimeout: TIMEOUT_MS, requestTimeout: TIMEOUT_MS * 2, connectionsCheckingInterval: 50 }, handler);
  const h2c = serveH2c(server, handler, { headersTimeoutMs: TIMEOUT_MS, requestTimeoutMs: TIMEOUT_MS * 2, keepAliveTimeoutMs: TIMEOUT_MS, maxConcurrentStreams: 100 }, () => {});
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port, accepted,
    close: () => new Promise((resolve) => { h2c.destroyConnections(); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Resolves with how long `socket` took to close, or with Infinity when it is still open after `withinMs`. */
function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(Infinity), withinMs);
    socket.once('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
  });
}

test('a connection trickling the HTTP/2 preface a byte at a time is closed at the header timeout from its start', async () => {
  const s = await serve();
  const client = connect(s.port, '127.0.0.1');
  client.on('error', () => {});
  client.resume();
  let sent = 0;
  const trickle = setInterval(() => { if (sent < PREFACE.length) client.write(PREFACE.subarray(sent, ++sent)); }, TIMEOUT_MS / 3);
  try {
    assert.ok(await closedWithin(await s.accepted, TIMEOUT_MS * 4) < TIMEOUT_MS * 4, `still open with ${sent} of ${PREFACE.length} bytes sent`);
  } finally {
    clearInterval(trickle);
    client.destroy();
    await s.close();
  }
});

test('an HTTP/2 connection whose client never reads is let go once its session ends, not held half-open', async () => {
  const s = await serve();
  // The preface sent, then nothing read: the server's SETTINGS and GOAWAY stay unread, no FIN ever comes back.
  const client = connect(s.port, '127.0.0.1');
  client.on('error', () => {});
  client.pause();
  client.write(PREFACE);
  try {
    // The session's idle limit (TIMEOUT_MS), then the grace the client gets to close its side (1 s).
    assert.ok(await closedWithin(await s.accepted, TIMEOUT_MS + 2500) < Infinity, 'the server\'s socket was destroyed');
  } finally {
    client.destroy();
    await s.close();
  }
});

test('HTTP/1.1 requests pipelined in the first packet are all answered, in order', async () => {
  const s = await serve();
  const client = connect(s.port, '127.0.0.1');
  let text = '';
  client.setEncoding('utf8');
  client.on('data', (part: string) => { text += part; });
  client.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  try {
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  } finally {
    client.destroy();
    await s.close();
  }
});
