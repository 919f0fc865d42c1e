// A request node:http cannot parse (broken framing, a header block over its 16 KB limit, headers that never
// finish) never reaches a handler. Node answers it with a bare status line and Fastify with a body of its own
// shape plus a trace log line holding the raw bytes — bearer tokens and provider-key values included. Both
// planes answer in their documented error shape instead, and nothing the request held is logged (the gateway's
// access line for it names its status and request id only).
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface ClientError { status: number; phrase: string; reason: string }

/** A request whose headers or body did not arrive in time (node:http's header and request timeouts alike). */
export const TIMED_OUT: ClientError = { status: 408, phrase: 'Request Timeout', reason: 'The request (its headers or its body) did not arrive in time.' };

/** What the client did wrong, from the parser's error code (the statuses node itself would answer). */
function classifyClientError(code: string | undefined): ClientError {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, phrase: 'Request Header Fields Too Large', reason: 'The request line and headers are larger than the server accepts (16 KB).' };
  // Node reports the header and the whole-request timeouts alike.
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return TIMED_OUT;
  return { status: 400, phrase: 'Bad Request', reason: 'The request is not valid HTTP/1.1.' };
}

type ClientSocket = Duplex & { _httpMessage?: ServerResponse | null };

/**
 * Writes `body(error)` as the connection's last answer and closes it; `headers` are extra `name: value\r\n`
 * lines. When an answer to an earlier request on the same connection is already being written, the socket is
 * only closed: bytes of a second answer would corrupt the first (node's own handler follows the same rule).
 * Returns what was answered; undefined when nothing was (the client left, or the socket could only be closed).
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex, body: (error: ClientError) => string, headers = ''): ClientError | undefined {
  if (error.code === 'ECONNRESET' || socket.destroyed) return undefined;
  const inFlight = (socket as ClientSocket)._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const answer = classifyClientError(error.code);
    const text = body(answer);
    socket.end(`HTTP/1.1 ${answer.status} ${answer.phrase}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${headers}\r\n${text}`, () => socket.destroy());
    return answer;
  }
  socket.destroy();
  return undefined;
}
