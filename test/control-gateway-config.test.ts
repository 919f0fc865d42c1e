// /gateway-config on SQLite and PostgreSQL: defaults, tri-state PATCH of caps and metadata, duration
// validation, what the gateway loads (loadGatewaySettings), HEAD, and account isolation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS } from './helpers/stores.ts';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { loadGatewaySettings } from '../src/store/gateway-config.ts';

interface GatewayConfig { accountId: string; uri: string; totalTimeout: string; perRequestTimeout: string; maxInputTokens?: number | null; maxOutputTokens?: number | null; metadata?: string | null }

for (const kind of STORE_KINDS) {
  describe(`gateway config (${kind})`, () => {
    let control: TestControl;
    before(async () => { control = await startControl(kind); });
    after(async () => { await control.close(); });

    const get = async (token?: string) => expectSchema<GatewayConfig>(await control.call('GET', '/gateway-config', undefined, token), 200, 'AIGatewayConfig');
    const patch = async (body: unknown, token?: string) => expectSchema<GatewayConfig>(await control.call('PATCH', '/gateway-config', body, token), 200, 'AIGatewayConfig');

    test('a never-written account reads the defaults: 120s, 60s, no caps, no metadata', async () => {
      const cfg = await get(control.other.token);
      assert.equal(cfg.accountId, control.other.accountId);
      assert.match(cfg.uri, /\/gateway-config$/);
      assert.deepEqual([cfg.totalTimeout, cfg.perRequestTimeout, cfg.maxInputTokens, cfg.maxOutputTokens, cfg.metadata], ['120s', '60s', null, null, null]);
      assert.deepEqual(await loadGatewaySettings(control.store.db, control.other.accountId), { totalTimeoutMs: 120_000, totalTimeoutSet: false, perRequestTimeoutMs: 60_000, maxInputTokens: null, maxOutputTokens: null, firewallPolicyId: null });
    });

    test('PATCH is tri-state for caps and metadata; durations are stored as given', async () => {
      let cfg = await patch({ totalTimeout: '2m30s', perRequestTimeout: '45s', maxInputTokens: 1000, metadata: 'm' });
      assert.deepEqual([cfg.totalTimeout, cfg.perRequestTimeout, cfg.maxInputTokens, cfg.maxOutputTokens, cfg.metadata], ['2m30s', '45s', 1000, null, 'm']);
      cfg = await patch({ maxOutputTokens: 500 });
      assert.deepEqual([cfg.maxInputTokens, cfg.maxOutputTokens, cfg.metadata, cfg.totalTimeout], [1000, 500, 'm', '2m30s']);
      cfg = await patch({ maxInputTokens: null, metadata: null });
      assert.deepEqual([cfg.maxInputTokens, cfg.maxOutputTokens, cfg.metadata], [null, 500, null]);
      assert.deepEqual(await get(), cfg);
      assert.deepEqual(await loadGatewaySettings(control.store.db, control.accountId), { totalTimeoutMs: 150_000, totalTimeoutSet: true, perRequestTimeoutMs: 45_000, maxInputTokens: null, maxOutputTokens: 500, firewallPolicyId: null });
      const row = await control.store.db.selectFrom('gatewayConfigs').selectAll().where('accountId', '=', control.accountId).executeTakeFirstOrThrow();
      assert.equal(Number(row.maxInputTokensSet), 1, 'an explicit null is remembered as written');
      cfg = await patch({});
      assert.equal(cfg.maxOutputTokens, 500);
      // Any form Go's time.ParseDuration reads; a positive sub-millisecond value is enforced as 1 ms, never 0.
      cfg = await patch({ totalTimeout: '+1m30.5s', perRequestTimeout: '.5s' });
      assert.deepEqual([cfg.totalTimeout, cfg.perRequestTimeout], ['+1m30.5s', '.5s']);
      await patch({ perRequestTimeout: '300\u00b5s' });
      assert.deepEqual(await loadGatewaySettings(control.store.db, control.accountId), { totalTimeoutMs: 90_500, totalTimeoutSet: true, perRequestTimeoutMs: 1, maxInputTokens: null, maxOutputTokens: 500, firewallPolicyId: null });
      await patch({ totalTimeout: '2m30s', perRequestTimeout: '45s' });
    });

    test('invalid durations, a per-request timeout above the total, and caps below 1 are 400 27606 and change nothing', async () => {
      const beforeCfg = await get();
      for (const body of [
        { totalTimeout: 'soon' }, { totalTimeout: '0s' }, { perRequestTimeout: '-5s' }, { totalTimeout: '10' }, { perRequestTimeout: '' },
        { perRequestTimeout: '10m' }, { totalTimeout: '10s' }, { maxInputTokens: 0 }, { maxOutputTokens: -3 }, { maxInputTokens: 1.5 },
        { totalTimeout: null }, { unknown: 1 }, { totalTimeout: '3000000h' }, { perRequestTimeout: '.s' },
      ]) {
        expectError(await control.call('PATCH', '/gateway-config', body), 400, 'ERR_NGROK_27606');
      }
      expectError(await control.call('PATCH', '/gateway-config', { metadata: 'x'.repeat(4097) }), 400, 'ERR_NGROK_27604');
      // An int64 past what JSON numbers hold exactly: the range is named, not a "format".
      assert.match(expectError(await control.call('PATCH', '/gateway-config', { maxInputTokens: 2 ** 53 }), 400, 'ERR_NGROK_27606').msg, /"maxInputTokens" must be an integer from -9007199254740991 to 9007199254740991/);
      assert.deepEqual(await get(), beforeCfg);
    });

    test('a timeout longer than a timer can wait is enforced as the longest one, not as 1 ms', async () => {
      // 1000 h is a valid Go duration (accepted, stored as sent), but node fires any timer above 2^31 - 1 ms at
      // once: the gateway timed every request out after 1 ms with 504 ERR_NGROK_3810.
      const cfg = await patch({ totalTimeout: '1000h', perRequestTimeout: '900h' });
      assert.deepEqual([cfg.totalTimeout, cfg.perRequestTimeout], ['1000h', '900h']);
      const enforced = await loadGatewaySettings(control.store.db, control.accountId);
      assert.deepEqual([enforced.totalTimeoutMs, enforced.perRequestTimeoutMs], [2_147_483_647, 2_147_483_647]);
      await patch({ totalTimeout: '2m30s', perRequestTimeout: '45s' });
    });

    test('HEAD answers 200 without a body', async () => {
      const res = await control.call('HEAD', '/gateway-config');
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, '');
    });

    test("one account's settings do not leak into another's", async () => {
      await patch({ maxInputTokens: 7, metadata: 'first' });
      const other = await get(control.other.token);
      assert.deepEqual([other.maxInputTokens, other.metadata, other.accountId], [null, null, control.other.accountId]);
      await patch({ maxInputTokens: 9 }, control.other.token);
      assert.equal((await get()).maxInputTokens, 7);
    });

    test('a PATCH announces a gatewayConfig change for the account', async () => {
      const seen: string[] = [];
      const stop = control.changes.subscribe((c) => { if (c.kind === 'gatewayConfig') seen.push(c.accountId); });
      await patch({ perRequestTimeout: '30s' });
      stop();
      assert.deepEqual(seen, [control.accountId]);
    });
  });
}
