// /provider-keys: upstream credentials. The value is write-only: sealed on the way in, shown only as
// `keyRedacted`, replaced through rotate (which keeps the id, so routing rules keep pointing at it).
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import * as repo from '../store/provider-keys.ts';
import { configurationRules } from '../store/configurations.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, patchFields, requireName } from './resource.ts';
import { auditedView } from './audit.ts';
import { ownedResource } from './owned-resource.ts';
import { awsRegionFor, requireCapacity, requireKnownProvider, requireRoleArn, resealed, sealedProviderKey, type AwsSettings } from './provider-key-values.ts';
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
    aws: row.awsRegion === null ? undefined : compact({
      region: row.awsRegion, externalId: row.awsExternalId ?? undefined, roleArn: row.awsRoleArn ?? undefined,
    }),
  });
}

/** The columns a PATCH's `aws` rewrites: the region, and the role of a key backed by one (an API key's is refused). */
function awsUpdate(key: repo.ProviderKeyRow, aws: AwsSettings): Partial<Pick<repo.ProviderKeyRow, 'awsRegion' | 'awsRoleArn'>> {
  const region = awsRegionFor(key.providerId, aws, false);
  const fields: Partial<Pick<repo.ProviderKeyRow, 'awsRegion' | 'awsRoleArn'>> = region === undefined ? {} : { awsRegion: region };
  if (aws.roleArn !== undefined) {
    if (key.awsExternalId === null) throw new TollgateError(Errors.providerKeyAwsRoleArnNotAllowed, { id: key.id, field: 'aws.roleArn' });
    fields.awsRoleArn = requireRoleArn(aws.roleArn);
  }
  return fields;
}

export function providerKeyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;

  const keys = ownedResource(deps, 'providerKeys', 'providerKey', 'Provider key');

  return {
    async ListAIGatewayProviderAPIKeys(call: Call) {
      const page = await repo.listProviderKeys(db, call.principal.accountId, call.query as { beforeId?: string; limit?: number; provider?: string });
      return listEnvelope(call, 'aiGatewayProviderKeys', page, page.items.map((r) => providerKeyView(call.base, r)));
    },
    async CreateAIGatewayProviderAPIKey(call: Call) {
      const body = call.body as ProviderKeyCreate;
      requireName(body.name, Errors.providerKeyFieldRequired);
      const { accountId, apiKeyId } = call.principal;
      const row = sealedProviderKey(deps.secretBox, { accountId, principalId: apiKeyId, ...body });
      // Locked against a concurrent delete of its custom provider, and against other creates past the limit.
      await keys.insert(call, row, async (trx) => {
        await requireKnownProvider(trx, accountId, body.providerId);
        await requireCapacity(trx, accountId, body.providerId, 1);
      });
      return providerKeyView(call.base, row);
    },
    async GetAIGatewayProviderAPIKey(call: Call) {
      return providerKeyView(call.base, await keys.existing(call));
    },
    async UpdateAIGatewayProviderAPIKey(call: Call) {
      const { name, ...text } = patchFields<ProviderKeyUpdate>(call.body as Record<string, unknown>, ['name', 'description', 'metadata']);
      requireName(name, Errors.providerKeyFieldRequired);
      // A Bedrock key moves to another region by PATCH (its secret stays), and a role key takes its role once the role
      // exists; AWS settings on another key are refused.
      const { aws } = call.body as ProviderKeyUpdate;
      const awsFields = aws === undefined ? {} : awsUpdate(await keys.existing(call), aws);
      return providerKeyView(call.base, await keys.update(call, call.params.id!, { ...text, ...awsFields, ...(name !== undefined ? { name } : {}) }));
    },
    async RotateAIGatewayProviderAPIKey(call: Call) {
      const body = call.body as ProviderKeyRotate;
      requireName(body.name, Errors.providerKeyFieldRequired);
      // The provider is part of what the new value is bound to (a key never changes provider).
      const key = await keys.existing(call);
      if (key.awsExternalId !== null) throw new TollgateError(Errors.providerKeyRoleRotateNotAllowed, { id: key.id });
      return providerKeyView(call.base, await keys.update(call, key.id, { name: body.name, ...resealed(deps.secretBox, body.value, key) }));
    },
    async DeleteAIGatewayProviderAPIKey(call: Call) {
      const { accountId } = call.principal;
      // Locked: a configuration naming this key written meanwhile either lands first (409 here) or finds the
      // key gone (400 there), never a routing step pointing at a deleted key.
      await keys.remove(call, async (trx, key) => {
        const users = configurationsUsingKey(await configurationRules(trx, accountId), key.id);
        if (users.length > 0) throw new TollgateError(Errors.providerKeyInUse, { id: key.id, configurationId: users.join(', ') });
      });
      return undefined;
    },
  };
}
