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
const catalog = createCatalog({});
const candidate = resolveCandidates({ model: 'claude-sonnet-4-6', models: undefined, format: 'anthropic', surface: 'messages' }, catalog, account)[0]!;
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
    deps: { catalog, usage: { record: (e: UsageEvent) => recorded.push(e) }, state: { debit() {}, markUsed() {} }, options: { processingFeeMicroUsdPerMtok: 0n } },
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

describe('metering compaction', () => {
  it('the compaction iteration Anthropic bills beside the top-level counts is in the event\'s tokens and cost', async () => {
    // The summary read 180,000 tokens and wrote 3,500; the answer after it read 10 and wrote 5 (the top-level counts).
    const event = await metered([
      START, sse('content_block_start', { index: 0, content_block: { type: 'compaction', content: null } }),
      sse('content_block_delta', { index: 0, delta: { type: 'compaction_delta', content: 'Summary of the conversation' } }),
      sse('content_block_stop', { index: 0 }),
      sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5, iterations: [
        { type: 'compaction', input_tokens: 180_000, output_tokens: 3500, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        { type: 'message', input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      ] } }),
      sse('message_stop', {}),
    ]);
    assert.deepEqual([event.inputTokens, event.outputTokens, event.usageEstimated], [180_010, 3505, false]);
    assert.equal(event.costPico, tokensPico(180_010n, 3505n));
  });
});

describe('metering the advisor tool', () => {
  it('the advisor\'s iterations are billed at the advisor model\'s prices, and every executor iteration\'s input at the executor\'s', async () => {
    // Sonnet 4.6 executes ($3 in, $0.30 cache read, $15 out); Opus 4.6 advises ($5 in, $25 out). The top level
    // counts the first executor iteration's input (412) and the executors' output (531) only.
    const iterations = [
      { type: 'message', model: 'claude-sonnet-4-6', input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 89 },
      { type: 'advisor_message', model: 'claude-opus-4-6', input_tokens: 823, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 1612 },
      { type: 'message', model: 'claude-sonnet-4-6', input_tokens: 1348, cache_read_input_tokens: 412, cache_creation_input_tokens: 0, output_tokens: 442 },
    ];
    const event = await metered([
      START,
      sse('content_block_start', { index: 0, content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'advisor', input: {} } }),
      sse('content_block_stop', { index: 0 }),
      sse('content_block_start', { index: 1, content_block: { type: 'advisor_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'advisor_result', text: 'Plan.' } } }),
      sse('content_block_stop', { index: 1 }),
      sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 531, iterations } }),
      sse('message_stop', {}),
    ]);
    const sonnet = (412n + 1348n) * 3_000_000n + 412n * 300_000n + (89n + 442n) * 15_000_000n;
    const opus = 823n * 5_000_000n + 1612n * 25_000_000n;
    assert.equal(event.costPico, sonnet + opus);
    assert.deepEqual([event.inputTokens, event.cacheReadTokens, event.outputTokens], [412 + 823 + 1348 + 412, 412, 89 + 1612 + 442]);
    assert.equal(event.inputCostPico + event.outputCostPico + event.cacheReadCostPico, event.costPico, 'the parts add up to the total');
  });

  it('a refusal answered by a server-side fallback model is billed at the fallback\'s prices', async () => {
    // Sonnet 4.6 refused ($3 in); Opus 4.6 answered in its place ($5 in, $25 out).
    const iterations = [
      { type: 'message', model: 'claude-sonnet-4-6', input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 0 },
      { type: 'fallback_message', model: 'claude-opus-4-6', input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 300 },
    ];
    const event = await metered([
      START,
      sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 412, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 300, iterations } }),
      sse('message_stop', {}),
    ]);
    assert.equal(event.costPico, 412n * 3_000_000n + 412n * 5_000_000n + 300n * 25_000_000n);
  });
});
