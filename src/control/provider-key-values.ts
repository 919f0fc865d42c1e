// Creating a provider key's stored form, shared by POST /provider-keys and by keys written inline in a
// configuration's routing rules: the same value, capacity and provider checks apply to both.
import type { Kysely } from 'kysely';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId, redactSecret } from '../domain/ids.ts';
import { unsendableSecretReason } from '../domain/header-value.ts';
import { providerKeyBinding, type SecretBox } from '../domain/secret-box.ts';
import { isBuiltinProviderId } from '../catalog/providers.ts';
import type { Database } from '../store/schema.ts';
import { countProviderKeys, type ProviderKeyRow } from '../store/provider-keys.ts';
import { customProviderIds } from '../store/providers.ts';
import { mcpServerByLabel } from '../store/mcp-servers.ts';
import { mcpLabelOf } from '../domain/mcp-server.ts';
import { createdStamp } from './audit.ts';

/**
 * At most 50 keys per provider in one account. The contract has a limit (ERR_NGROK_27506) but no number;
 * 50 is far beyond any real failover chain (keys are tried one by one within a request) while keeping
 * the gateway's decrypted in-memory key set per account small.
 */
export const PROVIDER_KEY_LIMIT = 50;

/** The secret with surrounding whitespace removed (pasted keys often carry a newline); empty or unsendable is refused. */
export function requireSecret(value: string | undefined): string {
  const trimmed = (value ?? '').trim();
  if (trimmed === '') throw new TollgateError(Errors.providerKeyValueRequired, { field: 'value' });
  const unsendable = unsendableSecretReason(trimmed);
  if (unsendable) throw new TollgateError(Errors.validationFailed, { reason: `The provider key value ${unsendable}` });
  return trimmed;
}

/**
 * A built-in provider, one of the account's own, or `mcp:<label>` for a registered MCP server's secret. The server
 * must hold the label first: a key for a label no server has would be a deleted server's, which blocks the label.
 */
export async function requireKnownProvider(db: Kysely<Database>, accountId: string, providerId: string): Promise<void> {
  if (isBuiltinProviderId(providerId)) return;
  const label = mcpLabelOf(providerId);
  if (label !== undefined) {
    if (!(await mcpServerByLabel(db, accountId, label))) throw new TollgateError(Errors.providerKeyUnknownProvider, { providerId });
    return;
  }
  if (!(await customProviderIds(db, accountId)).has(providerId)) throw new TollgateError(Errors.providerKeyUnknownProvider, { providerId });
}

/** Refuses when `adding` more keys would take the provider over the limit. */
export async function requireCapacity(db: Kysely<Database>, accountId: string, providerId: string, adding: number): Promise<void> {
  if ((await countProviderKeys(db, accountId, providerId)) + adding > PROVIDER_KEY_LIMIT) {
    throw new TollgateError(Errors.providerKeyLimit, { limit: String(PROVIDER_KEY_LIMIT), providerId });
  }
}

export interface NewProviderKey {
  accountId: string; principalId: string; providerId: string; name: string; value: string;
  description?: string | undefined; metadata?: string | undefined;
  /** AWS settings, a Bedrock key's (and required there). */
  aws?: { region: string } | undefined;
}

/** The provider whose keys carry AWS settings. */
export const BEDROCK_PROVIDER_ID = 'bedrock';

/**
 * The commercial regions where Bedrock takes its API keys (AWS's "Supported Regions … for Amazon Bedrock API keys",
 * without the GovCloud ones): a key's calls go to `bedrock-runtime.<region>.amazonaws.com`, so a name off this list
 * would send the key to a host that is not Bedrock's, or none.
 */
const BEDROCK_REGIONS: ReadonlySet<string> = new Set([
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2',
  'ca-central-1', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2',
  'eu-west-3', 'sa-east-1', 'us-east-1', 'us-west-2',
]);

/**
 * The region stored for a key of `providerId` given AWS settings `aws` (undefined: none given): refused on another
 * provider's key (ngrok's AWS_NOT_ALLOWED) and for a region Bedrock does not run in; a Bedrock key must name one.
 */
export function awsRegionFor(providerId: string, aws: { region: string } | undefined): string | null {
  if (providerId !== BEDROCK_PROVIDER_ID) {
    if (aws !== undefined) throw new TollgateError(Errors.providerKeyAwsNotAllowed, { provider: providerId });
    return null;
  }
  if (aws === undefined) throw new TollgateError(Errors.providerKeyFieldRequired, { field: 'aws.region' });
  if (!BEDROCK_REGIONS.has(aws.region)) throw new TollgateError(Errors.providerKeyAwsRegionNotAllowed, { region: aws.region.slice(0, 32) });
  return aws.region;
}

export function sealedProviderKey(box: SecretBox, key: NewProviderKey): ProviderKeyRow {
  const id = newId('providerKey');
  // Checked before the secret: a Bedrock key written without its region (inline in a configuration's routing rules,
  // which take no AWS settings) is refused for what it lacks.
  const awsRegion = awsRegionFor(key.providerId, key.aws);
  return {
    id, accountId: key.accountId, providerId: key.providerId, name: key.name,
    description: key.description ?? null, metadata: key.metadata ?? null,
    ...resealed(box, key.value, { accountId: key.accountId, providerId: key.providerId, id }), lastUsed: null,
    awsRegion,
    ...createdStamp(key.principalId),
  };
}

/** The columns a rotation rewrites: a new sealed secret and its redaction. */
export function resealed(box: SecretBox, value: string, row: Parameters<typeof providerKeyBinding>[0]): Pick<ProviderKeyRow, 'sealedValue' | 'keyRedacted'> {
  const secret = requireSecret(value);
  return { sealedValue: box.seal(secret, providerKeyBinding(row)), keyRedacted: redactSecret(secret) };
}
