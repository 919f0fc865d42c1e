// The fake OpenAI upstream every target proxies to. It answers instantly and does as little as possible so
// that the figures measure the gateway, not the provider: canned bodies built once, no JSON parsing.
// `POST /__bench/config` switches streaming into slow mode for the memory soak (1,000 slow streams); a control
// endpoint rather than a request header because gateways may drop or rewrite headers and bodies.
// Usage: node bench/upstream.ts [--port=N]   prints one line `{"port":N}` on stdout when listening.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const created = 1_767_225_600;
const usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };

const chatJson = Buffer.from(JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage, system_fingerprint: 'fp_bench',
}));

function sseEvent(delta: Record<string, unknown>, finish: string | null, withUsage = false): Buffer {
  const chunk = {
    id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_bench',
    choices: withUsage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(withUsage ? { usage } : {}),
  };
  return Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`);
}

// A handful of chunks as OpenAI sends them with stream_options.include_usage: role, content pieces, finish,
// the usage chunk (empty choices), then [DONE].
const contentPieces = ['Hello', '!', ' How', ' can', ' I', ' help', '?'];
const streamHead = sseEvent({ role: 'assistant', content: '', refusal: null }, null);
const streamPieces = contentPieces.map((p) => sseEvent({ content: p }, null));
const streamTail = [sseEvent({}, 'stop'), sseEvent({}, null, true), Buffer.from('data: [DONE]\n\n')];
const streamAll = Buffer.concat([streamHead, ...streamPieces, ...streamTail]);

const jsonHeaders = { 'content-type': 'application/json', 'content-length': String(chatJson.length) };
const sseHeaders = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** Slow mode: one content event every `intervalMs`, `events` of them. 0 = instant (the default). */
const slow = { intervalMs: 0, events: 20 };
let served = 0;
// Streams open at once (slow mode), and the most seen: shows whether a gateway really held N streams open
// upstream or queued them behind a connection cap.
let openStreams = 0;
let peakOpenStreams = 0;

function respond(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  served++;
  // The credential check proves the gateway injected the provider key; it is all the "auth" we do.
  if (req.headers.authorization === undefined) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"missing key","type":"invalid_request_error"}}');
    return;
  }
  // A byte search, not JSON.parse: `"stream":true` (any spacing) is what turns streaming on.
  const streaming = /"stream"\s*:\s*true/.test(body.toString('latin1'));
  if (!streaming) {
    res.writeHead(200, jsonHeaders).end(chatJson);
    return;
  }
  res.writeHead(200, sseHeaders);
  if (slow.intervalMs <= 0) {
    res.end(streamAll);
    return;
  }
  res.write(streamHead);
  openStreams++;
  if (openStreams > peakOpenStreams) peakOpenStreams = openStreams;
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < slow.events) {
      res.write(streamPieces[sent % streamPieces.length]);
      sent++;
      return;
    }
    clearInterval(timer);
    for (const b of streamTail) res.write(b);
    res.end();
  }, slow.intervalMs);
  res.on('close', () => {
    clearInterval(timer);
    openStreams--;
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const url = req.url ?? '/';
    if (req.method === 'POST' && url.endsWith('/chat/completions')) return respond(req, res, body);
    if (req.method === 'POST' && url === '/__bench/config') {
      const cfg = JSON.parse(body.toString('utf8') || '{}') as { intervalMs?: unknown; events?: unknown };
      if (typeof cfg.intervalMs === 'number') slow.intervalMs = cfg.intervalMs;
      if (typeof cfg.events === 'number') slow.events = cfg.events;
      const reply = JSON.stringify({ ...slow, served, openStreams, peakOpenStreams });
      // Each configuration starts a new observation window for the peak.
      peakOpenStreams = openStreams;
      res.writeHead(200, { 'content-type': 'application/json' }).end(reply);
      return;
    }
    if (url === '/healthz' || url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
  });
});
// Many slow streams at once: no per-server connection cap and no request timeout getting in the way.
server.maxConnections = 100_000;
server.requestTimeout = 0;
server.headersTimeout = 0;

const portArg = process.argv.find((a) => a.startsWith('--port='));
server.listen(portArg ? Number(portArg.slice(7)) : 0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
