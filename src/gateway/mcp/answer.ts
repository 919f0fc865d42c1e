// The MCP gateway's own answers to its client, in the shape MCP gives them: a JSON-RPC result or error in what the
// client's Accept takes, an HTTP-level refusal, a cancelled request's empty answer, a server's failure named by its
// label, and a tools/call's result or refusal as the revision (and call_tool) has it.
import { rpcError, rpcResult, RpcCode, type JsonRpcId } from '../../domain/json-rpc.ts';
import { asEventStream } from '../../domain/mcp-http.ts';
import type { McpServerState } from '../../domain/mcp-server.ts';
import { statelessResult } from '../../domain/mcp-stateless.ts';
import { closeAfterAnswer } from '../../http/client-timeouts.ts';
import type { RequestContext } from '../context.ts';
import { baseHeaders, EXPOSED_HEADERS, type OutHeaders } from '../headers.ts';
import type { Call } from './call.ts';
import type { CallEnded } from './ending.ts';
import { acceptsOf } from './request.ts';
import { SESSION_HEADER } from './session.ts';
import { upstreamFailure } from './upstream.ts';

const EXPOSED = `${EXPOSED_HEADERS}, ${SESSION_HEADER}`;

/**
 * An answer of the gateway's own: a JSON-RPC message over 200 goes as a one-event stream to a client that takes only
 * streams; an HTTP-level refusal (4xx) is JSON whatever the client takes, as the SDKs' servers answer it.
 */
export function answer(ctx: RequestContext, status: number, body: string | undefined, extra?: OutHeaders): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  const headers = baseHeaders(ctx.requestId);
  headers['Access-Control-Expose-Headers'] = EXPOSED;
  if (extra) Object.assign(headers, extra);
  if (body === undefined) {
    headers['content-length'] = 0;
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const stream = status === 200 && !acceptsOf(ctx).json;
  const sent = stream ? asEventStream(body) : body;
  headers['content-type'] = stream ? 'text/event-stream' : 'application/json';
  if (stream) headers['cache-control'] = 'no-cache';
  headers['content-length'] = Buffer.byteLength(sent);
  res.writeHead(status, headers);
  res.end(sent);
}

/** A refusal at the HTTP level (401, 404, 413…), its body a JSON-RPC error as the transport allows. */
export function refuse(ctx: RequestContext, status: number, code: number, message: string, data?: Record<string, unknown>): void {
  // Refused before its body was read (401, an unknown server): the connection closes rather than read the rest, as the
  // model gateway's refusals do.
  if (!ctx.res.headersSent) closeAfterAnswer(ctx.req, ctx.res);
  answer(ctx, status, rpcError(null, code, message, data));
}

/**
 * A cancelled request's answer: nothing. An event stream already open just ends; one not yet begun is an empty one
 * (a request must be answered with JSON or a stream, and the client ignores whatever answers a cancelled request).
 */
export function endEmpty(ctx: RequestContext): void {
  const { res } = ctx;
  if (res.headersSent) {
    if (!res.writableEnded && !res.destroyed) res.end();
    return;
  }
  if (res.destroyed) return;
  writeStreamHead(ctx);
  res.end();
}

/** The head of an answer streamed as events (200, `text/event-stream`, the request id exposed). */
export function writeStreamHead(ctx: RequestContext): void {
  const headers = baseHeaders(ctx.requestId);
  headers['Access-Control-Expose-Headers'] = EXPOSED;
  headers['content-type'] = 'text/event-stream';
  headers['cache-control'] = 'no-cache';
  ctx.res.writeHead(200, headers);
}

/** The JSON-RPC error telling the client why the gateway ended its request; the access line gets its catalog code. */
export function endedError(call: Call, id: JsonRpcId, ended: CallEnded): string {
  if (ended.errorCode !== undefined) call.ctx.errorCode = ended.errorCode;
  return rpcError(id, ended.code, ended.message, ended.data);
}

/** A server that failed, as a JSON-RPC error naming it by label (never its URL or credential). */
export function upstreamError(id: JsonRpcId, error: unknown, server: McpServerState, signal: AbortSignal): string {
  const failure = upstreamFailure(error, server.label, signal);
  return rpcError(id, RpcCode.internal, failure.message, { server: server.label, ...(failure.status > 0 ? { status: failure.status } : {}) });
}

/**
 * A list's result; a stateless one says it is complete and that it is this caller's, not to be kept: it is filtered
 * by the key's allow lists and the account's servers, which change at once.
 */
export function listed(call: Call, result: Record<string, unknown>): Record<string, unknown> {
  return call.stateless ? statelessResult(call.message.method, result, { ttlMs: 0, scope: 'private' }) : result;
}

/** A tools/call's result answered by the gateway (search_tools' own, or an isError one), as the revision has it. */
export function toolResult(call: Call, id: JsonRpcId, result: Record<string, unknown>): void {
  answer(call.ctx, 200, rpcResult(id, call.stateless ? statelessResult(call.message.method, result) : result));
}

/**
 * A tool execution error (MCP 2025-11-25, SEP-1303): arguments a meta-tool does not take are the model's to correct,
 * so they come back as the tool's result, `isError` and a text saying which argument, which reaches the model; a
 * JSON-RPC error is the client's to handle and may never reach it.
 */
export function toolError(call: Call, id: JsonRpcId, text: string): void {
  toolResult(call, id, { content: [{ type: 'text', text }], isError: true });
}

/**
 * A tools/call refused before it reached a server (no such tool, or not allowed for this key): a JSON-RPC error to a
 * direct call, as MCP has an unknown tool; through call_tool, which exists, the name is call_tool's argument, so it is
 * a tool execution error with the same words. Either way the allow list is checked first, so a tool the key may not
 * call reads "not allowed" whether it exists or not.
 */
export function refuseCall(call: Call, id: JsonRpcId, code: number, message: string, data?: Record<string, unknown>): void {
  if (call.viaCallTool) toolError(call, id, message);
  else answer(call.ctx, 200, rpcError(id, code, message, data));
}
