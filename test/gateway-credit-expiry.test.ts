// Billing on: a grant that lapses while the gateway runs stops admitting requests at its expiry, not at the next
// snapshot reload (the minute's resync).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { grantCredits } from '../src/store/credits.ts';
import { ChangeBus } from '../src/state/changes.ts';

const BILLING = { TOLLGATE_BILLING: 'on', TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' };
const chat = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hello' }] });

describe('billing: a grant expiring while the gateway runs (sqlite)', () => {
  let h: Harness;
  before(async () => { h = await startHarness('sqlite', BILLING); });
  after(async () => { await h.close(); });

  test('the first request after the only grant expired is refused 403 4026', async () => {
    const { token } = await h.accessKey();
    // Far enough ahead for the steps before it on a loaded CI machine (they take ~3 s).
    const expiresAt = new Date(Date.now() + 8000).toISOString();
    await grantCredits(h.running.store.db, h.accountId, 500, { category: 'purchase', expiresAt });
    await new ChangeBus(h.running.store.db).publish({ accountId: h.accountId, kind: 'credits', resourceId: h.accountId });
    let ok = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    for (let i = 0; i < 10 && ok.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ok = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    }
    assert.equal(ok.status, 200, ok.text);
    // Once the grant's change is applied (a new snapshot: the same process's write is seen by the 2 s poll) and a
    // request has read its figure, nothing moves the account's snapshot before the expiry.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') })).status, 200);
    assert.ok(Date.now() < Date.parse(expiresAt), 'the figure was read before the expiry');
    await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 50));
    const late = await gw(h, '/v1/chat/completions', { token, body: chat('gpt-4o') });
    assert.equal(late.status, 403, `served ${Date.now() - Date.parse(expiresAt)} ms after the grant expired`);
    assert.equal(late.json().error.code, 'ERR_NGROK_4026');
  });
});
