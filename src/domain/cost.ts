// Cost of one upstream attempt in pico-USD (gateway.md §10). Integers only: token counts × micro-USD per
// million tokens is exactly pico-USD. Model cost applies only when the operator's (managed) credential
// served; the processing fee applies to successful attempts whatever the credential.
import type { AttemptPlan } from './routing.ts';

export interface TokenUsage {
  /** All input tokens, cached ones included (normalise Anthropic's split counts before calling). */
  inputTokens: number;
  /** All output tokens, reasoning tokens included. */
  outputTokens: number;
  /** Part of inputTokens read from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Part of inputTokens written to the provider's prompt cache. */
  cacheWriteTokens: number;
  /** Part of outputTokens spent on reasoning (reported, priced as output). */
  reasoningTokens: number;
}

function count(n: number): bigint {
  return Number.isFinite(n) && n > 0 ? BigInt(Math.floor(n)) : 0n;
}

export function modelCostPico(usage: TokenUsage, attempt: AttemptPlan): bigint {
  if (attempt.keySource !== 'ngrok') return 0n;
  const price = attempt.candidate.catalogModel?.priceMicro;
  if (!price) return 0n;
  const input = count(usage.inputTokens);
  const cacheRead = count(usage.cacheReadTokens);
  const cacheWrite = count(usage.cacheWriteTokens);
  // Cached counts never exceed the input they are part of, whatever a provider reports.
  const cachedRead = cacheRead < input ? cacheRead : input;
  const cachedWrite = cacheWrite < input - cachedRead ? cacheWrite : input - cachedRead;
  const uncached = input - cachedRead - cachedWrite;
  return uncached * price.input
    + cachedRead * (price.cacheRead ?? price.input)
    + cachedWrite * (price.cacheWrite ?? price.input)
    + count(usage.outputTokens) * price.output;
}

export function attemptCostPico(usage: TokenUsage, attempt: AttemptPlan, feeMicroUsdPerMtok: bigint, succeeded: boolean): bigint {
  const fee = succeeded ? (count(usage.inputTokens) + count(usage.outputTokens)) * feeMicroUsdPerMtok : 0n;
  return modelCostPico(usage, attempt) + fee;
}

/**
 * Upper bound of one attempt's cost for a credit reservation: every input token at the dearest input price
 * (a cache write can cost more than plain input), `outputTokens` at the output price, the fee on both.
 */
export function reservationPico(inputTokens: number, outputTokens: number, attempt: AttemptPlan, feeMicroUsdPerMtok: bigint): bigint {
  const input = count(inputTokens);
  const output = count(outputTokens);
  const price = attempt.keySource === 'ngrok' ? attempt.candidate.catalogModel?.priceMicro : undefined;
  let inputPrice = price?.input ?? 0n;
  if (price?.cacheWrite !== undefined && price.cacheWrite > inputPrice) inputPrice = price.cacheWrite;
  if (price?.cacheRead !== undefined && price.cacheRead > inputPrice) inputPrice = price.cacheRead;
  return input * inputPrice + output * (price?.output ?? 0n) + (input + output) * feeMicroUsdPerMtok;
}
