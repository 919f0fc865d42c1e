// Why the MCP gateway ends a request still running before its server answered (gateway-behaviour.md "MCP gateway",
// "Calls that end under way"): what it ran under ended — the client's session, the access key, the server — or the
// key may no longer make it. Each is what its client is told, in the JSON answer or as its stream's last event.
import { RpcCode } from '../../domain/json-rpc.ts';
import { mcpSecretProvider, type McpServerState } from '../../domain/mcp-server.ts';
import type { AccountSnapshot } from '../../state/types.ts';
import { unknownKey } from '../authenticate.ts';

/** A request's end, as the reason its signal is aborted with. */
export class CallEnded {
  readonly code: number;
  readonly message: string;
  readonly data: Record<string, unknown> | undefined;
  /** The error catalog's code, for the access line. */
  readonly errorCode: string | undefined;

  constructor(code: number, message: string, data?: Record<string, unknown>, errorCode?: string) {
    this.code = code;
    this.message = message;
    this.data = data;
    this.errorCode = errorCode;
  }
}

export const sessionEnded = (server: McpServerState): CallEnded => new CallEnded(RpcCode.internal, `The MCP session ended while MCP server "${server.label}" was answering: the request was stopped.`, { server: server.label });

/** As a request with the key is refused now (401 ERR_NGROK_27201), in the JSON-RPC error the transport still allows. */
export function keyDeleted(server: McpServerState): CallEnded {
  const refused = unknownKey();
  return new CallEnded(RpcCode.unauthorized, refused.message, { errorCode: refused.code, server: server.label }, refused.code);
}

export const serverDeleted = (server: McpServerState): CallEnded => new CallEnded(RpcCode.internal, `MCP server "${server.label}" was deleted from the account while it was answering: the request was stopped.`, { server: server.label });
export const serverChanged = (server: McpServerState): CallEnded => new CallEnded(RpcCode.internal, `MCP server "${server.label}" was changed (its URL or credential) while it was answering: the request was stopped; retry it.`, { server: server.label });

/** As the request would be refused now: a tools/call with ngrok's -32003 words, another with a server's own endpoint's. */
export function notAllowed(server: McpServerState, tool: string | undefined): CallEnded {
  return new CallEnded(RpcCode.notAllowed, tool === undefined ? `MCP server "${server.label}" is not allowed for this key.` : 'tool not allowed for this key');
}

/**
 * How the server a session or request used stands in the account's new snapshot: deleted; changed (another URL or
 * auth, or — `secret`, the stored secret it was sent with — another first stored secret); or as it was.
 */
export function serverChange(now: AccountSnapshot, was: McpServerState, secret: string | undefined): 'deleted' | 'changed' | undefined {
  const server = now.mcpServers.get(was.id);
  if (!server) return 'deleted';
  if (server.upstreamUrl !== was.upstreamUrl || JSON.stringify(server.auth) !== JSON.stringify(was.auth)) return 'changed';
  if (server.auth.type === 'secret' && secret !== undefined && secret !== now.providerKeysByProvider.get(mcpSecretProvider(server.label))?.[0]?.value) return 'changed';
  return undefined;
}
