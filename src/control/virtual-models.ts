// /virtual-models: names an account chooses for an ordered list of models (ngrok's virtual models). A name is unique
// per account whatever its case and is never a model's name; targets are 1–10 distinct model addresses a request
// could use, none a virtual model, `ngrok/auto` only alone. Checks and writes run under the account's lock, so two
// writes cannot both take a name or pass the count limit.
import type { Kysely } from 'kysely';
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { AUTO_MODEL } from '../domain/auto-select.ts';
import { isModelAddress } from '../domain/resolve.ts';
import { createCatalog, type Catalog } from '../catalog/index.ts';
import { customProviderState } from '../state/custom-provider.ts';
import type { CustomProviderState } from '../state/types.ts';
import type { Database } from '../store/schema.ts';
import * as repo from '../store/virtual-models.ts';
import { countOwned } from '../store/owned.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, patchFields } from './resource.ts';
import { auditedView, createdStamp } from './audit.ts';
import { ownedResource } from './owned-resource.ts';

type VirtualModel = components['schemas']['AIGatewayVirtualModel'];
type VirtualModelCreate = components['schemas']['AIGatewayVirtualModelCreate'];
type VirtualModelUpdate = components['schemas']['AIGatewayVirtualModelUpdate'];

const COLLECTION = '/virtual-models';
const LABEL = 'Virtual model';

/** Virtual models per account: ngrok has a limit (…_LIMIT_EXCEEDED) but does not publish it. */
export const VIRTUAL_MODEL_LIMIT = 100;

function view(base: string, row: repo.VirtualModelRow): VirtualModel {
  return compact({
    ...auditedView(base, COLLECTION, row),
    name: row.name,
    description: row.description ?? undefined,
    targets: repo.targetsOf(row),
  });
}

async function ownProviders(db: Kysely<Database>, accountId: string): Promise<Map<string, CustomProviderState>> {
  const rows = await db.selectFrom('providers').select(['id', 'providerId', 'name', 'baseUrl', 'supportedApiSurfaces', 'models'])
    .where('accountId', '=', accountId).execute();
  return new Map(rows.map((row) => [row.providerId, customProviderState(row)]));
}

/** A model's name, the catalog's or one of the account's own providers' (a virtual model cannot take it). */
function isModelName(name: string, catalog: Catalog, customProviders: ReadonlyMap<string, CustomProviderState>): boolean {
  const lower = name.toLowerCase();
  return catalog.findModel(name) !== undefined || [...customProviders.values()].some((p) => p.models.some((m) => m.toLowerCase() === lower));
}

/** The checks of a name and targets being written; `self` is the virtual model being updated. */
async function checkWrite(trx: Kysely<Database>, catalog: Catalog, accountId: string, write: { name?: string; targets?: readonly string[] }, self?: string): Promise<void> {
  const all = await repo.virtualModelNames(trx, accountId);
  const others = all.filter((v) => v.id !== self);
  const customProviders = await ownProviders(trx, accountId);
  if (write.name !== undefined) {
    if (isModelName(write.name, catalog, customProviders)) throw new TollgateError(Errors.virtualModelNameConflict, { name: write.name, field: 'name' });
    if (others.some((v) => v.nameKey === repo.nameKey(write.name!))) throw new TollgateError(Errors.virtualModelNameExists, { name: write.name, field: 'name' });
  }
  if (write.targets === undefined) return;
  const seen = new Set<string>();
  write.targets.forEach((target, i) => {
    const key = target.toLowerCase();
    if (seen.has(key)) throw new TollgateError(Errors.virtualModelTargetDuplicated, { target, field: `targets.${i}` });
    seen.add(key);
  });
  if (write.targets.length > 1 && seen.has(AUTO_MODEL)) throw new TollgateError(Errors.virtualModelTargetAutoMixed, { field: 'targets' });
  // Its own names too, the stored one and one being written: it would point at itself.
  const virtualKeys = new Set([...all.map((v) => v.nameKey), ...(write.name !== undefined ? [repo.nameKey(write.name)] : [])]);
  write.targets.forEach((target, i) => {
    if (virtualKeys.has(target.toLowerCase())) throw new TollgateError(Errors.virtualModelTargetNesting, { target, field: `targets.${i}` });
    if (target.toLowerCase() !== AUTO_MODEL && !isModelAddress(target, catalog, { customProviders })) throw new TollgateError(Errors.virtualModelTargetNotFound, { target, field: `targets.${i}` });
  });
}

export function virtualModelHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  const catalog = createCatalog(deps.config.providerBaseUrls);
  const virtualModels = ownedResource(deps, 'virtualModels', 'virtualModel', LABEL);

  return {
    async ListAIGatewayVirtualModels(call: Call) {
      const page = await repo.listVirtualModels(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number });
      return listEnvelope(call, 'aiGatewayVirtualModels', page, page.items.map((r) => view(call.base, r)));
    },
    async CreateAIGatewayVirtualModel(call: Call) {
      const body = call.body as VirtualModelCreate;
      const { accountId, apiKeyId } = call.principal;
      const row: repo.VirtualModelRow = {
        id: newId('virtualModel'), accountId, name: body.name, nameKey: repo.nameKey(body.name), description: body.description ?? null,
        targets: JSON.stringify(body.targets), ...createdStamp(apiKeyId),
      };
      await virtualModels.insert(call, row, async (trx) => {
        if (await countOwned(trx, 'virtualModels', accountId) >= VIRTUAL_MODEL_LIMIT) throw new TollgateError(Errors.virtualModelLimitExceeded, { limit: String(VIRTUAL_MODEL_LIMIT) });
        await checkWrite(trx, catalog, accountId, body);
      });
      return view(call.base, row);
    },
    async GetAIGatewayVirtualModel(call: Call) {
      return view(call.base, await virtualModels.existing(call));
    },
    async UpdateAIGatewayVirtualModel(call: Call) {
      const { accountId } = call.principal;
      const id = call.params.id!;
      const { name, description, targets } = patchFields<VirtualModelUpdate>(call.body as Record<string, unknown>, ['name', 'description', 'targets']);
      // Nullable in the update schema as ngrok's other resources are, but a virtual model is its name and its list.
      if (name === null) throw new TollgateError(Errors.virtualModelNameRequired, { field: 'name' });
      if (targets === null) throw new TollgateError(Errors.virtualModelTargetsOutOfRange, { field: 'targets', min: '1', max: '10', count: '0' });
      const row = await virtualModels.update(call, id, {
        ...(name !== undefined ? { name, nameKey: repo.nameKey(name) } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(targets !== undefined ? { targets: JSON.stringify(targets) } : {}),
      }, (trx) => checkWrite(trx, catalog, accountId, { ...(name !== undefined ? { name } : {}), ...(targets !== undefined ? { targets } : {}) }, id));
      return view(call.base, row);
    },
    async DeleteAIGatewayVirtualModel(call: Call) {
      // Nothing refers to a virtual model by name in stored state (allow lists refuse them, routing rules name
      // provider-pinned models): a delete is never refused; requests naming it then get the unknown-model answer.
      await virtualModels.remove(call);
      return undefined;
    },
  };
}
