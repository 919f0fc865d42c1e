// /api-keys on SQLite and PostgreSQL: CRUD, token shown once and stored only as SHA-256, new keys
// authenticate, deleted keys stop authenticating (including the caller's own), and account isolation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { STORE_KINDS } from './helpers/stores.ts';
import pino from 'pino';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { buildControlApp } from '../src/control/app.ts';
import { handlerFactories, routeExtensions } from '../src/control/index.ts';
import { SecretBox } from '../src/domain/secret-box.ts';

interface ApiKey { id: string; uri: string; name?: string; description?: string; metadata?: string; token?: string; keyRedacted: string }
interface ApiKeyList { aiGatewayApiKeys: ApiKey[]; nextPageUri: string | null }

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

for (const kind of STORE_KINDS) {
  describe(`API keys (${kind})`, () => {
    let control: TestControl;
    before(async () => { control = await startControl(kind); });
    after(async () => { await control.close(); });

    test('create returns the token once; the table holds only its SHA-256', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', { name: 'ci', description: 'deploys', metadata: '{"team":"ops"}' }), 201, 'AIGatewayAPIKey');
      const token = created.token;
      assert.ok(token !== undefined && token.startsWith('tgapi_'));
      assert.ok(created.id.startsWith('aigak_'));
      assert.equal(created.uri, `${created.uri.split('/api-keys/')[0]}/api-keys/${created.id}`);
      assert.ok(!created.keyRedacted.includes(token.slice(12, 30)));
      const row = await control.store.db.selectFrom('apiKeys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
      assert.equal(row.tokenHash, sha256(token));
      assert.ok(!JSON.stringify(row).includes(token));

      const got = expectSchema<ApiKey>(await control.call('GET', `/api-keys/${created.id}`), 200, 'AIGatewayAPIKey');
      assert.equal(got.token, undefined);
      assert.equal(got.name, 'ci');
      const list = expectSchema<ApiKeyList>(await control.call('GET', '/api-keys'), 200, 'AIGatewayAPIKeyList');
      assert.ok(list.aiGatewayApiKeys.some((k) => k.id === created.id));
      assert.ok(list.aiGatewayApiKeys.every((k) => k.token === undefined));
    });

    test('a new key authenticates; after deletion it gets 401', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', {}), 201, 'AIGatewayAPIKey');
      expectSchema(await control.call('GET', '/api-keys', undefined, created.token), 200, 'AIGatewayAPIKeyList');
      assert.equal((await control.call('DELETE', `/api-keys/${created.id}`)).statusCode, 204);
      expectError(await control.call('GET', '/api-keys', undefined, created.token), 401, 'ERR_NGROK_27007');
      expectError(await control.call('GET', `/api-keys/${created.id}`), 404, 'ERR_NGROK_27611');
      expectError(await control.call('DELETE', `/api-keys/${created.id}`), 404, 'ERR_NGROK_27611');
    });

    test('a key may delete itself; its next call is 401', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', { name: 'self' }), 201, 'AIGatewayAPIKey');
      assert.equal((await control.call('DELETE', `/api-keys/${created.id}`, undefined, created.token)).statusCode, 204);
      expectError(await control.call('GET', '/api-keys', undefined, created.token), 401, 'ERR_NGROK_27007');
    });

    test('lastUsed: set in a batch after the key authenticates a call, not written per request', async () => {
      const created = expectSchema<ApiKey & { lastUsed: string | null }>(await control.call('POST', '/api-keys', { name: 'used' }), 201, 'AIGatewayAPIKey');
      assert.equal(created.lastUsed, null);
      await control.apiKeyUsage.flush(); // whatever earlier calls left pending
      const before = Date.now();
      expectSchema(await control.call('GET', '/access-keys', undefined, created.token), 200, 'AIGatewayAccessKeyList');
      const row = await control.store.db.selectFrom('apiKeys').select('lastUsed').where('id', '=', created.id).executeTakeFirstOrThrow();
      assert.equal(row.lastUsed, null, 'nothing written per request');

      await control.apiKeyUsage.flush();
      const got = expectSchema<ApiKey & { lastUsed: string | null }>(await control.call('GET', `/api-keys/${created.id}`), 200, 'AIGatewayAPIKey');
      assert.ok(got.lastUsed, 'lastUsed set after the flush');
      const at = Date.parse(got.lastUsed);
      assert.ok(at >= before - 1_000 && at <= Date.now(), `lastUsed ${got.lastUsed} is recent`);
    });

    test('lastUsed: what is pending is written when the app closes', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', { name: 'used before shutdown' }), 201, 'AIGatewayAPIKey');
      // A second app on the same store, with the tracker it makes itself (as `tollgate api` does).
      const deps = { store: control.store, config: control.config, secretBox: new SecretBox(control.config.masterKey), changes: control.changes, logger: pino({ level: 'silent' }) };
      const app = await buildControlApp(deps, handlerFactories, routeExtensions);
      const res = await app.inject({ method: 'GET', url: '/api-keys', headers: { authorization: `Bearer ${created.token}` } });
      assert.equal(res.statusCode, 200);
      await app.close();
      const row = await control.store.db.selectFrom('apiKeys').select('lastUsed').where('id', '=', created.id).executeTakeFirstOrThrow();
      assert.match(row.lastUsed ?? '', /^\d{4}-\d{2}-\d{2}T/);
    });

    test('bad tokens are 401, and the details say what was wrong', async () => {
      assert.equal(expectError(await control.call('GET', '/api-keys', undefined, 'tgapi_wrong'), 401, 'ERR_NGROK_27007').details.reason, 'The API key is unknown or was deleted.');
      const res = await control.app.inject({ method: 'GET', url: '/api-keys' });
      assert.equal(expectError(res, 401, 'ERR_NGROK_27007').details.reason, 'No API key: send "Authorization: Bearer <API key>".');
      const noScheme = await control.app.inject({ method: 'GET', url: '/api-keys', headers: { authorization: 'tgapi_wrong' } });
      assert.equal(expectError(noScheme, 401, 'ERR_NGROK_27007').details.reason, 'The Authorization header is not "Bearer <API key>".');
    });

    test('PATCH is tri-state: absent keeps, null clears, value sets; validation errors are 400', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', { name: 'a', description: 'd', metadata: 'm' }), 201, 'AIGatewayAPIKey');
      const renamed = expectSchema<ApiKey>(await control.call('PATCH', `/api-keys/${created.id}`, { name: 'b' }), 200, 'AIGatewayAPIKey');
      assert.deepEqual([renamed.name, renamed.description, renamed.metadata], ['b', 'd', 'm']);
      const cleared = expectSchema<ApiKey>(await control.call('PATCH', `/api-keys/${created.id}`, { description: null, metadata: null }), 200, 'AIGatewayAPIKey');
      assert.deepEqual([cleared.name, cleared.description, cleared.metadata], ['b', undefined, undefined]);
      expectError(await control.call('PATCH', `/api-keys/${created.id}`, { name: 'x'.repeat(256) }), 400, 'ERR_NGROK_27603');
      expectError(await control.call('PATCH', `/api-keys/${created.id}`, { token: 'x' }), 400, 'ERR_NGROK_27606');
      expectError(await control.call('POST', '/api-keys', { metadata: 'x'.repeat(4097) }), 400, 'ERR_NGROK_27604');
    });

    test('every createdBy / lastUpdatedBy reference resolves, the first key\'s (made by itself) included', async () => {
      await control.call('POST', '/api-keys', { name: 'made by the first' });
      const keys = (await control.call('GET', '/api-keys?limit=100')).json() as { aiGatewayApiKeys: Array<{ id: string; createdBy: { id: string; uri: string }; lastUpdatedBy: { id: string; uri: string } }> };
      assert.ok(keys.aiGatewayApiKeys.length >= 2);
      for (const key of keys.aiGatewayApiKeys) {
        for (const ref of [key.createdBy, key.lastUpdatedBy]) {
          const r = await control.call('GET', new URL(ref.uri).pathname);
          assert.equal(r.statusCode, 200, `${key.id}: ${ref.uri}`);
          assert.equal(r.json().id, ref.id);
        }
      }
    });

    test('HEAD answers 200 without a body for the collection and an existing key, 404 otherwise', async () => {
      const created = expectSchema<ApiKey>(await control.call('POST', '/api-keys', {}), 201, 'AIGatewayAPIKey');
      const head = await control.call('HEAD', '/api-keys');
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      assert.equal((await control.call('HEAD', `/api-keys/${created.id}`)).statusCode, 200);
      assert.equal((await control.call('HEAD', '/api-keys/aigak_00000000000000000000000000')).statusCode, 404);
    });

    test('paging with limit and beforeId walks every key once', async () => {
      for (let i = 0; i < 3; i++) expectSchema(await control.call('POST', '/api-keys', { name: `p${i}` }), 201, 'AIGatewayAPIKey');
      const all = expectSchema<ApiKeyList>(await control.call('GET', '/api-keys'), 200, 'AIGatewayAPIKeyList').aiGatewayApiKeys.map((k) => k.id);
      const seen: string[] = [];
      let url: string | null = '/api-keys?limit=2';
      while (url) {
        const page: ApiKeyList = expectSchema<ApiKeyList>(await control.call('GET', url.replace(/^https?:\/\/[^/]+/, '')), 200, 'AIGatewayAPIKeyList');
        seen.push(...page.aiGatewayApiKeys.map((k) => k.id));
        url = page.nextPageUri;
      }
      assert.deepEqual(seen, all);
    });

    test("another account cannot see, change or delete this account's keys", async () => {
      const mine = expectSchema<ApiKey>(await control.call('POST', '/api-keys', { name: 'mine' }), 201, 'AIGatewayAPIKey');
      const other = control.other.token;
      expectError(await control.call('GET', `/api-keys/${mine.id}`, undefined, other), 404, 'ERR_NGROK_27611');
      expectError(await control.call('PATCH', `/api-keys/${mine.id}`, { name: 'x' }, other), 404, 'ERR_NGROK_27611');
      expectError(await control.call('DELETE', `/api-keys/${mine.id}`, undefined, other), 404, 'ERR_NGROK_27611');
      const theirs = expectSchema<ApiKeyList>(await control.call('GET', '/api-keys', undefined, other), 200, 'AIGatewayAPIKeyList');
      assert.ok(theirs.aiGatewayApiKeys.every((k) => k.id !== mine.id));
      assert.equal(expectSchema<ApiKey>(await control.call('GET', `/api-keys/${mine.id}`), 200, 'AIGatewayAPIKey').name, 'mine');
    });

    test('a write whose change cannot be recorded is not made: no key stored without its token shown', async () => {
      const before = (await control.store.db.selectFrom('apiKeys').select('id').execute()).length;
      await sql`ALTER TABLE state_changes RENAME TO state_changes_gone`.execute(control.store.db);
      try {
        const refused = await control.call('POST', '/api-keys', { name: 'unannounced' });
        assert.ok(refused.statusCode >= 500, `a store failure, not a created key (${refused.statusCode})`);
        assert.equal((await control.store.db.selectFrom('apiKeys').select('id').execute()).length, before, 'the key was not stored');
      } finally {
        await sql`ALTER TABLE state_changes_gone RENAME TO state_changes`.execute(control.store.db);
      }
      assert.equal((await control.call('POST', '/api-keys', { name: 'announced' })).statusCode, 201);
    });
  });
}
