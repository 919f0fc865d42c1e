// End to end on both stores (SQLite and PostgreSQL): keys and routing made through the control plane,
// traffic through the SDKs, failover, revocation, and the recorded usage read back from GET /usage —
// including events still queued when Tollgate stops (stop drains them into the store).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startHarness, type Harness } from './helpers/gateway.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { FAKE_USAGE } from './fake-upstream.ts';
import { MAX_COOL_MS } from '../src/gateway/key-cooldown.ts';

interface UsageApiEvent { requestId: string; provider: string; model: string; attemptNumber: number; isFinalAttempt: boolean; statusCode: number; inputTokens: number; outputTokens: number; isStreaming: boolean; keySource: string; providerKeyId?: string | null; totalCost: string;
  cacheWriteTokens: number; cacheWrite5mTokens: number; cacheWrite1hTokens: number;
  inputTokenCost: string; outputTokenCost: string; ngrokProcessingFee: string; cacheReadCost: string; cacheWriteCost: string; cacheWrite5mCost: string; cacheWrite1hCost: string }

for (const kind of STORE_KINDS) {
  describe(`gateway end to end (${kind})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(kind); });
    after(async () => { await h.close(); });

    test('a 12 MiB request (a large base64 image) passes under the default body limit, 33 MiB is 413', async () => {
      const key = await h.accessKey();
      const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: key.token, maxRetries: 0 });
      const image = (mb: number) => ({ type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'A'.repeat(mb * 1024 * 1024) } });
      const msg = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: [image(12), { type: 'text', text: 'what is this?' }] }] });
      assert.equal(msg.stop_reason, 'end_turn');
      await assert.rejects(anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: [image(33)] }] }), (e: unknown) => e instanceof Anthropic.APIError && e.status === 413);
    });

    test('SDK traffic with failover, streaming, revocation, and usage through the API', async () => {
      const bad = await h.providerKey('openai', 'sk-429', 'limited');
      const good = await h.providerKey('openai', 'sk-e2e-good', 'good');
      const cfg = await h.configuration({
        access: { providers: { allow: ['openai', 'anthropic'] } },
        router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: bad }, { id: good }] }] }] },
      });
      const key = await h.accessKey(cfg);
      const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: key.token, maxRetries: 0 });
      const since = new Date(Date.now() - 60_000).toISOString();

      const { data, response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'e2e' }] }).withResponse();
      assert.match(data.choices[0]!.message.content!, /e2e/);
      assert.equal(response.headers.get('ngrok-aig-attempts'), '2');
      const chatId = response.headers.get('ngrok-aig-request-id')!;

      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'e2e stream' }] });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      assert.match(text, /gpt-4o-mini/);

      const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: key.token, maxRetries: 0 });
      const msg = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(msg.usage.input_tokens, FAKE_USAGE.input);

      await h.api('DELETE', `/access-keys/${key.id}`);
      await assert.rejects(openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'after' }] }), OpenAI.AuthenticationError);

      await h.usage(chatId, 2);
      const all = await h.api<{ aiGatewayUsage: UsageApiEvent[] }>('GET', `/usage?startTime=${encodeURIComponent(since)}&includeRetries=true&accessKeyId=${key.id}`);
      const chatEvents = all.aiGatewayUsage.filter((e) => e.requestId === chatId).sort((a, b) => a.attemptNumber - b.attemptNumber);
      assert.deepEqual(chatEvents.map((e) => [e.statusCode, e.isFinalAttempt, e.providerKeyId]), [[429, false, bad], [200, true, good]]);
      assert.equal(chatEvents[1]!.inputTokens, FAKE_USAGE.input);
      // Usage is written in ~100 ms batches: wait until the three requests' final events are all in.
      let finals = { aiGatewayUsage: [] as UsageApiEvent[] };
      for (let i = 0; i < 50 && finals.aiGatewayUsage.length < 3; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        finals = await h.api<{ aiGatewayUsage: UsageApiEvent[] }>('GET', `/usage?startTime=${encodeURIComponent(since)}&accessKeyId=${key.id}`);
      }
      // Default view: final attempts only — chat, stream, messages.
      assert.equal(finals.aiGatewayUsage.length, 3);
      assert.ok(finals.aiGatewayUsage.some((e) => e.isStreaming && e.outputTokens === FAKE_USAGE.output));
      const claude = finals.aiGatewayUsage.find((e) => e.provider === 'anthropic' && e.keySource === 'ngrok')!;
      // claude-haiku-4-5 at $1 input, $0.10 cache read, $1.25 5-minute and $2 hour-long cache write, $5 output per
      // million tokens: 17 uncached, 5 read, 2 + 1 written, 9 out; no processing fee configured here.
      assert.deepEqual([claude.cacheWriteTokens, claude.cacheWrite5mTokens, claude.cacheWrite1hTokens], [FAKE_USAGE.cacheWrite, FAKE_USAGE.cacheWrite - FAKE_USAGE.cacheWrite1h, FAKE_USAGE.cacheWrite1h]);
      assert.deepEqual(
        [claude.inputTokenCost, claude.cacheReadCost, claude.cacheWrite5mCost, claude.cacheWrite1hCost, claude.cacheWriteCost, claude.outputTokenCost, claude.ngrokProcessingFee, claude.totalCost],
        ['0.00002', '0.00000', '0.00000', '0.00000', '0.00000', '0.00005', '0.00000', '0.00007'],
      );
    });

    test('stop() drains queued usage into the store', async () => {
      const key = await h.accessKey();
      const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: key.token, maxRetries: 0 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        // The rate-limited key's cooling over: tried first again, so each request makes two attempts.
        h.coolingClock.advance(MAX_COOL_MS);
        const { response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `n${i}` }] }).withResponse();
        ids.push(response.headers.get('ngrok-aig-request-id')!);
      }
      await h.running.stop();
      const { openStore } = await import('../src/store/database.ts');
      const store = await openStore(h.database.url);
      try {
        const rows = await store.db.selectFrom('usageEvents').select('requestId').where('requestId', 'in', ids).execute();
        // Each request made two attempts (the account's rate-limited key first, by default routing).
        assert.equal(rows.length, 10);
        assert.equal(new Set(rows.map((r) => r.requestId)).size, 5);
      } finally {
        await store.close();
      }
      h.running.stop = async () => {};
    });
  });
}
