import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SESSIONS_PER_ACCOUNT, SESSION_TTL_MS, SessionStore } from './console-sessions.ts';

test("one account's sign-ins end only its own oldest sessions, never another account's", () => {
  const store = new SessionStore();
  const victim = store.create('key-a', 'acct-a');
  for (let i = 0; i < 10_000; i++) store.create('key-b', 'acct-b');
  assert.equal(store.get(victim.id)?.accountId, 'acct-a', "account A's session survives B's 10,000 sign-ins");
  assert.equal(store.size, 1 + MAX_SESSIONS_PER_ACCOUNT);
  // B's own oldest went first: its newest sessions still work.
  const newest = store.create('key-b', 'acct-b');
  assert.equal(store.get(newest.id)?.accountId, 'acct-b');
});

test('sessions expire, and a deleted one is gone', () => {
  let clock = 0;
  const store = new SessionStore(() => clock);
  const a = store.create('key', 'acct');
  const b = store.create('key', 'acct');
  assert.ok(store.get(a.id));
  store.delete(a.id);
  assert.equal(store.get(a.id), undefined);
  clock = SESSION_TTL_MS;
  assert.equal(store.get(b.id), undefined);
  assert.notEqual(a.session.csrfToken, b.session.csrfToken);
});
