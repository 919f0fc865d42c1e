// Token counts for the gateway without stalling it. Loading the o200k ranks takes ~0.4 s and ~80 MB, and BPE
// over a long prompt takes milliseconds (seconds for a pathological one), so counting runs on one worker
// thread, started on the first count a process needs (most never need one: admission decides on a byte bound,
// providers report usage). Every count answers within a deadline: a job the thread has not answered by then
// (a pathological text, or one queued behind it) gets the length estimate, and the thread is replaced — so
// admission, metering and shutdown never wait longer. If the thread cannot run, counts are length estimates.
import { Worker } from 'node:worker_threads';
import type { ApiSurface } from '../catalog/types.ts';
import type { TokenAnswer, TokenJob } from './token-worker.ts';
import { lengthEstimate } from './token-bounds.ts';

/** Long enough for the first count (ranks loading) on a slow machine; far below any request timeout. */
const DEFAULT_DEADLINE_MS = 5000;

type Pending = { resolve: (tokens: number) => void; bytes: number; thread: Worker | undefined; timer: NodeJS.Timeout };

let worker: Worker | undefined;
let nextId = 0;
let deadlineMs = DEFAULT_DEADLINE_MS;
const pending = new Map<number, Pending>();
let idleWaiters: (() => void)[] = [];

function settle(id: number, tokens: number | undefined): void {
  const job = pending.get(id);
  if (!job) return;
  pending.delete(id);
  clearTimeout(job.timer);
  job.resolve(tokens ?? lengthEstimate(job.bytes));
  if (pending.size === 0) {
    const waiters = idleWaiters;
    idleWaiters = [];
    // After the callers' continuations (metering records its events in them).
    setImmediate(() => { for (const w of waiters) w(); });
  }
}

/** A thread died, was stopped or replaced: what it still owed is estimated from length instead. */
function failJobsOf(thread: Worker): void {
  if (worker === thread) worker = undefined;
  for (const [id, job] of [...pending]) if (job.thread === thread) settle(id, undefined);
}

function onDeadline(id: number): void {
  const thread = pending.get(id)?.thread;
  settle(id, undefined);
  // The thread is stuck in one count: replace it (a later count starts a new one).
  if (thread) {
    failJobsOf(thread);
    void thread.terminate();
  }
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

function submit(job: TokenJob, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const timer = setTimeout(onDeadline, deadlineMs, job.id);
    timer.unref();
    const entry: Pending = { resolve, bytes, thread: undefined, timer };
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
export function countInputTokens(raw: Buffer, surface: ApiSurface): Promise<number> {
  return submit({ id: nextId++, raw: new Uint8Array(raw), surface }, raw.length);
}

/** Estimated tokens of a text (a streamed answer's collected text, capped by the caller). */
export function countTextTokens(text: string): Promise<number> {
  if (text.length === 0) return Promise.resolve(0);
  return submit({ id: nextId++, text }, Buffer.byteLength(text));
}

/** How long a count may take before it is answered by length (tests shorten it). */
export function setTokenCountDeadline(ms: number): void {
  deadlineMs = ms;
}

/** Resolves once no count is outstanding (and their callers' continuations have run). */
export function tokenCountsIdle(): Promise<void> {
  if (pending.size === 0) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(resolve));
}

/** Stops the thread (a later count starts a new one). Bounded: every count answers by its deadline. */
export async function stopTokenCounter(): Promise<void> {
  await tokenCountsIdle();
  const running = worker;
  worker = undefined;
  await running?.terminate();
}
