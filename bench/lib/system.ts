// What the harness reads from the machine and how it manages its children. Everything comes from /proc so
// the servers under test carry no instrumentation of their own: CPU time (utime+stime), RSS, peak RSS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU time a process (all its threads) has used, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / CLK_TCK;
}

function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}
export const rssMb = (pid: number): number => statusKb(pid, 'VmRSS') / 1024;
export const peakRssMb = (pid: number): number => statusKb(pid, 'VmHWM') / 1024;

/** Resets VmHWM so the next reading is the peak of one measured run (Linux: write 5 to clear_refs). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false; // Not permitted here: peaks are then cumulative since the process started.
  }
}

/** CPUs this process may run on (from /proc, not os.cpus(): containers restrict the set). */
export function allowedCpus(): number[] {
  const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) return [0];
  const out: number[] = [];
  for (const part of m[1]!.trim().split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Pins every thread of a running process to one CPU (threads it starts later inherit the mask). */
export function pin(pid: number, cpu: number | undefined): void {
  if (cpu === undefined) return;
  const r = spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset failed for pid ${pid}: ${r.stderr}`);
}

export function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
  return m ? m[1]!.trim() : 'unknown';
}

export const loadAverage = (): number[] => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

// Every child the harness starts is registered here and killed on every exit path (normal end, error, signal).
const children = new Set<ChildProcess>();

export function startChild(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: 'pipe' | number } = {}): ChildProcess {
  const out = options.stdout ?? 'pipe';
  const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', out, out === 'pipe' ? 'inherit' : out] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

/** Runs a harness's `main` and exits with its code (1 when it threw, said on stderr), every child stopped first. */
export async function runMain(main: () => Promise<number>, log: (line: string) => void): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  } finally {
    await stopAllChildren();
  }
  process.exit(code);
}

/** Synchronous last resort for `exit` handlers, where no promise can run. */
export function killAllChildrenNow(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Reads the first line a child prints on stdout as JSON (our servers announce their port that way). */
export async function firstJsonLine<T>(child: ChildProcess, what: string, timeoutMs = 20_000): Promise<T> {
  if (!child.stdout) throw new Error(`${what}: no stdout pipe`);
  const lines = createInterface({ input: child.stdout });
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { lines.close(); reject(new Error(`${what}: not ready after ${timeoutMs} ms`)); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with code ${code} before it was ready`)); });
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.close();
      // Keep draining stdout so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      try { resolve(JSON.parse(line) as T); } catch { reject(new Error(`${what}: unexpected first line: ${line}`)); }
    });
  });
}

export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, child?: ChildProcess): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Check before looking at the child: a process may report (e.g. an error in its ready file) and then exit.
    const value = await check();
    if (value !== undefined) return value;
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what}: process exited (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
