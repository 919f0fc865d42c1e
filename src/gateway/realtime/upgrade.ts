// The client's side of GET /v1/realtime before the upgrade: which upgrades the gateway takes, what makes one that `ws`
// would refuse (said before admission, in the gateway's error shape), the access key it carries, and the HTTP answer
// to one refused.
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { accessToken } from '../authenticate.ts';

export const REALTIME_PATH = '/v1/realtime';

/** The browser's way to send a key (WebSocket has no headers there): a subprotocol `openai-insecure-api-key.<key>`. */
const KEY_PROTOCOL = 'openai-insecure-api-key.';
export const REALTIME_PROTOCOL = 'realtime';

/** Whether a request's upgrade is one this gateway takes (node:http hands every other one to the request handler). */
export function isRealtimeUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket' || req.method !== 'GET') return false;
  return pathOf(req.url ?? '/') === REALTIME_PATH;
}

/**
 * The request target's path, as the HTTP routes match it (no dot segments resolved). Never throws: node:http calls
 * this before any handler, so an exception here (`GET //`, `GET http://[`) would be uncaught and stop the process.
 */
function pathOf(target: string): string | undefined {
  if (target.startsWith('/')) {
    const q = target.indexOf('?');
    return q < 0 ? target : target.slice(0, q);
  }
  return URL.parse(target)?.pathname;
}

/** The subprotocols the client offers (`Sec-WebSocket-Protocol`), the browser's only way to say anything more. */
export function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  const offered = headers['sec-websocket-protocol'];
  return typeof offered === 'string' ? offered.split(',').map((p) => p.trim()) : [];
}

/** RFC 7230's token, the one shape a subprotocol may take (RFC 6455 §4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * What makes the upgrade one `ws` would refuse, if anything: said before admission, so a doomed handshake opens no
 * provider session, and its client reads OpenAI's error shape rather than `ws`'s plain-text 400. The same rules as
 * `ws` (RFC 6455 §4.1, versions 13 and 8), and HTTP/1.1, which the handshake requires and `ws` does not check.
 */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) return 'a WebSocket upgrade takes HTTP/1.1 (RFC 6455 §4.1).';
  // Its bytes would follow the 101 and be read as the client's first WebSocket frames (a protocol error, 1002).
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return 'a WebSocket upgrade is a GET without a body (RFC 6455 §4.1); send no "Content-Length" or "Transfer-Encoding".';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) return 'the "Sec-WebSocket-Key" header is missing or is not 16 bytes in base64 (RFC 6455 §4.1).';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'the "Sec-WebSocket-Version" header must be 13 (RFC 6455 §4.1).';
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    const protocols = offeredProtocols(req.headers);
    if (!protocols.every((p) => TOKEN.test(p)) || new Set(protocols).size !== protocols.length) {
      return 'the "Sec-WebSocket-Protocol" header must list subprotocols (tokens, such as "realtime") separated by commas, none empty or twice.';
    }
  }
  return undefined;
}

/** The access key: a header as on every gateway route, else the browser's subprotocol. */
export function realtimeToken(headers: IncomingHttpHeaders): string | undefined {
  const token = accessToken(headers);
  if (token !== undefined) return token;
  for (const p of offeredProtocols(headers)) {
    if (p.startsWith(KEY_PROTOCOL) && p.length > KEY_PROTOCOL.length) return p.slice(KEY_PROTOCOL.length);
  }
  return undefined;
}

export function writeRaw(socket: Duplex, status: number, headers: Record<string, string | string[] | number>, body: Buffer): void {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  headers['content-length'] = body.length;
  headers.connection = 'close';
  for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
}
