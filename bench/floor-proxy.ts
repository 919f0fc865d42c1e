// A second reference point: the bare proxy plus only the work that any gateway recording usage durably must do
// per request — and nothing else Tollgate does (no scope, routing rules, failover, credits, metrics, access log,
// cost, header rewriting). Per request: the body is read whole and parsed (routing needs `model`), the attempt is
// noted in an append-only journal before the upstream can see it (one write per turn of the event loop, as
// Tollgate batches), the usage is read from the answer (JSON parse, or the SSE usage event as it passes), the
// finished event is journaled, and every 100 ms the finished events go to SQLite in one transaction (31 columns,
// one prepared statement, as Tollgate's usage table). It answers "how close to the bare proxy can a gateway with
// durable usage get on this machine?" — the ceiling against which the 0.85× budget can be judged.
// Usage: node bench/floor-proxy.ts --upstream=http://127.0.0.1:N --token=T --upstream-key=K --dir=D
import { createServer, type IncomingMessage } from 'node:http';
import { openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import BetterSqlite3 from 'better-sqlite3';

const arg = (name: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';
const upstream = new Pool(arg('upstream'), { connections: null, pipelining: 1, keepAliveTimeout: 60_000 });
const expected = `Bearer ${arg('token')}`;
const upstreamAuth = `Bearer ${arg('upstream-key')}`;

const journal = openSync(join(arg('dir'), 'floor-journal.log'), 'a');
const db = new BetterSqlite3(join(arg('dir'), 'floor.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const COLUMNS = 31;
db.exec(`CREATE TABLE IF NOT EXISTS usage (id TEXT PRIMARY KEY, ${Array.from({ length: COLUMNS - 1 }, (_, i) => `c${i} ${i % 2 ? 'INTEGER' : 'TEXT'}`).join(', ')})`);
const insert = db.prepare(`INSERT INTO usage VALUES (${Array.from({ length: COLUMNS }, () => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`);
const ship = db.transaction((rows: readonly unknown[][]) => { for (const r of rows) insert.run(...r); });

interface Attempt { id: string; requestId: string; model: string; at: string; streaming: boolean }
interface Finished extends Attempt { status: number; input: number; output: number; durationMs: number }

let begun: Attempt[] = [];
let finished: Finished[] = [];
let unshipped: Finished[] = [];
let tick: Promise<void> | undefined;

function commit(): void {
  tick = undefined;
  if (begun.length === 0 && finished.length === 0) return;
  writeSync(journal, `${JSON.stringify([begun, finished])}\n`);
  for (const f of finished) unshipped.push(f);
  begun = [];
  finished = [];
}

/** Durably noted before the upstream sees it; every attempt of one loop turn shares the write. */
function begin(attempt: Attempt): Promise<void> {
  begun.push(attempt);
  return (tick ??= new Promise((resolve) => setImmediate(() => { commit(); resolve(); })));
}

setInterval(() => {
  if (finished.length > 0 && !tick) commit();
  if (unshipped.length === 0) return;
  const rows = unshipped.map((f) => {
    const row: unknown[] = [f.id, f.requestId, f.status, f.model, f.input, f.at, f.output, f.streaming ? 'stream' : 'json', f.durationMs];
    while (row.length < COLUMNS) row.push(row.length % 2 ? row.length : 'x');
    return row;
  });
  unshipped = [];
  ship(rows);
}, 100);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The usage object of an OpenAI answer (JSON) or usage chunk (SSE data line). */
function usageOf(text: string): { prompt_tokens?: number; completion_tokens?: number } | undefined {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const start = text.lastIndexOf('data: ', at);
  const json = start < 0 ? text : text.slice(start + 6, text.indexOf('\n', at) < 0 ? undefined : text.indexOf('\n', at));
  try { return (JSON.parse(json) as { usage?: { prompt_tokens?: number; completion_tokens?: number } }).usage ?? undefined; } catch { return undefined; }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.headers.authorization !== expected) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"unauthorized"}}');
    return;
  }
  void (async () => {
    const started = performance.now();
    const raw = await readBody(req);
    const body = JSON.parse(raw.toString('utf8')) as { model?: string; stream?: boolean };
    const attempt: Attempt = { id: randomUUID(), requestId: randomUUID(), model: String(body.model), at: new Date().toISOString(), streaming: body.stream === true };
    await begin(attempt);
    const answer = await upstream.request({
      method: 'POST', path: req.url ?? '/', body: raw,
      headers: { 'content-type': 'application/json', authorization: upstreamAuth },
    });
    const ct = answer.headers['content-type'];
    res.writeHead(answer.statusCode, typeof ct === 'string' ? { 'content-type': ct } : {});
    const source = answer.body;
    const chunks: Buffer[] = [];
    let usage: ReturnType<typeof usageOf>;
    // Streams are written on chunk by chunk (with backpressure) and scanned as they pass — the usage event is
    // among the last chunks; JSON answers are collected, parsed for usage and sent whole.
    source.on('data', (chunk: Buffer) => {
      if (!attempt.streaming) { chunks.push(chunk); return; }
      if (chunk.includes('"usage"')) usage = usageOf(chunk.toString('utf8')) ?? usage;
      if (!res.write(chunk)) { source.pause(); res.once('drain', () => source.resume()); }
    });
    await new Promise<void>((resolve, reject) => { source.on('end', resolve); source.on('error', reject); });
    if (attempt.streaming) {
      res.end();
    } else {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      usage = usageOf(bytes.toString('utf8'));
      res.end(bytes);
    }
    finished.push({ ...attempt, status: answer.statusCode, input: usage?.prompt_tokens ?? 0, output: usage?.completion_tokens ?? 0, durationMs: performance.now() - started });
  })().catch(() => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"upstream failed"}}');
  });
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { commit(); process.exit(0); });
