// /access-key-configurations: access scope plus routing rules. Rules are stored with key ids only and
// shown with each key's name and redaction joined at read time; keys written inline are created in the
// same transaction as the configuration.
import type { Kysely } from 'kysely';
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { Database } from '../store/schema.ts';
import * as repo from '../store/configurations.ts';
import { accessKeyCounts, accessKeysUsingConfiguration } from '../store/access-keys.ts';
import { providerKeysByIds } from '../store/provider-keys.ts';
import { customProviderIds } from '../store/providers.ts';
import { virtualModelNames } from '../store/virtual-models.ts';
import { countOwned, deleteOwned, insertOwned, updateOwned } from '../store/owned.ts';
import { withAccountLock } from '../store/account-lock.ts';
import type { Call, ControlDeps, HandlerTable, Principal } from './app.ts';
import { compact, listEnvelope, notFound, patchFields, requireName } from './resource.ts';
import { auditedView, createdStamp, updatedStamp } from './audit.ts';
import { ownedResource } from './owned-resource.ts';
import { inlineKeys, planRouter, referencedKeyIds, storedRules } from './router-rules.ts';
import { requireCapacity, sealedProviderKey } from './provider-key-values.ts';
import { describeUsers } from './references.ts';
import { requireFirewallPolicy } from './firewall-policies.ts';

type Configuration = components['schemas']['AIGatewayAccessKeyConfiguration'];
type ConfigurationCreate = components['schemas']['AIGatewayAccessKeyConfigurationCreate'];
type ConfigurationUpdate = components['schemas']['AIGatewayAccessKeyConfigurationUpdate'];
type RouterWrite = components['schemas']['RouterWrite'];
type StepKey = components['schemas']['RouterStepKey'];

const COLLECTION = '/access-key-configurations';

/**
 * Configurations per account: each (its access scope and routing rules, up to a megabyte) is held in every gateway's
 * memory and read again on each change of the account, as a custom provider is. As many as those.
 */
export const CONFIGURATION_LIMIT = 100;

function routerView(router: repo.StoredRouter, keys: ReadonlyMap<string, StepKey>): components['schemas']['Router'] {
  return {
    rules: router.rules.map((rule) => ({
      ...rule,
      steps: rule.steps.map(({ keys: ids, ...step }) => (ids === undefined ? step : { ...step, keys: ids.flatMap((k) => keys.get(k.id) ?? []) })),
    })),
  };
}

/** Contract views of stored rows, with every referenced key loaded in one query. */
async function views(db: Kysely<Database>, base: string, accountId: string, rows: readonly repo.ConfigurationRow[]): Promise<Configuration[]> {
  const ids = rows.flatMap((r) => r.router?.rules.flatMap((rule) => rule.steps.flatMap((s) => s.keys?.map((k) => k.id) ?? [])) ?? []);
  const found = await providerKeysByIds(db, accountId, ids);
  const keys = new Map([...found].map(([id, k]) => [id, { id, name: k.name, keyRedacted: k.keyRedacted }]));
  const linked = await accessKeyCounts(db, accountId, rows.map((r) => r.id));
  return rows.map((row) => compact({
    ...auditedView(base, COLLECTION, row),
    accessKeyCount: linked.get(row.id) ?? 0,
    name: row.name,
    description: row.description ?? undefined,
    metadata: row.metadata ?? undefined,
    access: row.access ?? undefined,
    router: row.router === null ? undefined : routerView(row.router, keys),
    firewallPolicyId: row.firewallPolicyId ?? undefined,
  }));
}

/** Validates a written router and creates its inline keys; returns the stored router and the new key ids. */
async function writeRouter(trx: Kysely<Database>, deps: ControlDeps, principal: Principal, router: RouterWrite): Promise<{ stored: repo.StoredRouter; createdKeys: string[] }> {
  const { accountId, apiKeyId } = principal;
  const found = await providerKeysByIds(trx, accountId, referencedKeyIds(router));
  const plan = planRouter(router, {
    customProviders: await customProviderIds(trx, accountId),
    keyProviders: new Map([...found].map(([id, k]) => [id, k.providerId])),
  });
  const inline = inlineKeys(plan);
  const perProvider = new Map<string, number>();
  for (const k of inline) perProvider.set(k.providerId, (perProvider.get(k.providerId) ?? 0) + 1);
  for (const [providerId, adding] of perProvider) await requireCapacity(trx, accountId, providerId, adding);
  const rows = inline.map((k) => sealedProviderKey(deps.secretBox, { accountId, principalId: apiKeyId, ...k }));
  for (const row of rows) await insertOwned(trx, 'providerKeys', row);
  const createdKeys = rows.map((r) => r.id);
  return { stored: { rules: storedRules(plan, createdKeys) }, createdKeys };
}

/**
 * A virtual model's name in the models allow list is refused (ngrok's ACCESS_CONFIG_VIRTUAL_MODEL_NOT_ALLOWED): scope
 * is checked on the models a request reaches, each target on its own, so the name would allow nothing.
 */
async function refuseVirtualModels(trx: Kysely<Database>, accountId: string, access: ConfigurationCreate['access'] | null | undefined): Promise<void> {
  const allow = access?.models?.allow;
  if (!allow || allow.length === 0) return;
  const names = new Set((await virtualModelNames(trx, accountId)).map((v) => v.nameKey));
  const at = allow.findIndex((e) => names.has(e.toLowerCase()));
  if (at >= 0) throw new TollgateError(Errors.accessConfigVirtualModelNotAllowed, { name: allow[at]!, field: `access.models.allow.${at}` });
}

export function configurationHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;

  const read = async (call: Call, id: string): Promise<Configuration> => {
    const row = await repo.getConfiguration(db, call.principal.accountId, id);
    if (!row) throw notFound('Access key configuration', id);
    return (await views(db, call.base, call.principal.accountId, [row]))[0]!;
  };

  const configurations = ownedResource(deps, 'accessKeyConfigurations', 'configuration', 'Access key configuration');

  /** Records the configuration's change and its new inline keys' inside `trx`; tells local listeners after. */
  const record = (call: Call, id: string, createdKeys: readonly string[], trx: Kysely<Database>) => deps.changes.recordAll(trx, [
    ...createdKeys.map((keyId) => ({ accountId: call.principal.accountId, kind: 'providerKey' as const, resourceId: keyId })),
    { accountId: call.principal.accountId, kind: 'configuration' as const, resourceId: id },
  ]);

  return {
    async ListAIGatewayAccessKeyConfigurations(call: Call) {
      const { accountId } = call.principal;
      const page = await repo.listConfigurations(db, accountId, call.query as { beforeId?: string; limit?: number });
      return listEnvelope(call, 'aiGatewayAccessKeyConfigurations', page, await views(db, call.base, accountId, page.items));
    },
    async CreateAIGatewayAccessKeyConfiguration(call: Call) {
      const body = call.body as ConfigurationCreate;
      requireName(body.name, Errors.fieldRequired);
      const { accountId, apiKeyId } = call.principal;
      const id = newId('configuration');
      // Locked against a concurrent delete of a key or custom provider the router names (and past the key limit).
      const announce = await withAccountLock(deps.store, accountId, async (trx) => {
        if (await countOwned(trx, 'accessKeyConfigurations', accountId) >= CONFIGURATION_LIMIT) {
          throw new TollgateError(Errors.configurationLimitExceeded, { limit: String(CONFIGURATION_LIMIT) });
        }
        await refuseVirtualModels(trx, accountId, body.access);
        await requireFirewallPolicy(trx, accountId, body.firewallPolicyId);
        const router = body.router === undefined ? undefined : await writeRouter(trx, deps, call.principal, body.router);
        await insertOwned(trx, 'accessKeyConfigurations', {
          id, accountId, name: body.name, description: body.description ?? null, metadata: body.metadata ?? null,
          access: repo.jsonColumn(body.access ?? null), router: repo.jsonColumn(router?.stored ?? null),
          firewallPolicyId: body.firewallPolicyId ?? null,
          ...createdStamp(apiKeyId),
        });
        return record(call, id, router?.createdKeys ?? [], trx);
      });
      announce();
      return read(call, id);
    },
    async GetAIGatewayAccessKeyConfiguration(call: Call) {
      return read(call, call.params.id!);
    },
    async UpdateAIGatewayAccessKeyConfiguration(call: Call) {
      const { accountId, apiKeyId } = call.principal;
      const id = call.params.id!;
      await configurations.existing(call);
      const { name, access, router, firewallPolicyId, ...text } = patchFields<ConfigurationUpdate>(call.body as Record<string, unknown>,
        ['name', 'description', 'metadata', 'access', 'router', 'firewallPolicyId']);
      requireName(name, Errors.fieldRequired);
      const announce = await withAccountLock(deps.store, accountId, async (trx) => {
        await refuseVirtualModels(trx, accountId, access);
        await requireFirewallPolicy(trx, accountId, firewallPolicyId);
        const written = router ? await writeRouter(trx, deps, call.principal, router) : undefined;
        // Deleted since the check above (PostgreSQL serves the two at once): a 404, and its new inline keys rolled back.
        const updated = await updateOwned(trx, 'accessKeyConfigurations', accountId, id, {
          ...text,
          ...(name !== undefined ? { name } : {}),
          ...(access !== undefined ? { access: repo.jsonColumn(access) } : {}),
          ...(router !== undefined ? { router: repo.jsonColumn(written?.stored ?? null) } : {}),
          ...(firewallPolicyId !== undefined ? { firewallPolicyId } : {}),
          ...updatedStamp(apiKeyId),
        });
        if (!updated) throw notFound('Access key configuration', id);
        return record(call, id, written?.createdKeys ?? [], trx);
      });
      announce();
      return read(call, id);
    },
    async DeleteAIGatewayAccessKeyConfiguration(call: Call) {
      const { accountId } = call.principal;
      const id = call.params.id!;
      // Locked while checked and deleted: an access key linked meanwhile either lands first (409 here) or
      // finds the configuration gone (404 there), never a key pointing at nothing.
      await db.transaction().execute(async (trx) => {
        if (!(await repo.lockConfiguration(trx, deps.store.dialect, accountId, id, 'update'))) throw notFound('Access key configuration', id);
        const users = await accessKeysUsingConfiguration(trx, accountId, id);
        if (users.length > 0) {
          throw new TollgateError(Errors.inUse, { resource: 'Access key configuration', id, usedBy: describeUsers('access key', users) });
        }
        await deleteOwned(trx, 'accessKeyConfigurations', accountId, id);
        return record(call, id, [], trx);
      }).then((announce) => announce());
      return undefined;
    },
  };
}
