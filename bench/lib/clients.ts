// Small undici clients the harness uses besides the load generator: a correctness probe per target (a
// benchmark of a gateway that answers errors quickly would be meaningless), the time-to-first-byte loop, the
// 1,000 slow streams of the soak, and JSON calls to the control plane.
import { Client, Pool, request } from 'undici';
import { median } from './system.ts';

export interface Endpoint {
  origin: string;
  path: string;
  headers: Record<string, string>;
}

export async function jsonCall<T>(url: string, method: 'GET' | 'POST', token: string, body?: unknown): Promise<{ status: number; body: T; text: string }> {
  const res = await request(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headersTimeout: 10_000, bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  let parsed: unknown = undefined;
  try { parsed = JSON.parse(text); } catch { /* not JSON: the caller reports text */ }
  return { status: res.statusCode, body: parsed as T, text };
}

/** One request of each mode must succeed with the upstream's answer before a target is measured. */
export async function probe(ep: Endpoint, body: string, streaming: boolean): Promise<void> {
  const res = await request(ep.origin + ep.path, { method: 'POST', headers: ep.headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${streaming ? 'stream' : 'JSON'} probe answered ${res.statusCode}: ${text.slice(0, 300)}`);
  const ok = streaming ? text.includes('data: [DONE]') && text.includes('"usage"') : text.includes('"chat.completion"') && text.includes('"usage"');
  if (!ok) throw new Error(`${streaming ? 'stream' : 'JSON'} probe got an unexpected body: ${text.slice(0, 300)}`);
}

/**
 * Median time from sending a streaming request to its first body byte, over `n` sequential requests on one
 * kept-alive connection (after `warmup` unmeasured ones). Sequential on purpose: this is latency, not load.
 */
export async function ttfbMedianMs(ep: Endpoint, body: string, n: number, warmup: number): Promise<number> {
  const client = new Client(ep.origin, { keepAliveTimeout: 30_000 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + n; i++) {
      const t0 = process.hrtime.bigint();
      const res = await client.request({ method: 'POST', path: ep.path, headers: ep.headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
      let first: bigint | undefined;
      for await (const _chunk of res.body) {
        first ??= process.hrtime.bigint();
      }
      if (res.statusCode !== 200) throw new Error(`TTFB request answered ${res.statusCode}`);
      if (i >= warmup && first !== undefined) samples.push(Number(first - t0) / 1e6);
    }
  } finally {
    await client.close();
  }
  return median(samples);
}

export interface SlowStreamsResult {
  streams: number;
  completed: number;
  failed: number;
  seconds: number;
  rssBeforeMb: number;
  peakRssMb: number;
  samples: { tMs: number; rssMb: number }[];
}

/** Opens `count` streams at once and samples the server's RSS while they trickle; bounded by `timeoutMs`. */
export async function slowStreams(ep: Endpoint, body: string, count: number, timeoutMs: number, sampleRss: () => number): Promise<SlowStreamsResult> {
  const pool = new Pool(ep.origin, { connections: count, keepAliveTimeout: 5_000 });
  const rssBeforeMb = sampleRss();
  const samples: { tMs: number; rssMb: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    try { samples.push({ tMs: Date.now() - started, rssMb: sampleRss() }); } catch { /* process gone: reported by the streams */ }
  }, 100);
  const abort = new AbortController();
  const guard = setTimeout(() => abort.abort(), timeoutMs);
  let completed = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: count }, async () => {
    try {
      const res = await pool.request({ method: 'POST', path: ep.path, headers: ep.headers, body, signal: abort.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      const text = await res.body.text();
      if (res.statusCode === 200 && text.includes('[DONE]')) completed++;
      else failed++;
    } catch {
      failed++;
    }
  }));
  clearTimeout(guard);
  clearInterval(sampler);
  samples.push({ tMs: Date.now() - started, rssMb: sampleRss() });
  await pool.destroy();
  return {
    streams: count, completed, failed, seconds: (Date.now() - started) / 1000, rssBeforeMb,
    peakRssMb: Math.max(rssBeforeMb, ...samples.map((s) => s.rssMb)), samples,
  };
}
