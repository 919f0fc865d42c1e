// JSON-RPC 2.0 as MCP's Streamable HTTP transport carries it: one message per POST, answered as JSON or as a stream
// of server-sent events whose `data` are messages.
import { isRecord } from '../../domain/json-value.ts';

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
  /** ngrok's: "tool not allowed for this key". */
  notAllowed: -32003,
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

/**
 * Splits a server-sent event stream into its events' `data` (lines joined with `\n`), fed chunk by chunk. An event
 * larger than `maxEvent` characters is skipped whole: what reads it only looks for the final answer's outcome. Not
 * eventsource-parser (translate/composed.ts): it holds an event whatever its size, and MCP servers are the tenants'.
 */
export class EventData {
  #buffer = '';
  #data: string[] = [];
  #size = 0;
  #skipping = false;

  readonly #maxEvent: number;

  constructor(maxEvent = 1 << 20) {
    this.#maxEvent = maxEvent;
  }

  push(chunk: string, onData: (data: string) => void): void {
    const text = this.#buffer + chunk;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      let line = text.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.#data.length > 0 && !this.#skipping) onData(this.#data.join('\n'));
        this.#data = [];
        this.#size = 0;
        this.#skipping = false;
        continue;
      }
      if (!line.startsWith('data:') || this.#skipping) continue;
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      this.#size += value.length;
      if (this.#size > this.#maxEvent) {
        this.#skipping = true;
        this.#data = [];
        continue;
      }
      this.#data.push(value);
    }
    this.#buffer = text.slice(start);
    if (this.#buffer.length > this.#maxEvent) {
      this.#buffer = '';
      this.#skipping = true;
    }
  }
}
