// The tokenizer's thread (see token-counter.ts): loads the o200k ranks here, off the gateway's event loop,
// and answers counts. Messages: { id, raw, surface } (a request body) or { id, text }; answer { id, tokens }.
import { parentPort } from 'node:worker_threads';
import type { ApiSurface } from '../catalog/types.ts';
import { estimateRawRequestInputTokens, estimateTokens } from './tokens.ts';

export type TokenJob = { id: number; raw: Uint8Array; surface: ApiSurface } | { id: number; text: string };
export type TokenAnswer = { id: number; tokens: number } | { id: number; error: string };

function count(job: TokenJob): number {
  return 'text' in job ? estimateTokens(job.text) : estimateRawRequestInputTokens(job.raw, job.surface);
}

parentPort?.on('message', (job: TokenJob) => {
  let answer: TokenAnswer;
  try {
    answer = { id: job.id, tokens: count(job) };
  } catch (error) {
    answer = { id: job.id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(answer);
});
