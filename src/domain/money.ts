// Money is integers end to end. Prices are micro-USD per million tokens, so tokens × price is an exact
// cost in pico-USD (1e-12 USD). Balances are kept in cents by the contract; conversion happens here only.

export const PICO_PER_CENT = 10_000_000_000n;
export const PICO_PER_USD = 1_000_000_000_000n;

/** `$0.15` per million tokens → 150000 micro-USD per million tokens. Accepts decimal strings only, never floats. */
export function usdPerMillionToMicro(usd: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(usd);
  if (!m) throw new Error(`invalid USD price "${usd}"`);
  return BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

export function costPico(tokens: number | bigint, microUsdPerMillion: bigint): bigint {
  return BigInt(tokens) * microUsdPerMillion;
}

/** USD decimal string with five fractional digits, rounded half up (the contract's `totalCost`). */
export function formatUsd5(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const unit = 10_000_000n; // 1e-5 USD in pico
  const rounded = (abs + unit / 2n) / unit;
  const whole = rounded / 100_000n;
  const frac = (rounded % 100_000n).toString().padStart(5, '0');
  return `${negative && rounded !== 0n ? '-' : ''}${whole}.${frac}`;
}

/** Exact USD decimal of a pico-USD amount, trailing zeros dropped (`2500000n` → `0.0000025`): a price per token. */
export function formatUsdExact(pico: bigint): string {
  const whole = pico / PICO_PER_USD;
  const frac = (pico % PICO_PER_USD).toString().padStart(12, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

export function centsToPico(cents: number | bigint): bigint {
  return BigInt(cents) * PICO_PER_CENT;
}

/** Balance in whole cents, rounded down so the shown balance never exceeds what is really left. */
export function picoToCentsFloor(pico: bigint): bigint {
  const q = pico / PICO_PER_CENT;
  return pico < 0n && q * PICO_PER_CENT !== pico ? q - 1n : q;
}
