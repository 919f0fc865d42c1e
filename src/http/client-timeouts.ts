// How long either plane waits for a client's request. Node's defaults leave the gateway with no header timeout
// at all (its request timeout is off so that long answers are never cut, and the header timeout follows it), so
// an anonymous client could hold connections that never send a byte until file descriptors run out.
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import { h2Stream, stopUploadAfterAnswer } from './h2c.ts';

/**
 * Options for http.createServer: `headersMs` to send the request line and headers (from the moment the
 * connection opens), `requestMs` for the whole request including its body. Answers are not limited by either.
 * Node checks them on an interval, here at most a second, so a limit is enforced within that much.
 */
export function clientTimeoutOptions(headersMs: number, requestMs: number): Required<Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>> {
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

/** Half-closes the connection once its answer is out (a FIN after the data, not a reset). */
function endSocket(req: IncomingMessage): void {
  const socket = req.socket as IncomingMessage['socket'] | undefined;
  if (typeof socket?.end === 'function') socket.end();
}

/** How long a connection still reads (and drops) a body after the answer that refused it, before it is closed. */
const LINGER_MS = 500;
/**
 * A body of a size a client may well send whole before reading any answer (an SDK posting 33 MiB to a 32 MiB
 * limit: the official SDKs do) is read and dropped for up to this long instead, so the refusal reaches it: closed
 * under it, the client sees a reset — a connection error its SDK retries three times with the same body — and
 * never the 413. Larger or undeclared bodies get the short linger.
 */
const DRAIN_MS = 5000;
const DRAIN_MAX_BYTES = 256 * 1024 * 1024;

/**
 * For an answer given before the request's body was read (401, 404, 413…), so that a client streaming gigabytes
 * no one will read cannot keep the server reading them:
 * - `drain` (a body too large from a caller an access key authenticated): a declared body up to DRAIN_MAX_BYTES is
 *   read and dropped (node does that for an answered request on a kept connection) for at most DRAIN_MS, then the
 *   connection is destroyed, or ended once the body has all arrived;
 * - any other gets `connection: close`, which makes node close the connection as soon as the answer is written —
 *   with the body unread, so the reset reaches a client that reads only after sending before the answer does.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse, drain = false): void {
  if (req.complete) return;
  // HTTP/2: the connection is shared and flow control bounds what a stream sends; only this request's upload stops.
  const stream = h2Stream(req);
  if (stream) return stopUploadAfterAnswer(stream, req);
  const declared = Number(req.headers['content-length']);
  if (drain && declared > 0 && declared <= DRAIN_MAX_BYTES) {
    res.once('finish', () => {
      if (req.complete) return endSocket(req);
      const timer = setTimeout(destroySocket, DRAIN_MS, req).unref();
      // Ended in time: the client has sent it all and has the answer; the connection ends (one drained body each).
      req.once('end', () => { clearTimeout(timer); endSocket(req); });
    });
    return;
  }
  res.setHeader('connection', 'close');
  res.once('finish', () => {
    if (!req.complete) setTimeout(destroySocket, LINGER_MS, req).unref();
  });
}
