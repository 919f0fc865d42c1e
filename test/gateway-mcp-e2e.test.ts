// The MCP gateway end to end, on both stores: a server registered with POST /mcp-servers, its secret stored with POST
// /provider-keys as `mcp:<label>`, a configuration's access.mcpTools allow list — all through the control plane — are
// what the gateway serves to the official MCP SDK's client on the next request, with no restart: a rotated secret is
// the one sent, a deleted server's tools are gone; a deleted key's or server's sessions with the server are ended.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createAccount } from '../src/store/accounts.ts';
import { startHarness, type Harness } from './helpers/gateway.ts';
import { startFakeMcp, text, type FakeMcp } from './helpers/mcp-server.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const FIRST_SECRET = 'docs-e2e-secret-one';
const SECOND_SECRET = 'docs-e2e-secret-two';

/** Retries `check` until it passes: a control-plane write reaches the gateway's snapshot shortly after it answers. */
async function eventually<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

for (const kind of STORE_KINDS) {
  describe(`MCP gateway through the control plane (${kind})`, () => {
    let h: Harness;
    let docs: FakeMcp;
    /** `wait` runs until the gateway cancels it or the test releases it; `cancelled` counts the cancellations it saw. */
    let jobs: FakeMcp;
    let jobStarted: () => void = () => {};
    let releaseJob: () => void = () => {};
    let cancelled = 0;
    /** The secret the docs server takes (rotated by the test). */
    let accepted = FIRST_SECRET;

    before(async () => {
      docs = await startFakeMcp((s) => {
        s.registerTool('search', { description: 'Search the docs', inputSchema: { query: z.string() } }, ({ query }) => text(`results for ${query}`));
        s.registerTool('fetch_page', { description: 'Fetch a page', inputSchema: { path: z.string() } }, ({ path }) => text(`page ${path}`));
        s.registerTool('admin_delete', { description: 'Delete a page' }, () => text('deleted'));
      }, (headers) => headers['x-docs-key'] === `Token ${accepted}`);
      jobs = await startFakeMcp((s) => {
        s.registerTool('wait', { description: 'Runs until cancelled or released' }, async (extra) => {
          jobStarted();
          const aborted = await new Promise<boolean>((resolve) => {
            releaseJob = () => resolve(false);
            extra.signal.addEventListener('abort', () => resolve(true), { once: true });
          });
          if (aborted) cancelled++;
          return text(aborted ? 'cancelled' : 'released');
        });
      }, () => true);
      h = await startHarness(kind);
    });
    // Each closed only if it started: without PostgreSQL the harness fails in before(), and a fake server left
    // listening would keep the test process from ever ending (a hang, not the harness's error).
    after(async () => {
      await h?.close();
      await docs?.close();
      await jobs?.close();
    });

    async function connect(path: string, token: string): Promise<Client> {
      const transport = new StreamableHTTPClientTransport(new URL(h.gatewayUrl + path), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
      const client = new Client({ name: 'gateway-mcp-e2e', version: '1.0.0' });
      await client.connect(transport);
      return client;
    }
    const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);
    const refusedWith = (code: number) => (error: unknown) => error instanceof McpError && error.code === code;
    const sentKeys = (from: number) => docs.seen.slice(from).filter((s) => s.body.includes('"tools/call"')).map((s) => s.headers['x-docs-key']);

    test('registered, keyed and allowed through the control plane: listed, called, rotated and deleted with no restart', async () => {
      const server = await h.api<{ id: string; url: string; hasSecret: boolean }>('POST', '/mcp-servers', {
        label: 'docs', upstreamUrl: docs.url, auth: { type: 'secret', in: 'header', name: 'X-Docs-Key', prefix: 'Token ' },
      });
      const keyId = await h.providerKey('mcp:docs', FIRST_SECRET, 'docs token');
      assert.equal((await h.api<{ hasSecret: boolean }>('GET', `/mcp-servers/${server.id}`)).hasSecret, true);
      const configuration = await h.configuration({ access: { mcpTools: { allow: ['docs/search', 'docs/fetch_*'] } } });
      const { id: accessKeyId, token } = await h.accessKey(configuration);

      const client = await connect('/mcp', token);
      await eventually(async () => assert.deepEqual(await names(client), ['docs__search', 'docs__fetch_page']));
      let seen = docs.seen.length;
      const found = await client.callTool({ name: 'docs__search', arguments: { query: 'rate limits' } });
      assert.deepEqual(found.content, [{ type: 'text', text: 'results for rate limits' }]);
      assert.deepEqual(sentKeys(seen), [`Token ${FIRST_SECRET}`]);
      await assert.rejects(client.callTool({ name: 'docs__admin_delete', arguments: {} }), refusedWith(-32003));
      for (const s of docs.seen) assert.ok(!`${s.url}${JSON.stringify(s.headers)}${s.body}`.includes(token), 'the server never sees the access key');

      // The server's own endpoint, at the path the control plane gave it.
      const own = await connect(server.url, token);
      assert.deepEqual(await names(own), ['search', 'fetch_page']);
      assert.deepEqual((await own.callTool({ name: 'fetch_page', arguments: { path: '/quickstart' } })).content, [{ type: 'text', text: 'page /quickstart' }]);
      await own.close();

      // Usage: the call recorded in the store under provider mcp:docs, with the secret's provider key.
      const rows = await eventually(async () => {
        const r = await h.running.store.db.selectFrom('usageEvents').selectAll().where('provider', '=', 'mcp:docs').where('accessKeyId', '=', accessKeyId).orderBy('eventTime').execute();
        assert.ok(r.length >= 3);
        return r;
      });
      assert.deepEqual(rows.map((r) => [r.model, r.stopReason, r.providerKeyId]), [
        ['search', 'completed', keyId], ['admin_delete', 'jsonrpc_error_-32003', null], ['fetch_page', 'completed', keyId],
      ]);

      // Rotated: the next call carries the new secret (the server now refuses the old one).
      await h.api('POST', `/provider-keys/${keyId}/rotate`, { name: 'docs token', value: SECOND_SECRET });
      accepted = SECOND_SECRET;
      seen = docs.seen.length;
      await eventually(async () => {
        const rotated = await client.callTool({ name: 'docs__search', arguments: { query: 'rotation' } });
        assert.deepEqual(rotated.content, [{ type: 'text', text: 'results for rotation' }]);
      });
      assert.equal(sentKeys(seen).at(-1), `Token ${SECOND_SECRET}`);

      // Deleted: its tools are gone from the list and its calls are unknown tools; nothing more reaches it.
      await h.api('DELETE', `/mcp-servers/${server.id}`);
      await eventually(async () => assert.deepEqual(await names(client), []));
      seen = docs.seen.length;
      await assert.rejects(client.callTool({ name: 'docs__search', arguments: { query: 'gone' } }), refusedWith(-32602));
      assert.equal(sentKeys(seen).length, 0);
      await client.close();
    });

    test('an access key deleted, then a server deleted, through the control plane: the server is sent DELETE for the sessions the gateway held, at once', async () => {
      const notes = await startFakeMcp((s) => {
        s.registerTool('jot', { description: 'Jot a note' }, () => text('jotted'));
      }, () => true);
      try {
        const server = await h.api<{ id: string; url: string }>('POST', '/mcp-servers', { label: 'notes', upstreamUrl: notes.url, auth: { type: 'none' } });
        /** The session a new client's call went in, the client left open. */
        const callIn = async (token: string): Promise<string> => {
          const client = await connect(server.url, token);
          await eventually(async () => assert.deepEqual((await client.callTool({ name: 'jot', arguments: {} })).content, [{ type: 'text', text: 'jotted' }]));
          return String(notes.seen.filter((x) => x.body.includes('"tools/call"')).at(-1)!.headers['mcp-session-id']);
        };
        const ended = (session: string) => eventually(async () => assert.ok(notes.seen.some((x) => x.method === 'DELETE' && x.headers['mcp-session-id'] === session), `DELETE for ${session}`));

        const first = await h.accessKey();
        const firstSession = await callIn(first.token);
        const second = await h.accessKey();
        const secondSession = await callIn(second.token);
        await h.api('DELETE', `/access-keys/${first.id}`);
        await ended(firstSession);
        assert.ok(!notes.seen.some((x) => x.method === 'DELETE' && x.headers['mcp-session-id'] === secondSession), "the other key's session goes on");

        await h.api('DELETE', `/mcp-servers/${server.id}`);
        await ended(secondSession);
      } finally {
        await notes.close();
      }
    });

    test("another account's Mcp-Session-Id naming this key's id reaches none of its calls or sessions: nothing cancelled, nothing ended", { timeout: 15_000 }, async () => {
      await h.api('POST', '/mcp-servers', { label: 'jobs', upstreamUrl: jobs.url, auth: { type: 'none' } });
      const mine = await h.accessKey();
      const other = await createAccount(h.running.store.db, `other-mcp-${kind}`);
      const theirs = await fetch(`${h.apiUrl}/access-keys`, {
        method: 'POST', headers: { authorization: `Bearer ${other.apiKey.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'theirs' }),
      }).then((r) => r.json() as Promise<{ token: string }>);
      const mcp = (token: string, body: unknown, headers: Record<string, string> = {}, method = 'POST') => fetch(`${h.gatewayUrl}/mcp`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

      // This key's call sent without a session (a 2025 client may): it runs on the key's own upstream session.
      const started = new Promise<void>((resolve) => { jobStarted = resolve; });
      await eventually(async () => assert.match(await (await mcp(mine.token, { jsonrpc: '2.0', id: 6, method: 'tools/list' })).text(), /jobs__wait/));
      const calling = mcp(mine.token, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'jobs__wait', arguments: {} } });
      await started;
      const from = jobs.seen.length;
      // The other account names the key's id (ids are no secrets: they sit in URLs, usage exports, support tickets)
      // as its session, however the gateway might spell a key's own, cancels the call's id and ends "its" session.
      for (const session of [`key:${mine.id}`, `key ${mine.id}`, mine.id]) {
        await (await mcp(theirs.token, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } }, { 'mcp-session-id': session })).text();
        await (await mcp(theirs.token, undefined, { 'mcp-session-id': session }, 'DELETE')).text();
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(cancelled, 0, "the key's call was not cancelled");
      assert.deepEqual(jobs.seen.slice(from).map((s) => s.method === 'DELETE' ? 'DELETE' : (JSON.parse(s.body || '{}') as { method?: string }).method), [], 'nothing reached the server');
      releaseJob();
      const answered = await (await calling).text();
      assert.match(answered, /"text":"released"/);
    });
  });
}
