// Billing on (TOLLGATE_BILLING=on): a request's credit hold is given back however the request ends — served after a
// failover, every attempt failed, a stream the provider broke after its head, a client that left mid-stream — and one
// account's holds never refuse another account's requests. On SQLite and PostgreSQL (the ledger reads balances on
// another schedule there: several gateways may share the credit).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { grantUntilServed, gw, startHarness, type Harness } from './helpers/gateway.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { createAccount } from '../src/store/accounts.ts';

const BILLING = { TOLLGATE_BILLING: 'on', TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' };

/** A request on the account's own key costing a few tokens of fee: refused 4026 only while holds cover the balance. */
const small = { model: 'openai:gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };

/**
 * 128 choices of an uncatalogued model's 16,384-token default limit at the 0.05 USD/Mtok fee: ~10.5 cents held, ten
 * times a one-cent balance, so a hold left open refuses every later request of the account ("held by requests still
 * in flight").
 */
const bigHold = (model: string, extra: Record<string, unknown> = {}) => ({ model: `openai:${model}`, n: 128, messages: [{ role: 'user', content: 'x' }], ...extra });

for (const kind of STORE_KINDS) {
  describe(`billing: every way a request ends gives its hold back (${kind})`, () => {
    let h: Harness;
    /** Routed to the account's own OpenAI key; `failover`: a key answering 500 first, then that key. */
    let token: string;
    let failover: string;
    before(async () => {
      h = await startHarness(kind, BILLING);
      const good = await h.providerKey('openai', 'sk-good-a');
      const broken = await h.providerKey('openai', 'sk-500');
      const route = async (...keys: string[]) => (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: keys.map((id) => ({ id })) }] }] } }))).token;
      token = await route(good);
      failover = await route(broken, good);
      await grantUntilServed(h, h.accountId, 1, token, small);
    });
    after(async () => { await h.close(); });

    /** The request's events are in the store (metered: its hold settled or released), then a small request is served. */
    async function servesAgainAfter(requestId: string | null, events: number, what: string): Promise<void> {
      assert.ok(requestId, `${what}: the answer names its request`);
      await h.usage(requestId, events);
      const next = await gw(h, '/v1/chat/completions', { token, body: small });
      assert.equal(next.status, 200, `${what}: ${next.text}`);
    }

    test('served after a failover: both attempts metered, the hold settled once', async () => {
      const served = await gw(h, '/v1/chat/completions', { token: failover, body: bigHold('held-failover') });
      assert.equal(served.status, 200, served.text);
      await servesAgainAfter(served.headers.get('ngrok-aig-request-id'), 2, 'after a failover');
    });

    test('every attempt failed (the client got the error)', async () => {
      const failed = await gw(h, '/v1/chat/completions', { token: failover, body: bigHold('fail-500-held') });
      assert.ok(failed.status >= 500, failed.text);
      await servesAgainAfter(failed.headers.get('ngrok-aig-request-id'), 2, 'after every attempt failed');
    });

    test('a stream the provider broke after its head', async () => {
      const broken = await gw(h, '/v1/chat/completions', { token, body: bigHold('cut-held', { stream: true }) });
      assert.equal(broken.status, 200, broken.text);
      await servesAgainAfter(broken.headers.get('ngrok-aig-request-id'), 1, 'after a broken stream');
    });

    test('a client that left mid-stream', async () => {
      const controller = new AbortController();
      const res = await fetch(`${h.gatewayUrl}/v1/chat/completions`, {
        method: 'POST', signal: controller.signal,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(bigHold('drip-200-held', { stream: true })),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.closed.catch(() => {});
      await servesAgainAfter(res.headers.get('ngrok-aig-request-id'), 1, 'after the client left');
    });

    test("one account's holds never refuse another account's requests", async () => {
      const other = await createAccount(h.running.store.db, 'other');
      const otherApi = async (path: string, body: unknown) => {
        const res = await fetch(h.apiUrl + path, { method: 'POST', headers: { authorization: `Bearer ${other.apiKey.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.ok(res.ok, await res.clone().text());
        return (await res.json()) as { id: string; token: string };
      };
      const key = await otherApi('/provider-keys', { providerId: 'openai', value: 'sk-good-b', name: 'own' });
      const configuration = await otherApi('/access-key-configurations', { name: 'own', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key.id }] }] }] } });
      const otherToken = (await otherApi('/access-keys', { name: 'own', accessKeyConfigurationId: configuration.id })).token;
      await grantUntilServed(h, other.account.id, 1, otherToken, small);
      // The first account's ~10.5-cent hold, kept in flight 1.5 s by the provider.
      h.fake.reset();
      const slow = gw(h, '/v1/chat/completions', { token, body: bigHold('slow-1500-held') });
      for (let i = 0; i < 100 && h.fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.fake.requests.length, 1, 'the held request reached the provider');
      const own = await gw(h, '/v1/chat/completions', { token, body: small });
      const others = await gw(h, '/v1/chat/completions', { token: otherToken, body: small });
      assert.equal((await slow).status, 200);
      assert.deepEqual([own.status, own.json().error?.code], [403, 'ERR_NGROK_4026'], 'its own account is held');
      assert.equal(others.status, 200, `the other account is not: ${others.text}`);
    });
  });
}
