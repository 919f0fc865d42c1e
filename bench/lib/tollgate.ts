// Starting the fake upstream and Tollgate the way the benchmark measures them, shared by `bench/run.ts` (the table)
// and `bench/alloc.ts` (bytes allocated per request): the same composition root, flags, store and provisioning, so
// both tools measure the same server.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { V8_FLAGS } from '../../src/config/runtime-flags.ts';
import { jsonCall, type Endpoint } from './clients.ts';
import { firstJsonLine, freePort, startChild, stopChild, waitFor } from './system.ts';
import type { Mode, TargetId } from './report.ts';

const BENCH = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(BENCH);

export const BODY_JSON = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32 });
export const BODY_STREAM = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32, stream: true, stream_options: { include_usage: true } });
export const bodyFor = (mode: Mode): string => (mode === 'json' ? BODY_JSON : BODY_STREAM);
export const UPSTREAM_KEY = 'sk-bench-upstream-key';
export const CHAT_PATH = '/v1/chat/completions';

export interface Running { id: TargetId; child: ChildProcess; ep: Endpoint; version: string }
export interface Unavailable { id: TargetId; status: 'skipped' | 'failed'; reason: string }

export async function startUpstream(): Promise<Running> {
  const child = startChild(process.execPath, [join(BENCH, 'upstream.ts')]);
  const { port } = await firstJsonLine<{ port: number }>(child, 'fake upstream');
  return {
    id: 'upstream', child, version: 'bench/upstream.ts',
    ep: { origin: `http://127.0.0.1:${port}`, path: CHAT_PATH, headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` } },
  };
}

export function gitDescribe(): string {
  const r = spawnSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  return r.status === 0 ? `tollgate ${r.stdout.trim()}` : 'tollgate';
}

/**
 * --baseline=REF: Tollgate's source as of REF (git archive, so nothing is added to the repository's worktrees),
 * run with this checkout's installed packages: an A/B of two builds in one run, each repeat of one measured seconds
 * from the same repeat of the other, instead of two runs minutes apart on a machine whose speed drifts.
 */
export function baselineTree(ref: string, work: string): { root: string; version: string } {
  const sha = spawnSync('git', ['-C', ROOT, 'rev-parse', '--verify', '--short', `${ref}^{commit}`], { encoding: 'utf8' });
  if (sha.status !== 0) throw new Error(`--baseline: "${ref}" is not a commit of this repository`);
  const root = mkdtempSync(join(work, 'baseline-'));
  const archive = spawnSync('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'archive', ROOT, sha.stdout.trim(), root], { encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`--baseline: could not extract ${ref}: ${archive.stderr.trim()}`);
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root, version: `tollgate ${sha.stdout.trim()} (${ref})` };
}

export interface TollgateStart {
  upstream: Endpoint;
  /** The run's temporary folder: each start gets a fresh directory (store, ready file, log) inside it. */
  work: string;
  id?: 'tollgate' | 'baseline';
  /** The source tree to run (a baseline's extracted tree, or this checkout). */
  root?: string;
  version?: string;
  /** Node options placed before the script (a CPU profile, the inspector). */
  nodeArgs?: readonly string[];
}

export async function startTollgateTarget(start: TollgateStart): Promise<Running | Unavailable> {
  const { upstream, work, id = 'tollgate', root = ROOT, nodeArgs = [] } = start;
  const version = start.version ?? gitDescribe();
  // A fresh directory (store, ready file, log) per start: the soak starts a second, fresh instance.
  const dir = mkdtempSync(join(work, 'tollgate-'));
  const readyFile = join(dir, 'ready.json');
  const logFile = join(dir, 'tollgate.log');
  const apiKey = `tg-bench-api-${randomBytes(12).toString('hex')}`;
  const [gatewayPort, apiPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`,
    TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
    TOLLGATE_GATEWAY_PORT: String(gatewayPort),
    TOLLGATE_API_PORT: String(apiPort),
    TOLLGATE_HOST: '127.0.0.1',
    TOLLGATE_BOOTSTRAP_API_KEY: apiKey,
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${upstream.origin}/v1`,
    TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  };
  // Logs go to a file (cheap, like a production log sink) and are shown when something fails.
  // With the V8 flags every production launcher passes (src/config/runtime-flags.ts).
  const child = startChild(process.execPath, [...V8_FLAGS, ...nodeArgs, join(root, 'bench', 'tollgate-server.ts'), `--ready-file=${readyFile}`], { env, stdout: openSync(logFile, 'a') });
  const tail = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '');
  let ready: { gatewayUrl?: string; apiUrl?: string; error?: string };
  try {
    ready = await waitFor('Tollgate', () => (existsSync(readyFile) ? JSON.parse(readFileSync(readyFile, 'utf8')) as typeof ready : undefined), 30_000, child);
  } catch (err) {
    await stopChild(child);
    return { id, status: 'failed', reason: `${err instanceof Error ? err.message : String(err)} ${tail()}` };
  }
  const unavailable = async (reason: string, status: 'skipped' | 'failed' = 'skipped'): Promise<Unavailable> => {
    await stopChild(child);
    return { id, status, reason };
  };
  if (!ready.gatewayUrl || !ready.apiUrl) return await unavailable(ready.error ?? 'gateway not available', ready.error?.startsWith('gateway not available') ? 'skipped' : 'failed');
  const gateway = ready.gatewayUrl.replace(/\/$/, '');
  const api = ready.apiUrl.replace(/\/$/, '');
  try {
    await waitFor('Tollgate /healthz', async () => {
      try {
        const r = await request(`${gateway}/healthz`);
        await r.body.dump();
        return r.statusCode === 200 ? true : undefined;
      } catch { return undefined; }
    }, 15_000, child);
  } catch (err) {
    return await unavailable(`gateway not healthy: ${err instanceof Error ? err.message : String(err)}`, 'failed');
  }
  // Provision like an operator would: a stored provider key, a configuration whose `user` rule uses it, and
  // an access key bound to that configuration. Missing routes mean the control plane is not there yet.
  const step = async <T>(path: string, body: unknown): Promise<T> => {
    const r = await jsonCall<T>(`${api}${path}`, 'POST', apiKey, body);
    if (r.status === 404 && !r.text.includes('ERR_NGROK')) throw new Error(`control plane has no POST ${path} yet`);
    if (r.status !== 201 && r.status !== 200) throw new Error(`POST ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return r.body;
  };
  let token: string;
  try {
    const key = await step<{ id: string }>('/provider-keys', { providerId: 'openai', name: 'bench upstream', value: UPSTREAM_KEY });
    const cfg = await step<{ id: string }>('/access-key-configurations', { name: 'bench', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key.id }] }] }] } });
    const access = await step<{ token: string }>('/access-keys', { name: 'bench', accessKeyConfigurationId: cfg.id });
    token = access.token;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return await unavailable(message.includes('has no POST') ? `gateway not available (${message})` : message, message.includes('has no POST') ? 'skipped' : 'failed');
  }
  return { id, child, version, ep: { origin: gateway, path: CHAT_PATH, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } } };
}
