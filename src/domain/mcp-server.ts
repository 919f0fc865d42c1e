// An MCP server an account registered with its MCP gateway (ngrok's "MCP Gateway", 2026-12-02): agents reach every
// registered server through one URL with their access key; the gateway lists the tools the key may call, named
// `<label>__<tool>`, swaps the access key for the server's own credential, and forwards each call. The control plane
// validates and stores these; the snapshot carries them; the data plane serves them. ngrok's control-plane schema
// could not be read: the field names here are our own (`x-inferred` in the spec).

/**
 * How the gateway authenticates to the server: `none`; `secret`, the account's stored secret (a provider key of
 * provider `mcp:<label>`, as ngrok keeps it) in a header or a query parameter; `forwardHeaders`, the named headers
 * copied from the client's request; `oauthPassthrough`, the client's own `Authorization` passed through unchanged.
 */
export type McpAuthType = 'none' | 'secret' | 'forwardHeaders' | 'oauthPassthrough';

export interface McpServerAuth {
  type: McpAuthType;
  /** `secret` only: where the secret goes. */
  in?: 'header' | 'query';
  /** `secret` only: the header or query parameter's name (e.g. `Authorization`, `api_key`). */
  name?: string;
  /** `secret` in a header only: written before the secret (e.g. `Bearer `). */
  prefix?: string;
  /** `forwardHeaders` only: the client's headers copied upstream (never the access key's). */
  headers?: readonly string[];
}

export interface McpServerState {
  /** Resource id (`aigmcp_…`); its per-server gateway path is `/s-<id>`. */
  id: string;
  /** Unique per account; prefixes its tools on the aggregate endpoint (`<label>__<tool>`) and names its secret's provider (`mcp:<label>`). */
  label: string;
  /** The server's Streamable HTTP endpoint. */
  upstreamUrl: string;
  auth: McpServerAuth;
}

/** The provider id under which a server's secret is stored as a provider key. */
export function mcpSecretProvider(label: string): string {
  return `mcp:${label}`;
}

/** The label a provider id names a server's secret for (`mcp:<label>`), or undefined for a model provider's id. */
export function mcpLabelOf(providerId: string): string | undefined {
  return providerId.startsWith('mcp:') ? providerId.slice('mcp:'.length) : undefined;
}

/** Separates a server's label from its tool's name on the aggregate endpoint. Labels may not contain it. */
export const MCP_TOOL_SEPARATOR = '__';

/** A server's tool as the aggregate endpoint names it: `<label>__<tool>`. */
export function aggregateToolName(label: string, tool: string): string {
  return `${label}${MCP_TOOL_SEPARATOR}${tool}`;
}
