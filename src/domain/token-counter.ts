// Token counts for the gateway without stalling it. Building the o200k encoder blocks for 0.7–2 s and holds
// ~100 MB, and BPE over a long prompt takes milliseconds, so counting runs on one worker thread, started on
// the first count a process needs (most never need one: admission decides on a byte bound, providers report
// usage). If the thread cannot run, counts fall back to the same estimator on the calling thread.
import { Worker } from 'node:worker_threads';
import type { ApiSurface } from '../catalog/types.ts';
import type { TokenAnswer, TokenJob } from './token-worker.ts';
import { estimateRequestInputTokens, estimateTokens } from './tokens.ts';

type Pending = { resolve: (tokens: number) => void; fallback: () => number; thread: Worker | undefined };

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();
let idleWaiters: (() => void)[] = [];

function settle(id: number, tokens: number | undefined): void {
  const job = pending.get(id);
  if (!job) return;
  pending.delete(id);
  job.resolve(tokens ?? job.fallback());
  if (pending.size === 0) {
    const waiters = idleWaiters;
    idleWaiters = [];
    // After the callers' continuations (metering records its events in them).
    setImmediate(() => { for (const w of waiters) w(); });
  }
}

/** A thread died or was stopped: what it still owed is counted here instead. */
function failJobsOf(thread: Worker): void {
  if (worker === thread) worker = undefined;
  for (const [id, job] of [...pending]) if (job.thread === thread) settle(id, undefined);
}

function thread(): Worker {
  if (worker) return worker;
  const started = new Worker(new URL('./token-worker.ts', import.meta.url));
  // Never what keeps a process alive: a stopping gateway waits for counts explicitly (idle()).
  started.unref();
  started.on('message', (answer: TokenAnswer) => settle(answer.id, 'tokens' in answer ? answer.tokens : undefined));
  started.on('error', () => failJobsOf(started));
  started.on('exit', () => failJobsOf(started));
  worker = started;
  return started;
}

function submit(job: TokenJob, fallback: () => number): Promise<number> {
  return new Promise((resolve) => {
    const entry: Pending = { resolve, fallback, thread: undefined };
    pending.set(job.id, entry);
    try {
      entry.thread = thread();
      entry.thread.postMessage(job);
    } catch {
      settle(job.id, undefined);
    }
  });
}

/** Estimated input tokens of a request body (as sent, JSON) on `surface`. */
export function countInputTokens(raw: Buffer, surface: ApiSurface, body: Record<string, unknown>): Promise<number> {
  return submit({ id: nextId++, raw: new Uint8Array(raw), surface }, () => estimateRequestInputTokens(body, surface));
}

/** Estimated tokens of a text (a streamed answer's collected text, capped by the caller). */
export function countTextTokens(text: string): Promise<number> {
  if (text.length === 0) return Promise.resolve(0);
  return submit({ id: nextId++, text }, () => estimateTokens(text));
}

/** Resolves once no count is outstanding (and their callers' continuations have run). */
export function tokenCountsIdle(): Promise<void> {
  if (pending.size === 0) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(resolve));
}

/** Stops the thread (a later count starts a new one). */
export async function stopTokenCounter(): Promise<void> {
  await tokenCountsIdle();
  const running = worker;
  worker = undefined;
  await running?.terminate();
}
