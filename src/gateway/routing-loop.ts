// Routing-loop detection (gateway.md §9, ERR_NGROK_27237). A custom provider's baseUrl may lead back to this
// gateway — directly, or through other gateways — and each hop would call the next until a timeout, metering
// every one. Every upstream call carries `tollgate-via`: the ids of the deployments it already passed through
// plus this one's. A request arriving with this deployment's id in that list is refused with 508 at once.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { tollgateError } from '../domain/errors.ts';

export const VIA_HEADER = 'tollgate-via';

/** Past this many hops the chain is refused even without our own id in it: the header must not grow unbounded. */
const MAX_HOPS = 16;

/**
 * The deployment's id: every node sharing the secret key has the same one (a loop through a load balancer to a
 * sibling node is still a loop); an HMAC, so the id tells a provider nothing about the key.
 */
export function deploymentLoopId(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('tollgate routing-loop id').digest('hex').slice(0, 16);
}

/** Throws 508 ERR_NGROK_27237 when the request already passed through this deployment. */
export function refuseRoutingLoop(headers: IncomingHttpHeaders, loopId: string): void {
  const via = headers[VIA_HEADER];
  if (via === undefined) return;
  const hops = (Array.isArray(via) ? via.join(',') : via).split(',');
  if (hops.length >= MAX_HOPS || hops.some((hop) => hop.trim() === loopId)) throw tollgateError('routingLoop');
}

/** The header value this gateway sends upstream: the hops so far, then this deployment. */
export function viaValue(headers: IncomingHttpHeaders, loopId: string): string {
  const via = headers[VIA_HEADER];
  return typeof via === 'string' && via !== '' ? `${via}, ${loopId}` : loopId;
}
