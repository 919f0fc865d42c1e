// /access-keys: create (token shown once), list, get, update (tri-state, link/unlink a configuration), delete.
import type { components } from './spec-types.ts';
import { newAccessKeyToken, newId } from '../domain/ids.ts';
import type { Kysely } from 'kysely';
import * as repo from '../store/access-keys.ts';
import { lockConfiguration } from '../store/configurations.ts';
import type { Database } from '../store/schema.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { listEnvelope, notFound } from './resource.ts';
import { newTokenKeyRow, tokenKeyFields, tokenKeyPatch } from './token-keys.ts';

type AccessKey = components['schemas']['AIGatewayAccessKey'];
type AccessKeyCreate = components['schemas']['AIGatewayAccessKeyCreate'];
type AccessKeyUpdate = components['schemas']['AIGatewayAccessKeyUpdate'];

export function accessKeyView(base: string, row: repo.AccessKeyRow, token?: string): AccessKey {
  return {
    ...tokenKeyFields(base, '/access-keys', row, token),
    accessKeyConfiguration: row.configurationId
      ? { id: row.configurationId, uri: `${base}/access-key-configurations/${row.configurationId}`, name: row.configurationName ?? '' }
      : null,
  };
}

/**
 * Runs `write` with the linked configuration (if any) locked against deletion (404 for it when it is gone) and
 * records the key's change in the same transaction: a revocation committed is a revocation every gateway hears of,
 * even if this process dies right after the commit.
 */
async function announcedWrite(deps: ControlDeps, accountId: string, keyId: string, configurationId: string | null | undefined, write: (trx: Kysely<Database>) => Promise<void>): Promise<void> {
  const announce = await deps.store.db.transaction().execute(async (trx) => {
    if (typeof configurationId === 'string' && !(await lockConfiguration(trx, deps.store.dialect, accountId, configurationId, 'share'))) throw notFound('Access key configuration', configurationId, 'accessKeyConfigurationId');
    await write(trx);
    return deps.changes.recordAll(trx, [{ accountId, kind: 'accessKey', resourceId: keyId }]);
  });
  announce();
}

export function accessKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  /** The key as stored now, or a 404 (also when a DELETE committed since an earlier read: never a 500). */
  const existingAccessKey = async (accountId: string, id: string): Promise<repo.AccessKeyRow> => {
    const row = await repo.getAccessKey(db, accountId, id);
    if (!row) throw notFound('Access key', id);
    return row;
  };
  return {
    async ListAIGatewayAccessKeys(call: Call) {
      const q = call.query as { beforeId?: string; limit?: number; accessKeyConfigurationId?: string };
      const page = await repo.listAccessKeys(db, call.principal.accountId, { beforeId: q.beforeId, limit: q.limit, configurationId: q.accessKeyConfigurationId });
      return listEnvelope(call, 'aiGatewayAccessKeys', page, page.items.map((r) => accessKeyView(call.base, r)));
    },
    async CreateAIGatewayAccessKey(call: Call) {
      const body = call.body as AccessKeyCreate;
      const { accountId } = call.principal;
      const token = newAccessKeyToken();
      const id = newId('accessKey');
      await announcedWrite(deps, accountId, id, body.accessKeyConfigurationId, (trx) =>
        repo.insertAccessKey(trx, { ...newTokenKeyRow(call.principal, id, token, body), configurationId: body.accessKeyConfigurationId ?? null }));
      return accessKeyView(call.base, await existingAccessKey(accountId, id), token);
    },
    async GetAIGatewayAccessKey(call: Call) {
      return accessKeyView(call.base, await existingAccessKey(call.principal.accountId, call.params.id!));
    },
    async UpdateAIGatewayAccessKey(call: Call) {
      const { accountId } = call.principal;
      const id = call.params.id!;
      const body = call.body as AccessKeyUpdate;
      await existingAccessKey(accountId, id);
      await announcedWrite(deps, accountId, id, body.accessKeyConfigurationId, async (trx) => {
        // Deleted since the check above (PostgreSQL serves the two at once): a 404, not a 500.
        const updated = await repo.updateAccessKey(trx, accountId, id, {
          ...tokenKeyPatch(call.principal, body),
          ...(body.accessKeyConfigurationId !== undefined ? { configurationId: body.accessKeyConfigurationId } : {}),
        });
        if (!updated) throw notFound('Access key', id);
      });
      return accessKeyView(call.base, await existingAccessKey(accountId, id));
    },
    async DeleteAIGatewayAccessKey(call: Call) {
      const { accountId } = call.principal;
      const id = call.params.id!;
      await announcedWrite(deps, accountId, id, undefined, async (trx) => {
        if (!(await repo.deleteAccessKey(trx, accountId, id))) throw notFound('Access key', id);
      });
      return undefined;
    },
  };
}
