// JSON-RPC 2.0 messages as MCP carries them: both MCP endpoints (the gateway's, in front of tenants' servers, and the
// control plane's own) read and write them with these.
import { isRecord } from './json-value.ts';

export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** Codes the gateway answers with itself: JSON-RPC's, and MCP gateway ones (ngrok's -32003). */
export const RpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /**
   * The access key is missing or unknown, or an OAuth-passthrough server wants the client signed in
   * (implementation-defined range, -32000…-32019).
   */
  unauthorized: -32001,
  /**
   * A POST whose media types the transport refuses: a Content-Type not application/json (HTTP 415), an Accept taking
   * no answer it has (HTTP 406). The official SDK's server's code for both.
   */
  mediaType: -32000,
  /** ngrok's: "tool not allowed for this key". */
  notAllowed: -32003,
  /** MCP 2026-07-28: a request's headers contradict its body (HTTP 400). */
  headerMismatch: -32020,
  /** MCP 2026-07-28: a revision the server does not speak (HTTP 400), with the ones it does. */
  unsupportedProtocolVersion: -32022,
} as const;

export function rpcError(id: JsonRpcId | null | undefined, code: number, message: string, data?: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: data === undefined ? { code, message } : { code, message, data } });
}

export function rpcResult(id: JsonRpcId, result: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/** The message, or undefined when `v` is not one JSON-RPC 2.0 message (a batch is not: MCP dropped them in 2025-06-18). */
export function asMessage(v: unknown): JsonRpcMessage | undefined {
  if (!isRecord(v) || v.jsonrpc !== '2.0') return undefined;
  if (v.method !== undefined && typeof v.method !== 'string') return undefined;
  if (v.params !== undefined && !isRecord(v.params)) return undefined;
  if (v.id !== undefined && v.id !== null && typeof v.id !== 'string' && typeof v.id !== 'number') return undefined;
  return v as unknown as JsonRpcMessage;
}

export function parseMessage(text: string): JsonRpcMessage | undefined {
  try {
    return asMessage(JSON.parse(text));
  } catch {
    return undefined;
  }
}
