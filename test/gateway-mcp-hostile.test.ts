// The MCP gateway against clients and servers that do not play fair (gateway-behaviour.md "MCP gateway"): a request
// smuggled past the allow list, a server forging answers to another server's calls or asking the client things the
// aggregate endpoint cannot answer, a server's session shared across users' tokens, a name resolving to a private
// address, a redirect, an oversized body, another account making sessions until this account's would be dropped. The servers are scripted plain HTTP, so each can misbehave exactly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { GatewayStateView } from '../src/gateway/context.ts';
import type { Lookup } from '../src/domain/public-address.ts';
import type { McpServerState } from '../src/domain/mcp-server.ts';
import type { AccountSnapshot } from '../src/state/types.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, stubState } from './helpers/stub-gateway.ts';
import { json, sse, startScripted, type Message, type Scripted } from './helpers/mcp-scripted.ts';

const TOKEN = 'ng-mcp-hostile-key';
const NARROW_TOKEN = 'ng-mcp-hostile-narrow-key';

async function startGateway(account: () => AccountSnapshot, upstreams: Upstreams, usage: (BegunAttempt | UsageEvent)[] = [], maxBodyBytes = 1 << 20): Promise<GatewayServer> {
  const keys = new Map([[TOKEN, { id: 'aigk_hostile', configurationId: null }], [NARROW_TOKEN, { id: 'aigk_narrow', configurationId: 'aigac_narrow' }]]);
  return startGatewayServer({
    state: stubState(account, keys), usage: collectingSink(usage), logger: pino({ level: 'silent' }), catalog: createCatalog({}), upstreams,
    options: {
      maxBodyBytes, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'mcp-hostile',
      clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
    },
  }, '127.0.0.1', 0);
}

const accountWith = (servers: McpServerState[]) => snapshot({
  configurations: [{ id: 'aigac_narrow', access: { mcpTools: { allow: ['docs/search', 'evil/*', 'other/*', 'under_/search'] } }, rules: null }],
  mcpServers: servers,
});

/** One raw POST to the gateway: the status and the body as text. */
async function post(gateway: GatewayServer, path: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(gateway.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${NARROW_TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** The JSON-RPC messages of an answer, JSON or event stream. */
function messagesOf(text: string): Record<string, unknown>[] {
  if (!text.startsWith('event:') && !text.startsWith('data:')) return [JSON.parse(text) as Record<string, unknown>];
  return text.split('\n\n').filter((e) => e.trim() !== '').map((e) => JSON.parse(e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')) as Record<string, unknown>);
}

const calls = (s: Scripted, from = 0) => s.seen.slice(from).filter((x) => x.body.includes('tools/call'));

describe('MCP gateway, hostile clients and servers', () => {
  let docs: Scripted;
  let evil: Scripted;
  let other: Scripted;
  let gateway: GatewayServer;

  before(async () => {
    [docs, evil, other] = await Promise.all([startScripted(), startScripted(), startScripted()]);
    const account = accountWith([
      { id: 'aigmcp_docs', label: 'docs', upstreamUrl: docs.url, auth: { type: 'oauthPassthrough' } },
      { id: 'aigmcp_evil', label: 'evil', upstreamUrl: evil.url, auth: { type: 'none' } },
      { id: 'aigmcp_other', label: 'other', upstreamUrl: other.url, auth: { type: 'none' } },
      { id: 'aigmcp_under', label: 'under_', upstreamUrl: other.url, auth: { type: 'none' } },
    ]);
    gateway = await startGateway(() => account, new Upstreams({ loopId: 'mcp-hostile', allowPrivate: true }));
  });
  after(async () => {
    await gateway.close(0);
    await Promise.all([docs.close(), evil.close(), other.close()]);
  });

  test('a tools/call sent as a notification (no id) never reaches a server\'s own endpoint; a null id is refused', async () => {
    const sent = docs.seen.length;
    const notified = await post(gateway, '/mcp/s-aigmcp_docs', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'admin_delete', arguments: {} } });
    assert.equal(notified.status, 202);
    const nulled = await post(gateway, '/mcp/s-aigmcp_docs', { jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: 'admin_delete', arguments: {} } });
    assert.equal(nulled.status, 400);
    assert.equal((JSON.parse(nulled.text) as { error: { code: number } }).error.code, -32600);
    // A real notification still goes on.
    assert.equal((await post(gateway, '/mcp/s-aigmcp_docs', { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } })).status, 202);
    // The 202 is answered before the notification is passed on (unawaited): wait until the server has it. A tools/call
    // passed on the same way would have been sent before it, on the requests answered earlier.
    const cancelled = () => docs.seen.slice(sent).some((s) => s.message?.method === 'notifications/cancelled');
    for (let i = 0; i < 200 && !cancelled(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(cancelled(), 'the notification reached the server');
    assert.deepEqual(calls(docs, sent), [], 'no tools/call reached the server');
  });

  test('a body naming the tool or the method twice reaches the server as the gateway read it', async () => {
    const sent = docs.seen.length;
    const twice = await post(gateway, '/mcp/s-aigmcp_docs', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_delete","name":"search","arguments":{}}}');
    assert.equal(twice.status, 200);
    const method = await post(gateway, '/mcp/s-aigmcp_docs', '{"jsonrpc":"2.0","id":2,"method":"tools/call","method":"resources/read","params":{"name":"admin_delete","uri":"file:///x"}}');
    assert.equal(method.status, 200);
    const bodies = docs.seen.slice(sent).map((s) => s.body).filter((b) => b.includes('tools/call') || b.includes('resources/read'));
    assert.equal(bodies.length, 2);
    for (const b of bodies) assert.ok(!b.includes('admin_delete') || !b.includes('tools/call'), `the server was sent ${b}`);
    assert.deepEqual(bodies.map((b) => (JSON.parse(b) as Message).method), ['tools/call', 'resources/read']);
    assert.equal((JSON.parse(bodies[0]!) as { params: { name: string } }).params.name, 'search');
  });

  test('on the aggregate endpoint a server\'s stream passes only its notifications and this call\'s answer', async () => {
    evil.onCall = (m, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse([
        { jsonrpc: '2.0', id: 'other-call', result: { content: [{ type: 'text', text: 'forged' }] } },
        { jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } },
        { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: 1 } },
        { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'real' }] } },
        { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'again' }] } },
      ]));
    };
    for (const id of ['call-7', 7]) {
      const answer = await post(gateway, '/mcp', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'evil__search', arguments: {}, _meta: { progressToken: 't' } } });
      assert.deepEqual(messagesOf(answer.text), [
        { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: 1 } },
        { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'real' }] } },
      ]);
    }

    // A JSON answer under another id is no answer: the client's request gets the gateway's error under its own id.
    evil.onCall = (_m, res) => json(res, { jsonrpc: '2.0', id: 'other-call', result: { content: [{ type: 'text', text: 'forged' }] } });
    const forged = messagesOf((await post(gateway, '/mcp', { jsonrpc: '2.0', id: 'call-8', method: 'tools/call', params: { name: 'evil__search', arguments: {} } })).text);
    assert.deepEqual(forged, [{ jsonrpc: '2.0', id: 'call-8', error: { code: -32603, message: 'MCP server "evil" gave no answer the gateway could read.', data: { server: 'evil' } } }]);
  });

  test('a server\'s own endpoint passes its requests on (their answers go back to it)', async () => {
    other.onCall = (m, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse([{ jsonrpc: '2.0', id: 0, method: 'elicitation/create', params: { message: 'sure?' } }, { jsonrpc: '2.0', id: m.id, result: { content: [] } }]));
    };
    const answer = await post(gateway, '/mcp/s-aigmcp_other', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search', arguments: {} } });
    assert.deepEqual(messagesOf(answer.text).map((m) => m.method ?? m.id), ['elicitation/create', 3]);
  });

  test('a tool name is matched as listed: exact case, a label ending in "_" included, "*" no wildcard', async () => {
    const codeOf = async (name: string) => {
      const [m] = messagesOf((await post(gateway, '/mcp', { jsonrpc: '2.0', id: name, method: 'tools/call', params: { name, arguments: {} } })).text);
      return m!.id === name ? (m!.error as { code: number } | undefined)?.code ?? 0 : NaN;
    };
    other.onCall = (m, res) => json(res, { jsonrpc: '2.0', id: m.id, result: { content: [] } });
    const listed = messagesOf((await post(gateway, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' })).text)[0]!.result as { tools: { name: string }[] };
    assert.ok(listed.tools.some((t) => t.name === 'under___search'));
    assert.deepEqual(await Promise.all(['under___search', 'docs__search', 'Docs__search', 'docs__Search', 'docs__search ', 'docs__sea*', 'docs__admin_delete', 'docs___search'].map(codeOf)),
      [0, 0, -32602, -32003, -32003, -32003, -32003, -32003]);
  });

  test('users of one key with their own OAuth tokens never share a server session', async () => {
    const sent = docs.seen.length;
    for (const user of ['alice', 'bob', 'alice']) {
      const answer = await post(gateway, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'docs__search', arguments: {} } }, { 'x-api-key': NARROW_TOKEN, authorization: `Bearer token-of-${user}` });
      assert.equal(answer.status, 200);
    }
    const used = calls(docs, sent).map((s) => [s.headers.authorization, s.headers['mcp-session-id']]);
    assert.equal(used.length, 3);
    assert.notEqual(used[0]![1], used[1]![1], 'bob was given alice\'s session');
    assert.equal(used[0]![1], used[2]![1], 'alice keeps hers');
  });
});

describe('MCP gateway, upstream addresses', () => {
  test('a public name resolving to a private address is refused at connect time, and a redirect is not followed', async () => {
    const target = await startScripted();
    const redirected = await startScripted();
    const port = new URL(target.url).port;
    redirected.onCall = (_m, res) => res.writeHead(307, { location: target.url }).end();
    // The name resolves to loopback, as DNS rebinding would have it; the operator did not allow private upstreams.
    const lookup: Lookup = (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const account = accountWith([
      { id: 'aigmcp_evil', label: 'evil', upstreamUrl: `http://rebind.example.com:${port}/mcp`, auth: { type: 'none' } },
      { id: 'aigmcp_other', label: 'other', upstreamUrl: redirected.url, auth: { type: 'none' } },
    ]);
    const publicOnly = await startGateway(() => account, new Upstreams({ loopId: 'mcp-hostile', allowPrivate: false, lookup }));
    const open = await startGateway(() => account, new Upstreams({ loopId: 'mcp-hostile', allowPrivate: true }));
    try {
      const refused = messagesOf((await post(publicOnly, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'evil__search', arguments: {} } })).text);
      assert.deepEqual(refused, [{ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'MCP server "evil" is at an address that is not public.', data: { server: 'evil' } } }]);
      assert.equal(target.seen.length, 0, 'nothing reached the private address');

      const moved = messagesOf((await post(open, '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'other__search', arguments: {} } })).text);
      assert.deepEqual(moved, [{ jsonrpc: '2.0', id: 2, error: { code: -32603, message: 'MCP server "other" answered HTTP 307.', data: { server: 'other', status: 307 } } }]);
      assert.equal(calls(target).length, 0, 'the redirect was not followed');
    } finally {
      await publicOnly.close(0);
      await open.close(0);
      await target.close();
      await redirected.close();
    }
  });

  test('a body over the gateway\'s limit is refused with 413 before it is read whole', async () => {
    const gateway = await startGateway(() => accountWith([]), new Upstreams({ loopId: 'mcp-hostile', allowPrivate: true }), [], 1024);
    try {
      const big = await post(gateway, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'docs__search', arguments: { q: 'x'.repeat(4096) } } });
      assert.equal(big.status, 413);
      assert.equal((JSON.parse(big.text) as { error: { code: number } }).error.code, -32600);
    } finally {
      await gateway.close(0);
    }
  });
});

describe('MCP gateway, one account making sessions against another', () => {
  test("an account's sessions past its share end its own oldest, never another account's client or upstream sessions", async () => {
    const [mine, theirs] = await Promise.all([startScripted(), startScripted()]);
    const account = (accountId: string, server: McpServerState): AccountSnapshot => ({ ...snapshot({ mcpServers: [server] }), accountId });
    const accounts = new Map([
      ['acct_mine', account('acct_mine', { id: 'aigmcp_mine', label: 'mine', upstreamUrl: mine.url, auth: { type: 'none' } })],
      ['acct_theirs', account('acct_theirs', { id: 'aigmcp_theirs', label: 'theirs', upstreamUrl: theirs.url, auth: { type: 'none' } })],
    ]);
    // Their five keys: requests without a session share their key's upstream sessions, one per key.
    const keys = new Map([['ng-mine', { id: 'aigk_mine', accountId: 'acct_mine' }], ...[0, 1, 2, 3, 4].map((i) => [`ng-theirs-${i}`, { id: `aigk_theirs${i}`, accountId: 'acct_theirs' }] as const)]);
    const state: GatewayStateView = {
      authenticate: (token) => { const key = keys.get(token); return key ? { ...key, configurationId: null } : null; },
      account: (id) => accounts.get(id)!,
      configuration: () => null,
      reloadAccount: async () => true,
      changesArriving: () => undefined,
      markUsed: () => {},
      debit: () => {},
    };
    const gateway = await startGatewayServer({
      state, usage: collectingSink([]), logger: pino({ level: 'silent' }), catalog: createCatalog({}), upstreams: new Upstreams({ loopId: 'mcp-hostile', allowPrivate: true }),
      options: {
        maxBodyBytes: 1 << 20, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'mcp-hostile', mcp: { maxSessions: 4 },
        clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
      },
    }, '127.0.0.1', 0);
    try {
      const as = (token: string, session?: string) => ({ authorization: `Bearer ${token}`, ...(session ? { 'mcp-session-id': session } : {}) });
      const init = await fetch(`${gateway.url}/mcp/s-aigmcp_mine`, {
        method: 'POST', headers: { ...as('ng-mine'), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mine', version: '1' } } }),
      });
      const session = init.headers.get('mcp-session-id')!;
      await init.text();
      const call = async (id: number) => messagesOf((await post(gateway, '/mcp/s-aigmcp_mine', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search', arguments: {} } }, as('ng-mine', session))).text);
      assert.deepEqual(await call(1), [{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } }]);
      const upstream = calls(mine).at(-1)!.headers['mcp-session-id'];
      const from = mine.seen.length;

      // The other account: ten client sessions of ids it made up, then five upstream sessions (one per key) — more
      // of each than the node keeps (calls: a tool list is shared by every caller with the server's credential).
      for (let i = 0; i < 10; i++) assert.equal((await post(gateway, '/mcp', { jsonrpc: '2.0', id: i, method: 'ping' }, as('ng-theirs-0', `made-up-${i}`))).status, 200);
      for (let i = 0; i < 5; i++) assert.match((await post(gateway, '/mcp', { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'theirs__search', arguments: {} } }, as(`ng-theirs-${i}`))).text, /"ok"/);

      // This account's session and its server's session go on: nothing ended, nothing opened again.
      assert.deepEqual(await call(2), [{ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'ok' }] } }]);
      assert.deepEqual(mine.seen.slice(from).map((x) => x.method === 'DELETE' ? 'DELETE' : x.message?.method), ['tools/call']);
      assert.equal(calls(mine).at(-1)!.headers['mcp-session-id'], upstream);
    } finally {
      await gateway.close(0);
      await Promise.all([mine.close(), theirs.close()]);
    }
  });
});
