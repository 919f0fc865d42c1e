// Observability end to end: a scripted mix of requests through a real Tollgate in front of the fake
// provider, then exact counter values from GET /metrics (API port and gateway port), one access-log line per
// request with its fields, no secret anywhere in logs or labels; and OTLP/HTTP traces received on loopback
// with the GenAI attributes, parent links and the traceparent the upstream saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { LineCapture } from './helpers/log-capture.ts';
import { FAKE_JUDGE_USAGE, FAKE_USAGE } from './fake-upstream.ts';
import { FAKE_AUDIO, FAKE_REALTIME_USAGE, startFakeRealtime, type FakeRealtime } from './helpers/fake-realtime.ts';
import { WebSocket } from 'ws';
import { balancePico, grantCredits } from '../src/store/credits.ts';
import { ChangeBus } from '../src/state/changes.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { loadObservabilityConfig } from '../src/config/observability.ts';
import { createGatewayObserver } from '../src/gateway/observe/setup.ts';
import { MAX_COOL_MS } from '../src/gateway/key-cooldown.ts';
import { picoToUsd } from '../src/gateway/observe/metrics.ts';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startFakeMcp, text as mcpText, type Seen } from './helpers/mcp-server.ts';
import { z } from 'zod';

const REPO = fileURLToPath(new URL('..', import.meta.url));

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra });

/** Prometheus text → `name{a="x",b="y"}` (labels sorted) → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[2] ? [...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort().join(',') : '';
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

function series(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`;
}

/** Sum of every series of `name` (all label values). */
function total(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of metrics) if (key.startsWith(`${name}{`)) sum += value;
  return sum;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('metrics and access log (sqlite)', () => {
  let h: Harness;
  const capture = new LineCapture();
  const secrets: string[] = [];
  const requestIds: string[] = [];
  let plain: { id: string; token: string };
  let failover: { id: string; token: string };
  let onlyAnthropic: { id: string; token: string };
  let metricsText = '';
  let metrics: Map<string, number>;
  const badToken = 'tgak_this-is-not-a-real-access-key-0000000000';
  const PROVIDER_SECRET = 'sk-good-obs-provider-secret-value-9f8e7d';

  before(async () => {
    h = await startHarness('sqlite', { TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1', TOLLGATE_METRICS_ON_GATEWAY: '1' }, { logger: pino({ level: 'info' }, capture) });
    const good = await h.providerKey('openai', PROVIDER_SECRET, 'good');
    const limited = await h.providerKey('openai', 'sk-429', 'limited');
    secrets.push(PROVIDER_SECRET);
    const user = (...ids: string[]) => ({ type: 'user', keys: ids.map((id) => ({ id })) });
    plain = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [user(good)] }] } }));
    failover = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [user(limited, good)] }] } }));
    onlyAnthropic = await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }));
    secrets.push(plain.token, failover.token, onlyAnthropic.token, badToken);

    const script: [string, Parameters<typeof gw>[2], number][] = [
      ['json success', { token: plain.token, body: chat('gpt-4o') }, 200],
      ['stream success', { token: plain.token, body: chat('gpt-4o', { stream: true }) }, 200],
      ['failover 429 → next key', { token: failover.token, body: chat('gpt-4o') }, 200],
      ['provider 400 stops', { token: plain.token, body: chat('openai:fail-400-x') }, 400],
      ['bad access key', { token: badToken, body: chat('gpt-4o') }, 401],
      ['scope 403', { token: onlyAnthropic.token, body: chat('gpt-4o') }, 403],
    ];
    for (const [name, init, status] of script) {
      const r = await gw(h, '/v1/chat/completions', init);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      requestIds.push(r.headers.get('ngrok-aig-request-id')!);
    }
    // Observation runs just after each answer: wait until all six requests are counted.
    metrics = await until('six requests in /metrics', async () => {
      metricsText = await (await fetch(`${h.apiUrl}/metrics`)).text();
      const m = parseMetrics(metricsText);
      return total(m, 'tollgate_requests_total') === 6 ? m : undefined;
    });
    await until('six access lines', () => (accessLines().length >= 6 ? true : undefined));
  });
  after(async () => { await h?.close(); });

  function accessLines(): Record<string, unknown>[] {
    return capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.log === 'access');
  }

  test('requests by surface, provider, model, status class and key source: exact counts', () => {
    const req = (provider: string, model: string, status: string, keySource: string) =>
      metrics.get(series('tollgate_requests_total', { surface: 'chat-completions', provider, model, status_class: status, key_source: keySource }));
    assert.equal(req('openai', 'gpt-4o', '2xx', 'user'), 3);
    // A pass-through model name (not in the catalog) never becomes a label value.
    assert.equal(req('openai', 'other', '4xx', 'user'), 1);
    assert.equal(req('none', 'none', '4xx', 'none'), 2, '401 and 403 reached no provider');
    assert.equal(total(metrics, 'tollgate_requests_total'), 6);
    assert.ok(!metricsText.includes('fail-400-x'));
  });

  test('attempts and failovers by retryAction', () => {
    const attempts = (model: string, action: string, status: string) =>
      metrics.get(series('tollgate_upstream_attempts_total', { provider: 'openai', model, retry_action: action, status_class: status }));
    assert.equal(attempts('gpt-4o', 'succeeded', '2xx'), 3);
    assert.equal(attempts('gpt-4o', 'next_key', '4xx'), 1);
    assert.equal(attempts('other', 'fail_fast', '4xx'), 1);
    assert.equal(total(metrics, 'tollgate_upstream_attempts_total'), 5);
    assert.equal(metrics.get(series('tollgate_failovers_total', { provider: 'openai', model: 'gpt-4o', retry_action: 'next_key' })), 1);
    assert.equal(total(metrics, 'tollgate_failovers_total'), 1);
  });

  test('tokens and cost counters', () => {
    const tokens = (type: string) => metrics.get(series('tollgate_tokens_total', { provider: 'openai', model: 'gpt-4o', type }));
    assert.equal(tokens('input'), 3 * FAKE_USAGE.input);
    assert.equal(tokens('output'), 3 * FAKE_USAGE.output);
    assert.equal(tokens('cache_read'), 3 * FAKE_USAGE.cacheRead);
    assert.equal(tokens('reasoning'), 3 * FAKE_USAGE.reasoning);
    assert.equal(tokens('cache_write') ?? 0, 0, 'OpenAI reports no cache writes');
    // Processing fee 1 USD per million tokens on each of the three successes; user keys carry no model cost.
    const cost = metrics.get(series('tollgate_cost_usd_total', { provider: 'openai', model: 'gpt-4o', key_source: 'user' }))!;
    assert.ok(Math.abs(cost - 3 * (FAKE_USAGE.input + FAKE_USAGE.output) * 1e-6) < 1e-15, String(cost));
    assert.equal(total(metrics, 'tollgate_cost_usd_total'), cost);
  });

  test('latency histograms, gauges, and the same registry on the gateway port', async () => {
    assert.equal(metrics.get(series('tollgate_upstream_duration_seconds_count', { provider: 'openai', model: 'gpt-4o' })), 4);
    assert.equal(metrics.get(series('tollgate_gateway_overhead_seconds_count', { surface: 'chat-completions' })), 6);
    assert.equal(metrics.get(series('tollgate_time_to_first_byte_seconds_count', { surface: 'chat-completions', streaming: 'true' })), 1);
    assert.equal(metrics.get(series('tollgate_time_to_first_byte_seconds_count', { surface: 'chat-completions', streaming: 'false' })), 5);
    assert.equal(metrics.get('tollgate_requests_in_flight{}'), 0);
    assert.equal(metrics.get('tollgate_open_streams{}'), 0);
    assert.ok(metrics.has('tollgate_usage_backlog_events{}'));
    assert.equal(metrics.get('tollgate_usage_refused_events_total{}'), 0);
    assert.ok(metrics.has(series('tollgate_credit_balance_usd', { account: h.accountId })));
    assert.ok(metrics.has('tollgate_process_resident_memory_bytes{}'), 'process metrics');
    const onGateway = await fetch(`${h.gatewayUrl}/metrics`);
    assert.equal(onGateway.status, 200);
    assert.match(onGateway.headers.get('content-type')!, /^text\/plain/);
    const gatewayMetrics = parseMetrics(await onGateway.text());
    assert.equal(total(gatewayMetrics, 'tollgate_requests_total'), 6);
  });

  test('every series and label the Grafana dashboard and the documented alert rules query is one the gateway exports', () => {
    const exported = new Set([...metricsText.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
    const queried = (text: string) => new Set([...text.matchAll(/\btollgate_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    const dashboard = readFileSync(join(REPO, 'docs/grafana-dashboard.json'), 'utf8');
    // The alert rules are the YAML blocks of observability.md (its tables name the series too).
    const rules = [...readFileSync(join(REPO, 'docs/observability.md'), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');
    assert.ok(rules.includes('tollgate_'), 'alert rules found');
    assert.ok(queried(dashboard).has('tollgate_requests_total') && queried(dashboard).size >= 8, 'the dashboard\'s series found');
    const missing = [...queried(dashboard), ...queried(rules)].filter((name) => !exported.has(name));
    assert.deepEqual(missing, [], 'queried but not exported');
    // And every label a query filters or groups on is one of its series' labels (job and instance are the scrape's own).
    const labelsOf = new Map<string, Set<string>>();
    for (const m of metricsText.matchAll(/^(tollgate_[a-z0-9_]+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? \S+$/gm)) {
      const names = labelsOf.get(m[1]!) ?? new Set(['job', 'instance']);
      for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) names.add(l[1]!);
      labelsOf.set(m[1]!, names);
    }
    const exprs = [...dashboard.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
    exprs.push(...rules.split(/\n\s*- alert:/).map((rule) => /expr:([\s\S]*?)\n\s*(?:for|labels):/.exec(rule)?.[1]).filter((e): e is string => e !== undefined));
    assert.ok(exprs.length >= 20, `${exprs.length} queries`);
    const unknown: string[] = [];
    for (const expr of exprs) {
      const metricsIn = [...queried(expr)];
      const used = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean));
      for (const m of expr.matchAll(/\{([^}]*)\}/g)) used.push(...[...m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!));
      for (const label of used) if (!metricsIn.some((name) => labelsOf.get(name)?.has(label))) unknown.push(`${label} in ${expr}`);
    }
    assert.deepEqual(unknown, [], 'labels no queried series has');
  });

  test('the dashboard\'s rankings merge the series every gateway process exports: an account or a model is listed once, not once per process', () => {
    const dashboard = readFileSync(join(REPO, 'docs/grafana-dashboard.json'), 'utf8');
    const ranked = [...dashboard.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string).filter((e) => /\b(?:topk|bottomk)\s*\(/.test(e));
    assert.ok(ranked.length >= 2, 'the top models and lowest balances panels');
    for (const expr of ranked) assert.match(expr, /\b(?:topk|bottomk)\s*\(\s*\d+\s*,\s*(?:sum|min|max|avg)\s+by\s*\(/, expr);
  });

  test('exactly one access line per request, with its fields', () => {
    const lines = accessLines();
    assert.equal(lines.length, 6);
    assert.deepEqual(lines.map((l) => l.requestId).sort(), [...requestIds].sort());
    const byId = new Map(lines.map((l) => [l.requestId, l]));
    const [json, stream, failed, rejected, unauthorized, scoped] = requestIds.map((id) => byId.get(id)!);
    assert.deepEqual(pick(json!, ['accessKeyId', 'surface', 'streaming', 'modelAsked', 'modelServed', 'provider', 'keySource', 'attempts', 'retryActions', 'status', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'reasoningTokens', 'costUsd']), {
      accessKeyId: plain.id, surface: 'chat-completions', streaming: false, modelAsked: 'gpt-4o', modelServed: 'openai:gpt-4o', provider: 'openai',
      keySource: 'user', attempts: 1, retryActions: 'succeeded', status: 200, inputTokens: 17, outputTokens: 9, cacheReadTokens: 5, reasoningTokens: 2,
      // 26 tokens × 1 USD per million = 0.000026 → 5 decimals.
      costUsd: '0.00003',
    });
    for (const l of [json, stream, failed, rejected, unauthorized, scoped]) {
      for (const field of ['totalMs', 'upstreamMs', 'ttfbMs']) assert.equal(typeof l![field], 'number', field);
      assert.ok((l!.totalMs as number) >= (l!.upstreamMs as number));
    }
    assert.equal(stream!.streaming, true);
    assert.equal(stream!.outputTokens, FAKE_USAGE.output);
    assert.ok((stream!.ttfbMs as number) <= (stream!.totalMs as number));
    assert.deepEqual(pick(failed!, ['accessKeyId', 'attempts', 'retryActions', 'status', 'inputTokens']), { accessKeyId: failover.id, attempts: 2, retryActions: 'next_key,succeeded', status: 200, inputTokens: 17 });
    assert.deepEqual(pick(rejected!, ['attempts', 'retryActions', 'status', 'modelAsked', 'modelServed', 'costUsd']), { attempts: 1, retryActions: 'fail_fast', status: 400, modelAsked: 'openai:fail-400-x', modelServed: 'openai:fail-400-x', costUsd: '0.00000' });
    assert.deepEqual(pick(unauthorized!, ['accessKeyId', 'attempts', 'status', 'errorCode', 'provider']), { accessKeyId: null, attempts: 0, status: 401, errorCode: 'ERR_NGROK_27201', provider: null });
    assert.deepEqual(pick(scoped!, ['accessKeyId', 'attempts', 'status', 'errorCode']), { accessKeyId: onlyAnthropic.id, attempts: 0, status: 403, errorCode: 'ERR_NGROK_27231' });
    // Nothing of the conversation: no prompt, no completion.
    for (const l of lines) {
      const text = JSON.stringify(l);
      assert.ok(!text.includes('hello there'), 'prompt');
      assert.ok(!text.includes('Hello from the fake'), 'completion');
      assert.equal(l.requestBody, undefined);
    }
  });

  test('no log line and no metric carries an access-key token or a provider key', () => {
    assert.ok(capture.lines.length >= 6);
    for (const secret of secrets) {
      for (const line of capture.lines) assert.ok(!line.includes(secret), `log line leaks a secret: ${line}`);
      assert.ok(!metricsText.includes(secret), 'metrics leak a secret');
    }
    assert.ok(!metricsText.includes(plain.id), 'no access-key label unless asked for');
  });

  test('a stream the provider cuts after its 200 is counted as a broken answer and logged with its completion', async () => {
    const json = accessLines().find((l) => l.requestId === requestIds[0]);
    assert.equal(json!.completion, 'succeeded');
    const r = await gw(h, '/v1/chat/completions', { token: plain.token, body: chat('openai:cut-obs', { stream: true }) });
    assert.equal(r.status, 200);
    assert.match(r.text, /ERR_NGROK_27235/);
    const id = r.headers.get('ngrok-aig-request-id')!;
    const line = await until('the cut stream\'s access line', () => accessLines().find((l) => l.requestId === id));
    assert.deepEqual(pick(line, ['status', 'retryActions', 'completion', 'errorCode']), { status: 200, retryActions: 'succeeded', completion: 'stream_failed', errorCode: 'ERR_NGROK_27235' });
    const after = parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text());
    assert.equal(after.get(series('tollgate_broken_answers_total', { provider: 'openai', model: 'other', completion: 'stream_failed' })), 1);
  });

  test('an error the gateway answers after its attempts (every provider failed) carries its code in the access line, as refusals do', async () => {
    const r = await gw(h, '/v1/chat/completions', { token: plain.token, body: chat('openai:fail-500-obs') });
    const code = (r.json() as { error: { code: string } }).error.code;
    assert.match(code, /^ERR_NGROK_\d+$/, r.text);
    const id = r.headers.get('ngrok-aig-request-id')!;
    const line = await until('the failed request\'s access line', () => accessLines().find((l) => l.requestId === id));
    assert.deepEqual(pick(line, ['status', 'attempts', 'provider', 'errorCode']), { status: r.status, attempts: 1, provider: 'openai', errorCode: code });
  });

  test('a client that leaves before any answer is logged 499 with no time to first byte, and adds no TTFB sample', async () => {
    const ttfbCount = (m: Map<string, number>) => m.get(series('tollgate_time_to_first_byte_seconds_count', { surface: 'chat-completions', streaming: 'false' }));
    const before = ttfbCount(parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text()));
    const seen = new Set(accessLines().map((l) => l.requestId));
    const abort = new AbortController();
    const gone = fetch(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST', signal: abort.signal,
      headers: { authorization: `Bearer ${plain.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat('openai:slow-400-gpt')),
    });
    setTimeout(() => abort.abort(), 100);
    await assert.rejects(gone);
    const line = await until('the 499 access line', () => accessLines().find((l) => !seen.has(l.requestId as string)));
    assert.deepEqual(pick(line, ['status', 'clientGone', 'ttfbMs']), { status: 499, clientGone: true, ttfbMs: null });
    assert.ok((line.totalMs as number) >= 90, 'the wait is in the duration');
    assert.equal(ttfbCount(parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text())), before);
  });

  test('a key cooling after its 429 goes after the ready one: the access line says how many attempts were deferred, the metrics count them and the keys cooling', async () => {
    // The script's failover left the limited key cooling for the second its Retry-After asked (on the harness's
    // clock, which only the test moves).
    const cooling = () => fetch(`${h.apiUrl}/metrics`).then(async (r) => parseMetrics(await r.text()));
    assert.equal((await cooling()).get('tollgate_provider_keys_cooling{}'), 1);
    const r = await gw(h, '/v1/chat/completions', { token: failover.token, body: chat('gpt-4o') });
    assert.deepEqual([r.status, r.headers.get('ngrok-aig-attempts')], [200, '1']);
    const id = r.headers.get('ngrok-aig-request-id')!;
    const line = await until('the deferring request\'s access line', () => accessLines().find((l) => l.requestId === id));
    assert.deepEqual(pick(line, ['attempts', 'retryActions', 'deferredAttempts']), { attempts: 1, retryActions: 'succeeded', deferredAttempts: 1 });
    assert.equal(accessLines().find((l) => l.requestId === requestIds[2])!.deferredAttempts, undefined, 'nothing deferred, no field');
    assert.equal((await cooling()).get(series('tollgate_deferred_attempts_total', { provider: 'openai', model: 'gpt-4o' })), 1);
    h.coolingClock.advance(1000);
    assert.equal((await cooling()).get('tollgate_provider_keys_cooling{}'), 0);
  });
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

describe('tokens, cost and fees in the metrics and the access log equal the usage events (sqlite)', () => {
  test('many requests\' cost sums to the store\'s pico-USD exactly, and an MCP tool call\'s fee is in the cost series and its access line', async () => {
    const capture = new LineCapture();
    const kb = await startFakeMcp((s) => s.registerTool('lookup', { description: 'Look something up' }, () => mcpText('found')), () => true, true);
    const h = await startHarness('sqlite', { TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1', TOLLGATE_MCP_FEE_USD_PER_CALL: '0.0015' }, { logger: pino({ level: 'info' }, capture) });
    try {
      const good = await h.providerKey('openai', 'sk-good-cost-drift', 'good');
      const { id: keyId, token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: good }] }] }] } }));
      // 26 tokens at 1 USD per million each: 2.6e-5 USD, which a double does not hold; added up as USD floats twenty
      // of them drift off the ledger's sum.
      for (let i = 0; i < 20; i++) assert.equal((await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') })).status, 200);
      await h.api('POST', '/mcp-servers', { label: 'kb', upstreamUrl: kb.url, auth: { type: 'none' } });
      const client = new McpClient({ name: 'observability-mcp', version: '1.0.0' });
      let toolCallId = '';
      await client.connect(new StreamableHTTPClientTransport(new URL(`${h.gatewayUrl}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
        fetch: async (url, init) => {
          const response = await fetch(url, init);
          if (typeof init?.body === 'string' && init.body.includes('"tools/call"')) toolCallId = response.headers.get('ngrok-aig-request-id')!;
          return response;
        },
      }));
      await until('the kb tool listed', async () => ((await client.listTools()).tools.length > 0 ? true : undefined));
      assert.deepEqual((await client.callTool({ name: 'kb__lookup', arguments: {} })).content, [{ type: 'text', text: 'found' }]);
      await client.close();

      const rows = await until('the usage events stored', async () => {
        const r = await h.running.store.db.selectFrom('usageEvents').selectAll().where('accessKeyId', '=', keyId).execute();
        return r.length === 21 ? r : undefined;
      });
      const sum = (provider: string) => rows.filter((r) => r.provider === provider).reduce((a, r) => a + BigInt(r.costPico), 0n);
      assert.equal(sum('mcp:kb'), 1_500_000_000n, 'the call\'s fee');
      // The access line is written once the call's usage is recorded and counted: the metrics are complete by then.
      const line = await until('the tool call\'s access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === toolCallId));
      const text = await (await fetch(`${h.apiUrl}/metrics`)).text();
      const metrics = parseMetrics(text);
      // Prometheus has doubles: the ledger's exact sum converted once, not twenty conversions added up.
      assert.equal(metrics.get(series('tollgate_cost_usd_total', { provider: 'openai', model: 'gpt-4o', key_source: 'user' })), picoToUsd(sum('openai')));
      assert.equal(metrics.get(series('tollgate_cost_usd_total', { provider: 'mcp', model: 'none', key_source: 'user' })), 0.0015);
      assert.ok(!text.includes('lookup'), 'a tool\'s name is no label');
      assert.deepEqual(pick(line, ['surface', 'status', 'costUsd']), { surface: 'mcp', status: 200, costUsd: '0.00150' });
    } finally {
      await h.close();
      await kb.close();
    }
  });

  test('a Firewall judgement\'s tokens (the operator\'s call to its decision model) are in the tokens series, as usage records them', async () => {
    const h = await startHarness('sqlite', { TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini' });
    try {
      const policy = await h.api<{ id: string }>('POST', '/firewall-policies', {
        name: 'judged', rules: [{ name: 'Wipes the disk', tier: 'hardDeny', type: 'decision', phase: 'request', reads: ['messages'], instructions: 'Asks to delete everything, as "rm -rf /".' }],
      });
      const configuration = await h.api<{ id: string }>('POST', '/access-key-configurations', { name: 'guarded', firewallPolicyId: policy.id });
      const { id: keyId, token } = await h.accessKey(configuration.id);
      const r = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
      assert.equal(r.status, 200, r.text);
      const rows = await h.usage(r.headers.get('ngrok-aig-request-id')!, 2);
      const judged = rows.find((row) => row.model === 'gpt-4o-mini')!;
      assert.deepEqual([judged.keySource, Number(judged.inputTokens), Number(judged.outputTokens)], ['ngrok', FAKE_JUDGE_USAGE.prompt_tokens, FAKE_JUDGE_USAGE.completion_tokens]);
      assert.ok(rows.every((row) => row.accessKeyId === keyId));
      const metrics = parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text());
      const tokens = (model: string, type: string) => metrics.get(series('tollgate_tokens_total', { provider: 'openai', model, type }));
      assert.deepEqual([tokens('gpt-4o-mini', 'input'), tokens('gpt-4o-mini', 'output')], [FAKE_JUDGE_USAGE.prompt_tokens, FAKE_JUDGE_USAGE.completion_tokens]);
      assert.deepEqual([tokens('gpt-4o', 'input'), tokens('gpt-4o', 'output')], [FAKE_USAGE.input, FAKE_USAGE.output]);
      // A judgement is no attempt of the request: one request, one attempt.
      assert.equal(total(metrics, 'tollgate_requests_total'), 1);
      assert.equal(total(metrics, 'tollgate_upstream_attempts_total'), 1);
    } finally {
      await h.close();
    }
  });
});

describe('a request Firewall blocks (sqlite)', () => {
  test('is counted under the model it would have gone to, as its usage event is, not under "none"', async () => {
    const h = await startHarness('sqlite');
    try {
      const policy = await h.api<{ id: string }>('POST', '/firewall-policies', {
        name: 'guard', rules: [{ name: 'No rm -rf', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['messages'], pattern: '(?i)rm -rf' }],
      });
      const router = { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: await h.providerKey('openai', 'sk-blocked-metrics') }] }] }] };
      const { token } = await h.accessKey(await h.configuration({ router, firewallPolicyId: policy.id }));
      const r = await gw(h, '/v1/chat/completions', { token, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'please rm -rf /' }] } });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('ngrok-aig-firewall') ?? '', /^blocked/);
      const [event] = await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([event!.provider, event!.model, event!.keySource], ['openai', 'gpt-4o', 'user']);
      const metrics = await until('the blocked request counted', async () => {
        const m = parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text());
        return total(m, 'tollgate_requests_total') === 1 ? m : undefined;
      });
      assert.equal(metrics.get(series('tollgate_requests_total', { surface: 'chat-completions', provider: 'openai', model: 'gpt-4o', status_class: '2xx', key_source: 'user' })), 1);
      assert.equal(total(metrics, 'tollgate_upstream_attempts_total'), 0, 'no attempt was made');
    } finally {
      await h.close();
    }
  });
});

describe('metrics access (sqlite)', () => {
  test('TOLLGATE_METRICS_TOKEN: both ports answer /metrics only to a scraper sending it', async () => {
    const h = await startHarness('sqlite', { TOLLGATE_METRICS_TOKEN: 'scrape-me', TOLLGATE_METRICS_ON_GATEWAY: '1' });
    try {
      for (const url of [`${h.apiUrl}/metrics`, `${h.gatewayUrl}/metrics`]) {
        assert.equal((await fetch(url)).status, 401, url);
        assert.equal((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status, 401, url);
        const ok = await fetch(url, { headers: { authorization: 'Bearer scrape-me' } });
        assert.equal(ok.status, 200, url);
        assert.match(await ok.text(), /tollgate_requests_in_flight/);
        // Series name tenants' models and balances: never sniffed into a page by a browser, never kept by a cache.
        for (const r of [ok, await fetch(url)]) {
          assert.equal(r.headers.get('x-content-type-options'), 'nosniff', url);
          assert.equal(r.headers.get('cache-control'), 'no-store', url);
        }
      }
    } finally {
      await h.close();
    }
  });
});

describe('credit balance gauge (sqlite)', () => {
  test('a reload while usage is still unshipped does not give the spent credit back (the figure is the store\'s less what is journaled)', async () => {
    const h = await startHarness('sqlite', { TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1000' });
    try {
      const key = await h.providerKey('openai', 'sk-good-gauge');
      const { token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key }] }] }] } }));
      await grantCredits(h.running.store.db, h.accountId, 100, { category: 'promotional' });
      // Each answer's cost is debited at once; the account's snapshot is reloaded right after it (a config change),
      // before the journal shipped the event to the store.
      const requests: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
        assert.equal(r.status, 200);
        requests.push(r.headers.get('ngrok-aig-request-id')!);
        await h.gatewayConfig({ maxInputTokens: 100_000 + i });
      }
      for (const id of requests) await h.usage(id, 1);
      const exact = Number(await balancePico(h.running.store.db, h.accountId)) / 1e12;
      assert.ok(exact < 1, 'the requests cost something');
      const gauge = async () => parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text()).get(series('tollgate_credit_balance_usd', { account: h.accountId }));
      await until(`the gauge at the store's balance ${exact}`, async () => {
        const value = await gauge();
        return value !== undefined && Math.abs(value - exact) < 1e-9 ? true : undefined;
      }, 3000);
    } finally {
      await h.close();
    }
  });

  test('billing on: an idle account\'s series follows a credit grant, with no request after it', async () => {
    const h = await startHarness('sqlite', { TOLLGATE_BILLING: 'on' });
    try {
      const { token } = await h.accessKey();
      await grantCredits(h.running.store.db, h.accountId, 100, { category: 'promotional' });
      const served = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
      assert.equal(served.status, 200);
      await h.usage(served.headers.get('ngrok-aig-request-id')!, 1);
      const gauge = async () => parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text()).get(series('tollgate_credit_balance_usd', { account: h.accountId }));
      const settled = async (what: string) => {
        const exact = Number(await balancePico(h.running.store.db, h.accountId)) / 1e12;
        await until(`${what}: the gauge at the store's balance ${exact}`, async () => {
          const value = await gauge();
          return value !== undefined && Math.abs(value - exact) < 1e-9 ? true : undefined;
        }, 3000);
        return exact;
      };
      const before = await settled('after the request');
      // A grant announced as the control plane and the payment webhook announce theirs; the account sends nothing.
      await grantCredits(h.running.store.db, h.accountId, 2_000, { category: 'promotional' });
      await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
      const after = await settled('after the grant');
      assert.ok(Math.abs(after - before - 20) < 1e-9, `the gauge rose by the grant: ${before} → ${after}`);
    } finally {
      await h.close();
    }
  });
});

describe('opt-in settings: access-key label, body capture (sqlite)', () => {
  test('TOLLGATE_METRICS_ACCESS_KEY_LABEL adds the key id (never the token); TOLLGATE_LOG_BODIES logs truncated bodies without credentials', async () => {
    const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJ1c2VyQGV4YW1wbGUuY29tIn0.c2lnbmF0dXJl';
    const capture = new LineCapture();
    const h = await startHarness('sqlite', { TOLLGATE_METRICS_ACCESS_KEY_LABEL: '1', TOLLGATE_LOG_BODIES: '1' }, { logger: pino({ level: 'info' }, capture) });
    try {
      const value = 'sk-good-bodies-secret-1234';
      await h.providerKey('openai', value, 'good');
      const key = await h.accessKey();
      const r = await gw(h, '/v1/chat/completions', { token: key.token, body: chat('gpt-4o', { messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }) });
      assert.equal(r.status, 200);
      const text = await until('the request counted', async () => {
        const t = await (await fetch(`${h.apiUrl}/metrics`)).text();
        return t.includes(`access_key="${key.id}"`) ? t : undefined;
      });
      const m = parseMetrics(text);
      assert.equal(m.get(series('tollgate_requests_total', { surface: 'chat-completions', provider: 'openai', model: 'gpt-4o', status_class: '2xx', key_source: 'user', access_key: key.id })), 1);
      assert.equal(m.get(series('tollgate_tokens_total', { provider: 'openai', model: 'gpt-4o', type: 'input', access_key: key.id })), FAKE_USAGE.input);
      const line = await until('the access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access'));
      assert.match(line.requestBody as string, /^\{"model":"gpt-4o".*…\[\d+ more\]$/);
      assert.match(line.responseBody as string, /Hello from the fake gpt-4o model/);
      assert.equal((line.requestHeaders as Record<string, string>).authorization, '[redacted]');
      // A credential under another name (Azure's api-key, an app's own header, a Bearer value anywhere) is not logged either.
      const other = await gw(h, '/v1/chat/completions', { headers: { 'api-key': key.token, 'x-app-session-token': key.token, 'x-forwarded-for-auth': `Bearer ${key.token}`, 'x-trace': `bearer ${key.token}`, 'x-custom': key.token, 'x-upstream': 'sk-proj-abc123', 'x-groq': 'gsk_abc123', 'x-google': 'AIzaSyA1234567890abcdefghij', 'x-request-tag': 'task-42', 'cf-access-jwt-assertion': JWT, 'x-identity': JWT, 'x-vercel-protection-bypass': 'abc123' }, body: chat('gpt-4o') });
      const otherLine = await until('the second access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === other.headers.get('ngrok-aig-request-id')));
      const otherHeaders = otherLine.requestHeaders as Record<string, string>;
      assert.deepEqual([otherHeaders['api-key'], otherHeaders['x-app-session-token'], otherHeaders['x-forwarded-for-auth'], otherHeaders['x-trace'], otherHeaders['content-type']], ['[redacted]', '[redacted]', '[redacted]', '[redacted]', 'application/json']);
      // An access key or a provider key under a name that says nothing: recognised by its shape. Other values stay.
      assert.deepEqual([otherHeaders['x-custom'], otherHeaders['x-upstream'], otherHeaders['x-groq'], otherHeaders['x-google'], otherHeaders['x-request-tag']], ['[redacted]', '[redacted]', '[redacted]', '[redacted]', 'task-42']);
      // An identity proxy's signed token (a JWT), under its own name or any other, and a deployment's bypass secret.
      assert.deepEqual([otherHeaders['cf-access-jwt-assertion'], otherHeaders['x-identity'], otherHeaders['x-vercel-protection-bypass']], ['[redacted]', '[redacted]', '[redacted]']);
      for (const l of capture.lines) {
        assert.ok(!l.includes(key.token), 'access token in a log line');
        assert.ok(!l.includes(value), 'provider key in a log line');
      }
      assert.ok(!text.includes(key.token));
    } finally {
      await h.close();
    }
  });
});

interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  startTimeUnixNano: string | number; endTimeUnixNano: string | number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map((x) => x.stringValue ?? x.intValue);
  return v;
}

/** An OTLP/HTTP receiver on loopback: the spans posted to it go to `spans`, each post's method, path and type to `posts`. */
async function startOtlpReceiver(spans: OtlpSpan[], posts: string[] = []): Promise<Server> {
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const payload = JSON.parse(body.toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
      for (const rs of payload.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return receiver;
}

/** A caller's `tracestate`: two vendors' entries. */
const CALLER_TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

describe('OpenTelemetry traces over OTLP/HTTP (sqlite)', () => {
  let receiver: Server;
  const spans: OtlpSpan[] = [];
  const posts: string[] = [];

  before(async () => {
    receiver = await startOtlpReceiver(spans, posts);
  });
  after(async () => { await new Promise<void>((resolve) => receiver.close(() => resolve())); });

  test('a span per request parented to the incoming traceparent, a child span per attempt with gen_ai attributes, traceparent upstream', async () => {
    const { port } = receiver.address() as AddressInfo;
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'tollgate-test' });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const cutTraceId = '4bf92f3577b34da6a3ce929d0e0e4737';
    const listTraceId = '4bf92f3577b34da6a3ce929d0e0e4738';
    const oddTraceIds = ['4bf92f3577b34da6a3ce929d0e0e4739', '4bf92f3577b34da6a3ce929d0e0e473a', '4bf92f3577b34da6a3ce929d0e0e473b', '4bf92f3577b34da6a3ce929d0e0e473e'];
    const failedTraceIds = ['4bf92f3577b34da6a3ce929d0e0e473c', '4bf92f3577b34da6a3ce929d0e0e473d'];
    const nestedTraceIdPrefix = '5bf92f3577b34da6a3ce929d0e0e4';
    let requestId = '';
    let upstreamParents: string[] = [];
    const fakeUrl = h.fake.url;
    try {
      const limited = await h.providerKey('openai', 'sk-429', 'limited');
      const good = await h.providerKey('openai', 'sk-good-trace', 'good');
      const key = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: limited }, { id: good }] }] }] } }));
      h.fake.reset();
      const r = await gw(h, '/v1/chat/completions', { token: key.token, headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: CALLER_TRACESTATE }, body: chat('gpt-4o') });
      assert.equal(r.status, 200);
      requestId = r.headers.get('ngrok-aig-request-id')!;
      // Each upstream attempt got the same trace id, with a parent span of its own.
      const upstream = h.fake.requests.map((x) => x.headers.traceparent as string);
      assert.equal(upstream.length, 2);
      for (const tp of upstream) assert.match(tp, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.notEqual(upstream[0], upstream[1]);
      // The caller's vendors' entries go on with its trace (W3C Trace Context §3.3), to every attempt.
      assert.deepEqual(h.fake.requests.map((x) => x.headers.tracestate), [CALLER_TRACESTATE, CALLER_TRACESTATE]);
      upstreamParents = upstream.map((tp) => tp.split('-')[2]!);
      // Metering (which ends the spans) is done once the usage is in the store; stopping then flushes them.
      await h.usage(requestId, 2);
      // A 2xx stream that breaks off mid-way, and a model listing, each under a trace of its own. Each request here
      // starts with the limited key's cooling over, so it is tried first again: two attempts, two spans.
      h.coolingClock.advance(MAX_COOL_MS);
      const cut = await gw(h, '/v1/chat/completions', { token: key.token, headers: { traceparent: `00-${cutTraceId}-${parentId}-01` }, body: chat('openai:cut-trace', { stream: true }) });
      await h.usage(cut.headers.get('ngrok-aig-request-id')!, 2);
      // Behind a TLS-terminating proxy (the ngrok agent among them), which names the client's scheme.
      assert.equal((await gw(h, '/v1/models', { token: key.token, headers: { traceparent: `00-${listTraceId}-${parentId}-01`, 'x-forwarded-proto': 'https' } })).status, 200);
      // Paths and methods a client invents, a model's page and an MCP server's endpoint: span names stay few (the route, not the path).
      const odd: [string, string][] = [['/v1/whatever/123', 'POST'], ['/v1/chat/completions', 'PURGE'], ['/v1/models/gpt-4o', 'GET'], ['/mcp/s-aigmcp_123', 'POST']];
      for (const [i, [path, method]] of odd.entries()) await gw(h, path, { method, token: key.token, headers: { traceparent: `00-${oddTraceIds[i]}-${parentId}-01` } });
      // Served plainly, over and over: the attempt spans' clock must agree with their request span's every time.
      for (let i = 0; i < 12; i++) {
        h.coolingClock.advance(MAX_COOL_MS);
        const plain = await gw(h, '/v1/chat/completions', { token: key.token, headers: { traceparent: `00-${nestedTraceIdPrefix}${i.toString(16).padStart(2, '0')}-${parentId}-01` }, body: chat('gpt-4o') });
        await h.usage(plain.headers.get('ngrok-aig-request-id')!, 2);
      }
      // A provider's 400 relayed, and a provider failing with a 500 on every key: no model generated either answer.
      for (const [i, model] of ['openai:fail-400-trace', 'openai:fail-500-trace'].entries()) {
        const failed = await gw(h, '/v1/chat/completions', { token: key.token, headers: { traceparent: `00-${failedTraceIds[i]}-${parentId}-01` }, body: chat(model) });
        await h.usage(failed.headers.get('ngrok-aig-request-id')!, 1);
      }
    } finally {
      await h.close();
    }
    assert.ok(posts.every((p) => p.startsWith('POST /v1/traces application/json')), posts.join('; '));
    const mine = spans.filter((s) => s.traceId === traceId);
    const server = mine.find((s) => s.kind === 2);
    assert.ok(server, 'request span');
    assert.equal(server.name, 'POST /v1/chat/completions');
    assert.equal(server.parentSpanId, parentId, 'parented to the caller');
    assert.equal(attr(server, 'gen_ai.operation.name'), 'chat');
    assert.equal(attr(server, 'gen_ai.request.model'), 'gpt-4o');
    assert.equal(attr(server, 'gen_ai.response.model'), 'gpt-4o');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    assert.equal(attr(server, 'tollgate.request_id'), requestId);
    assert.equal(attr(server, 'tollgate.attempts'), 2);
    // The HTTP conventions' route and scheme, which trace backends group server spans by.
    assert.deepEqual([attr(server, 'http.route'), attr(server, 'url.scheme')], ['/v1/chat/completions', 'http']);
    const attempts = mine.filter((s) => s.kind === 3).sort((a, b) => (attr(a, 'tollgate.attempt') as number) - (attr(b, 'tollgate.attempt') as number));
    assert.equal(attempts.length, 2);
    for (const a of attempts) {
      assert.equal(a.parentSpanId, server.spanId, 'attempt spans are children of the request span');
      assert.equal(a.name, 'chat gpt-4o');
      assert.equal(attr(a, 'gen_ai.provider.name'), 'openai');
      assert.equal(attr(a, 'gen_ai.system'), 'openai');
      assert.equal(attr(a, 'gen_ai.request.model'), 'gpt-4o');
    }
    assert.deepEqual(attempts.map((a) => a.spanId), upstreamParents, 'the upstream saw each attempt span as its parent');
    const [first, second] = attempts as [OtlpSpan, OtlpSpan];
    assert.equal(attr(first, 'http.response.status_code'), 429);
    assert.equal(attr(first, 'tollgate.retry_action'), 'next_key');
    assert.equal(attr(first, 'error.type'), '429');
    assert.equal(first.status?.code, 2, 'ERROR');
    assert.equal(attr(second, 'http.response.status_code'), 200);
    assert.equal(attr(second, 'tollgate.retry_action'), 'succeeded');
    assert.equal(attr(second, 'gen_ai.response.model'), 'gpt-4o');
    // The provider's id of its answer, on the attempt that got it and on the request; none for a refusal.
    assert.deepEqual([attr(second, 'gen_ai.response.id'), attr(server, 'gen_ai.response.id'), attr(first, 'gen_ai.response.id')], ['chatcmpl-fake1', 'chatcmpl-fake1', undefined]);
    assert.equal(attr(second, 'gen_ai.usage.input_tokens'), FAKE_USAGE.input);
    assert.equal(attr(second, 'gen_ai.usage.output_tokens'), FAKE_USAGE.output);
    assert.deepEqual(attr(second, 'gen_ai.response.finish_reasons'), ['stop']);
    assert.equal(attr(second, 'error.type'), undefined);
    // The parts of the counts the provider reported (OpenAI: cached prompt tokens, reasoning; no cache writes).
    assert.deepEqual(['cache_read.input_tokens', 'cache_creation.input_tokens', 'reasoning.output_tokens'].map((k) => attr(second, `gen_ai.usage.${k}`)), [FAKE_USAGE.cacheRead, 0, FAKE_USAGE.reasoning]);
    assert.deepEqual(['cache_read.input_tokens', 'reasoning.output_tokens'].map((k) => attr(server, `gen_ai.usage.${k}`)), [FAKE_USAGE.cacheRead, FAKE_USAGE.reasoning]);
    // The upstream each attempt called, as the GenAI client spans name it.
    const upstreamUrl = new URL(fakeUrl);
    for (const a of attempts) assert.deepEqual([attr(a, 'server.address'), attr(a, 'server.port')], [upstreamUrl.hostname, Number(upstreamUrl.port)]);
    // The broken stream answered 200, then failed: an error on its attempt and on its request, as in the metrics.
    const cutSpans = spans.filter((s) => s.traceId === cutTraceId);
    const cutRequest = cutSpans.find((s) => s.kind === 2)!;
    const cutServed = cutSpans.filter((s) => s.kind === 3).find((s) => attr(s, 'http.response.status_code') === 200)!;
    assert.deepEqual([attr(cutServed, 'error.type'), cutServed.status?.code, attr(cutServed, 'tollgate.completion')], ['stream_failed', 2, 'stream_failed']);
    assert.equal(attr(cutServed, 'gen_ai.response.id'), 'chatcmpl-fake1', 'a stream\'s id, read from its first event');
    assert.deepEqual([attr(cutRequest, 'error.type'), cutRequest.status?.code, attr(cutRequest, 'http.response.status_code')], ['stream_failed', 2, 200]);
    // A model listing calls no model: no GenAI operation on its span.
    const listing = spans.find((s) => s.traceId === listTraceId && s.kind === 2)!;
    assert.deepEqual([listing.name, attr(listing, 'gen_ai.operation.name')], ['GET /v1/models', undefined]);
    assert.deepEqual([attr(listing, 'http.route'), attr(listing, 'url.scheme')], ['/v1/models', 'https']);
    const oddNames = oddTraceIds.map((id) => spans.find((s) => s.traceId === id && s.kind === 2)!);
    assert.deepEqual(oddNames.map((s) => s.name), ['POST', '_OTHER', 'GET /v1/models/{model}', 'POST /mcp/s-{id}']);
    // A path the gateway does not serve has no route (its path is in url.path): no attribute per invented path.
    assert.deepEqual(oddNames.map((s) => attr(s, 'http.route')), [undefined, undefined, '/v1/models/{model}', '/mcp/s-{id}']);
    assert.equal(attr(oddNames[3]!, 'gen_ai.operation.name'), undefined, 'an MCP request is no GenAI operation');
    assert.deepEqual([attr(oddNames[1]!, 'http.request.method'), attr(oddNames[1]!, 'http.request.method_original')], ['_OTHER', 'PURGE']);
    // Every attempt span lies within its request span: both are placed on one clock, so a trace viewer never shows
    // an attempt starting before the request that made it, or ending after it.
    const nanos = (t: string | number) => BigInt(t);
    const children = spans.filter((s) => s.kind === 3);
    assert.ok(children.length >= 24, `${children.length} attempt spans`);
    for (const child of children) {
      const parent = spans.find((s) => s.spanId === child.parentSpanId)!;
      assert.ok(nanos(parent.startTimeUnixNano) <= nanos(child.startTimeUnixNano), `attempt ${child.spanId} starts ${(Number(nanos(parent.startTimeUnixNano) - nanos(child.startTimeUnixNano)) / 1e6).toFixed(3)} ms before its request`);
      assert.ok(nanos(child.endTimeUnixNano) <= nanos(parent.endTimeUnixNano), `attempt ${child.spanId} (${parent.name}, trace ${child.traceId}) ends ${(Number(nanos(child.endTimeUnixNano) - nanos(parent.endTimeUnixNano)) / 1e6).toFixed(3)} ms after its request`);
    }
    // The provider is named on failed requests too (as in the metrics and the access line); no response model.
    for (const id of failedTraceIds) {
      const request = spans.find((s) => s.traceId === id && s.kind === 2)!;
      assert.deepEqual([attr(request, 'gen_ai.provider.name'), attr(request, 'gen_ai.response.model')], ['openai', undefined], id);
    }
  });

  test('a malformed traceparent starts a trace of the gateway\'s own and its tracestate is dropped, as W3C Trace Context asks; no key of any kind in a span or a log line', async () => {
    const { port } = receiver.address() as AddressInfo;
    const capture = new LineCapture();
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, { logger: pino({ level: 'info' }, capture) });
    const traceId = 'abf92f3577b34da6a3ce929d0e0e4736';
    const parentId = 'a0f067aa0ba902b7';
    // Each refused by the spec's grammar: uppercase hex, an all-zero trace or parent id, version ff, version 00 with more.
    const malformed = [
      `00-${traceId.toUpperCase()}-${parentId}-01`, `00-${'0'.repeat(32)}-${parentId}-01`, `00-${traceId}-${'0'.repeat(16)}-01`,
      `ff-${traceId}-${parentId}-01`, `00-${traceId}-${parentId}-01-extra`,
    ];
    const secrets = ['sk-openai-span-secret-5c2e', 'AIza-google-span-secret-7d1a', 'sk-ant-span-secret-9b3f'];
    const sent: { requestId: string; traceparent: string | undefined }[] = [];
    let future: { requestId: string; upstream: Record<string, unknown> } | undefined;
    let token = '';
    try {
      await h.providerKey('openai', secrets[0]!);
      await h.providerKey('google', secrets[1]!);
      await h.providerKey('anthropic', secrets[2]!);
      ({ token } = await h.accessKey());
      secrets.push(token);
      for (const traceparent of malformed) {
        h.fake.reset();
        const r = await gw(h, '/v1/chat/completions', { token, headers: { traceparent, tracestate: CALLER_TRACESTATE }, body: chat('gpt-4o') });
        assert.equal(r.status, 200, r.text);
        const upstream = h.fake.requests[0]!.headers;
        assert.equal(upstream.tracestate, undefined, `${traceparent}: a tracestate without a valid traceparent is discarded`);
        sent.push({ requestId: r.headers.get('ngrok-aig-request-id')!, traceparent: upstream.traceparent as string | undefined });
      }
      // A later version's traceparent with more fields is read for its first four (W3C Trace Context §4.3).
      h.fake.reset();
      const later = await gw(h, '/v1/chat/completions', { token, headers: { traceparent: `cc-${traceId}-${parentId}-01-what-comes-later`, tracestate: CALLER_TRACESTATE }, body: chat('gpt-4o') });
      future = { requestId: later.headers.get('ngrok-aig-request-id')!, upstream: h.fake.requests[0]!.headers };
      // The access key in each place a client may put it: Gemini's ?key=, Anthropic's x-api-key, Authorization.
      const gemini = await gw(h, `/v1beta/models/gemini-2.5-flash:generateContent?key=${token}`, { body: { contents: [{ parts: [{ text: 'hi' }] }] } });
      assert.equal(gemini.status, 200, gemini.text);
      const messages = await gw(h, '/v1/messages', { headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' }, body: { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hey' }] } });
      assert.equal(messages.status, 200, messages.text);
      for (const r of [gemini, messages]) await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      await h.usage(future.requestId, 1);
      for (const { requestId } of sent) await h.usage(requestId, 1);
    } finally {
      await h.close();
    }
    for (const [i, { requestId, traceparent }] of sent.entries()) {
      const request = spans.find((s) => s.kind === 2 && attr(s, 'tollgate.request_id') === requestId)!;
      assert.ok(request, `${malformed[i]}: request span`);
      assert.ok(!request.parentSpanId, `${malformed[i]}: no parent`);
      assert.notEqual(request.traceId, traceId, `${malformed[i]}: a trace of the gateway's own`);
      assert.match(traceparent!, new RegExp(`^00-${request.traceId}-[0-9a-f]{16}-01$`), `${malformed[i]}: its own trace upstream`);
    }
    const later = spans.find((s) => s.kind === 2 && attr(s, 'tollgate.request_id') === future!.requestId)!;
    assert.deepEqual([later.traceId, later.parentSpanId], [traceId, parentId]);
    assert.match(future!.upstream.traceparent as string, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.equal(future!.upstream.tracestate, CALLER_TRACESTATE);
    // The exported spans, and every log line, name no access-key token and no provider key.
    const exported = JSON.stringify(spans);
    for (const secret of secrets) {
      assert.ok(!exported.includes(secret), `a span carries ${secret}`);
      for (const line of capture.lines) assert.ok(!line.includes(secret), `a log line carries ${secret}: ${line}`);
    }
  });

  test('a stream the provider cuts after its opening usage: metrics, access line and spans count the input tokens it was billed on', async () => {
    // Anthropic reports the input and cache counts in message_start; the stream then breaks before message_delta.
    // The usage event keeps the provider's input count (billed) and an estimate of the output; an o200k estimate of
    // the input in the observations would disagree with the bill and count fewer inputs than the cache tokens in them.
    const { port } = receiver.address() as AddressInfo;
    const capture = new LineCapture();
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, { logger: pino({ level: 'info' }, capture) });
    const traceId = '6bf92f3577b34da6a3ce929d0e0e4736';
    let row: Awaited<ReturnType<Harness['usage']>>[number] | undefined;
    let line: Record<string, unknown>;
    let metricsText: string;
    try {
      await h.providerKey('anthropic', 'sk-good-cut-usage');
      const { token } = await h.accessKey();
      const r = await gw(h, '/v1/messages', {
        token, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: { model: 'anthropic:cut-opening-usage', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hello there' }] },
      });
      assert.match(r.text, /ERR_NGROK_27235/);
      const requestId = r.headers.get('ngrok-aig-request-id')!;
      [row] = await h.usage(requestId, 1);
      line = await until('the access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === requestId));
      metricsText = await (await fetch(`${h.apiUrl}/metrics`)).text();
    } finally {
      await h.close();
    }
    const billed = Number(row!.inputTokens);
    assert.equal(billed, FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, 'the provider\'s input count, cache included, is in the usage event');
    assert.equal(row!.usageEstimated ? true : false, true, 'the output was estimated');
    assert.deepEqual(pick(line, ['completion', 'usageEstimated', 'inputTokens', 'cacheReadTokens', 'cacheWriteTokens']), {
      completion: 'stream_failed', usageEstimated: true, inputTokens: billed, cacheReadTokens: FAKE_USAGE.cacheRead, cacheWriteTokens: FAKE_USAGE.cacheWrite,
    });
    assert.equal(line.outputTokens, Number(row!.outputTokens));
    const metrics = parseMetrics(metricsText);
    assert.equal(metrics.get(series('tollgate_tokens_total', { provider: 'anthropic', model: 'other', type: 'input' })), billed);
    assert.equal(metrics.get(series('tollgate_tokens_total', { provider: 'anthropic', model: 'other', type: 'output' })), Number(row!.outputTokens));
    const mine = spans.filter((s) => s.traceId === traceId);
    const request = mine.find((s) => s.kind === 2)!;
    const attempt = mine.find((s) => s.kind === 3)!;
    for (const span of [request, attempt]) {
      assert.deepEqual(['input_tokens', 'output_tokens', 'cache_read.input_tokens', 'cache_creation.input_tokens'].map((k) => attr(span, `gen_ai.usage.${k}`)),
        [billed, Number(row!.outputTokens), FAKE_USAGE.cacheRead, FAKE_USAGE.cacheWrite], span.name);
    }
  });
  test('a pass-through model name a client makes long is kept to 256 characters in span names and attributes', async () => {
    const { port } = receiver.address() as AddressInfo;
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const traceId = '8bf92f3577b34da6a3ce929d0e0e4736';
    const model = `long-${'x'.repeat(5_000)}`;
    try {
      await h.providerKey('openai', 'sk-long-trace');
      const { token } = await h.accessKey();
      const r = await gw(h, '/v1/chat/completions', { token, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }, body: chat(`openai:${model}`) });
      assert.equal(r.status, 200, r.text);
      await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
    } finally {
      await h.close();
    }
    const mine = spans.filter((s) => s.traceId === traceId);
    assert.equal(mine.length, 2);
    for (const span of mine) {
      assert.ok(span.name.length <= 256 + 'chat '.length, `span name of ${span.name.length} characters`);
      const asked = attr(span, 'gen_ai.request.model');
      assert.equal(typeof asked, 'string');
      // Cut as the access line cuts it: 256 characters, then how many more there were.
      // The request span has the name as the client sent it, the attempt's the model's own.
      const sent = span.kind === 2 ? `openai:${model}` : model;
      assert.equal(asked, `${sent.slice(0, 256)}…[${sent.length - 256} more]`, `gen_ai.request.model of ${(asked as string).length} characters on the ${span.kind === 2 ? 'request' : 'attempt'} span`);
    }
  });

  test('a model name whose cut would split an emoji, or whose JSON escapes hold half of one, reaches spans and the access line as well-formed text', async () => {
    const { port } = receiver.address() as AddressInfo;
    const capture = new LineCapture();
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, { logger: pino({ level: 'info' }, capture) });
    const traceIds = ['cbf92f3577b34da6a3ce929d0e0e4736', 'cbf92f3577b34da6a3ce929d0e0e4737'];
    // The 256th character of the span name's model is the first half of 😀; the other name holds a lone half, escaped.
    const bodies = [JSON.stringify(chat(`openai:${'x'.repeat(255)}😀${'y'.repeat(10)}`)), JSON.stringify(chat('openai:half-REPLACE-emoji')).replace('REPLACE', '\\ud83d')];
    const ids: string[] = [];
    try {
      await h.providerKey('openai', 'sk-surrogate-trace');
      const { token } = await h.accessKey();
      for (const [i, body] of bodies.entries()) {
        const r = await gw(h, '/v1/chat/completions', { token, headers: { traceparent: `00-${traceIds[i]}-00f067aa0ba902b7-01` }, body });
        assert.equal(r.status, 200, r.text);
        ids.push(r.headers.get('ngrok-aig-request-id')!);
        await h.usage(ids[i]!, 1);
      }
    } finally {
      await h.close();
    }
    // The receiver's JSON.parse keeps a lone surrogate as one: what a strict reader (serde_json) would refuse.
    for (const traceId of traceIds) {
      const mine = spans.filter((s) => s.traceId === traceId);
      assert.equal(mine.length, 2);
      for (const span of mine) {
        assert.ok(span.name.isWellFormed(), `span name ${JSON.stringify(span.name.slice(-8))}`);
        for (const a of span.attributes) if (typeof a.value.stringValue === 'string') assert.ok(a.value.stringValue.isWellFormed(), `${a.key} on ${span.name.slice(0, 40)}`);
      }
    }
    const lines = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.log === 'access' && ids.includes(l.requestId as string));
    assert.equal(lines.length, 2);
    for (const line of lines) for (const field of ['modelAsked', 'modelServed']) assert.ok((line[field] as string).isWellFormed(), `${field}: ${JSON.stringify(line[field])}`);
    assert.equal(lines.find((l) => l.requestId === ids[1])!.modelAsked, 'openai:half-\ufffd-emoji');
  });

  test('gen_ai.response.model is the model the answer names (JSON and streams, both formats), not the model asked', async () => {
    // A custom model declared under an upstream id of its own: the provider answers with that id, as OpenAI answers
    // `gpt-4o-2024-08-06` to a request for `gpt-4o`. The conventions' response model is the one that generated it.
    const { port } = receiver.address() as AddressInfo;
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const upstreamId = 'meta-llama/Llama-3.3-70B-Instruct';
    const traceIds = ['7bf92f3577b34da6a3ce929d0e0e4736', '7bf92f3577b34da6a3ce929d0e0e4737', '7bf92f3577b34da6a3ce929d0e0e4738'];
    try {
      await h.api('POST', '/providers', {
        providerId: 'obs-vllm', name: 'vLLM', baseUrl: `${h.fake.url}/v1`,
        supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }, { format: 'anthropic', surface: 'messages' }],
        models: [{ modelId: 'llama-70b', providerModelId: upstreamId }],
      });
      await h.providerKey('obs-vllm', 'sk-obs-vllm');
      const { token } = await h.accessKey();
      const requests: [string, unknown][] = [
        ['/v1/chat/completions', chat('obs-vllm:llama-70b')],
        ['/v1/chat/completions', chat('obs-vllm:llama-70b', { stream: true })],
        ['/v1/messages', { model: 'obs-vllm:llama-70b', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hello there' }] }],
      ];
      for (const [i, [path, body]] of requests.entries()) {
        const r = await gw(h, path, { token, headers: { traceparent: `00-${traceIds[i]}-00f067aa0ba902b7-01` }, body });
        assert.equal(r.status, 200, r.text);
        assert.equal(h.fake.requests.at(-1)!.body!.model, upstreamId);
        await h.usage(r.headers.get('ngrok-aig-request-id')!, 1);
      }
    } finally {
      await h.close();
    }
    for (const id of traceIds) {
      const mine = spans.filter((s) => s.traceId === id);
      const request = mine.find((s) => s.kind === 2)!;
      const attempt = mine.find((s) => s.kind === 3)!;
      assert.deepEqual([attr(attempt, 'gen_ai.request.model'), attr(attempt, 'gen_ai.response.model'), attr(request, 'gen_ai.response.model')], ['llama-70b', upstreamId, upstreamId], request.name);
    }
  });
});


/** A realtime session opened with `ws` (the SDK hides the 101's headers): the socket and the request id the 101 carried. */
function openRealtime(h: Harness, token: string, headers: Record<string, string> = {}): Promise<{ socket: WebSocket; requestId: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${h.gatewayUrl.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    let requestId = '';
    socket.once('upgrade', (res) => { requestId = String(res.headers['ngrok-aig-request-id']); });
    socket.once('open', () => resolve({ socket, requestId }));
    socket.once('error', reject);
  });
}

function nextEvent(socket: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listener = (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const event = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      if (event.type !== type) return;
      socket.off('message', listener);
      resolve(event);
    };
    socket.on('message', listener);
  });
}

/** A gateway in front of the fake realtime provider, its log captured and its spans sent to an OTLP receiver on loopback. */
async function tracedRealtime(env: Record<string, string> = {}): Promise<{ h: Harness; fake: FakeRealtime; capture: LineCapture; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const receiver = await startOtlpReceiver(spans);
  const fake = await startFakeRealtime();
  const capture = new LineCapture();
  const h = await startHarness('sqlite', {
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: fake.baseUrl, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`, ...env,
  }, { logger: pino({ level: 'info' }, capture) });
  return {
    h, fake, capture, spans,
    async close() {
      await h.close();
      await fake.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    },
  };
}

describe('realtime sessions in the metrics, the access log and the traces (sqlite)', () => {
  test('open, started, ended by outcome and refused sessions; tokens and cost counted once; one access line and one span per session, no key and no frame in them', async () => {
    const { h, fake, capture, spans, close } = await tracedRealtime({ TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '1', TOLLGATE_REALTIME_IDLE_TIMEOUT_MS: '500' });
    const traceId = '9bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const scrape = async () => parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text());
    const accessLines = () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.log === 'access');
    const badToken = 'ng-abcde-g1-this-is-no-access-key-at-all-000000';
    let metricsText = '';
    let session = '';
    let idled = '';
    let refusedId = '';
    try {
      const rejected = await h.providerKey('openai', 'sk-rejected-obs');
      const { token } = await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: rejected }] }, { type: 'ngrok' }] }] } }));
      // A session that fails over from a refused credential to the managed key, has one response and is closed by its client.
      const { socket, requestId } = await openRealtime(h, token, { traceparent: `00-${traceId}-${parentId}-01`, tracestate: CALLER_TRACESTATE });
      session = requestId;
      const open = await scrape();
      assert.equal(open.get(series('tollgate_realtime_sessions_open', { provider: 'openai' })), 1);
      assert.equal(open.get(series('tollgate_realtime_sessions_started_total', { provider: 'openai', model: 'gpt-realtime' })), 1);
      const done = nextEvent(socket, 'response.done');
      socket.send(JSON.stringify({ type: 'response.create' }));
      await done;
      socket.close();
      // A session its client leaves quiet until the idle limit ends it.
      idled = (await openRealtime(h, token)).requestId;
      // A refused upgrade (no valid key).
      const refused = await new Promise<{ status: number; requestId: string }>((resolve) => {
        const ws = new WebSocket(`${h.gatewayUrl.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${badToken}` } });
        ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['ngrok-aig-request-id']) }); res.resume(); });
        ws.once('error', () => undefined);
      });
      assert.equal(refused.status, 401);
      refusedId = refused.requestId;
      await until('three realtime access lines', () => (accessLines().length >= 3 ? true : undefined));
      metricsText = await (await fetch(`${h.apiUrl}/metrics`)).text();
    } finally {
      await close();
    }
    const metrics = parseMetrics(metricsText);
    const m = (name: string, labels: Record<string, string>) => metrics.get(series(name, labels));
    assert.equal(m('tollgate_realtime_sessions_open', { provider: 'openai' }), 0);
    assert.equal(m('tollgate_realtime_sessions_started_total', { provider: 'openai', model: 'gpt-realtime' }), 2);
    assert.equal(m('tollgate_realtime_sessions_ended_total', { provider: 'openai', model: 'gpt-realtime', outcome: 'client_closed' }), 1);
    assert.equal(m('tollgate_realtime_sessions_ended_total', { provider: 'openai', model: 'gpt-realtime', outcome: 'idle_limit' }), 1);
    assert.equal(total(metrics, 'tollgate_realtime_sessions_ended_total'), 2);
    assert.equal(m('tollgate_realtime_upgrades_refused_total', { provider: 'none', status_class: '4xx', code: 'ERR_NGROK_27201' }), 1);
    assert.equal(total(metrics, 'tollgate_realtime_upgrades_refused_total'), 1);
    // The handshakes are upstream attempts: the refused one moved on to the next credential.
    assert.equal(m('tollgate_upstream_attempts_total', { provider: 'openai', model: 'gpt-realtime', retry_action: 'next_key', status_class: '4xx' }), 2);
    assert.equal(m('tollgate_upstream_attempts_total', { provider: 'openai', model: 'gpt-realtime', retry_action: 'succeeded', status_class: '1xx' }), 2);
    // The one response's tokens, once (the series HTTP requests feed), and its cost on the managed key.
    const tokens = (type: string) => m('tollgate_tokens_total', { provider: 'openai', model: 'gpt-realtime', type });
    assert.deepEqual([tokens('input'), tokens('output'), tokens('cache_read')], [FAKE_REALTIME_USAGE.input_tokens, FAKE_REALTIME_USAGE.output_tokens, 640]);
    const cost = m('tollgate_cost_usd_total', { provider: 'openai', model: 'gpt-realtime', key_source: 'ngrok' })!;
    // 5_044_000_000 pico of model cost, plus 1 USD per million of its 821 tokens.
    assert.ok(Math.abs(cost - (0.005044 + 821e-6)) < 1e-12, String(cost));
    // Sessions are not HTTP requests: none counted there.
    assert.equal(total(metrics, 'tollgate_requests_total'), 0);

    const lines = accessLines();
    assert.equal(lines.length, 3);
    const byId = new Map(lines.map((l) => [l.requestId, l]));
    const line = byId.get(session)!;
    assert.deepEqual(pick(line, ['surface', 'streaming', 'modelAsked', 'modelServed', 'provider', 'keySource', 'attempts', 'retryActions', 'status', 'responses', 'sessionEnd', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'costUsd', 'clientGone', 'errorCode']), {
      surface: 'realtime', streaming: true, modelAsked: 'gpt-realtime', modelServed: 'openai:gpt-realtime', provider: 'openai', keySource: 'ngrok',
      attempts: 2, retryActions: 'next_key,succeeded', status: 101, responses: 1, sessionEnd: 'client_closed', inputTokens: 789, outputTokens: 32, cacheReadTokens: 640,
      costUsd: '0.00587', clientGone: false, errorCode: undefined,
    });
    for (const field of ['totalMs', 'upstreamMs', 'ttfbMs']) assert.equal(typeof line[field], 'number', field);
    assert.ok((line.ttfbMs as number) <= (line.totalMs as number));
    assert.deepEqual(pick(byId.get(idled)!, ['status', 'responses', 'sessionEnd', 'errorCode']), { status: 101, responses: 0, sessionEnd: 'idle_limit', errorCode: 'ERR_NGROK_AI_GATEWAY_REALTIME_SESSION_IDLE_LIMIT_EXCEEDED' });
    assert.deepEqual(pick(byId.get(refusedId)!, ['surface', 'status', 'attempts', 'provider', 'errorCode', 'accessKeyId', 'sessionEnd']), { surface: 'realtime', status: 401, attempts: 0, provider: null, errorCode: 'ERR_NGROK_27201', accessKeyId: null, sessionEnd: undefined });
    // No key of any kind and nothing of the frames, in the log or the metrics.
    for (const text of [...capture.lines, metricsText]) {
      for (const secret of [badToken, 'sk-rejected-obs', 'sk-managed-openai-secret', FAKE_AUDIO, 'response.create']) assert.ok(!text.includes(secret), `${secret} in ${text.slice(0, 200)}`);
    }

    const mine = spans.filter((s) => s.traceId === traceId);
    const server = mine.find((s) => s.kind === 2)!;
    assert.ok(server, 'session span');
    assert.equal(server.name, 'GET /v1/realtime');
    assert.equal(server.parentSpanId, parentId, 'parented to the caller');
    assert.deepEqual(['http.route', 'http.response.status_code', 'gen_ai.operation.name', 'gen_ai.request.model', 'gen_ai.provider.name', 'tollgate.request_id', 'tollgate.attempts', 'tollgate.realtime.responses', 'tollgate.realtime.session_end', 'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.usage.cache_read.input_tokens'].map((k) => attr(server, k)),
      ['/v1/realtime', 101, 'realtime', 'gpt-realtime', 'openai', session, 2, 1, 'client_closed', 789, 32, 640]);
    const handshakes = mine.filter((s) => s.kind === 3).sort((a, b) => (attr(a, 'tollgate.attempt') as number) - (attr(b, 'tollgate.attempt') as number));
    assert.deepEqual(handshakes.map((a) => [a.parentSpanId, a.name, attr(a, 'http.response.status_code'), attr(a, 'tollgate.retry_action'), attr(a, 'tollgate.key_source'), attr(a, 'error.type')]), [
      [server.spanId, 'realtime gpt-realtime', 401, 'next_key', 'user', '401'],
      [server.spanId, 'realtime gpt-realtime', 101, 'succeeded', 'ngrok', undefined],
    ]);
    for (const a of handshakes) assert.ok(BigInt(a.endTimeUnixNano) <= BigInt(server.endTimeUnixNano), 'within the session span');
    // Each handshake carried its own span as the provider's parent, as an HTTP attempt's request does.
    assert.deepEqual(fake.handshakes.slice(0, 2).map((x) => x.headers.traceparent), handshakes.map((a) => `00-${traceId}-${a.spanId}-01`));
    assert.equal(fake.handshakes[2]!.headers.traceparent?.slice(0, 3), '00-', 'a session without a caller\'s trace starts one');
    // The caller's tracestate goes on with its trace, in every handshake; a session without one sends none.
    assert.deepEqual(fake.handshakes.slice(0, 3).map((x) => x.headers.tracestate), [CALLER_TRACESTATE, CALLER_TRACESTATE, undefined]);
    const refusedSpan = spans.find((s) => s.kind === 2 && attr(s, 'tollgate.request_id') === refusedId)!;
    assert.deepEqual([refusedSpan.name, attr(refusedSpan, 'http.response.status_code'), attr(refusedSpan, 'tollgate.attempts')], ['GET /v1/realtime', 401, 0]);
    for (const span of spans) assert.ok(!JSON.stringify(span).includes(FAKE_AUDIO), 'no frame content in a span');
  });
});

describe('a realtime response the provider never reported (sqlite)', () => {
  test('its tokens in the metrics and the access line are the estimate it was billed on, as a cut HTTP stream\'s are', async () => {
    const fake = await startFakeRealtime();
    const capture = new LineCapture();
    const h = await startHarness('sqlite', { TOLLGATE_PROVIDER_OPENAI_BASE_URL: fake.baseUrl }, { logger: pino({ level: 'info' }, capture) });
    try {
      const { token } = await h.accessKey();
      const { socket, requestId } = await openRealtime(h, token);
      const closed = new Promise<number>((resolve) => socket.once('close', resolve));
      // "drop": a transcript and a second of audio, then the provider closes its socket without response.done.
      socket.send(JSON.stringify({ type: 'response.create', response: { instructions: 'drop' } }));
      assert.equal(await closed, 1011);
      const line = await until('the session\'s access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === requestId));
      const [row] = await h.usage(requestId, 1);
      assert.deepEqual([Number(row!.usageEstimated), Number(row!.outputTokens)], [1, 0], 'the estimate is kept apart from provider counts');
      const billed = Number(row!.outputTokensEstimate);
      assert.ok(billed > 0 && BigInt(row!.costPico) > 0n, 'billed on the estimate');
      const metrics = parseMetrics(await (await fetch(`${h.apiUrl}/metrics`)).text());
      assert.equal(metrics.get(series('tollgate_tokens_total', { provider: 'openai', model: 'gpt-realtime', type: 'output' })), billed);
      assert.equal(metrics.get(series('tollgate_cost_usd_total', { provider: 'openai', model: 'gpt-realtime', key_source: 'ngrok' })), picoToUsd(BigInt(row!.costPico)));
      assert.deepEqual(pick(line, ['sessionEnd', 'responses', 'outputTokens', 'usageEstimated']), { sessionEnd: 'provider_closed', responses: 1, outputTokens: billed, usageEstimated: true });
    } finally {
      await h.close();
      await fake.close();
    }
  });
});

describe('a realtime session a provider frame ws refused ended (sqlite)', () => {
  test('its access line says provider_protocol_error and the code told (27235), and its span is an error of that type, as a provider message too long is', async () => {
    const { h, capture, spans, close } = await tracedRealtime();
    let requestId = '';
    let line: Record<string, unknown>;
    try {
      const { token } = await h.accessKey();
      const opened = await openRealtime(h, token);
      requestId = opened.requestId;
      const closed = new Promise<number>((resolve) => opened.socket.once('close', resolve));
      // "frame …": the provider writes a text frame that is not UTF-8 on its socket.
      opened.socket.send(JSON.stringify({ type: 'response.create', response: { instructions: 'frame 81047bfffe7d' } }));
      assert.equal(await closed, 1011);
      line = await until('the session\'s access line', () => capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.log === 'access' && l.requestId === requestId));
    } finally {
      await close();
    }
    assert.deepEqual(pick(line, ['status', 'responses', 'sessionEnd', 'errorCode']), { status: 101, responses: 1, sessionEnd: 'provider_protocol_error', errorCode: 'ERR_NGROK_27235' });
    const span = spans.find((s) => s.kind === 2 && attr(s, 'tollgate.request_id') === requestId)!;
    assert.ok(span, 'session span');
    assert.deepEqual([attr(span, 'tollgate.realtime.session_end'), attr(span, 'error.type'), span.status?.code], ['provider_protocol_error', 'provider_protocol_error', 2]);
  });
});

describe('an MCP request\'s calls to its servers traced (sqlite)', () => {
  const SECRET = 'kb-secret-never-in-a-span-7c1d';
  const ARGUMENT = 'argument-never-in-a-span';
  const RESULT = 'result-never-in-a-span';
  const register = (s: Parameters<Parameters<typeof startFakeMcp>[0]>[0]) => {
    s.registerTool('lookup', { description: 'Look something up', inputSchema: { q: z.string() } }, ({ q }) => mcpText(`${RESULT} ${q.length}`));
    s.registerTool('broken', { description: 'Always fails' }, () => ({ ...mcpText('it broke'), isError: true }));
  };
  const MCP_HEADERS = { accept: 'application/json, text/event-stream' };
  const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

  /** A harness with the kb server (its secret in a header) registered and known to the gateway, no call made to it yet. */
  async function withKb(h: Harness, kbUrl: string): Promise<{ token: string; serverId: string }> {
    const server = await h.api<{ id: string }>('POST', '/mcp-servers', { label: 'kb', upstreamUrl: kbUrl, auth: { type: 'secret', in: 'header', name: 'X-Kb-Key', prefix: 'Token ' } });
    await h.providerKey('mcp:kb', SECRET, 'kb token');
    const { token } = await h.accessKey();
    // A ping on the server's own endpoint is the gateway's to answer: known once it is 200, and the server not called.
    await until('the server known to the gateway', async () => ((await gw(h, `/mcp/s-${server.id}`, { token, headers: MCP_HEADERS, body: { jsonrpc: '2.0', id: 0, method: 'ping' } })).status === 200 ? true : undefined));
    return { token, serverId: server.id };
  }

  test('each HTTP call to the server is a CLIENT span under the request\'s, and the server gets its traceparent and the caller\'s tracestate; no secret, argument, result or session id in a span', async () => {
    const spans: OtlpSpan[] = [];
    const receiver = await startOtlpReceiver(spans);
    const { port } = receiver.address() as AddressInfo;
    const kb = await startFakeMcp(register, (headers) => headers['x-kb-key'] === `Token ${SECRET}`);
    const h = await startHarness('sqlite', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const [callTrace, brokenTrace, openTrace, deleteTrace] = ['9af92f3577b34da6a3ce929d0e0e4701', '9af92f3577b34da6a3ce929d0e0e4702', '9af92f3577b34da6a3ce929d0e0e4703', '9af92f3577b34da6a3ce929d0e0e4704'];
    const parentId = '00f067aa0ba902b7';
    const traced = (traceId: string) => ({ ...MCP_HEADERS, traceparent: `00-${traceId}-${parentId}-01`, tracestate: CALLER_TRACESTATE });
    let token = '';
    let seen: Seen[] = [];
    try {
      const kbServer = await withKb(h, kb.url);
      token = kbServer.token;
      assert.equal(kb.seen.length, 0);
      // A call without a session on the aggregate endpoint: the gateway opens its session with the server, lists its
      // tools, then calls the tool, all for this request.
      const r = await gw(h, '/mcp', { token, headers: traced(callTrace), body: call(7, 'kb__lookup', { q: ARGUMENT }) });
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, new RegExp(RESULT));
      // A tool's own failure (isError): its list kept, its session open, one call.
      const broken = await gw(h, '/mcp', { token, headers: traced(brokenTrace), body: call(8, 'kb__broken') });
      assert.match(broken.text, /it broke/);
      // A client session on the server's own endpoint: its initialize opens one with the server, its DELETE ends it.
      const opened = await gw(h, `/mcp/s-${kbServer.serverId}`, { token, headers: traced(openTrace), body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'trace-test', version: '1' } } } });
      assert.equal(opened.status, 200, opened.text);
      const sessionId = opened.headers.get('mcp-session-id')!;
      const ended = await gw(h, `/mcp/s-${kbServer.serverId}`, { method: 'DELETE', token, headers: { ...traced(deleteTrace), 'mcp-session-id': sessionId } });
      assert.equal(ended.status, 200);
      // The server's session ends unawaited, after the client's DELETE is answered.
      await until('the server\'s session ended', () => (kb.seen.some((x) => x.method === 'DELETE') ? true : undefined));
      seen = [...kb.seen];
    } finally {
      await h.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
      await kb.close();
    }
    const traceOf = (x: Seen) => (x.headers.traceparent as string | undefined)?.split('-')[1];
    // The session the key's calls used, ended as the gateway stopped, on no request's behalf: no span, no trace headers.
    const atStop = kb.seen.slice(seen.length);
    assert.deepEqual(atStop.map((x) => [x.method, x.headers.traceparent, x.headers.tracestate]), [['DELETE', undefined, undefined]]);
    // Every call the server got for a request carried a traceparent of its request's trace, and the caller's tracestate.
    assert.ok(seen.length >= 7, `${seen.length} calls`);
    for (const x of seen) {
      assert.match(x.headers.traceparent as string, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `${x.method} ${x.body}`);
      assert.ok([callTrace, brokenTrace, openTrace, deleteTrace].includes(traceOf(x)!), x.headers.traceparent as string);
      assert.equal(x.headers.tracestate, CALLER_TRACESTATE);
    }
    const what = (x: Seen) => (x.method === 'DELETE' ? 'DELETE' : (JSON.parse(x.body) as { method: string }).method);
    const seenIn = (traceId: string) => seen.filter((x) => traceOf(x) === traceId);
    assert.deepEqual(seenIn(callTrace).map(what), ['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
    assert.deepEqual(seenIn(brokenTrace).map(what), ['tools/call']);
    assert.deepEqual(seenIn(openTrace).map(what), ['initialize', 'notifications/initialized']);
    assert.deepEqual(seenIn(deleteTrace).map(what), ['DELETE']);

    const kbUrl = new URL(kb.url);
    for (const traceId of [callTrace, brokenTrace, openTrace, deleteTrace]) {
      const mine = spans.filter((s) => s.traceId === traceId);
      const request = mine.find((s) => s.kind === 2)!;
      assert.ok(request, `${traceId}: request span`);
      assert.equal(request.parentSpanId, parentId);
      const calls = mine.filter((s) => s.kind === 3);
      // One span per call, the one its traceparent named, beneath the request's span.
      assert.deepEqual(calls.map((c) => c.spanId).sort(), seenIn(traceId).map((x) => (x.headers.traceparent as string).split('-')[2]).sort(), traceId);
      for (const c of calls) {
        assert.equal(c.parentSpanId, request.spanId, `${c.name} is a child of ${request.name}`);
        assert.deepEqual([attr(c, 'server.address'), attr(c, 'server.port'), attr(c, 'tollgate.mcp_server'), attr(c, 'network.protocol.name')], [kbUrl.hostname, Number(kbUrl.port), 'kb', 'http'], c.name);
      }
    }
    const named = (traceId: string, name: string) => spans.find((s) => s.traceId === traceId && s.kind === 3 && s.name === name)!;
    const toolCall = named(callTrace, 'tools/call lookup');
    assert.ok(toolCall, spans.filter((s) => s.traceId === callTrace).map((s) => s.name).join(', '));
    assert.deepEqual(['mcp.method.name', 'gen_ai.tool.name', 'gen_ai.operation.name', 'jsonrpc.request.id', 'http.response.status_code', 'error.type'].map((k) => attr(toolCall, k)),
      ['tools/call', 'lookup', 'execute_tool', '7', 200, undefined]);
    assert.notEqual(toolCall.status?.code, 2);
    assert.match(attr(toolCall, 'mcp.protocol.version') as string, /^\d{4}-\d{2}-\d{2}$/, 'the revision the session speaks');
    const initialize = named(callTrace, 'initialize');
    assert.deepEqual(['mcp.method.name', 'jsonrpc.request.id', 'http.response.status_code', 'gen_ai.tool.name'].map((k) => attr(initialize, k)), ['initialize', 'tollgate-initialize', 200, undefined]);
    assert.deepEqual(['mcp.method.name', 'jsonrpc.request.id', 'http.response.status_code'].map((k) => attr(named(callTrace, 'notifications/initialized'), k)), ['notifications/initialized', undefined, 202]);
    assert.equal(attr(named(callTrace, 'tools/list'), 'mcp.method.name'), 'tools/list');
    // A tool's own failure is the call's error, as the MCP conventions have it.
    const brokenCall = named(brokenTrace, 'tools/call broken');
    assert.deepEqual([attr(brokenCall, 'error.type'), brokenCall.status?.code, attr(brokenCall, 'http.response.status_code')], ['tool_error', 2, 200]);
    const deleted = named(deleteTrace, 'DELETE');
    assert.deepEqual([attr(deleted, 'http.request.method'), attr(deleted, 'http.response.status_code'), attr(deleted, 'error.type')], ['DELETE', 200, undefined]);

    const exported = JSON.stringify(spans);
    const sessionIds = new Set(kb.seen.map((x) => x.headers['mcp-session-id']).filter((id) => typeof id === 'string'));
    assert.ok(sessionIds.size >= 2, 'sessions were used');
    for (const secret of [SECRET, ARGUMENT, RESULT, token, ...sessionIds]) assert.ok(!exported.includes(secret as string), `a span carries ${secret}`);
  });

  test('tracing off: the server gets no traceparent or tracestate, whatever the caller sent', async () => {
    const kb = await startFakeMcp(register, () => true);
    const h = await startHarness('sqlite');
    try {
      const { token } = await withKb(h, kb.url);
      const r = await gw(h, '/mcp', { token, headers: { ...MCP_HEADERS, traceparent: `00-9af92f3577b34da6a3ce929d0e0e4705-00f067aa0ba902b7-01`, tracestate: CALLER_TRACESTATE }, body: call(1, 'kb__lookup', { q: 'x' }) });
      assert.equal(r.status, 200, r.text);
      assert.ok(kb.seen.length >= 4);
      for (const x of kb.seen) assert.deepEqual([x.headers.traceparent, x.headers.tracestate], [undefined, undefined], x.body);
    } finally {
      await h.close();
      await kb.close();
    }
  });
});

describe('OTLP endpoint in the start log', () => {
  test('credentials in the OTLP endpoint (user:token@, a key in the query) are not logged with it', async () => {
    const capture = new LineCapture();
    const config = loadObservabilityConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tenant:otlp-s3cr3t-token@collector.example:4318/v1/traces?api-key=otlp-query-s3cr3t' });
    const sources = { usageBacklog: () => 0, usageRefused: () => 0, balances: () => [] };
    const observer = await createGatewayObserver(config, new Registry(), pino({ level: 'info' }, capture), sources, 'test');
    await observer.close();
    const line = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'OpenTelemetry traces exported over OTLP/HTTP');
    assert.ok(line, capture.lines.join('\n'));
    assert.equal(line.url, 'https://collector.example:4318/v1/traces?…');
    for (const l of capture.lines) assert.doesNotMatch(l, /s3cr3t/);
  });
});
