// The tokenizer's thread (see token-counter.ts): builds the o200k encoder here, off the gateway's event loop,
// and answers counts. Messages: { id, raw, surface } (a request body) or { id, text }; answer { id, tokens }.
import { parentPort } from 'node:worker_threads';
import type { ApiSurface } from '../catalog/types.ts';
import { estimateRequestInputTokens, estimateTokens } from './tokens.ts';

export type TokenJob = { id: number; raw: Uint8Array; surface: ApiSurface } | { id: number; text: string };
export type TokenAnswer = { id: number; tokens: number } | { id: number; error: string };

function count(job: TokenJob): number {
  if ('text' in job) return estimateTokens(job.text);
  const body: unknown = JSON.parse(Buffer.from(job.raw.buffer, job.raw.byteOffset, job.raw.byteLength).toString('utf8'));
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? estimateRequestInputTokens(body as Record<string, unknown>, job.surface) : 0;
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
