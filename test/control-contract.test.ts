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
import { startFakeStripe, type FakeStripe } from './helpers/fake-stripe.ts';
import { storeCapture, usageEvent } from './helpers/usage.ts';
import { insertUsageEvents } from '../src/store/usage-events.ts';
import { grantCredits } from '../src/store/credits.ts';
import type { LightMyRequestResponse } from 'fastify';
import { gzipSync } from 'node:zlib';
import { SecretBox } from '../src/domain/secret-box.ts';

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
          // RFC 9110: a 401 names the scheme that would be accepted.
          assert.equal(res.headers['www-authenticate'], 'Bearer realm="control-plane"', `${op.method} ${op.path}`);
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

    test('a compressed body is 415 with the codings accepted (none), not a 400 for JSON it never was; uncompressed it is taken', async () => {
      const headers = { authorization: `Bearer ${control.token}`, 'content-type': 'application/json' };
      for (const coding of ['gzip', 'br']) {
        const res = await control.app.inject({ method: 'POST', url: '/access-keys', headers: { ...headers, 'content-encoding': coding }, payload: gzipSync('{"name":"zipped"}') });
        const error = expectError(res, 415, 'ERR_NGROK_27606');
        assert.match(error.details.reason ?? '', new RegExp(`Content-Encoding "${coding}" is not accepted`));
        assert.equal(res.headers['accept-encoding'], 'identity');
      }
      const plain = await control.app.inject({ method: 'POST', url: '/access-keys', headers: { ...headers, 'content-encoding': 'identity' }, payload: '{"name":"plain"}' });
      assert.equal(plain.statusCode, 201, plain.body);
      const names = ((await control.call('GET', '/access-keys')).json() as { aiGatewayAccessKeys: { name?: string }[] }).aiGatewayAccessKeys.map((k) => k.name);
      assert.ok(names.includes('plain') && !names.includes('zipped'), names.join(', '));
    });

    test('a body over the 1 MiB limit is 413 with ngrok\'s REQUEST_BODY_TOO_LONG and its message, as on the gateway', async () => {
      const res = await control.app.inject({ method: 'POST', url: '/access-keys', headers: { authorization: `Bearer ${control.token}`, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'big', metadata: 'x'.repeat(1024 * 1024) }) });
      assert.equal(expectError(res, 413, 'ERR_NGROK_AI_GATEWAY_REQUEST_BODY_TOO_LONG').msg, 'Request body is too long. Max 1 MiB.');
    });

    test('a DELETE\'s body is ignored: a malformed one does not refuse the delete', async () => {
      const { id } = (await control.call('POST', '/access-keys', { name: 'doomed' })).json() as { id: string };
      const res = await control.call('DELETE', `/access-keys/${id}`, '{"name": ');
      assert.equal(res.statusCode, 204, res.body);
      expectError(await control.call('GET', `/access-keys/${id}`), 404, 'ERR_NGROK_27611');
    });

    test('PATCH {} changes nothing: updatedAt and lastUpdatedBy stay; a PATCH naming a field still stamps them', async () => {
      type Audited = { id: string; updatedAt: string; lastUpdatedBy: { id: string } };
      const otherKey = (await control.call('POST', '/api-keys', { name: 'second' })).json() as { token: string };
      for (const [collection, body] of [['/access-keys', { name: 'a' }], ['/access-key-configurations', { name: 'c' }], ['/api-keys', { name: 'k' }], ['/virtual-models', { name: 'v', targets: ['gpt-4o'] }], ['/firewall-policies', { name: 'f' }], ['/mcp-servers', { label: 'm', upstreamUrl: 'https://mcp.example.com/mcp' }]] as const) {
        const created = (await control.call('POST', collection, body)).json() as Audited;
        await new Promise((r) => setTimeout(r, 5));
        const empty = await control.call('PATCH', `${collection}/${created.id}`, {}, otherKey.token);
        assert.equal(empty.statusCode, 200, empty.body);
        const after = empty.json() as Audited;
        assert.deepEqual([after.updatedAt, after.lastUpdatedBy.id], [created.updatedAt, created.lastUpdatedBy.id], collection);
        assert.deepEqual(after, (await control.call('GET', `${collection}/${created.id}`)).json(), collection);
        const named = (await control.call('PATCH', `${collection}/${created.id}`, { description: 'd' }, otherKey.token)).json() as Audited;
        assert.ok(named.updatedAt > created.updatedAt, `${collection}: ${named.updatedAt}`);
        assert.notEqual(named.lastUpdatedBy.id, created.lastUpdatedBy.id, collection);
      }
      // Of another account, or unknown: 404 as any PATCH.
      expectError(await control.call('PATCH', '/access-keys/aigk_00000000000000000000000000', {}), 404, 'ERR_NGROK_27611');
    });

    test('a required name sent blank (empty, or spaces alone) is refused as missing, with each family\'s code, and nothing is stored', async () => {
      const key = (await control.call('POST', '/provider-keys', { providerId: 'openai', name: 'kept', value: 'sk-kept-0123456789abcdef' })).json() as { id: string };
      const named = async (collection: string, body: Record<string, unknown>) => ((await control.call('POST', collection, body)).json() as { id: string }).id;
      const configuration = await named('/access-key-configurations', { name: 'c' });
      const provider = await named('/providers', { providerId: 'blank-check', name: 'p', baseUrl: 'https://llm.example.com/v1' });
      const policy = await named('/firewall-policies', { name: 'f' });
      const count = async () => Promise.all((['accessKeyConfigurations', 'providerKeys', 'providers', 'firewallPolicies'] as const)
        .map(async (table) => (await control.store.db.selectFrom(table).select('id').where('accountId', '=', control.accountId).execute()).length));
      const before = await count();
      for (const blank of ['', '   ', '\t\n']) {
        const cases: [string, string, Record<string, unknown>, string][] = [
          ['POST', '/access-key-configurations', { name: blank }, 'ERR_NGROK_27602'],
          ['PATCH', `/access-key-configurations/${configuration}`, { name: blank }, 'ERR_NGROK_27602'],
          ['POST', '/provider-keys', { providerId: 'openai', name: blank, value: 'sk-new-0123456789abcdef' }, 'ERR_NGROK_27510'],
          ['PATCH', `/provider-keys/${key.id}`, { name: blank }, 'ERR_NGROK_27510'],
          ['POST', `/provider-keys/${key.id}/rotate`, { name: blank, value: 'sk-rotated-0123456789abcdef' }, 'ERR_NGROK_27510'],
          // The empty string is these two schemas' own minLength (27701, 27606); spaces alone are missing.
          ...(blank === '' ? [] : [
            ['POST', '/providers', { providerId: 'blank-new', name: blank, baseUrl: 'https://llm.example.com/v1' }, 'ERR_NGROK_27704'],
            ['PATCH', `/providers/${provider}`, { name: blank }, 'ERR_NGROK_27704'],
            ['POST', '/firewall-policies', { name: blank }, 'ERR_NGROK_27602'],
            ['PATCH', `/firewall-policies/${policy}`, { name: blank }, 'ERR_NGROK_27602'],
          ] as [string, string, Record<string, unknown>, string][]),
        ];
        for (const [method, path, body, code] of cases) {
          const refused = expectError(await control.call(method, path, body), 400, code);
          assert.equal(refused.details.field, 'name', `${method} ${path} ${JSON.stringify(blank)}`);
        }
        // A routing rule's inline key becomes a stored provider key, shown and picked by the same name.
        const inline = expectError(await control.call('POST', '/access-key-configurations', { name: 'inline', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ name: blank, value: 'sk-inline-0123456789abcdef' }] }] }] } }), 400, 'ERR_NGROK_27605');
        assert.match(inline.msg, /rules\[0\]\.steps\[0\]\.keys\[0\]: an inline key's "name" must not be blank\./);
      }
      assert.deepEqual(await count(), before, 'nothing created');
      const names = await Promise.all([`/access-key-configurations/${configuration}`, `/provider-keys/${key.id}`, `/providers/${provider}`, `/firewall-policies/${policy}`]
        .map(async (path) => ((await control.call('GET', path)).json() as { name: string }).name));
      assert.deepEqual(names, ['c', 'kept', 'p', 'f'], 'nothing renamed');
      // A name with text in it is kept as written, spaces included.
      assert.equal(((await control.call('PATCH', `/access-key-configurations/${configuration}`, { name: ' padded ' })).json() as { name: string }).name, ' padded ');
    });

    test('a refusal says what the value must be: a query enum lists its values, a nullable field says "or null"', async () => {
      const groupBy = expectError(await control.call('GET', '/usage/overview?startTime=2025-01-01T00:00:00Z&groupBy=model'), 400, 'ERR_NGROK_27606');
      assert.deepEqual([groupBy.msg, groupBy.details.field], ['The query parameter "groupBy" must be one of: provider, accessKey.', 'groupBy']);
      const cap = expectError(await control.call('PATCH', '/gateway-config', { maxInputTokens: '128000' }), 400, 'ERR_NGROK_27606');
      assert.deepEqual([cap.msg, cap.details.field], ['"maxInputTokens" must be of type integer or null.', 'maxInputTokens']);
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

    test('a date-time query value whose "+" offset arrived as a space is a 400 that says so; %2B and Z are read', async () => {
      for (const path of ['/usage', '/usage/overview']) {
        // As `curl "…?startTime=$(date -Iseconds)"` sends it: the query string turns the unencoded + into a space.
        const mangled = expectError(await control.call('GET', `${path}?startTime=2025-01-01T10:00:00+02:00`), 400, 'ERR_NGROK_27606');
        assert.equal(mangled.details.field, 'startTime');
        assert.match(mangled.msg, /got "2025-01-01T10:00:00 02:00"\. A "\+" in a query string reads as a space: write a "\+02:00" offset as "%2B02:00"/);
        const late = expectError(await control.call('GET', `${path}?startTime=2025-01-01T00:00:00Z&endTime=2025-01-02T10:00:00+02:00`), 400, 'ERR_NGROK_27606');
        assert.equal(late.details.field, 'endTime');
        assert.match(late.msg, /%2B02:00/);
        // Not a date at all: named as such, without the hint about "+".
        const wrong = expectError(await control.call('GET', `${path}?startTime=yesterday`), 400, 'ERR_NGROK_27606');
        assert.equal(wrong.msg, 'The query parameter "startTime" must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z; got "yesterday".');
        for (const ok of ['2025-01-01T10:00:00%2B02:00', '2025-01-01T08:00:00Z']) assert.equal((await control.call('GET', `${path}?startTime=${ok}`)).statusCode, 200, ok);
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

    test('every answer is kept by no cache, errors too (a 404 or a 400 names the account\'s ids and resources)', async () => {
      const answers = {
        success: await control.call('GET', '/api-keys'),
        unknownId: await control.call('GET', '/access-keys/aigk_00000000000000000000000000'),
        unknownRoute: await control.call('GET', '/no-such-thing'),
        unsupportedMethod: await control.call('PUT', '/access-keys'),
        malformedJson: await control.call('POST', '/providers', '{"name": '),
        unknownMember: await control.call('POST', '/virtual-models', { name: 'vm', targets: ['gpt-4o'], color: 'red' }),
        anonymous: await control.app.inject({ method: 'GET', url: '/api-keys' }),
      };
      assert.deepEqual(Object.values(answers).map((res) => res.statusCode), [200, 404, 404, 405, 400, 400, 401]);
      for (const [name, res] of Object.entries(answers)) assert.equal(res.headers['cache-control'], 'no-store', name);
    });

    test('a HEAD answer carries its GET\'s Content-Type, Content-Length and Cache-Control, without the body', async () => {
      // Another key than the caller's: its lastUsed does not move between the two calls.
      const created = (await control.call('POST', '/api-keys', { description: 'head' })).json() as { id: string };
      for (const path of [`/api-keys/${created.id}`, '/providers?limit=2']) {
        const get = await control.call('GET', path);
        const head = await control.call('HEAD', path);
        assert.equal(head.statusCode, 200, path);
        assert.equal(head.body, '', path);
        assert.match(String(head.headers['content-type']), /^application\/json/, path);
        assert.deepEqual([head.headers['content-type'], head.headers['content-length'], head.headers['cache-control']], [get.headers['content-type'], get.headers['content-length'], get.headers['cache-control']], path);
      }
    });

    test('a huge id or unknown member name comes back cut to 256 characters, not whole in msg, details and reason', async () => {
      const key = 'k'.repeat(500_000);
      const id = 'q'.repeat(8_000);
      const refusals = [
        // An unknown member, at the top and inside a Firewall rule: a 1 MiB body came back as some 3 MB.
        [await control.call('POST', '/virtual-models', { name: 'vm', targets: ['gpt-4o'], [key]: 1 }), 400, 'ERR_NGROK_27606'],
        [await control.call('POST', '/firewall-policies', { name: 'p', rules: [{ name: 'r', tier: 'hardDeny', type: 'regex', phase: 'request', pattern: 'x', [key]: 1 }] }), 400, 'ERR_NGROK_27606'],
        // An id in the path or the body that names nothing.
        [await control.call('GET', `/firewall-policies/${id}`), 404, 'ERR_NGROK_27611'],
        [await control.call('DELETE', `/mcp-servers/${id}`), 404, 'ERR_NGROK_27611'],
        [await control.call('GET', `/usage/requests/${id}/capture`), 404, 'ERR_NGROK_27611'],
        [await control.call('PATCH', '/gateway-config', { firewallPolicyId: id }), 404, 'ERR_NGROK_27611'],
        [await control.call('DELETE', `/credits/purchases/${id}`), 405, 'ERR_NGROK_27614'],
        // Body values no schema bounds, quoted by the handler that refuses them: each came back twice, a 2 MB answer.
        [await control.call('POST', '/provider-keys', { providerId: key, name: 'n', value: 'sk-0123456789abcdef' }), 400, 'ERR_NGROK_27508'],
        [await control.call('POST', '/providers', { providerId: 'p', name: 'n', baseUrl: 'https://llm.example.com', supportedApiSurfaces: [{ format: key }] }), 400, 'ERR_NGROK_27707'],
        [await control.call('POST', '/providers', { providerId: 'p', name: 'n', baseUrl: `k${'\u{1F600}'.repeat(2_047)}` }), 400, 'ERR_NGROK_27606'],
        [await control.call('POST', '/access-key-configurations', { name: 'c', router: { rules: [{ provider: key, steps: [{ type: 'ngrok' }] }] } }), 400, 'ERR_NGROK_27605'],
        [await control.call('POST', '/access-key-configurations', { name: 'c', router: { rules: [{ model: key, steps: [{ type: 'ngrok' }] }] } }), 400, 'ERR_NGROK_27605'],
        [await control.call('POST', '/access-key-configurations', { name: 'c', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: key }] }] }] } }), 400, 'ERR_NGROK_27605'],
        [await control.call('PATCH', '/gateway-config', { totalTimeout: key }), 400, 'ERR_NGROK_27606'],
      ] as const;
      for (const [res, status, code] of refusals) {
        const body = expectError(res, status, code);
        assert.ok(res.body.length < 2_000, `${status} ${code} answered ${res.body.length} bytes: ${res.body.slice(0, 200)}`);
        assert.match(JSON.stringify(body), /[kq\u{1F600}]{100}…\[\d+ more\]/u, `${code}: what was cut says so`);
      }
    });

    test('the contract is served at /openapi.json and /healthz answers', async () => {
      const spec = await control.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(spec.statusCode, 200);
      assert.deepEqual(spec.json(), JSON.parse(JSON.stringify(contractDocument)));
      assert.equal((await control.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    });

    test('the contract has the 47 operations of the spec plus the request-attempts lookup, the five virtual-model and five Firewall policy operations ngrok published since, our five MCP server operations and the request-capture read, every one routed', () => {
      assert.equal(operations.length, 64);
      assert.ok(operations.some((op) => op.operationId === 'CreateAIGatewayMcpServer'));
      assert.ok(operations.some((op) => op.operationId === 'GetAIGatewayRequestAttempts'));
      assert.ok(operations.some((op) => op.operationId === 'CreateAIGatewayVirtualModel'));
      assert.ok(operations.some((op) => op.operationId === 'CreateAIGatewayFirewallPolicy'));
      for (const op of operations) {
        assert.ok(control.app.hasRoute({ method: op.method, url: op.path.replace(/\{(\w+)\}/g, ':$1') }), `${op.method} ${op.path} is not routed`);
      }
    });
  });
}

for (const kind of STORE_KINDS) {
  // What an SDK generated from the contract decodes: every operation is called here with bodies that fill its
  // optional parts, and its answer is held to the operation's documented status and response schema (closed:
  // `additionalProperties: false`, so an extra field fails as a missing required one does).
  describe(`every operation answers in the contract's shape (${kind})`, () => {
    let control: TestControl;
    let fake: FakeStripe;
    before(async () => {
      fake = await startFakeStripe();
      control = await startControl(kind, { TOLLGATE_STRIPE_SECRET_KEY: 'sk_test_fake', TOLLGATE_STRIPE_WEBHOOK_SECRET: 'whsec_test', TOLLGATE_STRIPE_API_BASE_URL: fake.url });
    });
    // The fake first: left open (when the store could not start) it would keep the test process alive.
    after(async () => { await fake?.close(); await control?.close(); });

    const operationOf = (method: string, url: string) => {
      const path = url.split('?')[0]!;
      const op = operations.find((o) => o.method === method && new RegExp(`^${o.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(path));
      assert.ok(op, `${method} ${path} is no contract operation`);
      return op;
    };

    test('each success has the documented status and matches the response schema; 204 and HEAD answers have no body', async () => {
      const called = new Set<string>();
      const call = async <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
        const op = operationOf(method, url);
        called.add(op.operationId);
        const res: LightMyRequestResponse = await control.app.inject({
          method: method as 'GET', url,
          headers: { authorization: `Bearer ${control.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
        assert.equal(res.statusCode, op.successStatus, `${op.operationId}: ${res.statusCode} ${res.body}`);
        if (op.method === 'HEAD' || op.successStatus === 204) {
          assert.equal(res.body, '', `${op.operationId} answered a body`);
          return {} as T;
        }
        assert.match(String(res.headers['content-type']), /^application\/json/, op.operationId);
        assert.ok(op.responseSchema, `${op.operationId} has no response schema`);
        const validate = schemaValidator(op.responseSchema);
        const json = res.json() as T;
        assert.ok(validate(json), `${op.operationId}: not ${op.responseSchema}: ${JSON.stringify(validate.errors)} in ${res.body}`);
        return json;
      };
      type Id = { id: string };
      const now = new Date().toISOString();
      const day = `${now.slice(0, 10)}T00:00:00Z`;
      await grantCredits(control.store.db, control.accountId, 10_000, { category: 'purchase' });
      await insertUsageEvents(control.store.db, [
        usageEvent(control.accountId, { id: `ue_sweep_${kind}_1`, requestId: 'rq_sweep', attemptNumber: 1, isFinalAttempt: false, statusCode: 429, isError: true, retryAction: 'next_key', keySource: 'user', providerKeyId: 'aigpk_x', providerKeyDisplayName: 'sk-abc***wxyz', eventTime: now }),
        usageEvent(control.accountId, { id: `ue_sweep_${kind}_2`, requestId: 'rq_sweep', attemptNumber: 2, isFinalAttempt: true, costPico: 5_000_000n, eventTime: now, virtualModel: 'chat-default' }),
      ]);

      const pk = await call<Id>('POST', '/provider-keys', { providerId: 'openai', name: 'primary', value: 'sk-test-0000000000000000000000000000000000', description: 'd', metadata: '{"team":"ml"}' });
      await call('GET', '/provider-keys?limit=1');
      await call('GET', '/provider-keys?provider=openai');
      await call('HEAD', '/provider-keys');
      await call('GET', `/provider-keys/${pk.id}`);
      await call('HEAD', `/provider-keys/${pk.id}`);
      await call('PATCH', `/provider-keys/${pk.id}`, { description: null, metadata: null });
      await call('POST', `/provider-keys/${pk.id}/rotate`, { name: 'primary-2', value: 'sk-test-1111111111111111111111111111111111' });

      const provider = await call<Id>('POST', '/providers', {
        providerId: 'my-ollama', name: 'Ollama', baseUrl: 'https://ollama.example/v1', metadata: 'm',
        supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', supportedParams: [{ name: 'temperature' }] }, { format: 'anthropic', surface: 'messages', baseUrl: 'https://ollama.example/anthropic' }],
        models: [{ modelId: 'llama3.2', providerModelId: 'llama3.2:8b', unsupportedParams: ['seed'] }, { modelId: 'qwen' }],
      });
      await call('GET', '/providers?limit=1');
      await call('HEAD', '/providers');
      await call('GET', `/providers/${provider.id}`);
      await call('HEAD', `/providers/${provider.id}`);
      await call('PATCH', `/providers/${provider.id}`, { metadata: null, supportedApiSurfaces: null, models: [{ modelId: 'qwen' }] });
      const localKey = await call<Id>('POST', '/provider-keys', { providerId: 'my-ollama', name: 'local', value: 'ollama-local-token-0000' });

      const configuration = await call<Id>('POST', '/access-key-configurations', {
        name: 'prod', description: 'd', metadata: 'm',
        access: { providers: { allow: ['openai', 'my-ollama'] }, models: { allow: ['openai/gpt-4o'] } },
        router: { rules: [
          { provider: 'openai', steps: [{ type: 'user', keys: [{ id: pk.id }, { name: 'inline', value: 'sk-test-2222222222222222222222222222222222' }] }, { type: 'ngrok' }] },
          { model: 'my-ollama:qwen', steps: [{ type: 'user', keys: [{ id: localKey.id }] }] },
        ] },
      });
      await call('GET', '/access-key-configurations?limit=1');
      await call('HEAD', '/access-key-configurations');
      await call('GET', `/access-key-configurations/${configuration.id}`);
      await call('HEAD', `/access-key-configurations/${configuration.id}`);
      await call('PATCH', `/access-key-configurations/${configuration.id}`, { description: null, access: null });

      const accessKey = await call<Id>('POST', '/access-keys', { name: 'app', description: 'd', metadata: 'm', accessKeyConfigurationId: configuration.id });
      await call('GET', '/access-keys?limit=1');
      await call('GET', `/access-keys?accessKeyConfigurationId=${configuration.id}`);
      await call('HEAD', '/access-keys');
      await call('GET', `/access-keys/${accessKey.id}`);
      await call('HEAD', `/access-keys/${accessKey.id}`);
      await call('PATCH', `/access-keys/${accessKey.id}`, { name: null, accessKeyConfigurationId: null });

      const apiKey = await call<Id>('POST', '/api-keys', { name: 'ci', description: 'd', metadata: 'm' });
      await call('GET', '/api-keys?limit=1');
      await call('HEAD', '/api-keys');
      await call('GET', `/api-keys/${apiKey.id}`);
      await call('HEAD', `/api-keys/${apiKey.id}`);
      await call('PATCH', `/api-keys/${apiKey.id}`, { description: null });

      await call('GET', '/gateway-config');
      await call('HEAD', '/gateway-config');
      await call('PATCH', '/gateway-config', { totalTimeout: '2m', perRequestTimeout: '30s', maxInputTokens: 100_000, maxOutputTokens: null, metadata: 'm' });

      await call('GET', '/v1/models');
      await call('GET', '/credits/balance');
      await call('GET', '/credits/transactions');
      await call('POST', '/credits/checkout-session', { amount: 2500 });
      const purchase = await call<Id>('POST', '/credits/purchases', { amount: 2500 }, { 'idempotency-key': `sweep-${kind}` });
      await call('GET', `/credits/purchases/${purchase.id}`);

      await call('GET', `/usage?startTime=${day}&includeRetries=true&limit=1`);
      await call('GET', `/usage/overview?startTime=${day}&groupBy=accessKey`);
      await call('GET', '/usage/requests/rq_sweep');
      await storeCapture(control.store.db, new SecretBox(control.config.masterKey), control.accountId, 'rq_sweep');
      await call('GET', '/usage/requests/rq_sweep/capture');

      const virtual = await call<Id>('POST', '/virtual-models', { name: 'chat-default', description: 'd', targets: ['openai/gpt-4o', 'anthropic:claude-sonnet-4-6'] });
      await call('GET', '/virtual-models?limit=1');
      await call('GET', `/virtual-models/${virtual.id}`);
      await call('PATCH', `/virtual-models/${virtual.id}`, { name: 'chat-main', description: null, targets: ['gpt-4o'] });
      await call('DELETE', `/virtual-models/${virtual.id}`);

      const firewall = await call<Id>('POST', '/firewall-policies', {
        name: 'guard', description: 'd', mode: 'audit', onError: 'log', environment: ['CI runner'],
        rules: [{ name: 'Force push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'push --force' }, { name: 'Reads', tier: 'allow', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['git_*'] }],
      });
      await call('GET', '/firewall-policies?limit=1');
      await call('GET', `/firewall-policies/${firewall.id}`);
      await call('PATCH', `/firewall-policies/${firewall.id}`, { name: 'guard 2', description: null, mode: null, rules: [] });
      await call('PATCH', '/gateway-config', { firewallPolicyId: firewall.id });
      await call('PATCH', '/gateway-config', { firewallPolicyId: null });
      await call('PATCH', '/gateway-config', { requestCapture: true });
      await call('PATCH', `/access-key-configurations/${configuration.id}`, { firewallPolicyId: firewall.id });
      await call('GET', `/access-key-configurations/${configuration.id}`);
      await call('PATCH', `/access-key-configurations/${configuration.id}`, { firewallPolicyId: null });
      await call('DELETE', `/firewall-policies/${firewall.id}`);

      const mcp = await call<Id>('POST', '/mcp-servers', { label: 'docs', description: 'd', upstreamUrl: 'https://docs.example.com/mcp', auth: { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' } });
      await call('POST', '/provider-keys', { providerId: 'mcp:docs', name: 'docs token', value: 'docs-secret-0000' });
      await call('GET', '/mcp-servers?limit=1');
      await call('GET', `/mcp-servers/${mcp.id}`);
      await call('PATCH', `/mcp-servers/${mcp.id}`, { description: null, upstreamUrl: 'https://docs.example.com/v2', auth: { type: 'forwardHeaders', headers: ['X-Tenant'] } });
      await call('PATCH', `/access-key-configurations/${configuration.id}`, { access: { mcpServers: { allow: ['docs'] }, mcpTools: { allow: ['docs/*'] } } });
      await call('GET', `/access-key-configurations/${configuration.id}`);
      await call('DELETE', `/mcp-servers/${mcp.id}`);

      await call('DELETE', `/access-keys/${accessKey.id}`);
      await call('DELETE', `/access-key-configurations/${configuration.id}`);
      const keys = (await control.call('GET', '/provider-keys')).json() as { aiGatewayProviderKeys: Id[] };
      for (const key of keys.aiGatewayProviderKeys) await call('DELETE', `/provider-keys/${key.id}`);
      await call('DELETE', `/providers/${provider.id}`);
      await call('DELETE', `/api-keys/${apiKey.id}`);

      // A new operation in the contract must be added above.
      assert.deepEqual(operations.map((o) => o.operationId).filter((id) => !called.has(id)), []);
    });

    test('an unknown id is 404 ERR_NGROK_27611 in the Error shape on every operation that takes one (HEAD: no body)', async () => {
      for (const op of operations.filter((o) => o.path.includes('{'))) {
        const res = await control.call(op.method, op.path.replace(/\{\w+\}/g, 'unknown_0000'), op.requestSchema ? {} : undefined);
        if (op.method === 'HEAD') {
          assert.equal(res.statusCode, 404, op.operationId);
          assert.equal(res.body, '', op.operationId);
          continue;
        }
        // A body the operation refuses on its own (rotate needs name and value) is a 400 before the lookup.
        if (res.statusCode === 400) {
          expectError(res, 400, res.json().errorCode as string);
          continue;
        }
        expectError(res, 404, 'ERR_NGROK_27611');
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
      // In flight once the server has read its head (a fixed wait raced the read: a loaded loop fired it first).
      const received = once(control.app.server, 'request');
      socket.write(`POST /api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${control.token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{`);
      await received;
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
      assert.match(answers[1]!, /\r\ncache-control: no-store\r\n/i);
      const body = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4)) as unknown;
      const validate = schemaValidator('Error');
      assert.ok(validate(body), `not the contract's Error shape: ${JSON.stringify(body)}`);
    } finally {
      await control.store.close();
      await control.database.drop();
    }
  });
});

describe('control-plane authentication while the database fails (sqlite)', () => {
  test('an API key that cannot be looked up is ngrok\'s MANAGEMENT_TOKEN_AUTHENTICATION_UNAVAILABLE ("retry shortly"), not a generic internal error', async () => {
    const control = await startControl('sqlite');
    try {
      await control.store.db.destroy();
      const res = await control.call('GET', '/access-keys');
      assert.equal(expectError(res, 500, 'ERR_NGROK_AI_GATEWAY_MANAGEMENT_TOKEN_AUTHENTICATION_UNAVAILABLE').msg, 'Token authentication is temporarily unavailable. Retry your request shortly.');
    } finally {
      await control.app.close();
      await control.database.drop();
    }
  });
});
