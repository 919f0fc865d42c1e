// The MCP gateway (ngrok's MCP Gateway): the official MCP SDK's client against the gateway, two MCP servers of the SDK
// behind it — `docs`, which takes a stored secret in a header and answers in JSON, and `tickets`, which takes the
// client's own OAuth token and answers in event streams.
// The servers are placed in the account's snapshot: the gateway runs on a stub of its state (the store's MCP tables
// are another change's), everything else real.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import pino from 'pino';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { AccountSnapshot } from '../src/state/types.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import { startFakeMcp, text, type FakeMcp } from './helpers/mcp-server.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, stubState } from './helpers/stub-gateway.ts';
import { CreditLedger } from '../src/usage/ledger.ts';
import { Registry } from 'prom-client';
import { loadObservabilityConfig } from '../src/config/observability.ts';
import { createGatewayObserver } from '../src/gateway/observe/setup.ts';
import { LineCapture } from './helpers/log-capture.ts';

const TOKEN = 'ng-mcp-test-key';
const DOCS_ONLY_TOKEN = 'ng-mcp-docs-only-key';
const NARROW_TOKEN = 'ng-mcp-narrow-key';
const DOCS_SECRET = 'docs-upstream-secret';
const USER_OAUTH = 'user-oauth-token-for-tickets';
const TICKETS_CHALLENGE = 'Bearer resource_metadata="https://tickets.example/.well-known/oauth-protected-resource/mcp", scope="tickets"';

describe('MCP gateway', () => {
  let docs: FakeMcp;
  let tickets: FakeMcp;
  /** Placed in the account by the tests that use it: `wait` runs until its call is cancelled, `unlock` adds a tool. */
  let jobs: FakeMcp;
  let jobStarted: () => void = () => {};
  let jobCancelled: () => void = () => {};
  let gateway: GatewayServer;
  let account: AccountSnapshot;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  /** Lets the streaming tool finish, once the test saw its first progress notification. */
  let releaseReport: () => void = () => {};

  before(async () => {
    docs = await startFakeMcp((s) => {
      s.registerTool('search', { description: 'Search the docs', inputSchema: { query: z.string() } }, ({ query }) => text(`results for ${query}`));
      s.registerTool('fetch_page', { description: 'Fetch a page', inputSchema: { path: z.string() } }, ({ path }) => text(`page ${path}`));
      s.registerTool('admin_delete', { description: 'Delete a page' }, () => text('deleted'));
    }, (h) => h['x-docs-key'] === `Token ${DOCS_SECRET}`, true);
    tickets = await startFakeMcp((s) => {
      s.registerTool('create', { description: 'Open a ticket', inputSchema: { title: z.string() } }, ({ title }) => text(`opened "${title}"`));
      s.registerTool('slow_report', { description: 'A report that takes a while' }, async (extra) => {
        const progressToken = extra._meta?.progressToken;
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, total: 2, message: 'halfway' } });
          await new Promise<void>((resolve) => { releaseReport = resolve; });
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 2, total: 2, message: 'done' } });
        }
        return text('report ready');
      });
    }, (h) => h.authorization === `Bearer ${USER_OAUTH}`, false, TICKETS_CHALLENGE);
    jobs = await startFakeMcp((s) => {
      s.registerTool('wait', { description: 'Runs until cancelled' }, async (extra) => {
        jobStarted();
        await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve(), { once: true }));
        jobCancelled();
        return text('cancelled');
      });
      s.registerTool('unlock', { description: 'Adds a tool' }, async (extra) => {
        s.registerTool('unlocked', { description: 'There once unlock ran' }, () => text('hello'));
        // In this call's own stream: the gateway keeps no standalone stream a server could send it on.
        await extra.sendNotification({ method: 'notifications/tools/list_changed' });
        return text('unlocked');
      });
    }, () => true);
    account = snapshot({
      providerKeys: [{ id: 'aigpk_docs', providerId: 'mcp:docs', value: DOCS_SECRET }],
      configurations: [
        { id: 'aigac_docs', access: { mcpServers: { allow: ['docs'] } }, rules: null },
        { id: 'aigac_narrow', access: { mcpTools: { allow: ['docs/search', 'docs/fetch_*', 'tickets/*'] } }, rules: null },
      ],
      mcpServers: [
        { id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key', prefix: 'Token ' } },
        { id: 'aigmcp_tickets', label: 'tickets', upstreamUrl: tickets.url, auth: { type: 'oauthPassthrough' } },
      ],
    });
    const key = (token: string, configurationId: string | null) => [token, { id: `aigk_${token}`, configurationId }] as const;
    const state = stubState(() => account, new Map([key(TOKEN, null), key(DOCS_ONLY_TOKEN, 'aigac_docs'), key(NARROW_TOKEN, 'aigac_narrow')]));
    gateway = await startGatewayServer({
      state, usage: collectingSink(usage), logger: pino({ level: 'silent' }),
      catalog: createCatalog({}),
      upstreams: new Upstreams({ loopId: 'mcp-test', allowPrivate: true }),
      options: {
        maxBodyBytes: 10 * 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, mcpCallFeeMicroUsd: 1500n, loopId: 'mcp-test',
        clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
      },
    }, '127.0.0.1', 0);
  });
  after(async () => {
    await gateway.close(0);
    await docs.close();
    await tickets.close();
    await jobs.close();
  });

  /** Request ids of the gateway's answers, in order, as the client's fetch saw them. */
  const requestIds: string[] = [];

  async function connect(path: string, headers: Record<string, string>): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(gateway.url + path), {
      requestInit: { headers },
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        requestIds.push(response.headers.get('ngrok-aig-request-id') ?? '');
        return response;
      },
    });
    const client = new Client({ name: 'gateway-mcp-test', version: '1.0.0' });
    await client.connect(transport);
    return client;
  }

  const withKey = (token: string) => ({ authorization: `Bearer ${token}` });
  /** The access key in x-api-key, the client's own OAuth token in Authorization for the servers that take it. */
  const withOAuth = (token: string) => ({ 'x-api-key': token, authorization: `Bearer ${USER_OAUTH}` });

  function neverSawAccessKey(fake: FakeMcp): void {
    for (const s of fake.seen) {
      const all = `${s.url}\n${JSON.stringify(s.headers)}\n${s.body}`;
      for (const token of [TOKEN, DOCS_ONLY_TOKEN, NARROW_TOKEN]) assert.ok(!all.includes(token), `the server saw the access key in ${s.method} ${s.url}`);
    }
  }

  test('the aggregate endpoint lists every reachable server\'s tools as <label>__<tool>, filtered by the key\'s allow lists', async () => {
    const all = await connect('/mcp', withOAuth(TOKEN));
    assert.equal(all.getServerVersion()?.name, 'tollgate-mcp-gateway');
    assert.deepEqual(all.getServerCapabilities(), { tools: { listChanged: false } });
    assert.deepEqual((await all.listTools()).tools.map((t) => t.name), ['docs__search', 'docs__fetch_page', 'docs__admin_delete', 'tickets__create', 'tickets__slow_report']);
    const described = (await all.listTools()).tools.find((t) => t.name === 'docs__search');
    assert.equal(described?.description, 'Search the docs');
    assert.deepEqual(Object.keys(described?.inputSchema.properties ?? {}), ['query']);
    await all.close();

    const docsOnly = await connect('/mcp', withKey(DOCS_ONLY_TOKEN));
    assert.deepEqual((await docsOnly.listTools()).tools.map((t) => t.name), ['docs__search', 'docs__fetch_page', 'docs__admin_delete']);
    await docsOnly.close();

    const narrow = await connect('/mcp', withOAuth(NARROW_TOKEN));
    assert.deepEqual((await narrow.listTools()).tools.map((t) => t.name), ['docs__search', 'docs__fetch_page', 'tickets__create', 'tickets__slow_report']);
    await narrow.close();
    neverSawAccessKey(docs);
    neverSawAccessKey(tickets);
  });

  test('a call goes to its server under the tool\'s own name, with that server\'s credential, never the access key; usage records it', async () => {
    const client = await connect('/mcp', withOAuth(TOKEN));
    const docsSeen = docs.seen.length;
    const result = await client.callTool({ name: 'docs__search', arguments: { query: 'rate limits' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'results for rate limits' }]);
    const docsCall = docs.seen.slice(docsSeen).find((s) => s.body.includes('"tools/call"'))!;
    assert.equal(JSON.parse(docsCall.body).params.name, 'search');
    assert.equal(docsCall.headers['x-docs-key'], `Token ${DOCS_SECRET}`);
    assert.equal(docsCall.headers.authorization, undefined, 'the client\'s OAuth token is only for the servers that take it');
    const callId = requestIds.at(-1)!;

    const ticketsSeen = tickets.seen.length;
    const opened = await client.callTool({ name: 'tickets__create', arguments: { title: 'Printer on fire' } });
    assert.deepEqual(opened.content, [{ type: 'text', text: 'opened "Printer on fire"' }]);
    const ticketsCall = tickets.seen.slice(ticketsSeen).find((s) => s.body.includes('"tools/call"'))!;
    assert.equal(ticketsCall.headers.authorization, `Bearer ${USER_OAUTH}`);
    assert.equal(ticketsCall.headers['x-docs-key'], undefined);
    neverSawAccessKey(docs);
    neverSawAccessKey(tickets);
    await client.close();

    const events = usage.filter((e): e is UsageEvent => 'isFinalAttempt' in e && e.requestId === callId);
    assert.equal(events.length, 1);
    const e = events[0]!;
    // No tokens; the operator's per-call fee (TOLLGATE_MCP_FEE_USD_PER_CALL, $0.0015 here) is its whole cost.
    assert.deepEqual([e.provider, e.model, e.accessKeyId, e.statusCode, e.isError, e.completion, e.stopReason, e.costPico, e.feePico, e.inputTokens, e.outputTokens, e.providerKeyId, e.keySource],
      ['mcp:docs', 'search', `aigk_${TOKEN}`, 200, false, 'succeeded', 'completed', 1_500_000_000n, 1_500_000_000n, 0, 0, 'aigpk_docs', 'user']);
    assert.ok(usage.some((b) => !('isFinalAttempt' in b) && b.id === e.id), 'noted in the journal before it was sent');
  });

  test('a tool the key may not call: JSON-RPC error -32003, nothing sent, the refusal recorded', async () => {
    const client = await connect('/mcp', withKey(NARROW_TOKEN));
    const sent = docs.seen.length;
    await assert.rejects(client.callTool({ name: 'docs__admin_delete', arguments: {} }), (error: unknown) => {
      assert.ok(error instanceof McpError);
      assert.equal(error.code, -32003);
      assert.match(error.message, /tool not allowed for this key/);
      return true;
    });
    assert.ok(!docs.seen.slice(sent).some((s) => s.body.includes('tools/call')));
    const refused = usage.find((e): e is UsageEvent => 'isFinalAttempt' in e && e.requestId === requestIds.at(-1));
    assert.deepEqual([refused?.provider, refused?.model, refused?.isError, refused?.completion, refused?.stopReason, refused?.costPico], ['mcp:docs', 'admin_delete', true, 'failed', 'jsonrpc_error_-32003', 0n]);
    // A server the key may not reach is no different, and a name no server has is an unknown tool.
    const docsOnly = await connect('/mcp', withKey(DOCS_ONLY_TOKEN));
    await assert.rejects(docsOnly.callTool({ name: 'tickets__create', arguments: { title: 'x' } }), (error: unknown) => error instanceof McpError && error.code === -32003);
    await assert.rejects(docsOnly.callTool({ name: 'wiki__search', arguments: {} }), (error: unknown) => error instanceof McpError && error.code === -32602);
    await assert.rejects(docsOnly.callTool({ name: 'docs__nope', arguments: {} }), (error: unknown) => error instanceof McpError && error.code === -32602);
    await client.close();
    await docsOnly.close();
  });

  test('a server\'s own endpoint lists and calls its tools by their own names', async () => {
    const client = await connect('/mcp/s-aigmcp_docs', withKey(NARROW_TOKEN));
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['search', 'fetch_page']);
    const result = await client.callTool({ name: 'fetch_page', arguments: { path: '/quickstart' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'page /quickstart' }]);
    await assert.rejects(client.callTool({ name: 'admin_delete', arguments: {} }), (error: unknown) => error instanceof McpError && error.code === -32003);
    await client.close();
  });

  test('an operator\'s mcp.* host serves the same endpoints at / and /s-<id>', async () => {
    const raw = (path: string, body: unknown) => new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const url = new URL(gateway.url);
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers: { host: 'mcp.example.com', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { t += c; });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: t }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
    const listed = await raw('/', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(listed.status, 200);
    assert.ok((JSON.parse(listed.text) as { result: { tools: { name: string }[] } }).result.tools.some((t) => t.name === 'docs__search'));
    assert.match(String(listed.headers['ngrok-aig-request-id']), /^rq_/);
    const one = await raw('/s-aigmcp_docs', { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.deepEqual((JSON.parse(one.text) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name), ['search', 'fetch_page', 'admin_delete']);
    // Over HTTP/2 (h2c) the host is `:authority`, which node:http2 does not copy into `host`.
    const session = http2Connect(gateway.url);
    try {
      const h2 = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/', ':authority': 'mcp.example.com', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
        let status = 0;
        let t = '';
        req.on('response', (headers) => { status = Number(headers[':status']); });
        req.setEncoding('utf8');
        req.on('data', (c: string) => { t += c; });
        req.on('end', () => resolve({ status, text: t }));
        req.on('error', reject);
        req.end(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
      });
      assert.equal(h2.status, 200, h2.text);
      assert.ok((JSON.parse(h2.text) as { result: { tools: { name: string }[] } }).result.tools.some((t) => t.name === 'docs__search'));
    } finally {
      session.close();
    }
  });

  test('a wrong access key gets 401 with a JSON-RPC error and no OAuth challenge; GET has no stream (405)', async () => {
    const response = await fetch(`${gateway.url}/mcp`, {
      method: 'POST',
      headers: { authorization: 'Bearer ng-not-a-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), null);
    assert.match(response.headers.get('ngrok-aig-request-id') ?? '', /^rq_/);
    const body = await response.json() as { jsonrpc: string; id: null; error: { code: number; message: string } };
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.id, null);
    assert.equal(body.error.code, -32001);
    assert.match(body.error.message, /invalid or has been deleted/);
    const listen = await fetch(`${gateway.url}/mcp`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
    assert.equal(listen.status, 405);
    await listen.body?.cancel();
  });

  test('a streamed tool answer arrives as it is made: progress notifications before the result', async () => {
    const client = await connect('/mcp', withOAuth(TOKEN));
    const progress: string[] = [];
    const result = await client.callTool({ name: 'tickets__slow_report', arguments: {} }, undefined, {
      onprogress: (p) => {
        progress.push(`${p.progress}/${p.total} ${p.message}`);
        // The tool finishes only once its first notification reached the client: a buffered relay would never end.
        if (p.progress === 1) releaseReport();
      },
    });
    assert.deepEqual(progress, ['1/2 halfway', '2/2 done']);
    assert.deepEqual(result.content, [{ type: 'text', text: 'report ready' }]);
    const e = usage.find((u): u is UsageEvent => 'isFinalAttempt' in u && u.requestId === requestIds.at(-1));
    assert.deepEqual([e?.model, e?.isStreaming, e?.completion], ['slow_report', true, 'succeeded']);
    await client.close();
  });

  test('a browser MCP client\'s preflight allows DELETE, which ends its session, and the session header', async () => {
    const pre = await fetch(`${gateway.url}/mcp`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization, mcp-session-id' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.ok(pre.headers.get('access-control-allow-methods')?.split(/,\s*/).includes('DELETE'), `allowed: ${pre.headers.get('access-control-allow-methods')}`);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /mcp-session-id/);
  });

  test('a server that forgot its session (404) gets a new one, and the call goes through', async () => {
    const client = await connect('/mcp', withKey(TOKEN));
    await client.callTool({ name: 'docs__search', arguments: { query: 'one' } });
    const initializes = () => docs.seen.filter((s) => s.body.includes('"initialize"')).length;
    const before = initializes();
    docs.expireSessions();
    const result = await client.callTool({ name: 'docs__search', arguments: { query: 'two' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'results for two' }]);
    assert.equal(initializes(), before + 1);
    await client.close();
  });

  test('a server that cannot be reached: a JSON-RPC error naming it, never its secret; recorded as failed', async () => {
    const saved = account;
    account = snapshot({
      providerKeys: [{ id: 'aigpk_docs', providerId: 'mcp:docs', value: DOCS_SECRET }],
      mcpServers: [{ id: 'aigmcp_docs', label: 'docs', upstreamUrl: 'http://127.0.0.1:1/mcp', auth: { type: 'secret', in: 'query', name: 'key' } }],
    });
    try {
      const response = await fetch(`${gateway.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'docs__search', arguments: { query: 'x' } } }),
      });
      const text = await response.text();
      assert.equal(response.status, 200);
      const body = JSON.parse(text) as { id: number; error: { code: number; message: string; data: { server: string } } };
      assert.deepEqual([body.id, body.error.code, body.error.data.server], [7, -32603, 'docs']);
      assert.match(body.error.message, /MCP server "docs" could not be reached/);
      assert.ok(!text.includes(DOCS_SECRET) && !text.includes('127.0.0.1'));
      const e = usage.find((u): u is UsageEvent => 'isFinalAttempt' in u && u.requestId === response.headers.get('ngrok-aig-request-id'));
      assert.deepEqual([e?.provider, e?.model, e?.isError, e?.completion, e?.statusCode, e?.costPico], ['mcp:docs', 'search', true, 'failed', 0, 0n]);
    } finally {
      account = saved;
    }
  });

  /** The account with the jobs server (no credential) beside docs and tickets, for `run`. */
  async function withJobs(run: () => Promise<void>): Promise<void> {
    const saved = account;
    account = snapshot({
      providerKeys: [{ id: 'aigpk_docs', providerId: 'mcp:docs', value: DOCS_SECRET }],
      mcpServers: [
        { id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key', prefix: 'Token ' } },
        { id: 'aigmcp_jobs', label: 'jobs', upstreamUrl: jobs.url, auth: { type: 'none' } },
      ],
    });
    try {
      await run();
    } finally {
      account = saved;
    }
  }

  /** The request's final usage event, once recorded (a cancelled call's is recorded as its relay stops). */
  async function finalEvent(requestId: string): Promise<UsageEvent> {
    for (let tries = 0; ; tries++) {
      const e = usage.find((u): u is UsageEvent => 'isFinalAttempt' in u && u.requestId === requestId);
      if (e) return e;
      assert.ok(tries < 200, `a usage event for ${requestId}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  test('a call the client cancels on the aggregate endpoint: its server is told under the call\'s id and stops, the call is recorded as cancelled', { timeout: 15_000 }, async () => {
    await withJobs(async () => {
      const client = await connect('/mcp', withKey(TOKEN));
      const started = new Promise<void>((resolve) => { jobStarted = resolve; });
      const stopped = new Promise<void>((resolve) => { jobCancelled = resolve; });
      const from = jobs.seen.length;
      const controller = new AbortController();
      const calling = client.callTool({ name: 'jobs__wait', arguments: {} }, undefined, { signal: controller.signal });
      await started;
      // Noted in the journal before it was sent.
      const callRequestId = usage.find((b) => !('isFinalAttempt' in b) && b.model === 'wait')!.requestId;
      // The SDK sends notifications/cancelled naming the call's id.
      controller.abort('changed my mind');
      await assert.rejects(calling);
      // The tool's own signal fired: the server had the cancellation.
      await stopped;
      const bodies = jobs.seen.slice(from).map((s) => JSON.parse(s.body || '{}') as { id?: unknown; method?: string; params?: { requestId?: unknown } });
      const sent = bodies.find((b) => b.method === 'tools/call');
      const cancel = bodies.find((b) => b.method === 'notifications/cancelled');
      assert.ok(sent && cancel, 'the call and its cancellation reached the server');
      assert.equal(cancel.params?.requestId, sent.id, 'under the id the call went with');
      const e = await finalEvent(callRequestId);
      assert.deepEqual([e.provider, e.model, e.completion, e.stopReason, e.costPico], ['mcp:jobs', 'wait', 'unknown', 'cancelled', 0n]);
      // The session goes on: the next call is answered.
      assert.deepEqual((await client.callTool({ name: 'docs__search', arguments: { query: 'after' } })).content, [{ type: 'text', text: 'results for after' }]);
      await client.close();
    });
  });

  test('a client that goes away mid-call: the call is recorded as unknown (it never got the answer), not as succeeded', { timeout: 15_000 }, async () => {
    await withJobs(async () => {
      const client = await connect('/mcp', withKey(TOKEN));
      const started = new Promise<void>((resolve) => { jobStarted = resolve; });
      const calling = client.callTool({ name: 'jobs__wait', arguments: {} });
      calling.catch(() => {});
      await started;
      const callRequestId = usage.find((b) => !('isFinalAttempt' in b) && b.model === 'wait' && !usage.some((u) => 'isFinalAttempt' in u && u.requestId === b.requestId))!.requestId;
      // Closing the transport drops the connection: no cancellation is sent, the client is simply gone.
      await client.close();
      const e = await finalEvent(callRequestId);
      assert.deepEqual([e.model, e.completion, e.costPico], ['wait', 'unknown', 0n]);
    });
  });

  test('an OAuth-passthrough server\'s 401 challenge reaches the client on its own endpoint; on the aggregate endpoint its calls say it needs authorization', async () => {
    // No OAuth token of the client's: tickets answers 401 with its protected resource metadata's address.
    const raw = await fetch(`${gateway.url}/mcp/s-aigmcp_tickets`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    assert.equal(raw.status, 401);
    assert.equal(raw.headers.get('www-authenticate'), TICKETS_CHALLENGE);
    // What an MCP client's OAuth support reads from it to discover the authorization server.
    assert.equal(extractWWWAuthenticateParams(raw).resourceMetadataUrl?.href, 'https://tickets.example/.well-known/oauth-protected-resource/mcp');
    const text = await raw.text();
    assert.ok(!text.includes(TOKEN) && !text.includes(DOCS_SECRET) && !text.includes(tickets.url));
    // The SDK's client without OAuth configured stops at the 401 (with it, it would sign in and retry).
    await assert.rejects(connect('/mcp/s-aigmcp_tickets', withKey(TOKEN)), (error: unknown) => (error as { code?: number }).code === 401);

    const all = await connect('/mcp', withKey(TOKEN));
    await assert.rejects(all.callTool({ name: 'tickets__create', arguments: { title: 'x' } }), (error: unknown) => {
      assert.ok(error instanceof McpError);
      assert.equal(error.code, -32001);
      assert.match(error.message, /MCP server "tickets" needs authorization/);
      assert.deepEqual(error.data, { server: 'tickets', status: 401, endpoint: 's-aigmcp_tickets' });
      return true;
    });
    await all.close();

    // A server that refuses the operator's stored secret is no sign-in for the client: no challenge passed on.
    const saved = account;
    account = snapshot({
      providerKeys: [{ id: 'aigpk_docs', providerId: 'mcp:docs', value: 'a-revoked-secret' }],
      mcpServers: [{ id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key', prefix: 'Token ' } }],
    });
    try {
      const listed = await fetch(`${gateway.url}/mcp/s-aigmcp_docs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      assert.equal(listed.status, 200);
      assert.equal(listed.headers.get('www-authenticate'), null);
      const body = await listed.json() as { error: { code: number; message: string } };
      assert.deepEqual([body.error.code, body.error.message], [-32603, 'MCP server "docs" answered HTTP 401.']);
    } finally {
      account = saved;
    }
  });

  test('a server\'s tools/list_changed lets go of the tool list the gateway keeps: the client re-listing sees the new tool', async () => {
    await withJobs(async () => {
      const client = await connect('/mcp', withKey(TOKEN));
      assert.ok(!(await client.listTools()).tools.some((t) => t.name === 'jobs__unlocked'));
      assert.deepEqual((await client.callTool({ name: 'jobs__unlock', arguments: {} })).content, [{ type: 'text', text: 'unlocked' }]);
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'jobs__unlocked'), 'listed at once, not once the kept list expires');
      assert.deepEqual((await client.callTool({ name: 'jobs__unlocked', arguments: {} })).content, [{ type: 'text', text: 'hello' }]);
      await client.close();
    });
  });
});

// TOLLGATE_BILLING=on with a per-call fee: a tools/call is admitted on credit as a model request is, and holds its fee
// while it runs. Before, no call was ever refused: an account at zero ran up fees (up to $10 a call) without limit.
describe('MCP gateway, billing on with a per-call fee', () => {
  const FEE_PICO = 1_500_000_000n;
  let server: FakeMcp;
  let gateway: GatewayServer;
  let ledger: CreditLedger;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  /** The gateway's access log. */
  const access = new LineCapture();
  let started = 0;
  let openGate: () => void = () => {};
  const gate = new Promise<void>((resolve) => { openGate = resolve; });

  before(async () => {
    server = await startFakeMcp((s) => {
      s.registerTool('lookup', { description: 'Waits for the test to let it answer' }, async () => {
        started++;
        await gate;
        return text('found');
      });
    }, () => true, true);
    const account = snapshot({ mcpServers: [{ id: 'aigmcp_kb', label: 'kb', upstreamUrl: server.url, auth: { type: 'none' } }] });
    // The store holds exactly one call's fee; nothing else spends it.
    ledger = new CreditLedger({ journal: { unshippedPico: () => 0n, exclusive: (fn) => fn() }, readBalance: async () => FEE_PICO });
    const observer = await createGatewayObserver(loadObservabilityConfig({}), new Registry(), pino({ level: 'info' }, access), { usageBacklog: () => 0, usageRefused: () => 0, balances: () => [] }, 'test');
    gateway = await startGatewayServer({
      observer,
      state: stubState(() => account, new Map([[TOKEN, { id: `aigk_${TOKEN}`, configurationId: null }]])), usage: collectingSink(usage), logger: pino({ level: 'silent' }),
      catalog: createCatalog({}), ledger,
      upstreams: new Upstreams({ loopId: 'mcp-billing-test', allowPrivate: true }),
      options: {
        maxBodyBytes: 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, mcpCallFeeMicroUsd: 1500n, loopId: 'mcp-billing-test',
        clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
      },
    }, '127.0.0.1', 0);
  });
  after(async () => {
    openGate();
    await gateway.close(0);
    await server.close();
  });

  test('concurrent calls on one fee\'s credit: one runs and is charged, the rest are refused 4026 unsent; at zero every call is refused', async () => {
    const client = new Client({ name: 'gateway-mcp-billing-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['kb__lookup']);
    const calls = Array.from({ length: 5 }, () => client.callTool({ name: 'kb__lookup', arguments: {} }).then(() => 'served', (error: unknown) => error));
    let refused: unknown[] = [];
    try {
      for (let i = 0; i < 200 && (started < 1 || refused.length < 4); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        refused = (await Promise.all(calls.map((c) => Promise.race([c, Promise.resolve('running')])))).filter((o) => o !== 'running');
      }
    } finally {
      openGate();
    }
    const outcomes = await Promise.all(calls);
    assert.equal(started, 1, 'the server ran one call: the others found the credit held');
    assert.equal(outcomes.filter((o) => o === 'served').length, 1);
    for (const o of outcomes.filter((o) => o !== 'served')) {
      assert.ok(o instanceof McpError, String(o));
      assert.equal(o.code, -32003);
      assert.match(o.message, /held by requests still in flight/);
      assert.deepEqual(o.data, { errorCode: 'ERR_NGROK_4026' });
    }
    assert.deepEqual([ledger.balance('acct_test'), ledger.headroom('acct_test')], [0n, 0n], 'the fee was charged once and nothing stays held');

    await assert.rejects(client.callTool({ name: 'kb__lookup', arguments: {} }), (error: unknown) => {
      assert.ok(error instanceof McpError);
      assert.match(error.message, /run out of credit/);
      return true;
    });
    assert.equal(started, 1, 'nothing reached the server at zero');
    assert.equal(ledger.balance('acct_test'), 0n);
    const final = usage.filter((e): e is UsageEvent => 'isFinalAttempt' in e);
    assert.equal(final.length, 6, 'every call is in usage, refused or not');
    assert.deepEqual(final.map((e) => e.costPico).sort(), [0n, 0n, 0n, 0n, 0n, FEE_PICO]);
    // The access log names each refusal's code, as a model request's refusal for credit has it.
    const refusals = () => access.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request' && l.errorCode === 'ERR_NGROK_4026');
    for (let i = 0; i < 100 && refusals().length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(refusals().length, 5, access.lines.join('\n'));
    await client.close();
  });
});
