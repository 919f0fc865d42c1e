// Stopping a gateway loses no usage: a stream the client cuts while the gateway is closing, and one still
// running when close() begins, are both in the store once stop() returns — even when their tokens must be
// counted on the tokenizer thread first (a cut stream never reached the provider's usage report).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startHarness, storedUsage, type Harness } from './helpers/gateway.ts';
import { UsageJournal } from '../src/usage/journal.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startFakeMcp, text, type FakeMcp } from './helpers/mcp-server.ts';

/** An access key routed to the fake OpenAI provider with a stored key of `credential`. */
async function openaiToken(h: Harness, credential: string): Promise<string> {
  const keyId = await h.providerKey('openai', credential);
  return (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: keyId }] }] }] } }))).token;
}

async function release(h: Harness, stopped: boolean): Promise<void> {
  if (!stopped) await h.running.stop();
  await h.fake.close();
  await h.database.drop();
}

test('usage of streams cut or still running during shutdown is recorded before stop() returns', async () => {
  const h = await startHarness('sqlite');
  let stopped = false;
  try {
    const token = await openaiToken(h, 'sk-shutdown');
    // The answer repeats the prompt word by word, 150 ms apart: a longer prompt is a longer stream.
    const open = (model: string, prompt: string) => request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: `openai:${model}`, stream: true, messages: [{ role: 'user', content: prompt }] }),
    });
    const running = await open('drip-finishes-at-shutdown', 'hi');
    const runningChunks = running.body[Symbol.asyncIterator]();
    await runningChunks.next();
    const cut = await open('drip-cut-at-shutdown', 'tell me a long story about a gateway that never loses a record');
    await cut.body[Symbol.asyncIterator]().next();
    const stopping = h.running.stop();
    stopped = true;
    // One stream finishes while the gateway is closing; then the other's client goes away, closing the last
    // connection — the server is closed from then on, but that request is not metered yet.
    let rest = '';
    for (let c = await runningChunks.next(); !c.done; c = await runningChunks.next()) rest += String(c.value);
    assert.match(rest, /\[DONE\]/);
    cut.body.destroy();
    await stopping;

    const rows = await storedUsage(h);
    assert.equal(rows.length, 2, 'one usage event per stream');
    assert.equal(h.fake.requests.length, 2);
    const byModel = new Map(rows.map((r) => [r.model, r]));
    const cutRow = byModel.get('drip-cut-at-shutdown');
    assert.ok(cutRow);
    assert.equal(Number(cutRow.isStreaming), 1);
    assert.equal(Number(cutRow.usageEstimated), 1, 'the cut stream never got its usage report: estimated');
    assert.ok(Number(cutRow.inputTokensEstimate) > 0, "its input counted on the tokenizer thread during shutdown");
    const finished = byModel.get('drip-finishes-at-shutdown');
    assert.ok(finished);
    assert.equal(finished.completion, 'succeeded');
  } finally {
    await release(h, stopped);
  }
});

test('answers still open when the shutdown grace period ends get an error the SDKs raise, and are recorded as failed', async () => {
  const h = await startHarness('sqlite', { TOLLGATE_SHUTDOWN_GRACE_MS: '300' });
  let stopped = false;
  try {
    const token = await openaiToken(h, 'sk-grace');
    const post = (body: Record<string, unknown>) => request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    // A stream far longer than the grace period (one word every 150 ms), and an answer the provider takes 5 s over.
    const stream = await post({ model: 'openai:drip-outlives-grace', stream: true, messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p q r s t u v w x y z' }] });
    const chunks = stream.body[Symbol.asyncIterator]();
    await chunks.next();
    const reached = new Promise<void>((resolve) => h.fake.events.on('request', (r) => { if (r.body?.model === 'slow-5000-outlives-grace') resolve(); }));
    const slow = post({ model: 'openai:slow-5000-outlives-grace', messages: [{ role: 'user', content: 'x' }] });
    await reached;
    const stopping = h.running.stop();
    stopped = true;
    let rest = '';
    for (let c = await chunks.next(); !c.done; c = await chunks.next()) rest += String(c.value);
    assert.match(rest, /data: \{"error":\{"type":"api_error","code":"ERR_NGROK_27235","message":"[^"]*gateway stopped/);
    assert.ok(!rest.includes('[DONE]'));
    const answered = await slow;
    assert.equal(answered.statusCode, 503);
    // Its attempt was made (the provider has it): the header counts it (before, 0 whatever was sent before the stop).
    assert.equal(answered.headers['ngrok-aig-attempts'], '1');
    assert.equal(((await answered.body.json()) as { error: { code: string } }).error.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
    await stopping;

    const rows = new Map((await storedUsage(h)).map((r) => [r.model, r]));
    const streamRow = rows.get('drip-outlives-grace');
    assert.deepEqual([streamRow?.completion, Number(streamRow?.isError)], ['stream_failed', 1], 'not a client that hung up');
    assert.equal(Number(rows.get('slow-5000-outlives-grace')?.isError), 1);
  } finally {
    await release(h, stopped);
  }
});

test('a stream delivered whole while its provider holds the connection open does not hold up shutdown, and is a success', async () => {
  const h = await startHarness('sqlite', { TOLLGATE_SHUTDOWN_GRACE_MS: '300' });
  let stopped = false;
  try {
    const token = await openaiToken(h, 'sk-linger');
    // The provider sends its whole stream, `[DONE]` included, then keeps the connection 15 s before ending it.
    const stream = await request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai:linger-15000-at-shutdown', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.match(await stream.body.text(), /data: \[DONE\]\n\n$/);
    await h.running.stop();
    stopped = true;
    // Stopping let go of the provider's connection rather than wait for it.
    assert.deepEqual([h.fake.requests[0]!.aborted, h.fake.requests[0]!.completed], [true, false]);
    const [row] = await storedUsage(h);
    assert.deepEqual([row?.completion, Number(row?.isError), Number(row?.usageEstimated)], ['succeeded', 0, 0]);
  } finally {
    await release(h, stopped);
  }
});

test('a tracing collector that is down does not stop the journal from shipping at shutdown', async () => {
  // A port nothing listens on: every span export fails, and the tracer's flush at shutdown rejects.
  const { createServer } = await import('node:net');
  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const port = (dead.address() as { port: number }).port;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  let stopped = false;
  try {
    const token = await openaiToken(h, 'sk-tracing-down');
    const res = await request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    stopped = true;
    // The stop completes (the journal closes and ships) although the spans could not be exported.
    await h.running.stop();
    const rows = await storedUsage(h);
    assert.equal(rows.length, 1, 'the usage event is in the store once stop() returns');
  } finally {
    await release(h, stopped);
  }
});

test('an attempt still being journaled when the grace period ends is never sent to the provider, and is recorded', async () => {
  const h = await startHarness('sqlite', { TOLLGATE_SHUTDOWN_GRACE_MS: '200' });
  let stopped = false;
  // The attempt's begun row takes longer to note than the grace period has left (a loaded loop, a slow disk): the
  // gateway answers 503 "retry" meanwhile, so the provider must not get the request (the client would pay for an
  // answer it was told failed, and retry it).
  const begin = UsageJournal.prototype.begin;
  let noting: (() => void) | undefined;
  const noted = new Promise<void>((resolve) => { noting = resolve; });
  UsageJournal.prototype.begin = function (this: UsageJournal, attempt) {
    const committed = begin.call(this, attempt);
    noting?.();
    return committed.then(() => new Promise((resolve) => setTimeout(resolve, 600)));
  };
  try {
    const token = await openaiToken(h, 'sk-noting');
    const answer = request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    await noted;
    const stopping = h.running.stop();
    stopped = true;
    const answered = await answer;
    assert.equal(answered.statusCode, 503);
    await answered.body.dump();
    await stopping;
    assert.equal(h.fake.requests.length, 0, 'the provider never saw the request');
    const rows = await storedUsage(h);
    assert.equal(rows.length, 1, 'the begun attempt still has its usage event');
    assert.deepEqual([Number(rows[0]!.isError), Number(rows[0]!.costPico), rows[0]!.statusCode], [1, 0, 0]);
  } finally {
    UsageJournal.prototype.begin = begin;
    await release(h, stopped);
  }
});

/** An MCP server with one tool, `wait`, that answers once `release` is called (the test's handle on it). */
async function slowMcp(): Promise<{ fake: FakeMcp; started: Promise<void>; release: () => void }> {
  let started!: () => void;
  const startedP = new Promise<void>((resolve) => { started = resolve; });
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const fake = await startFakeMcp((s) => {
    s.registerTool('wait', { description: 'Answers when the test lets it' }, async () => {
      started();
      await released;
      return text('finally done');
    });
  }, () => true);
  return { fake, started: startedP, release };
}

/**
 * A gateway (`env`) asked to stop while the official MCP SDK's client, on its aggregate endpoint, waits for a call
 * of a slow tool that has started: `run` sees it through, from the stop on. The slow server is registered through
 * the control plane and listed before the call.
 */
async function stopDuringMcpCall(env: Record<string, string>, run: (h: Harness, slow: Awaited<ReturnType<typeof slowMcp>>, calling: Promise<unknown>, stopping: Promise<void>) => Promise<void>): Promise<void> {
  const h = await startHarness('sqlite', env);
  const slow = await slowMcp();
  let stopped = false;
  try {
    await h.api('POST', '/mcp-servers', { label: 'slow', upstreamUrl: slow.fake.url, auth: { type: 'none' } });
    const { token } = await h.accessKey();
    const client = new Client({ name: 'gateway-shutdown', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${h.gatewayUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    // A new server reaches the gateway's snapshot shortly after the control plane answers.
    for (let tries = 0; !(await client.listTools()).tools.some((t) => t.name === 'slow__wait'); tries++) {
      assert.ok(tries < 100, 'the server is listed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const calling = client.callTool({ name: 'slow__wait', arguments: {} });
    await slow.started;
    const stopping = h.running.stop();
    stopped = true;
    await run(h, slow, calling, stopping);
  } finally {
    slow.release();
    await release(h, stopped);
    await slow.fake.close();
  }
}

test('an MCP tools/call running when the gateway stops finishes, and its usage is recorded as completed', async () => {
  await stopDuringMcpCall({}, async (h, slow, calling, stopping) => {
    // The gateway is stopping (it refuses new connections) before the tool answers.
    await assert.rejects(fetch(`${h.gatewayUrl}/healthz`));
    slow.release();
    const result = await calling as { content: unknown };
    assert.deepEqual(result.content, [{ type: 'text', text: 'finally done' }]);
    await stopping;
    const row = (await storedUsage(h)).find((r) => r.model === 'wait');
    assert.deepEqual([row?.provider, row?.completion, row?.stopReason, Number(row?.isError)], ['mcp:slow', 'succeeded', 'completed', 0]);
  });
});

test('an MCP tools/call still running when the grace period ends gets a JSON-RPC error the SDK raises, and is recorded as failed', { timeout: 20_000 }, async () => {
  await stopDuringMcpCall({ TOLLGATE_SHUTDOWN_GRACE_MS: '300' }, async (h, _slow, calling, stopping) => {
    await assert.rejects(calling, (error: unknown) => {
      assert.ok(error instanceof McpError, String(error));
      assert.equal(error.code, -32603);
      assert.match(error.message, /gateway stopped/);
      return true;
    });
    await stopping;
    const row = (await storedUsage(h)).find((r) => r.model === 'wait');
    assert.deepEqual([row?.provider, row?.completion, Number(row?.isError), Number(row?.costPico)], ['mcp:slow', 'stream_failed', 1, 0]);
  });
});
