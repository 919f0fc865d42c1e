// MCP calls still running when what they run under ends (gateway-behaviour.md "MCP gateway", "Calls that end under
// way"): the client's session (its DELETE), the access key (deleted, or its configuration no longer allowing the
// tool), the server (deleted, or moved to another URL or credential). The upstream request is aborted, the client is
// told why in the answer or as its stream's last event, and the call is recorded once. A session with a call running
// is not idle. The servers are scripted plain HTTP, so what reached them (and when their requests closed) is watched.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { json, sse, startScripted, type Message, type Scripted } from './helpers/mcp-scripted.ts';
import { callSessions, deleted, deletesOf, initialize, KEY, mcpServer, startMcpGateway, until } from './helpers/mcp-gateway.ts';
import type { GatewayServer } from '../src/gateway/server.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';

/**
 * The server's calls held unanswered: an event stream sends a progress notification first (the client knows its call
 * is running), a JSON one sends nothing; `finish` answers them all, `aborted` counts those whose request was closed
 * before they were answered.
 */
function holdCalls(s: Scripted): { started: number; aborted: number; finish(): void } {
  const pending: { m: Message; res: ServerResponse; stream: boolean }[] = [];
  const held = {
    started: 0,
    aborted: 0,
    finish: () => {
      for (const { m, res, stream } of pending.splice(0)) {
        const result = { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `done ${String(m.params?.name)}` }] } };
        if (stream) res.end(sse([result]));
        else json(res, result);
      }
    },
  };
  s.onCall = (m, res) => {
    held.started++;
    res.on('close', () => { if (!res.writableEnded) held.aborted++; });
    const stream = (m.params?.arguments as { stream?: boolean } | undefined)?.stream === true;
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse([{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: 1 } }]));
    }
    pending.push({ m, res, stream });
  };
  return held;
}

interface Answer { id: number; result?: { content: { text: string }[] }; error?: { code: number; message: string; data?: Record<string, unknown> } }

/**
 * A tools/call whose answer is read as it comes: `running` resolves once it is under way (its stream's first event,
 * or its request at the server), `answer` with the last message the client got (JSON, or its stream's last event).
 * Bounded: a call left running fails the test rather than hang it.
 */
function call(gateway: GatewayServer, path: string, id: number, name: string, options: { session?: string; stream?: boolean } = {}) {
  const sent = fetch(gateway.url + path, {
    method: 'POST',
    headers: { authorization: 'Bearer ng-mcp-lifecycle-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(options.session ? { 'mcp-session-id': options.session } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: options.stream ? { stream: true } : {} } }),
    signal: AbortSignal.timeout(5000),
  });
  let text = '';
  let firstChunk: () => void = () => {};
  const running = new Promise<void>((resolve) => { firstChunk = resolve; });
  const answer = (async (): Promise<Answer> => {
    const res = await sent;
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      firstChunk();
    }
    const messages = res.headers.get('content-type') === 'text/event-stream' ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)) : [text];
    return JSON.parse(messages.at(-1)!) as Answer;
  })();
  return { running, answer };
}

const recorded = (usage: (BegunAttempt | UsageEvent)[], tool: string): UsageEvent[] => usage.filter((e): e is UsageEvent => 'completion' in e && e.model === tool);

/** Lets whatever the gateway still had to do for an ended call happen, so a second record of it would be seen. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('MCP gateway, calls running when what they run under ends', () => {
  test('the client ends its session (DELETE): its streaming calls are aborted upstream, their streams end with the error, each recorded once', async () => {
    const docs = await startScripted();
    const held = holdCalls(docs);
    const { gateway, usage } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs)] });
    try {
      const session = await initialize(gateway, '/mcp');
      // Two calls under one id (the client's to number): the second does not hide the first from the session's end.
      const calls = [call(gateway, '/mcp', 7, 'docs__search', { session, stream: true }), call(gateway, '/mcp', 7, 'docs__search', { session, stream: true })];
      await Promise.all(calls.map((c) => c.running));
      const ended = await fetch(`${gateway.url}/mcp`, { method: 'DELETE', headers: { authorization: 'Bearer ng-mcp-lifecycle-key', 'mcp-session-id': session } });
      assert.equal(ended.status, 200);

      for (const running of calls) {
        const answer = await running.answer;
        assert.equal(answer.id, 7);
        assert.equal(answer.error?.code, -32603);
        assert.match(answer.error!.message, /session ended while MCP server "docs" was answering/);
      }
      await until(() => held.aborted === 2);
      assert.equal(held.aborted, 2, 'the server\'s requests were closed');
      await deletesOf(docs, [...new Set(callSessions(docs))]);
      await settled();
      const events = recorded(usage, 'search');
      assert.equal(events.length, 2, 'each recorded once');
      for (const e of events) assert.deepEqual([e.completion, e.stopReason, e.isStreaming, e.costPico], ['stream_failed', 'jsonrpc_error_-32603', true, 0n]);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('the access key is deleted: its calls, in a session or not, JSON or streaming, end with the 401\'s error (-32001, ERR_NGROK_27201), each recorded once', async () => {
    const docs = await startScripted();
    const held = holdCalls(docs);
    const { gateway, usage, deleteKey } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs)] });
    try {
      const session = await initialize(gateway, '/mcp/s-aigmcp_docs');
      const streaming = call(gateway, '/mcp/s-aigmcp_docs', 1, 'search', { session, stream: true });
      const waiting = call(gateway, '/mcp/s-aigmcp_docs', 2, 'admin_delete');
      await streaming.running;
      await until(() => held.started === 2);

      deleteKey();
      for (const [running, id] of [[streaming, 1], [waiting, 2]] as const) {
        const answer = await running.answer;
        assert.equal(answer.id, id);
        assert.deepEqual(answer.error, { code: -32001, message: 'Authentication failed: the access key is invalid or has been deleted.', data: { errorCode: 'ERR_NGROK_27201', server: 'docs' } });
      }
      await until(() => held.aborted === 2);
      assert.equal(held.aborted, 2, 'both requests were closed at the server');
      await settled();
      const events = [...recorded(usage, 'search'), ...recorded(usage, 'admin_delete')];
      assert.deepEqual(events.map((e) => [e.model, e.completion, e.stopReason, e.costPico]), [['search', 'stream_failed', 'jsonrpc_error_-32001', 0n], ['admin_delete', 'failed', 'jsonrpc_error_-32001', 0n]]);
      assert.ok(events.every((e) => e.accessKeyId === KEY.id));
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a server deleted, or given another secret, ends the calls running on it, each told which; another server\'s call runs on', async () => {
    const [docs, wiki, notes] = await Promise.all([startScripted(), startScripted(), startScripted()]);
    const holds = [holdCalls(docs), holdCalls(wiki), holdCalls(notes)];
    const wikiServer = mcpServer('aigmcp_wiki', wiki, { type: 'secret', in: 'header', name: 'X-Wiki-Key' });
    const notesServer = mcpServer('aigmcp_notes', notes);
    const { gateway, usage, replaceAccount } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs), wikiServer, notesServer], secrets: [{ id: 'aigpk_wiki', providerId: 'mcp:wiki', value: 'wiki-1' }] });
    try {
      const session = await initialize(gateway, '/mcp');
      const calls = ['docs', 'wiki', 'notes'].map((label, i) => call(gateway, '/mcp', i, `${label}__search`, { session, stream: label !== 'wiki' }));
      await until(() => holds.every((h) => h.started === 1));

      replaceAccount([wikiServer, notesServer], [{ id: 'aigpk_wiki2', providerId: 'mcp:wiki', value: 'wiki-2' }]);
      const [docsAnswer, wikiAnswer] = await Promise.all([calls[0]!.answer, calls[1]!.answer]);
      assert.deepEqual(docsAnswer.error, { code: -32603, message: 'MCP server "docs" was deleted from the account while it was answering: the request was stopped.', data: { server: 'docs' } });
      assert.deepEqual(wikiAnswer.error, { code: -32603, message: 'MCP server "wiki" was changed (its URL or credential) while it was answering: the request was stopped; retry it.', data: { server: 'wiki' } });
      assert.ok(!JSON.stringify(wikiAnswer).includes('wiki-1'), 'no secret in the answer');
      await until(() => holds[0]!.aborted === 1 && holds[1]!.aborted === 1);
      assert.deepEqual(holds.map((h) => h.aborted), [1, 1, 0]);

      holds[2]!.finish();
      assert.equal((await calls[2]!.answer).result?.content[0]?.text, 'done search');
      await settled();
      assert.deepEqual(usage.filter((e): e is UsageEvent => 'completion' in e).map((e) => [e.provider, e.completion, e.stopReason]).sort(), [
        ['mcp:docs', 'stream_failed', 'jsonrpc_error_-32603'], ['mcp:notes', 'succeeded', 'completed'], ['mcp:wiki', 'failed', 'jsonrpc_error_-32603'],
      ]);
    } finally {
      await gateway.close(0);
      await Promise.all([docs.close(), wiki.close(), notes.close()]);
    }
  });

  test('a call its key\'s configuration no longer allows ends with "tool not allowed", its server told it is cancelled; an allowed one runs on', async () => {
    const docs = await startScripted();
    const held = holdCalls(docs);
    const docsServer = mcpServer('aigmcp_docs', docs);
    const { gateway, usage, replaceAccount } = await startMcpGateway(
      { servers: [docsServer], configurations: [{ id: 'aigac_k', access: { mcpTools: { allow: ['docs/*'] } }, rules: null }] },
      {}, { key: { ...KEY, configurationId: 'aigac_k' } },
    );
    try {
      const session = await initialize(gateway, '/mcp');
      const search = call(gateway, '/mcp', 1, 'docs__search', { session, stream: true });
      const admin = call(gateway, '/mcp', 2, 'docs__admin_delete', { session });
      await until(() => held.started === 2);

      replaceAccount([docsServer], [], [{ id: 'aigac_k', access: { mcpTools: { allow: ['docs/admin_*'] } }, rules: null }]);
      const answer = await search.answer;
      assert.deepEqual([answer.id, answer.error], [1, { code: -32003, message: 'tool not allowed for this key' }]);
      await until(() => docs.seen.some((x) => x.message?.method === 'notifications/cancelled'));
      const cancel = docs.seen.find((x) => x.message?.method === 'notifications/cancelled')!;
      assert.equal(cancel.message?.params?.requestId, 1);
      assert.equal(cancel.headers['mcp-session-id'], callSessions(docs)[0], 'told in the session the call runs in');
      assert.deepEqual(deleted(docs), [], 'the session stays: the key may still use it');

      held.finish();
      assert.equal((await admin.answer).result?.content[0]?.text, 'done admin_delete');
      await settled();
      assert.deepEqual(recorded(usage, 'search').map((e) => [e.completion, e.stopReason]), [['stream_failed', 'jsonrpc_error_-32003']]);
      assert.deepEqual(recorded(usage, 'admin_delete').map((e) => e.completion), ['succeeded']);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a call ended while it is being noted in usage is never sent, and is recorded once', async () => {
    const docs = await startScripted();
    const usage: (BegunAttempt | UsageEvent)[] = [];
    let noted: () => void = () => {};
    const sink = {
      begin: (a: BegunAttempt) => {
        usage.push(a);
        return new Promise<void>((resolve) => { noted = resolve; });
      },
      record: (e: UsageEvent) => { usage.push(e); },
      flush: async () => {},
      close: async () => {},
    };
    const { gateway, deleteKey } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs)] }, {}, { usage: sink });
    try {
      const running = call(gateway, '/mcp/s-aigmcp_docs', 3, 'search');
      await until(() => usage.length === 1);
      deleteKey();
      // The key's deletion is heard before the call is noted: the key's session with the server (its tool list was
      // read in it) is ended, after its calls.
      await deletesOf(docs, ['sess-1']);
      noted();
      const answer = await running.answer;
      assert.equal(answer.error?.code, -32001);
      assert.deepEqual(callSessions(docs), [], 'the call never reached the server');
      await settled();
      assert.deepEqual(recorded(usage, 'search').map((e) => [e.completion, e.stopReason, e.statusCode, e.costPico]), [['failed', 'jsonrpc_error_-32001', 0, 0n]]);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a call ended or cancelled while it is being noted in usage opens no session with its server, and its server is told nothing', async () => {
    const docs = await startScripted();
    const usage: (BegunAttempt | UsageEvent)[] = [];
    const noted: (() => void)[] = [];
    const sink = {
      begin: (a: BegunAttempt) => {
        usage.push(a);
        return new Promise<void>((resolve) => { noted.push(resolve); });
      },
      record: (e: UsageEvent) => { usage.push(e); },
      flush: async () => {},
      close: async () => {},
    };
    const { gateway } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs)] }, {}, { usage: sink });
    const initializes = () => docs.seen.filter((x) => x.message?.method === 'initialize').length;
    try {
      // The tool list is read (and kept) in the key's own session with the server: the calls below, each in a client
      // session of its own, have none open when they are noted.
      const listed = await fetch(`${gateway.url}/mcp`, { method: 'POST', headers: { authorization: 'Bearer ng-mcp-lifecycle-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
      assert.equal(listed.status, 200);
      await listed.text();
      assert.equal(initializes(), 1);

      const ended = await initialize(gateway, '/mcp');
      const endedCall = call(gateway, '/mcp', 5, 'docs__search', { session: ended });
      await until(() => noted.length === 1);
      const gone = await fetch(`${gateway.url}/mcp`, { method: 'DELETE', headers: { authorization: 'Bearer ng-mcp-lifecycle-key', 'mcp-session-id': ended } });
      assert.equal(gone.status, 200);

      const cancelled = await initialize(gateway, '/mcp');
      // A cancelled request is answered with nothing (MCP: its client ignores any answer).
      const cancelledAnswer = call(gateway, '/mcp', 6, 'docs__search', { session: cancelled }).answer.then(() => 'answered', () => 'no answer');
      await until(() => noted.length === 2);
      const told = await fetch(`${gateway.url}/mcp`, {
        method: 'POST',
        headers: { authorization: 'Bearer ng-mcp-lifecycle-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': cancelled },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 6, reason: 'user' } }),
      });
      assert.equal(told.status, 202);
      for (const resolve of noted) resolve();

      assert.equal((await endedCall.answer).error?.code, -32603);
      assert.equal(await cancelledAnswer, 'no answer');
      await settled();
      assert.equal(initializes(), 1, 'no session was opened for calls that will never be sent');
      assert.deepEqual(docs.seen.filter((x) => x.message?.method === 'notifications/cancelled' || x.message?.method === 'tools/call'), [], 'the server was never sent them, nor told of them');
      assert.deepEqual(recorded(usage, 'search').map((e) => [e.completion, e.stopReason]).sort(), [['failed', 'jsonrpc_error_-32603'], ['unknown', 'cancelled']]);
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });

  test('a client session with a call running is not idle, however long the call runs; idle after it, it ends', { timeout: 15_000 }, async () => {
    const docs = await startScripted();
    const held = holdCalls(docs);
    const { gateway } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', docs)] }, { sessionIdleMs: 100 });
    try {
      const session = await initialize(gateway, '/mcp');
      const running = call(gateway, '/mcp', 4, 'docs__search', { session, stream: true });
      await running.running;
      // Several sweeps (every 100 ms here) pass while the call runs.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(deleted(docs), [], 'the session was not ended under its call');
      held.finish();
      assert.equal((await running.answer).result?.content[0]?.text, 'done search');
      await deletesOf(docs, callSessions(docs));
    } finally {
      await gateway.close(0);
      await docs.close();
    }
  });
});
