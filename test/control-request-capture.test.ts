// Request capture on the control plane, on both stores: the account setting (off until turned on, announced to the
// gateways), and a capture read back by request id — opened from its sealed row, its own account's only, gone once
// expired. What the gateway captures is tested with the gateway (gateway-request-capture.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { recordChanges } from './helpers/crud.ts';
import { insertRequestCaptures, deleteExpiredCaptures } from '../src/store/request-captures.ts';
import { BodyCapture, capturedRequestHeaders, capturedResponseHeaders, sealCapture, type RequestCapture } from '../src/domain/request-capture.ts';
import { SecretBox } from '../src/domain/secret-box.ts';

function capture(accountId: string, requestId: string): RequestCapture {
  const body = new BodyCapture(1024);
  body.push('{"model":"gpt-4o","messages":[{"role":"user","content":"héllo"}]}');
  return {
    accountId, requestId, capturedAt: new Date().toISOString(),
    request: { method: 'POST', path: '/v1/chat/completions', headers: capturedRequestHeaders({ 'content-type': 'application/json', authorization: 'Bearer ng-secret' }), ...body.result() },
    response: { statusCode: 200, complete: true, headers: capturedResponseHeaders({ 'content-type': 'application/json', 'Ngrok-AIG-Model': 'gpt-4o' }), ...new BodyCapture(1024).result() },
  };
}

for (const kind of STORE_KINDS) {
  describe(`request capture, control plane (${kind})`, () => {
    let c: TestControl;
    let box: SecretBox;
    before(async () => {
      c = await startControl(kind);
      box = new SecretBox(c.config.masterKey);
    });
    after(async () => { await c.close(); });

    const store = async (accountId: string, requestId: string, expiresInMs: number) => {
      await insertRequestCaptures(c.store.db, [{ accountId, requestId, capturedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + expiresInMs).toISOString(), sealed: sealCapture(box, capture(accountId, requestId)) }]);
    };

    test('the setting is off until turned on, reads back, and tells the gateways', async () => {
      const before = expectSchema<{ requestCapture?: boolean }>(await c.call('GET', '/gateway-config'), 200, 'AIGatewayConfig');
      assert.equal(before.requestCapture, false);
      const changes = recordChanges(c);
      const on = expectSchema<{ requestCapture: boolean; totalTimeout: string }>(await c.call('PATCH', '/gateway-config', { requestCapture: true }), 200, 'AIGatewayConfig');
      assert.deepEqual([on.requestCapture, on.totalTimeout], [true, '120s']);
      assert.equal(changes.length, 1);
      // Another field's PATCH keeps it.
      assert.equal((await c.call('PATCH', '/gateway-config', { metadata: 'm' })).json().requestCapture, true);
      expectError(await c.call('PATCH', '/gateway-config', { requestCapture: 'yes' }), 400, 'ERR_NGROK_27606');
      assert.equal((await c.call('PATCH', '/gateway-config', { requestCapture: false })).json().requestCapture, false);
    });

    test('a capture reads back opened, without credentials, for its own account only, until it expires', async () => {
      await store(c.accountId, `rq_mine_${kind}`, 3_600_000);
      await store(c.other.accountId, `rq_theirs_${kind}`, 3_600_000);
      await store(c.accountId, `rq_old_${kind}`, -1_000);
      const got = expectSchema<RequestCapture & { uri: string; expiresAt: string }>(await c.call('GET', `/usage/requests/rq_mine_${kind}/capture`), 200, 'AIGatewayRequestCapture');
      assert.match(got.uri, new RegExp(`/usage/requests/rq_mine_${kind}/capture$`));
      assert.deepEqual(got.request.headers, { 'content-type': 'application/json' }, 'the access key is never kept');
      assert.equal(got.request.body, '{"model":"gpt-4o","messages":[{"role":"user","content":"héllo"}]}');
      assert.deepEqual([got.request.bodyEncoding, got.request.bodyBytes, got.request.bodyTruncated], ['utf8', 66, false]);
      assert.equal(got.response.headers['ngrok-aig-model'], 'gpt-4o');
      expectError(await c.call('GET', `/usage/requests/rq_theirs_${kind}/capture`), 404, 'ERR_NGROK_27611');
      assert.equal((await c.call('GET', `/usage/requests/rq_theirs_${kind}/capture`, undefined, c.other.token)).statusCode, 200);
      expectError(await c.call('GET', '/usage/requests/rq_never/capture'), 404, 'ERR_NGROK_27611');
      expectError(await c.call('GET', `/usage/requests/rq_old_${kind}/capture`), 404, 'ERR_NGROK_27611');
      assert.equal(await deleteExpiredCaptures(c.store.db, new Date().toISOString()), 1);
      // The row sealed for one account does not open as another's, even copied there by someone who can write the table.
      const row = await c.store.db.selectFrom('requestCaptures').select('sealed').where('requestId', '=', `rq_theirs_${kind}`).executeTakeFirstOrThrow();
      await insertRequestCaptures(c.store.db, [{ accountId: c.accountId, requestId: `rq_copied_${kind}`, capturedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(), sealed: row.sealed }]);
      expectError(await c.call('GET', `/usage/requests/rq_copied_${kind}/capture`), 404, 'ERR_NGROK_27611');
    });

    test('an odd request id (very long, NUL, not UTF-8, unicode, an encoded slash) is the contract\'s Error, never a 500; the route answers on', async () => {
      for (const id of ['a'.repeat(5000), '%F0%9F%98%80', 'h%C3%A9llo', 'a%2Fb', '%20']) expectError(await c.call('GET', `/usage/requests/${id}/capture`), 404, 'ERR_NGROK_27611');
      // An id longer than the router's parameter limit is an unknown request's not-found, not a route that does not exist.
      for (const id of ['b'.repeat(2049), 'b'.repeat(15_000)]) {
        // The id as every error repeats a client's string: its first 256 characters and how many more there were.
        const shown = `${id.slice(0, 256)}…[${id.length - 256} more]`;
        const { details } = expectError(await c.call('GET', `/usage/requests/${id}/capture`), 404, 'ERR_NGROK_27611');
        assert.deepEqual(details, { resource: 'Request capture', id: shown }, `an id of ${id.length} characters`);
        assert.deepEqual(expectError(await c.call('GET', `/usage/requests/${id}`), 404, 'ERR_NGROK_27611').details, { resource: 'Request', id: shown });
      }
      for (const id of ['%00', 'rq_%00x', '%FF', '%E2%82']) expectError(await c.call('GET', `/usage/requests/${id}/capture`), 400, 'ERR_NGROK_27606');
      // Past the server's header limit on a real connection: 431, in the same shape.
      const base = await c.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${base}/usage/requests/${'a'.repeat(100_000)}/capture`, { headers: { authorization: `Bearer ${c.token}` } });
      assert.equal(res.status, 431);
      assert.equal(((await res.json()) as { errorCode: string }).errorCode, 'ERR_NGROK_27606');
      expectError(await c.call('GET', '/usage/requests/rq_unknown/capture'), 404, 'ERR_NGROK_27611');
    });
  });
}

test('a body capture keeps the first bytes whole, counts the rest, and falls back to base64 for bytes that are not text', () => {
  const text = new BodyCapture(5);
  text.push('ab');
  text.push('cdé-more');
  // "abcd" + the first byte of "é" fit in 5: the cut character is dropped, not shown as U+FFFD.
  assert.deepEqual(text.result(), { body: 'abcd', bodyEncoding: 'utf8', bodyBytes: 11, bodyTruncated: true });
  const binary = new BodyCapture(4);
  binary.push(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]));
  assert.deepEqual(binary.result(), { body: Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64'), bodyEncoding: 'base64', bodyBytes: 5, bodyTruncated: true });
  assert.deepEqual(new BodyCapture(4).result(), { body: '', bodyEncoding: 'utf8', bodyBytes: 0, bodyTruncated: false });
});
