// The reference point: the least a gateway can do — node:http in, undici Pool out, a bearer check, bodies
// piped both ways untouched. The budget says Tollgate must reach 85 % of this proxy's throughput.
// Usage: node bench/bare-proxy.ts --upstream=http://127.0.0.1:N --token=T --upstream-key=K
import { createServer } from 'node:http';
import { Pool } from 'undici';

const arg = (name: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';
const upstream = new Pool(arg('upstream'), { connections: null, pipelining: 1, keepAliveTimeout: 60_000 });
const expected = `Bearer ${arg('token')}`;
const upstreamAuth = `Bearer ${arg('upstream-key')}`;

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.headers.authorization !== expected) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"unauthorized"}}');
    return;
  }
  upstream.request({
    method: 'POST', path: req.url ?? '/', body: req,
    headers: { 'content-type': req.headers['content-type'] ?? 'application/json', authorization: upstreamAuth },
  }).then(({ statusCode, headers, body }) => {
    const ct = headers['content-type'];
    res.writeHead(statusCode, typeof ct === 'string' ? { 'content-type': ct } : {});
    body.pipe(res);
  }, () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"upstream failed"}}');
  });
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
