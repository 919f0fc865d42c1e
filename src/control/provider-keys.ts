// /provider-keys: upstream credentials. The value is write-only: sealed on the way in, shown only as
// `keyRedacted`, replaced through rotate (which keeps the id, so routing rules keep pointing at it).
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import * as repo from '../store/provider-keys.ts';
import { configurationRules } from '../store/configurations.ts';
import { deleteOwned, insertOwned, updateOwned } from '../store/owned.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, notFound, patchFields } from './resource.ts';
import { auditedView, updatedStamp } from './audit.ts';
import { requireCapacity, requireKnownProvider, resealed, sealedProviderKey } from './provider-key-values.ts';
import { configurationsUsingKey } from './references.ts';

type ProviderKey = components['schemas']['AIGatewayProviderAPIKeyDetail'];
type ProviderKeyCreate = components['schemas']['AIGatewayProviderAPIKeyCreate'];
type ProviderKeyUpdate = components['schemas']['AIGatewayProviderAPIKeyUpdate'];
type ProviderKeyRotate = components['schemas']['AIGatewayProviderAPIKeyRotate'];

export function providerKeyView(base: string, row: repo.ProviderKeyRow): ProviderKey {
  return compact({
    ...auditedView(base, '/provider-keys', row),
    providerId: row.providerId,
    name: row.name,
    keyRedacted: row.keyRedacted,
    description: row.description ?? undefined,
    metadata: row.metadata ?? undefined,
    lastUsed: row.lastUsed,
  });
}

export function providerKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;

  const existing = async (call: Call): Promise<repo.ProviderKeyRow> => {
    const row = await repo.getProviderKey(db, call.principal.accountId, call.params.id!);
    if (!row) throw notFound('Provider key', call.params.id!);
    return row;
  };

  /** Writes the changes, announces them and answers with the stored result. */
  const change = async (call: Call, changes: Partial<repo.ProviderKeyRow>): Promise<ProviderKey> => {
    const { accountId, apiKeyId } = call.principal;
    const id = call.params.id!;
    await updateOwned(db, 'providerKeys', accountId, id, { ...changes, ...updatedStamp(apiKeyId) });
    await deps.changes.publish({ accountId, kind: 'providerKey', resourceId: id });
    return providerKeyView(call.base, (await repo.getProviderKey(db, accountId, id))!);
  };

  return {
    async ListAIGatewayProviderAPIKeys(call: Call) {
      const page = await repo.listProviderKeys(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number; provider?: string });
      return listEnvelope(call, 'aiGatewayProviderKeys', page, page.items.map((r) => providerKeyView(call.base, r)));
    },
    async CreateAIGatewayProviderAPIKey(call: Call) {
      const body = call.body as ProviderKeyCreate;
      const { accountId, apiKeyId } = call.principal;
      const row = sealedProviderKey(deps.secretBox, { accountId, principalId: apiKeyId, ...body });
      await requireKnownProvider(db, accountId, body.providerId);
      await requireCapacity(db, accountId, body.providerId, 1);
      await insertOwned(db, 'providerKeys', row);
      await deps.changes.publish({ accountId, kind: 'providerKey', resourceId: row.id });
      return providerKeyView(call.base, row);
    },
    async GetAIGatewayProviderAPIKey(call: Call) {
      return providerKeyView(call.base, await existing(call));
    },
    async UpdateAIGatewayProviderAPIKey(call: Call) {
      await existing(call);
      const changes = patchFields<ProviderKeyUpdate>(call.body as Record<string, unknown>, ['name', 'description', 'metadata']);
      // Nullable in the contract's update schema, but a key always needs a name to be shown and picked.
      if (changes.name === null) throw new TollgateError(Errors.providerKeyFieldRequired, { field: 'name' });
      return change(call, changes as Partial<repo.ProviderKeyRow>);
    },
    async RotateAIGatewayProviderAPIKey(call: Call) {
      const body = call.body as ProviderKeyRotate;
      await existing(call);
      return change(call, { name: body.name, ...resealed(deps.secretBox, body.value) });
    },
    async DeleteAIGatewayProviderAPIKey(call: Call) {
      const { accountId } = call.principal;
      const id = (await existing(call)).id;
      const users = configurationsUsingKey(await configurationRules(db, accountId), id);
      if (users.length > 0) throw new TollgateError(Errors.providerKeyInUse, { id, configurationId: users.join(', ') });
      await deleteOwned(db, 'providerKeys', accountId, id);
      await deps.changes.publish({ accountId, kind: 'providerKey', resourceId: id });
      return undefined;
    },
  };
}
