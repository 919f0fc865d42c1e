// How long either plane waits for a client's request. Node's defaults leave the gateway with no header timeout
// at all (its request timeout is off so that long answers are never cut, and the header timeout follows it), so
// an anonymous client could hold connections that never send a byte until file descriptors run out.
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';

/**
 * Options for http.createServer: `headersMs` to send the request line and headers (from the moment the
 * connection opens), `requestMs` for the whole request including its body. Answers are not limited by either.
 * Node checks them on an interval, here at most a second, so a limit is enforced within that much.
 */
export function clientTimeoutOptions(headersMs: number, requestMs: number): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  return {
    headersTimeout: headersMs,
    requestTimeout: Math.max(requestMs, headersMs),
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersMs / 4))),
  };
}

/** Injected requests (Fastify's `inject`) have a socket stand-in without `destroy`; a timer must never throw. */
function destroySocket(req: IncomingMessage): void {
  const socket = req.socket as IncomingMessage['socket'] | undefined;
  if (typeof socket?.destroy === 'function') socket.destroy();
}

/** How long a connection still reads (and drops) a body after the answer that refused it, before it is closed. */
const LINGER_MS = 500;

/**
 * For an answer given before the request's body was read (401, 404, 413…): `connection: close`, then the socket
 * is destroyed shortly after the answer is out, so a client streaming gigabytes no one will read cannot keep
 * the server reading them. The short linger lets the answer reach a client still sending (closing at once
 * with unread data would reset the connection under it).
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    if (!req.complete) setTimeout(destroySocket, LINGER_MS, req).unref();
  });
}
