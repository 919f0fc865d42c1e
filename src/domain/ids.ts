// Identifiers and secrets. IDs sort by creation time (newest-first paging compares IDs), so they are
// a prefix plus a monotonic ULID-like body: 10 Crockford base32 characters of milliseconds, 16 random.
import { hash, randomFillSync, randomInt } from 'node:crypto';

export const IdPrefix = {
  account: 'acct',
  apiKey: 'aigak',
  accessKey: 'aigk',
  configuration: 'aigac',
  providerKey: 'aigpk',
  provider: 'aigp',
  providerModel: 'aigpm',
  virtualModel: 'aigvm',
  firewallPolicy: 'aigfwp',
  mcpServer: 'aigmcp',
  usageEvent: 'aigue',
  creditTransaction: 'aigct',
  creditPurchase: 'aigcp',
  request: 'rq',
} as const;
export type IdKind = keyof typeof IdPrefix;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CROCKFORD_CODES = Uint8Array.from(CROCKFORD, (c) => c.charCodeAt(0));
let lastTime = -1;
let lastTimeText = '';
const lastRandom = new Uint8Array(16);

// Random bytes come from a pool refilled 4 KiB at a time: one getrandom call per 256 ids instead of one each
// (ids are made twice per gateway request).
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function nextRandom(now: number): void {
  if (now === lastTime) {
    // Same millisecond: increment the previous random part so IDs stay strictly increasing.
    for (let i = 15; i >= 0; i--) {
      if (lastRandom[i]! < 31) { lastRandom[i]!++; return; }
      lastRandom[i] = 0;
    }
    return;
  }
  lastTime = now;
  lastTimeText = encodeTime(now);
  if (poolOffset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  // The first digit stays below 16 so a same-millisecond increment never overflows the 16 digits.
  for (let i = 0; i < 16; i++) lastRandom[i] = pool[poolOffset + i]! % (i === 0 ? 16 : 32);
  poolOffset += 16;
}

/** A new time-ordered id such as `aigk_01JD…`. */
export function newId(kind: IdKind, now = Date.now()): string {
  nextRandom(Math.max(now, lastTime));
  // One string for the 16 digits (appending them one by one made 16 intermediate strings: ~1 KB per request).
  const d = CROCKFORD_CODES;
  const r = lastRandom;
  const random = String.fromCharCode(d[r[0]!]!, d[r[1]!]!, d[r[2]!]!, d[r[3]!]!, d[r[4]!]!, d[r[5]!]!, d[r[6]!]!, d[r[7]!]!,
    d[r[8]!]!, d[r[9]!]!, d[r[10]!]!, d[r[11]!]!, d[r[12]!]!, d[r[13]!]!, d[r[14]!]!, d[r[15]!]!);
  return `${IdPrefix[kind]}_${lastTimeText}${random}`;
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

const ACCESS_KEY_TOKEN = /^ng-[0-9A-Za-z]{5}-g1-[0-9A-Za-z]{40}$/;

/**
 * Whether `token` has the one shape newAccessKeyToken gives (every access key ever made has it): anything else is no
 * key, and the gateway refuses it without asking the store, as it does a Playground token that does not verify.
 */
export function isAccessKeyToken(token: string): boolean {
  return ACCESS_KEY_TOKEN.test(token);
}

/** Control-plane API key tokens; a distinct prefix makes a pasted key easy to tell apart from an access key. */
export function newApiKeyToken(): string {
  return `tgapi_${randomBase62(43)}`;
}

export function sha256Hex(value: string): string {
  // One-shot hash: no Hash object per call (it is computed for every gateway request's access key).
  return hash('sha256', value, 'hex');
}

/**
 * `first10***last4`, the masking shown for provider keys in the guides, for secrets of 40 characters or more
 * (real provider keys); a shorter one shows at most a quarter of itself at the front and an eighth at the end,
 * so the redaction never leaves a short key guessable; eight characters or fewer show nothing.
 */
export function redactSecret(secret: string): string {
  // Eight characters or fewer show nothing: three of eight shown would leave a short key guessable.
  if (secret.length <= 8) return '***';
  const head = Math.min(10, Math.floor(secret.length / 4));
  const tail = Math.min(4, Math.floor(secret.length / 8));
  return `${secret.slice(0, head)}***${secret.slice(-tail)}`;
}
