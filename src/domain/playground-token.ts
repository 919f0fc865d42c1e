// The console Playground's short-lived stand-in for an access key. Access keys' tokens are stored only as hashes,
// so the console cannot send one; the control plane instead signs {account, access key, expiry} and the gateway
// takes that wherever it takes an access key, as that key's request. HMAC-SHA256 under a key derived from the master
// key with a label of its own (never the encryption key itself), so every node sharing TOLLGATE_SECRET_KEY checks it
// and rotating the master key ends the tokens minted under the old one.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Recognised by this prefix alone: an access key's lookup costs nothing more for it. */
export const PLAYGROUND_TOKEN_PREFIX = 'tgpg_';
export const PLAYGROUND_TOKEN_TTL_MS = 15 * 60_000;
const HKDF_LABEL = 'tollgate playground token v1';
/** Far above any minted token (two ids and a time): a longer value is not worth parsing. */
const MAX_TOKEN_LENGTH = 512;

export interface PlaygroundGrant { accountId: string; accessKeyId: string; expiresAt: number }

export class PlaygroundTokens {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), HKDF_LABEL, 32));
  }

  /** `now`: the minting time (a test's clock); the token holds until `expiresAt`. */
  mint(accountId: string, accessKeyId: string, now: number = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = now + PLAYGROUND_TOKEN_TTL_MS;
    const signed = PLAYGROUND_TOKEN_PREFIX + Buffer.from(JSON.stringify({ a: accountId, k: accessKeyId, e: expiresAt })).toString('base64url');
    return { token: `${signed}.${this.#sign(signed)}`, expiresAt };
  }

  /** The grant, or undefined for anything but an unaltered token of this deployment not yet expired. */
  verify(token: string, now: number = Date.now()): PlaygroundGrant | undefined {
    if (!token.startsWith(PLAYGROUND_TOKEN_PREFIX) || token.length > MAX_TOKEN_LENGTH) return undefined;
    const dot = token.lastIndexOf('.');
    if (dot < 0) return undefined;
    const signed = token.slice(0, dot);
    // Compared as text: base64url decoding ignores stray characters, so decoded bytes would accept altered spellings.
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.#sign(signed));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(signed.slice(PLAYGROUND_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { a, k, e } = (claims ?? {}) as { a?: unknown; k?: unknown; e?: unknown };
    if (typeof a !== 'string' || typeof k !== 'string' || typeof e !== 'number' || e <= now) return undefined;
    return { accountId: a, accessKeyId: k, expiresAt: e };
  }

  #sign(signed: string): string {
    return createHmac('sha256', this.#key).update(signed).digest('base64url');
  }
}
