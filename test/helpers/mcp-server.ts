// An MCP server of the official SDK on loopback, for the MCP gateway's tests: it records what it was sent and judges
// each request's credential.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface Seen { method: string; headers: IncomingHttpHeaders; url: string; body: string }

export interface FakeMcp {
  url: string;
  seen: Seen[];
  /** Forgets every session, as a server restarted or expiring them does: their ids get 404. */
  expireSessions(): void;
  close(): Promise<void>;
}

/**
 * An MCP server of the official SDK on loopback, one session per initialize; `allowed` judges each request's credential;
 * `json`: it answers requests with JSON rather than an event stream; `challenge`: the `WWW-Authenticate` of its 401s
 * (an OAuth-protected server's pointer to its protected resource metadata).
 */
export async function startFakeMcp(register: (server: McpServer) => void, allowed: (headers: IncomingHttpHeaders) => boolean, json = false, challenge?: string): Promise<FakeMcp> {
  const seen: Seen[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', headers: req.headers, url: req.url ?? '', body });
      if (!allowed(req.headers)) {
        res.writeHead(401, { 'content-type': 'application/json', ...(challenge ? { 'www-authenticate': challenge } : {}) }).end('{"error":"unauthorized"}');
        return;
      }
      const parsed: unknown = body ? JSON.parse(body) : undefined;
      const sid = req.headers['mcp-session-id'];
      if (typeof sid === 'string') {
        const transport = transports.get(sid);
        if (!transport) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
          return;
        }
        void transport.handleRequest(req, res, parsed);
        return;
      }
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, enableJsonResponse: json, onsessioninitialized: (id) => { transports.set(id, transport); } });
      const mcp = new McpServer({ name: 'fake', version: '1.0.0' });
      register(mcp);
      void mcp.connect(transport).then(() => transport.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    seen,
    expireSessions: () => transports.clear(),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export function text(content: string) {
  return { content: [{ type: 'text' as const, text: content }] };
}
