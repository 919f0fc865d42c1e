// Requests node:http cannot parse never reach a handler; both planes still answer them in their documented
// error shape, and the raw bytes (bearer tokens, provider-key values) never reach the log, even at trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { connect as connectH2, constants as h2constants } from 'node:http2';
import pino from 'pino';
import { BOOTSTRAP, gw, startHarness, type Harness } from './helpers/gateway.ts';
import { rawHttp } from './helpers/raw-http.ts';
import { LineCapture } from './helpers/log-capture.ts';

const RQ = /^rq_[0-9A-Z]{26}$/;

describe('unparsable requests', () => {
  let h: Harness;
  let token: string;
  const capture = new LineCapture();
  before(async () => {
    h = await startHarness('sqlite', {}, { logger: pino({ level: 'trace' }, capture) });
    token = (await h.accessKey()).token;
  });
  after(async () => { await h.close(); });

  const oversized = (bearer: string) =>
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${bearer}\r\nx-filler: ${'a'.repeat(20_000)}\r\n\r\n`;
  const badChunk = (path: string, bearer: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${bearer}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\nzz\r\n`;

  test('gateway: a header block over 16 KB gets 431 and broken framing 400, in the OpenAI error shape with a request id', async () => {
    const big = await rawHttp(h.gatewayUrl, oversized(token));
    assert.equal(big.status, 431);
    assert.match(big.headers['ngrok-aig-request-id']!, RQ);
    // As on every gateway answer: no upstream attempt was made.
    assert.equal(big.headers['ngrok-aig-attempts'], '0');
    assert.equal(big.headers['content-type'], 'application/json');
    const bigError = JSON.parse(big.body).error;
    assert.equal(bigError.code, 'ERR_NGROK_27228');
    assert.match(bigError.message, /headers are larger/);
    const broken = await rawHttp(h.gatewayUrl, badChunk('/v1/chat/completions', token, '{"model":"gpt-4o"}'));
    assert.equal(broken.status, 400);
    assert.equal(broken.headers['ngrok-aig-attempts'], '0');
    assert.equal(JSON.parse(broken.body).error.code, 'ERR_NGROK_27228');
  });

  test('control plane: the same requests get 431 / 400 in the contract Error shape', async () => {
    const big = await rawHttp(h.apiUrl, oversized(BOOTSTRAP));
    assert.equal(big.status, 431);
    assert.deepEqual(Object.keys(JSON.parse(big.body)).sort(), ['details', 'errorCode', 'msg', 'statusCode']);
    assert.equal(JSON.parse(big.body).statusCode, 431);
    assert.equal(JSON.parse(big.body).errorCode, 'ERR_NGROK_27606');
    // As every control-plane answer: a cache keeps none.
    assert.equal(big.headers['cache-control'], 'no-store');
    const broken = await rawHttp(h.apiUrl, badChunk('/provider-keys', BOOTSTRAP, '{"providerId":"openai","value":"sk-SECRET-VALUE-1234567890"}'));
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).errorCode, 'ERR_NGROK_27606');
  });

  /** tollgate_unparsable_requests_total by status, as the API port's /metrics shows it now. */
  async function unparsableCounts(): Promise<Record<string, number>> {
    const text = await (await fetch(`${h.apiUrl}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^tollgate_unparsable_requests_total\{status="(\d+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
    return counts;
  }

  /** The access line under `requestId`, waited for (the log is written asynchronously). */
  async function accessLine(requestId: string): Promise<Record<string, unknown>> {
    for (let waited = 0; ; waited += 25) {
      const found = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.log === 'access' && l.requestId === requestId);
      if (found.length > 0) {
        assert.equal(found.length, 1, 'one access line per request');
        return found[0]!;
      }
      if (waited > 5000) throw new Error(`no access line for ${requestId}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  test('gateway: each unparsable request is counted by status and has one access line under the request id it was answered with', async () => {
    const before = await unparsableCounts();
    const big = await rawHttp(h.gatewayUrl, oversized(token));
    assert.equal(big.status, 431);
    const malformed = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/9.9 nonsense\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`);
    assert.equal(malformed.status, 400);
    const bigLine = await accessLine(big.headers['ngrok-aig-request-id']!);
    const malformedLine = await accessLine(malformed.headers['ngrok-aig-request-id']!);
    for (const [line, status] of [[bigLine, 431], [malformedLine, 400]] as const) {
      assert.deepEqual([line.status, line.errorCode, line.surface, line.attempts, line.accessKeyId, line.modelAsked, line.totalMs, line.msg], [status, 'ERR_NGROK_27228', null, 0, null, null, null, 'request']);
      assert.ok(!('requestHeaders' in line) && !('requestBody' in line), 'no request header or byte');
    }
    const after = await unparsableCounts();
    assert.equal((after['431'] ?? 0) - (before['431'] ?? 0), 1);
    assert.equal((after['400'] ?? 0) - (before['400'] ?? 0), 1);
    // A chunk that breaks after the headers were read: the answer is the request's own, under its id and surface —
    // observed once, as that request (not also as an unparsable one, nor as a client that left).
    const broken = await rawHttp(h.gatewayUrl, badChunk('/v1/chat/completions', token, '{"model":"gpt-4o"}'));
    const brokenLine = await accessLine(broken.headers['ngrok-aig-request-id']!);
    assert.deepEqual([brokenLine.status, brokenLine.errorCode, brokenLine.surface, brokenLine.clientGone], [400, 'ERR_NGROK_27228', 'chat-completions', false]);
    assert.equal(((await unparsableCounts())['400'] ?? 0) - (before['400'] ?? 0), 1, 'the broken chunk is not counted as unparsable');
    // Their bearer token reached no line of the log, the access lines included.
    const text = capture.lines.join('\n');
    assert.ok(!text.includes(token), 'the access key in the log');
    assert.ok(!text.includes('a'.repeat(100)), 'the oversized header\'s value in the log');
  });

  test('nothing of an unparsable request is logged, even at trace level', async () => {
    await rawHttp(h.apiUrl, oversized(BOOTSTRAP));
    await rawHttp(h.apiUrl, badChunk('/provider-keys', BOOTSTRAP, '{"providerId":"openai","value":"sk-SECRET-VALUE-1234567890"}'));
    await rawHttp(h.gatewayUrl, oversized(token));
    const text = capture.lines.join('\n');
    assert.ok(text.length > 0, 'the trace logger captured something');
    for (const secret of [BOOTSTRAP, token, 'sk-SECRET-VALUE']) {
      assert.ok(!text.includes(secret), `${secret.slice(0, 8)}… in the log`);
      // Raw bytes logged as a Buffer would show as a list of numbers, which no text search finds.
      assert.ok(!text.includes(JSON.stringify([...Buffer.from(secret)]).slice(1, -1)), `${secret.slice(0, 8)}… as bytes in the log`);
    }
    assert.ok(!text.includes('rawPacket'));
  });
});

describe('slow clients', () => {
  let h: Harness;
  let token: string;
  const capture = new LineCapture();
  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_CLIENT_HEADERS_TIMEOUT_MS: '300', TOLLGATE_CLIENT_REQUEST_TIMEOUT_MS: '600' }, { logger: pino({ level: 'info' }, capture) });
    // An uncataloged (drip-…) model needs the account's own provider key.
    await h.providerKey('openai', 'sk-user-drip');
    token = (await h.accessKey()).token;
  });
  after(async () => { await h.close(); });

  /** Milliseconds until the server closes a connection that sent `bytes` and then nothing, and what it answered. */
  async function heldFor(url: string, bytes: string): Promise<{ ms: number; status: number | undefined }> {
    const started = performance.now();
    const status = await rawHttp(url, bytes).then((a) => a.status, () => undefined);
    return { ms: performance.now() - started, status };
  }

  test('connections that send nothing, or headers that never finish, are closed on both planes', async () => {
    for (const url of [h.gatewayUrl, h.apiUrl]) {
      for (const bytes of ['', 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthoriz']) {
        const { ms, status } = await heldFor(url, bytes);
        assert.ok(ms < 5000, `${url} held ${JSON.stringify(bytes.slice(0, 10))} for ${ms} ms`);
        if (status !== undefined) assert.equal(status, 408);
      }
    }
  });

  test('headers that never finish are counted and logged as a 408 under the id the client got; a connection that sends nothing is not', async () => {
    const count = async (): Promise<number> => {
      const text = await (await fetch(`${h.apiUrl}/metrics`)).text();
      return Number(/^tollgate_unparsable_requests_total\{status="408"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    const stalled = await rawHttp(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nx-more: `);
    assert.equal(stalled.status, 408);
    const requestId = stalled.headers['ngrok-aig-request-id']!;
    assert.match(requestId, /^rq_/);
    await rawHttp(h.gatewayUrl, '').catch(() => undefined);
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const deadline = Date.now() + 5000;
      const look = (): void => {
        const found = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === requestId);
        if (found) return resolve(found);
        if (Date.now() > deadline) return reject(new Error('no access line'));
        setTimeout(look, 25);
      };
      look();
    });
    assert.deepEqual([line.status, line.errorCode, line.surface], [408, 'ERR_NGROK_27228', null]);
    // A connection that sent nothing made no request (a proxy's or a browser's preconnect): only the stalled one counts.
    assert.equal(await count(), before + 1);
    assert.ok(!capture.lines.join('\n').includes(token), 'the access key in the log');
  });

  test('a body that never arrives is cut after the request timeout', async () => {
    const gateway = await heldFor(h.gatewayUrl, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: 1000\r\n\r\n{"mo`);
    assert.ok(gateway.ms < 5000, `gateway held ${gateway.ms} ms`);
    const control = await heldFor(h.apiUrl, `POST /providers HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${BOOTSTRAP}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"pro`);
    assert.ok(control.ms < 5000, `control plane held ${control.ms} ms`);
    assert.equal(control.status, 408);
    // A body cut off by its client's timeout is not the gateway's failure.
    assert.ok(!capture.lines.join('\n').includes('gateway request failed'), 'no error line for a client that never sent its body');
    // The gateway answered it 408, and logs it so — not as a client that left (499).
    if (gateway.status !== undefined) assert.equal(gateway.status, 408);
    const access = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.log === 'access');
    const timedOut = access.at(-1)!;
    assert.deepEqual([timedOut.status, timedOut.errorCode, timedOut.clientGone], [408, 'ERR_NGROK_27228', false]);
  });

  test('an HTTP/2 client that resets its stream mid-body is logged as a client that left (499, clientGone), as on HTTP/1.1', async () => {
    const session = connectH2(h.gatewayUrl);
    try {
      const seen = capture.lines.length;
      await new Promise<void>((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': '/v1/messages', 'x-api-key': token, 'content-length': '100' });
        stream.on('error', () => { /* the reset is this test's own */ });
        stream.on('close', () => resolve());
        stream.write('{"model"', () => setTimeout(() => stream.close(h2constants.NGHTTP2_CANCEL), 100));
      });
      const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const deadline = Date.now() + 5000;
        const look = (): void => {
          const found = capture.lines.slice(seen).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access');
          if (found) return resolve(found);
          if (Date.now() > deadline) return reject(new Error('no access line'));
          setTimeout(look, 25);
        };
        look();
      });
      assert.deepEqual([line.surface, line.status, line.errorCode, line.clientGone], ['messages', 499, 'client-gone', true]);
      assert.ok(!capture.lines.slice(seen).join('\n').includes('gateway request failed'), 'not the gateway\'s failure');
    } finally {
      session.close();
    }
  });

  test('an answer streaming longer than the request timeout is not cut', async () => {
    const started = performance.now();
    const r = await gw(h, '/v1/chat/completions', { token, body: { model: 'openai:drip-gpt-4o', stream: true, messages: [{ role: 'user', content: 'a slow story' }] } });
    assert.equal(r.status, 200, r.text);
    assert.ok(performance.now() - started > 600, 'the stream outlived the request timeout');
    assert.match(r.text, /data: \[DONE\]/);
  });
});

describe('bodies nobody will read', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite'); });
  after(async () => { await h.close(); });

  /** Streams a body without end after `head`; resolves with the answer's status line and how long the server kept reading. */
  function endlessUpload(url: string, head: string): Promise<{ statusLine: string; ms: number }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
      const started = performance.now();
      let answer = '';
      const chunk = Buffer.alloc(64 * 1024, 120);
      const socket = connect(Number(port), hostname, () => {
        socket.write(head);
        const pump = () => { while (!socket.destroyed && socket.write(chunk)) { /* until the buffer is full */ } };
        socket.on('drain', pump);
        pump();
      });
      socket.on('data', (data: Buffer) => { answer += data.toString('latin1'); });
      socket.on('error', () => { /* a reset while sending is the expected end */ });
      socket.on('close', () => resolve({ statusLine: answer.split('\r\n')[0] ?? '', ms: performance.now() - started }));
      setTimeout(() => socket.destroy(), 8000).unref();
    });
  }

  /**
   * Sends `head` and a body of `bytes` paced over ~`ms`, reading nothing until all of it is sent — as the official
   * SDKs do — then resolves with the answer's status line ('' when the connection was reset under it).
   */
  function uploadThenRead(url: string, head: string, bytes: number, ms: number): Promise<{ statusLine: string; endedByServer: boolean }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
      let answer = '';
      let endedByServer = false;
      const socket = connect(Number(port), hostname, async () => {
        socket.pause();
        socket.write(head);
        const slices = 20;
        const slice = Buffer.alloc(Math.ceil(bytes / slices), 120);
        for (let i = 0; i < slices && !socket.destroyed; i++) {
          socket.write(slice);
          await new Promise((r) => setTimeout(r, ms / slices));
        }
        socket.on('data', (data: Buffer) => { answer += data.toString('latin1'); });
        socket.resume();
      });
      socket.on('error', () => { /* a reset: resolved at close with what was read */ });
      // The server's FIN (not this test's own timeout) ends the connection.
      socket.on('end', () => { endedByServer = true; socket.end(); });
      socket.on('close', () => resolve({ statusLine: answer.split('\r\n')[0] ?? '', endedByServer }));
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
  }

  test('a body over the limit, sent whole before the answer is read (as SDKs send), still gets its 413', async () => {
    const bytes = 33 * 1024 * 1024;
    const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${(await h.accessKey()).token}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n`;
    // 1.5 s of sending: the connection used to be reset 0.5 s after the refusal, and the client read nothing.
    const { statusLine, endedByServer } = await uploadThenRead(h.gatewayUrl, head, bytes, 1500);
    assert.match(statusLine, /^HTTP\/1\.1 413 /);
    // Then the server ends the connection: one drained body per connection, never a stream of them.
    assert.ok(endedByServer, 'the server ended the connection after the drained body');
  });

  test('an anonymous upload is answered 401 and its connection closed, on both planes', async () => {
    for (const [url, path] of [[h.gatewayUrl, '/v1/chat/completions'], [h.apiUrl, '/providers']] as const) {
      const { statusLine, ms } = await endlessUpload(url, `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000000\r\n\r\n`);
      assert.match(statusLine, /^HTTP\/1\.1 401 /, url);
      assert.ok(ms < 5000, `${url} kept reading for ${Math.round(ms)} ms`);
    }
  });
});
