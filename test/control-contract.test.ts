// Contract-wide behaviour of the control plane, checked for every operation in the contract on both stores:
// authentication, error shape, malformed bodies, unknown routes and methods, and the served contract.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { operations } from '../src/control/contract.ts';
import { contractDocument, schemaValidator } from '../src/control/contract.ts';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { STORE_KINDS } from './helpers/stores.ts';
import { expectError, startControl, type TestControl } from './helpers/control.ts';

const concrete = (path: string) => path.replace(/\{id\}/g, 'aigk_00000000000000000000000000');

for (const kind of STORE_KINDS) {
  describe(`control-plane contract (${kind})`, () => {
    let control: TestControl;
    before(async () => { control = await startControl(kind); });
    after(async () => { await control.close(); });

    test('every operation refuses a missing or unknown API key with 401 in the contract error shape', async () => {
      for (const op of operations) {
        for (const headers of [{}, { authorization: 'Bearer tgapi_not-a-real-key' }, { authorization: 'Basic abc' }]) {
          const res = await control.app.inject({ method: op.method, url: concrete(op.path), headers });
          assert.equal(res.statusCode, 401, `${op.method} ${op.path} answered ${res.statusCode}`);
          if (op.method !== 'HEAD') expectError(res, 401, 'ERR_NGROK_27007');
        }
      }
    });

    test('authentication comes before the body is parsed: an anonymous malformed or oversized body is 401', async () => {
      for (const payload of ['{"name": ', 'x'.repeat(2 * 1024 * 1024)]) {
        const res = await control.app.inject({ method: 'POST', url: '/providers', headers: { 'content-type': 'application/json' }, payload });
        expectError(res, 401, 'ERR_NGROK_27007');
      }
    });

    test('an access key is not a control-plane credential', async () => {
      const created = (await control.call('POST', '/access-keys', { name: 'app' })).json() as { token: string };
      const refused = expectError(await control.call('GET', '/access-keys', undefined, created.token), 401, 'ERR_NGROK_27007');
      assert.match(refused.details.reason ?? '', /That is a gateway access key \(ng-…\); the control plane takes a control-plane API key/);
    });

    test('every operation with a body rejects malformed JSON and non-object bodies with 400', async () => {
      for (const op of operations.filter((o) => o.requestSchema)) {
        for (const payload of ['{"name": ', '[1,2]', '"text"', '42']) {
          const res = await control.call(op.method, concrete(op.path), payload);
          assert.ok(res.statusCode === 400 || res.statusCode === 404, `${op.operationId} with ${payload}: ${res.statusCode} ${res.body}`);
          assert.notEqual(res.statusCode, 500);
          const body = res.json() as { statusCode: number; msg: string };
          assert.equal(body.statusCode, res.statusCode);
          assert.ok(body.msg.length > 0);
        }
      }
    });

    test('a NUL character (U+0000) in any text value, key or URL is a 400 on both stores, and nothing is stored', async () => {
      for (const op of operations.filter((o) => o.requestSchema && o.method === 'POST' && !o.path.includes('{'))) {
        const res = await control.call(op.method, op.path, '{"name":"a\\u0000b","metadata":"m"}');
        expectError(res, 400, 'ERR_NGROK_27606');
        assert.match(res.body, /NUL/, `${op.operationId}: ${res.body}`);
      }
      expectError(await control.call('PATCH', '/gateway-config', { metadata: 'x\u0000' }), 400, 'ERR_NGROK_27606');
      expectError(await control.call('POST', '/api-keys', { name: 'n', ['k\u0000']: 1 }), 400, 'ERR_NGROK_27606');
      for (const url of ['/access-keys/a%00b', '/provider-keys?provider=a%00b', '/access-keys?beforeId=a%00B', '/usage?startTime=2020-01-01T00:00:00Z&accessKeyId=a%00b']) {
        expectError(await control.call('GET', url), 400, 'ERR_NGROK_27606');
      }
      const keys = (await control.call('GET', '/api-keys')).json() as { aiGatewayApiKeys: { name: string }[] };
      assert.ok(keys.aiGatewayApiKeys.every((k) => !k.name.includes('\u0000')));
    });

    test('a body that is not valid UTF-8, or escapes a lone surrogate, is a 400 and nothing is stored; a leading byte-order mark is accepted', async () => {
      const send = (payload: Buffer) => control.app.inject({ method: 'POST', url: '/api-keys', headers: { authorization: `Bearer ${control.token}`, 'content-type': 'application/json' }, payload });
      for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80])]) {
        const res = await send(Buffer.concat([Buffer.from('{"name":"bad'), bad, Buffer.from('"}')]));
        expectError(res, 400, 'ERR_NGROK_27606');
        assert.match(res.body, /UTF-8/);
      }
      const keys = (await control.call('GET', '/api-keys')).json() as { aiGatewayApiKeys: { name: string }[] };
      assert.ok(keys.aiGatewayApiKeys.every((k) => !k.name.startsWith('bad')));
      // The same text escaped in JSON: a lone surrogate (stored, it became U+FFFD while the answer echoed it as sent).
      for (const escaped of ['{"name":"bad\\ud800"}', '{"name":"bad\\udc00x"}', '{"name":"ok","description":"bad\\ud83d"}', '{"name":"n","metadata":"{\\"bad\\udfff\\":1}"}']) {
        const res = await send(Buffer.from(escaped));
        expectError(res, 400, 'ERR_NGROK_27606');
        assert.match(res.body, /surrogate/, escaped);
      }
      // A pair escaped (an emoji) is text.
      const pair = await send(Buffer.from('{"name":"pair-\\ud83d\\ude00"}'));
      assert.equal(pair.statusCode, 201, pair.body);
      assert.equal((pair.json() as { name: string }).name, 'pair-\u{1F600}');
      const bom = await send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"bom-é"}')]));
      assert.equal(bom.statusCode, 201, bom.body);
      assert.equal((bom.json() as { name: string }).name, 'bom-é');
    });

    test('the answers\' uris come from a valid Host only: a Host that would point nextPageUri elsewhere is a 400', async () => {
      await control.call('POST', '/access-keys', { name: 'one' });
      await control.call('POST', '/access-keys', { name: 'two' });
      const get = (host: string) => control.app.inject({ method: 'GET', url: '/access-keys?limit=1', headers: { authorization: `Bearer ${control.token}`, host } });
      for (const host of ['attacker.example:443/x#', 'a b', 'evil.example@tollgate', 'x:99999999']) expectError(await get(host), 400, 'ERR_NGROK_27606');
      for (const [host, base] of [['gateway.internal:8081', 'http://gateway.internal:8081'], ['[::1]:8081', 'http://[::1]:8081'], ['10.0.0.7', 'http://10.0.0.7'], ['localhost:', 'http://localhost:']]) {
        const res = await get(host!);
        assert.equal(res.statusCode, 200, host);
        assert.ok((res.json() as { nextPageUri: string }).nextPageUri.startsWith(`${base}/access-keys?`), host);
      }
    });

    test('unknown paths are 404 and unsupported methods on known paths are 405', async () => {
      assert.equal(expectError(await control.call('GET', '/no-such-thing'), 404, 'ERR_NGROK_27611').details.reason, undefined);
      // A model call sent to the control plane's port: the gateway's port is named.
      const modelCall = expectError(await control.call('POST', '/v1/chat/completions', { model: 'gpt-4o' }), 404, 'ERR_NGROK_27611');
      assert.match(modelCall.details.reason ?? '', /model requests \(\/v1\/…\) go to the gateway, on its own port \(TOLLGATE_GATEWAY_PORT/);
      const put = await control.call('PUT', '/access-keys');
      expectError(put, 405, 'ERR_NGROK_27614');
      assert.equal(put.headers.allow, 'GET, HEAD, POST');
      expectError(await control.call('DELETE', '/gateway-config'), 405, 'ERR_NGROK_27614');
      assert.equal((await control.call('HEAD', '/credits/balance')).statusCode, 405);
    });

    test('the contract is served at /openapi.json and /healthz answers', async () => {
      const spec = await control.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(spec.statusCode, 200);
      assert.deepEqual(spec.json(), JSON.parse(JSON.stringify(contractDocument)));
      assert.equal((await control.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    });

    test('the contract has the 47 operations of the spec plus the request-attempts lookup ngrok published since, every one routed', () => {
      assert.equal(operations.length, 48);
      assert.ok(operations.some((op) => op.operationId === 'GetAIGatewayRequestAttempts'));
      for (const op of operations) {
        assert.ok(control.app.hasRoute({ method: op.method, url: op.path.replace(/\{(\w+)\}/g, ':$1') }), `${op.method} ${op.path} is not routed`);
      }
    });
  });
}

describe('control plane shutting down (sqlite)', () => {
  test('a request that arrives while the app closes gets 503 in the contract error shape, not Fastify\'s own body', async () => {
    const control = await startControl('sqlite');
    try {
      await control.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = control.app.server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => {});
      const ended = once(socket, 'close');
      // The first request is in flight (its body not all sent) when close() starts; the second, pipelined on the same
      // connection, arrives while the app is closing.
      socket.write(`POST /api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${control.token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{`);
      await new Promise((r) => setTimeout(r, 100));
      const closing = control.app.close();
      await new Promise((r) => setTimeout(r, 50));
      socket.write(`}GET /api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${control.token}\r\n\r\n`);
      await ended;
      await closing;
      const text = Buffer.concat(chunks).toString('utf8');
      const answers = text.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, 2, text);
      assert.match(answers[0]!, /^HTTP\/1\.1 201 /);
      assert.match(answers[1]!, /^HTTP\/1\.1 503 /);
      const body = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4)) as unknown;
      const validate = schemaValidator('Error');
      assert.ok(validate(body), `not the contract's Error shape: ${JSON.stringify(body)}`);
    } finally {
      await control.store.close();
      await control.database.drop();
    }
  });
});
