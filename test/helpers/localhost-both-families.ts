// Preloaded (`node --import`) into a CLI under test: `localhost` resolves to ::1 and 127.0.0.1, as on most machines
// (this host's /etc/hosts may name only one), so a connection refused on both is the AggregateError a user gets.
import dns from 'node:dns';

type Lookup = typeof dns.lookup;
const original: Lookup = dns.lookup;
dns.lookup = function lookup(host: string, options: unknown, callback?: unknown): void {
  if (host !== 'localhost') return (original as (...args: unknown[]) => void)(host, options, callback);
  const done = (typeof options === 'function' ? options : callback) as (error: null, address: unknown, family?: number) => void;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
  process.nextTick(() => (all ? done(null, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]) : done(null, '127.0.0.1', 4)));
} as Lookup;
