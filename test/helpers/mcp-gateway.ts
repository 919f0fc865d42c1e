// A gateway serving MCP in front of scripted servers (mcp-scripted.ts), over a state whose access key can be deleted
// and whose account replaced, telling the gateway as GatewayState does (onAccessKeyChange, onReload): for the tests
// of what ends with a session, a key or a server.
import assert from 'node:assert/strict';
import pino from 'pino';
import { startGatewayServer, type GatewayServer } from '../../src/gateway/server.ts';
import { Upstreams } from '../../src/gateway/upstream.ts';
import { createCatalog } from '../../src/catalog/index.ts';
import type { GatewayStateView } from '../../src/gateway/context.ts';
import type { McpGatewayOptions } from '../../src/gateway/mcp/index.ts';
import type { McpServerState } from '../../src/domain/mcp-server.ts';
import type { AccountSnapshot, AuthenticatedKey } from '../../src/state/types.ts';
import type { BegunAttempt, UsageEvent, UsageSink } from '../../src/usage/event.ts';
import { snapshot, type SnapshotInit } from './snapshot.ts';
import { collectingSink } from './stub-gateway.ts';
import type { Scripted } from './mcp-scripted.ts';

export const TOKEN = 'ng-mcp-lifecycle-key';
export const KEY: AuthenticatedKey = { id: 'aigk_lifecycle', accountId: 'acct_test', configurationId: null };

type Account = Pick<SnapshotInit, 'configurations'> & { servers: McpServerState[]; secrets?: { id: string; providerId: string; value: string }[] };

export interface McpGatewayUnderTest {
  gateway: GatewayServer;
  /** Every usage event recorded and every attempt begun, in order. */
  usage: (BegunAttempt | UsageEvent)[];
  deleteKey(): void;
  replaceAccount(servers: McpServerState[], secrets?: Account['secrets'], configurations?: SnapshotInit['configurations']): void;
}

export async function startMcpGateway(account: Account, mcp: McpGatewayOptions = {}, options: { key?: AuthenticatedKey; usage?: UsageSink } = {}): Promise<McpGatewayUnderTest> {
  const init = (a: Account): AccountSnapshot => snapshot({ mcpServers: a.servers, providerKeys: a.secrets ?? [], configurations: a.configurations ?? [] });
  let current = init(account);
  const issued = options.key ?? KEY;
  let key: AuthenticatedKey | null = issued;
  const keyListeners: ((id: string) => void)[] = [];
  const reloadListeners: ((before: AccountSnapshot, now: AccountSnapshot) => void)[] = [];
  const usage: (BegunAttempt | UsageEvent)[] = [];
  const state: GatewayStateView = {
    authenticate: (token) => (token === TOKEN ? key : null),
    account: () => current,
    configuration: (k) => (k.configurationId === null ? null : current.configurations.get(k.configurationId) ?? null),
    reloadAccount: async () => true,
    changesArriving: () => undefined,
    markUsed: () => {},
    debit: () => {},
    accessKeyById: async (id) => (id === issued.id ? key : null),
    onAccessKeyChange: (listener) => { keyListeners.push(listener); },
    onReload: (listener) => { reloadListeners.push(listener); },
  };
  const gateway = await startGatewayServer({
    state, usage: options.usage ?? collectingSink(usage), logger: pino({ level: 'silent' }), catalog: createCatalog({}), upstreams: new Upstreams({ loopId: 'mcp-lifecycle', allowPrivate: true }),
    options: {
      maxBodyBytes: 1 << 20, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'mcp-lifecycle', mcp,
      clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
    },
  }, '127.0.0.1', 0);
  return {
    gateway,
    usage,
    deleteKey: () => {
      key = null;
      for (const l of keyListeners) l(issued.id);
    },
    replaceAccount: (servers, secrets = [], configurations = []) => {
      const before = current;
      current = init({ servers, secrets, configurations });
      for (const l of reloadListeners) l(before, current);
    },
  };
}

export const mcpServer = (id: string, s: Scripted, auth: McpServerState['auth'] = { type: 'none' }): McpServerState => ({ id, label: id.slice('aigmcp_'.length), upstreamUrl: s.url, auth });

export async function post(gateway: GatewayServer, path: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gateway.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

export async function initialize(gateway: GatewayServer, path: string): Promise<string> {
  const res = await post(gateway, path, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'lifecycle', version: '1' } } });
  await res.text();
  return res.headers.get('mcp-session-id')!;
}

/** The session ids the server was sent DELETE for, in order. */
export const deleted = (s: Scripted): string[] => s.seen.filter((x) => x.method === 'DELETE').map((x) => String(x.headers['mcp-session-id']));
/** The upstream session id each tools/call went in. */
export const callSessions = (s: Scripted): string[] => s.seen.filter((x) => x.message?.method === 'tools/call').map((x) => String(x.headers['mcp-session-id']));

/** Waits (up to 2 s) until `done` holds: what the gateway does unawaited. */
export async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Waits (up to 2 s) until `s` was sent DELETE for every one of `ids`: the gateway sends them unawaited. */
export async function deletesOf(s: Scripted, ids: string[]): Promise<void> {
  await until(() => ids.every((id) => deleted(s).includes(id)));
  assert.deepEqual(deleted(s).filter((id) => ids.includes(id)).sort(), [...ids].sort(), `DELETEs the server saw: ${JSON.stringify(deleted(s))}`);
}
