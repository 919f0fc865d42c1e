// What a stored provider key authenticates with, as one comparable value: whether a key read again is the same key to
// its provider. Rotation keeps a key's id, so the id alone cannot tell (key-cooldown.ts: limits a key met belong to
// its old credential; bedrock-role.ts: credentials assumed for an old role are not the key's any more).
import type { ProviderKeyState } from '../state/types.ts';

/** Its secret; for a Bedrock role key (no secret), the role, external ID and region its credentials are assumed for. */
export function credentialOf(key: ProviderKeyState): string {
  const role = key.awsRole;
  return role === undefined ? key.value : `${role.roleArn ?? ''} ${role.externalId} ${key.awsRegion ?? ''}`;
}
