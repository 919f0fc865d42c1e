// Go duration strings (`30s`, `2m`, `1h30m`, `250ms`, `.5s`, `1500µs`) as the contract's gateway-config uses them,
// read with the grammar and limits of Go's `time.ParseDuration`: an optional sign, then one or more
// number-unit pairs (a number may be `5`, `5.`, `.5` or `5.25`; units ns, us, µs, μs, ms, s, m, h), at most
// 2^63−1 nanoseconds. Tollgate's timeouts are milliseconds: a positive duration rounds up, so it is never 0.
const UNIT_NS = new Map<string, bigint>([
  ['ns', 1n], ['us', 1_000n], ['\u00b5s', 1_000n], ['\u03bcs', 1_000n], ['ms', 1_000_000n],
  ['s', 1_000_000_000n], ['m', 60_000_000_000n], ['h', 3_600_000_000_000n],
]);
const MAX_NS = (1n << 63n) - 1n;
const NS_PER_MS = 1_000_000n;
/** The longest delay node's timers take (2^31 − 1 ms, ~24.8 days): a longer one is set to 1 ms and fires at once. */
export const TIMER_MAX_MS = 2_147_483_647;
/** A number (digits before and/or after a dot) and its unit: everything up to the next digit or dot, as Go reads it. */
const PART = /(\d*)(?:\.(\d*))?([^\d.]*)/y;

/** Milliseconds (negative for a negative duration), or undefined when Go would refuse the text. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  const negative = rest.startsWith('-');
  if (negative || rest.startsWith('+')) rest = rest.slice(1);
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0n;
  for (let at = 0; at < rest.length;) {
    PART.lastIndex = at;
    const m = PART.exec(rest)!;
    const [whole, int = '', fraction = '', unitName = ''] = m;
    if (int === '' && fraction === '') return undefined;
    const unit = UNIT_NS.get(unitName);
    if (unit === undefined) return undefined;
    // More than 19 digits, leading zeros aside, is past 2^63 ns in any unit (Go's leadingInt overflows): refused
    // before a megabyte of digits becomes a BigInt (~200 ms of CPU).
    const digits = int.replace(/^0+/, '');
    if (digits.length > 19) return undefined;
    total += BigInt(digits || '0') * unit;
    // Like Go, the fraction's digits beyond the unit's resolution are dropped; Go's leadingFraction reads no more
    // than ~19 of them either (past those, a digit is worth under 10^-19 of an hour: no nanosecond).
    const kept = fraction.slice(0, 19);
    if (kept !== '') total += (BigInt(kept) * unit) / 10n ** BigInt(kept.length);
    if (total > MAX_NS) return undefined;
    at += whole.length;
  }
  const ms = Number((total + NS_PER_MS - 1n) / NS_PER_MS);
  return negative && ms !== 0 ? -ms : ms;
}
