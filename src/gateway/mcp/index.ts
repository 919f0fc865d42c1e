// The MCP gateway's endpoint (gateway-behaviour.md "MCP gateway"; ngrok's MCP Gateway, 2026-12-02): `POST /mcp`, every
// server the access key may reach with its tools named `<label>__<tool>`, and `POST /mcp/s-<id>`, one server with its
// tools as the server names them (on an `mcp.` host, `/` and `/s-<id>`); the 2025 revisions with sessions and the
// stateless 2026-07-28 one (domain/mcp-stateless.ts) on the same URLs; `?tools=search` on the aggregate endpoint
// lists two tools that search and call the others (search.ts). The gateway answers initialize, server/discover,
// ping and tools/list itself; it forwards tools/call (and, on a server's own endpoint, whatever else the client asks) to the
// server with the server's credential in place of the access key, and relays the answer as it arrives, in what the
// client's Accept takes. A request still running ends when its session, its key or its server does (ending.ts). Every
// tools/call is recorded in usage, allowed, refused or failed.
//
// The modules: gateway.ts (McpGateway: authentication, the answers it gives itself, forwarding and relaying, client
// sessions, usage), session.ts (a client session's names and limits), request.ts (what a request's headers say),
// call.ts (a request as it is served, and one forwarded), budget.ts (its time limits and what ended it), answer.ts
// (the gateway's own answers in MCP's shape), relay.ts (what relaying a server's answer takes), usage.ts (a
// tools/call's attempt and outcome), credentials.ts (a server's stored secret and challenge); search.ts (tool search),
// upstream.ts (the gateway as an MCP client of each server), access.ts (the allow lists), jsonrpc.ts (messages and
// event streams), ending.ts (why a request still running is ended).
export { McpGateway, type McpGatewayOptions } from './gateway.ts';
export { MCP_PROTOCOL_VERSIONS } from './session.ts';
