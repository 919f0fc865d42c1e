// The MCP gateway and the stateless revision (MCP 2026-07-28): the official SDK's v2 client, pinned to that revision,
// against `/mcp` and `/mcp/s-<id>` on the same URLs the 2025 clients use; behind the gateway a 2025 server of the v1 SDK
// (`docs`, a stored secret) and a server of the v2 SDK that speaks only 2026-07-28 (`modern`), which the gateway
// finds out and speaks to statelessly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { z } from 'zod';
import { Client as ClientV2, ProtocolError, SdkHttpError, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { AccountSnapshot } from '../src/state/types.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import { startFakeMcp, startStatelessMcp, text, type FakeMcp } from './helpers/mcp-server.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, finalEvent as finalEventOf, stubState } from './helpers/stub-gateway.ts';

const TOKEN = 'ng-stateless-test-key';
const NARROW_TOKEN = 'ng-stateless-narrow-key';
const DOCS_SECRET = 'docs-upstream-secret';
const MODERN_SECRET = 'modern-upstream-secret';
const REVISION = '2026-07-28';
const CHALLENGE = 'Bearer resource_metadata="https://tickets.example/.well-known/oauth-protected-resource/mcp"';

interface Exchange { method: string; sentSession: string | null; sentVersion: string | null; status: number; gotSession: string | null; requestId: string }

describe('MCP gateway, stateless revision (2026-07-28)', () => {
  let docs: FakeMcp;
  let modern: FakeMcp;
  let tickets: FakeMcp;
  let gateway: GatewayServer;
  let account: AccountSnapshot;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  const exchanges: Exchange[] = [];
  const clients: { close(): Promise<void> }[] = [];

  before(async () => {
    docs = await startFakeMcp((s) => {
      s.registerTool('search', { description: 'Search the docs', inputSchema: { query: z.string() } }, ({ query }) => text(`results for ${query}`));
      s.registerTool('admin_delete', { description: 'Delete a page' }, () => text('deleted'));
    }, (h) => h['x-docs-key'] === DOCS_SECRET, true);
    modern = await startStatelessMcp((s) => {
      s.registerTool('echo', { description: 'Says it back', inputSchema: z.object({ words: z.string() }) }, ({ words }) => ({ content: [{ type: 'text' as const, text: `echo: ${words}` }] }));
      // Its region travels in an Mcp-Param-Region header too, which the server requires with each call.
      s.registerTool('route', { description: 'Routes to a region', inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }) }, ({ region }) => ({ content: [{ type: 'text' as const, text: `routed to ${region}` }] }));
    }, (h) => h.authorization === `Bearer ${MODERN_SECRET}`);
    tickets = await startFakeMcp(() => {}, () => false, false, CHALLENGE);
    account = snapshot({
      providerKeys: [
        { id: 'aigpk_docs', providerId: 'mcp:docs', value: DOCS_SECRET },
        { id: 'aigpk_modern', providerId: 'mcp:modern', value: MODERN_SECRET },
      ],
      configurations: [{ id: 'aigac_narrow', access: { mcpTools: { allow: ['docs/search', 'modern/*'] } }, rules: null }],
      mcpServers: [
        { id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key' } },
        { id: 'aigmcp_modern', label: 'modern', upstreamUrl: modern.url, auth: { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' } },
        { id: 'aigmcp_tickets', label: 'tickets', upstreamUrl: tickets.url, auth: { type: 'oauthPassthrough' } },
      ],
    });
    const key = (token: string, configurationId: string | null) => [token, { id: `aigk_${token}`, configurationId }] as const;
    const state = stubState(() => account, new Map([key(TOKEN, null), key(NARROW_TOKEN, 'aigac_narrow')]));
    gateway = await startGatewayServer({
      state, usage: collectingSink(usage), logger: pino({ level: 'silent' }),
      catalog: createCatalog({}),
      upstreams: new Upstreams({ loopId: 'mcp-stateless-test', allowPrivate: true }),
      options: {
        maxBodyBytes: 10 * 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, mcpCallFeeMicroUsd: 1500n, loopId: 'mcp-stateless-test',
        clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
        // One client session at most: a session that should not exist would push out the one that should.
        mcp: { maxSessions: 1 },
      },
    }, '127.0.0.1', 0);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await gateway.close(0);
    await docs.close();
    await modern.close();
    await tickets.close();
  });

  /** The v2 client, which speaks 2026-07-28 only (no fallback to initialize): it connects with server/discover. */
  async function connect(path: string, token: string): Promise<ClientV2> {
    const transport = new TransportV2(new URL(gateway.url + path), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: async (url, init) => {
        const sent = new Headers(init?.headers);
        const body = typeof init?.body === 'string' ? JSON.parse(init.body) as { method?: string } : {};
        const response = await fetch(url, init);
        exchanges.push({
          method: body.method ?? String(init?.method), sentSession: sent.get('mcp-session-id'), sentVersion: sent.get('mcp-protocol-version'),
          status: response.status, gotSession: response.headers.get('mcp-session-id'), requestId: response.headers.get('ngrok-aig-request-id') ?? '',
        });
        return response;
      },
    });
    const client = new ClientV2({ name: 'stateless-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const finalEvent = (requestId: string): Promise<UsageEvent> => finalEventOf(usage, requestId);

  async function post(path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const response = await fetch(gateway.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown> };
  }

  const envelope = (version = REVISION) => ({ 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' } });

  test('the aggregate endpoint: discover, list and call without a session, each call in usage with its fee', async () => {
    const client = await connect('/mcp', TOKEN);
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(client.getNegotiatedProtocolVersion(), REVISION);
    assert.equal(client.getServerVersion()?.name, 'tollgate-mcp-gateway');
    assert.ok(client.getServerCapabilities()?.tools, 'tools are offered');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['docs__admin_delete', 'docs__search', 'modern__echo', 'modern__route']);
    const searched = await client.callTool({ name: 'docs__search', arguments: { query: 'stateless' } });
    assert.deepEqual(searched.content, [{ type: 'text', text: 'results for stateless' }]);
    const e = await finalEvent(exchanges.at(-1)!.requestId);
    assert.deepEqual([e.provider, e.model, e.completion, e.stopReason, e.feePico], ['mcp:docs', 'search', 'succeeded', 'completed', 1_500_000_000n]);
    const echoed = await client.callTool({ name: 'modern__echo', arguments: { words: 'hi' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'echo: hi' }]);
    assert.deepEqual([(await finalEvent(exchanges.at(-1)!.requestId)).provider], ['mcp:modern']);
    const ours = exchanges.filter((x) => x.method !== 'GET');
    assert.ok(ours.some((x) => x.method === 'server/discover') && !ours.some((x) => x.method === 'initialize'), 'no initialize');
    for (const x of ours) {
      assert.equal(x.sentVersion, REVISION);
      assert.equal(x.sentSession, null);
      assert.equal(x.gotSession, null, `${x.method} answered with no session`);
    }
  });

  test('a server\'s own endpoint: discover tells what the server offers; its tools by their own names', async () => {
    const client = await connect('/mcp/s-aigmcp_modern', TOKEN);
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(client.getInstructions(), 'Only 2026-07-28 here.');
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['echo', 'route']);
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { words: 'own' } })).content, [{ type: 'text', text: 'echo: own' }]);
    const e = await finalEvent(exchanges.at(-1)!.requestId);
    assert.deepEqual([e.provider, e.model, e.completion], ['mcp:modern', 'echo', 'succeeded']);
    const docsOwn = await connect('/mcp/s-aigmcp_docs', TOKEN);
    assert.deepEqual((await docsOwn.callTool({ name: 'search', arguments: { query: 'own' } })).content, [{ type: 'text', text: 'results for own' }]);
  });

  test('a server that speaks only 2026-07-28 is spoken to statelessly, by 2025 clients\' calls too; the access key never reaches it', async () => {
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/s-aigmcp_modern`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    clients.push(legacy);
    assert.deepEqual((await legacy.callTool({ name: 'echo', arguments: { words: 'from 2025' } })).content, [{ type: 'text', text: 'echo: from 2025' }]);
    const calls = modern.seen.filter((s) => s.body.includes('"tools/call"'));
    assert.ok(calls.length > 0);
    for (const s of calls) {
      const sent = JSON.parse(s.body) as { params: { _meta: Record<string, unknown> } };
      assert.equal(sent.params._meta['io.modelcontextprotocol/protocolVersion'], REVISION);
      assert.equal(s.headers['mcp-protocol-version'], REVISION);
      assert.equal(s.headers['mcp-method'], 'tools/call');
      assert.equal(s.headers['mcp-name'], 'echo');
      assert.equal(s.headers['mcp-session-id'], undefined);
    }
    for (const s of modern.seen) assert.ok(!JSON.stringify(s).includes(TOKEN), 'the access key stays at the gateway');
    // The 2025 server is still spoken to in its own revision: no stateless `_meta` reaches it.
    for (const s of docs.seen) assert.ok(!s.body.includes('io.modelcontextprotocol/protocolVersion') && s.headers['mcp-protocol-version'] !== REVISION, s.body);
  });

  test('a 2025 client\'s reserved _meta that is not the revision\'s envelope (a 2025-11-25 task\'s related-task) reaches its 2025 server as sent', async () => {
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/s-aigmcp_docs`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    clients.push(legacy);
    const related = { 'io.modelcontextprotocol/related-task': { taskId: 'task-7' } };
    await legacy.callTool({ name: 'search', arguments: { query: 'tasks' }, _meta: related });
    const sent = JSON.parse(docs.seen.filter((s) => s.body.includes('"tools/call"')).at(-1)!.body) as { params: { _meta?: unknown } };
    assert.deepEqual(sent.params._meta, related);
  });

  test('a stateless server\'s own refusal (-32601 with HTTP 404) reaches the client as the server said it, to either era', async () => {
    // (The v2 client does not ask a server for prompts it does not offer: the request is sent as a client may.)
    const raw = await post('/mcp/s-aigmcp_modern', { jsonrpc: '2.0', id: 'p', method: 'prompts/list', params: { _meta: envelope() } }, { 'mcp-protocol-version': REVISION, 'mcp-method': 'prompts/list' });
    assert.deepEqual([raw.status, raw.body.id, (raw.body.error as { code: number }).code], [404, 'p', -32601]);
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/s-aigmcp_modern`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    clients.push(legacy);
    await assert.rejects(legacy.listPrompts(), (error: unknown) => (error as { code?: number }).code === -32601);
  });

  test('a stateless server\'s tool that takes an argument in a header (x-mcp-header) is called with its Mcp-Param header, by either era\'s client', async () => {
    const client = await connect('/mcp', TOKEN);
    assert.deepEqual((await client.callTool({ name: 'modern__route', arguments: { region: 'eu-west' } })).content, [{ type: 'text', text: 'routed to eu-west' }]);
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/s-aigmcp_modern`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    clients.push(legacy);
    assert.deepEqual((await legacy.callTool({ name: 'route', arguments: { region: 'Zürich' } })).content, [{ type: 'text', text: 'routed to Zürich' }]);
    const sent = modern.seen.filter((s) => s.body.includes('"route"') && s.body.includes('"tools/call"')).map((s) => s.headers['mcp-param-region']);
    assert.deepEqual(sent, ['eu-west', `=?base64?${Buffer.from('Zürich').toString('base64')}?=`]);
    // A stateless client's own Mcp-Param header must say what its arguments do: one a proxy in front routed on is not
    // the gateway's to contradict.
    const seenBefore = modern.seen.length;
    const headers = { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/call', 'mcp-name': 'modern__route' };
    const body = { jsonrpc: '2.0', id: 'r', method: 'tools/call', params: { name: 'modern__route', arguments: { region: 'us-east' }, _meta: envelope() } };
    const lying = await post('/mcp', body, { ...headers, 'mcp-param-region': 'eu-west' });
    assert.deepEqual([lying.status, lying.body.id, (lying.body.error as { code: number }).code], [400, 'r', -32020]);
    const e = await finalEvent(lying.headers.get('ngrok-aig-request-id')!);
    assert.deepEqual([e.model, e.stopReason, e.feePico], ['route', 'jsonrpc_error_-32020', 0n]);
    const missing = await post('/mcp', body, headers);
    assert.deepEqual([missing.status, (missing.body.error as { code: number }).code], [400, -32020]);
    assert.equal(modern.seen.filter((s) => s.body.includes('us-east')).length, 0);
    assert.ok(modern.seen.length >= seenBefore);
  });

  test('a tool the key may not call: -32003 in the answer, nothing sent, the refusal recorded', async () => {
    const client = await connect('/mcp', NARROW_TOKEN);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['docs__search', 'modern__echo', 'modern__route']);
    const sentBefore = docs.seen.length;
    await assert.rejects(client.callTool({ name: 'docs__admin_delete', arguments: {} }), (error: unknown) => error instanceof ProtocolError && error.code === -32003);
    assert.equal(docs.seen.length, sentBefore);
    const e = await finalEvent(exchanges.at(-1)!.requestId);
    assert.deepEqual([e.model, e.completion, e.stopReason, e.feePico], ['admin_delete', 'failed', 'jsonrpc_error_-32003', 0n]);
  });

  test('a wrong access key: 401 as for a 2025 client; a revision not served: 400 with -32022 and the ones served', async () => {
    await assert.rejects(connect('/mcp', 'ng-not-a-key'), (error: unknown) => error instanceof SdkHttpError && error.status === 401);
    const refused = await post('/mcp', { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: envelope() } }, { authorization: 'Bearer ng-not-a-key', 'mcp-protocol-version': REVISION, 'mcp-method': 'server/discover' });
    assert.equal(refused.status, 401);
    assert.equal((refused.body.error as { code: number }).code, -32001);

    const future = await post('/mcp', { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: envelope('2099-01-01') } }, { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' });
    assert.equal(future.status, 400);
    assert.deepEqual(future.body, { jsonrpc: '2.0', id: 7, error: { code: -32022, message: 'Unsupported protocol version: 2099-01-01.', data: { supported: [REVISION], requested: '2099-01-01' } } });
    // A header that is no revision at all is one not served either, not a 2026 request lacking its `_meta`.
    for (const version of ['latest', 'v2']) {
      const named = await post('/mcp', { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { 'mcp-protocol-version': version });
      assert.equal(named.status, 400);
      assert.deepEqual(named.body, { jsonrpc: '2.0', id: null, error: { code: -32600, message: `Unsupported protocol version: ${version}.`, data: { supported: ['2025-11-25', '2025-06-18', '2025-03-26'], requested: version } } });
    }
    // The headers a proxy or firewall in front routes on must say what the body does.
    const lying = await post('/mcp', { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'docs__admin_delete', arguments: {}, _meta: envelope() } }, { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/call', 'mcp-name': 'docs__search' });
    assert.equal(lying.status, 400);
    assert.equal((lying.body.error as { code: number }).code, -32020);
    // Removed with the handshake: a stateless ping is a method not found.
    const ping = await post('/mcp/s-aigmcp_docs', { jsonrpc: '2.0', id: 9, method: 'ping', params: { _meta: envelope() } }, { 'mcp-protocol-version': REVISION, 'mcp-method': 'ping' });
    assert.deepEqual([ping.status, (ping.body.error as { code: number }).code], [404, -32601]);
    // A list is complete, and kept by no one: the key's allow lists apply at once.
    const listed = await post('/mcp', { jsonrpc: '2.0', id: 10, method: 'tools/list', params: { _meta: envelope() } }, { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list', 'mcp-session-id': 'mcps_some-old-session' });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('mcp-session-id'), null);
    assert.deepEqual([(listed.body.result as Record<string, unknown>).resultType, (listed.body.result as Record<string, unknown>).ttlMs, (listed.body.result as Record<string, unknown>).cacheScope], ['complete', 0, 'private']);
  });

  test('GET and DELETE of a stateless client: 405, POST only; a 2025 client\'s DELETE still ends its session', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${gateway.url}/mcp`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'mcp-protocol-version': REVISION, accept: 'text/event-stream', 'last-event-id': '1' } });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'POST');
      await response.body?.cancel();
    }
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    await legacy.connect(transport);
    assert.match(transport.sessionId ?? '', /^mcps_/);
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
    await legacy.close();
  });

  test('an initialize refused with a server\'s 401 leaves no session behind to push out another', async () => {
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    await legacy.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/s-aigmcp_docs`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    clients.push(legacy);
    await legacy.callTool({ name: 'search', arguments: { query: 'one' } });
    const initializes = () => docs.seen.filter((s) => s.body.includes('"initialize"')).length;
    const deletes = () => docs.seen.filter((s) => s.method === 'DELETE').length;
    const [initialized, deleted] = [initializes(), deletes()];
    const refused = await fetch(`${gateway.url}/mcp/s-aigmcp_tickets`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), CHALLENGE);
    assert.equal(refused.headers.get('mcp-session-id'), null);
    await refused.body?.cancel();
    // The gateway keeps one session (maxSessions 1): had the refused initialize made one, this client's would be gone,
    // its server session ended and a new one opened for the next call.
    assert.deepEqual((await legacy.callTool({ name: 'search', arguments: { query: 'two' } })).content, [{ type: 'text', text: 'results for two' }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([initializes(), deletes()], [initialized, deleted]);
  });
});
