// Requests node:http cannot parse never reach a handler; both planes still answer them in their documented
// error shape, and the raw bytes (bearer tokens, provider-key values) never reach the log, even at trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { BOOTSTRAP, startHarness, type Harness } from './helpers/gateway.ts';
import { rawHttp } from './helpers/raw-http.ts';

const RQ = /^rq_[0-9A-Z]{26}$/;

describe('unparsable requests', () => {
  let h: Harness;
  let token: string;
  const logged: string[] = [];
  before(async () => {
    const capture = new Writable({ write(chunk: Buffer, _enc, done) { logged.push(chunk.toString('utf8')); done(); } });
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
    assert.equal(big.headers['content-type'], 'application/json');
    const bigError = JSON.parse(big.body).error;
    assert.equal(bigError.code, 'ERR_NGROK_27228');
    assert.match(bigError.message, /headers are larger/);
    const broken = await rawHttp(h.gatewayUrl, badChunk('/v1/chat/completions', token, '{"model":"gpt-4o"}'));
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).error.code, 'ERR_NGROK_27228');
  });

  test('control plane: the same requests get 431 / 400 in the contract Error shape', async () => {
    const big = await rawHttp(h.apiUrl, oversized(BOOTSTRAP));
    assert.equal(big.status, 431);
    assert.deepEqual(Object.keys(JSON.parse(big.body)).sort(), ['details', 'errorCode', 'msg', 'statusCode']);
    assert.equal(JSON.parse(big.body).statusCode, 431);
    assert.equal(JSON.parse(big.body).errorCode, 'ERR_NGROK_27606');
    const broken = await rawHttp(h.apiUrl, badChunk('/provider-keys', BOOTSTRAP, '{"providerId":"openai","value":"sk-SECRET-VALUE-1234567890"}'));
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).errorCode, 'ERR_NGROK_27606');
  });

  test('nothing of an unparsable request is logged, even at trace level', async () => {
    await rawHttp(h.apiUrl, oversized(BOOTSTRAP));
    await rawHttp(h.apiUrl, badChunk('/provider-keys', BOOTSTRAP, '{"providerId":"openai","value":"sk-SECRET-VALUE-1234567890"}'));
    await rawHttp(h.gatewayUrl, oversized(token));
    const text = logged.join('');
    assert.ok(text.length > 0, 'the trace logger captured something');
    for (const secret of [BOOTSTRAP, token, 'sk-SECRET-VALUE']) {
      assert.ok(!text.includes(secret), `${secret.slice(0, 8)}… in the log`);
      // Raw bytes logged as a Buffer would show as a list of numbers, which no text search finds.
      assert.ok(!text.includes(JSON.stringify([...Buffer.from(secret)]).slice(1, -1)), `${secret.slice(0, 8)}… as bytes in the log`);
    }
    assert.ok(!text.includes('rawPacket'));
  });
});
