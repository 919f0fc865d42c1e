// Writing gateway-made answers: errors in the request's wire format and small JSON bodies. Every one
// carries the request id (baseHeaders) so a failed call can be traced.
import type { ServerResponse } from 'node:http';
import { codecs } from './formats/index.ts';
import { baseHeaders, H_ATTEMPTS, H_REJECTED, type OutHeaders } from './headers.ts';
import type { RequestContext } from './context.ts';
import { closeAfterAnswer } from '../http/client-timeouts.ts';
import { Errors, type TollgateError } from '../domain/errors.ts';

export function writeJson(res: ServerResponse, status: number, headers: OutHeaders, body: string): void {
  headers['content-type'] = 'application/json';
  headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Errors no retry of the same request can pass: every key out of quota, a stored key this gateway cannot decrypt, a
 * routing loop, a model's tool call cut at the output limit (the same limit cuts it again, billed each time). `x-should-retry: false` is the switch the OpenAI and Anthropic SDKs read before the status (they
 * retry a 429 or a 5xx otherwise, for nothing).
 */
const NOT_RETRYABLE = new Set([Errors.upstreamQuotaExhausted, Errors.providerKeyUnreadable, Errors.routingLoop, Errors.toolCallArgumentsInvalid]);

/** The error as the SDKs of the request's format expect it, counting the upstream attempts made so far (`attemptsMade`). */
export function writeError(ctx: RequestContext, error: TollgateError, extra?: OutHeaders): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  const headers = baseHeaders(ctx.requestId);
  // On every answer, rejections included (`0`: refused before any upstream call), as ngrok documents it.
  headers[H_ATTEMPTS] = String(ctx.attemptsMade);
  if (ctx.rejectedModels) headers[H_REJECTED] = ctx.rejectedModels;
  // Where each SDK looks for a request id (OpenAI's `x-request-id`, Anthropic's `request-id`): its error then
  // carries the id of this answer (`err.request_id` / `err.requestID`), as it would from the provider.
  headers['x-request-id'] = ctx.requestId;
  headers['request-id'] = ctx.requestId;
  if (extra) Object.assign(headers, extra);
  const codec = codecs[ctx.route.format];
  if (codec.errorHeaders) Object.assign(headers, codec.errorHeaders(error, ctx.requestId));
  if (NOT_RETRYABLE.has(error.spec)) headers['x-should-retry'] = 'false';
  // RFC 9110 §11.6.1: a 401 names the scheme that would be accepted (an `x-api-key` is taken too, but is no HTTP scheme).
  if (error.status === 401) headers['www-authenticate'] = 'Bearer realm="gateway"';
  // Answered before the body was read (401, 404, 413…) while more of it is still arriving: close the connection
  // rather than let node read and discard the rest — an unauthenticated caller could otherwise stream gigabytes.
  // An authenticated body too large has it drained a while, so its SDK reads the 413, not a reset; any other refusal
  // (no credit, scope, a loop) is closed at once as before — a key refused for those must not make the gateway read.
  closeAfterAnswer(ctx.req, res, ctx.key !== undefined && error.spec === Errors.requestBodyTooLong);
  ctx.errorCode = error.code;
  writeJson(res, error.status, headers, codec.errorBody(error, ctx.requestId));
}

/**
 * Ends an answer that already reached the client with the format's error event (a broken or cut provider stream, a
 * stopping gateway); its code goes to the access line as an error answer's does.
 */
export function endStreamWithError(ctx: RequestContext, error: TollgateError, sequence: number | undefined): void {
  ctx.errorCode = error.code;
  // An embeddings answer relayed as it arrived (relay.ts, relayJson) is JSON, which no event can end: it is cut.
  if (ctx.route.surface === 'embeddings' || ctx.route.surface === 'embed-content') {
    ctx.res.destroy();
    return;
  }
  ctx.res.end(codecs[ctx.route.format].streamErrorEvent(error, ctx.requestId, ctx.route.surface, sequence));
}
