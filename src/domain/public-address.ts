// Which addresses a tenant's custom provider may reach. A custom provider's baseUrl is written by an account,
// not by the operator, so unless the operator allows private upstreams it must lead to the public internet:
// never to this machine, the operator's network or a cloud metadata service (SSRF). Checked twice: address
// literals when the provider is saved (early feedback), and every resolved address when the gateway connects
// (a host name can resolve anywhere, and DNS answers change).
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';

/** IANA special-purpose ranges that are not globally reachable unicast, plus the IPv6 forms embedding IPv4. */
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  // `::/96` holds `::` and `::1` and the deprecated IPv4-compatible form (`::127.0.0.1`); IPv4-mapped
  // addresses (`::ffff:a.b.c.d`) are judged by BlockList with the IPv4 rules above.
  ['::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['3fff::', 20], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

/**
 * IPv6's global unicast space: every other IPv6 address (`::ffff:0:a.b.c.d` for a SIIT translator, `5f00::/16`
 * segment routing, unassigned space) is routed, if at all, only by the operator's own network. The IPv4-mapped
 * form is judged by the IPv4 address inside.
 */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');
const IPV4_MAPPED = new BlockList();
IPV4_MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/** NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address it reaches. */
const NAT64 = new BlockList();
NAT64.addSubnet('64:ff9b::', 96, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad folded in). */
function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** True for an IP literal that is not a public unicast address. */
export function isNonPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 6 && NAT64.check(ip, 'ipv6')) {
    // DNS64 hands IPv6-only hosts these for every IPv4-only name: judge the IPv4 address inside.
    const groups = ipv6Groups(ip);
    const [high, low] = [groups[6]!, groups[7]!];
    return isNonPublicAddress(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  if (family === 6 && !GLOBAL_UNICAST.check(ip, 'ipv6') && !IPV4_MAPPED.check(ip, 'ipv6')) return true;
  return NON_PUBLIC.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** A URL host (`[::1]`, `10.0.0.1`, `localhost`) that is plainly not public, before any resolution. */
export function isNonPublicHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(host) !== 0) return isNonPublicAddress(host);
  const lower = host.toLowerCase().replace(/\.$/, '');
  return lower === 'localhost' || lower.endsWith('.localhost');
}

export type Lookup = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemLookup: Lookup = (hostname, options, callback) => dnsLookup(hostname, options, callback);

export class NonPublicAddressError extends Error {
  readonly code = 'ERR_TOLLGATE_NON_PUBLIC_ADDRESS';
  constructor(hostname: string, address: string) {
    super(`"${hostname}" resolves to ${address}, which is not a public address.`);
  }
}

/**
 * A `lookup` for net/tls.connect that refuses the connection when any address the name resolves to is not
 * public (all of them are checked, so a name with one public and one private answer cannot be raced).
 */
export function publicOnlyLookup(resolve: Lookup = systemLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true } as LookupAllOptions, (error, addresses) => {
      if (error) return callback(error, []);
      const bad = addresses.find((a) => isNonPublicAddress(a.address));
      if (bad) return callback(new NonPublicAddressError(hostname, bad.address), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`"${hostname}" has no address.`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
