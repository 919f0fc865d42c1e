// A server's credentials as the gateway holds them: its stored secret (a provider key of the account), and the
// challenge of a server that takes the client's own OAuth token.
import { mcpSecretProvider, type McpServerState } from '../../domain/mcp-server.ts';
import type { AccountSnapshot, ProviderKeyState } from '../../state/types.ts';
import { McpUpstreamError } from './upstream.ts';

/** The server's stored secret: the account's first provider key of provider `mcp:<label>`. */
export function secretOf(account: AccountSnapshot, server: McpServerState): ProviderKeyState {
  const provider = mcpSecretProvider(server.label);
  const stored = account.providerKeysByProvider.get(provider)?.[0];
  if (stored) return stored;
  const unreadable = [...account.unreadableProviderKeys.values()].includes(provider);
  throw new McpUpstreamError(server.label, unreadable
    ? `has a stored secret (provider key ${provider}) this gateway cannot decrypt; the operator must act.`
    : `has no stored secret: add a provider key of provider ${provider}.`);
}

/** A 401 with a challenge from a server that takes the client's own OAuth token: the client's to answer by signing in. */
export function challenged(error: unknown, server: McpServerState): error is McpUpstreamError & { challenge: string[] } {
  return error instanceof McpUpstreamError && error.status === 401 && error.challenge !== undefined && server.auth.type === 'oauthPassthrough';
}
