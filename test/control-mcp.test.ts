// The control plane as an MCP server (POST /mcp on the API port), driven by the official MCP SDK's client as a
// coding agent would be: ngrok's read tools (models, usage, a request's attempts) and the write tools that set up a
// virtual model and a locked-down key, each answering from the same API, account and store as the REST routes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { usageEvent } from './helpers/usage.ts';
import { insertUsageEvents } from '../src/store/usage-events.ts';
import { toolName } from '../src/control/mcp-server.ts';

type Result = { content: { type: string; text: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean };

for (const kind of STORE_KINDS) {
  describe(`control-plane MCP server (${kind})`, () => {
    let c: TestControl;
    let url: URL;
    const clients: { close(): Promise<void> }[] = [];

    async function connect(token: string | undefined): Promise<Client> {
      const client = new Client({ name: 'agent', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(url, token === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${token}` } } });
      await client.connect(transport);
      clients.push(client);
      return client;
    }
    const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as Result;
    const json = (r: Result) => JSON.parse(r.content[0]!.text) as Record<string, unknown>;

    before(async () => {
      c = await startControl(kind);
      const address = await c.app.listen({ port: 0, host: '127.0.0.1' });
      url = new URL('/mcp', address);
    });
    after(async () => {
      for (const client of clients) await client.close();
      await c.close();
    });

    test('lists a tool for every operation but those that move money, each with a self-contained input schema', async () => {
      const client = await connect(c.token);
      assert.equal(client.getServerVersion()?.name, 'tollgate-control-plane');
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const name of ['aigw_list_models', 'aigw_get_model', 'aigw_usage_overview', 'aigw_list_usage', 'aigw_get_request_attempts',
        'aigw_create_access_key', 'aigw_create_access_key_configuration', 'aigw_create_virtual_model', 'aigw_create_provider_api_key',
        'aigw_rotate_provider_api_key', 'aigw_delete_access_key', 'aigw_get_gateway_config', 'aigw_update_gateway_config', 'aigw_get_credit_balance']) {
        assert.ok(names.includes(name), `${name} is listed`);
      }
      assert.ok(!names.includes('aigw_create_credit_purchase') && !names.includes('aigw_create_checkout_session'), 'no tool charges the account');
      assert.ok(!names.some((n) => n.startsWith('aigw_head_')), 'HEAD operations are not tools');
      const text = JSON.stringify(tools);
      assert.ok(!text.includes('$ref') && !text.includes('x-source'), 'schemas are inlined and carry no spec notes');
      const createVm = tools.find((t) => t.name === 'aigw_create_virtual_model')!;
      assert.deepEqual(createVm.inputSchema.required, ['name', 'targets']);
      assert.equal(createVm.annotations?.readOnlyHint, false);
      const del = tools.find((t) => t.name === 'aigw_delete_access_key')!;
      assert.deepEqual([del.annotations?.destructiveHint, del.inputSchema.required], [true, ['id']]);
      assert.equal(tools.find((t) => t.name === 'aigw_list_usage')!.annotations?.readOnlyHint, true);
      assert.equal(toolName('ListAIGatewayProviderAPIKeys'), 'aigw_list_provider_api_keys');
    });

    test('one prompt\'s worth of setup: a virtual model, a locked-down configuration, and a key using it', async () => {
      const client = await connect(c.token);
      const vm = await call(client, 'aigw_create_virtual_model', { name: 'chat-default', targets: ['openai:gpt-4o'] });
      assert.equal(vm.isError, undefined, vm.content[0]!.text);
      assert.match(String(vm.structuredContent?.id), /^aigvm_/);
      const config = await call(client, 'aigw_create_access_key_configuration', { name: 'chat only', access: { models: { allow: ['openai:gpt-4o'] } } });
      assert.equal(config.isError, undefined, config.content[0]!.text);
      const key = await call(client, 'aigw_create_access_key', { description: 'chat app', accessKeyConfigurationId: config.structuredContent!.id });
      assert.equal(key.isError, undefined, key.content[0]!.text);
      assert.match(String(key.structuredContent!.token), /^ng-/, 'the new key\'s token is in the answer that creates it');
      // The same resources through the REST API, in the same account.
      const listed = (await c.call('GET', '/access-keys')).json() as { aiGatewayAccessKeys: { id: string; accessKeyConfiguration?: { id: string } }[] };
      const made = listed.aiGatewayAccessKeys.find((k) => k.id === key.structuredContent!.id);
      assert.equal(made?.accessKeyConfiguration?.id, config.structuredContent!.id);
      // A later read by id through a tool gives no token.
      const read = await call(client, 'aigw_get_access_key', { id: String(key.structuredContent!.id) });
      assert.equal(read.structuredContent!.token, undefined);
      const renamed = await call(client, 'aigw_update_virtual_model', { id: String(vm.structuredContent!.id), targets: ['anthropic:claude-sonnet-4-5'] });
      assert.deepEqual(renamed.structuredContent!.targets, ['anthropic:claude-sonnet-4-5']);
    });

    test('the API\'s refusals come back as tool errors with the contract\'s code, and nothing is written', async () => {
      const client = await connect(c.token);
      const bad = await call(client, 'aigw_create_virtual_model', { name: 'has space', targets: ['gpt-4o'] });
      assert.equal(bad.isError, true);
      assert.equal(json(bad).errorCode, 'ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_NAME_ILLEGAL_CHARACTER');
      const unknownField = await call(client, 'aigw_create_access_key', { description: 'x', scopes: ['all'] });
      assert.equal(unknownField.isError, true);
      assert.equal(json(unknownField).errorCode, 'ERR_NGROK_27606');
      const missingId = await call(client, 'aigw_get_access_key', {});
      assert.equal(missingId.isError, true);
      assert.match(missingId.content[0]!.text, /"id" is required/);
      const gone = await call(client, 'aigw_delete_access_key', { id: 'aigk_doesnotexist' });
      assert.equal(json(gone).errorCode, 'ERR_NGROK_27611');
      const list = (await c.call('GET', '/virtual-models')).json() as { aiGatewayVirtualModels: { name: string }[] };
      assert.ok(!list.aiGatewayVirtualModels.some((v) => v.name === 'has space'));
    });

    test('reads usage and one request\'s attempts of its own account only', async () => {
      const at = new Date(Date.now() - 60_000).toISOString();
      await insertUsageEvents(c.store.db, [
        usageEvent(c.accountId, { id: `ue_mine_${kind}`, requestId: `rq_mine_${kind}`, eventTime: at, costPico: 2_500_000n }),
        usageEvent(c.other.accountId, { id: `ue_theirs_${kind}`, requestId: `rq_theirs_${kind}`, eventTime: at, costPico: 9n }),
      ]);
      const client = await connect(c.token);
      const startTime = new Date(Date.now() - 3_600_000).toISOString();
      const usage = await call(client, 'aigw_list_usage', { startTime, limit: 10 });
      assert.equal(usage.isError, undefined, usage.content[0]!.text);
      const ids = JSON.stringify(usage.structuredContent);
      assert.ok(ids.includes(`rq_mine_${kind}`) && !ids.includes(`rq_theirs_${kind}`));
      const overview = await call(client, 'aigw_usage_overview', { startTime, groupBy: 'provider' });
      assert.equal(overview.isError, undefined, overview.content[0]!.text);
      assert.match(overview.content[0]!.text, /openai/);
      const attempts = await call(client, 'aigw_get_request_attempts', { requestId: `rq_mine_${kind}` });
      assert.equal(attempts.isError, undefined, attempts.content[0]!.text);
      const theirs = await call(client, 'aigw_get_request_attempts', { requestId: `rq_theirs_${kind}` });
      assert.equal(theirs.isError, true, 'another account\'s request is not found');
      const otherClient = await connect(c.other.token);
      const theirUsage = await call(otherClient, 'aigw_list_usage', { startTime });
      assert.ok(!JSON.stringify(theirUsage.structuredContent).includes(`rq_mine_${kind}`));
    });

    test('a call runs its own operation only: an id that is a dot segment is not found, arguments nested too deep are a tool error, not an HTTP 500', async () => {
      const client = await connect(c.token);
      // `/access-keys/.` would read as the key list, `/provider-keys/../rotate` as `/rotate`.
      for (const [name, id] of [['aigw_get_access_key', '.'], ['aigw_get_access_key', '..'], ['aigw_rotate_provider_api_key', '..'], ['aigw_delete_virtual_model', '.']] as const) {
        const r = await call(client, name, { id });
        assert.equal(r.isError, true, `${name} ${id}`);
        assert.equal(r.structuredContent, undefined);
        assert.match(r.content[0]!.text, new RegExp(`no resource has the id "${id.replace(/\./g, '\\.')}"`));
      }
      // Written by hand: nested this deep, the test's own JSON.stringify would overflow.
      const deep = `${'['.repeat(200_000)}1${']'.repeat(200_000)}`;
      for (const [name, args] of [['aigw_create_virtual_model', `{"name":"deep","targets":${deep}}`], ['aigw_list_usage', `{"startTime":${deep}}`]]) {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}","arguments":${args}}}` });
        assert.equal(res.status, 200, name);
        const { result } = (await res.json()) as { result: Result };
        assert.equal(result.isError, true);
        assert.match(result.content[0]!.text, /nest too deeply/);
      }
      const list = (await c.call('GET', '/virtual-models')).json() as { aiGatewayVirtualModels: { name: string }[] };
      assert.ok(!list.aiGatewayVirtualModels.some((v) => v.name === 'deep'));
    });

    test('models: the list, and one model by id or provider-qualified name', async () => {
      const client = await connect(c.token);
      const list = await call(client, 'aigw_list_models');
      assert.ok(Array.isArray(list.structuredContent!.data));
      const one = await call(client, 'aigw_get_model', { modelId: 'openai:gpt-4o' });
      assert.equal(one.isError, undefined, one.content[0]!.text);
      assert.equal(one.structuredContent!.id, 'openai/gpt-4o');
      const none = await call(client, 'aigw_get_model', { modelId: 'no-such-model-x' });
      assert.equal(none.isError, true);
    });

    test('refuses a caller without a valid API key at the HTTP level, with a Bearer challenge', async () => {
      for (const authorization of [undefined, 'Bearer tgapi_unknown', 'Basic abc']) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
        assert.equal(((await res.json()) as { errorCode: string }).errorCode, 'ERR_NGROK_27007');
      }
      await assert.rejects(connect('tgapi_unknown'));
    });

    test('answers transport edge cases as MCP\'s Streamable HTTP asks', async () => {
      const post = (body: string) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
      let res = await post('{not json');
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32700);
      res = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      assert.equal(res.status, 202);
      res = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'resources/list' }));
      assert.deepEqual(((await res.json()) as { id: number; error: { code: number } }).error.code, -32601);
      res = await post(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }]));
      assert.equal(res.status, 400);
      res = await fetch(url, { headers: { authorization: `Bearer ${c.token}`, accept: 'text/event-stream' } });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST');
    });

    test('holds a POST\'s media types as the gateway\'s MCP endpoint does: a body not application/json is 415, an answer neither JSON nor a stream 406, a stream-only client streamed', async () => {
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' });
      const post = (headers: Record<string, string>, token = c.token) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: ping });
      const refused = async (res: Response, status: number, message: string) => {
        assert.deepEqual([res.status, res.headers.get('content-type')?.split(';')[0]], [status, 'application/json']);
        assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message } });
      };
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/plain; a=application/json']) {
        await refused(await post({ 'content-type': type, accept: 'application/json, text/event-stream' }), 415, 'Unsupported Media Type: Content-Type must be application/json.');
      }
      await refused(await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, accept: '*/*' }, body: new Blob([ping]) }), 415, 'Unsupported Media Type: Content-Type must be application/json.');
      for (const accept of ['text/html', 'application/json;q=0, text/event-stream;q=0']) {
        await refused(await post({ 'content-type': 'application/json', accept }), 406, 'Not Acceptable: Client must accept application/json or text/event-stream.');
      }
      // The caller is checked first: an unknown key is told so, whatever it sends.
      assert.equal((await post({ 'content-type': 'text/plain', accept: 'text/html' }, 'tgapi_unknown')).status, 401);
      for (const accept of ['*/*', 'application/json']) {
        const res = await post({ 'content-type': 'application/json; charset=utf-8', accept });
        assert.deepEqual([res.status, await res.json()], [200, { jsonrpc: '2.0', id: 7, result: {} }], accept);
      }
      const res = await post({ 'content-type': 'application/json', accept: 'text/event-stream' });
      assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'text/event-stream']);
      assert.equal(await res.text(), `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 7, result: {} })}\n\n`);
    });

    test('a client of the stateless revision (2026-07-28): discover, list and call on the same URL, no session; its refusals as that revision has them', async () => {
      const client = new ClientV2({ name: 'agent', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      let sessions = 0;
      await client.connect(new TransportV2(url, {
        requestInit: { headers: { authorization: `Bearer ${c.token}` } },
        fetch: async (u, init) => {
          const response = await fetch(u, init);
          if (response.headers.has('mcp-session-id')) sessions++;
          return response;
        },
      }));
      clients.push(client);
      assert.deepEqual([client.getProtocolEra(), client.getNegotiatedProtocolVersion()], ['modern', '2026-07-28']);
      assert.equal(client.getServerVersion()?.name, 'tollgate-control-plane');
      assert.match(client.getInstructions() ?? '', /Tollgate AI gateway account/);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'aigw_create_virtual_model'));
      const made = await client.callTool({ name: 'aigw_create_virtual_model', arguments: { name: `stateless-${kind}`, targets: ['openai:gpt-4o'] } });
      assert.equal(made.isError, undefined, JSON.stringify(made.content));
      const list = (await c.call('GET', '/virtual-models')).json() as { aiGatewayVirtualModels: { name: string }[] };
      assert.ok(list.aiGatewayVirtualModels.some((v) => v.name === `stateless-${kind}`), 'the call ran the API\'s own route');
      assert.equal(sessions, 0);

      const envelope = (version: string) => ({ 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientCapabilities': {} });
      const post = async (message: unknown, headers: Record<string, string>, token = c.token) => {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(message) });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const unauthorized = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: envelope('2026-07-28') } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' }, 'tgapi_unknown');
      assert.equal(unauthorized.status, 401);
      const future = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: envelope('2099-01-01') } }, { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' });
      assert.deepEqual(future, { status: 400, body: { jsonrpc: '2.0', id: 2, error: { code: -32022, message: 'Unsupported protocol version: 2099-01-01.', data: { supported: ['2026-07-28'], requested: '2099-01-01' } } } });
      const mismatch = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: envelope('2026-07-28') } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' });
      assert.deepEqual([mismatch.status, (mismatch.body.error as { code: number }).code], [400, -32020]);
      const ping = await post({ jsonrpc: '2.0', id: 4, method: 'ping', params: { _meta: envelope('2026-07-28') } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'ping' });
      assert.deepEqual([ping.status, (ping.body.error as { code: number }).code], [404, -32601]);
      const listed = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: envelope('2026-07-28') } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' });
      const result = listed.body.result as Record<string, unknown>;
      assert.deepEqual([result.resultType, result.cacheScope, typeof result.ttlMs], ['complete', 'public', 'number']);
      for (const method of ['GET', 'DELETE']) {
        const res = await fetch(url, { method, headers: { authorization: `Bearer ${c.token}`, 'mcp-protocol-version': '2026-07-28' } });
        assert.deepEqual([res.status, res.headers.get('allow')], [405, 'POST'], method);
        await res.body?.cancel();
      }
    });

    test('a malformed JSON-RPC message is a JSON-RPC error, never a silent 202 nor a 500; the server answers on', async () => {
      const post = async (message: unknown) => {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(message) });
        return { status: res.status, body: (await res.json()) as { jsonrpc: string; id: unknown; error?: { code: number; message: string }; result?: Record<string, unknown> } };
      };
      // Not one JSON-RPC 2.0 request: 400, Invalid Request.
      for (const message of [{ jsonrpc: '1.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: { n: 1 }, method: 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: ['aigw_list_models'] }, { jsonrpc: '2.0', id: null, method: 'tools/list' }]) {
        const { status, body } = await post(message);
        assert.deepEqual([status, body.jsonrpc, body.id, body.error?.code], [400, '2.0', null, -32600], JSON.stringify(message));
      }
      // Arguments that are not an object, and a name no tool has (a long one cut in the answer): Invalid Params.
      for (const args of [[1], 'models']) {
        const { body } = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'aigw_list_models', arguments: args } });
        assert.deepEqual([body.id, body.error?.code], [2, -32602]);
      }
      const long = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x'.repeat(10_240), arguments: {} } });
      assert.equal(long.body.error?.code, -32602);
      assert.ok(long.body.error!.message.length < 200, 'the name is not echoed whole');
      // Null arguments are none, as an absent member is.
      assert.ok((await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'aigw_list_models', arguments: null } })).body.result);
      // A protocol version of another type is one the server does not speak: answered with its own.
      for (const protocolVersion of [5, null, {}, ['2025-06-18']]) {
        const { body } = await post({ jsonrpc: '2.0', id: 5, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'a', version: '1' } } });
        assert.equal(typeof body.result?.protocolVersion, 'string', JSON.stringify(protocolVersion));
      }
      assert.ok((await post({ jsonrpc: '2.0', id: 6, method: 'tools/list' })).body.result);
    });
  });
}
