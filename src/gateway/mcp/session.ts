// A client's session with the MCP gateway (Streamable HTTP's `Mcp-Session-Id`): the revisions it is opened in, what
// initialize names the gateway, what a session id may be, and whose upstream sessions a request without one uses.
/** Streamable HTTP revisions the gateway speaks to its clients, newest first. */
export const MCP_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;
export const SERVER_INFO = { name: 'tollgate-mcp-gateway', title: 'Tollgate MCP gateway', version: '1.0.0' };
export const SESSION_HEADER = 'Mcp-Session-Id';
/** What a session id may be (Streamable HTTP: visible ASCII); one taken up from a client is held to this. */
export const SESSION_ID = /^[\x21-\x7e]{1,128}$/;
/**
 * Whose upstream sessions and calls a key's requests without a session are: spelt with a space, which no session id
 * holds, so no id a client presents (another account's, knowing this key's id) names them — such an id had cancelled
 * the key's running calls and ended its servers' sessions.
 */
export const keyOwner = (accessKeyId: string): string => `key ${accessKeyId}`;

export interface ClientSession { keyId: string; accountId: string; lastUsed: number }
