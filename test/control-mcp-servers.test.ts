// /mcp-servers (ngrok's MCP Gateway, control plane): CRUD, every validation rule with the error it answers, the
// account's limit, the secret kept as an `mcp:<label>` provider key (hasSecret, and the label conflicts it brings),
// isolation and the change each write announces, on both stores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectSchema, startControl, type TestControl } from './helpers/control.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { assertPaging, recordChanges, type Collection } from './helpers/crud.ts';

const MCP: Collection = { path: '/mcp-servers', listKey: 'aiGatewayMcpServers', listSchema: 'AIGatewayMcpServerList', schema: 'AIGatewayMcpServer' };
type Auth = { type: string; in?: string; name?: string; prefix?: string; headers?: string[] };
type Server = { id: string; uri: string; label: string; description?: string; upstreamUrl: string; url: string; auth: Auth; hasSecret: boolean; createdAt: string; updatedAt: string };
type Key = { id: string; providerId: string; name: string; keyRedacted: string };

const UPSTREAM = 'https://docs.example.com/mcp';
/** MCP servers per account: ngrok publishes a limit without its number; ours is 50. */
const MCP_SERVER_LIMIT = 50;
const BEARER: Auth = { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' };

for (const kind of STORE_KINDS) {
  describe(`MCP servers (${kind})`, () => {
    let c: TestControl;
    before(async () => { c = await startControl(kind); });
    after(async () => { await c.close(); });

    const create = async (body: Record<string, unknown>, token?: string) => expectSchema<Server>(await c.call('POST', MCP.path, body, token), 201, MCP.schema);
    const get = async (id: string) => expectSchema<Server>(await c.call('GET', `${MCP.path}/${id}`), 200, MCP.schema);
    const patch = async (id: string, body: Record<string, unknown>) => expectSchema<Server>(await c.call('PATCH', `${MCP.path}/${id}`, body), 200, MCP.schema);
    const remove = async (id: string, token?: string) => assert.equal((await c.call('DELETE', `${MCP.path}/${id}`, undefined, token)).statusCode, 204);
    const removeAll = async () => { for (const s of (await c.call('GET', MCP.path)).json().aiGatewayMcpServers as Server[]) await remove(s.id); };
    const addKey = async (label: string, value = 'sk-docs-secret-value') => expectSchema<Key>(await c.call('POST', '/provider-keys', { providerId: `mcp:${label}`, name: `${label} token`, value }), 201, 'AIGatewayProviderAPIKeyDetail');
    /** The 400 this create gets, its code and field. */
    const refused = async (body: Record<string, unknown>, code: string, field?: string) => {
      const e = expectError(await c.call('POST', MCP.path, { label: 'docs', upstreamUrl: UPSTREAM, ...body }), 400, code);
      if (field !== undefined) assert.equal(e.details.field, field, e.msg);
      return e;
    };

    it('registers, reads, lists, updates and deletes one, announcing each write', async () => {
      const changes = recordChanges(c);
      const made = await create({ label: 'docs', description: 'docs search', upstreamUrl: UPSTREAM, auth: BEARER });
      assert.match(made.id, /^aigmcp_/);
      assert.match(made.uri, new RegExp(`/mcp-servers/${made.id}$`));
      assert.deepEqual([made.label, made.description, made.upstreamUrl, made.auth, made.hasSecret], ['docs', 'docs search', UPSTREAM, BEARER, false]);
      assert.equal(made.url, `/mcp/s-${made.id}`, 'the per-server path on the gateway');
      assert.deepEqual(await get(made.id), made);
      assert.deepEqual(expectSchema<{ aiGatewayMcpServers: Server[] }>(await c.call('GET', MCP.path), 200, MCP.listSchema).aiGatewayMcpServers, [made]);

      // Omitted fields stay; auth is replaced whole; null clears the description and puts auth back to none.
      const edited = await patch(made.id, { upstreamUrl: 'https://docs.example.com/v2/mcp', auth: { type: 'forwardHeaders', headers: ['X-Tenant'] } });
      assert.deepEqual([edited.label, edited.description, edited.upstreamUrl, edited.auth], ['docs', 'docs search', 'https://docs.example.com/v2/mcp', { type: 'forwardHeaders', headers: ['X-Tenant'] }]);
      const renamed = await patch(made.id, { label: 'wiki', description: null, auth: null });
      assert.deepEqual([renamed.label, renamed.description, renamed.auth, renamed.url], ['wiki', undefined, { type: 'none' }, made.url]);
      expectError(await c.call('PATCH', `${MCP.path}/${made.id}`, { label: null }), 400, 'ERR_NGROK_27602');
      expectError(await c.call('PATCH', `${MCP.path}/${made.id}`, { upstreamUrl: null }), 400, 'ERR_NGROK_27602');

      await remove(made.id);
      expectError(await c.call('GET', `${MCP.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      expectError(await c.call('DELETE', `${MCP.path}/${made.id}`), 404, 'ERR_NGROK_27611');
      assert.deepEqual(changes.map((x) => [x.kind, x.resourceId, x.accountId]), Array(4).fill(['mcpServer', made.id, c.accountId]));
      const rows = await c.store.db.selectFrom('stateChanges').select(['kind']).where('resourceId', '=', made.id).execute();
      assert.equal(rows.filter((r) => r.kind === 'mcpServer').length, 4);
    });

    it('a server takes no credentials unless told', async () => {
      const bare = await create({ label: 'bare', upstreamUrl: UPSTREAM });
      assert.deepEqual([bare.auth, bare.description, bare.hasSecret], [{ type: 'none' }, undefined, false]);
      await remove(bare.id);
    });

    it('refuses a label that could not prefix a tool name, or that another server holds', async () => {
      expectError(await c.call('POST', MCP.path, { upstreamUrl: UPSTREAM }), 400, 'ERR_NGROK_27602');
      for (const label of ['Docs', 'docs search', 'docs__v2', 'docs/v2', 'döcs', 'docs:v2']) {
        const e = await refused({ label }, 'ERR_NGROK_27606', 'label');
        assert.equal(e.msg, 'The label may use lowercase letters, digits, "-" and "_", and not "__", which separates a label from a tool name (<label>__<tool>).');
      }
      await refused({ label: '' }, 'ERR_NGROK_27606', 'label');
      await refused({ label: 'l'.repeat(65) }, 'ERR_NGROK_27606', 'label');
      const longest = await create({ label: 'l'.repeat(64), upstreamUrl: UPSTREAM });
      const odd = await create({ label: '_a-b_c-9', upstreamUrl: UPSTREAM });

      const docs = await create({ label: 'docs', upstreamUrl: UPSTREAM });
      let e = expectError(await c.call('POST', MCP.path, { label: 'docs', upstreamUrl: 'https://other.example.com/mcp' }), 409, 'ERR_NGROK_27607');
      assert.deepEqual([e.msg, e.details.field], ['An MCP server labelled "docs" already exists.', 'label']);
      e = expectError(await c.call('PATCH', `${MCP.path}/${odd.id}`, { label: 'docs' }), 409, 'ERR_NGROK_27607');
      assert.equal(e.details.field, 'label');
      e = expectError(await c.call('PATCH', `${MCP.path}/${odd.id}`, { label: 'Docs' }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'label');
      assert.equal((await get(odd.id)).label, '_a-b_c-9');
      // Its own label again is no rename; another account's labels are its own.
      assert.equal((await patch(docs.id, { label: 'docs', description: 'same' })).label, 'docs');
      const theirs = await create({ label: 'docs', upstreamUrl: UPSTREAM }, c.other.token);
      await remove(theirs.id, c.other.token);
      for (const id of [longest.id, odd.id, docs.id]) await remove(id);
    });

    it('refuses a description over 255 characters, unknown and read-only fields', async () => {
      await refused({ description: 'd'.repeat(256) }, 'ERR_NGROK_27606', 'description');
      for (const field of ['url', 'hasSecret', 'id', 'secret']) await refused({ [field]: 'x' }, 'ERR_NGROK_27606', field);
      const kept = await create({ label: 'kept', description: 'd'.repeat(255), upstreamUrl: UPSTREAM });
      expectError(await c.call('PATCH', `${MCP.path}/${kept.id}`, { hasSecret: true }), 400, 'ERR_NGROK_27606');
      await remove(kept.id);
    });

    it('refuses an upstream URL that is no https URL, carries credentials, or is plain http to a public host', async () => {
      expectError(await c.call('POST', MCP.path, { label: 'docs' }), 400, 'ERR_NGROK_27602');
      for (const [upstreamUrl, reason] of [
        ['', /at least 1 characters/],
        ['docs.example.com/mcp', /^upstreamUrl "docs.example.com\/mcp" is not an absolute URL\.$/],
        ['ftp://docs.example.com/mcp', /must use http or https/],
        ['https://user:pass@docs.example.com/mcp', /must not contain credentials/],
        ['https://docs.example.com/mcp?api_key=s3cret', /must not carry a credential in its query \("api_key"\)/],
        ['http://docs.example.com/mcp', /^The upstreamUrl host is not permitted: http is allowed only to a loopback or private host/],
        ['http://8.8.8.8/mcp', /not permitted/],
        [`https://docs.example.com/${'p'.repeat(2048)}`, /at most 2048 characters/],
      ] as const) {
        const e = await refused({ upstreamUrl }, 'ERR_NGROK_27606', 'upstreamUrl');
        assert.match(e.msg, reason);
        assert.ok(!e.msg.includes('s3cret') && !e.msg.includes('pass@'), 'a credential is not echoed');
      }
      // This control plane allows private upstreams (the test default): http reaches loopback, private and one-label hosts.
      const kept: string[] = [];
      for (const upstreamUrl of ['http://127.0.0.1:8931/mcp', 'http://[::1]:8931/mcp', 'http://docs-mcp:8080/mcp', 'http://localhost/mcp', 'https://10.0.0.5/mcp', 'https://docs.example.com/mcp?version=2']) {
        kept.push((await create({ label: `l${kept.length}`, upstreamUrl })).id);
      }
      const e = expectError(await c.call('PATCH', `${MCP.path}/${kept[0]}`, { upstreamUrl: 'http://docs.example.com/mcp' }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'upstreamUrl');
      assert.equal((await get(kept[0]!)).upstreamUrl, 'http://127.0.0.1:8931/mcp');
      for (const id of kept) await remove(id);
    });

    it('where private upstreams are not allowed, an upstream is https to a public host', async () => {
      const strict = await startControl(kind, { TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '0' });
      try {
        for (const [upstreamUrl, reason] of [
          ['http://127.0.0.1:8931/mcp', 'https is required.'],
          ['http://docs-mcp:8080/mcp', 'https is required.'],
          ['https://127.0.0.1/mcp', '"127.0.0.1" is not a public address (loopback, private, link-local, reserved or an IPv6 form of one).'],
          ['https://[fd00::1]/mcp', '"[fd00::1]" is not a public address (loopback, private, link-local, reserved or an IPv6 form of one).'],
        ] as const) {
          const e = expectError(await strict.call('POST', MCP.path, { label: 'docs', upstreamUrl }), 400, 'ERR_NGROK_27606');
          assert.deepEqual([e.details.field, e.msg], ['upstreamUrl', `The upstreamUrl host is not permitted: ${reason}`]);
        }
        assert.equal((await strict.call('POST', MCP.path, { label: 'docs', upstreamUrl: UPSTREAM })).statusCode, 201);
      } finally {
        await strict.close();
      }
    });

    it('checks each auth type takes its own fields, and never forwards the access key', async () => {
      const authRefused = (auth: unknown, code: string, field: string) => refused({ auth }, code, field);
      await authRefused({ type: 'apiKey' }, 'ERR_NGROK_27606', 'auth.type');
      await authRefused({}, 'ERR_NGROK_27602', 'auth.type');
      await authRefused({ type: 'none', extra: 1 }, 'ERR_NGROK_27606', 'auth.extra');
      // secret: in and name required; a prefix only in a header; no headers.
      await authRefused({ type: 'secret', name: 'Authorization' }, 'ERR_NGROK_27602', 'auth.in');
      await authRefused({ type: 'secret', in: 'header' }, 'ERR_NGROK_27602', 'auth.name');
      await authRefused({ type: 'secret', in: 'cookie', name: 'x' }, 'ERR_NGROK_27606', 'auth.in');
      await authRefused({ type: 'secret', in: 'header', name: 'X Token' }, 'ERR_NGROK_27606', 'auth.name');
      await authRefused({ type: 'secret', in: 'header', name: 'n'.repeat(129) }, 'ERR_NGROK_27606', 'auth.name');
      await authRefused({ ...BEARER, prefix: 'Bearer\n' }, 'ERR_NGROK_27606', 'auth.prefix');
      await authRefused({ ...BEARER, prefix: 'p'.repeat(65) }, 'ERR_NGROK_27606', 'auth.prefix');
      let e = await authRefused({ type: 'secret', in: 'query', name: 'api_key', prefix: 'Bearer ' }, 'ERR_NGROK_27606', 'auth.prefix');
      assert.equal(e.msg, '"prefix" is for a secret sent in a header; a query parameter carries the secret alone.');
      e = await authRefused({ ...BEARER, headers: ['X-Tenant'] }, 'ERR_NGROK_27606', 'auth.headers');
      assert.equal(e.msg, 'auth type "secret" takes only "in", "name", "prefix"; remove "headers".');
      for (const name of ['Host', 'content-length', 'Connection', 'Transfer-Encoding']) await authRefused({ type: 'secret', in: 'header', name }, 'ERR_NGROK_27606', 'auth.name');
      // none and oauthPassthrough take nothing else.
      for (const type of ['none', 'oauthPassthrough']) {
        e = await authRefused({ type, name: 'Authorization' }, 'ERR_NGROK_27606', 'auth.name');
        assert.equal(e.msg, `auth type "${type}" takes no other field; remove "name".`);
        await authRefused({ type, headers: ['X-Tenant'] }, 'ERR_NGROK_27606', 'auth.headers');
      }
      // forwardHeaders: 1 to 20 distinct header names, none carrying the access key, none hop-by-hop.
      await authRefused({ type: 'forwardHeaders' }, 'ERR_NGROK_27602', 'auth.headers');
      await authRefused({ type: 'forwardHeaders', headers: [] }, 'ERR_NGROK_27606', 'auth.headers');
      await authRefused({ type: 'forwardHeaders', headers: Array.from({ length: 21 }, (_, i) => `X-H${i}`) }, 'ERR_NGROK_27606', 'auth.headers');
      await authRefused({ type: 'forwardHeaders', headers: ['X-Tenant', 'bad header'] }, 'ERR_NGROK_27606', 'auth.headers.1');
      await authRefused({ type: 'forwardHeaders', headers: ['X-Tenant'], name: 'X-Tenant' }, 'ERR_NGROK_27606', 'auth.name');
      for (const header of ['Authorization', 'x-api-key', 'X-API-KEY']) {
        e = await authRefused({ type: 'forwardHeaders', headers: ['X-Tenant', header] }, 'ERR_NGROK_27606', 'auth.headers.1');
        assert.equal(e.msg, `"${header}" carries the client's access key, which the gateway never sends upstream.`);
      }
      for (const header of ['Connection', 'keep-alive', 'TE', 'Trailer', 'Upgrade', 'Proxy-Authorization', 'Host']) {
        await authRefused({ type: 'forwardHeaders', headers: [header] }, 'ERR_NGROK_27606', 'auth.headers.0');
      }
      e = await authRefused({ type: 'forwardHeaders', headers: ['X-Tenant', 'x-tenant'] }, 'ERR_NGROK_27606', 'auth.headers.1');
      assert.equal(e.msg, '"x-tenant" is listed more than once.');

      // What each type takes is stored as written, and the same checks run on update.
      const taken: Auth[] = [
        { type: 'none' }, { type: 'oauthPassthrough' }, BEARER, { type: 'secret', in: 'query', name: 'api_key' }, { type: 'secret', in: 'header', name: 'X-Api-Key' },
        { type: 'forwardHeaders', headers: Array.from({ length: 20 }, (_, i) => `X-H${i}`) },
      ];
      const ids: string[] = [];
      for (const auth of taken) {
        const made = await create({ label: `a${ids.length}`, upstreamUrl: UPSTREAM, auth });
        assert.deepEqual(made.auth, auth);
        ids.push(made.id);
      }
      e = expectError(await c.call('PATCH', `${MCP.path}/${ids[0]}`, { auth: { type: 'forwardHeaders', headers: ['Authorization'] } }), 400, 'ERR_NGROK_27606');
      assert.equal(e.details.field, 'auth.headers.0');
      assert.deepEqual((await get(ids[0]!)).auth, { type: 'none' });
      for (const id of ids) await remove(id);
    });

    it("keeps the secret as an mcp:<label> provider key: written once the server exists, sealed, redacted, rotated, shown as hasSecret", async () => {
      // No server holds the label yet: a key for it would block the label, so it is refused.
      let e = expectError(await c.call('POST', '/provider-keys', { providerId: 'mcp:docs', name: 'docs token', value: 'sk-docs-secret-value' }), 400, 'ERR_NGROK_27508');
      assert.deepEqual([e.msg, e.details.field], ['Provider "mcp:docs" is not a supported provider.', 'providerId']);
      const docs = await create({ label: 'docs', upstreamUrl: UPSTREAM, auth: BEARER });
      const changes = recordChanges(c);
      const key = await addKey('docs');
      assert.deepEqual([key.providerId, key.name], ['mcp:docs', 'docs token']);
      assert.ok(!key.keyRedacted.includes('sk-docs-secret-value'));
      assert.deepEqual(changes.map((x) => x.kind), ['providerKey']);
      const stored = await c.store.db.selectFrom('providerKeys').select(['sealedValue']).where('id', '=', key.id).executeTakeFirstOrThrow();
      assert.ok(!String(stored.sealedValue).includes('sk-docs-secret-value'), 'encrypted at rest');
      assert.equal((await get(docs.id)).hasSecret, true);
      const listed = expectSchema<{ aiGatewayMcpServers: Server[] }>(await c.call('GET', MCP.path), 200, MCP.listSchema).aiGatewayMcpServers;
      assert.deepEqual(listed.map((s) => [s.label, s.hasSecret]), [['docs', true]]);
      const filtered = expectSchema<{ aiGatewayProviderKeys: Key[] }>(await c.call('GET', '/provider-keys?provider=mcp:docs'), 200, 'AIGatewayProviderAPIKeyList').aiGatewayProviderKeys;
      assert.deepEqual(filtered.map((k) => k.id), [key.id]);
      const rotated = expectSchema<Key>(await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'docs token 2', value: 'tok-rotated-9876' }), 200, 'AIGatewayProviderAPIKeyDetail');
      assert.deepEqual([rotated.id, rotated.providerId, rotated.name], [key.id, 'mcp:docs', 'docs token 2']);
      assert.notEqual(rotated.keyRedacted, key.keyRedacted);
      // Another account has no server labelled docs: no key for it there.
      expectError(await c.call('POST', '/provider-keys', { providerId: 'mcp:docs', name: 't', value: 'v' }, c.other.token), 400, 'ERR_NGROK_27508');
      // A key of another provider is no secret of this server.
      const wiki = await create({ label: 'wiki', upstreamUrl: UPSTREAM });
      assert.equal((await get(wiki.id)).hasSecret, false);
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      assert.equal((await get(docs.id)).hasSecret, false);
      await removeAll();
    });

    it("refuses to reuse or rename a label that still has mcp:<label> keys not the server's own (PROVIDER_KEYS_CONFLICT)", async () => {
      const conflict = (label: string) => `MCP server label ${label} still has provider keys. Delete its 'mcp:${label} keys before reusing or renaming it.`;
      const docs = await create({ label: 'docs', upstreamUrl: UPSTREAM, auth: BEARER });
      const key = await addKey('docs');
      // Renamed away, its keys would stay behind (a key's seal binds its provider): refused, nothing changes.
      let e = expectError(await c.call('PATCH', `${MCP.path}/${docs.id}`, { label: 'wiki' }), 409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT');
      assert.deepEqual([e.msg, e.details.field], [conflict('docs'), 'label']);
      assert.equal((await get(docs.id)).label, 'docs');
      // Other changes, and its own label written again, are no rename.
      assert.equal((await patch(docs.id, { label: 'docs', upstreamUrl: 'https://docs.example.com/v2' })).hasSecret, true);

      // Deleted, the server leaves its keys; they hold the label against a new server and a rename onto it.
      await remove(docs.id);
      const left = expectSchema<{ aiGatewayProviderKeys: Key[] }>(await c.call('GET', '/provider-keys?provider=mcp:docs'), 200, 'AIGatewayProviderAPIKeyList').aiGatewayProviderKeys;
      assert.deepEqual(left.map((k) => k.id), [key.id]);
      e = expectError(await c.call('POST', MCP.path, { label: 'docs', upstreamUrl: 'https://elsewhere.example.com/mcp' }), 409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT');
      assert.deepEqual([e.msg, e.details.field], [conflict('docs'), 'label']);
      const wiki = await create({ label: 'wiki', upstreamUrl: UPSTREAM });
      e = expectError(await c.call('PATCH', `${MCP.path}/${wiki.id}`, { label: 'docs' }), 409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT');
      assert.equal(e.msg, conflict('docs'));
      // The orphaned key still rotates and deletes; once gone, the label is free again.
      assert.equal((await c.call('POST', `/provider-keys/${key.id}/rotate`, { name: 'n', value: 'v2' })).statusCode, 200);
      // The other account's labels are its own.
      const theirs = await create({ label: 'docs', upstreamUrl: UPSTREAM }, c.other.token);
      await remove(theirs.id, c.other.token);
      assert.equal((await c.call('DELETE', `/provider-keys/${key.id}`)).statusCode, 204);
      const renamed = await patch(wiki.id, { label: 'docs' });
      assert.deepEqual([renamed.label, renamed.hasSecret], ['docs', false]);
      // A rename away from a label with no keys is free.
      assert.equal((await patch(wiki.id, { label: 'wiki' })).label, 'wiki');
      await removeAll();
    });

    it("pages newest first, is invisible to other accounts, and stops at the account's limit", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create({ label: `page-${i}`, upstreamUrl: UPSTREAM })).id);
      await assertPaging(c, MCP, ids);
      for (const [method, body] of [['GET', undefined], ['PATCH', { description: 'stolen' }], ['DELETE', undefined]] as const) {
        expectError(await c.call(method, `${MCP.path}/${ids[0]}`, body, c.other.token), 404, 'ERR_NGROK_27611');
      }
      assert.deepEqual(expectSchema<{ aiGatewayMcpServers: Server[] }>(await c.call('GET', MCP.path, undefined, c.other.token), 200, MCP.listSchema).aiGatewayMcpServers, []);
      assert.equal((await get(ids[0]!)).description, undefined);
      for (let i = 5; i < MCP_SERVER_LIMIT; i++) ids.push((await create({ label: `page-${i}`, upstreamUrl: UPSTREAM })).id);
      const e = expectError(await c.call('POST', MCP.path, { label: 'one-more', upstreamUrl: UPSTREAM }), 409, 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_LIMIT_EXCEEDED');
      assert.equal(e.msg, `This account can have at most ${MCP_SERVER_LIMIT} MCP servers. Delete one before you create another.`);
      // The other account's limit is its own.
      const theirs = await create({ label: 'theirs', upstreamUrl: UPSTREAM }, c.other.token);
      await remove(theirs.id, c.other.token);
      for (const id of ids) await remove(id);
    });
  });
}
