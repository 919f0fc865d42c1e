// What the gateway writes to a client is seen once per chunk, whatever writes it (the access log's bodies, request
// capture), over HTTP/1.1 and HTTP/2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createH2Server, connect as connectH2 } from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyCapture } from '../domain/request-capture.ts';
import { BODY_CAPTURE_BYTES } from './observe/access-log.ts';
import { tapWrites } from './response-tap.ts';

test('the logged body is what the client got once, over HTTP/2 too, and a buffer the caller reuses does not change it', async () => {
  const server = createH2Server((_req, res) => {
    const capture = new BodyCapture(BODY_CAPTURE_BYTES);
    tapWrites(res as unknown as ServerResponse, (chunk) => capture.push(chunk));
    const pooled = Buffer.from('{"a":');
    res.write(pooled);
    pooled.fill(0x78);
    res.end('1}');
    server.emit('captured', capture.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const captured = new Promise<string>((resolve) => server.once('captured', resolve));
    const session = connectH2(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const req = session.request({ ':path': '/' });
    req.resume();
    await new Promise((resolve) => req.on('end', resolve));
    session.close();
    assert.equal(await captured, '{"a":1}');
  } finally {
    server.close();
  }
});
