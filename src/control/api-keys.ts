// /api-keys: the credentials for this management API. Create shows the token once; a key may delete
// itself (the next call with it answers 401), so an operator can rotate by creating a new key first.
import type { components } from './spec-types.ts';
import { newApiKeyToken, newId } from '../domain/ids.ts';
import * as repo from '../store/api-keys.ts';
import { deleteTokenKey, updateTokenKey } from '../store/token-keys.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { listEnvelope, notFound } from './resource.ts';
import { newTokenKeyRow, tokenKeyFields, tokenKeyPatch } from './token-keys.ts';

type ApiKey = components['schemas']['AIGatewayAPIKey'];
type ApiKeyCreate = components['schemas']['AIGatewayAPIKeyCreate'];
type ApiKeyUpdate = components['schemas']['AIGatewayAPIKeyUpdate'];

const view = (base: string, row: repo.ApiKeyRow, token?: string): ApiKey => tokenKeyFields(base, '/api-keys', row, token);

export function apiKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
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
      await repo.insertApiKey(db, row);
      await deps.changes.publish({ accountId: row.accountId, kind: 'apiKey', resourceId: row.id });
      return view(call.base, row, token);
    },
    async GetAIGatewayAPIKey(call: Call) {
      return view(call.base, await load(call));
    },
    async UpdateAIGatewayAPIKey(call: Call) {
      const { id } = await load(call);
      await updateTokenKey(db, 'apiKeys', call.principal.accountId, id, tokenKeyPatch(call.principal, call.body as ApiKeyUpdate));
      await deps.changes.publish({ accountId: call.principal.accountId, kind: 'apiKey', resourceId: id });
      return view(call.base, await load(call));
    },
    async DeleteAIGatewayAPIKey(call: Call) {
      const id = call.params.id!;
      if (!(await deleteTokenKey(db, 'apiKeys', call.principal.accountId, id))) throw notFound('API key', id);
      await deps.changes.publish({ accountId: call.principal.accountId, kind: 'apiKey', resourceId: id });
      return undefined;
    },
  };
}
