// /usage and /usage/overview on SQLite and PostgreSQL over events seeded with insertUsageEvents: window and
// access-key filters, final attempts vs retries, cursor paging, exact overview sums, isolation; and /v1/models.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS } from './helpers/stores.ts';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { usageEvent } from './helpers/usage.ts';
import { insertUsageEvents } from '../src/store/usage-events.ts';
import type { UsageEvent } from '../src/usage/event.ts';
import type { components } from '../src/control/spec-types.ts';

interface UsageList { aiGatewayUsage: Array<Record<string, unknown> & { id: string; eventTime: string }>; uri: string; nextPageUri: string | null }
interface Overview { buckets: Array<{ bucketStart: string; groupKey: string; cost: string; requests: number; errors: number }>; totals: { cost: string; requests: number; errors: number } }

const DAY1 = '2025-03-01';
const DAY2 = '2025-03-02';
const WINDOW = `startTime=${DAY1}T00:00:00Z&endTime=${DAY2}T23:59:59Z`;
// Costs chosen so that float arithmetic would drift: 0.1 + 0.2 USD and a sum beyond 2^53 pico-USD.
const BIG = 9_007_199_254_740_993n;
const USD = 1_000_000_000_000n;

function seed(accountId: string): UsageEvent[] {
  const e = (o: Partial<UsageEvent>) => usageEvent(accountId, o);
  return [
    // Request A on day 1: a 429 retried on another key, then success (user key).
    e({ id: 'ue_a1', requestId: 'rq_a', attemptNumber: 1, isFinalAttempt: false, statusCode: 429, isError: true, costPico: 0n, retryAction: 'next_key', eventTime: `${DAY1}T10:00:00.000Z`, accessKeyId: 'aigk_one', keySource: 'user', providerKeyId: 'aigpk_1', providerKeyDisplayName: 'sk-abc***wxyz' }),
    e({ id: 'ue_a2', requestId: 'rq_a', attemptNumber: 2, isFinalAttempt: true, costPico: 100_000_000_000n, eventTime: `${DAY1}T10:00:01.000Z`, accessKeyId: 'aigk_one', keySource: 'user', providerKeyId: 'aigpk_2', providerKeyDisplayName: 'sk-def***wxyz' }),
    // Request B on day 1, anthropic, failed finally, costs a partial stream.
    e({ id: 'ue_b1', requestId: 'rq_b', provider: 'anthropic', providerDisplayName: 'Anthropic', model: 'claude-x', isFinalAttempt: true, statusCode: 500, isError: true, retryAction: 'exhausted', completion: 'failed', costPico: 200_000_000_000n, eventTime: `${DAY1}T12:00:00.000Z`, accessKeyId: 'aigk_two' }),
    // Request C on day 2, a big managed-credential cost.
    // Its parts: 4 + 0.000015 (rounds up) + 0.75 + 2.25 + 1 + 0.5 + the rest in web searches (no part of their own).
    e({
      id: 'ue_c1', requestId: 'rq_c', isFinalAttempt: true, costPico: BIG, eventTime: `${DAY2}T08:00:00.000Z`, accessKeyId: 'aigk_one',
      cacheWriteTokens: 30, cacheWrite1hTokens: 10, inputCostPico: 4n * USD, outputCostPico: 15_000_000n, cacheReadCostPico: 3n * USD / 4n,
      cacheWrite5mCostPico: 9n * USD / 4n, cacheWrite1hCostPico: USD, feePico: USD / 2n,
    }),
    // Outside the window.
    e({ id: 'ue_z1', requestId: 'rq_z', isFinalAttempt: true, costPico: 5n, eventTime: '2025-02-28T23:59:59.999Z' }),
  ];
}

const path = (uri: string) => uri.replace(/^https?:\/\/[^/]+/, '');

for (const kind of STORE_KINDS) {
  describe(`usage (${kind})`, () => {
    let control: TestControl;
    before(async () => {
      control = await startControl(kind);
      await insertUsageEvents(control.store.db, seed(control.accountId));
      await insertUsageEvents(control.store.db, [usageEvent(control.other.accountId, { id: 'ue_other', eventTime: `${DAY1}T11:00:00.000Z`, accessKeyId: 'aigk_one', costPico: 7n })]);
    });
    after(async () => { await control.close(); });

    const list = async (qs: string, token?: string) => expectSchema<UsageList>(await control.call('GET', `/usage?${qs}`, undefined, token), 200, 'AIGatewayUsageList');

    test('final attempts only by default, newest first, mapped to the contract', async () => {
      const page = await list(WINDOW);
      assert.deepEqual(page.aiGatewayUsage.map((u) => u.id), ['ue_c1', 'ue_b1', 'ue_a2']);
      assert.equal(page.nextPageUri, null);
      const a2 = page.aiGatewayUsage.find((u) => u.id === 'ue_a2')!;
      assert.equal(a2.totalCost, '0.10000');
      assert.equal(a2.keySource, 'user');
      assert.equal(a2.providerKeyId, 'aigpk_2');
      assert.equal(a2.providerKeyDisplayName, 'sk-def***wxyz');
      assert.equal(a2.isFinalAttempt, true);
      const c1 = page.aiGatewayUsage.find((u) => u.id === 'ue_c1')!;
      assert.equal(c1.totalCost, '9007.19925');
      assert.equal(c1.providerKeyId, undefined);
      assert.equal(c1.accountId, undefined, 'internal fields stay internal');
      assert.deepEqual([a2.cacheWriteTokens, a2.inputTokensEstimate, a2.outputTokensEstimate, a2.usageEstimated], [0, 0, 0, false]);
      assert.deepEqual(
        [c1.cacheWriteTokens, c1.cacheWrite5mTokens, c1.cacheWrite1hTokens, c1.inputTokenCost, c1.outputTokenCost, c1.cacheReadCost, c1.cacheWriteCost, c1.cacheWrite5mCost, c1.cacheWrite1hCost, c1.ngrokProcessingFee],
        [30, 20, 10, '4.00000', '0.00002', '0.75000', '3.25000', '2.25000', '1.00000', '0.50000'],
      );
      // An event without parts (every one recorded before they were kept) shows zeros beside its total.
      assert.deepEqual([a2.inputTokenCost, a2.outputTokenCost, a2.cacheWriteCost, a2.ngrokProcessingFee], ['0.00000', '0.00000', '0.00000', '0.00000']);
    });

    test('GET /usage/requests/{requestId}: every attempt of the request in order, with the verdict on each', async () => {
      const found = expectSchema<{ uri: string; requestId: string; attempts: Array<{ event: { id: string; attemptNumber: number }; served: boolean; retryAction?: string; completion: string; upstreamDurationMs: number | null; requestDurationMs: number | null }> }>(
        await control.call('GET', '/usage/requests/rq_a'), 200, 'AIGatewayRequest');
      assert.equal(found.requestId, 'rq_a');
      assert.equal(path(found.uri), '/usage/requests/rq_a');
      assert.deepEqual(found.attempts.map((a) => [a.event.id, a.event.attemptNumber, a.served, a.retryAction, a.completion]),
        [['ue_a1', 1, false, 'next_key', 'succeeded'], ['ue_a2', 2, true, 'succeeded', 'succeeded']]);
      assert.equal(found.attempts[0]!.upstreamDurationMs, 5);
      assert.equal(found.attempts[0]!.requestDurationMs, null, 'not recorded per attempt');
      // Served or not: a request every candidate failed (the gateway's own error answered it); the provider's refusal
      // passed through (the client got that answer); an answer the client had left before (nobody received it).
      const at = '2020-06-01T00:00:00.000Z';
      await insertUsageEvents(control.store.db, [
        usageEvent(control.accountId, { id: 'ue_refused', requestId: 'rq_refused', statusCode: 400, isError: true, retryAction: 'fail_fast', completion: 'failed', eventTime: at }),
        usageEvent(control.accountId, { id: 'ue_gone', requestId: 'rq_gone', statusCode: 200, retryAction: 'succeeded', completion: 'unknown', eventTime: at }),
        // A provider that reported no usage: the gateway's own counts, shown as ngrok's later contract has them.
        usageEvent(control.accountId, { id: 'ue_est', requestId: 'rq_est', inputTokens: 0, outputTokens: 0, cacheWriteTokens: 7, usageEstimated: true, inputTokensEstimate: 12, outputTokensEstimate: 30, eventTime: at }),
      ]);
      const estimated = expectSchema<{ attempts: Array<{ event: Record<string, unknown> }> }>(await control.call('GET', '/usage/requests/rq_est'), 200, 'AIGatewayRequest').attempts[0]!.event;
      assert.deepEqual([estimated.inputTokens, estimated.cacheWriteTokens, estimated.usageEstimated, estimated.inputTokensEstimate, estimated.outputTokensEstimate], [0, 7, true, 12, 30]);
      const servedOf = async (id: string) => expectSchema<{ attempts: Array<{ served: boolean }> }>(await control.call('GET', `/usage/requests/${id}`), 200, 'AIGatewayRequest').attempts.map((a) => a.served);
      assert.deepEqual(await servedOf('rq_b'), [false]);
      assert.deepEqual(await servedOf('rq_refused'), [true]);
      assert.deepEqual(await servedOf('rq_gone'), [false]);
      // Unknown, and another account's: both read as missing.
      expectError(await control.call('GET', '/usage/requests/rq_nope'), 404, 'ERR_NGROK_27611');
      expectError(await control.call('GET', '/usage/requests/rq_a', undefined, control.other.token), 404, 'ERR_NGROK_27611');
    });

    test('one event\'s cost and its parts read back exact past 2^53 pico-USD (about $9,007), listed or by request', async () => {
      // $9,007.199254999999 rounds to 9007.19925; read as a JS number it is 9007199255000000 pico, shown 9007.19926.
      const cost = 9_007_199_254_999_999n;
      const at = '2018-07-01T12:00:00.000Z';
      await insertUsageEvents(control.store.db, [usageEvent(control.accountId, {
        id: 'ue_precise', requestId: 'rq_precise', isFinalAttempt: true, eventTime: at, costPico: cost,
        inputCostPico: cost, outputCostPico: cost, cacheReadCostPico: cost, cacheWrite5mCostPico: cost, cacheWrite1hCostPico: cost, feePico: cost,
      })]);
      const fields = (u: Record<string, unknown>) => [u.totalCost, u.inputTokenCost, u.outputTokenCost, u.cacheReadCost, u.cacheWrite5mCost, u.cacheWrite1hCost, u.ngrokProcessingFee, u.cacheWriteCost];
      const exact = ['9007.19925', '9007.19925', '9007.19925', '9007.19925', '9007.19925', '9007.19925', '9007.19925', '18014.39851'];
      const [listed] = (await list('startTime=2018-07-01T00:00:00Z&endTime=2018-07-01T23:59:59Z')).aiGatewayUsage;
      assert.deepEqual(fields(listed!), exact);
      const found = expectSchema<{ attempts: Array<{ event: Record<string, unknown> }> }>(await control.call('GET', '/usage/requests/rq_precise'), 200, 'AIGatewayRequest');
      assert.deepEqual(fields(found.attempts[0]!.event), exact);
      // Sums over many events pass 2^53 sooner: the overview's (the credits' balance and invoice preview are summed so too).
      await insertUsageEvents(control.store.db, [usageEvent(control.accountId, { id: 'ue_precise2', requestId: 'rq_precise2', isFinalAttempt: true, eventTime: at, costPico: 1n })]);
      const overview = expectSchema<Overview>(await control.call('GET', '/usage/overview?startTime=2018-07-01T00:00:00Z&endTime=2018-07-01T23:59:59Z'), 200, 'AIGatewayUsageOverview');
      assert.equal(overview.totals.cost, '9007.19926', '9007199255000000 pico exactly: half a unit rounds up');
    });

    test('includeRetries adds the non-final attempts; accessKeyId filters', async () => {
      assert.deepEqual((await list(`${WINDOW}&includeRetries=true`)).aiGatewayUsage.map((u) => u.id), ['ue_c1', 'ue_b1', 'ue_a2', 'ue_a1']);
      assert.deepEqual((await list(`${WINDOW}&includeRetries=true&accessKeyId=aigk_one`)).aiGatewayUsage.map((u) => u.id), ['ue_c1', 'ue_a2', 'ue_a1']);
      assert.deepEqual((await list(`${WINDOW}&accessKeyId=aigk_none`)).aiGatewayUsage, []);
      // An empty value is no value (a script's unset variable), not a filter that matches nothing.
      assert.deepEqual((await list(`${WINDOW}&includeRetries=true&accessKeyId=&cursor=&limit=`)).aiGatewayUsage.map((u) => u.id), ['ue_c1', 'ue_b1', 'ue_a2', 'ue_a1']);
      expectError(await control.call('GET', '/usage?startTime='), 400, 'ERR_NGROK_27602');
      // The spellings ngrok's API reads as booleans (Go's strconv.ParseBool), not only "true" / "false".
      for (const yes of ['1', 'True', 'TRUE', 't']) assert.equal((await list(`${WINDOW}&includeRetries=${yes}`)).aiGatewayUsage.length, 4, yes);
      for (const no of ['0', 'False', 'f']) assert.equal((await list(`${WINDOW}&includeRetries=${no}`)).aiGatewayUsage.length, 3, no);
      const notBoolean = expectError(await control.call('GET', `/usage?${WINDOW}&includeRetries=yes`), 400, 'ERR_NGROK_27606');
      assert.match(notBoolean.msg, /"includeRetries" must be true or false; got "yes"/);
      const since = await list(`startTime=${DAY2}T00:00:00Z`);
      assert.deepEqual(since.aiGatewayUsage.map((u) => u.id), ['ue_c1'], 'endTime defaults to now');
    });

    test('cursor paging walks every event once across pages, keeping the filters', async () => {
      const seen: string[] = [];
      let url: string | null = `/usage?${WINDOW}&includeRetries=true&limit=1`;
      let pages = 0;
      while (url) {
        const page: UsageList = expectSchema<UsageList>(await control.call('GET', path(url)), 200, 'AIGatewayUsageList');
        assert.ok(page.aiGatewayUsage.length <= 1);
        seen.push(...page.aiGatewayUsage.map((u) => u.id));
        url = page.nextPageUri;
        if (url) assert.match(url, /cursor=/);
        pages++;
      }
      assert.deepEqual(seen, ['ue_c1', 'ue_b1', 'ue_a2', 'ue_a1']);
      assert.equal(pages, 4);
      const two = await list(`${WINDOW}&limit=2`);
      assert.deepEqual(two.aiGatewayUsage.map((u) => u.id), ['ue_c1', 'ue_b1']);
      const rest = expectSchema<UsageList>(await control.call('GET', path(two.nextPageUri!)), 200, 'AIGatewayUsageList');
      assert.deepEqual(rest.aiGatewayUsage.map((u) => u.id), ['ue_a2']);
    });

    test('a window reaching beyond year 9999 (or before year 0) is clamped, not compared as text', async () => {
      // 9999-12-31T23:59:59-23:59 is an instant in year 10000; 0000-01-01T00:00:00+01:00 one in year -1.
      const wide = await list(`startTime=0000-01-01T00:00:00%2B01:00&endTime=9999-12-31T23:59:59-23:59`);
      assert.ok(wide.aiGatewayUsage.length > 0);
      assert.deepEqual(wide.aiGatewayUsage.map((u) => u.id), (await list('startTime=1000-01-01T00:00:00Z&endTime=9000-01-01T00:00:00Z')).aiGatewayUsage.map((u) => u.id));
      expectSchema(await control.call('GET', '/usage/overview?startTime=2020-01-01T00:00:00Z&endTime=9999-12-31T23:59:59-23:59'), 200, 'AIGatewayUsageOverview');
    });

    test('window bounds finer than a millisecond, and a leap second, are read as RFC 3339 means them', async () => {
      await insertUsageEvents(control.store.db, [usageEvent(control.accountId, { id: 'ue_edge', requestId: 'rq_edge', eventTime: '2024-05-01T10:00:00.000Z', costPico: 10_000_000_000n })]);
      // 10:00:00.000 is before a start of 10:00:00.0005, and within an end of 10:00:00.0005.
      assert.deepEqual((await list('startTime=2024-05-01T10:00:00.0005Z&endTime=2024-05-01T11:00:00Z')).aiGatewayUsage, []);
      const overview = expectSchema<{ totals: { requests: number } }>(await control.call('GET', '/usage/overview?startTime=2024-05-01T10:00:00.0005Z&endTime=2024-05-01T11:00:00Z'), 200, 'AIGatewayUsageOverview');
      assert.equal(overview.totals.requests, 0);
      assert.deepEqual((await list('startTime=2024-05-01T09:00:00Z&endTime=2024-05-01T10:00:00.0005Z')).aiGatewayUsage.map((u) => u.id), ['ue_edge']);
      assert.deepEqual((await list('startTime=2024-05-01T10:00:00.000000Z&endTime=2024-05-01T10:00:00Z')).aiGatewayUsage.map((u) => u.id), ['ue_edge']);
      // Equal bounds finer than a millisecond are a valid window (inclusive both ends) that no stored time falls in.
      assert.deepEqual((await list('startTime=2024-05-01T10:00:00.0005Z&endTime=2024-05-01T10:00:00.0005Z')).aiGatewayUsage, []);
      expectSchema(await control.call('GET', '/usage/overview?startTime=2024-05-01T10:00:00.0005Z&endTime=2024-05-01T10:00:00.0005Z'), 200, 'AIGatewayUsageOverview');
      // Within one millisecond, a start past the end is still an inverted window.
      assert.match(expectError(await control.call('GET', '/usage?startTime=2024-05-01T10:00:00.0005Z&endTime=2024-05-01T10:00:00.0001Z'), 400, 'ERR_NGROK_27606').msg, /must not be after/);
      // 23:59:60 (a leap second) is valid RFC 3339: the end of that day, the start of the next.
      assert.deepEqual((await list('startTime=2016-12-31T00:00:00Z&endTime=2016-12-31T23:59:60Z')).aiGatewayUsage, []);
      assert.deepEqual((await list('startTime=2016-12-31T23:59:60Z&endTime=2017-01-01T00:00:01Z')).aiGatewayUsage, []);
    });

    test('bad inputs are 400', async () => {
      expectError(await control.call('GET', '/usage'), 400, 'ERR_NGROK_27602');
      expectError(await control.call('GET', '/usage?startTime=yesterday'), 400, 'ERR_NGROK_27606');
      expectError(await control.call('GET', `/usage?${WINDOW}&cursor=bm90LWEtY3Vyc29y`), 400, 'ERR_NGROK_27606');
      // Well-formed JSON, but not a position this API writes.
      for (const forged of [['x', 'y'], ['2026-01-01T00:00:00.000Z', 'a b'], ['2026-13-45T00:00:00Z', 'aigue_1'], [1, 2], ['2026-01-01T00:00:00.000Z', 'aigue_1', 'extra'], { 0: '2026-01-01T00:00:00.000Z', 1: 'aigue_1' }]) {
        expectError(await control.call('GET', `/usage?${WINDOW}&cursor=${Buffer.from(JSON.stringify(forged)).toString('base64url')}`), 400, 'ERR_NGROK_27606');
      }
      expectError(await control.call('GET', `/usage?${WINDOW}&limit=101`), 400, 'ERR_NGROK_27606');
      expectError(await control.call('GET', `/usage?${WINDOW}&limit=0`), 400, 'ERR_NGROK_27606');
      expectError(await control.call('GET', `/usage/overview?${WINDOW}&groupBy=model`), 400, 'ERR_NGROK_27606');
      expectError(await control.call('GET', `/usage/overview?startTime=${DAY2}T00:00:00Z&endTime=${DAY1}T00:00:00Z`), 400, 'ERR_NGROK_27606');
    });

    test('overview by provider: day buckets sorted by day then key, exact sums, final attempts counted', async () => {
      const o = expectSchema<Overview>(await control.call('GET', `/usage/overview?${WINDOW}`), 200, 'AIGatewayUsageOverview');
      assert.deepEqual(o.buckets, [
        { bucketStart: `${DAY1}T00:00:00Z`, groupKey: 'anthropic', cost: '0.20000', requests: 1, errors: 1 },
        { bucketStart: `${DAY1}T00:00:00Z`, groupKey: 'openai', cost: '0.10000', requests: 1, errors: 0 },
        { bucketStart: `${DAY2}T00:00:00Z`, groupKey: 'openai', cost: '9007.19925', requests: 1, errors: 0 },
      ]);
      // 0.1 + 0.2 + 9007.199254740993 = 9007.499254740993 → 9007.49925 (exact; a float sum would not be).
      assert.deepEqual(o.totals, { cost: '9007.49925', requests: 3, errors: 1 });
    });

    test('overview by access key', async () => {
      const o = expectSchema<Overview>(await control.call('GET', `/usage/overview?${WINDOW}&groupBy=accessKey`), 200, 'AIGatewayUsageOverview');
      assert.deepEqual(o.buckets.map((b) => [b.bucketStart.slice(0, 10), b.groupKey, b.requests]), [[DAY1, 'aigk_one', 1], [DAY1, 'aigk_two', 1], [DAY2, 'aigk_one', 1]]);
    });

    test("accounts see only their own usage, even filtering by the other's access key id", async () => {
      const theirs = await list(`${WINDOW}&accessKeyId=aigk_one&includeRetries=true`, control.other.token);
      assert.deepEqual(theirs.aiGatewayUsage.map((u) => u.id), ['ue_other']);
      const o = expectSchema<Overview>(await control.call('GET', `/usage/overview?${WINDOW}`, undefined, control.other.token), 200, 'AIGatewayUsageOverview');
      assert.deepEqual(o.totals, { cost: '0.00000', requests: 1, errors: 0 });
      assert.ok(!(await list(WINDOW)).aiGatewayUsage.some((u) => u.id === 'ue_other'));
    });

    test('/v1/models: ngrok\'s published catalog shape, catalog models grouped by author/name with every provider, custom models as provider:model', async () => {
      const now = new Date().toISOString();
      await control.store.db.insertInto('providers').values({
        id: 'aigp_test', accountId: control.accountId, providerId: 'my-ollama', name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', metadata: null,
        supportedApiSurfaces: JSON.stringify([{ format: 'openai', surface: 'chat-completions', supportedParams: [{ name: 'model' }, { name: 'messages' }, { name: 'seed' }] }, { format: 'openai', surface: 'embeddings' }]),
        models: JSON.stringify([{ id: 'aigpm_1', modelId: 'llama3.2', unsupportedParams: ['seed'] }]),
        createdAt: now, updatedAt: now, createdBy: 'x', lastUpdatedBy: 'x',
      }).execute();
      type Listed = components['schemas']['AIGatewayModel'];
      const body = expectSchema<{ object: string; data: Listed[] }>(await control.call('GET', '/v1/models'), 200, 'AIGatewayModelList');
      const byId = new Map(body.data.map((m) => [m.id, m]));
      assert.equal(byId.size, body.data.length, 'one entry per model');

      // A custom model: addressed provider:model, owned by the organisation, its declared surface and fields less the refused one.
      const ollama = byId.get('my-ollama:llama3.2')!;
      assert.equal(ollama.owned_by, 'organization_owned');
      assert.equal(ollama.slug, 'llama3.2');
      assert.deepEqual(ollama.providers.map((p) => [p.model_id, p.id, p.display_name, p.pricing.rates.length]), [['my-ollama:llama3.2', 'my-ollama', 'Ollama', 0]]);
      assert.deepEqual(ollama.providers[0]!.supported_api_formats, [{ format: 'openai', name: 'chat-completions', path: '/v1/chat/completions', parameters: ['model', 'messages'] }]);

      // Every catalog model is listed under one of its providers.
      const { builtinProviders } = await import('../src/catalog/providers.ts');
      const served = new Set(body.data.flatMap((m) => m.providers.map((p) => p.model_id)));
      for (const p of builtinProviders) for (const m of p.models) assert.ok(served.has(`${p.id}:${m.id}`), `missing ${p.id}:${m.id}`);

      // gpt-4o: $2.50 / $10 per million tokens and $1.25 cached, priced per token; OpenAI caches by itself.
      const gpt = byId.get('openai/gpt-4o')!;
      assert.deepEqual([gpt.name, gpt.slug, gpt.owned_by, gpt.object, gpt.architecture.modality], ['GPT-4o', 'gpt-4o', 'ngrok', 'model', 'text+image->text']);
      const openai = gpt.providers.find((p) => p.id === 'openai')!;
      assert.equal(gpt.providers[0], openai, 'the model\'s own author is listed first');
      assert.deepEqual(openai.pricing.rates.filter((r) => r.unit === 'token'), [
        { type: 'prompt', unit: 'token', price: '0.0000025' }, { type: 'completion', unit: 'token', price: '0.00001' },
        { type: 'input_cache_read', unit: 'token', price: '0.00000125' },
      ]);
      assert.deepEqual(openai.pricing.rates.find((r) => r.type === 'web_search'), { type: 'web_search', unit: 'request', price: '0.01' });
      // The older preview tool costs more on the non-reasoning models only.
      assert.deepEqual(openai.pricing.rates.find((r) => r.type === 'web_search_preview'), { type: 'web_search_preview', unit: 'request', price: '0.025' });
      assert.equal(byId.get('openai/gpt-5')!.providers[0]!.pricing.rates.find((r) => r.type === 'web_search_preview'), undefined);
      assert.equal(openai.supports_implicit_caching, true);
      assert.deepEqual(openai.supported_api_formats.map((f) => [f.name, f.path]), [['chat-completions', '/v1/chat/completions'], ['responses', '/v1/responses']]);

      // Claude: writes priced by lifetime, asked-for caching; a reasoning model's refused knobs are not offered.
      const claude = byId.get('anthropic/claude-sonnet-4-6')!.providers[0]!;
      assert.deepEqual(claude.pricing.rates.filter((r) => r.type === 'input_cache_write'), [
        { type: 'input_cache_write', unit: 'token', price: '0.00000375', conditions: { ttl: '5m' } },
        { type: 'input_cache_write', unit: 'token', price: '0.000006', conditions: { ttl: '1h' } },
      ]);
      assert.equal(claude.supports_implicit_caching, false);
      assert.ok(claude.supported_api_formats.some((f) => f.name === 'messages' && f.parameters.includes('thinking')));
      const reasoning = byId.get('openai/gpt-5.4')!.providers[0]!;
      const chat = reasoning.supported_api_formats.find((f) => f.name === 'chat-completions')!;
      assert.ok(chat.parameters.includes('reasoning_effort') && !chat.parameters.includes('logit_bias'));
      // A long-context tier: the base rates up to its line, the tier's from the next token on.
      assert.deepEqual(reasoning.pricing.rates.filter((r) => r.type === 'prompt'), [
        { type: 'prompt', unit: 'token', price: '0.0000025', conditions: { max_input_tokens: 272_000 } },
        { type: 'prompt', unit: 'token', price: '0.000005', conditions: { min_input_tokens: 272_001 } },
      ]);

      const other = expectSchema<{ data: Listed[] }>(await control.call('GET', '/v1/models', undefined, control.other.token), 200, 'AIGatewayModelList');
      assert.ok(!other.data.some((m) => m.id.startsWith('my-ollama:')));
      assert.equal(other.data.length, body.data.length - 1);
    });

    test('/v1/models reads stored providers as the gateway does: odd entries skipped or read, never a 500', async () => {
      const now = new Date().toISOString();
      const row = (id: string, providerId: string, surfaces: unknown, models: unknown) => ({
        id, accountId: control.other.accountId, providerId, name: '', baseUrl: 'http://127.0.0.1:9/v1', metadata: null,
        supportedApiSurfaces: surfaces === null ? null : JSON.stringify(surfaces), models: JSON.stringify(models), createdAt: now, updatedAt: now, createdBy: 'x', lastUpdatedBy: 'x',
      });
      await control.store.db.insertInto('providers').values([
        // Plain-string models and parameters (accepted by the gateway), a model without an id, a null entry.
        row('aigp_odd1', 'plain', [{ format: 'openai', surface: 'chat-completions', supportedParams: ['model', 'messages', 'seed'] }], ['llama3', { id: 'x' }, null]),
        // Surfaces the gateway does not serve (an unknown name, an object key) fall back to chat completions.
        row('aigp_odd2', 'odd', [{ format: 'openai', surface: 'constructor' }, { format: 'openai', surface: 'foo' }], [{ modelId: 'm' }]),
        row('aigp_odd3', 'broken', null, {}),
      ]).execute();
      type Listed = components['schemas']['AIGatewayModel'];
      const body = expectSchema<{ data: Listed[] }>(await control.call('GET', '/v1/models', undefined, control.other.token), 200, 'AIGatewayModelList');
      const custom = body.data.filter((m) => m.owned_by === 'organization_owned');
      assert.deepEqual(custom.map((m) => m.id), ['odd:m', 'plain:llama3']);
      assert.deepEqual(custom.map((m) => m.providers[0]!.supported_api_formats.map((f) => [f.name, f.parameters.length])), [[['chat-completions', 33]], [['chat-completions', 3]]]);
      assert.equal(custom[0]!.providers[0]!.display_name, 'odd', 'a provider without a name shows its id');
    });
  });
}
