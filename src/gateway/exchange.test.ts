import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { UpstreamExchange } from './exchange.ts';

async function withUpstream(handler: Parameters<typeof createServer>[1], run: (pool: Pool) => Promise<void>): Promise<void> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  try {
    await run(pool);
  } finally {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function start(pool: Pool, exchange: UpstreamExchange): void {
  pool.dispatch({ path: '/', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, bodyTimeout: 2000, headersTimeout: 2000 }, exchange);
}

test('collects a body written in pieces, then reuses the connection after a discarded one', async () => {
  let sockets = 0;
  await withUpstream((req, res) => {
    req.resume();
    res.writeHead(req.headers['x-fail'] ? 500 : 200, { 'content-type': 'application/json' });
    res.write('{"a":');
    setTimeout(() => res.end('1}'), 20);
  }, async (pool) => {
    pool.on('connect', () => sockets++);
    const failed = new UpstreamExchange();
    pool.dispatch({ path: '/', method: 'POST', body: '{}', headers: { 'x-fail': '1' } }, failed);
    assert.equal((await failed.head).statusCode, 500);
    await failed.discard();
    const ok = new UpstreamExchange();
    start(pool, ok);
    const head = await ok.head;
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-type'], 'application/json');
    assert.equal((await ok.collect()).toString(), '{"a":1}');
    assert.equal(sockets, 1, 'the discarded answer left its connection reusable');
  });
});

test('an abort mid-stream reaches the sink as an error and keeps the gateway\'s cause', async () => {
  await withUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    // Never ends: only the abort finishes this exchange.
  }, async (pool) => {
    const exchange = new UpstreamExchange();
    start(pool, exchange);
    await exchange.head;
    const received: string[] = [];
    const failure = await new Promise<Error>((resolve) => {
      exchange.pipe({
        data(chunk) { received.push(chunk.toString()); exchange.abort('client-gone'); return true; },
        end() { resolve(new Error('ended')); },
        error(err) { resolve(err); },
      });
    });
    assert.deepEqual(received, ['data: 1\n\n']);
    assert.equal(failure.name, 'AbortError');
    assert.equal(exchange.cause, 'client-gone');
  });
});

test('an exchange aborted before its request starts fails its head and never reaches the upstream', async () => {
  let requests = 0;
  await withUpstream((req, res) => { requests++; req.resume(); res.end('{}'); }, async (pool) => {
    const exchange = new UpstreamExchange();
    exchange.abort('total-timeout');
    start(pool, exchange);
    await assert.rejects(exchange.head, { name: 'AbortError' });
    assert.equal(exchange.cause, 'total-timeout');
    // A later exchange on the same pool still works.
    const next = new UpstreamExchange();
    start(pool, next);
    assert.equal((await next.head).statusCode, 200);
    await next.collect();
    assert.equal(requests, 1);
  });
});

test('a sink that refuses more data pauses the upstream until resumed', async () => {
  const piece = 'x'.repeat(64 * 1024);
  await withUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 64; i++) res.write(piece);
    res.end();
  }, async (pool) => {
    const exchange = new UpstreamExchange();
    start(pool, exchange);
    await exchange.head;
    let bytes = 0;
    let paused = false;
    let pausedOnce = false;
    await new Promise<void>((resolve, reject) => {
      exchange.pipe({
        data(chunk) {
          // A throw here fails the exchange, so the test too.
          assert.equal(paused, false, 'no data while paused');
          bytes += chunk.length;
          if (pausedOnce || bytes < 512 * 1024) return true;
          paused = pausedOnce = true;
          setTimeout(() => { paused = false; exchange.resume(); }, 50);
          return false;
        },
        end: resolve,
        error: reject,
      });
    });
    assert.equal(bytes, 64 * piece.length);
    assert.ok(pausedOnce);
  });
});
