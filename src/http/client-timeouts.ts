// How long either plane waits for a client's request. Node's defaults leave the gateway with no header timeout
// at all (its request timeout is off so that long answers are never cut, and the header timeout follows it), so
// an anonymous client could hold connections that never send a byte until file descriptors run out.
import type { ServerOptions } from 'node:http';

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
