// A loopback TCP proxy in front of PostgreSQL, to play the network between a node and its database: cut silently
// (a partition: packets vanish, nothing is reset), healed, or reset (both sockets closed at once, as a failover or
// a restarted connection pooler does).
import { createServer, connect, type Socket } from 'node:net';

export interface PgProxy { url: string; blackhole(): void; heal(): void; reset(): void; close(): Promise<void> }

export async function startPgProxy(target: string): Promise<PgProxy> {
  const t = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let black = false;
  const server = createServer((client) => {
    client.on('error', () => {});
    if (black) { client.pause(); pairs.add([client, client]); return; }
    const upstream = connect(Number(t.port), t.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    upstream.on('error', () => {});
    client.on('data', (b) => { if (!black) upstream.write(b); });
    upstream.on('data', (b) => { if (!black) client.write(b); });
    client.on('close', () => { upstream.destroy(); pairs.delete(pair); });
    upstream.on('close', () => { client.destroy(); pairs.delete(pair); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  const cut = (): void => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } pairs.clear(); };
  return {
    url: url.toString(),
    blackhole() { black = true; },
    heal() { black = false; },
    reset: cut,
    async close() { black = false; cut(); await new Promise<void>((resolve) => server.close(() => resolve())); },
  };
}
