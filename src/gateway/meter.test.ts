// Web searches in the usage events the meter records: the provider's count when it came (it leaves out
// searches that failed), the searches a stream showed running when it ended before that count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates } from '../domain/resolve.ts';
import type { UsageEvent } from '../usage/event.ts';
import { snapshot } from '../../test/helpers/snapshot.ts';
import type { RequestContext } from './context.ts';
import { anthropic } from './formats/anthropic.ts';
import { meterAttempts, type AttemptRecord } from './meter.ts';
import { StreamMeter } from './stream-meter.ts';

const account = snapshot();
const candidate = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'anthropic', surface: 'messages' }, createCatalog({}), account)[0]!;
/** claude-sonnet-4-6 on the managed key: $3 / $15 per million tokens, $10 per thousand searches. */
const tokensPico = (input: bigint, output: bigint) => input * 3_000_000n + output * 15_000_000n;
const SEARCH_PICO = 10_000_000_000n;

const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const search = (index: number, failed: boolean) => [
  sse('content_block_start', { index, content_block: { type: 'server_tool_use', id: `s${index}`, name: 'web_search', input: { query: 'q' } } }),
  sse('content_block_stop', { index }),
  sse('content_block_start', { index: index + 1, content_block: { type: 'web_search_tool_result', tool_use_id: `s${index}`, content: failed ? { type: 'web_search_tool_result_error', error_code: 'max_uses_exceeded' } : [] } }),
  sse('content_block_stop', { index: index + 1 }),
];
const START = sse('message_start', { message: { id: 'm', type: 'message', role: 'assistant', content: [], usage: { input_tokens: 10, output_tokens: 1 } } });

/** Meters one served managed-key attempt whose stream carried `events`; returns its usage event. */
async function metered(events: readonly string[]): Promise<UsageEvent> {
  const meter = new StreamMeter(anthropic, 'messages', false);
  meter.push(Buffer.from(events.join('')));
  meter.end();
  const recorded: UsageEvent[] = [];
  const ctx = {
    key: { id: 'ak_1', accountId: account.accountId }, account, route: { format: 'anthropic', surface: 'messages' }, requestId: 'rq_1',
    // The input estimate is known: no tokenizer thread is needed for a stream cut short.
    inputEstimate: 10,
    deps: { usage: { record: (e: UsageEvent) => recorded.push(e) }, state: { debit() {}, markUsed() {} }, options: { processingFeeMicroUsdPerMtok: 0n } },
  } as unknown as RequestContext;
  const record: AttemptRecord = {
    plan: { candidate, keySource: 'ngrok', credential: 'k' }, eventId: 'ev_1', statusCode: 200, timedOut: false,
    retryAction: 'succeeded', completion: 'succeeded', durationMs: 1, startedAt: 0, served: true, facts: meter.facts,
  };
  await meterAttempts(ctx, [record], true);
  assert.equal(recorded.length, 1);
  return recorded[0]!;
}

describe('metering web searches', () => {
  it('a complete stream bills the provider\'s count, not a failed search that opened its block', async () => {
    const event = await metered([
      START, ...search(0, false), ...search(2, true),
      sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5, server_tool_use: { web_search_requests: 1 } } }),
      sse('message_stop', {}),
    ]);
    assert.equal(event.costPico, tokensPico(10n, 5n) + SEARCH_PICO);
    // The searches have no part of their own: the parts are the tokens', the searches the rest of the total.
    assert.deepEqual([event.inputCostPico, event.outputCostPico, event.feePico], [tokensPico(10n, 0n), tokensPico(0n, 5n), 0n]);
  });

  it('a stream cut before its final usage bills the searches it showed running', async () => {
    const event = await metered([START, ...search(0, false), ...search(2, false)]);
    assert.equal(event.usageEstimated, true);
    assert.equal(event.costPico - tokensPico(10n, BigInt(event.outputTokens)), 2n * SEARCH_PICO);
  });
});
