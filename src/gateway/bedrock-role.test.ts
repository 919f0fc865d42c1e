import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BedrockRoles } from './bedrock-role.ts';
import type { ProviderKeyState } from '../state/types.ts';

/** A role key without its role yet: signing fails before any AWS call, and leaves the key's entry behind. */
const key = (id: string, awsRegion = 'us-east-1'): ProviderKeyState => ({ id, providerId: 'bedrock', name: id, keyRedacted: '', value: '', awsRegion, awsRole: { externalId: `ext-${id}` } });
const byId = (...keys: ProviderKeyState[]) => new Map(keys.map((k) => [k.id, k]));

test('an account reloaded drops what was held for its role keys that were deleted or changed, and nothing else', async () => {
  const roles = new BedrockRoles();
  const [kept, deleted, moved, elsewhere] = [key('aigpk_kept'), key('aigpk_deleted'), key('aigpk_moved'), key('aigpk_other_account')];
  for (const k of [kept, deleted, moved, elsewhere]) await assert.rejects(roles.sign(k, 'https://bedrock-runtime.us-east-1.amazonaws.com', { path: '/', headers: {}, body: Buffer.alloc(0) }));
  assert.equal(roles.size, 4);
  // The account's snapshot read again: one key gone, one moved to another region; then the last turned into a plain key.
  roles.prune(byId(kept, deleted, moved), byId({ ...kept }, key('aigpk_moved', 'eu-west-1')));
  assert.equal(roles.size, 2, 'the deleted and the moved key\'s entries went; the unchanged key and another account\'s stay');
  const plain: ProviderKeyState = { ...key('aigpk_kept'), value: 'ABSK…' };
  delete plain.awsRole;
  roles.prune(byId(kept), byId(plain));
  assert.equal(roles.size, 1);
  await roles.close();
});
