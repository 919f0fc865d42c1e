// GET /v1/models: every model id the account can send, in the unambiguous `provider:model` form (the same
// string the gateway accepts as a model address): the built-in catalog plus each user-defined provider's
// models. `created` is 0: the catalog has no per-model creation time and inventing one would mislead.
import type { components } from './spec-types.ts';
import { builtinProviders } from '../catalog/providers.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';

type Model = components['schemas']['AIGatewayModel'];

function model(providerId: string, modelId: string): Model {
  return { id: `${providerId}:${modelId}`, object: 'model', created: 0, owned_by: providerId };
}

function storedModelIds(json: string): string[] {
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((m: unknown) => (m !== null && typeof m === 'object' && typeof (m as { modelId?: unknown }).modelId === 'string' ? [(m as { modelId: string }).modelId] : []));
}

export function modelHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  return {
    async ListAIGatewayModels(call: Call) {
      const data = builtinProviders.flatMap((p) => p.models.map((m) => model(p.id, m.id)));
      const custom = await db.selectFrom('providers').select(['providerId', 'models'])
        .where('accountId', '=', call.principal.accountId).orderBy('providerId').execute();
      for (const p of custom) for (const id of storedModelIds(p.models)) data.push(model(p.providerId, id));
      return { object: 'list', data };
    },
  };
}
