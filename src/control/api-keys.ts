// /api-keys: the credentials for this management API. Create shows the token once; a key may delete
// itself (the next call with it answers 401), so an operator can rotate by creating a new key first.
import type { components } from './spec-types.ts';
import { newApiKeyToken, newId } from '../domain/ids.ts';
import * as repo from '../store/api-keys.ts';
import { deleteTokenKey, updateTokenKey } from '../store/token-keys.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { listEnvelope, notFound } from './resource.ts';
import { newTokenKeyRow, tokenKeyFields, tokenKeyPatch } from './token-keys.ts';

type ApiKey = components['schemas']['AIGatewayAPIKey'];
type ApiKeyCreate = components['schemas']['AIGatewayAPIKeyCreate'];
type ApiKeyUpdate = components['schemas']['AIGatewayAPIKeyUpdate'];

const view = (base: string, row: repo.ApiKeyRow, token?: string): ApiKey => tokenKeyFields(base, '/api-keys', row, token);

export function apiKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  /**
   * `write` and its change in one transaction, as every other resource's: a write that fails to be announced is
   * not made (before, the key was stored and the call answered 500, a created key's token never shown).
   */
  const announced = async <T>(accountId: string, id: string, write: (trx: Kysely<Database>) => Promise<T>): Promise<T> => {
    const [result, tell] = await db.transaction().execute(async (trx) => [await write(trx), await deps.changes.recordAll(trx, [{ accountId, kind: 'apiKey', resourceId: id }])] as const);
    tell();
    return result;
  };
  const load = async (call: Call): Promise<repo.ApiKeyRow> => {
    const row = await repo.getApiKey(db, call.principal.accountId, call.params.id!);
    if (!row) throw notFound('API key', call.params.id!);
    return row;
  };
  return {
    async ListAIGatewayAPIKeys(call: Call) {
      const page = await repo.listApiKeys(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number });
      return listEnvelope(call, 'aiGatewayApiKeys', page, page.items.map((r) => view(call.base, r)));
    },
    async CreateAIGatewayAPIKey(call: Call) {
      const token = newApiKeyToken();
      const row = newTokenKeyRow(call.principal, newId('apiKey'), token, call.body as ApiKeyCreate);
      await announced(row.accountId, row.id, (trx) => repo.insertApiKey(trx, row));
      return view(call.base, row, token);
    },
    async GetAIGatewayAPIKey(call: Call) {
      return view(call.base, await load(call));
    },
    async UpdateAIGatewayAPIKey(call: Call) {
      const { id } = await load(call);
      await announced(call.principal.accountId, id, (trx) => updateTokenKey(trx, 'apiKeys', call.principal.accountId, id, tokenKeyPatch(call.principal, call.body as ApiKeyUpdate)));
      return view(call.base, await load(call));
    },
    async DeleteAIGatewayAPIKey(call: Call) {
      const id = call.params.id!;
      // A key that was not there is not announced: the transaction rolls back with the 404.
      await announced(call.principal.accountId, id, async (trx) => {
        if (!(await deleteTokenKey(trx, 'apiKeys', call.principal.accountId, id))) throw notFound('API key', id);
      });
      return undefined;
    },
  };
}
