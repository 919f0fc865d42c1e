// Who may read /metrics. Its series name accounts and their balances, custom providers and models — tenants
// of one deployment must not read each other's. With TOLLGATE_METRICS_TOKEN set a scraper sends it as a bearer
// token, from anywhere; without one only this machine may scrape (tenants reach the API port from elsewhere).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { requestHost } from './h2c.ts';

export type MetricsAccess = 'allowed' | 'unauthorized' | 'forbidden';

function fromThisMachine(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** A reverse proxy on this machine makes every tenant's request come from loopback; it says so in these. */
function forwarded(req: IncomingMessage): boolean {
  const h = req.headers;
  return h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h['x-real-ip'] !== undefined;
}

/**
 * A page in a browser on this machine can rebind its own domain to 127.0.0.1 and read loopback answers (DNS
 * rebinding); its requests then carry that domain as Host. A local scraper names the machine: an IP address,
 * `localhost`, or this host's own name.
 */
function namesThisMachine(host: string | undefined): boolean {
  if (host === undefined || host === '') return true;
  const name = (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '')).toLowerCase().replace(/\.$/, '');
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return true;
  const own = hostname().toLowerCase();
  return name === own || name.split('.')[0] === own.split('.')[0] && (name.endsWith('.local') || name.endsWith('.localdomain'));
}

export function metricsAccess(req: IncomingMessage, token: string | undefined): MetricsAccess {
  if (token === undefined) return fromThisMachine(req.socket.remoteAddress) && !forwarded(req) && namesThisMachine(requestHost(req)) ? 'allowed' : 'forbidden';
  const header = req.headers.authorization ?? '';
  const sent = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return sent.length === expected.length && timingSafeEqual(sent, expected) ? 'allowed' : 'unauthorized';
}

/**
 * On every /metrics answer, as on the gateway's and the console's: text that names tenants' models and keys' labels
 * must never be sniffed by a browser into a page.
 */
export const METRICS_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };

/** `headers`: a 401's challenge (RFC 9110 §11.6.1). */
export const METRICS_REFUSALS: Record<Exclude<MetricsAccess, 'allowed'>, { status: number; text: string; headers: Record<string, string> }> = {
  unauthorized: { status: 401, text: 'Send TOLLGATE_METRICS_TOKEN as "Authorization: Bearer <token>".\n', headers: { 'www-authenticate': 'Bearer realm="metrics"' } },
  forbidden: { status: 403, headers: {}, text: 'Only this machine may read /metrics (addressed by IP, localhost or its host name); set TOLLGATE_METRICS_TOKEN to scrape from elsewhere.\n' },
};
