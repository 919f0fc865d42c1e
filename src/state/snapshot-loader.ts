// Reads one account's gateway view from the store in a handful of queries, all in one snapshot: settings,
// configurations, provider keys (opened with the master key), user-defined providers, virtual models, Firewall
// policies and MCP servers. Not the credit balance: summing an account's usage grows with its history, and requests wait for a reload
// (gateway-state.ts reads it apart).
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import { loadGatewaySettings } from '../store/gateway-config.ts';
import { inOneSnapshot } from '../store/database.ts';
import { openProviderKey, type SecretBox } from '../domain/secret-box.ts';
import { customProviderState, parseJson } from './custom-provider.ts';
import type {
  AccessScope, AccountSnapshot, AuthenticatedKey, ConfigurationState, CustomProviderState,
  ProviderKeyState, StoredRouterRule, VirtualModelState,
} from './types.ts';
import { targetsOf } from '../store/virtual-models.ts';
import { firewallPolicyState } from '../store/firewall-policies.ts';
import type { FirewallPolicyState } from '../domain/firewall-policy.ts';
import { mcpServerState } from '../store/mcp-servers.ts';
import type { McpServerState } from '../domain/mcp-server.ts';

/** `balancePico` is 0: the caller carries the figure over from the snapshot this one replaces until it is read again. */
export async function loadAccountSnapshot(db: Kysely<Database>, secretBox: SecretBox, logger: Logger, accountId: string): Promise<AccountSnapshot> {
  // One snapshot: read apart, a change committed between two reads (a configuration pointed at a new provider key,
  // a key deleted with the rule naming it) was half in the snapshot until a later reload healed it.
  const [settings, configRows, keyRows, providerRows, virtualRows, firewallRows, mcpRows] = await inOneSnapshot(db, (trx) => Promise.all([
    loadGatewaySettings(trx, accountId),
    trx.selectFrom('accessKeyConfigurations').select(['id', 'access', 'router', 'firewallPolicyId']).where('accountId', '=', accountId).execute(),
    trx.selectFrom('providerKeys').select(['id', 'providerId', 'name', 'keyRedacted', 'sealedValue', 'awsRegion', 'awsExternalId', 'awsRoleArn', 'createdAt'])
      .where('accountId', '=', accountId).orderBy('createdAt').orderBy('id').execute(),
    trx.selectFrom('providers').select(['id', 'providerId', 'name', 'baseUrl', 'supportedApiSurfaces', 'models'])
      .where('accountId', '=', accountId).execute(),
    trx.selectFrom('virtualModels').select(['id', 'name', 'nameKey', 'targets']).where('accountId', '=', accountId).execute(),
    trx.selectFrom('firewallPolicies').select(['id', 'name', 'mode', 'onError', 'environment', 'rules']).where('accountId', '=', accountId).execute(),
    // Read with the provider keys: the data plane finds a server's secret by its label among them (`mcp:<label>`).
    trx.selectFrom('mcpServers').select(['id', 'label', 'upstreamUrl', 'auth']).where('accountId', '=', accountId).execute(),
  ]));

  const configurations = new Map<string, ConfigurationState>();
  for (const row of configRows) {
    const router = parseJson(row.router) as { rules?: StoredRouterRule[] } | StoredRouterRule[] | null;
    const rules = Array.isArray(router) ? router : router?.rules ?? null;
    configurations.set(row.id, { id: row.id, access: parseJson(row.access) as AccessScope | null, rules, firewallPolicyId: row.firewallPolicyId });
  }

  const providerKeys = new Map<string, ProviderKeyState>();
  const providerKeysByProvider = new Map<string, ProviderKeyState[]>();
  const unreadableProviderKeys = new Map<string, string>();
  for (const row of keyRows) {
    let value = '';
    // A role key holds no secret: nothing to open.
    if (row.awsExternalId === null) try {
      value = openProviderKey(secretBox, row.sealedValue, { accountId, providerId: row.providerId, id: row.id });
    } catch {
      // A key sealed under another master key, or for another row, is unusable; it is skipped (never logged by value).
      logger.warn({ accountId, providerKeyId: row.id }, 'provider key cannot be decrypted with the current master key for this row; skipped (TOLLGATE_SECRET_KEY changed without `tollgate rotate-secret`, or a rotation was interrupted: re-run it with the same new key)');
      unreadableProviderKeys.set(row.id, row.providerId);
      continue;
    }
    const key: ProviderKeyState = { id: row.id, providerId: row.providerId, name: row.name, keyRedacted: row.keyRedacted, value };
    if (row.awsRegion !== null) key.awsRegion = row.awsRegion;
    if (row.awsExternalId !== null) {
      key.awsRole = row.awsRoleArn === null ? { externalId: row.awsExternalId } : { externalId: row.awsExternalId, roleArn: row.awsRoleArn };
      // A role key holds no secret to mask: its usage events and attempts name the role it assumes instead.
      if (row.awsRoleArn !== null) key.keyRedacted = row.awsRoleArn.slice(row.awsRoleArn.indexOf(':role/') + 1);
    }
    providerKeys.set(key.id, key);
    const list = providerKeysByProvider.get(key.providerId);
    if (list) list.push(key);
    else providerKeysByProvider.set(key.providerId, [key]);
  }

  const customProviders = new Map<string, CustomProviderState>();
  for (const row of providerRows) {
    customProviders.set(row.providerId, customProviderState(row));
  }

  const virtualModels = new Map<string, VirtualModelState>();
  for (const row of virtualRows) virtualModels.set(row.nameKey, { id: row.id, name: row.name, targets: targetsOf(row) });

  const firewallPolicies = new Map<string, FirewallPolicyState>();
  for (const row of firewallRows) firewallPolicies.set(row.id, firewallPolicyState(row));

  const mcpServers = new Map<string, McpServerState>();
  for (const row of mcpRows) mcpServers.set(row.id, mcpServerState(row));

  return { accountId, settings, configurations, providerKeys, providerKeysByProvider, unreadableProviderKeys, customProviders, virtualModels, firewallPolicies, mcpServers, balancePico: 0n };
}

export interface AccessKeyRecord extends AuthenticatedKey { tokenHash: string }

export async function findAccessKeyByHash(db: Kysely<Database>, tokenHash: string): Promise<AccessKeyRecord | undefined> {
  return db.selectFrom('accessKeys').select(['id', 'accountId', 'configurationId', 'tokenHash']).where('tokenHash', '=', tokenHash).executeTakeFirst();
}

/** A page of every account's access keys, by id from `afterId` on: the gateway's key index (state/key-index.ts). */
export function accessKeyHashesAfter(db: Kysely<Database>, afterId: string, limit: number): Promise<{ id: string; tokenHash: string }[]> {
  return db.selectFrom('accessKeys').select(['id', 'tokenHash']).where('id', '>', afterId).orderBy('id').limit(limit).execute();
}

/**
 * The access keys as one snapshot of the store has them: how many there are, and the token hash (undefined: gone) of
 * each key named by an `accessKey` change after `afterSeq` or at one of `seqs` — the changes a gateway has not applied
 * yet. One statement, so both are of the same moment (PostgreSQL takes a statement's snapshot once; SQLite reads a
 * statement in one transaction). Undefined when more than `limit` changes are named: a gateway so far behind counts
 * another time.
 */
export async function accessKeysAsOfChanges(db: Kysely<Database>, afterSeq: number, seqs: readonly number[], limit: number): Promise<{ total: number; named: Map<string, string | undefined> } | undefined> {
  const named = db.selectFrom('stateChanges as c').leftJoin('accessKeys as k', 'k.id', 'c.resourceId')
    .select(['c.resourceId as id', 'k.tokenHash as tokenHash'])
    .where('c.kind', '=', 'accessKey')
    .where((eb) => seqs.length > 0 ? eb.or([eb('c.seq', '>', afterSeq), eb('c.seq', 'in', [...seqs])]) : eb('c.seq', '>', afterSeq));
  const rows = await db.selectFrom(db.selectFrom('accessKeys').select((eb) => eb.fn.countAll().as('total')).as('t'))
    // Joined on true: the count comes once with no change named too.
    .leftJoin(named.as('n'), (join) => join.onTrue())
    .select(['t.total', 'n.id', 'n.tokenHash'])
    .limit(limit + 1).execute();
  if (rows.length > limit) return undefined;
  const keys = new Map<string, string | undefined>();
  for (const row of rows) if (row.id !== null) keys.set(row.id, row.tokenHash ?? undefined);
  return { total: Number(rows[0]?.total ?? 0), named: keys };
}

export async function findAccessKeysByIds(db: Kysely<Database>, ids: readonly string[]): Promise<AccessKeyRecord[]> {
  const out: AccessKeyRecord[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    out.push(...await db.selectFrom('accessKeys').select(['id', 'accountId', 'configurationId', 'tokenHash']).where('id', 'in', chunk).execute());
  }
  return out;
}

