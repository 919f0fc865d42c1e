// Load generators. wrk (C, one thread on the load core) is the default: it costs the least CPU per request,
// so the load core is not the bottleneck. autocannon is the fallback when wrk is missing, and a small undici
// loop the last resort (smoke mode on a machine with neither: it proves the harness, its figures are weaker).
// Every run is bounded by its duration and stops by itself.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { hasCommand, percentile } from './system.ts';

export interface LoadSpec {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationSec: number;
}

export interface LoadResult {
  requests: number;
  /** Non-2xx answers plus socket errors and timeouts. */
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export type LoadTool = 'wrk' | 'autocannon' | 'undici-loop';

export interface LoadGenerator {
  tool: LoadTool;
  version: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

// Lua long strings need no escaping; the spaces inside [ ] keep `[[` from opening a long string there.
const luaString = (s: string): string => `[==[${s}]==]`;

function wrkScript(spec: LoadSpec): string {
  const headers = Object.entries(spec.headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`).join('\n');
  // done() runs once after the run; printing JSON avoids parsing wrk's human-readable units.
  return `wrk.method = "POST"
wrk.body = ${luaString(spec.body)}
${headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%.0f,"p99_us":%.0f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

function wrkGenerator(): LoadGenerator {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-wrk-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    tool: 'wrk',
    version: 'wrk 4',
    async run(spec) {
      const script = join(dir, `load-${n++}.lua`);
      writeFileSync(script, wrkScript(spec));
      // wrk takes whole seconds; -t1 keeps it on one thread on the load core.
      const seconds = Math.max(1, Math.round(spec.durationSec));
      const args = ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, spec.origin + spec.path];
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (c: Buffer) => { text += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { text += c.toString(); });
        // wrk stops by itself after -d; this guard only catches a hung wrk.
        const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
        child.once('error', reject);
        child.once('exit', (code) => { clearTimeout(guard); code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`)); });
      });
      const line = /WRKJSON (\{.*\})/.exec(out);
      if (!line) throw new Error(`wrk printed no summary: ${out}`);
      const r = JSON.parse(line[1]!) as { requests: number; duration_us: number; errors: number; p50_us: number; p99_us: number };
      const secs = r.duration_us / 1e6;
      return { requests: r.requests, errors: r.errors, seconds: secs, rps: r.requests / secs, p50Ms: r.p50_us / 1000, p99Ms: r.p99_us / 1000 };
    },
  };
}

interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

async function autocannonGenerator(): Promise<LoadGenerator | undefined> {
  // A variable specifier: autocannon is optional, so the type checker must not require it to be installed.
  const specifier = 'autocannon';
  let run: Autocannon;
  try {
    const mod = (await import(specifier)) as { default: Autocannon };
    run = mod.default;
  } catch {
    return undefined;
  }
  return {
    tool: 'autocannon',
    version: 'autocannon',
    async run(spec) {
      const r = await run({ url: spec.origin + spec.path, method: 'POST', headers: spec.headers, body: spec.body, connections: spec.connections, duration: spec.durationSec });
      const total = r.requests.total;
      return { requests: total, errors: r.errors + r.timeouts + r.non2xx, seconds: r.duration, rps: total / r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99 };
    },
  };
}

function undiciLoopGenerator(): LoadGenerator {
  return {
    tool: 'undici-loop',
    version: 'built-in',
    async run(spec) {
      const pool = new Pool(spec.origin, { connections: spec.connections });
      const latencies: number[] = [];
      let errors = 0;
      const started = performance.now();
      const deadline = started + spec.durationSec * 1000;
      const worker = async (): Promise<void> => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            const res = await pool.request({ method: 'POST', path: spec.path, headers: spec.headers, body: spec.body });
            await res.body.dump({ limit: Infinity });
            if (res.statusCode >= 300) errors++;
          } catch {
            errors++;
          }
          latencies.push(performance.now() - t0);
        }
      };
      await Promise.all(Array.from({ length: spec.connections }, worker));
      const seconds = (performance.now() - started) / 1000;
      await pool.close();
      latencies.sort((a, b) => a - b);
      return { requests: latencies.length, errors, seconds, rps: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
    },
  };
}

/** Debian's wrk, installed with apt when missing and allowed (never in smoke mode: that must work offline). */
function installWrk(log: (line: string) => void): boolean {
  if (!hasCommand('apt-get')) return false;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  log('wrk is missing: installing the Debian package (apt-get) ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]): boolean => {
    const [cmd, ...rest] = [...sudo, ...args];
    return spawnSync(cmd!, rest, { stdio: 'ignore', env, timeout: 180_000 }).status === 0;
  };
  return run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', 'wrk']) && hasCommand('wrk');
}

export async function chooseLoadGenerator(options: { install: boolean; log: (line: string) => void; force?: LoadTool }): Promise<LoadGenerator> {
  // --loadgen= forces one (to exercise the fallbacks, or to compare generators).
  if (options.force === 'undici-loop') return undiciLoopGenerator();
  if (options.force === 'autocannon') {
    const ac = await autocannonGenerator();
    if (!ac) throw new Error('--loadgen=autocannon: autocannon is not installed');
    return ac;
  }
  if (hasCommand('wrk') || (options.install && installWrk(options.log))) return wrkGenerator();
  return (await autocannonGenerator()) ?? undiciLoopGenerator();
}
