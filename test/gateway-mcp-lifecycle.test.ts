// The MCP gateway's sessions with its servers, as they end (gateway-behaviour.md "MCP gateway", "Upstream sessions"):
// whichever way a client's session or key ends, or a server leaves the account, the server is sent the DELETE that
// ends the session the gateway held with it (Streamable HTTP "Session Management"), now rather than at its own expiry,
// and so does a stopping gateway; a session relaying a long call is not idle. And a POST's Content-Type is held to application/json, as the official
// SDK's server holds it. The servers are scripted plain HTTP, so their DELETEs can be watched.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { GatewayStateView } from '../src/gateway/context.ts';
import type { McpGatewayOptions } from '../src/gateway/mcp/handler.ts';
import type { McpServerState } from '../src/domain/mcp-server.ts';
import type { AccountSnapshot, AuthenticatedKey } from '../src/state/types.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink } from './helpers/stub-gateway.ts';
import { sse, startScripted, type Scripted } from './helpers/mcp-scripted.ts';

const TOKEN = 'ng-mcp-lifecycle-key';
const KEY: AuthenticatedKey = { id: 'aigk_lifecycle', accountId: 'acct_test', configurationId: null };

/**
 * A gateway over a state whose key can be deleted and whose account replaced, telling the gateway as GatewayState
 * does (onAccessKeyChange, onReload).
 */
async function startGateway(servers: McpServerState[], secrets: { id: string; providerId: string; value: string }[] = [], mcp: McpGatewayOptions = {}) {
  let account: AccountSnapshot = snapshot({ mcpServers: servers, providerKeys: secrets });
  let key: AuthenticatedKey | null = KEY;
  const keyListeners: ((id: string) => void)[] = [];
  const reloadListeners: ((before: AccountSnapshot, now: AccountSnapshot) => void)[] = [];
  const state: GatewayStateView = {
    authenticate: (token) => (token === TOKEN ? key : null),
    account: () => account,
    configuration: () => null,
    reloadAccount: async () => true,
    changesArriving: () => undefined,
    markUsed: () => {},
    debit: () => {},
    accessKeyById: async (id) => (id === KEY.id ? key : null),
    onAccessKeyChange: (listener) => { keyListeners.push(listener); },
    onReload: (listener) => { reloadListeners.push(listener); },
  };
  const gateway: GatewayServer = await startGatewayServer({
    state, usage: collectingSink([]), logger: pino({ level: 'silent' }), catalog: createCatalog({}), upstreams: new Upstreams({ loopId: 'mcp-lifecycle', allowPrivate: true }),
    options: {
      maxBodyBytes: 1 << 20, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'mcp-lifecycle', mcp,
      clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
    },
  }, '127.0.0.1', 0);
  return {
    gateway,
    deleteKey: () => {
      key = null;
      for (const l of keyListeners) l(KEY.id);
    },
    replaceAccount: (servers: McpServerState[], secrets: { id: string; providerId: string; value: string }[] = []) => {
      const before = account;
      account = snapshot({ mcpServers: servers, providerKeys: secrets });
      for (const l of reloadListeners) l(before, account);
    },
  };
}

const server = (id: string, s: Scripted, auth: McpServerState['auth'] = { type: 'none' }): McpServerState => ({ id, label: id.slice('aigmcp_'.length), upstreamUrl: s.url, auth });

async function post(gateway: GatewayServer, path: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gateway.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

async function initialize(gateway: GatewayServer, path: string): Promise<string> {
  const res = await post(gateway, path, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'lifecycle', version: '1' } } });
  await res.text();
  return res.headers.get('mcp-session-id')!;
}

async function callSearch(gateway: GatewayServer, path: string, session?: string): Promise<string> {
  const res = await post(gateway, path, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: {} } }, session ? { 'mcp-session-id': session } : {});
  return res.text();
}

/** The session ids the server was sent DELETE for, in order. */
const deleted = (s: Scripted): string[] => s.seen.filter((x) => x.method === 'DELETE').map((x) => String(x.headers['mcp-session-id']));
/** The upstream session id each tools/call went in. */
const callSessions = (s: Scripted): string[] => s.seen.filter((x) => x.message?.method === 'tools/call').map((x) => String(x.headers['mcp-session-id']));

/** Waits (up to 2 s) until `s` was sent DELETE for every one of `ids`: the gateway sends them unawaited. */
async function deletesOf(s: Scripted, ids: string[]): Promise<void> {
  for (let i = 0; i < 200 && !ids.every((id) => deleted(s).includes(id)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(deleted(s).filter((id) => ids.includes(id)).sort(), [...ids].sort(), `DELETEs the server saw: ${JSON.stringify(deleted(s))}`);
}

describe('MCP gateway, upstream sessions as they end', () => {
  test('a deleted access key: the sessions its client sessions and its sessionless requests held are ended at once', async () => {
    const docs = await startScripted();
    const { gateway, deleteKey } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      const session = await initialize(gateway, '/mcp/s-aigmcp_docs');
      assert.match(await callSearch(gateway, '/mcp/s-aigmcp_docs', session), /"ok"/);
      assert.match(await callSearch(gateway, '/mcp/s-aigmcp_docs'), /"ok"/);
      const [inSession, sessionless] = callSessions(docs);
      assert.notEqual(inSession, sessionless);
      assert.deepEqual(deleted(docs), []);

      deleteKey();
      await deletesOf(docs, [inSession!, sessionless!]);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a server deleted from the account, or its secret rotated: its sessions are ended at once; another server\'s stay', async () => {
    const [docs, wiki] = await Promise.all([startScripted(), startScripted()]);
    const docsServer = server('aigmcp_docs', docs);
    const wikiServer = server('aigmcp_wiki', wiki, { type: 'secret', in: 'header', name: 'X-Wiki-Key' });
    const { gateway, replaceAccount } = await startGateway([docsServer, wikiServer], [{ id: 'aigpk_wiki', providerId: 'mcp:wiki', value: 'wiki-secret-1' }]);
    try {
      const session = await initialize(gateway, '/mcp');
      assert.match(await (await post(gateway, '/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'docs__search', arguments: {} } }, { 'mcp-session-id': session })).text(), /"ok"/);
      assert.match(await (await post(gateway, '/mcp', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'wiki__search', arguments: {} } }, { 'mcp-session-id': session })).text(), /"ok"/);
      const [docsSession] = callSessions(docs);
      const [wikiSession] = callSessions(wiki);

      // The account changes in ways that leave both servers' sessions usable: nothing is ended.
      replaceAccount([docsServer, wikiServer], [{ id: 'aigpk_wiki', providerId: 'mcp:wiki', value: 'wiki-secret-1' }]);
      // The wiki's secret is rotated: its session was opened with the old one.
      replaceAccount([docsServer, wikiServer], [{ id: 'aigpk_wiki2', providerId: 'mcp:wiki', value: 'wiki-secret-2' }]);
      await deletesOf(wiki, [wikiSession!]);
      assert.deepEqual(deleted(docs), []);

      // The docs server is deleted.
      replaceAccount([wikiServer], [{ id: 'aigpk_wiki2', providerId: 'mcp:wiki', value: 'wiki-secret-2' }]);
      await deletesOf(docs, [docsSession!]);
      // The wiki goes on, in a session opened with its new secret.
      assert.match(await (await post(gateway, '/mcp', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'wiki__search', arguments: {} } }, { 'mcp-session-id': session })).text(), /"ok"/);
      assert.equal(wiki.seen.filter((x) => x.message?.method === 'tools/call').at(-1)!.headers['x-wiki-key'], 'wiki-secret-2');
    } finally {
      await gateway.close(0);
      await Promise.all([docs.close(), wiki.close()]);
    }
  });

  test('a client session ended while its server\'s session was still being opened: that session is ended once it opens', async () => {
    const docs = await startScripted();
    const { gateway } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      const session = await initialize(gateway, '/mcp');
      let answerInitialize: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        // Only the first is held: a session opened after is answered at once.
        docs.onInitialize = (answer) => {
          answerInitialize = answer;
          docs.onInitialize = (next) => next();
          resolve();
        };
      });
      const call = post(gateway, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'docs__search', arguments: {} } }, { 'mcp-session-id': session });
      await held;
      const ended = await fetch(`${gateway.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}`, 'mcp-session-id': session } });
      assert.equal(ended.status, 200);
      answerInitialize();
      // The call, in a session that ended, is answered (an error naming the server), never left waiting.
      const answer = JSON.parse(await (await call).text()) as { id: number; error?: { code: number; message: string } };
      assert.equal(answer.id, 1);
      assert.equal(answer.error?.code, -32603);
      await deletesOf(docs, ['sess-1']);
      assert.deepEqual(callSessions(docs), [], 'nothing was sent in the ended session');
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a stopping gateway ends the sessions it held with its servers before its connections close', async () => {
    const docs = await startScripted();
    const { gateway } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      const session = await initialize(gateway, '/mcp/s-aigmcp_docs');
      assert.match(await callSearch(gateway, '/mcp/s-aigmcp_docs', session), /"ok"/);
      assert.match(await callSearch(gateway, '/mcp/s-aigmcp_docs'), /"ok"/);
    } finally {
      await gateway.close(0);
    }
    try {
      // Sent before close() resolved: nothing to wait for.
      assert.deepEqual(deleted(docs).sort(), callSessions(docs).sort());
      assert.equal(deleted(docs).length, 2);
    } finally {
      await docs.close();
    }
  });

  test('a session relaying a call that runs past the idle limit is not ended under it; idle after, it is', { timeout: 15_000 }, async () => {
    const docs = await startScripted();
    let finish: () => void = () => {};
    docs.onCall = (m, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse([{ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } }]));
      finish = () => res.end(sse([{ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'done' }] } }]));
    };
    const { gateway } = await startGateway([server('aigmcp_docs', docs)], [], { upstreamIdleMs: 100 });
    try {
      const call = callSearch(gateway, '/mcp/s-aigmcp_docs');
      for (let i = 0; i < 200 && callSessions(docs).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      // Several sweeps (every 100 ms here) pass while the call runs.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(deleted(docs), [], 'no DELETE while the call ran');
      finish();
      assert.match(await call, /"done"/);
      await deletesOf(docs, [callSessions(docs)[0]!]);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });
});

describe('MCP gateway, a POST\'s Content-Type', () => {
  test('application/json, with parameters or in any case, is served; another type or none is 415 with a JSON-RPC error, nothing sent', async () => {
    const docs = await startScripted();
    const { gateway } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' });
      for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
        const res = await fetch(`${gateway.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type }, body: ping });
        assert.equal(res.status, 200, type);
        assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 7, result: {} });
      }
      const sent = docs.seen.length;
      const call = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'search', arguments: {} } });
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/plain; a=application/json', undefined]) {
        const res = await fetch(`${gateway.url}/mcp/s-aigmcp_docs`, {
          method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...(type ? { 'content-type': type } : {}) }, body: type ? call : new Blob([call]),
        });
        assert.equal(res.status, 415, String(type));
        assert.equal(res.headers.get('content-type'), 'application/json');
        assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Unsupported Media Type: Content-Type must be application/json.' } });
      }
      assert.equal(docs.seen.length, sent, 'nothing reached the server');
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });
});
