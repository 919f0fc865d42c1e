// HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on the gateway's HTTP/1.1 port. The AWS SDK's Bedrock Runtime
// client has an HTTP/2-only handler by default and opens `http://` endpoints with the HTTP/2 connection preface; node
// has no server that takes both on one cleartext port, so each connection's first bytes pick node:http or node:http2.
// The request handlers are shared: node:http2's compatibility API hands them request and response objects shaped like
// node:http's; what differs (no connection headers, `finish` only when the stream closes) is handled where it matters.
import { constants, createServer as createHttp2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What every HTTP/2 client sends first (RFC 9113 §3.4); no HTTP/1.1 request line starts with `PRI * HTTP/2.0`. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const MAX_HEADER_LIST_BYTES = 16 * 1024;

export interface H2cLimits {
  /** A connection must send its first request (HTTP/1.1 headers, or an HTTP/2 stream) within this long. */
  headersTimeoutMs: number;
  /** An HTTP/2 request's body must have arrived whole this long after its headers (HTTP/1.1: node's requestTimeout). */
  requestTimeoutMs: number;
  /** An HTTP/2 connection with no request open is closed after this long, as HTTP/1.1's keepAliveTimeout does. */
  keepAliveTimeoutMs: number;
  /** Requests one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The host a request names: HTTP/1.1's Host, else HTTP/2's `:authority` (RFC 9113 §8.3.1; node:http2 sets no `host`
 * from it).
 */
export function requestHost(req: IncomingMessage): string | undefined {
  if (req.headers.host !== undefined) return req.headers.host;
  const authority = req.headers[':authority'];
  return typeof authority === 'string' ? authority : undefined;
}

/** The HTTP/2 stream a request came on; undefined for an HTTP/1.x request. */
export function h2Stream(req: IncomingMessage): ServerHttp2Stream | undefined {
  return req.httpVersionMajor === 2 ? (req as unknown as Http2ServerRequest).stream : undefined;
}

/**
 * After a complete answer to an HTTP/2 request whose body is still arriving: RST_STREAM with NO_ERROR, which RFC 9113
 * §8.1 gives a server to stop the upload without failing the answer. The stream's own `finish` (its end written) is
 * waited for: the compatibility response emits `finish` only once the stream is closed.
 */
export function stopUploadAfterAnswer(stream: ServerHttp2Stream, req: IncomingMessage): void {
  stream.once('finish', () => resetOnceEnded(stream, req, 0));
}

/** How many loop turns a reset waits for the answer's END_STREAM to go out before it is sent anyway. */
const END_STREAM_TURNS = 32;

/**
 * `finish` only marks the stream's writable side done: nghttp2 sets END_STREAM on the next DATA frame it pulls, and a
 * RST_STREAM submitted before that goes out first (a control frame), so the client saw the answer's bytes without its
 * end and then the reset, which RFC 9113 §8.1 allows only after a complete answer. Sent once the stream is closed
 * locally (END_STREAM sent), a few loop turns at most.
 */
function resetOnceEnded(stream: ServerHttp2Stream, req: IncomingMessage, turns: number): void {
  if (req.complete || stream.closed || stream.destroyed) return;
  if (stream.state.localClose !== 1 && turns < END_STREAM_TURNS) {
    setImmediate(resetOnceEnded, stream, req, turns + 1);
    return;
  }
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/** Open streams per session (the idle limit closes only a session with none), and the session's limits. */
const OPEN = Symbol('tollgate.h2.open');
const LIMITS = Symbol('tollgate.h2.limits');
type TrackedSession = ServerHttp2Session & { [OPEN]: number; [LIMITS]: H2cLimits };

/** A request ended: idle again, the limit counts from here (a timeout that fired while requests were open is spent). */
function streamClosed(session: TrackedSession): void {
  if (--session[OPEN] === 0 && !session.destroyed) session.setTimeout(session[LIMITS].keepAliveTimeoutMs);
}

function onSessionStream(this: TrackedSession, stream: ServerHttp2Stream): void {
  // The first request came: from now on the session is held only while idle for the keep-alive time.
  if (this[OPEN]++ === 0) this.setTimeout(this[LIMITS].keepAliveTimeoutMs);
  // The stream's `session` is gone by its 'close'.
  stream.once('close', () => streamClosed(this));
}

/** Quiet for the limit: closed (GOAWAY) when no request is open; a request waiting on its provider keeps it. */
function onSessionTimeout(this: TrackedSession): void {
  if (this[OPEN] === 0) this.close();
}

function onSessionError(): void {
  // A broken connection ends its session (node has already destroyed it): nothing to answer, never the process.
}

/** An HTTP/2 request whose body has not all come within the request timeout: a 408 when nothing was answered yet. */
function requestTimedOut(req: Http2ServerRequest, res: Http2ServerResponse, onTimeout: (req: IncomingMessage, res: ServerResponse) => void): void {
  if (req.complete || req.stream.closed) return;
  onTimeout(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  if (!req.stream.closed && !res.headersSent) req.stream.close(constants.NGHTTP2_CANCEL);
}

/**
 * node:http2 keeps the first of a repeated single-value field (Authorization, Content-Type, Host…) and drops the others
 * unseen, as node:http does unless `joinDuplicateHeaders`: with that set, two Authorization headers reached the handler
 * joined over HTTP/1.1 (refused as two keys) but as the first alone over HTTP/2 (served with whichever came first).
 * Joined here with ", " as node:http joins them; Cookie and Set-Cookie node:http2 already combines as node:http does.
 */
function joinRepeatedFields(req: Http2ServerRequest): void {
  const raw = req.rawHeaders;
  let names: Set<string> | undefined;
  let repeated: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */ || name === 'cookie' || name === 'set-cookie') continue;
    if (!(names ??= new Set()).has(name)) names.add(name);
    else (repeated ??= new Set()).add(name);
  }
  if (!repeated) return;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  for (const name of repeated) {
    const values: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i] === name) values.push(raw[i + 1]!);
    headers[name] = values.join(', ');
  }
}

export interface H2c {
  server: Http2Server;
  /** Every open HTTP/2 connection: GOAWAY, its requests still open finish. New ones are closed as they come. */
  closeSessions(): void;
  /** Every HTTP/2 connection is destroyed, requests in flight included, and every one whose protocol is not known yet. */
  destroyConnections(): void;
}

/**
 * Makes `http1` (before it listens) also serve HTTP/2 with prior knowledge. Each connection is read until its first
 * bytes show which it is, then handed to node:http as if just accepted, its bytes put back, or to node:http2, which
 * reads a socket's buffered bytes before its own. HTTP/1.1 pays this once per connection, not per request.
 * `onTimeout`: answers an HTTP/2 request whose body did not come in time (node:http raises clientError for its own).
 */
export function serveH2c(http1: Server, handler: RequestHandler, limits: H2cLimits, onTimeout: (req: IncomingMessage, res: ServerResponse) => void): H2c {
  // Header lists bounded as node:http bounds an HTTP/1.1 request's headers (16 KB); past it the stream is reset.
  const server = createHttp2Server({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: MAX_HEADER_LIST_BYTES } });
  // The compatibility API's request and response stand in for node:http's (see the top of this file), repeated fields
  // joined as node:http joins them when told to (node stores its options on the server).
  if ((http1 as Server & { joinDuplicateHeaders?: boolean }).joinDuplicateHeaders === true) {
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      joinRepeatedFields(req);
      handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
  } else server.on('request', handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  if (limits.requestTimeoutMs > 0) {
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (req.complete) return;
      const timer = setTimeout(requestTimedOut, limits.requestTimeoutMs, req, res, onTimeout).unref();
      req.once('end', () => clearTimeout(timer));
      req.stream.once('close', () => clearTimeout(timer));
    });
  }
  const sessions = new Set<ServerHttp2Session>();
  let closing = false;
  server.on('session', (session: ServerHttp2Session) => {
    const tracked = Object.assign(session, { [OPEN]: 0, [LIMITS]: limits });
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', onSessionError);
    session.on('stream', onSessionStream);
    session.on('timeout', onSessionTimeout);
    // Until its first request, a session gets the time HTTP/1.1 gives a connection for its first headers.
    tracked.setTimeout(limits.headersTimeoutMs);
    if (closing) session.close();
  });

  // node:http's own connection handling (its parser, its timeouts, its connection list), run once the protocol is known.
  const http1Listeners = http1.listeners('connection') as ((socket: Socket) => void)[];
  http1.removeAllListeners('connection');
  // Connections still being read: node:http's list does not hold them yet, so a stop must be able to reach them.
  const sniffing = new Set<Socket>();
  http1.on('connection', (socket: Socket) => sniff(socket, sniffing, http1, http1Listeners, server, limits.headersTimeoutMs));

  return {
    server,
    closeSessions() {
      closing = true;
      for (const session of sessions) session.close();
    },
    destroyConnections() {
      for (const session of sessions) session.destroy();
      for (const socket of sniffing) socket.destroy();
    },
  };
}

function dropSocket(this: Socket): void {
  this.destroy();
}

/**
 * How long an HTTP/2 connection whose session ended is left for the client to close its side. node ends a session's
 * socket by ending its own side and waiting for the peer's end (its own HTTP/2 server's sockets close when that comes);
 * node:http's sockets are half-open, so a client that never reads nor closes would keep the socket for good.
 */
const CLOSE_GRACE_MS = 1000;

function destroyLater(this: Socket): void {
  setTimeout(destroySocket, CLOSE_GRACE_MS, this).unref();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function sniff(socket: Socket, sniffing: Set<Socket>, http1: Server, http1Listeners: ((socket: Socket) => void)[], http2: Http2Server, headersTimeoutMs: number): void {
  sniffing.add(socket);
  const forget = (): void => { sniffing.delete(socket); clearTimeout(deadline); };
  socket.once('close', forget);
  // Until handed over nobody else listens: a reset must not be an unhandled error, a silent client not a held socket
  // (node:http's sockets are half-open: one that ends before a request would stay).
  socket.on('error', dropSocket);
  socket.on('end', dropSocket);
  // A deadline from the connection's start, not an idle timer: a client trickling the preface a byte at a time would
  // otherwise hold the socket 24 idle periods long before its connection even had a protocol.
  const deadline = setTimeout(dropSocket.bind(socket), headersTimeoutMs).unref();
  let seen: Buffer | undefined;
  const onReadable = (): void => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) return;
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const h2 = seen.compare(PREFACE, 0, n, 0, n) === 0;
    // Part of the preface so far: wait for the rest (a byte-at-a-time client is bounded by the timeout).
    if (h2 && seen.length < PREFACE.length) return;
    socket.off('readable', onReadable);
    socket.off('close', forget);
    sniffing.delete(socket);
    socket.off('error', dropSocket);
    socket.off('end', dropSocket);
    clearTimeout(deadline);
    socket.unshift(seen);
    if (h2) {
      // Its side ended (the session closed): the socket goes, the client's side ended or not.
      socket.once('finish', destroyLater);
      http2.emit('connection', socket);
    }
    else for (const listener of http1Listeners) listener.call(http1, socket);
  };
  socket.on('readable', onReadable);
}
