// /mcp-servers: the upstream MCP servers an account registers with its MCP gateway (ngrok's MCP Gateway). A label is
// unique per account and ties the server to its secret, a provider key of provider `mcp:<label>` (ngrok keeps it so:
// its PROVIDER_KEYS_CONFLICT error). Keys are the label's, not the row's: a deleted server leaves them, and no server
// may take, or leave, a label while keys it does not own hold it. Checks and writes run under the account's lock, as
// a provider key's create does, so a key and a rename cannot pass each other.
import type { Kysely } from 'kysely';
import type { components } from './spec-types.ts';
import { Errors, TollgateError, echoed } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { isNonPublicHost } from '../domain/public-address.ts';
import type { McpServerAuth } from '../domain/mcp-server.ts';
import type { Database } from '../store/schema.ts';
import * as repo from '../store/mcp-servers.ts';
import { countOwned } from '../store/owned.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, patchFields } from './resource.ts';
import { auditedView, createdStamp } from './audit.ts';
import { ownedResource } from './owned-resource.ts';
import { checkBaseUrl } from './provider-rules.ts';

type McpServer = components['schemas']['AIGatewayMcpServer'];
type McpServerCreate = components['schemas']['AIGatewayMcpServerCreate'];
type McpServerUpdate = components['schemas']['AIGatewayMcpServerUpdate'];
type Auth = components['schemas']['AIGatewayMcpServerAuth'];

const COLLECTION = '/mcp-servers';
const LABEL = 'MCP server';

/** MCP servers per account: ngrok has a limit (…_MCP_SERVER_LIMIT_EXCEEDED) but does not publish it. */
export const MCP_SERVER_LIMIT = 50;

/** Where the gateway serves MCP: this deployment knows no public URL for its gateway, so `url` is the path under it. */
export const MCP_PATH = '/mcp';

const NO_AUTH: McpServerAuth = { type: 'none' };

function view(base: string, row: repo.McpServerRow, hasSecret: boolean): McpServer {
  return compact({
    ...auditedView(base, COLLECTION, row),
    label: row.label,
    description: row.description ?? undefined,
    upstreamUrl: row.upstreamUrl,
    url: `${MCP_PATH}/s-${row.id}`,
    auth: repo.authOf(row) as Auth,
    hasSecret,
  });
}

/**
 * The upstream's URL, checked as a custom provider's baseUrl is (no credentials in it; https to a public host unless
 * the operator allows private upstreams). Where private upstreams are allowed, plain http still reaches only a host
 * that is plainly not public (a loopback or private literal, localhost, or a one-label name as a container network
 * gives): the server's secret goes with every call, and http would hand it to every hop on the internet.
 */
function checkUpstreamUrl(value: string, allowPrivate: boolean): void {
  const refused = (reason: string) => new TollgateError(Errors.validationFailed, { field: 'upstreamUrl', reason: `The upstreamUrl host is not permitted: ${reason}` });
  checkBaseUrl(value, allowPrivate, 'upstreamUrl', 'upstreamUrl', refused);
  const url = new URL(value);
  if (url.protocol === 'http:' && !isNonPublicHost(url.hostname) && url.hostname.includes('.')) {
    throw refused(`http is allowed only to a loopback or private host, and "${echoed(url.hostname)}" may be public: use https.`);
  }
}

/** Headers that carry the client's access key: the gateway never sends that upstream. */
const ACCESS_KEY_HEADERS = new Set(['authorization', 'x-api-key']);
/** Hop-by-hop headers (RFC 9110 §7.6.1) and the message's own framing: the gateway sets these per connection. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

const AUTH_FIELDS = ['in', 'name', 'prefix', 'headers'] as const;
/** The fields each auth type takes; the rest are refused, so a field that would do nothing is not stored. */
const TAKES: Record<McpServerAuth['type'], readonly (typeof AUTH_FIELDS)[number][]> = {
  none: [], oauthPassthrough: [], secret: ['in', 'name', 'prefix'], forwardHeaders: ['headers'],
};

function refusedAuth(field: string, reason: string): TollgateError {
  return new TollgateError(Errors.validationFailed, { field: `auth.${field}`, reason });
}

/** The rules between an auth's type and its fields that the schema cannot state; the stored form, fields in order. */
function checkedAuth(auth: Auth | null | undefined): McpServerAuth {
  if (auth === undefined || auth === null) return NO_AUTH;
  for (const field of AUTH_FIELDS) {
    if (auth[field] !== undefined && !TAKES[auth.type].includes(field)) {
      throw refusedAuth(field, `auth type "${auth.type}" takes ${TAKES[auth.type].length === 0 ? 'no other field' : `only ${TAKES[auth.type].map((f) => `"${f}"`).join(', ')}`}; remove "${field}".`);
    }
  }
  if (auth.type === 'secret') {
    if (auth.in === undefined) throw new TollgateError(Errors.fieldRequired, { field: 'auth.in' });
    if (auth.name === undefined) throw new TollgateError(Errors.fieldRequired, { field: 'auth.name' });
    if (auth.in === 'query' && auth.prefix !== undefined) throw refusedAuth('prefix', '"prefix" is for a secret sent in a header; a query parameter carries the secret alone.');
    if (auth.in === 'header' && CONNECTION_HEADERS.has(auth.name.toLowerCase())) throw refusedAuth('name', `"${auth.name}" is a connection header the gateway sets itself; name the header the server reads its credential from.`);
    return { type: 'secret', in: auth.in, name: auth.name, ...(auth.prefix !== undefined ? { prefix: auth.prefix } : {}) };
  }
  if (auth.type === 'forwardHeaders') {
    if (auth.headers === undefined) throw new TollgateError(Errors.fieldRequired, { field: 'auth.headers' });
    const seen = new Set<string>();
    auth.headers.forEach((header, i) => {
      const key = header.toLowerCase();
      if (ACCESS_KEY_HEADERS.has(key)) throw refusedAuth(`headers.${i}`, `"${header}" carries the client's access key, which the gateway never sends upstream.`);
      if (CONNECTION_HEADERS.has(key)) throw refusedAuth(`headers.${i}`, `"${header}" is a connection header, not the client's to forward.`);
      if (seen.has(key)) throw refusedAuth(`headers.${i}`, `"${header}" is listed more than once.`);
      seen.add(key);
    });
    return { type: 'forwardHeaders', headers: auth.headers };
  }
  return { type: auth.type };
}

/**
 * The label checks of a create (`self` undefined) or a rename: free in the account, and no `mcp:<label>` keys but
 * the server's own. Keys held by a label no server has are a deleted server's: taking the label would hand them to
 * a new upstream. A server's own keys stay with its label: the sealed value is bound to its provider id, so they
 * cannot follow a rename.
 */
async function checkLabel(trx: Kysely<Database>, accountId: string, label: string, self?: repo.McpServerRow): Promise<void> {
  const holder = await repo.mcpServerByLabel(trx, accountId, label);
  if (holder && holder.id !== self?.id) throw new TollgateError(Errors.alreadyExists, { resource: `An MCP server labelled "${label}"`, field: 'label' });
  if (self?.label === label) return;
  const keyed = await repo.labelsWithKeys(trx, accountId, self ? [self.label, label] : [label]);
  for (const held of self ? [self.label, label] : [label]) {
    if (keyed.has(held)) throw new TollgateError(Errors.mcpServerProviderKeysConflict, { label: held, field: 'label' });
  }
}

export function mcpServerHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  const allowPrivate = deps.config.allowPrivateUpstreams;
  const servers = ownedResource(deps, 'mcpServers', 'mcpServer', LABEL);
  const hasSecret = async (accountId: string, row: repo.McpServerRow) => (await repo.labelsWithKeys(db, accountId, [row.label])).has(row.label);

  return {
    async ListAIGatewayMcpServers(call: Call) {
      const { accountId } = call.principal;
      const page = await repo.listMcpServers(db, accountId, call.query as { beforeId?: string; limit?: number });
      const keyed = await repo.labelsWithKeys(db, accountId, page.items.map((r) => r.label));
      return listEnvelope(call, 'aiGatewayMcpServers', page, page.items.map((r) => view(call.base, r, keyed.has(r.label))));
    },
    async CreateAIGatewayMcpServer(call: Call) {
      const body = call.body as McpServerCreate;
      const { accountId, apiKeyId } = call.principal;
      checkUpstreamUrl(body.upstreamUrl, allowPrivate);
      const row: repo.McpServerRow = {
        id: newId('mcpServer'), accountId, label: body.label, description: body.description ?? null,
        upstreamUrl: body.upstreamUrl, auth: JSON.stringify(checkedAuth(body.auth)), ...createdStamp(apiKeyId),
      };
      await servers.insert(call, row, async (trx) => {
        if (await countOwned(trx, 'mcpServers', accountId) >= MCP_SERVER_LIMIT) throw new TollgateError(Errors.mcpServerLimitExceeded, { limit: String(MCP_SERVER_LIMIT) });
        await checkLabel(trx, accountId, body.label);
      });
      // A new server has no secret: its keys can only be written once it holds the label.
      return view(call.base, row, false);
    },
    async GetAIGatewayMcpServer(call: Call) {
      const row = await servers.existing(call);
      return view(call.base, row, await hasSecret(call.principal.accountId, row));
    },
    async UpdateAIGatewayMcpServer(call: Call) {
      const { accountId } = call.principal;
      const id = call.params.id!;
      const { label, description, upstreamUrl, auth } = patchFields<McpServerUpdate>(call.body as Record<string, unknown>, ['label', 'description', 'upstreamUrl', 'auth']);
      // Nullable in the update schema as ngrok's update schemas are, but a server is its label and its upstream.
      if (label === null) throw new TollgateError(Errors.fieldRequired, { field: 'label' });
      if (upstreamUrl === null) throw new TollgateError(Errors.fieldRequired, { field: 'upstreamUrl' });
      if (upstreamUrl !== undefined) checkUpstreamUrl(upstreamUrl, allowPrivate);
      const row = await servers.update(call, id, {
        ...(label !== undefined ? { label } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(upstreamUrl !== undefined ? { upstreamUrl } : {}),
        ...(auth !== undefined ? { auth: JSON.stringify(checkedAuth(auth)) } : {}),
      }, async (trx) => {
        if (label !== undefined) await checkLabel(trx, accountId, label, await servers.existing(call, id, trx));
      });
      return view(call.base, row, await hasSecret(accountId, row));
    },
    async DeleteAIGatewayMcpServer(call: Call) {
      // Never refused: access allow lists name labels, which may be registered again, and the server's keys stay
      // with its label (ngrok: "Delete its 'mcp:<LABEL> keys before reusing … it").
      await servers.remove(call);
      return undefined;
    },
  };
}
