// The console Playground's requests: a signed-in console mints a short-lived token for one of its account's access
// keys (POST /console/playground-token), and the gateway takes it as that key — streamed answers, usage recorded
// under the key, the key's scope — while a tampered, expired, foreign or orphaned token gets the gateway's 401 and no
// token ever reaches the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import pino from 'pino';
import { BOOTSTRAP, startHarness, type Harness } from './helpers/gateway.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { LineCapture } from './helpers/log-capture.ts';
import { createAccount } from '../src/store/accounts.ts';
import { PlaygroundTokens } from '../src/domain/playground-token.ts';

const SECRET_HEX = randomBytes(32).toString('hex');
const BUILT = existsSync(fileURLToPath(new URL('../console/dist/index.html', import.meta.url)));

interface Minted { token: string; expiresAt: string; expiresInSeconds: number; gatewayUrl: string }

for (const kind of STORE_KINDS) describe(`console Playground tokens (${kind})`, () => {
  let h: Harness;
  const capture = new LineCapture();
  const minted: string[] = [];
  let cookie = '';
  let csrf = '';

  /** POST /console/playground-token as the signed-in page does (cookie + x-csrf-token), unless told otherwise. */
  const mint = (accessKeyId: unknown, headers: Record<string, string> = { cookie, 'x-csrf-token': csrf }) => fetch(`${h.apiUrl}/console/playground-token`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ accessKeyId }),
  });
  const tokenFor = async (accessKeyId: string): Promise<Minted> => {
    const res = await mint(accessKeyId);
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json() as Minted;
    minted.push(body.token);
    return body;
  };
  const openai = (apiKey: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey, maxRetries: 0 });
  const chat = (apiKey: string) => openai(apiKey).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

  async function refused(apiKey: string, why: string): Promise<void> {
    await assert.rejects(chat(apiKey), (e: unknown) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `${why}: ${String(e)}`);
      assert.equal((e.error as { code?: string } | undefined)?.code, 'ERR_NGROK_27201', why);
      return true;
    });
  }

  before(async () => {
    h = await startHarness(kind, { TOLLGATE_SECRET_KEY: SECRET_HEX, TOLLGATE_LOG_BODIES: '1' }, { logger: pino({ level: 'info' }, capture) });
    const res = await fetch(`${h.apiUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: BOOTSTRAP }) });
    assert.equal(res.status, 200);
    const setCookie = res.headers.get('set-cookie')!;
    cookie = setCookie.slice(0, setCookie.indexOf(';'));
    csrf = (await res.json() as { csrfToken: string }).csrfToken;
  });
  after(async () => { await h.close(); });

  test('a minted token streams a chat completion through the gateway with the official SDK; usage is that access key\'s', async () => {
    const key = await h.accessKey();
    const before = Date.now();
    const { token, expiresAt, expiresInSeconds, gatewayUrl } = await tokenFor(key.id);
    assert.match(token, /^tgpg_/);
    assert.ok(token !== key.token);
    const lifetime = Date.parse(expiresAt) - before;
    assert.ok(lifetime > 14 * 60_000 && lifetime <= 16 * 60_000, `expires in 15 minutes, got ${lifetime} ms`);
    // And as a lifetime, which the page counts on its own clock (a browser's clock may not agree with this host's).
    assert.ok(expiresInSeconds > 14 * 60 && expiresInSeconds <= 15 * 60, `expiresInSeconds ${expiresInSeconds}`);
    // This process runs the gateway on port 0: the bound port, on the host the console was opened at.
    assert.equal(gatewayUrl, new URL(h.gatewayUrl).origin);

    const { data: stream, response } = await openai(token).chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream please' }] }).withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.ok(text.length > 0);
    assert.ok(usage && usage.total_tokens > 0, 'the usage chunk the page shows');
    const rows = await h.usage(response.headers.get('x-request-id')!, 1);
    assert.equal(rows[0]!.accessKeyId, key.id);
    assert.equal(rows[0]!.statusCode, 200);

    // Wherever an access key is taken: x-api-key (the Anthropic SDK) too.
    const anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(message.content.length > 0);
  });

  test("the token's requests are its key's: the key's configuration scopes them", async () => {
    const onlyAnthropic = await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } } }));
    const { token } = await tokenFor(onlyAnthropic.id);
    await assert.rejects(chat(token), (e: unknown) => e instanceof OpenAI.PermissionDeniedError);
  });

  test("another account's access key, or none, is 404 in the API's not-found shape; no session 401; no CSRF token 403", async () => {
    const other = await createAccount(h.running.store.db, 'other');
    const created = await fetch(`${h.apiUrl}/access-keys`, { method: 'POST', headers: { authorization: `Bearer ${other.apiKey.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'theirs' }) });
    const theirs = await created.json() as { id: string };
    for (const id of [theirs.id, 'aigak_doesnotexist']) {
      const res = await mint(id);
      assert.equal(res.status, 404);
      const body = await res.json() as { errorCode: string; msg: string; details: Record<string, string> };
      assert.equal(body.errorCode, 'ERR_NGROK_27611');
      assert.equal(body.msg, `Access key "${id}" not found.`);
      assert.equal(body.details.field, 'accessKeyId', 'the body\'s member is named');
    }
    // A huge id (the body may be a megabyte) is named by its start only.
    const huge = await mint(`aigak_${'x'.repeat(200_000)}`);
    assert.equal(huge.status, 404);
    const hugeBody = await huge.text();
    assert.ok(hugeBody.length < 1_000, `the 404 echoes ${hugeBody.length} bytes`);
    const mine = await h.accessKey();
    assert.equal((await mint(mine.id, { cookie })).status, 403, 'the cookie without x-csrf-token');
    assert.equal((await mint(mine.id, { cookie, 'x-csrf-token': 'wrong' })).status, 403);
    assert.equal((await mint(mine.id, {})).status, 401, 'no session');
    // An API key is no session: the route is the console's only.
    assert.equal((await mint(mine.id, { authorization: `Bearer ${BOOTSTRAP}` })).status, 401);
    assert.equal((await mint(42)).status, 400);
    const none = await mint('');
    assert.deepEqual([none.status, ((await none.json()) as { details: Record<string, string> }).details.field], [400, 'accessKeyId']);
  });

  test('tampered, expired, foreign-deployment and deleted-key tokens get the gateway\'s 401 for a bad key', async () => {
    const key = await h.accessKey();
    const sibling = await h.accessKey();
    const { token } = await tokenFor(key.id);
    assert.equal((await chat(token)).object, 'chat.completion');

    // Another key of the same account written into the signed part: the signature no longer matches.
    const [signed, signature] = [token.slice(0, token.lastIndexOf('.')), token.slice(token.lastIndexOf('.') + 1)];
    const claims = JSON.parse(Buffer.from(signed.slice('tgpg_'.length), 'base64url').toString('utf8')) as { a: string; k: string; e: number };
    const swapped = `tgpg_${Buffer.from(JSON.stringify({ ...claims, k: sibling.id })).toString('base64url')}.${signature}`;
    await refused(swapped, 'another key id under the same signature');
    const later = `tgpg_${Buffer.from(JSON.stringify({ ...claims, e: claims.e + 3_600_000 })).toString('base64url')}.${signature}`;
    await refused(later, 'a later expiry under the same signature');
    await refused(`${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`, 'an altered signature');
    await refused(signed, 'no signature');

    // Minted 16 minutes ago with this deployment's key: expired.
    const tokens = new PlaygroundTokens(Buffer.from(SECRET_HEX, 'hex'));
    const expired = tokens.mint(h.accountId, key.id, Date.now() - 16 * 60_000);
    assert.ok(expired.expiresAt < Date.now());
    await refused(expired.token, 'expired');
    // Fresh, but signed under another deployment's master key.
    await refused(new PlaygroundTokens(randomBytes(32)).mint(h.accountId, key.id).token, 'another master key');
    // Signed for the key but claiming another account.
    await refused(tokens.mint('acct_someoneelse', key.id).token, 'another account');
    minted.push(swapped, later, expired.token);

    const del = await fetch(`${h.apiUrl}/access-keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${BOOTSTRAP}` } });
    assert.equal(del.status, 204);
    await refused(token, 'the access key was deleted');
    // A key never used here (its token never seen, so not in memory yet) is found by id; refused once deleted as well.
    const fresh = await h.accessKey();
    const freshToken = (await tokenFor(fresh.id)).token;
    assert.equal((await chat(freshToken)).object, 'chat.completion');
    await fetch(`${h.apiUrl}/access-keys/${fresh.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${BOOTSTRAP}` } });
    await refused(freshToken, 'the never-used access key was deleted');
  });

  test('the page may fetch the gateway: connect-src names its origin', { skip: !BUILT && 'console/dist is not built' }, async () => {
    const res = await fetch(`${h.apiUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', new RegExp(`connect-src 'self' ${new URL(h.gatewayUrl).origin.replace(/[.]/g, '\\.')};`));
  });

  test('no token is ever logged (access lines with bodies and headers on, control-plane lines)', async () => {
    // Under a header name that says nothing of a credential too: the value's shape gives it away.
    const { token } = await tokenFor((await h.accessKey()).id);
    const res = await fetch(`${h.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-trace-note': token, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(minted.length >= 4);
    assert.ok(capture.lines.some((l) => l.includes('"requestHeaders"')), 'the access log wrote request headers');
    for (const token of minted) {
      const signature = token.slice(token.lastIndexOf('.') + 1);
      assert.ok(!capture.lines.some((l) => l.includes(signature)), 'a playground token in the log');
    }
  });
});
