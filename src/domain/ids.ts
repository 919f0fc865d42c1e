// Identifiers and secrets. IDs sort by creation time (newest-first paging compares IDs), so they are
// a prefix plus a monotonic ULID-like body: 10 Crockford base32 characters of milliseconds, 16 random.
import { createHash, randomBytes, randomInt } from 'node:crypto';

export const IdPrefix = {
  account: 'acct',
  apiKey: 'aigak',
  accessKey: 'aigk',
  configuration: 'aigac',
  providerKey: 'aigpk',
  provider: 'aigp',
  providerModel: 'aigpm',
  usageEvent: 'aigue',
  creditTransaction: 'aigct',
  creditPurchase: 'aigcp',
  request: 'rq',
} as const;
export type IdKind = keyof typeof IdPrefix;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function nextRandom(now: number): number[] {
  if (now === lastTime) {
    // Same millisecond: increment the previous random part so IDs stay strictly increasing.
    const r = lastRandom.slice();
    for (let i = r.length - 1; i >= 0; i--) {
      if (r[i]! < 31) { r[i]!++; break; }
      r[i] = 0;
    }
    lastRandom = r;
    return r;
  }
  lastTime = now;
  const bytes = randomBytes(16);
  lastRandom = Array.from(bytes, (b, i) => (i === 0 ? b % 16 : b % 32));
  return lastRandom;
}

/** A new time-ordered id such as `aigk_01JD…`. */
export function newId(kind: IdKind, now = Date.now()): string {
  const time = Math.max(now, lastTime);
  return `${IdPrefix[kind]}_${encodeTime(time)}${nextRandom(time).map((n) => CROCKFORD[n]).join('')}`;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** Access key tokens follow the contract's visible shape `ng-xxxxx-g1-xxxxx`. */
export function newAccessKeyToken(): string {
  return `ng-${randomBase62(5)}-g1-${randomBase62(40)}`;
}

/** Control-plane API key tokens; a distinct prefix makes a pasted key easy to tell apart from an access key. */
export function newApiKeyToken(): string {
  return `tgapi_${randomBase62(43)}`;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** `first10***last4`, the masking shown for provider keys in the guides; short secrets reveal less. */
export function redactSecret(secret: string): string {
  if (secret.length <= 8) return '***';
  if (secret.length <= 16) return `${secret.slice(0, 3)}***${secret.slice(-2)}`;
  return `${secret.slice(0, 10)}***${secret.slice(-4)}`;
}
