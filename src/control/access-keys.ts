// /access-keys: create (token shown once), list, get, update (tri-state, link/unlink a configuration), delete.
import type { components } from './spec-types.ts';
import { newAccessKeyToken, newId, redactSecret, sha256Hex } from '../domain/ids.ts';
import * as repo from '../store/access-keys.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, notFound, nowIso, patchFields, principalRef } from './resource.ts';

type AccessKey = components['schemas']['AIGatewayAccessKey'];
type AccessKeyCreate = components['schemas']['AIGatewayAccessKeyCreate'];
type AccessKeyUpdate = components['schemas']['AIGatewayAccessKeyUpdate'];

export function accessKeyView(base: string, row: repo.AccessKeyRow, token?: string): AccessKey {
  return compact({
    id: row.id,
    uri: `${base}/access-keys/${row.id}`,
    name: row.name ?? undefined,
    description: row.description ?? undefined,
    metadata: row.metadata ?? undefined,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    createdBy: principalRef(base, row.createdBy),
    lastUpdatedBy: principalRef(base, row.lastUpdatedBy),
    token,
    keyRedacted: row.keyRedacted,
    lastUsed: row.lastUsed,
    accessKeyConfiguration: row.configurationId
      ? { id: row.configurationId, uri: `${base}/access-key-configurations/${row.configurationId}`, name: row.configurationName ?? '' }
      : null,
  });
}

async function requireConfiguration(deps: ControlDeps, accountId: string, id: string): Promise<void> {
  const found = await deps.store.db.selectFrom('accessKeyConfigurations').select('id').where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst();
  if (!found) throw notFound('Access key configuration', id);
}

export function accessKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  return {
    async ListAIGatewayAccessKeys(call: Call) {
      const page = await repo.listAccessKeys(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number });
      return listEnvelope(call, 'aiGatewayAccessKeys', page, page.items.map((r) => accessKeyView(call.base, r)));
    },
    async CreateAIGatewayAccessKey(call: Call) {
      const body = call.body as AccessKeyCreate;
      const { accountId, apiKeyId } = call.principal;
      if (body.accessKeyConfigurationId !== undefined) await requireConfiguration(deps, accountId, body.accessKeyConfigurationId);
      const token = newAccessKeyToken();
      const now = nowIso();
      const id = newId('accessKey');
      await repo.insertAccessKey(db, {
        id, accountId, name: body.name ?? null, description: body.description ?? null, metadata: body.metadata ?? null,
        tokenHash: sha256Hex(token), keyRedacted: redactSecret(token), configurationId: body.accessKeyConfigurationId ?? null,
        lastUsed: null, createdAt: now, updatedAt: now, createdBy: apiKeyId, lastUpdatedBy: apiKeyId,
      });
      await deps.changes.publish({ accountId, kind: 'accessKey', resourceId: id });
      return accessKeyView(call.base, (await repo.getAccessKey(db, accountId, id))!, token);
    },
    async GetAIGatewayAccessKey(call: Call) {
      const row = await repo.getAccessKey(db, call.principal.accountId, call.params.id!);
      if (!row) throw notFound('Access key', call.params.id!);
      return accessKeyView(call.base, row);
    },
    async UpdateAIGatewayAccessKey(call: Call) {
      const { accountId, apiKeyId } = call.principal;
      const id = call.params.id!;
      const body = call.body as AccessKeyUpdate;
      if (!(await repo.getAccessKey(db, accountId, id))) throw notFound('Access key', id);
      const changes = patchFields<AccessKeyUpdate>(body as Record<string, unknown>, ['name', 'description', 'metadata', 'accessKeyConfigurationId']);
      if (typeof changes.accessKeyConfigurationId === 'string') await requireConfiguration(deps, accountId, changes.accessKeyConfigurationId);
      const { accessKeyConfigurationId, ...rest } = changes;
      await repo.updateAccessKey(db, accountId, id, {
        ...rest,
        ...(accessKeyConfigurationId !== undefined ? { configurationId: accessKeyConfigurationId } : {}),
        updatedAt: nowIso(),
        lastUpdatedBy: apiKeyId,
      });
      await deps.changes.publish({ accountId, kind: 'accessKey', resourceId: id });
      return accessKeyView(call.base, (await repo.getAccessKey(db, accountId, id))!);
    },
    async DeleteAIGatewayAccessKey(call: Call) {
      const { accountId } = call.principal;
      if (!(await repo.deleteAccessKey(db, accountId, call.params.id!))) throw notFound('Access key', call.params.id!);
      await deps.changes.publish({ accountId, kind: 'accessKey', resourceId: call.params.id! });
      return undefined;
    },
  };
}
