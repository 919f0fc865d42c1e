// Provider-key values are sealed with AES-256-GCM under the operator's master key. The stored form is
// `v2:<base64 iv|tag|ciphertext>`, authenticated together with the row it belongs to (account, provider and key
// id, as GCM's additional data): a sealed value copied into another row (another account's key), or its row
// pointed at another provider (one whose base URL the writer controls), by anyone who can write the table but
// does not hold the master key, no longer opens. `v1:` values (sealed before the binding) still open, unbound;
// `v2:` values of the builds that bound them to account and key id only (see openProviderKey) open bound to those;
// any write of the value (rotation of the key or of the master key) binds it to the whole row.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The row a provider key's sealed value is bound to: whose it is, where it is sent, which key it is. */
export function providerKeyBinding(row: { accountId: string; providerId: string; id: string }): string {
  return `tollgate provider key ${row.accountId} ${row.providerId} ${row.id}`;
}

/**
 * The binding of the `v2:` values sealed by the builds of 2026-12-03 07:23–08:03 UTC (before the provider was
 * bound too): the same version, so only trying it tells them apart.
 */
function accountAndIdBinding(row: { accountId: string; id: string }): string {
  return `tollgate provider key ${row.accountId} ${row.id}`;
}

/**
 * A provider key's value, opened for its row. A value sealed without the provider (accountAndIdBinding) still
 * opens, as `v1:` values do, rather than leave an upgraded gateway without keys it used the minute before. Only
 * for ids without a space: `<account> <provider> <id>` could otherwise be spelt by a row whose id is
 * `<provider> <id>`, and every whole-row value would open pointed at any provider.
 */
export function openProviderKey(box: SecretBox, sealed: string, row: { accountId: string; providerId: string; id: string }): string {
  try {
    return box.open(sealed, providerKeyBinding(row));
  } catch (error) {
    if (!sealed.startsWith('v2:') || row.accountId.includes(' ') || row.id.includes(' ')) throw error;
    try {
      return box.open(sealed, accountAndIdBinding(row));
    } catch {
      throw error;
    }
  }
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the master key must be exactly 32 bytes');
    this.#key = key;
  }

  /** Seals `plaintext` bound to `binding` (see providerKeyBinding): it opens only with the same binding. */
  seal(plaintext: string, binding: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v2:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
  }

  /** Throws when the value was sealed under another master key, for another binding, or was altered. */
  open(sealed: string, binding: string): string {
    const version = sealed.slice(0, 3);
    if (version !== 'v1:' && version !== 'v2:') throw new Error('unknown sealed secret version');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    // The tag length pinned: GCM would otherwise accept a truncated (forgeable) tag.
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12), { authTagLength: 16 });
    if (version === 'v2:') decipher.setAAD(Buffer.from(binding, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

/** Parses `TOLLGATE_SECRET_KEY`: 64 hex characters or base64 of exactly 32 bytes; anything else is refused. */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const buf = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
    if (buf.length === 32) return buf;
  }
  throw new Error('TOLLGATE_SECRET_KEY must be 32 bytes given as 64 hex characters or base64');
}
