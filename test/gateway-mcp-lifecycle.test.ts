// The MCP gateway's sessions with its servers, as they end (gateway-behaviour.md "MCP gateway", "Upstream sessions"):
// whichever way a client's session or key ends, or a server leaves the account, the server is sent the DELETE that
// ends the session the gateway held with it (Streamable HTTP "Session Management"), now rather than at its own expiry,
// and so does a stopping gateway; a session relaying a long call is not idle. And a POST's media types: its
// Content-Type is held to application/json, as the official SDK's server holds it, and its answer is one its Accept
// takes (JSON or an event stream, 406 for neither). The servers are scripted plain HTTP, so their DELETEs can be watched.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { McpGatewayOptions } from '../src/gateway/mcp/index.ts';
import type { McpServerState } from '../src/domain/mcp-server.ts';
import { json, sse, startScripted } from './helpers/mcp-scripted.ts';
import { callSessions, deleted, deletesOf, initialize, mcpServer as server, post, startMcpGateway, TOKEN } from './helpers/mcp-gateway.ts';
import type { GatewayServer } from '../src/gateway/server.ts';

const startGateway = (servers: McpServerState[], secrets: { id: string; providerId: string; value: string }[] = [], mcp: McpGatewayOptions = {}) => startMcpGateway({ servers, secrets }, mcp);

async function callSearch(gateway: GatewayServer, path: string, session?: string): Promise<string> {
  const res = await post(gateway, path, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: {} } }, session ? { 'mcp-session-id': session } : {});
  return res.text();
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

describe('MCP gateway, what a POST\'s Accept takes', () => {
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' });
  const send = (gateway: GatewayServer, path: string, body: string, accept: string, token = TOKEN) => fetch(gateway.url + path, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept }, body,
  });

  test('JSON and event streams both, by name or by wildcard, are served; neither is 406 with a JSON-RPC error, nothing sent', async () => {
    const docs = await startScripted();
    const { gateway } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      for (const accept of ['application/json, text/event-stream', '*/*', 'application/*, text/*', 'text/event-stream;q=0.5, application/json', 'text/html, */*;q=0.8']) {
        const res = await send(gateway, '/mcp', ping, accept);
        assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'application/json'], accept);
        assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 7, result: {} });
      }
      const sent = docs.seen.length;
      const call = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'search', arguments: {} } });
      for (const accept of ['text/html', 'application/json;q=0, text/event-stream;q=0', 'image/*', '*/*;q=0']) {
        const res = await send(gateway, '/mcp/s-aigmcp_docs', call, accept);
        assert.deepEqual([res.status, res.headers.get('content-type')], [406, 'application/json'], accept);
        assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Not Acceptable: Client must accept application/json or text/event-stream.' } });
      }
      assert.equal(docs.seen.length, sent, 'nothing reached the server');
      // The key is checked first: an unknown one is told so, whatever it takes.
      assert.equal((await send(gateway, '/mcp', ping, 'text/html', 'ng-unknown')).status, 401);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a client taking only JSON gets a streamed answer as JSON, the answer alone; one taking only event streams gets every answer as one', async () => {
    const docs = await startScripted();
    docs.onCall = (m, res) => {
      if ((m.params?.arguments as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(sse([{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: 1 } }, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'streamed' }] } }]));
      } else {
        json(res, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'json' }] } });
      }
    };
    const { gateway } = await startGateway([server('aigmcp_docs', docs)]);
    try {
      const call = (id: number, stream: boolean) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search', arguments: { stream } } });
      let res = await send(gateway, '/mcp/s-aigmcp_docs', call(1, true), 'application/json');
      assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'application/json']);
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'streamed' }] } });

      const event = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
      res = await send(gateway, '/mcp/s-aigmcp_docs', call(2, false), 'text/event-stream');
      assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'text/event-stream']);
      assert.equal(await res.text(), event({ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'json' }] } }));
      res = await send(gateway, '/mcp', ping, 'text/event-stream');
      assert.equal(await res.text(), event({ jsonrpc: '2.0', id: 7, result: {} }));
      res = await send(gateway, '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'sse-only', version: '1' } } }), 'text/event-stream');
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      assert.match(res.headers.get('mcp-session-id') ?? '', /^mcps_/);
      assert.match(await res.text(), /^event: message\ndata: \{"jsonrpc":"2.0","id":0,"result":\{"protocolVersion":"2025-11-25"/);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });
});
