// `node bench/alloc.ts`: bytes Tollgate allocates per request, by site. Allocation is what garbage collection costs
// and, unlike CPU time on a shared VM, it does not depend on what else the machine is doing, so a change that trims
// the request path can be measured to a few bytes.
//
// Tollgate is started exactly as the benchmark starts it (bench/lib/tollgate.ts: composition root, V8 flags, SQLite
// store, provisioning through the control plane) against the instant fake upstream, plus `--inspect` on loopback.
// For each mode, after a warm-up (optimised code allocates less than the first calls: 48 KB a JSON request after
// 500, 36 KB after 20,000 and no less after 60,000), V8's sampling heap profiler runs over exactly N requests driven
// from this process, counting objects that scavenges and full collections already freed; its sizes are V8's unbiased
// estimates from Poisson samples (mean interval --interval bytes). Two runs of one build agree within ~2 % (the JIT's
// timing, and how many requests share a usage-journal commit, vary a little); the machine's load does not enter.
// An idle window of the same length is sampled too: what timers allocate with no traffic.
//
//   node bench/alloc.ts                          JSON and streaming: 20,000 requests of warm-up, 3,000 measured
//   node bench/alloc.ts --baseline=REF           also Tollgate as of git REF, in columns beside this checkout's
// Options: --requests=N  --warmup=N  --connections=N  --modes=json,stream  --interval=BYTES  --top=N  --json=FILE
//          --profiles=DIR (the sampled profiles as .heapprofile files, which Chrome DevTools' Memory tab opens)
// Sizes are per function, not per line or object, and a function the JIT inlined counts as its caller. A sample's own
// `size` is not its object's (V8 reports about the sampling interval more), but the sums are right: a loop allocating
// one 40-byte object and a growing array reads ~69 B per iteration at intervals from 128 B to 32 KB.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, request, WebSocket } from 'undici';
import { probe, type Endpoint } from './lib/clients.ts';
import { frameSource } from './lib/frames.ts';
import { freePort, killAllChildrenNow, runMain, stopAllChildren, stopChild, waitFor } from './lib/system.ts';
import type { Mode } from './lib/report.ts';
import { baselineTree, BODY_JSON, BODY_STREAM, bodyFor, ROOT, startTollgateTarget, startUpstream, type Running } from './lib/tollgate.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const num = (name: string, fallback: number): number => {
  const n = Number(opt(name) ?? fallback);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const settings = {
  requests: num('requests', 3_000),
  warmup: num('warmup', 20_000),
  connections: num('connections', 8),
  // 128 bytes: ~800,000 samples over 3,000 requests of ~35 KB, so a 1 KB site is estimated within ~1 %.
  interval: num('interval', 128),
  top: num('top', 25),
  modes: (opt('modes') ?? 'json,stream').split(',').map((m) => {
    if (m !== 'json' && m !== 'stream') throw new Error(`--modes: unknown "${m}" (json, stream)`);
    return m as Mode;
  }),
  baseline: opt('baseline'),
  json: opt('json'),
  profiles: opt('profiles'),
};
const log = (line: string): void => { process.stderr.write(`alloc: ${line}\n`); };

// ------------------------------------------------------------------------------ the inspector (CDP over WS)
interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { callFrame: CallFrame; selfSize: number; id: number; children: ProfileNode[] }
interface SamplingProfile { head: ProfileNode; samples: { size: number; nodeId: number; ordinal: number }[] }

class Inspector {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.#pending.get(msg.id);
      if (!waiter) return;
      this.#pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = await waitFor('inspector', async () => {
      try {
        const r = await request(`http://127.0.0.1:${port}/json/list`);
        return (await r.body.json()) as { webSocketDebuggerUrl: string }[];
      } catch { return undefined; }
    }, 10_000);
    const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error('inspector: WebSocket failed')), { once: true });
    });
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.#pending.set(id, { resolve: (v) => resolve(v as T), reject }));
  }

  close(): void { this.#ws.close(); }
}

// --------------------------------------------------------------------------------------------- load
/** Exactly `n` requests over `connections` kept-alive connections; each answer must be the upstream's, whole. */
async function drive(ep: Endpoint, mode: Mode, n: number, connections: number): Promise<void> {
  const pool = new Pool(ep.origin, { connections });
  const body = bodyFor(mode);
  let started = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      const res = await pool.request({ method: 'POST', path: ep.path, headers: ep.headers, body });
      const text = await res.body.text();
      const whole = mode === 'json' ? text.includes('"usage"') : text.includes('data: [DONE]');
      if (res.statusCode !== 200 || !whole) failed++;
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    await pool.close();
  }
  // Errors take another path and allocate differently: a run with any is no measurement of the plain path.
  if (failed > 0) throw new Error(`${failed} of ${n} ${mode} requests did not get the upstream's answer`);
}

// ----------------------------------------------------------------------------------------- analysis
const source = (url: string): string => frameSource(url, ROOT);
/** A baseline runs from an extracted tree elsewhere: its files are named as this checkout's so sites line up. */
function ownPath(url: string, root: string): string | undefined {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(join(root, 'src')) ? relative(root, path) : undefined;
}
const site = (f: CallFrame, root: string): string =>
  `${f.functionName || '(anonymous)'} ${ownPath(f.url, root) ?? source(f.url)}:${f.lineNumber + 1}`;

interface Breakdown { total: number; bySite: Map<string, number>; byOwnFrame: Map<string, number>; bySource: Map<string, number> }

function breakdown(profile: SamplingProfile, root: string): Breakdown {
  const out: Breakdown = { total: 0, bySite: new Map(), byOwnFrame: new Map(), bySource: new Map() };
  const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v); };
  // Depth-first with the nearest frame of ours on the stack, so node's and packages' allocations are charged to the
  // Tollgate code that caused them (header objects to the function that set the headers).
  const walk = (node: ProfileNode, own: string | undefined): void => {
    const here = ownPath(node.callFrame.url, root) !== undefined ? site(node.callFrame, root) : own;
    if (node.selfSize > 0) {
      out.total += node.selfSize;
      add(out.bySite, site(node.callFrame, root), node.selfSize);
      add(out.byOwnFrame, here ?? `(no src/ frame) ${ownPath(node.callFrame.url, root) ?? source(node.callFrame.url)}`, node.selfSize);
      add(out.bySource, ownPath(node.callFrame.url, root) ?? source(node.callFrame.url), node.selfSize);
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, undefined);
  return out;
}

interface Measured { target: string; version: string; mode: Mode; requests: number; bytesPerRequest: number; idleBytesPerSecond: number; seconds: number; breakdown: Breakdown }

async function sample(inspector: Inspector, during: () => Promise<void>): Promise<{ profile: SamplingProfile; seconds: number }> {
  await inspector.call('HeapProfiler.startSampling', {
    samplingInterval: settings.interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  });
  const t0 = performance.now();
  await during();
  const seconds = (performance.now() - t0) / 1000;
  const { profile } = await inspector.call<{ profile: SamplingProfile }>('HeapProfiler.stopSampling');
  return { profile, seconds };
}

async function measureTarget(t: Running, inspector: Inspector, root: string): Promise<Measured[]> {
  await inspector.call('HeapProfiler.enable');
  const out: Measured[] = [];
  for (const mode of settings.modes) {
    log(`${t.version} ${mode}: warm-up ${settings.warmup}, then ${settings.requests} measured requests at ${settings.connections} connections`);
    await drive(t.ep, mode, settings.warmup, settings.connections);
    const loaded = await sample(inspector, () => drive(t.ep, mode, settings.requests, settings.connections));
    // Let the last requests' usage reach the journal before the idle window starts.
    await sleep(200);
    const idle = await sample(inspector, () => sleep(Math.max(1, loaded.seconds) * 1000));
    const b = breakdown(loaded.profile, root);
    if (settings.profiles) {
      mkdirSync(settings.profiles, { recursive: true });
      writeFileSync(join(settings.profiles, `${t.id}-${mode}.heapprofile`), JSON.stringify(loaded.profile));
    }
    out.push({
      target: t.id, version: t.version, mode, requests: settings.requests, seconds: loaded.seconds, breakdown: b,
      bytesPerRequest: b.total / settings.requests,
      idleBytesPerSecond: breakdown(idle.profile, root).total / idle.seconds,
    });
  }
  return out;
}

// --------------------------------------------------------------------------------------------- report
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const perReq = (bytes: number, m: Measured): string => `${Math.round(bytes / m.requests).toLocaleString('en-US').padStart(6)} B`;

type Grouping = 'bySite' | 'byOwnFrame' | 'bySource';

/** One column per build (this checkout, the baseline); rows are each build's top sites, ordered by the first build. */
function table(grouping: Grouping, ms: Measured[]): string[] {
  const keys = new Set<string>();
  for (const m of ms) for (const [k] of [...m.breakdown[grouping]].sort((a, b) => b[1] - a[1]).slice(0, settings.top)) keys.add(k);
  const get = (m: Measured, k: string): number => m.breakdown[grouping].get(k) ?? 0;
  const sorted = [...keys].sort((a, b) => get(ms[0]!, b) - get(ms[0]!, a) || get(ms.at(-1)!, b) - get(ms.at(-1)!, a));
  return sorted.map((k) => `  ${ms.map((m) => perReq(get(m, k), m)).join('  ')}  ${k}`);
}

function report(all: Measured[]): string {
  const lines: string[] = [];
  for (const mode of settings.modes) {
    const ms = all.filter((m) => m.mode === mode);
    if (ms.length === 0) continue;
    lines.push('', `== ${mode === 'json' ? 'JSON' : 'streaming'} chat request: bytes allocated per request (columns: ${ms.map((m) => m.version).join(' | ')})`);
    for (const m of ms) {
      lines.push(`${m.version}: ${Math.round(m.bytesPerRequest).toLocaleString('en-US')} B (${kb(m.bytesPerRequest)}) per request over ${m.requests.toLocaleString('en-US')} requests in ${m.seconds.toFixed(1)} s; idle: ${kb(m.idleBytesPerSecond)}/s`);
    }
    lines.push('', 'by the nearest Tollgate frame on the stack (what node and packages allocate is charged to the caller in src/):', ...table('byOwnFrame', ms));
    lines.push('', 'by allocating function (self):', ...table('bySite', ms));
    lines.push('', 'by source of the allocating function:', ...table('bySource', ms));
  }
  return lines.join('\n');
}

// ----------------------------------------------------------------------------------------------- main
const work = mkdtempSync(join(tmpdir(), 'tollgate-alloc-'));
process.on('exit', () => {
  killAllChildrenNow();
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void stopAllChildren().finally(() => process.exit(130)); });

async function main(): Promise<number> {
  const upstream = await startUpstream();
  const builds: { id: 'tollgate' | 'baseline'; root: string; version?: string }[] = [{ id: 'tollgate', root: ROOT }];
  if (settings.baseline !== undefined) {
    const tree = baselineTree(settings.baseline, work);
    builds.push({ id: 'baseline', root: tree.root, version: tree.version });
  }
  const measured: Measured[] = [];
  // One build at a time: the figures do not depend on the machine, so nothing is gained by interleaving.
  for (const b of builds) {
    const port = await freePort();
    const t = await startTollgateTarget({ upstream: upstream.ep, work, id: b.id, root: b.root, ...(b.version ? { version: b.version } : {}), nodeArgs: [`--inspect=127.0.0.1:${port}`] });
    if (!('child' in t)) throw new Error(`${b.id} ${t.status}: ${t.reason}`);
    const inspector = await Inspector.connect(port);
    try {
      await probe(t.ep, BODY_JSON, false);
      await probe(t.ep, BODY_STREAM, true);
      measured.push(...await measureTarget(t, inspector, b.root));
    } finally {
      inspector.close();
      await stopChild(t.child);
    }
  }
  console.log(report(measured));
  if (settings.json) {
    const plain = measured.map((m) => ({
      ...m, breakdown: {
        total: m.breakdown.total, bySite: Object.fromEntries(m.breakdown.bySite), byOwnFrame: Object.fromEntries(m.breakdown.byOwnFrame), bySource: Object.fromEntries(m.breakdown.bySource),
      },
    }));
    writeFileSync(settings.json, JSON.stringify({ settings, measured: plain }, null, 2) + '\n');
  }
  return 0;
}

await runMain(main, log);
