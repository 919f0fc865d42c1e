// A provider-key value as Tollgate sealed it before values were bound to their row (`v1:`: AES-256-GCM, no
// additional data), for tests of what still opens and what a rotation upgrades.
import { createCipheriv, randomBytes } from 'node:crypto';

export function legacySeal(masterKey: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}

/**
 * A provider-key value as the builds of 2026-12-03 07:23–08:03 UTC sealed it: `v2:`, bound to its account and key id
 * but not yet to its provider (additional data `tollgate provider key <account> <id>`).
 */
export function accountAndIdSeal(masterKey: Buffer, plaintext: string, row: { accountId: string; id: string }): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(`tollgate provider key ${row.accountId} ${row.id}`, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v2:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}
