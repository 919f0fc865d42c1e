// The console's session cookie: `__Host-` prefixed and Secure when the control plane is served over HTTPS (a
// sibling subdomain cannot plant a session of its choosing), plain and not Secure on local HTTP.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControl, type TestControl } from './helpers/control.ts';

async function signIn(c: TestControl): Promise<string> {
  const res = await c.app.inject({ method: 'POST', url: '/console/session', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiKey: c.token }) });
  assert.equal(res.statusCode, 200, res.body);
  return String(res.headers['set-cookie']);
}

const session = (c: TestControl, cookie: string) => c.app.inject({ method: 'GET', url: '/console/session', headers: { cookie } });

describe('console session cookie', () => {
  const controls: TestControl[] = [];
  after(async () => { for (const c of controls) await c.close(); });

  test('behind HTTPS: __Host- prefixed, Secure, Path=/, no Domain; the unprefixed name is not accepted', async () => {
    const c = await startControl('sqlite', { TOLLGATE_PUBLIC_API_URL: 'https://api.tollgate.example.com' });
    controls.push(c);
    const setCookie = await signIn(c);
    assert.match(setCookie, /^__Host-tollgate_session=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const id = setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
    assert.equal((await session(c, `__Host-tollgate_session=${id}`)).statusCode, 200);
    assert.equal((await session(c, `tollgate_session=${id}`)).statusCode, 401, 'a cookie any subdomain could set');
  });

  test('on plain HTTP (local use): the plain name, not Secure', async () => {
    const c = await startControl('sqlite');
    controls.push(c);
    const setCookie = await signIn(c);
    assert.match(setCookie, /^tollgate_session=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const id = setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
    assert.equal((await session(c, `tollgate_session=${id}`)).statusCode, 200);
  });

  test('a blank API key is refused naming the member, and sets no cookie', async () => {
    const c = await startControl('sqlite');
    controls.push(c);
    const res = await c.app.inject({ method: 'POST', url: '/console/session', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiKey: '  ' }) });
    assert.equal(res.statusCode, 400, res.body);
    assert.deepEqual([res.json().msg, res.json().details.field], ['Enter an API key to sign in.', 'apiKey']);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('the session says whether buying credits can work here (Stripe set up), so the page offers it only then', async () => {
    for (const [env, configured] of [[{}, false], [{ TOLLGATE_STRIPE_SECRET_KEY: 'sk_test_x' }, true]] as const) {
      const c = await startControl('sqlite', env);
      controls.push(c);
      const cookie = await signIn(c);
      const res = await session(c, cookie.slice(0, cookie.indexOf(';')));
      assert.equal((res.json() as { paymentsConfigured: boolean }).paymentsConfigured, configured);
    }
  });
});
