// Request capture on the request path (the account's `requestCapture` setting): what the client sent and what it got,
// kept in memory up to the capture limit while the exchange runs, handed to the capture writer once the response
// closed. Nothing here touches the database. What is kept is decided in domain/request-capture.ts; decisions:
// docs/decisions/credits-usage-settings.md, "Request capture".
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BodyCapture, capturedRequestHeaders, capturedResponseHeaders, type RequestCapture } from '../domain/request-capture.ts';
import type { RequestContext } from './context.ts';
import { tapWrites } from './response-tap.ts';

/** Where finished captures go (usage/capture-writer.ts): sealed and written off the request path. */
export interface CaptureSink {
  /** Each body's first bytes kept (TOLLGATE_REQUEST_CAPTURE_MAX_BYTES). */
  readonly maxBytes: number;
  keep(capture: RequestCapture): void;
}

/** One exchange being captured: the request's body as the gateway read it, the answer as it was written. */
export class ExchangeRecording {
  readonly capturedAt: string;
  readonly request: BodyCapture;
  readonly response: BodyCapture;
  /** The headers given to writeHead (node:http keeps those apart from setHeader's). */
  head: OutgoingHttpHeaders | undefined;
  /** The error code when the head went out: one set later is an answer the gateway cut (endStreamWithError). */
  errorAtHead: string | undefined;

  constructor(maxBytes: number, capturedAt: string) {
    this.capturedAt = capturedAt;
    this.request = new BodyCapture(maxBytes);
    this.response = new BodyCapture(maxBytes);
  }
}

/** writeHead's headers: an object, or node's flat `[name, value, …]` list. */
function headObject(value: unknown): OutgoingHttpHeaders | undefined {
  if (!Array.isArray(value)) return value !== null && typeof value === 'object' ? value as OutgoingHttpHeaders : undefined;
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < value.length; i += 2) out[String(value[i])] = value[i + 1] as string;
  return out;
}

/**
 * Starts capturing the exchange of a request whose account has request capture on (the caller checked the setting,
 * so a request without capture pays one property read). The one place the answer is seen is the response itself:
 * its writeHead is wrapped and its writes tapped (response-tap.ts), on this response object only, so every way the gateway answers — a relayed
 * JSON answer or stream, a translated one, an event stream, its own errors, a Firewall block, a token count — is
 * captured as the client got it, and no writing path needs to know about capture.
 */
export function recordExchange(ctx: RequestContext): void {
  const sink = ctx.deps.captures;
  const { res } = ctx;
  // Gone while its key was checked: nothing was answered, nothing to show.
  if (!sink || ctx.recording || ctx.clientGone || res.destroyed) return;
  const capturedAt = new Date(Date.now() - (performance.now() - ctx.startedAt)).toISOString();
  const recording = new ExchangeRecording(sink.maxBytes, capturedAt);
  ctx.recording = recording;
  const { writeHead } = res;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) {
      recording.head = headObject(typeof args[1] === 'string' ? args[2] : args[1]);
      recording.errorAtHead = ctx.errorCode;
    }
    return Reflect.apply(writeHead, this, args) as ServerResponse;
  } as ServerResponse['writeHead'];
  tapWrites(res, (chunk, response) => {
    // What goes to a response already ended or destroyed never reaches the client.
    if (!response.writableEnded && !response.destroyed) recording.response.push(chunk);
  });
  res.once('close', () => {
    try {
      sink.keep(finished(ctx, recording));
    } catch (error) {
      // Debugging data: never worth the process (this runs in an event handler, where a throw would end it).
      ctx.deps.logger.warn({ requestId: ctx.requestId, err: error instanceof Error ? error.message : String(error) }, 'request capture could not be kept');
    }
  });
}

/** The capture of an exchange whose response closed. */
function finished(ctx: RequestContext, recording: ExchangeRecording): RequestCapture {
  const { req, res } = ctx;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  // 499 (as the access line says it): the client left before any answer was written.
  const statusCode = ctx.answeredStatus !== 0 ? ctx.answeredStatus : res.headersSent ? res.statusCode : 499;
  // Complete: the whole answer went out and the gateway did not end it early with an error event (a broken or cut
  // stream, a stopping gateway). A client that went away leaves the response unfinished.
  const complete = res.writableFinished && ctx.errorCode === recording.errorAtHead;
  return {
    accountId: ctx.key!.accountId,
    requestId: ctx.requestId,
    capturedAt: recording.capturedAt,
    request: { method: req.method ?? '', path: q < 0 ? url : url.slice(0, q), headers: capturedRequestHeaders(req.headers), ...recording.request.result() },
    response: { statusCode, complete, headers: capturedResponseHeaders({ ...res.getHeaders(), ...recording.head }), ...recording.response.result() },
  };
}
