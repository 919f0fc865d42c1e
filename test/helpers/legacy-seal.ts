// A provider-key value as Tollgate sealed it before values were bound to their row (`v1:`: AES-256-GCM, no
// additional data), for tests of what still opens and what a rotation upgrades.
import { createCipheriv, randomBytes } from 'node:crypto';

export function legacySeal(masterKey: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}
