import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newAccessKeyToken, newId, redactSecret, sha256Hex } from './ids.ts';
import { SecretBox, openProviderKey, parseMasterKey, providerKeyBinding } from './secret-box.ts';
import { randomBytes } from 'node:crypto';
import { accountAndIdSeal, legacySeal } from '../../test/helpers/legacy-seal.ts';

test('ids carry their prefix and sort by creation, even within one millisecond', () => {
  const ids = Array.from({ length: 500 }, () => newId('accessKey'));
  assert.ok(ids.every((id) => /^aigk_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

test('access key tokens have the contract shape and are redacted for display', () => {
  const token = newAccessKeyToken();
  assert.match(token, /^ng-[0-9A-Za-z]{5}-g1-[0-9A-Za-z]{40}$/);
  const shown = redactSecret(token);
  assert.ok(shown.startsWith(token.slice(0, 10)) && shown.endsWith(token.slice(-4)));
  assert.ok(!shown.includes(token.slice(10, -4)));
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('a short secret shows at most a quarter of itself, a real provider key first10***last4', () => {
  assert.equal(redactSecret('sk-proj-abcdefghijklmnopqrstuvwxyz0123456789'), 'sk-proj-ab***6789');
  assert.equal(redactSecret('Zq8vN3kLp2Xw7Rt5M'), 'Zq8v***5M');
  assert.equal(redactSecret('sk-12345'), '***', 'eight characters or fewer show nothing');
  assert.equal(redactSecret('sk-123456'), 'sk***6');
  for (let length = 0; length <= 64; length++) {
    const secret = 'x'.repeat(length);
    const shown = redactSecret(secret).replace('***', '').length;
    assert.ok(shown <= Math.floor(length / 4) + Math.floor(length / 8) && shown <= 14, `${length}: ${shown} shown`);
    assert.ok(length - shown >= Math.ceil(length * 0.6), `${length}: only ${length - shown} hidden`);
  }
});

test('sealed secrets round-trip, differ each time, and fail under another key', () => {
  const box = new SecretBox(randomBytes(32));
  const row = providerKeyBinding({ accountId: 'acct_a', providerId: 'openai', id: 'aigpk_1' });
  const a = box.seal('sk-live-123', row);
  assert.notEqual(a, box.seal('sk-live-123', row));
  assert.ok(!a.includes('sk-live'));
  assert.equal(box.open(a, row), 'sk-live-123');
  assert.throws(() => new SecretBox(randomBytes(32)).open(a, row));
});

test('a sealed value opens only for the row (account, provider, key) it was sealed for; values sealed before the binding (v1) still open', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const sealed = box.seal('sk-victim', providerKeyBinding({ accountId: 'acct_victim', providerId: 'openai', id: 'aigpk_1' }));
  assert.throws(() => box.open(sealed, providerKeyBinding({ accountId: 'acct_attacker', providerId: 'openai', id: 'aigpk_1' })), 'copied into another account');
  assert.throws(() => box.open(sealed, providerKeyBinding({ accountId: 'acct_victim', providerId: 'their-proxy', id: 'aigpk_1' })), 'its row pointed at another provider');
  assert.throws(() => box.open(sealed, providerKeyBinding({ accountId: 'acct_victim', providerId: 'openai', id: 'aigpk_2' })), 'copied into another key of the account');
  const legacy = legacySeal(key, 'sk-legacy');
  assert.equal(box.open(legacy, providerKeyBinding({ accountId: 'acct_any', providerId: 'openai', id: 'aigpk_any' })), 'sk-legacy');
  assert.throws(() => box.open(`v9:${legacy.slice(3)}`, 'x'), /unknown sealed secret version/);
});

test('a provider key sealed before its provider was bound (v2 of 2026-12-03 07:23–08:03) still opens for its row after an upgrade, and for no other', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const row = { accountId: 'acct_victim', providerId: 'openai', id: 'aigpk_1' };
  assert.equal(openProviderKey(box, accountAndIdSeal(key, 'sk-early', row), row), 'sk-early');
  assert.equal(openProviderKey(box, box.seal('sk-now', providerKeyBinding(row)), row), 'sk-now');
  assert.equal(openProviderKey(box, legacySeal(key, 'sk-v1'), row), 'sk-v1');
  const early = accountAndIdSeal(key, 'sk-early', row);
  assert.throws(() => openProviderKey(box, early, { ...row, accountId: 'acct_attacker' }), 'copied into another account');
  assert.throws(() => openProviderKey(box, early, { ...row, id: 'aigpk_2' }), 'copied into another key of the account');
  assert.throws(() => openProviderKey(new SecretBox(randomBytes(32)), early, row), 'another master key');
  // A row whose id spells the provider and id of another row: the early binding must not open that row's value.
  const victim = box.seal('sk-victim', providerKeyBinding(row));
  assert.throws(() => openProviderKey(box, victim, { accountId: 'acct_victim', providerId: 'their-proxy', id: 'openai aigpk_1' }));
  assert.throws(() => openProviderKey(box, victim, { accountId: 'acct_victim openai', providerId: 'their-proxy', id: 'aigpk_1' }));
});

test('the master key must be 32 bytes as hex or base64', () => {
  assert.equal(parseMasterKey('ab'.repeat(32)).length, 32);
  assert.equal(parseMasterKey(randomBytes(32).toString('base64')).length, 32);
  for (const bad of ['short', 'ab'.repeat(31), randomBytes(16).toString('base64'), 'zz'.repeat(32)]) assert.throws(() => parseMasterKey(bad), bad);
});
