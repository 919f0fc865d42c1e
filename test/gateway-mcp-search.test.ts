// Tool search on the MCP gateway's aggregate endpoint (`/mcp?tools=search`; ours, ngrok's shape being unknown): the
// official SDK's clients, a 2025 one (v1, sessions) and a 2026-07-28 one (v2, stateless), see two tools, find the
// key's tools with `search_tools` and run them with `call_tool`, which goes down the path a direct call takes. Behind
// the gateway: `docs` (a stored secret, JSON answers), `tickets` (no credential, event streams) and `modern`, a server
// that speaks only 2026-07-28 and takes one argument in a header too, and `sheets`, whose tools only the unrestricted
// key reaches: one titled only in its annotations, one with a description far longer than search reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import pino from 'pino';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, ProtocolError, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { AccountSnapshot } from '../src/state/types.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import { startFakeMcp, startStatelessMcp, text, type FakeMcp } from './helpers/mcp-server.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, finalEvent as finalEventOf, stubState } from './helpers/stub-gateway.ts';

const TOKEN = 'ng-mcp-search-key';
const NARROW_TOKEN = 'ng-mcp-search-narrow-key';
const DOCS_SECRET = 'docs-upstream-secret';
const MODERN_SECRET = 'modern-upstream-secret';
/** 64 KiB of a description's usage notes, none of whose words another test searches for. */
const LONG_NOTES = 'lorem ipsum dolor sit amet '.repeat(64 * 1024 / 27);

interface Found { name: string; title?: string; description?: string; inputSchema: { type: string; properties?: Record<string, unknown> }; outputSchema?: { properties?: Record<string, unknown> } }
interface Searched { tools: Found[]; total: number }

describe('MCP gateway, tool search', () => {
  let docs: FakeMcp;
  let tickets: FakeMcp;
  let modern: FakeMcp;
  let sheets: FakeMcp;
  let gateway: GatewayServer;
  let account: AccountSnapshot;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  /** Request ids of the gateway's answers, in order, as the clients' fetch saw them. */
  const requestIds: string[] = [];
  const clients: { close(): Promise<void> }[] = [];
  let waitStarted: () => void = () => {};
  let waitCancelled: () => void = () => {};

  before(async () => {
    docs = await startFakeMcp((s) => {
      s.registerTool('search', { description: 'Search the docs', inputSchema: { query: z.string() } }, ({ query }) => text(`results for ${query}`));
      s.registerTool('fetch_page', { description: 'Fetch a page', inputSchema: { path: z.string() } }, ({ path }) => text(`page ${path}`));
      s.registerTool('admin_delete', { description: 'Delete a page' }, () => text('deleted'));
    }, (h) => h['x-docs-key'] === DOCS_SECRET, true);
    tickets = await startFakeMcp((s) => {
      s.registerTool('create', { title: 'Open a ticket', description: 'Files a new issue', inputSchema: { title: z.string() } }, ({ title }) => text(`opened "${title}"`));
      s.registerTool('list_open', { description: 'Lists the tickets still open', outputSchema: { count: z.number() } }, () => ({ content: [{ type: 'text' as const, text: 'none open' }], structuredContent: { count: 0 } }));
      s.registerTool('wait', { description: 'Runs until cancelled' }, async (extra) => {
        waitStarted();
        await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve(), { once: true }));
        waitCancelled();
        return text('cancelled');
      });
    }, () => true);
    modern = await startStatelessMcp((s) => {
      s.registerTool('route', { description: 'Routes a ticket to a region', inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }) }, ({ region }) => ({ content: [{ type: 'text' as const, text: `routed to ${region}` }] }));
    }, (h) => h.authorization === `Bearer ${MODERN_SECRET}`);
    sheets = await startFakeMcp((s) => {
      s.registerTool('import', { description: 'Reads a file into a sheet', annotations: { title: 'Import a spreadsheet' } }, () => text('imported'));
      s.registerTool('bulk_load', { description: `Loads rows in bulk. ${LONG_NOTES} quokka` }, () => text('loaded'));
    }, () => true);
    account = snapshot({
      providerKeys: [
        { id: 'aigpk_docs', providerId: 'mcp:docs', value: DOCS_SECRET },
        { id: 'aigpk_modern', providerId: 'mcp:modern', value: MODERN_SECRET },
      ],
      configurations: [{ id: 'aigac_narrow', access: { mcpTools: { allow: ['docs/search', 'docs/fetch_*', 'tickets/*', 'modern/*'] } }, rules: null }],
      mcpServers: [
        { id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key' } },
        { id: 'aigmcp_tickets', label: 'tickets', upstreamUrl: tickets.url, auth: { type: 'none' } },
        { id: 'aigmcp_modern', label: 'modern', upstreamUrl: modern.url, auth: { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' } },
        { id: 'aigmcp_sheets', label: 'sheets', upstreamUrl: sheets.url, auth: { type: 'none' } },
      ],
    });
    const key = (token: string, configurationId: string | null) => [token, { id: `aigk_${token}`, configurationId }] as const;
    const state = stubState(() => account, new Map([key(TOKEN, null), key(NARROW_TOKEN, 'aigac_narrow')]));
    gateway = await startGatewayServer({
      state, usage: collectingSink(usage), logger: pino({ level: 'silent' }),
      catalog: createCatalog({}),
      upstreams: new Upstreams({ loopId: 'mcp-search-test', allowPrivate: true }),
      options: {
        maxBodyBytes: 10 * 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, mcpCallFeeMicroUsd: 1500n, loopId: 'mcp-search-test',
        clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
      },
    }, '127.0.0.1', 0);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await gateway.close(0);
    await docs.close();
    await tickets.close();
    await modern.close();
    await sheets.close();
  });

  const recordingFetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const response = await fetch(url, init);
    requestIds.push(response.headers.get('ngrok-aig-request-id') ?? '');
    return response;
  };

  /** A 2025 client (the v1 SDK: initialize, a session). */
  async function connect(path: string, token: string): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(gateway.url + path), { requestInit: { headers: { authorization: `Bearer ${token}` } }, fetch: recordingFetch });
    const client = new Client({ name: 'mcp-search-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  /** A 2026-07-28 client (the v2 SDK pinned to it: server/discover, no session). */
  async function connectStateless(path: string, token: string): Promise<ClientV2> {
    const transport = new TransportV2(new URL(gateway.url + path), { requestInit: { headers: { authorization: `Bearer ${token}` } }, fetch: recordingFetch });
    const client = new ClientV2({ name: 'mcp-search-stateless-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const finalEvent = (requestId: string): Promise<UsageEvent> => finalEventOf(usage, requestId);

  /** What a usage event says a user relies on, without its ids and times. */
  const recorded = (e: UsageEvent) => [e.provider, e.model, e.accessKeyId, e.statusCode, e.isError, e.completion, e.stopReason, e.costPico, e.providerKeyId];

  /** search_tools' answer: its structured content, which its text block repeats as JSON. */
  function searched(answered: unknown): Searched {
    const result = answered as { content: unknown; structuredContent: unknown };
    const blocks = result.content as { type: string; text: string }[];
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.type, 'text');
    assert.deepEqual(JSON.parse(blocks[0]!.text), result.structuredContent);
    return result.structuredContent as Searched;
  }

  const invalidParams = (error: unknown): boolean => (error instanceof McpError || error instanceof ProtocolError) && error.code === -32602;
  const notAllowed = (error: unknown): boolean => (error instanceof McpError || error instanceof ProtocolError) && error.code === -32003;

  test('tools/list on /mcp?tools=search is search_tools and call_tool, whatever the servers offer; /mcp still lists every tool', async () => {
    const client = await connect('/mcp?tools=search', TOKEN);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['search_tools', 'call_tool']);
    const search = tools[0]!;
    assert.deepEqual(search.inputSchema.required, ['query']);
    assert.deepEqual(Object.keys(search.inputSchema.properties ?? {}), ['query', 'limit']);
    assert.deepEqual(tools[1]!.inputSchema.required, ['name']);
    assert.match(client.getInstructions() ?? '', /search_tools/);

    const plain = await connect('/mcp', TOKEN);
    assert.equal((await plain.listTools()).tools.length, 9);
    assert.equal(plain.getInstructions(), undefined);
  });

  test('search_tools finds the key\'s tools on every server, name hits first, with their input schemas; a tool the key may not call is never found', async () => {
    const narrow = await connect('/mcp?tools=search', NARROW_TOKEN);
    const found = searched(await narrow.callTool({ name: 'search_tools', arguments: { query: 'page ticket' } }));
    assert.deepEqual(found.tools.map((t) => t.name), ['docs__fetch_page', 'tickets__create', 'tickets__list_open', 'tickets__wait', 'modern__route']);
    assert.equal(found.total, 5);
    const page = found.tools[0]!;
    assert.equal(page.description, 'Fetch a page');
    assert.deepEqual(Object.keys(page.inputSchema.properties ?? {}), ['path']);
    assert.deepEqual(Object.keys(found.tools.find((t) => t.name === 'tickets__create')!.inputSchema.properties ?? {}), ['title']);
    // The description names "page": found for a key that may call it, after the tool named so, and never for one that may not.
    const all = await connect('/mcp?tools=search', TOKEN);
    const pages = searched(await all.callTool({ name: 'search_tools', arguments: { query: 'PAGE' } }));
    assert.deepEqual(pages.tools.map((t) => t.name), ['docs__fetch_page', 'docs__admin_delete']);
    assert.deepEqual(searched(await narrow.callTool({ name: 'search_tools', arguments: { query: 'delete' } })), { tools: [], total: 0 });
    // A title counts; the limit cuts the list, not the total.
    const open = searched(await all.callTool({ name: 'search_tools', arguments: { query: 'open', limit: 1 } }));
    assert.deepEqual([open.tools.map((t) => t.name), open.total], [['tickets__list_open'], 2]);
    // A tool's output schema comes with it (the agent reads call_tool's structured answer by it); none when it has none.
    assert.deepEqual(Object.keys(open.tools[0]!.outputSchema?.properties ?? {}), ['count']);
    assert.equal(page.outputSchema, undefined);
  });

  test('a result shows the title it was found by (title, else annotations.title); a description is searched in its first 4 KiB only, and shown whole', async () => {
    const client = await connect('/mcp?tools=search', TOKEN);
    const imported = searched(await client.callTool({ name: 'search_tools', arguments: { query: 'spreadsheet' } }));
    assert.deepEqual(imported.tools.map((t) => [t.name, t.title]), [['sheets__import', 'Import a spreadsheet']]);
    // A tool with a title of its own shows that one.
    const titled = searched(await client.callTool({ name: 'search_tools', arguments: { query: 'create' } }));
    assert.deepEqual(titled.tools.map((t) => [t.name, t.title]), [['tickets__create', 'Open a ticket']]);
    // A word past the first 4,096 characters of a description finds nothing; one in them finds the tool.
    assert.deepEqual(searched(await client.callTool({ name: 'search_tools', arguments: { query: 'quokka' } })), { tools: [], total: 0 });
    const rows = searched(await client.callTool({ name: 'search_tools', arguments: { query: 'rows' } }));
    assert.deepEqual(rows.tools.map((t) => t.name), ['sheets__bulk_load']);
    assert.equal(rows.tools[0]!.description, `Loads rows in bulk. ${LONG_NOTES} quokka`);
  });

  test('call_tool runs a found tool as a direct call of its name does, and usage records it the same; a direct call still works', async () => {
    const client = await connect('/mcp?tools=search', NARROW_TOKEN);
    const sent = docs.seen.length;
    const via = await client.callTool({ name: 'call_tool', arguments: { name: 'docs__search', arguments: { query: 'rate limits' } } });
    assert.deepEqual(via.content, [{ type: 'text', text: 'results for rate limits' }]);
    const upstream = docs.seen.slice(sent).find((s) => s.body.includes('"tools/call"'))!;
    assert.deepEqual(JSON.parse(upstream.body).params, { name: 'search', arguments: { query: 'rate limits' } });
    assert.equal(upstream.headers['x-docs-key'], DOCS_SECRET);
    const viaEvent = await finalEvent(requestIds.at(-1)!);

    const direct = await client.callTool({ name: 'docs__search', arguments: { query: 'rate limits' } });
    assert.deepEqual(direct.content, via.content);
    const directEvent = await finalEvent(requestIds.at(-1)!);
    assert.deepEqual(recorded(viaEvent), ['mcp:docs', 'search', `aigk_${NARROW_TOKEN}`, 200, false, 'succeeded', 'completed', 1_500_000_000n, 'aigpk_docs']);
    assert.deepEqual(recorded(viaEvent), recorded(directEvent));
    assert.ok(usage.some((b) => !('isFinalAttempt' in b) && b.id === viaEvent.id), 'noted in the journal before it was sent');

    // A tool of another server, answering in an event stream, and one without arguments.
    assert.deepEqual((await client.callTool({ name: 'call_tool', arguments: { name: 'tickets__create', arguments: { title: 'Printer on fire' } } })).content, [{ type: 'text', text: 'opened "Printer on fire"' }]);
    assert.deepEqual((await client.callTool({ name: 'call_tool', arguments: { name: 'tickets__list_open' } })).content, [{ type: 'text', text: 'none open' }]);
  });

  test('call_tool of a tool the key may not call, or of an unknown name, is a tool error saying what the direct call\'s JSON-RPC error says; nothing sent, the refusal recorded', async () => {
    const client = await connect('/mcp?tools=search', NARROW_TOKEN);
    const sent = docs.seen.length;
    const refused = await client.callTool({ name: 'call_tool', arguments: { name: 'docs__admin_delete', arguments: {} } });
    assert.deepEqual([refused.isError, refused.content], [true, [{ type: 'text', text: 'tool not allowed for this key' }]]);
    assert.ok(!docs.seen.slice(sent).some((s) => s.body.includes('tools/call')));
    const event = await finalEvent(requestIds.at(-1)!);
    assert.deepEqual([event.provider, event.model, event.isError, event.stopReason, event.costPico], ['mcp:docs', 'admin_delete', true, 'jsonrpc_error_-32003', 0n]);
    // Whatever a direct call of the name is told, call_tool's result says: an unknown label, a tool this key may not
    // call even if it does not exist (the allow list is checked first, so nothing tells whether it does), a tool the
    // key may call that its server does not list; and the meta-tools themselves are no tools to call.
    const errorOf = (p: Promise<unknown>) => p.then(() => assert.fail('answered'), (error: unknown) => error as McpError);
    for (const [name, code] of [['wiki__search', -32602], ['docs__nothing', -32003], ['docs__fetch_nothing', -32602]] as const) {
      const direct = await errorOf(client.callTool({ name, arguments: {} }));
      assert.equal(direct.code, code, name);
      const via = await client.callTool({ name: 'call_tool', arguments: { name, arguments: {} } });
      assert.deepEqual([via.isError, via.content], [true, [{ type: 'text', text: direct.message.replace(`MCP error ${code}: `, '') }]], name);
    }
    const meta = await client.callTool({ name: 'call_tool', arguments: { name: 'search_tools', arguments: { query: 'docs' } } });
    assert.deepEqual([meta.isError, meta.content], [true, [{ type: 'text', text: 'Unknown tool: search_tools' }]]);
  });

  test('a call_tool the client cancels: its server is told under the call\'s id and stops, the call is recorded as cancelled', { timeout: 15_000 }, async () => {
    const client = await connect('/mcp?tools=search', TOKEN);
    const started = new Promise<void>((resolve) => { waitStarted = resolve; });
    const stopped = new Promise<void>((resolve) => { waitCancelled = resolve; });
    const from = tickets.seen.length;
    const controller = new AbortController();
    const calling = client.callTool({ name: 'call_tool', arguments: { name: 'tickets__wait' } }, undefined, { signal: controller.signal });
    await started;
    const requestId = usage.find((b) => !('isFinalAttempt' in b) && b.model === 'wait')!.requestId;
    controller.abort('changed my mind');
    await assert.rejects(calling);
    await stopped;
    const bodies = tickets.seen.slice(from).map((s) => JSON.parse(s.body || '{}') as { id?: unknown; method?: string; params?: { requestId?: unknown } });
    const sent = bodies.find((b) => b.method === 'tools/call');
    const cancel = bodies.find((b) => b.method === 'notifications/cancelled');
    assert.ok(sent && cancel, 'the call and its cancellation reached the server');
    assert.equal(cancel.params?.requestId, sent.id, 'under the id the call went with');
    const e = await finalEvent(requestId);
    assert.deepEqual([e.provider, e.model, e.completion, e.stopReason, e.costPico], ['mcp:tickets', 'wait', 'unknown', 'cancelled', 0n]);
  });

  test('arguments the meta-tools do not take are a tool error naming the argument (the model can correct its call), never a protocol error or a 500', async () => {
    const client = await connect('/mcp?tools=search', TOKEN);
    const refusedFor = async (called: { name: string; arguments: Record<string, unknown> }, argument: string): Promise<void> => {
      const result = await client.callTool(called);
      const content = result.content as { type: string; text: string }[];
      assert.equal(result.isError, true, JSON.stringify(called));
      assert.equal(content.length, 1);
      assert.match(content[0]!.text, new RegExp(`arguments\\.${argument}\\b`), JSON.stringify(called));
    };
    for (const args of [{}, { query: '' }, { query: '  --  ' }, { query: 7 }]) await refusedFor({ name: 'search_tools', arguments: args }, 'query');
    for (const limit of [0, 51, 2.5, '3']) await refusedFor({ name: 'search_tools', arguments: { query: 'docs', limit } }, 'limit');
    for (const name of [undefined, '', 42]) await refusedFor({ name: 'call_tool', arguments: { name } }, 'name');
    for (const args of ['query=x', []]) await refusedFor({ name: 'call_tool', arguments: { name: 'docs__search', arguments: args } }, 'arguments');
    // A direct call of an unknown tool stays a protocol error (MCP's for a tool that does not exist).
    await assert.rejects(client.callTool({ name: 'docs__nothing', arguments: {} }), invalidParams);
    // The connection goes on: the next search is answered.
    assert.equal(searched(await client.callTool({ name: 'search_tools', arguments: { query: 'docs', limit: 50 } })).total, 3);
  });

  test('the stateless revision (2026-07-28): the two tools, search, call_tool (to a server taking an argument in a header too), refusals', async () => {
    const client = await connectStateless('/mcp?tools=search', NARROW_TOKEN);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['search_tools', 'call_tool']);
    const found = searched(await client.callTool({ name: 'search_tools', arguments: { query: 'region' } }));
    assert.deepEqual(found.tools.map((t) => t.name), ['modern__route']);
    assert.deepEqual(Object.keys(found.tools[0]!.inputSchema.properties ?? {}), ['region']);
    const sent = modern.seen.length;
    assert.deepEqual((await client.callTool({ name: 'call_tool', arguments: { name: 'modern__route', arguments: { region: 'eu-west' } } })).content, [{ type: 'text', text: 'routed to eu-west' }]);
    const upstream = modern.seen.slice(sent).find((s) => s.body.includes('"tools/call"'))!;
    assert.equal(upstream.headers['mcp-param-region'], 'eu-west');
    const event = await finalEvent(requestIds.at(-1)!);
    assert.deepEqual(recorded(event), ['mcp:modern', 'route', `aigk_${NARROW_TOKEN}`, 200, false, 'succeeded', 'completed', 1_500_000_000n, 'aigpk_modern']);
    assert.deepEqual((await client.callTool({ name: 'docs__search', arguments: { query: 'direct' } })).content, [{ type: 'text', text: 'results for direct' }]);
    await assert.rejects(client.callTool({ name: 'docs__admin_delete' }), notAllowed);
    const toolError = async (called: { name: string; arguments: Record<string, unknown> }, said: RegExp): Promise<void> => {
      const result = await client.callTool(called);
      assert.equal(result.isError, true, JSON.stringify(called));
      assert.match((result.content as { text: string }[])[0]!.text, said);
    };
    await toolError({ name: 'call_tool', arguments: { name: 'docs__admin_delete' } }, /^tool not allowed for this key$/);
    await toolError({ name: 'search_tools', arguments: { query: 'x', limit: 0 } }, /arguments\.limit/);
    await toolError({ name: 'search_tools', arguments: {} }, /arguments\.query/);
  });

  test('stateless call_tool: an Mcp-Param header the client does send must be the tool\'s argument (400 -32020, nothing sent), as on a direct call', async () => {
    const url = new URL(gateway.url);
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const post = (id: number, region: string, extra: Record<string, string>) => new Promise<{ status: number; body: { result?: { content: unknown }; error?: { code: number; message: string } } }>((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname, port: url.port, path: '/mcp?tools=search', method: 'POST',
        headers: { authorization: `Bearer ${NARROW_TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'call_tool', ...extra },
      }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { t += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'call_tool', arguments: { name: 'modern__route', arguments: { region } }, _meta: meta } }));
    });
    const sent = modern.seen.length;
    // A proxy in front routed this on eu-west; the body asks for us-east.
    const lying = await post(1, 'us-east', { 'mcp-param-region': 'eu-west' });
    assert.equal(lying.status, 400);
    assert.equal(lying.body.error?.code, -32020);
    assert.ok(!modern.seen.slice(sent).some((s) => s.body.includes('"tools/call"')), 'nothing reached the server');
    // Agreeing, or not sent at all (call_tool\'s own schema asks for none, so the SDKs send none), it runs.
    assert.deepEqual((await post(2, 'eu-west', { 'mcp-param-region': 'eu-west' })).body.result?.content, [{ type: 'text', text: 'routed to eu-west' }]);
    assert.deepEqual((await post(3, 'us-east', {})).body.result?.content, [{ type: 'text', text: 'routed to us-east' }]);
  });

  test('the mode is spelt ?tools=search, on /mcp and on an mcp. host\'s /; another value, another parameter (TOOLS, tool…), or a server\'s own endpoint, is 400', async () => {
    const url = new URL(gateway.url);
    const raw = (path: string, host: string) => new Promise<{ status: number; body: { result?: { tools: { name: string }[] }; error?: { code: number; message: string } } }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers: { host, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { t += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    });
    const onHost = await raw('/?tools=search', 'mcp.example.com');
    assert.equal(onHost.status, 200);
    assert.deepEqual(onHost.body.result?.tools.map((t) => t.name), ['search_tools', 'call_tool']);
    const refusals = [
      ['/mcp?tools=serach', 'localhost', /tools=serach/], ['/?tools=all', 'mcp.example.com', /tools=all/], ['/mcp/s-aigmcp_docs?tools=search', 'localhost', /aggregate endpoint/],
      // A misspelt name would otherwise list every tool as silently as a misspelt value did.
      ['/mcp?TOOLS=search', 'localhost', /"TOOLS"/], ['/mcp?Tools=search', 'localhost', /"Tools"/], ['/?tool=search', 'mcp.example.com', /"tool"/],
      ['/mcp?tools=search&limit=5', 'localhost', /"limit"/], ['/mcp/s-aigmcp_docs?tool=search', 'localhost', /"tool"/],
    ] as const;
    for (const [path, host, said] of refusals) {
      const refused = await raw(path, host);
      assert.equal(refused.status, 400, path);
      assert.equal(refused.body.error?.code, -32600);
      assert.match(refused.body.error?.message ?? '', said);
    }
  });
});
