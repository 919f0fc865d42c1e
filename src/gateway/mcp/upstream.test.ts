import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from '../upstream.ts';
import { McpUpstreamSessions, type McpTarget, type McpTracing } from './upstream.ts';

/** An MCP server whose every tools/list page is 20 tools (under 3 KB), with a next cursor when `endless`; it counts the pages asked. */
async function startLister(endless: boolean) {
  const lister = { pages: 0, close: () => {}, target: (credential: string): McpTarget => ({ server, accountId: 'acct_test', url: new URL(server.upstreamUrl), headers: {}, credential, secret: undefined }) };
  const http = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      const m = JSON.parse(body) as { id?: string; method: string };
      if (m.id === undefined) return void res.writeHead(202).end();
      const tools = Array.from({ length: 20 }, (_, i) => ({ name: `tool_${lister.pages}_${i}`, description: 'x'.repeat(80), inputSchema: { type: 'object' } }));
      const result = m.method === 'initialize'
        ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'lister', version: '1' } }
        : { tools, ...(endless ? { nextCursor: `page-${++lister.pages}` } : (lister.pages++, {})) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = { id: 'aigmcp_lister', label: 'lister', upstreamUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, auth: { type: 'none' as const } };
  lister.close = () => { http.closeAllConnections(); http.close(); };
  return lister;
}

const budget = () => ({ headersMs: 5000, idleMs: 5000, signal: new AbortController().signal });

test('a server paging out a huge tool list is bounded by the whole list\'s size, not each page\'s', async () => {
  const lister = await startLister(true);
  const upstreams = new Upstreams({ loopId: 'mcp-lister', allowPrivate: true });
  try {
    const bounded = new McpUpstreamSessions(upstreams, { maxToolListBytes: 10_000 });
    await assert.rejects(bounded.tools('owner', lister.target(''), budget()), { message: 'MCP server "lister" answered with more than the gateway reads.' });
    assert.ok(lister.pages <= 5, `the gateway stopped asking once the list passed its bound (${lister.pages} pages)`);
    const roomy = new McpUpstreamSessions(upstreams);
    assert.equal((await roomy.tools('owner', lister.target(''), budget())).length, 50 * 20, 'at most 50 pages are followed');
  } finally {
    await upstreams.close();
    lister.close();
  }
});

test('the tool lists kept are bounded by their total size: lists under many credentials push the oldest out', async () => {
  const lister = await startLister(false);
  const upstreams = new Upstreams({ loopId: 'mcp-lister', allowPrivate: true });
  try {
    // Room for two lists of under 3 KB each, not three.
    const sessions = new McpUpstreamSessions(upstreams, { maxToolCacheBytes: 7_000 });
    for (const credential of ['a', 'b', 'a', 'b']) await sessions.tools('owner', lister.target(credential), budget());
    assert.equal(lister.pages, 2, 'both lists were kept');
    await sessions.tools('owner', lister.target('c'), budget());
    await sessions.tools('owner', lister.target('b'), budget());
    assert.equal(lister.pages, 3, 'b was still kept');
    await sessions.tools('owner', lister.target('a'), budget());
    assert.equal(lister.pages, 4, 'a, the oldest, was let go for c');
  } finally {
    await upstreams.close();
    lister.close();
  }
});

test('a server error quoting its stored secret past the quote\'s length leaks no part of it', async () => {
  const secret = 'mcp-secret-0123456789abcdefghijklmnopqrstuvwxyz';
  const http = createServer((req, res) => {
    req.resume();
    // The secret straddles the 200 characters the gateway quotes of a server's message.
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32001, message: `${'x'.repeat(180)} bad token ${secret}` } })));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = { id: 'aigmcp_echo', label: 'echo', upstreamUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, auth: { type: 'none' as const } };
  const upstreams = new Upstreams({ loopId: 'mcp-echo', allowPrivate: true });
  try {
    const sessions = new McpUpstreamSessions(upstreams);
    await assert.rejects(sessions.tools('owner', { server, accountId: 'acct_test', url: new URL(server.upstreamUrl), headers: { authorization: `Bearer ${secret}` }, credential: 'c', secret }, budget()), (e: Error) => {
      assert.match(e.message, /^MCP server "echo" answered error -32001: x+ bad token \[secret\]/);
      assert.ok(!e.message.includes(secret.slice(0, 8)), e.message);
      return true;
    });
  } finally {
    await upstreams.close();
    http.closeAllConnections();
    http.close();
  }
});

test("sessions another account is still opening end none of this account's: only open sessions count against the node's limit", async () => {
  // Initializes sent with `x-slow` wait for the test; every initialize is counted by its session's owner header.
  const opened = new Map<string, number>();
  const waiting: (() => void)[] = [];
  let arrived: () => void = () => {};
  let sessions = 0;
  const http = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      if (req.method === 'DELETE') return void res.writeHead(200).end();
      const m = JSON.parse(body) as { id?: string; method: string };
      if (m.id === undefined) return void res.writeHead(202).end();
      const who = String(req.headers['x-who']);
      const reply = () => {
        opened.set(who, (opened.get(who) ?? 0) + 1);
        const result = { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'slow', version: '1' } };
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': `s-${++sessions}` }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
      };
      if (req.headers['x-slow'] === undefined) return reply();
      waiting.push(reply);
      arrived();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = { id: 'aigmcp_slow', label: 'slow', upstreamUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, auth: { type: 'none' as const } };
  const target = (accountId: string, who: string, slow: boolean): McpTarget => ({
    server, accountId, url: new URL(server.upstreamUrl), headers: { 'x-who': who, ...(slow ? { 'x-slow': '1' } : {}) }, credential: who, secret: undefined,
  });
  const upstreams = new Upstreams({ loopId: 'mcp-slow', allowPrivate: true });
  try {
    // Room for three open sessions on the node, two of them one account's.
    const kept = new McpUpstreamSessions(upstreams, { maxSessions: 3, maxSessionsPerAccount: 2 });
    await kept.session('mine', target('acct_mine', 'mine', false), budget());
    // The other account opens three sessions at once on a server of its own that answers when it likes: none is open yet.
    const all = new Promise<void>((resolve) => { arrived = () => { if (waiting.length === 3) resolve(); }; });
    const theirs = [0, 1, 2].map((i) => kept.session(`theirs-${i}`, target('acct_theirs', `theirs-${i}`, true), budget()));
    // Left unawaited when an assertion fails: their failure once the server closes is not this test's.
    for (const opening of theirs) opening.catch(() => {});
    await all;
    for (const [i, opening] of theirs.entries()) {
      waiting[i]!();
      await opening;
      // Still this account's first session: not ended, so not opened again.
      await kept.session('mine', target('acct_mine', 'mine', false), budget());
      assert.equal(opened.get('mine'), 1, `after the other account's session ${i} opened`);
    }
  } finally {
    await upstreams.close();
    http.closeAllConnections();
    http.close();
  }
});

/** A request's tracing as the tracer gives it (observe/tracing.ts), recording each call's span: what it was, how it ended. */
function recordingTracing() {
  const calls: { method: string | undefined; id: unknown; ended: (string | number | undefined)[]; status: number | undefined }[] = [];
  const trace: McpTracing = {
    start: (call) => {
      const n = calls.length;
      const record = { method: call.method, id: call.id, ended: [] as (string | number | undefined)[], status: undefined as number | undefined };
      calls.push(record);
      return {
        headers: { traceparent: `00-0af7651916cd43dd8448eb211c80319c-${String(n).padStart(16, '0')}-01`, tracestate: 'congo=t61rcWkgMzE' },
        responded: (status) => { record.status = status; },
        // Once, as McpCallSpan.end is: an answer read and then closed ends its span when read.
        end: (error) => { if (record.ended.length === 0) record.ended.push(error); },
      };
    },
  };
  return { calls, trace };
}

test('traced calls: each sends its span\'s trace headers and ends its span with the JSON-RPC code, the HTTP status or the failure', async () => {
  const heard: Record<string, string | string[] | undefined>[] = [];
  const http = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      heard.push(req.headers);
      const m = JSON.parse(body) as { id?: string; method: string };
      if (m.id === undefined) return void res.writeHead(202).end();
      const answer = m.method === 'initialize'
        ? { result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'failing', version: '1' } } }
        : { error: { code: -32603, message: 'the list broke' } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...answer }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = { id: 'aigmcp_failing', label: 'failing', upstreamUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, auth: { type: 'none' as const } };
  const target: McpTarget = { server, accountId: 'acct_test', url: new URL(server.upstreamUrl), headers: {}, credential: '', secret: undefined };
  const upstreams = new Upstreams({ loopId: 'mcp-traced', allowPrivate: true });
  try {
    const sessions = new McpUpstreamSessions(upstreams);
    const { calls, trace } = recordingTracing();
    await assert.rejects(sessions.tools('owner', target, { ...budget(), trace }), /answered error -32603/);
    // The initialized notification's 202 ends its span once its body is let go, a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls.map((c) => [c.method, c.id, c.status, c.ended]), [
      ['initialize', 'tollgate-initialize', 200, [undefined]],
      ['notifications/initialized', undefined, 202, [undefined]],
      ['tools/list', 'tollgate-tools/list', 200, [-32603]],
    ]);
    assert.deepEqual(heard.map((h) => [h.traceparent, h.tracestate]), [0, 1, 2].map((n) => [`00-0af7651916cd43dd8448eb211c80319c-${String(n).padStart(16, '0')}-01`, 'congo=t61rcWkgMzE']));
    // Untraced: nothing added to what the server is sent.
    await assert.rejects(sessions.tools('other owner', target, budget()));
    assert.deepEqual(heard.slice(3).map((h) => [h.traceparent, h.tracestate]), [[undefined, undefined], [undefined, undefined], [undefined, undefined]]);
  } finally {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
  try {
    // Its server gone: the call's span ends as a connection failure.
    const { calls, trace } = recordingTracing();
    await assert.rejects(new McpUpstreamSessions(upstreams).tools('owner', target, { ...budget(), trace }), /could not be reached/);
    assert.deepEqual(calls.map((c) => [c.method, c.status, c.ended]), [['initialize', undefined, ['connection']]]);
  } finally {
    await upstreams.close();
  }
});
