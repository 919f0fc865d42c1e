// `npm run bench`: Tollgate side by side with a bare node:http + undici proxy and the Portkey gateway, in ONE
// run on loopback, against an instant fake upstream. Each server under test is pinned to one core and the load
// generator (wrk) to the other, so the figures compare gateways rather than schedulers.
//
//   npm run bench                    full table: 5 s × 3 repeats per point, medians; writes bench/results/<date>.* (<date>T<HHMM>.* for a later run that day)
//   npm run bench -- --soak          also the memory soak (≥ 1,000,000 requests; 1,000 concurrent slow streams)
//   npm run bench -- --smoke         ~1 s per point, tiny loads; proves the harness works (CI), no figure asserted
//   npm run bench -- --profile       also a V8 CPU profile of Tollgate (bench/results/tmp/profiles; node bench/profile.ts)
//   npm run bench -- --baseline=REF  also Tollgate as of git REF, measured in the same run, repeat by repeat (an A/B)
// Options: --targets=bare,tollgate,portkey  --modes=json,stream  --duration=S  --repeats=N  --connections=N  --no-install  --loadgen=wrk|autocannon|undici-loop
//          --soak-requests=N  --streams=N  --soak-targets=tollgate,bare
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { chooseLoadGenerator, type LoadResult, type LoadTool } from './lib/load.ts';
import { probe, slowStreams, ttfbMedianMs, type Endpoint, type SlowStreamsResult } from './lib/clients.ts';
import {
  allowedCpus, cpuMicros, cpuModel, firstJsonLine, freePort, hasCommand, killAllChildrenNow, loadAverage, median,
  peakRssMb, pin, resetPeakRss, rssMb, runMain, startChild, stopAllChildren, stopChild, waitFor,
} from './lib/system.ts';
import {
  budgetChecks, consoleTable, markdownTable, MODE_LABELS, ratios, svgChart, TARGET_LABELS, type Mode, type Row, type TargetId,
} from './lib/report.ts';
import {
  baselineTree, BODY_JSON, BODY_STREAM, bodyFor, CHAT_PATH, startTollgateTarget, startUpstream, UPSTREAM_KEY, type Running, type Unavailable,
} from './lib/tollgate.ts';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const PEER = join(BENCH, 'peer');
const PORTKEY_ENTRY = join(PEER, 'node_modules/@portkey-ai/gateway/build/start-server.js');

// ---------------------------------------------------------------------------------------------- options
const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const num = (name: string, fallback: number): number => {
  const raw = opt(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};
const list = <T extends string>(name: string, fallback: readonly T[], allowed: readonly T[]): T[] => {
  const raw = opt(name);
  if (raw === undefined) return [...fallback];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean) as T[];
  for (const i of items) if (!allowed.includes(i)) throw new Error(`--${name}: unknown "${i}" (one of ${allowed.join(', ')})`);
  return items;
};

const smoke = flag('smoke');
const soak = flag('soak');
const GATEWAYS = ['bare', 'floor', 'tollgate', 'portkey'] as const;
const MODES: readonly Mode[] = ['json', 'stream'];
// The baseline (another build of Tollgate) runs only when asked for: --baseline=REF.
type GatewayId = (typeof GATEWAYS)[number] | 'baseline';
const settings = {
  smoke, soak,
  targets: list<GatewayId>('targets', GATEWAYS, GATEWAYS),
  // One mode only: an A/B or a profile of the streaming path without the JSON runs around it.
  modes: list<Mode>('modes', MODES, MODES),
  // Smoke: tiny loads, one short run per point; the figures mean nothing, the code paths all run.
  durationSec: num('duration', smoke ? 1 : 5),
  latencyDurationSec: smoke ? 1 : 3,
  warmupSec: smoke ? 0 : 2,
  repeats: num('repeats', smoke ? 1 : 3),
  connections: num('connections', smoke ? 4 : 50),
  ttfbSamples: smoke ? 20 : 300,
  install: !flag('no-install'),
  soakRequests: num('soak-requests', smoke ? 2_000 : 1_000_000),
  soakSliceSec: smoke ? 1 : 10,
  soakMaxSec: smoke ? 20 : 900,
  streams: num('streams', smoke ? 20 : 1_000),
  soakTargets: list<GatewayId>('soak-targets', ['tollgate', 'bare'], GATEWAYS),
  profile: flag('profile') ? join(BENCH, 'results', 'tmp', 'profiles') : undefined,
  baseline: opt('baseline'),
};

/** --profile: a V8 CPU profile of the target's whole run (written at exit), summarised by bench/profile.ts. */
const profileArgs = (target: string): string[] => (settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${settings.profile}`, `--cpu-prof-name=${target}-\${pid}.cpuprofile`] : []);
const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

// ------------------------------------------------------------------------------------- cleanup on every path
const work = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
process.on('exit', () => {
  killAllChildrenNow();
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void stopAllChildren().finally(() => process.exit(130)); });
}

// ------------------------------------------------------------------------------------------ placement
const cpus = allowedCpus();
const canPin = cpus.length >= 2 && hasCommand('taskset');
const serverCore = canPin ? cpus[cpus.length - 1] : undefined;
const loadCore = canPin ? cpus[0] : undefined;
// The harness pins itself first: wrk, the upstream and the client loops it starts inherit the load core.
if (canPin) pin(process.pid, loadCore);
else log(`no pinning (${cpus.length} CPU(s) allowed${hasCommand('taskset') ? '' : ', taskset missing'}): figures are less comparable`);

// ----------------------------------------------------------------------------------------- targets
const node = process.execPath;

async function startBare(upstream: Endpoint): Promise<Running> {
  const token = 'tg-bench-bare-token';
  const child = startChild(node, [...profileArgs('bare'), join(BENCH, 'bare-proxy.ts'), `--upstream=${upstream.origin}`, `--token=${token}`, `--upstream-key=${UPSTREAM_KEY}`]);
  const { port } = await firstJsonLine<{ port: number }>(child, 'bare proxy');
  return { id: 'bare', child, version: 'bench/bare-proxy.ts', ep: { origin: `http://127.0.0.1:${port}`, path: CHAT_PATH, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } } };
}

/** bench/floor-proxy.ts: the bare proxy plus a durable usage record per request (journal + SQLite), nothing else. */
async function startFloor(upstream: Endpoint): Promise<Running> {
  const token = 'tg-bench-floor-token';
  const dir = mkdtempSync(join(work, 'floor-'));
  const child = startChild(node, [...profileArgs('floor'), join(BENCH, 'floor-proxy.ts'), `--upstream=${upstream.origin}`, `--token=${token}`, `--upstream-key=${UPSTREAM_KEY}`, `--dir=${dir}`]);
  const { port } = await firstJsonLine<{ port: number }>(child, 'bare + durable usage');
  return { id: 'floor', child, version: 'bench/floor-proxy.ts', ep: { origin: `http://127.0.0.1:${port}`, path: CHAT_PATH, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } } };
}

const startBaseline = (upstream: Endpoint): Promise<Running | Unavailable> => {
  const tree = baselineTree(settings.baseline!, work);
  return startTollgateTarget({ upstream, work, id: 'baseline', root: tree.root, version: tree.version, nodeArgs: profileArgs('baseline') });
};

function ensurePortkey(): string | undefined {
  if (existsSync(PORTKEY_ENTRY)) return undefined;
  if (!settings.install) return 'not installed (run without --no-install to install it into bench/peer)';
  log('installing @portkey-ai/gateway 1.15.2 into bench/peer (benchmark only) ...');
  // Bounded: smoke mode must stay well under a minute even without a network.
  const r = spawnSync('npm', ['install', '--prefix', PEER, '--no-audit', '--no-fund', '--loglevel=error'], { encoding: 'utf8', timeout: smoke ? 30_000 : 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0 || !existsSync(PORTKEY_ENTRY)) return `not installed and could not be installed: ${(r.stderr || r.error?.message || 'npm failed').trim().split('\n').slice(-1)[0]}`;
  return undefined;
}

async function startPortkey(upstream: Endpoint): Promise<Running | Unavailable> {
  const missing = ensurePortkey();
  if (missing) return { id: 'portkey', status: 'skipped', reason: missing };
  const port = await freePort();
  const child = startChild(node, [PORTKEY_ENTRY, `--port=${port}`, '--headless'], { cwd: PEER, stdout: openSync(join(work, 'portkey.log'), 'a') });
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitFor('Portkey', async () => {
      try {
        const r = await request(`${origin}/`);
        await r.body.dump();
        return r.statusCode === 200 ? true : undefined;
      } catch { return undefined; }
    }, 30_000, child);
  } catch (err) {
    await stopChild(child);
    return { id: 'portkey', status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
  const version = (JSON.parse(readFileSync(join(PEER, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as { version: string }).version;
  return {
    id: 'portkey', child, version: `@portkey-ai/gateway ${version}`,
    ep: {
      origin, path: CHAT_PATH,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream.origin}/v1` },
    },
  };
}

// ------------------------------------------------------------------------------------------ measuring
const forced = opt('loadgen');
if (forced !== undefined && !['wrk', 'autocannon', 'undici-loop'].includes(forced)) throw new Error('--loadgen must be wrk, autocannon or undici-loop');
const loader = await chooseLoadGenerator({ install: !smoke && settings.install, log, ...(forced ? { force: forced as LoadTool } : {}) });
log(`load generator: ${loader.tool}; server core ${serverCore ?? '-'}, load core ${loadCore ?? '-'}; ${settings.durationSec} s × ${settings.repeats} at ${settings.connections} connections`);

/** False when /proc/PID/clear_refs could not be written: peak RSS is then since process start. */
let peakResettable = true;

interface Point { c50: LoadResult[]; c1: LoadResult[]; cpuUs: number[]; coreShare: number[]; peakMb: number[]; peakIsPerRun: boolean; ttfbMs?: number }

async function measureLoad(t: Running, mode: Mode, connections: number, durationSec: number): Promise<{ result: LoadResult; cpuUs: number; coreShare: number; peakMb: number; peakIsPerRun: boolean }> {
  const pid = t.child.pid!;
  const peakIsPerRun = resetPeakRss(pid);
  const cpu0 = cpuMicros(pid);
  const result = await loader.run({ origin: t.ep.origin, path: t.ep.path, headers: t.ep.headers, body: bodyFor(mode), connections, durationSec });
  const used = cpuMicros(pid) - cpu0;
  const cpuUs = result.requests > 0 ? used / result.requests : NaN;
  return { result, cpuUs, coreShare: used / (result.seconds * 1e6), peakMb: peakRssMb(pid), peakIsPerRun };
}

async function measureAll(upstream: Running, targets: Running[]): Promise<Row[]> {
  const all = [upstream, ...targets];
  const points = new Map<string, Point>();
  const key = (t: TargetId, m: Mode): string => `${t}/${m}`;
  for (const mode of settings.modes) {
    for (const t of all) points.set(key(t.id, mode), { c50: [], c1: [], cpuUs: [], coreShare: [], peakMb: [], peakIsPerRun: true });
    if (settings.warmupSec > 0) {
      for (const t of all) {
        log(`warm-up ${TARGET_LABELS[t.id]} ${MODE_LABELS[mode]}`);
        await loader.run({ origin: t.ep.origin, path: t.ep.path, headers: t.ep.headers, body: bodyFor(mode), connections: settings.connections, durationSec: settings.warmupSec });
      }
    }
    // Repeats go round-robin over the targets, so slow drift of the machine (other jobs) spreads evenly, the targets
    // (after the upstream alone, always first) in an order reversed every other repeat: on a VM speeding up through a
    // run (seen 2026-12-08: 2,821 → 5,115 req/s over five repeats), the target always measured first read ~14 % below
    // an identical build measured after it.
    for (let rep = 1; rep <= settings.repeats; rep++) {
      const order = rep % 2 === 1 ? all : [upstream, ...[...targets].reverse()];
      for (const t of order) {
        const p = points.get(key(t.id, mode))!;
        // The upstream alone is measured on the server core too, like the gateways (it moves back afterwards).
        if (t.id === 'upstream') pin(t.child.pid!, serverCore);
        const loaded = await measureLoad(t, mode, settings.connections, settings.durationSec);
        const single = await measureLoad(t, mode, 1, settings.latencyDurationSec);
        if (t.id === 'upstream') pin(t.child.pid!, loadCore);
        p.c50.push(loaded.result);
        p.cpuUs.push(loaded.cpuUs);
        p.coreShare.push(loaded.coreShare);
        p.peakMb.push(loaded.peakMb);
        p.peakIsPerRun &&= loaded.peakIsPerRun;
        peakResettable &&= loaded.peakIsPerRun;
        p.c1.push(single.result);
        log(`${mode} #${rep} ${TARGET_LABELS[t.id]}: ${Math.round(loaded.result.rps)} req/s, p50 ${loaded.result.p50Ms.toFixed(2)} ms, ${Number.isFinite(loaded.cpuUs) ? loaded.cpuUs.toFixed(0) : '–'} µs CPU/req, core ${Math.round(loaded.coreShare * 100)} %, 1c p50 ${single.result.p50Ms.toFixed(3)} ms${loaded.result.errors + single.result.errors > 0 ? `, ${loaded.result.errors + single.result.errors} errors` : ''}`);
      }
    }
    if (mode === 'stream') {
      for (const t of all) {
        points.get(key(t.id, mode))!.ttfbMs = await ttfbMedianMs(t.ep, BODY_STREAM, settings.ttfbSamples, Math.min(50, settings.ttfbSamples));
      }
    }
  }
  const rows: Row[] = [];
  for (const mode of settings.modes) {
    const base = points.get(key('upstream', mode))!;
    const baseC1 = median(base.c1.map((r) => r.p50Ms));
    for (const t of all) {
      const p = points.get(key(t.id, mode))!;
      const row: Row = {
        target: t.id, mode, status: 'ok',
        rps: median(p.c50.map((r) => r.rps)),
        rpsByRepeat: p.c50.map((r) => r.rps),
        cpuUsByRepeat: p.cpuUs,
        p50Ms: median(p.c50.map((r) => r.p50Ms)),
        p99Ms: median(p.c50.map((r) => r.p99Ms)),
        addedP50Ms: median(p.c1.map((r) => r.p50Ms)) - baseC1,
        cpuUsPerRequest: median(p.cpuUs),
        coreShare: median(p.coreShare),
        peakRssMb: Math.max(...p.peakMb),
        requests: [...p.c50, ...p.c1].reduce((s, r) => s + r.requests, 0),
        errors: [...p.c50, ...p.c1].reduce((s, r) => s + r.errors, 0),
      };
      if (mode === 'stream' && p.ttfbMs !== undefined && base.ttfbMs !== undefined) row.addedTtfbMs = p.ttfbMs - base.ttfbMs;
      rows.push(row);
    }
  }
  return rows;
}

interface SoakResult {
  target: TargetId;
  memory: { requests: number; seconds: number; errors: number; samples: { requests: number; rssMb: number }[]; firstMb: number; lastMb: number; maxMb: number; growthMb: number };
  /** upstreamPeakOpen: most streams the upstream had open at once (below `streams` = the gateway queued them). */
  streams: SlowStreamsResult & { intervalMs: number; events: number; upstreamPeakOpen: number };
}

/** Switches the upstream's streaming speed; returns the most streams it had open since the previous call. */
async function setUpstreamStreaming(upstream: Running, intervalMs: number, events: number): Promise<number> {
  const r = await request(`${upstream.ep.origin}/__bench/config`, { method: 'POST', body: JSON.stringify({ intervalMs, events }) });
  return ((await r.body.json()) as { peakOpenStreams: number }).peakOpenStreams;
}

/**
 * The soak runs on a freshly started instance, so "RSS with 1,000 open streams" is not inflated by the heap
 * high-water mark of the table's load runs: first the slow streams, then ≥ N requests with RSS sampled.
 */
async function soakTarget(upstream: Running, id: GatewayId): Promise<SoakResult | Unavailable> {
  const started = await startTarget(id, upstream);
  if (!('child' in started)) return started;
  const t = started;
  const pid = t.child.pid!;
  try {
    // 1,000 concurrent slow streams: one content event every 250 ms, 20 of them (~5 s per stream).
    const intervalMs = smoke ? 50 : 250;
    const events = 20;
    await setUpstreamStreaming(upstream, intervalMs, events);
    let streams: SlowStreamsResult;
    let upstreamPeakOpen = 0;
    try {
      streams = await slowStreams(t.ep, BODY_STREAM, settings.streams, 90_000, () => rssMb(pid));
    } finally {
      upstreamPeakOpen = await setUpstreamStreaming(upstream, 0, events);
    }
    log(`slow streams ${TARGET_LABELS[t.id]}: ${streams.completed}/${streams.streams} completed, peak RSS ${streams.peakRssMb.toFixed(1)} MB`);

    // RSS over ≥ N requests: alternate JSON and streaming slices (both code paths soak), sample after each.
    const samples: { requests: number; rssMb: number }[] = [];
    let requests = 0;
    let errors = 0;
    const soakStart = Date.now();
    for (let slice = 0; requests < settings.soakRequests && Date.now() - soakStart < settings.soakMaxSec * 1000; slice++) {
      const mode: Mode = slice % 2 === 0 ? 'json' : 'stream';
      const r = await loader.run({ origin: t.ep.origin, path: t.ep.path, headers: t.ep.headers, body: bodyFor(mode), connections: settings.connections, durationSec: settings.soakSliceSec });
      requests += r.requests;
      errors += r.errors;
      samples.push({ requests, rssMb: rssMb(pid) });
      if (slice % 10 === 0) log(`soak ${TARGET_LABELS[t.id]}: ${requests.toLocaleString('en-US')} requests, RSS ${samples.at(-1)!.rssMb.toFixed(1)} MB`);
    }
    const rss = samples.map((x) => x.rssMb);
    // The first sample is after warm-up (JIT, pools, caches): growth is measured from there.
    const memory = { requests, seconds: (Date.now() - soakStart) / 1000, errors, samples, firstMb: rss[0]!, lastMb: rss.at(-1)!, maxMb: Math.max(...rss), growthMb: rss.at(-1)! - rss[0]! };
    return { target: t.id, memory, streams: { ...streams, intervalMs, events, upstreamPeakOpen } };
  } finally {
    await stopChild(t.child);
  }
}

const STARTERS: Record<GatewayId, (u: Endpoint) => Promise<Running | Unavailable>> = { bare: startBare, floor: startFloor, tollgate: (upstream) => startTollgateTarget({ upstream, work, nodeArgs: profileArgs('tollgate') }), baseline: startBaseline, portkey: startPortkey };

/** Starts one target, pins it to the server core and checks it answers correctly in both modes. */
async function startTarget(id: GatewayId, upstream: Running): Promise<Running | Unavailable> {
  let started: Running | Unavailable;
  try {
    started = await STARTERS[id](upstream.ep);
  } catch (err) {
    return { id, status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
  if (!('child' in started)) return started;
  pin(started.child.pid!, serverCore);
  // A gateway that answers errors fast would win a benchmark: each target must answer correctly first.
  try {
    await probe(started.ep, BODY_JSON, false);
    await probe(started.ep, BODY_STREAM, true);
    log(`${TARGET_LABELS[id]} ready (${started.version}), pid ${started.child.pid}`);
    return started;
  } catch (err) {
    await stopChild(started.child);
    return { id, status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
}

// ---------------------------------------------------------------------------------------------- main
async function main(): Promise<number> {
  const startedAt = new Date();
  const loadAvgAtStart = loadAverage();
  const upstream = await startUpstream();
  const running: Running[] = [];
  const unavailable: Unavailable[] = [];
  const targets: GatewayId[] = settings.baseline === undefined ? settings.targets : [...settings.targets, 'baseline'];
  for (const id of targets) {
    const started = await startTarget(id, upstream);
    if ('child' in started) running.push(started);
    else {
      unavailable.push(started);
      log(`${TARGET_LABELS[id]} ${started.status}: ${started.reason}`);
    }
  }
  for (const u of unavailable) if (u.reason.startsWith('gateway not available')) console.log(`Tollgate: ${u.reason} — skipped`);

  const measured = await measureAll(upstream, running);
  const order: TargetId[] = ['upstream', 'bare', 'floor', 'tollgate', 'baseline', 'portkey'];
  const rows: Row[] = [];
  for (const mode of settings.modes) {
    for (const id of order) {
      const m = measured.find((r) => r.target === id && r.mode === mode);
      const u = unavailable.find((x) => x.id === id);
      if (m) rows.push(m);
      else if (u) rows.push({ target: id, mode, status: u.status, reason: u.reason });
    }
  }

  const soaks: SoakResult[] = [];
  if (soak) {
    // The table's instances are done: stop them so the soak's fresh instance has the server core alone.
    for (const t of running) await stopChild(t.child);
    for (const id of settings.soakTargets.filter((x) => running.some((r) => r.id === x))) {
      const s = await soakTarget(upstream, id);
      if ('memory' in s) soaks.push(s);
      else log(`soak ${TARGET_LABELS[id]} ${s.status}: ${s.reason}`);
    }
  }

  // ------------------------------------------------------------------------------------------ report
  const rat = ratios(rows);
  const budget = budgetChecks(rows);
  const lines: string[] = [];
  lines.push('', `Tollgate benchmark — ${startedAt.toISOString()}${smoke ? ' — SMOKE (figures meaningless)' : ''}`);
  lines.push(`${cpuModel()}; server pinned to CPU ${serverCore ?? '-'}, load (${loader.tool}) on CPU ${loadCore ?? '-'}; ${settings.durationSec} s × ${settings.repeats} repeats (median) at ${settings.connections} connections; load average at start ${loadAvgAtStart.join(' ')}`, 'Ratios: the median of the per-repeat ratios (each pair measured seconds apart).', '');
  lines.push(consoleTable(rows), '');
  for (const r of rat) lines.push(`${r.name} (${MODE_LABELS[r.mode]}): ${r.value.toFixed(2)}× — budget ${r.budget}${r.budget === '(info)' ? '' : r.meets ? ' ✓' : ' ✗'}`);
  for (const b of budget) lines.push(`${b.name}: ${b.value} — budget ${b.budget} ${b.meets ? '✓' : '✗'}`);
  for (const s of soaks) {
    lines.push(`soak ${TARGET_LABELS[s.target]}: ${s.memory.requests.toLocaleString('en-US')} requests in ${s.memory.seconds.toFixed(0)} s, RSS ${s.memory.firstMb.toFixed(1)} → ${s.memory.lastMb.toFixed(1)} MB (max ${s.memory.maxMb.toFixed(1)}, growth ${s.memory.growthMb.toFixed(1)} MB), ${s.memory.errors} errors`);
    lines.push(`slow streams ${TARGET_LABELS[s.target]} (fresh process): ${s.streams.completed}/${s.streams.streams} completed in ${s.streams.seconds.toFixed(1)} s (at most ${s.streams.upstreamPeakOpen} open upstream at once), RSS ${s.streams.rssBeforeMb.toFixed(1)} MB idle → peak ${s.streams.peakRssMb.toFixed(1)} MB${s.target === 'tollgate' ? ` — budget < 200 MB ${s.streams.peakRssMb < 200 ? '✓' : '✗'}` : ''}`);
  }
  console.log(lines.join('\n'));

  const date = `${startedAt.getFullYear()}-${String(startedAt.getMonth() + 1).padStart(2, '0')}-${String(startedAt.getDate()).padStart(2, '0')}`;
  // Smoke figures are meaningless, and a run of some targets only (an A/B of two builds) is not the table: both go
  // to the ignored tmp folder, so they never replace or sit among real results.
  const partial = settings.targets.length < GATEWAYS.length || settings.modes.length < MODES.length || settings.baseline !== undefined;
  const outDir = smoke || partial ? join(BENCH, 'results', 'tmp') : join(BENCH, 'results');
  mkdirSync(outDir, { recursive: true });
  const versions: Record<string, string> = { upstream: upstream.version };
  for (const r of running) versions[r.id] = r.version;
  const result = {
    date, startedAt: startedAt.toISOString(), smoke,
    machine: { peakRssResetPerRun: peakResettable, cpuModel: cpuModel(), allowedCpus: cpus, serverCore: serverCore ?? null, loadCore: loadCore ?? null, node: process.version, loadGenerator: loader.tool, loadAverageAtStart: loadAvgAtStart, loadAverageAtEnd: loadAverage() },
    settings, versions,
    rows, ratios: rat, budget, soak: soaks,
    markdown: markdownTable(rows),
  };
  // A second full run on the same day keeps the first one's files (the docs cite them): it is named by its time too.
  const hhmm = `${String(startedAt.getHours()).padStart(2, '0')}${String(startedAt.getMinutes()).padStart(2, '0')}`;
  const name = !smoke && !partial && existsSync(join(outDir, `${date}.json`)) ? `${date}T${hhmm}` : date;
  const jsonPath = join(outDir, `${name}.json`);
  const svgPath = join(outDir, `${name}.svg`);
  writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(svgPath, svgChart(rows, `Tollgate benchmark ${date}${smoke ? ' (smoke)' : ''}`, `${cpuModel()} · one pinned core per server · ${loader.tool}, ${settings.connections} connections, median of ${settings.repeats}`, settings.connections));
  console.log(`\nwrote ${jsonPath.slice(ROOT.length + 1)} and ${svgPath.slice(ROOT.length + 1)}`);
  // The harness and Tollgate must work; the peer is third-party code: its failure is reported, not fatal.
  return rows.some((r) => r.status === 'failed' && r.target !== 'portkey') ? 1 : 0;
}

await runMain(main, log);
