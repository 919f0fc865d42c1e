// Who may read /metrics. Its series name accounts and their balances, custom providers and models — tenants
// of one deployment must not read each other's. With TOLLGATE_METRICS_TOKEN set a scraper sends it as a bearer
// token, from anywhere; without one only this machine may scrape (tenants reach the API port from elsewhere).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

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

export function metricsAccess(req: IncomingMessage, token: string | undefined): MetricsAccess {
  if (token === undefined) return fromThisMachine(req.socket.remoteAddress) && !forwarded(req) ? 'allowed' : 'forbidden';
  const header = req.headers.authorization ?? '';
  const sent = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return sent.length === expected.length && timingSafeEqual(sent, expected) ? 'allowed' : 'unauthorized';
}

export const METRICS_REFUSALS: Record<Exclude<MetricsAccess, 'allowed'>, { status: number; text: string }> = {
  unauthorized: { status: 401, text: 'Send TOLLGATE_METRICS_TOKEN as "Authorization: Bearer <token>".\n' },
  forbidden: { status: 403, text: 'Only this machine may read /metrics; set TOLLGATE_METRICS_TOKEN to scrape from elsewhere.\n' },
};
