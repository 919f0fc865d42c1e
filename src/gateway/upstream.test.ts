import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lookup } from '../domain/public-address.ts';
import type { AttemptPlan } from '../domain/routing.ts';
import type { Candidate } from '../domain/resolve.ts';
import { UpstreamExchange } from './exchange.ts';
import { Upstreams } from './upstream.ts';

function plan(baseUrl: string, custom: boolean): AttemptPlan {
  const surface = { format: 'openai', surface: 'chat-completions', path: '/chat/completions' } as Candidate['surface'];
  const candidate: Candidate = {
    requested: 'x:m', modelId: 'm', displayName: 'm', surface,
    provider: { id: custom ? 'intranet' : 'openai', displayName: 'p', baseUrl, auth: 'bearer', surfaces: [surface], managed: false, custom },
  };
  return { candidate, keySource: 'user', credential: 'sk-test' };
}

test("a tenant's provider host resolving to a private address is never connected to; an operator's is", async () => {
  let connections = 0;
  const server = createServer((req, res) => { req.resume(); res.end('{}'); });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // internal.example resolves to this machine, as a name in a tenant's baseUrl might.
  const lookup: Lookup = (_hostname, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
  const upstreams = new Upstreams({ loopId: '0123456789abcdef', allowPrivate: false, lookup });
  const call = (p: AttemptPlan) => {
    const exchange = new UpstreamExchange();
    upstreams.dispatch({ plan: p, body: Buffer.from('{}'), clientHeaders: {}, idleTimeoutMs: 2000 }, exchange);
    return exchange;
  };
  try {
    for (const baseUrl of [`http://internal.example:${port}/v1`, `http://127.0.0.1:${port}/v1`, `http://[::ffff:127.0.0.1]:${port}/v1`]) {
      await assert.rejects(call(plan(baseUrl, true)).head, (e: NodeJS.ErrnoException) => e.code === 'ERR_TOLLGATE_NON_PUBLIC_ADDRESS', baseUrl);
    }
    assert.equal(connections, 0);
    // The operator's own provider URL (a built-in's base URL from the environment) may be private.
    const operator = call(plan(`http://127.0.0.1:${port}/v1`, false));
    assert.equal((await operator.head).statusCode, 200);
    await operator.collect();
    assert.equal(connections, 1);
  } finally {
    await upstreams.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a pool no call used for a whole sweep period is closed; one in use or with a call in flight is kept', async () => {
  const server = createServer((req, res) => {
    req.resume();
    // `/slow`: an answer still in flight when the sweep runs.
    setTimeout(() => res.end('{}'), req.url!.includes('slow') ? 300 : 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // Sweeps are driven by hand here (the timer period is out of reach).
  const upstreams = new Upstreams({ loopId: '0123456789abcdef', allowPrivate: true, sweepMs: 3_600_000 });
  const call = async (baseUrl: string) => {
    const exchange = new UpstreamExchange();
    upstreams.dispatch({ plan: plan(baseUrl, false), body: Buffer.from('{}'), clientHeaders: {}, idleTimeoutMs: 2000 }, exchange);
    await exchange.head;
    await exchange.collect();
  };
  try {
    await call(`http://127.0.0.1:${port}/v1`);
    await call(`http://localhost:${port}/v1`);
    assert.equal(upstreams.poolCount, 2);
    upstreams.sweep();
    assert.equal(upstreams.poolCount, 2, 'both were used since the last sweep');
    await call(`http://127.0.0.1:${port}/v1`);
    const slow = call(`http://localhost:${port}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    upstreams.sweep();
    assert.equal(upstreams.poolCount, 2);
    upstreams.sweep();
    assert.equal(upstreams.poolCount, 1, 'the idle origin was closed, the one with an answer in flight kept');
    await slow;
    upstreams.sweep();
    assert.equal(upstreams.poolCount, 0);
    // A closed origin is opened again on its next call.
    await call(`http://127.0.0.1:${port}/v1`);
    assert.equal(upstreams.poolCount, 1);
  } finally {
    await upstreams.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a credential no header can carry (stored before values were checked) is never sent: the attempt fails as unsendable, not as a connection', async () => {
  let requests = 0;
  const server = createServer((req, res) => { requests++; req.resume(); res.end('{}'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstreams = new Upstreams({ loopId: '0123456789abcdef', allowPrivate: true });
  try {
    const exchange = new UpstreamExchange();
    const p = { ...plan(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, false), credential: 'sk-a\nb' };
    upstreams.dispatch({ plan: p, body: Buffer.from('{}'), clientHeaders: {}, idleTimeoutMs: 2000 }, exchange);
    await assert.rejects(exchange.head, (e: NodeJS.ErrnoException) => e.code === 'UND_ERR_INVALID_ARG');
    assert.equal(requests, 0);
  } finally {
    await upstreams.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a surface beside the base URL (Gemini\'s native API beside Google\'s OpenAI layer) goes under its parent, its own query joining the base\'s', async () => {
  const upstreams = new Upstreams({ loopId: 'test', allowPrivate: true });
  try {
    assert.equal(upstreams.target('https://generativelanguage.googleapis.com/v1beta/openai/', '/models/{model}:generateContent', true).path, '/v1beta/models/{model}:generateContent');
    assert.equal(upstreams.target('http://127.0.0.1:9/g/v1beta/openai?tenant=a', '/models/{model}:streamGenerateContent?alt=sse', true).path, '/g/v1beta/models/{model}:streamGenerateContent?alt=sse&tenant=a');
    assert.equal(upstreams.target('https://api.openai.com/v1', '/chat/completions').path, '/v1/chat/completions');
  } finally {
    await upstreams.close();
  }
});
