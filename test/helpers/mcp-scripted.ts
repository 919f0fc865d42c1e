// MCP servers scripted by hand as plain HTTP, for the MCP gateway's tests where a server must misbehave, answer late
// or be watched exactly (its DELETEs): each records every request it was sent.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const TOOLS = [{ name: 'search', inputSchema: { type: 'object' } }, { name: 'admin_delete', inputSchema: { type: 'object' } }];

export interface Message { jsonrpc: '2.0'; id?: string | number | null; method?: string; params?: Record<string, unknown> }
export interface Seen { method: string; headers: IncomingHttpHeaders; body: string; message: Message | undefined }
/** How the scripted server answers a tools/call (or any method but initialize, notifications and tools/list). */
export type OnCall = (message: Message, res: ServerResponse, req: IncomingMessage) => void;

export interface Scripted {
  url: string;
  seen: Seen[];
  onCall: OnCall;
  /** Called with each initialize's answer: by default sends it at once; a test holding it sends it later. */
  onInitialize: (answer: () => void) => void;
  close(): Promise<void>;
}

export const json = (res: ServerResponse, body: unknown, headers: Record<string, string> = {}) => res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
export const sse = (messages: unknown[]) => messages.map((m) => `event: message\ndata: ${JSON.stringify(m)}\n\n`).join('');

/** An MCP server scripted by hand: initialize issues a fresh session id each time; tools/list lists TOOLS. */
export async function startScripted(): Promise<Scripted> {
  let sessions = 0;
  const scripted: Scripted = {
    url: '', seen: [],
    onCall: (m, res) => json(res, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'ok' }] } }),
    onInitialize: (answer) => answer(),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      let message: Message | undefined;
      try { message = body ? JSON.parse(body) as Message : undefined; } catch { message = undefined; }
      scripted.seen.push({ method: req.method ?? '', headers: req.headers, body, message });
      if (req.method === 'DELETE' || message?.method?.startsWith('notifications/') || message?.method === undefined) return void res.writeHead(202).end();
      if (message.method === 'initialize') {
        const id = `sess-${++sessions}`;
        return scripted.onInitialize(() => json(res, { jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'scripted', version: '1' } } }, { 'mcp-session-id': id }));
      }
      if (message.method === 'tools/list') return json(res, { jsonrpc: '2.0', id: message.id, result: { tools: TOOLS } });
      scripted.onCall(message, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scripted.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return scripted;
}
