// Real `tollgate` child processes for multi-process tests: free loopback ports, spawning with a given
// environment, waiting for /healthz, and killing every child (SIGKILL after a grace period) in `after()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

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

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Everything it printed (stdout and stderr), for failure messages. */
  output(): string;
  /** What it printed on stdout alone (a command's result). */
  stdout(): string;
  /** What it printed on stderr alone (warnings, errors). */
  stderr(): string;
  exited: Promise<number | null>;
}

export class Children {
  readonly #all: Child[] = [];

  /** Starts `node script args…` (the tollgate CLI unless told otherwise), with `stdin` piped in if given. */
  spawn(name: string, args: string[], env: Record<string, string>, { script = CLI, stdin }: { script?: string; stdin?: string } = {}): Child {
    const proc = spawn(process.execPath, [script, ...args], {
      // A minimal environment: nothing from the developer's shell (e.g. a TOLLGATE_DATABASE_URL) leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TOLLGATE_LOG_LEVEL: 'warn', ...env },
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) proc.stdin!.end(stdin);
    let out = '';
    let stdout = '';
    let stderr = '';
    const keep = (b: Buffer) => { out = (out + b.toString()).slice(-20_000); };
    proc.stdout!.on('data', (b: Buffer) => { keep(b); stdout = (stdout + b.toString()).slice(-20_000); });
    proc.stderr!.on('data', (b: Buffer) => { keep(b); stderr = (stderr + b.toString()).slice(-20_000); });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const child: Child = { name, proc, output: () => out, stdout: () => stdout, stderr: () => stderr, exited };
    this.#all.push(child);
    return child;
  }

  /** Runs a short-lived command to completion and returns its stdout; throws with its output unless it exits 0. */
  async run(name: string, args: string[], env: Record<string, string>, options: { script?: string; stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    return (await this.finish(name, args, env, options)).stdout();
  }

  /** `run`, returning the finished child (its stderr too). */
  async finish(name: string, args: string[], env: Record<string, string>, { timeoutMs = 30_000, ...options }: { script?: string; stdin?: string; timeoutMs?: number } = {}): Promise<Child> {
    const child = this.spawn(name, args, env, options);
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
    const code = await child.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`${name} exited with ${code}:\n${child.output()}`);
    return child;
  }

  /** SIGTERM everyone still running, SIGKILL whoever is left after `graceMs`. */
  async killAll(graceMs = 3_000): Promise<void> {
    const running = this.#all.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null);
    for (const c of running) c.proc.kill('SIGTERM');
    const timer = setTimeout(() => { for (const c of running) c.proc.kill('SIGKILL'); }, graceMs);
    await Promise.all(running.map((c) => c.exited));
    clearTimeout(timer);
  }
}

/** Waits until `url/healthz` answers 200, or fails with the child's output (also if it exits first). */
export async function waitHealthy(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with ${child.proc.exitCode}:\n${child.output()}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not healthy within ${timeoutMs} ms:\n${child.output()}`);
}

/**
 * Polls `probe` every 50 ms until it returns true; resolves with the elapsed milliseconds, or fails once
 * `limitMs` has passed (the bound is the functional promise being tested, not a performance figure).
 */
export async function until(limitMs: number, probe: () => Promise<boolean>, what: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return Math.round(performance.now() - start);
    if (performance.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
