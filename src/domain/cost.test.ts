import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates } from './resolve.ts';
import type { AttemptPlan } from './routing.ts';
import { attemptCost, audioDurationPico, containerHoldPico, reservationPico, type TokenUsage } from './cost.ts';
import { billedContainerTier, containerTiers } from './hosted-tools.ts';
import { ADVISOR_CALLS_WITHOUT_LIMIT, advisorLimit, COMPACTION_TRIGGER_DEFAULT, compactionTrigger, MAX_ADVISOR_CALLS_HELD, MAX_WEB_SEARCHES_HELD, WEB_SEARCHES_WITHOUT_LIMIT, webSearchLimit, webSearchTool } from './params.ts';
import { snapshot } from '../../test/helpers/snapshot.ts';
import { formatUsd5, PICO_PER_USD } from './money.ts';

const catalog = createCatalog({});
const account = snapshot();
function attempt(model: string, keySource: 'ngrok' | 'user', surface: 'chat-completions' | 'messages' | 'responses' = 'chat-completions'): AttemptPlan {
  const format = surface === 'messages' ? 'anthropic' : 'openai';
  const candidate = resolveCandidates({ model, models: undefined, format, surface }, catalog, account)[0]!;
  return { candidate, keySource, credential: 'k' };
}
const usage = (u: Partial<TokenUsage>): TokenUsage => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...u });
const FEE = 50_000n; // $0.05 per million tokens
/** A time outside every provider's peak hours. */
const NOON = Date.parse('2026-12-03T12:00:00Z');
const attemptCostPico = (...args: Parameters<typeof attemptCost>): bigint => attemptCost(...args).totalPico;

test('managed: input, cached input and output at catalog prices, plus the fee on success', () => {
  // gpt-4o: $2.50 in, $1.25 cached, $10 out per Mtok.
  const u = usage({ inputTokens: 1_000_000, cacheReadTokens: 200_000, outputTokens: 100_000, reasoningTokens: 30_000 });
  const model = 800_000n * 2_500_000n + 200_000n * 1_250_000n + 100_000n * 10_000_000n;
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'ngrok'), 0n, true, NOON), model);
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'ngrok'), FEE, true, NOON), model + 1_100_000n * FEE);
  assert.equal(formatUsd5(model), '3.25000');
});

test('the parts of a cost add up to it: uncached input, cache reads, 5-minute and hour-long writes, output, searches, fee', () => {
  // claude-sonnet-4-6: $3 in, $0.30 read, $3.75 5-minute write, $6 1-hour write, $15 out, $10 per 1,000 searches.
  const u = usage({ inputTokens: 1000, cacheReadTokens: 400, cacheWriteTokens: 300, cacheWrite1hTokens: 100, outputTokens: 50, webSearchRequests: 2 });
  const cost = attemptCost(u, attempt('claude-sonnet-4-6', 'ngrok'), FEE, true, NOON);
  assert.deepEqual(cost, {
    inputPico: 300n * 3_000_000n, cacheReadPico: 400n * 300_000n, cacheWrite5mPico: 200n * 3_750_000n,
    cacheWrite1hPico: 100n * 6_000_000n, outputPico: 50n * 15_000_000n, webSearchPico: 2n * 10_000_000_000n, containerPico: 0n,
    feePico: 1050n * FEE, cacheWrite1hTokens: 100,
    totalPico: 300n * 3_000_000n + 400n * 300_000n + 200n * 3_750_000n + 100n * 6_000_000n + 50n * 15_000_000n + 2n * 10_000_000_000n + 1050n * FEE,
  });
  // The account's own key: only the fee, the token split still shown.
  const own = attemptCost(u, attempt('claude-sonnet-4-6', 'user'), FEE, true, NOON);
  assert.deepEqual([own.inputPico, own.outputPico, own.cacheReadPico, own.cacheWrite5mPico, own.cacheWrite1hPico, own.webSearchPico], [0n, 0n, 0n, 0n, 0n, 0n]);
  assert.equal(own.totalPico, own.feePico);
  assert.equal(own.cacheWrite1hTokens, 100);
  // A failed attempt pays no fee; a provider with one cache lifetime writes for five minutes.
  const openai = attemptCost(usage({ inputTokens: 100, cacheWriteTokens: 40, outputTokens: 1 }), attempt('gpt-4o', 'ngrok'), FEE, false, NOON);
  assert.equal(openai.feePico, 0n);
  assert.equal(openai.cacheWrite1hPico, 0n);
  assert.equal(openai.cacheWrite5mPico + openai.inputPico, 100n * 2_500_000n, 'gpt-4o bills its writes as input');
  // A billion reported searches (the most a count may say) is a lie: billed at 100,000, the total stays in 64 bits.
  const lie = attemptCost(usage({ inputTokens: 1_000_000_000, outputTokens: 1_000_000_000, webSearchRequests: 1_000_000_000 }), attempt('gpt-6.2-astra', 'ngrok'), 2_500_000_000n, true, NOON);
  assert.equal(lie.webSearchPico, 100_000n * 10_000_000_000n);
  assert.ok(lie.totalPico < 2n ** 63n, `${lie.totalPico} fits a 64-bit column`);
  // Counts added up on the way (Anthropic's input is three capped counts) are priced as one capped count.
  const summed = attemptCost(usage({ inputTokens: 3_000_000_000, outputTokens: 1_000_000_000 }), attempt('gpt-6.2-astra', 'user'), 2_500_000_000n, true, NOON);
  assert.equal(summed.feePico, 2_000_000_000n * 2_500_000_000n);
});

test('gemini-3.6-flash example from the spec: $0.75 in, $3.75 out', () => {
  const cost = attemptCostPico(usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 }), attempt('gemini-3.6-flash', 'ngrok'), 0n, true, NOON);
  assert.equal(cost, 4_500_000n * 1_000_000n);
  assert.equal(cost / PICO_PER_USD, 4n);
});

test('cache writes use the cache-write price, missing cache prices fall back to input', () => {
  // claude-haiku-4-5: $1 in, $0.10 read, $1.25 write, $5 out.
  const u = usage({ inputTokens: 1000, cacheReadTokens: 100, cacheWriteTokens: 200, outputTokens: 10 });
  assert.equal(attemptCostPico(u, attempt('claude-haiku-4-5', 'ngrok'), 0n, true, NOON), 700n * 1_000_000n + 100n * 100_000n + 200n * 1_250_000n + 10n * 5_000_000n);
  // gpt-3.5-turbo has no cached price.
  assert.equal(attemptCostPico(usage({ inputTokens: 10, cacheReadTokens: 10 }), attempt('gpt-3.5-turbo', 'ngrok'), 0n, true, NOON), 10n * 500_000n);
});

test('user keys pay only the fee; failures pay nothing beyond model cost', () => {
  const u = usage({ inputTokens: 1000, outputTokens: 500 });
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'user'), FEE, true, NOON), 1500n * FEE);
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'user'), FEE, false, NOON), 0n);
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'ngrok'), FEE, false, NOON), 1000n * 2_500_000n + 500n * 10_000_000n);
});

test('odd counts are clamped to non-negative integers', () => {
  const u = usage({ inputTokens: 10, cacheReadTokens: 50, outputTokens: -5 });
  assert.equal(attemptCostPico(u, attempt('gpt-4o', 'ngrok'), 0n, true, NOON), 10n * 1_250_000n);
});

test('Anthropic hour-long cache writes cost 2 × input, web searches $10 per 1,000', () => {
  // claude-sonnet-4-6: $3 in, $3.75 5-minute write, $6 1-hour write, $15 out (probe: 100 in + 10,000 1h writes).
  const u = usage({ inputTokens: 10_100, cacheWriteTokens: 10_000, cacheWrite1hTokens: 10_000 });
  assert.equal(attemptCostPico(u, attempt('claude-sonnet-4-6', 'ngrok'), 0n, true, NOON), 100n * 3_000_000n + 10_000n * 6_000_000n);
  const mixed = usage({ inputTokens: 300, cacheWriteTokens: 300, cacheWrite1hTokens: 100, outputTokens: 10, webSearchRequests: 50 });
  assert.equal(attemptCostPico(mixed, attempt('claude-sonnet-4-6', 'ngrok'), 0n, true, NOON), 200n * 3_750_000n + 100n * 6_000_000n + 10n * 15_000_000n + 50n * 10_000_000_000n);
  // A reported hour-long count above the writes it is part of is held to them.
  assert.equal(attemptCostPico(usage({ inputTokens: 10, cacheWriteTokens: 5, cacheWrite1hTokens: 99 }), attempt('claude-haiku-4-5', 'ngrok'), 0n, true, NOON), 5n * 1_000_000n + 5n * 2_000_000n);
});

test('long-context tiers price the whole request once its input passes the line', () => {
  // gemini-2.5-pro: $1.25 / $10 up to 200K input, $2.50 / $15 above (the probe's 500K in + 10K out: $1.40).
  const big = attemptCostPico(usage({ inputTokens: 500_000, outputTokens: 10_000 }), attempt('gemini-2.5-pro', 'ngrok'), 0n, true, NOON);
  assert.equal(formatUsd5(big), '1.40000');
  const at = attemptCostPico(usage({ inputTokens: 200_000, outputTokens: 10_000 }), attempt('gemini-2.5-pro', 'ngrok'), 0n, true, NOON);
  assert.equal(at, 200_000n * 1_250_000n + 10_000n * 10_000_000n);
  // Sonnet 4.5's 1M context (the beta): 2 × input, 1.5 × output, cache prices scaled with input.
  const claude = attemptCostPico(usage({ inputTokens: 300_000, cacheReadTokens: 100_000, outputTokens: 1000 }), attempt('claude-sonnet-4-5', 'ngrok'), 0n, true, NOON);
  assert.equal(claude, 200_000n * 6_000_000n + 100_000n * 600_000n + 1000n * 22_500_000n);
  // Sonnet 4.6 and Opus 4.6: standard prices across the whole 1M window.
  const flat = attemptCostPico(usage({ inputTokens: 300_000, cacheReadTokens: 100_000, outputTokens: 1000 }), attempt('claude-sonnet-4-6', 'ngrok'), 0n, true, NOON);
  assert.equal(flat, 200_000n * 3_000_000n + 100_000n * 300_000n + 1000n * 15_000_000n);
  assert.equal(attemptCostPico(usage({ inputTokens: 900_000, outputTokens: 1000 }), attempt('claude-opus-4-6', 'ngrok'), 0n, true, NOON), 900_000n * 5_000_000n + 1000n * 25_000_000n);
  // Models without a long context have no tier.
  assert.equal(attemptCostPico(usage({ inputTokens: 300_000 }), attempt('claude-haiku-4-5', 'ngrok'), 0n, true, NOON), 300_000n * 1_000_000n);
});

test('the 2026 models: OpenAI past 272K input, Haiku 5.5 past 100K of prompt, Opus 5.5 reading its cache at 0.05 × input', () => {
  // gpt-5.4: $2.50 / $0.25 cached / $15; above 272K input $5 / $0.50 / $22.50.
  assert.equal(attemptCostPico(usage({ inputTokens: 272_000, outputTokens: 1000 }), attempt('gpt-5.4', 'ngrok'), 0n, true, NOON), 272_000n * 2_500_000n + 1000n * 15_000_000n);
  assert.equal(attemptCostPico(usage({ inputTokens: 300_000, cacheReadTokens: 100_000, outputTokens: 1000 }), attempt('gpt-5.4', 'ngrok'), 0n, true, NOON),
    200_000n * 5_000_000n + 100_000n * 500_000n + 1000n * 22_500_000n);
  // gpt-6.1-sol as ngrok's changelog names it: $2 / $10, the tier $4 / $15.
  assert.equal(attemptCostPico(usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 }), attempt('openai/gpt-6.1-sol', 'ngrok'), 0n, true, NOON), (4_000_000n + 15_000_000n) * 1_000_000n);
  // claude-haiku-5-5: $0.10 / $0.50, writes $0.125 (5 min); a prompt over 100K — cache reads and writes count — at 5 ×.
  const small = usage({ inputTokens: 60_000, cacheReadTokens: 20_000, cacheWriteTokens: 20_000, outputTokens: 1000 });
  assert.equal(attemptCostPico(small, attempt('claude-haiku-5-5', 'ngrok', 'messages'), 0n, true, NOON), 20_000n * 100_000n + 20_000n * 10_000n + 20_000n * 125_000n + 1000n * 500_000n);
  const large = usage({ inputTokens: 120_000, cacheReadTokens: 60_000, cacheWriteTokens: 50_000, outputTokens: 1000 });
  assert.equal(attemptCostPico(large, attempt('claude-haiku-5-5', 'ngrok', 'messages'), 0n, true, NOON), 10_000n * 500_000n + 60_000n * 50_000n + 50_000n * 625_000n + 1000n * 2_500_000n);
  // claude-opus-5-5: $4 / $20, cache reads $0.20, writes $5 (5 min) and $8 (1 h).
  const opus = usage({ inputTokens: 10_000, cacheReadTokens: 5_000, cacheWriteTokens: 3_000, cacheWrite1hTokens: 1_000, outputTokens: 100 });
  assert.equal(attemptCostPico(opus, attempt('claude-opus-5-5', 'ngrok', 'messages'), 0n, true, NOON), 2_000n * 4_000_000n + 5_000n * 200_000n + 2_000n * 5_000_000n + 1_000n * 8_000_000n + 100n * 20_000_000n);
});

test('DeepSeek bills by the hour of the attempt: peak hours (01–04 and 06–10 UTC) at twice off-peak, and holds at the dearest hour an attempt may be sent in', () => {
  // deepseek-v4-pro off-peak: $0.66 in, $0.022 cache hit, $1.98 out.
  const u = usage({ inputTokens: 1_000_000, cacheReadTokens: 400_000, outputTokens: 100_000 });
  const offPeak = 600_000n * 660_000n + 400_000n * 22_000n + 100_000n * 1_980_000n;
  const plan = attempt('deepseek-v4-pro', 'ngrok');
  assert.equal(attemptCostPico(u, plan, 0n, true, Date.parse('2026-12-03T12:00:00Z')), offPeak);
  assert.equal(attemptCostPico(u, plan, 0n, true, Date.parse('2026-12-03T03:59:59Z')), 2n * offPeak);
  assert.equal(attemptCostPico(u, plan, 0n, true, Date.parse('2026-12-03T04:00:00Z')), offPeak, 'the window ends at 04:00');
  assert.equal(attemptCostPico(u, plan, 0n, true, Date.parse('2026-12-03T06:00:00Z')), 2n * offPeak);
  assert.equal(attemptCostPico(u, plan, 0n, true, Date.parse('2026-12-03T10:00:00Z')), offPeak);
  // A hold is at the dearest prices of the hours its attempts may be sent in (now until the total timeout).
  const offPeakHold = 1000n * 660_000n + 100n * 1_980_000n;
  const hold = (from: string, to: string) => reservationPico(1000, 100, plan, 0n, 0, Date.parse(from), Date.parse(to));
  assert.equal(hold('2026-12-03T12:00:00Z', '2026-12-03T12:02:00Z'), offPeakHold);
  assert.equal(hold('2026-12-03T05:59:00Z', '2026-12-03T06:01:00Z'), 2n * offPeakHold, 'the last attempt may be sent in the peak');
  assert.equal(hold('2026-12-03T03:59:00Z', '2026-12-03T04:01:00Z'), 2n * offPeakHold);
  assert.equal(hold('2026-12-03T10:00:00Z', '2026-12-03T12:30:00Z'), offPeakHold, 'a long window of off-peak hours');
  assert.equal(hold('2026-12-03T11:00:00Z', '2026-12-04T01:30:00Z'), 2n * offPeakHold, 'a window reaching the next peak');
  // The retired name bills as the model that serves it.
  assert.equal(attemptCostPico(usage({ outputTokens: 1_000_000 }), attempt('deepseek-v4-flash', 'ngrok'), 0n, true, Date.parse('2026-12-03T12:00:00Z')), 600_000n * 1_000_000n);
});

test('a reservation past a tier\'s line holds the tier\'s dearest input price', () => {
  const plan = attempt('claude-sonnet-4-5', 'ngrok');
  // Up to 200K: the dearest input price is the hour-long write, 2 × $3.
  assert.equal(reservationPico(100_000, 0, plan, 0n, 0, NOON, NOON), 100_000n * 6_000_000n);
  // Above: 2 × $6.
  assert.equal(reservationPico(300_000, 10, plan, 0n, 0, NOON, NOON), 300_000n * 12_000_000n + 10n * 22_500_000n);
});

test('a reservation holds the web searches a request allows, at $10 per thousand on the managed key only', () => {
  const body = (tools: unknown) => ({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [], tools });
  const managed = attempt('claude-sonnet-4-6', 'ngrok', 'messages');
  const searches = (tools: unknown) => webSearchLimit(body(tools), managed);
  assert.equal(searches([{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }]), 3);
  assert.equal(searches([{ type: 'web_search_20250305', name: 'web_search' }]), WEB_SEARCHES_WITHOUT_LIMIT);
  assert.equal(searches([{ name: 'get_weather', input_schema: {} }, null]), 0);
  assert.equal(searches(undefined), 0);
  // Declared limits are held up to MAX_WEB_SEARCHES_HELD: never the whole balance, never an overflow to nothing.
  assert.equal(searches([{ type: 'web_search_20250305', max_uses: 1e9 }]), MAX_WEB_SEARCHES_HELD);
  assert.equal(searches([{ type: 'web_search_20250305', max_uses: 1e308 }, { type: 'web_search_20250305', max_uses: 1e308 }]), MAX_WEB_SEARCHES_HELD);
  assert.equal(webSearchLimit({ tools: [{ type: 'web_search' }], max_tool_calls: 1e12 }, attempt('gpt-5', 'ngrok', 'responses')), MAX_WEB_SEARCHES_HELD);
  assert.equal(webSearchLimit(body([{ type: 'web_search_20250305', max_uses: 3 }]), attempt('claude-sonnet-4-6', 'ngrok')), 0, 'Anthropic\'s tool, on Messages only');
  const cent = 10_000_000_000n; // $10 / 1000 searches = 1 cent each, in pico-USD
  assert.equal(reservationPico(0, 0, managed, 0n, 3, NOON, NOON), 3n * cent);
  assert.equal(reservationPico(0, 0, attempt('claude-sonnet-4-6', 'user', 'messages'), 0n, 3, NOON, NOON), 0n, 'the account\'s own key pays its searches');
});

test('a reservation with Anthropic\'s advisor tool covers the most its answer is billed: every consultation at its limit, at the advisor\'s prices', () => {
  const executor = attempt('claude-sonnet-4-6', 'ngrok', 'messages');
  const opus = catalog.model('anthropic', 'claude-opus-4-6')!;
  const [input, output, advice, calls] = [20_000, 4_000, 2_048, 2];
  // The worst answer: each iteration reads the whole transcript so far, written to the hour-long cache (the dearest
  // input), the executor writing all its output and each consultation its limit.
  const read = (tokens: number) => ({ inputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: tokens, cacheWrite1hTokens: tokens });
  const iterations = [{ ...read(input), outputTokens: output }];
  let transcript = input + output;
  for (let i = 0; i < calls; i++) {
    iterations.push({ ...read(transcript), outputTokens: advice, price: opus.priceMicro! } as typeof iterations[number]);
    transcript += advice;
    iterations.push({ ...read(transcript), outputTokens: 0 });
  }
  const sum = (f: (it: typeof iterations[number]) => number) => iterations.reduce((n, it) => n + f(it), 0);
  const billed = attemptCost(usage({
    inputTokens: sum((it) => it.inputTokens), outputTokens: sum((it) => it.outputTokens), cacheWriteTokens: sum((it) => it.inputTokens),
    cacheWrite1hTokens: sum((it) => it.inputTokens), iterations,
  }), executor, FEE, true, NOON).totalPico;
  const hold = reservationPico(input, output, executor, FEE, 0, NOON, NOON, false, { calls, outputTokens: advice, price: opus.priceMicro });
  assert.ok(hold >= billed, `held ${formatUsd5(hold)} for an answer billed ${formatUsd5(billed)}`);
  assert.ok(hold > reservationPico(input, output, executor, FEE, 0, NOON, NOON) + BigInt(calls * advice) * 25_000_000n, 'the advice at Opus\'s $25 per million output is held');
  // On the account's own key only the fee is held, on every token the consultations add.
  const own = attempt('claude-sonnet-4-6', 'user', 'messages');
  assert.ok(reservationPico(input, output, own, FEE, 0, NOON, NOON, false, { calls, outputTokens: advice, price: undefined }) >= (BigInt(sum((it) => it.inputTokens + it.outputTokens))) * FEE);
});

test('a reservation with Anthropic\'s compaction covers the most its answer is billed: the transcript summarized at the model\'s maximum output, then read again with the summary', () => {
  // The worst answer: the compaction reads the whole transcript (the input and the executor's output so far, in a
  // server-tool loop) written to the hour-long cache, writes the model's maximum, and the executor reads the summary
  // and all it kept — at most the context window each time.
  const read = (tokens: number) => ({ inputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: tokens, cacheWrite1hTokens: tokens });
  const worst = (model: string, key: 'ngrok' | 'user', input: number, output: number) => {
    const a = attempt(model, key, 'messages');
    const { contextWindow, maxOutputTokens } = a.candidate.catalogModel!;
    const transcript = Math.min(input + output, contextWindow);
    const iterations = [{ ...read(transcript), outputTokens: maxOutputTokens }, { ...read(Math.min(transcript + maxOutputTokens, contextWindow)), outputTokens: output }];
    const sum = (f: (it: typeof iterations[number]) => number) => iterations.reduce((n, it) => n + f(it), 0);
    const billed = attemptCost(usage({
      inputTokens: sum((it) => it.inputTokens), outputTokens: sum((it) => it.outputTokens), cacheWriteTokens: sum((it) => it.inputTokens),
      cacheWrite1hTokens: sum((it) => it.inputTokens), iterations,
    }), a, FEE, true, NOON).totalPico;
    const compaction = { trigger: COMPACTION_TRIGGER_DEFAULT, outputTokens: maxOutputTokens, contextWindow };
    return { billed, held: reservationPico(input, output, a, FEE, 0, NOON, NOON, false, undefined, compaction), unheld: reservationPico(input, output, a, FEE, 0, NOON, NOON) };
  };
  // Opus 4.6 ($5 in, $10 hour-long writes, $25 out; 1M window, 128K out): 160K of input and 8K out past the default
  // trigger. Held without it: $1.81; billed: $8.07 — the summary's 128K of output alone is $3.20. The hold is that
  // worst answer, exactly.
  const opus = worst('claude-opus-4-6', 'ngrok', 160_000, 8_000);
  assert.equal(formatUsd5(opus.held), '8.07000');
  assert.equal(opus.held, opus.billed);
  assert.ok(opus.unheld < opus.billed, `without it, held ${formatUsd5(opus.unheld)} for ${formatUsd5(opus.billed)}`);
  // Sonnet 4.5 (200K window, long-context prices past 200K of input): the transcript and the re-read both capped at
  // the window.
  const sonnet = worst('claude-sonnet-4-5', 'ngrok', 190_000, 20_000);
  assert.ok(sonnet.held >= sonnet.billed, `held ${formatUsd5(sonnet.held)} for ${formatUsd5(sonnet.billed)}`);
  // On the account's own key, the fee on every token the compaction adds.
  const own = worst('claude-opus-4-6', 'user', 160_000, 8_000);
  assert.ok(own.held >= own.billed && own.unheld < own.billed, `held ${formatUsd5(own.held)} (${formatUsd5(own.unheld)} without it) for ${formatUsd5(own.billed)}`);
  // Below the trigger, with the executor's whole output, nothing is compacted: nothing more is held.
  const small = attempt('claude-opus-4-6', 'ngrok', 'messages');
  const compaction = { trigger: COMPACTION_TRIGGER_DEFAULT, outputTokens: 128_000, contextWindow: 1_000_000 };
  assert.equal(reservationPico(140_000, 10_000, small, FEE, 0, NOON, NOON, false, undefined, compaction), reservationPico(140_000, 10_000, small, FEE, 0, NOON, NOON));
  assert.ok(reservationPico(140_000, 10_001, small, FEE, 0, NOON, NOON, false, undefined, compaction) > reservationPico(140_000, 10_001, small, FEE, 0, NOON, NOON));
});

test('a Messages request compacts past its compact edit\'s trigger (150,000 input tokens unless it says), or always when it asks for a summary', () => {
  const managed = attempt('claude-opus-4-6', 'ngrok', 'messages');
  const edit = (extra: Record<string, unknown>) => ({ model: 'claude-opus-4-6', max_tokens: 10, messages: [], context_management: { edits: [{ type: 'clear_tool_uses_20250919' }, { type: 'compact_20260112', ...extra }] } });
  assert.equal(compactionTrigger(edit({}), managed), COMPACTION_TRIGGER_DEFAULT);
  assert.equal(compactionTrigger(edit({ trigger: { type: 'input_tokens', value: 60_000 } }), managed), 60_000);
  assert.equal(compactionTrigger({ messages: [], compaction: { type: 'summarize' } }, managed), 0);
  assert.equal(compactionTrigger({ messages: [], context_management: { edits: [{ type: 'clear_thinking_20251015' }] } }, managed), undefined);
  assert.equal(compactionTrigger({ messages: [] }, managed), undefined);
  // A chat request Claude serves by translation sends neither.
  assert.equal(compactionTrigger(edit({}), managed, 'chat-completions'), undefined);
});

test('the advisor consultations a Messages request allows: max_uses (else a few), each up to the tool\'s max_tokens', () => {
  const managed = attempt('claude-sonnet-4-6', 'ngrok', 'messages');
  const body = (tool: Record<string, unknown>) => ({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [], tools: [{ name: 'f', input_schema: {} }, { type: 'advisor_20260301', name: 'advisor', model: 'claude-opus-4-6', ...tool }] });
  assert.deepEqual(advisorLimit(body({ max_uses: 2, max_tokens: 2048 }), managed), { model: 'claude-opus-4-6', calls: 2, outputTokens: 2048 });
  assert.deepEqual(advisorLimit(body({}), managed), { model: 'claude-opus-4-6', calls: ADVISOR_CALLS_WITHOUT_LIMIT, outputTokens: undefined });
  assert.equal(advisorLimit(body({ max_uses: 1e12 }), managed)?.calls, MAX_ADVISOR_CALLS_HELD);
  assert.equal(advisorLimit(body({ max_uses: 0 }), managed)?.calls, 0);
  assert.equal(advisorLimit({ tools: [{ type: 'web_search_20250305' }] }, managed), undefined);
  // A chat request Claude serves by translation sends no hosted tool.
  assert.equal(advisorLimit(body({}), managed, 'chat-completions'), undefined);
});

test('OpenAI web_search_preview: $25 per thousand on GPT-4o and GPT-4.1, $10 on reasoning models; held at the dearer price when it may run', () => {
  const cent = 10_000_000_000n;
  const gpt4o = attempt('gpt-4o', 'ngrok', 'responses');
  const gpt5 = attempt('gpt-5', 'ngrok', 'responses');
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'preview' }), gpt4o, 0n, true, NOON), 5n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2 }), gpt4o, 0n, true, NOON), 2n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'preview' }), attempt('gpt-4.1-mini', 'ngrok', 'responses'), 0n, true, NOON), 5n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'preview' }), gpt5, 0n, true, NOON), 2n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'preview' }), attempt('gpt-4o', 'user', 'responses'), 0n, true, NOON), 0n, 'the account\'s own key pays its searches');
  // Both tools offered: the answer does not say which ran a search, so each is billed at the dearer tool's price.
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'both' }), gpt4o, 0n, true, NOON), 5n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'both' }), gpt5, 0n, true, NOON), 2n * cent);
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2, webSearchTool: 'standard' }), gpt4o, 0n, true, NOON), 2n * cent);
  assert.equal(reservationPico(0, 0, gpt4o, 0n, 4, NOON, NOON, true), 10n * cent);
  assert.equal(reservationPico(0, 0, gpt4o, 0n, 4, NOON, NOON), 4n * cent);
  assert.equal(reservationPico(0, 0, gpt5, 0n, 4, NOON, NOON, true), 4n * cent);
  const tools = (...types: string[]) => ({ tools: types.map((type) => ({ type })) });
  assert.equal(webSearchTool(tools('web_search_preview')), 'preview');
  assert.equal(webSearchTool(tools('function', 'web_search_preview_2025_03_11')), 'preview');
  assert.equal(webSearchTool(tools('web_search', 'web_search_2025_08_26')), 'standard');
  assert.equal(webSearchTool(tools('web_search_preview', 'web_search')), 'both');
  assert.equal(webSearchTool(tools('function')), undefined);
  assert.equal(webSearchTool({ tools: [null, 7, { type: 1 }] }), undefined);
  assert.equal(webSearchTool({}), undefined);
});

test('OpenAI Responses web searches: $10 per thousand calls, held up to max_tool_calls', () => {
  const responses = attempt('gpt-5', 'ngrok', 'responses');
  const cent = 10_000_000_000n;
  assert.equal(attemptCostPico(usage({ webSearchRequests: 2 }), responses, 0n, true, NOON), 2n * cent);
  const body = (extra: Record<string, unknown>) => ({ model: 'gpt-5', input: 'x', tools: [{ type: 'web_search' }], ...extra });
  assert.equal(webSearchLimit(body({ max_tool_calls: 4 }), responses), 4);
  assert.equal(webSearchLimit(body({}), responses), WEB_SEARCHES_WITHOUT_LIMIT);
  assert.equal(webSearchLimit({ model: 'gpt-5', input: 'x', tools: [{ type: 'function', name: 'f' }] }, responses), 0);
  // A Responses request Claude serves by translation loses its hosted tools on the way: no search is held.
  assert.equal(webSearchLimit(body({}), attempt('claude-sonnet-4-6', 'ngrok', 'messages'), 'responses'), 0);
  assert.equal(webSearchLimit(body({}), responses, 'responses'), WEB_SEARCHES_WITHOUT_LIMIT);
  assert.equal(reservationPico(0, 0, responses, 0n, 4, NOON, NOON), 4n * cent);
});

test('iterations billed one by one (Anthropic\'s usage.iterations): a long-context line judged on each one\'s input, another model\'s at its prices', () => {
  // Sonnet 4.5's 1M context: $3 / $15 up to 200K of input, $6 / $22.50 past it — for each sampling iteration.
  const it = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 });
  const two = usage({ inputTokens: 300_000, outputTokens: 2000, iterations: [it(150_000, 1000), it(150_000, 1000)] });
  assert.equal(attemptCostPico(two, attempt('claude-sonnet-4-5', 'ngrok', 'messages'), 0n, true, NOON), 300_000n * 3_000_000n + 2000n * 15_000_000n);
  const past = usage({ inputTokens: 350_000, outputTokens: 2000, iterations: [it(100_000, 1000), it(250_000, 1000)] });
  assert.equal(attemptCostPico(past, attempt('claude-sonnet-4-5', 'ngrok', 'messages'), 0n, true, NOON),
    100_000n * 3_000_000n + 1000n * 15_000_000n + 250_000n * 6_000_000n + 1000n * 22_500_000n);
  // An iteration on another model (the advisor) at that model's prices: Opus 4.6, $5 / $25.
  const opus = catalog.model('anthropic', 'claude-opus-4-6')!.priceMicro!;
  const advised = usage({ inputTokens: 2000, outputTokens: 700, iterations: [it(1000, 100), { ...it(1000, 600), price: opus }] });
  const cost = attemptCost(advised, attempt('claude-sonnet-4-6', 'ngrok', 'messages'), FEE, true, NOON);
  assert.equal(cost.totalPico, 1000n * 3_000_000n + 100n * 15_000_000n + 1000n * 5_000_000n + 600n * 25_000_000n + 2700n * FEE);
  // On the account's own key only the fee, on every iteration's tokens.
  assert.equal(attemptCostPico(advised, attempt('claude-sonnet-4-6', 'user', 'messages'), FEE, true, NOON), 2700n * FEE);
});

test('OpenAI code interpreter containers: a 20-minute session each at the tier the request asked, in the total; held per tool on the managed key', () => {
  // gpt-4o-mini: $0.15 in, $0.60 out per Mtok; a 4 GB session $0.12.
  const u = usage({ inputTokens: 1000, outputTokens: 100, containerSessions: 2, containerTier: '4g' });
  const cost = attemptCost(u, attempt('gpt-4o-mini', 'ngrok', 'responses'), FEE, true, NOON);
  assert.equal(cost.containerPico, 2n * 120_000_000_000n);
  assert.equal(cost.totalPico, 1000n * 150_000n + 100n * 600_000n + 2n * 120_000_000_000n + 1100n * FEE);
  assert.equal(attemptCost(usage({ containerSessions: 1 }), attempt('gpt-4o-mini', 'ngrok', 'responses'), 0n, true, NOON).totalPico, 30_000_000_000n, '1 GB unless the tool asked more: $0.03');
  assert.equal(attemptCost(u, attempt('gpt-4o-mini', 'user', 'responses'), FEE, true, NOON).containerPico, 0n, 'the account\'s own key pays OpenAI itself');
  const tools = [{ type: 'code_interpreter', container: { type: 'auto' } }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '64g' } }];
  const tiers = containerTiers({ tools }, 'responses', 'responses');
  assert.deepEqual(tiers, ['1g', '64g']);
  assert.equal(billedContainerTier({ tools }), '64g', 'the answer does not say which container is which: the dearest');
  assert.deepEqual(containerTiers({ tools }, 'messages', 'responses'), [], 'a translated request sends no hosted tool');
  assert.equal(containerHoldPico(tiers, attempt('gpt-4o-mini', 'ngrok', 'responses')), 30_000_000_000n + 1_920_000_000_000n);
  assert.equal(containerHoldPico(tiers, attempt('gpt-4o-mini', 'user', 'responses')), 0n);
  // OpenAI's hosted shell runs in such a container too (`container_auto`, its `memory_limit`); a local shell in none.
  const shells = [{ type: 'shell', environment: { type: 'container_auto', memory_limit: '16g' } }, { type: 'shell', environment: { type: 'local' } }, { type: 'shell' }];
  assert.deepEqual(containerTiers({ tools: shells }, 'responses', 'responses'), ['16g']);
  assert.equal(billedContainerTier({ tools: [...shells, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] }), '16g');
});

test('money review: counts at 2^31 and 2^53 price as the billion-token cap, exactly; cached and reasoning tokens are never billed twice; a per-minute price bills to the microsecond', () => {
  // gpt-4o: $2.50 in, $1.25 cached, $10 out per Mtok. Every count past a billion (a provider's lie, or a sum of them)
  // is priced as a billion: integers end to end, the total in 64 bits.
  const huge = usage({ inputTokens: 2 ** 53, cacheReadTokens: 2 ** 31, outputTokens: 2 ** 31, reasoningTokens: 2 ** 53 });
  const cost = attemptCost(huge, attempt('gpt-4o', 'ngrok'), FEE, true, NOON);
  assert.deepEqual([cost.inputPico, cost.cacheReadPico, cost.outputPico, cost.feePico], [0n, 1_000_000_000n * 1_250_000n, 1_000_000_000n * 10_000_000n, 2_000_000_000n * FEE]);
  assert.equal(cost.totalPico, 1_250_000_000_000_000n + 10_000_000_000_000_000n + 2_000_000_000n * FEE);
  assert.equal(formatUsd5(cost.totalPico), '11350.00000');
  // One token less than the cap, and a fraction: floored, never rounded up, never a float in the product.
  const odd = attemptCost(usage({ inputTokens: 999_999_999.9, outputTokens: 3 }), attempt('gpt-4o', 'ngrok'), 0n, true, NOON);
  assert.equal(odd.totalPico, 999_999_999n * 2_500_000n + 3n * 10_000_000n);
  // Reasoning is part of the output (OpenAI's reasoning_tokens, Gemini's thoughts as output): priced once.
  assert.equal(attemptCost(usage({ outputTokens: 100, reasoningTokens: 60 }), attempt('gpt-4o', 'ngrok'), 0n, true, NOON).totalPico, 100n * 10_000_000n);
  // whisper-1 at $0.006 a minute (6e9 pico): 1.1 s is $0.00011 and 10,799.999 s (3 h less a millisecond) $1.0799999,
  // to the pico, though the seconds come as a float.
  const whisper = catalog.model('openai', 'whisper-1')!.priceMicro!.audioMinutePico!;
  assert.equal(whisper, 6_000_000_000n);
  assert.equal(audioDurationPico(1.1 * 1000, whisper), 110_000_000n);
  assert.equal(audioDurationPico(10_799.999 * 1000, whisper), 1_079_999_900_000n);
  assert.equal(audioDurationPico(0.0000001, whisper), 100n, 'a sliver of audio is a microsecond of it (100 pico-USD at this price)');
});
