// /providers: the account's own (custom) upstreams with their surfaces and models. The providerId slug
// never changes after creation; deleting is refused while keys or configurations still refer to it.
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import * as repo from '../store/providers.ts';
import { configurationRules } from '../store/configurations.ts';
import { providerKeyIdsFor } from '../store/provider-keys.ts';
import { countOwned } from '../store/owned.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, patchFields, requireName } from './resource.ts';
import { auditedView, createdStamp } from './audit.ts';
import { ownedResource } from './owned-resource.ts';
import { checkBaseUrl, checkProviderSlug, checkSurfaces, nextModels } from './provider-rules.ts';
import { configurationsUsingProvider, describeUsers } from './references.ts';

type Provider = components['schemas']['AIGatewayProvider'];
type ProviderCreate = components['schemas']['AIGatewayProviderCreate'];
type ProviderUpdate = components['schemas']['AIGatewayProviderUpdate'];
type Surface = components['schemas']['SupportedAPISurface'];
type Model = components['schemas']['AIGatewayProviderModel'];

/**
 * Custom providers per account. Each, up to a megabyte of models, is held in every gateway's memory and read again on
 * each change of the account: without a limit one tenant filled the gateways' heap (a megabyte a provider, measured).
 * As many as virtual models and Firewall policies.
 */
export const PROVIDER_LIMIT = 100;

function surfacesOf(row: repo.ProviderRow): Surface[] | undefined {
  return row.supportedApiSurfaces === null ? undefined : JSON.parse(row.supportedApiSurfaces) as Surface[];
}

function modelsOf(row: repo.ProviderRow): Model[] {
  // Models stored before unsupportedParams existed have none.
  return (JSON.parse(row.models) as Model[]).map((m) => (m.unsupportedParams ? m : { ...m, unsupportedParams: [] }));
}

export function providerView(base: string, row: repo.ProviderRow): Provider {
  return compact({
    ...auditedView(base, '/providers', row),
    providerId: row.providerId,
    name: row.name,
    baseUrl: row.baseUrl,
    metadata: row.metadata ?? undefined,
    supportedApiSurfaces: surfacesOf(row),
    models: modelsOf(row),
  });
}

export function providerHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  const allowPrivate = deps.config.allowPrivateUpstreams;

  const providers = ownedResource(deps, 'providers', 'provider', 'Provider');

  return {
    async ListAIGatewayProviders(call: Call) {
      const page = await repo.listProviders(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number });
      return listEnvelope(call, 'aiGatewayProviders', page, page.items.map((r) => providerView(call.base, r)));
    },
    async CreateAIGatewayProvider(call: Call) {
      const body = call.body as ProviderCreate;
      requireName(body.name, Errors.providerFieldRequired);
      const { accountId, apiKeyId } = call.principal;
      checkProviderSlug(body.providerId);
      checkBaseUrl(body.baseUrl, allowPrivate);
      if (body.supportedApiSurfaces) checkSurfaces(body.supportedApiSurfaces, allowPrivate);
      const models = nextModels(body.models ?? []);
      const row: repo.ProviderRow = {
        id: newId('provider'), accountId, providerId: body.providerId, name: body.name, baseUrl: body.baseUrl,
        metadata: body.metadata ?? null,
        supportedApiSurfaces: body.supportedApiSurfaces === undefined ? null : JSON.stringify(body.supportedApiSurfaces),
        models: JSON.stringify(models),
        ...createdStamp(apiKeyId),
      };
      // Locked: of two creates of one slug the second sees the first (409, not a unique-index 500).
      await providers.insert(call, row, async (trx) => {
        if (await repo.providerSlugTaken(trx, accountId, body.providerId)) throw new TollgateError(Errors.providerIdTaken, { providerId: body.providerId, field: 'providerId' });
        if (await countOwned(trx, 'providers', accountId) >= PROVIDER_LIMIT) throw new TollgateError(Errors.providerLimitExceeded, { limit: String(PROVIDER_LIMIT) });
      });
      return providerView(call.base, row);
    },
    async GetAIGatewayProvider(call: Call) {
      return providerView(call.base, await providers.existing(call));
    },
    async UpdateAIGatewayProvider(call: Call) {
      const row = await providers.existing(call);
      const { name, baseUrl, metadata, supportedApiSurfaces, models } = patchFields<ProviderUpdate>(call.body as Record<string, unknown>, ['name', 'baseUrl', 'metadata', 'supportedApiSurfaces', 'models']);
      requireName(name, Errors.providerFieldRequired);
      if (baseUrl !== undefined) checkBaseUrl(baseUrl, allowPrivate);
      if (supportedApiSurfaces) checkSurfaces(supportedApiSurfaces, allowPrivate);
      return providerView(call.base, await providers.update(call, row.id, {
        ...(name !== undefined ? { name } : {}),
        ...(baseUrl !== undefined ? { baseUrl } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
        ...(supportedApiSurfaces !== undefined ? { supportedApiSurfaces: supportedApiSurfaces === null ? null : JSON.stringify(supportedApiSurfaces) } : {}),
        ...(models !== undefined ? { models: JSON.stringify(nextModels(models ?? [], modelsOf(row))) } : {}),
      }));
    },
    async DeleteAIGatewayProvider(call: Call) {
      const { accountId } = call.principal;
      // Locked: a key or configuration for this provider written meanwhile either lands first (409 here) or
      // finds the provider gone, never a reference to a deleted provider.
      await providers.remove(call, async (trx, row) => {
        const keys = await providerKeyIdsFor(trx, accountId, row.providerId);
        const configurations = configurationsUsingProvider(await configurationRules(trx, accountId), row);
        const usedBy = [
          ...(keys.length > 0 ? [describeUsers('provider key', keys)] : []),
          ...(configurations.length > 0 ? [describeUsers('access key configuration', configurations)] : []),
        ];
        if (usedBy.length > 0) throw new TollgateError(Errors.providerInUse, { providerId: row.providerId, usedBy: usedBy.join(' and ') });
      });
      return undefined;
    },
  };
}
