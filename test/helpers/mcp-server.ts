// MCP servers of the official SDK on loopback, for the MCP gateway's tests: they record what they were sent and judge
// each request's credential.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpHandler, McpServer as McpServerV2 } from '@modelcontextprotocol/server';

export interface Seen { method: string; headers: IncomingHttpHeaders; url: string; body: string }

export interface FakeMcp {
  url: string;
  seen: Seen[];
  /** Forgets every session, as a server restarted or expiring them does: their ids get 404. */
  expireSessions(): void;
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request and judges its credential (a 401 with `challenge`) before `serve` answers it. */
async function recordingServer(allowed: (headers: IncomingHttpHeaders) => boolean, challenge: string | undefined, serve: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Omit<FakeMcp, 'expireSessions'>> {
  const seen: Seen[] = [];
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
      serve(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * An MCP server of the official SDK on loopback, one session per initialize; `allowed` judges each request's credential;
 * `json`: it answers requests with JSON rather than an event stream; `challenge`: the `WWW-Authenticate` of its 401s
 * (an OAuth-protected server's pointer to its protected resource metadata).
 */
export async function startFakeMcp(register: (server: McpServer) => void, allowed: (headers: IncomingHttpHeaders) => boolean, json = false, challenge?: string): Promise<FakeMcp> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const fake = await recordingServer(allowed, challenge, (req, res, body) => {
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
  return { ...fake, expireSessions: () => transports.clear() };
}

export function text(content: string) {
  return { content: [{ type: 'text' as const, text: content }] };
}

/**
 * An MCP server of the official SDK's v2 that speaks only the stateless revision (2026-07-28): `createMcpHandler` with
 * its 2025 serving turned off, a fresh server per request, on loopback through a plain node:http adapter.
 */
export async function startStatelessMcp(register: (server: McpServerV2) => void, allowed: (headers: IncomingHttpHeaders) => boolean): Promise<FakeMcp> {
  const handler = createMcpHandler(() => {
    const mcp = new McpServerV2({ name: 'stateless-fake', version: '2.0.0' }, { instructions: 'Only 2026-07-28 here.' });
    register(mcp);
    return mcp;
  }, { legacy: 'reject' });
  const fake = await recordingServer(allowed, undefined, (req, res, body) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) for (const v of [value ?? []].flat()) headers.append(name, v);
    const request = new Request(`http://127.0.0.1${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, ...(req.method === 'POST' ? { body } : {}) });
    void (async () => {
      const response = await handler.fetch(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of response.body) res.write(chunk);
      res.end();
    })();
  });
  return {
    ...fake,
    expireSessions: () => {},
    close: async () => {
      await handler.close();
      await fake.close();
    },
  };
}
