// Creating a provider key's stored form, shared by POST /provider-keys and by keys written inline in a
// configuration's routing rules: the same value, capacity and provider checks apply to both.
import type { Kysely } from 'kysely';
import { Errors, TollgateError } from '../domain/errors.ts';
import { randomBytes } from 'node:crypto';
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
  if (unsendable) throw new TollgateError(Errors.validationFailed, { field: 'value', reason: `The provider key value ${unsendable}` });
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
    if (!(await mcpServerByLabel(db, accountId, label))) throw new TollgateError(Errors.providerKeyUnknownProvider, { providerId, field: 'providerId' });
    return;
  }
  if (!(await customProviderIds(db, accountId)).has(providerId)) throw new TollgateError(Errors.providerKeyUnknownProvider, { providerId, field: 'providerId' });
}

/** Refuses when `adding` more keys would take the provider over the limit. */
export async function requireCapacity(db: Kysely<Database>, accountId: string, providerId: string, adding: number): Promise<void> {
  if ((await countProviderKeys(db, accountId, providerId)) + adding > PROVIDER_KEY_LIMIT) {
    throw new TollgateError(Errors.providerKeyLimit, { limit: String(PROVIDER_KEY_LIMIT), providerId });
  }
}

export interface NewProviderKey {
  /** `value`: absent only on a Bedrock key backed by an IAM role. */
  accountId: string; principalId: string; providerId: string; name: string; value?: string | undefined;
  description?: string | undefined; metadata?: string | undefined;
  /** AWS settings, a Bedrock key's (and required there, with its region). */
  aws?: AwsSettings | undefined;
}

/** A key's AWS settings as written: on create the region is required, on PATCH either may come alone. */
export interface AwsSettings { region?: string | undefined; roleArn?: string | undefined }

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
 * provider's key (ngrok's AWS_NOT_ALLOWED) and for a region Bedrock does not run in; a Bedrock key must name one
 * (`required`: on create; a PATCH may leave it as it is, answered undefined).
 */
export function awsRegionFor(providerId: string, aws: AwsSettings | undefined, required = true): string | null | undefined {
  if (providerId !== BEDROCK_PROVIDER_ID) {
    if (aws !== undefined) throw new TollgateError(Errors.providerKeyAwsNotAllowed, { provider: providerId, field: 'aws' });
    return null;
  }
  const region = aws?.region;
  if (region === undefined) {
    if (required) throw new TollgateError(Errors.providerKeyFieldRequired, { field: 'aws.region' });
    return undefined;
  }
  if (!BEDROCK_REGIONS.has(region)) throw new TollgateError(Errors.providerKeyAwsRegionNotAllowed, { region: region.slice(0, 32), field: 'aws.region' });
  return region;
}

/**
 * The name a role must have (ngrok's rule, kept so a role set up for ngrok works unchanged): the operator can then
 * allow its principal `sts:AssumeRole` on `arn:aws:iam::*:role/ngrok-ai-gateway-*` only, never on another role of a
 * tenant's account. No path: a path would put the name outside that pattern.
 */
const ROLE_NAME_PREFIX = 'ngrok-ai-gateway-';

/** A role ARN as IAM writes it (`arn:aws:iam::<12 digits>:role/<name>`), or refused with what is wrong with it. */
export function requireRoleArn(arn: string): string {
  const invalid = (reason: string): never => { throw new TollgateError(Errors.providerKeyAwsRoleArnInvalid, { reason, field: 'aws.roleArn' }); };
  const parts = arn.split(':');
  // The commercial partition only: Bedrock keys take commercial regions (BEDROCK_REGIONS), whose STS is aws's.
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[1] !== 'aws' || parts[2] !== 'iam' || parts[3] !== '') invalid('it must start with arn:aws:iam:: and have 6 parts');
  if (!/^\d{12}$/.test(parts[4]!)) invalid('the account ID must be 12 digits');
  const resource = parts[5]!;
  if (!resource.startsWith('role/')) invalid('the resource must be role/<name>');
  const path = resource.slice('role/'.length);
  const name = path.slice(path.lastIndexOf('/') + 1);
  // IAM's own rule for a role name: 1 to 64 of letters, digits and + = , . @ _ -.
  if (!/^[\w+=,.@-]{1,64}$/.test(name)) invalid('the role name must be 1 to 64 letters, digits or +=,.@_-');
  if (path !== name || !name.startsWith(ROLE_NAME_PREFIX)) throw new TollgateError(Errors.providerKeyAwsRoleNameNotAllowed, { field: 'aws.roleArn' });
  return arn;
}

/** 32 characters of [a-z0-9]: a role's trust policy names it in `sts:ExternalId` (AWS allows 2 to 1,224 of [\w+=,.@:/-]). */
function newExternalId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  // 36 does not divide 256: bytes from 252 up are drawn again, so every character is equally likely.
  while (id.length < 32) for (const b of randomBytes(48)) if (b < 252 && id.length < 32) id += alphabet[b % 36];
  return id;
}

export function sealedProviderKey(box: SecretBox, key: NewProviderKey): ProviderKeyRow {
  const id = newId('providerKey');
  // Checked before the secret: a Bedrock key written without its region (inline in a configuration's routing rules,
  // which take no AWS settings) is refused for what it lacks.
  const awsRegion = awsRegionFor(key.providerId, key.aws) ?? null;
  const roleArn = key.aws?.roleArn;
  if (key.value !== undefined && roleArn !== undefined) throw new TollgateError(Errors.providerKeyValueAndRoleConflict, { field: 'aws.roleArn' });
  // A Bedrock key without a value is backed by an IAM role: its external ID is made now, for the user to put in the
  // role's trust policy; the role itself may follow by PATCH once it exists.
  const role = key.providerId === BEDROCK_PROVIDER_ID && key.value === undefined;
  return {
    id, accountId: key.accountId, providerId: key.providerId, name: key.name,
    description: key.description ?? null, metadata: key.metadata ?? null,
    ...(role ? { sealedValue: '', keyRedacted: '' } : resealed(box, key.value ?? '', { accountId: key.accountId, providerId: key.providerId, id })),
    lastUsed: null,
    awsRegion,
    awsExternalId: role ? newExternalId() : null,
    awsRoleArn: role && roleArn !== undefined ? requireRoleArn(roleArn) : null,
    ...createdStamp(key.principalId),
  };
}

/** The columns a rotation rewrites: a new sealed secret and its redaction. */
export function resealed(box: SecretBox, value: string, row: Parameters<typeof providerKeyBinding>[0]): Pick<ProviderKeyRow, 'sealedValue' | 'keyRedacted'> {
  const secret = requireSecret(value);
  return { sealedValue: box.seal(secret, providerKeyBinding(row)), keyRedacted: redactSecret(secret) };
}
