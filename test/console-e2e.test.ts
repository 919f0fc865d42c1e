// The web console end to end: a real Tollgate (both planes, temp SQLite), Debian's chromium driven by
// playwright-core, and the seed guide's workflow clicked through the UI. After each UI action the test
// checks through the public API, with the bootstrap key, that the action really happened.
// Screenshots go to a temp dir; TOLLGATE_UPDATE_SCREENSHOTS=1 writes them to docs/screenshots/ instead.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import pino from 'pino';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { loadConfig } from '../src/config/config.ts';
import type { components } from '../src/control/spec-types.ts';
import { startTollgate, type RunningTollgate } from '../src/server.ts';
import { grantCredits } from '../src/store/credits.ts';
import { insertUsageEvents } from '../src/store/usage-events.ts';
import { usageEvent } from './helpers/usage.ts';
import { FAKE_THINKING, startFakeProvider, type FakeProvider } from './fake-upstream.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('..', import.meta.url).pathname;
const SHOTS = process.env.TOLLGATE_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : mkdtempSync(join(tmpdir(), 'tollgate-shots-'));
const BOOTSTRAP = `tgk_e2e_${randomBytes(16).toString('hex')}`;

/** Builds console/dist when it is missing or older than its sources (the install step normally does it). */
function ensureConsoleBuilt(): void {
  const index = join(ROOT, 'console/dist/index.html');
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true })
    .reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'console/src'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'console/vite.config.ts'), '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `console build failed: ${r.stderr}${r.stdout}`);
}

type S = components['schemas'];
interface Api { <T = S['Error']>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }> }

function apiClient(base: string): Api {
  return async <T,>(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${BOOTSTRAP}` }) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  };
}

/** `fullPage` false: the screen as first shown, for a page whose full length (a long list) shows nothing more. */
async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // The fixed status toast would float over arbitrary content in a full-page capture: hide it meanwhile.
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, animations: 'disabled', style: '[data-testid="status"] { visibility: hidden; }' });
}

/** Waits for the polite status region to report an outcome matching `text`. */
async function expectStatus(page: Page, text: string | RegExp): Promise<void> {
  await page.getByTestId('status').filter({ hasText: text }).waitFor({ timeout: 10_000 });
}

async function go(page: Page, route: string, heading: string | RegExp): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(route)}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/**
 * Every form control on the page has an accessible name (a label, or aria-label), and every ARIA reference
 * (aria-controls, -describedby, -labelledby) names an element on the page: one to nothing misleads a screen reader.
 */
async function assertLabelled(page: Page): Promise<void> {
  // Runs in the page (a string, because this program is typed for Node, not the DOM).
  const unlabelled = await page.evaluate<string[]>(`[...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 120))`);
  assert.deepEqual(unlabelled, [], 'form controls without a label');
  const broken = await page.evaluate<string[]>(`[...document.querySelectorAll('[aria-controls], [aria-describedby], [aria-labelledby]')]
    .flatMap((el) => ['aria-controls', 'aria-describedby', 'aria-labelledby']
      .flatMap((a) => (el.getAttribute(a) ?? '').split(/\\s+/).filter((id) => id && !document.getElementById(id)).map((id) => a + '=' + id)))`);
  assert.deepEqual(broken, [], 'ARIA references to elements that are not on the page');
}

/** What has the keyboard focus, for assertion messages: "BODY" is the focus lost. */
async function focusedElement(page: Page): Promise<string> {
  return page.evaluate<string>(`(() => { const el = document.activeElement; return el ? el.tagName + (el.id ? '#' + el.id : '') + ' ' + (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 60) : 'none'; })()`);
}

/** Waits for the window's title (set after the render), failing with the title it has instead. */
async function expectTitle(page: Page, title: string): Promise<void> {
  await poll(`the title ${title}`, async () => (await page.title()) === title || undefined, 2_000).catch(async () => {
    assert.fail(`the title is "${await page.title()}", not "${title}"`);
  });
}

/** Waits until `l` has the focus (it moves after a render, not at a set time), failing with where the focus is instead. */
async function expectFocus(page: Page, l: Locator, what: string): Promise<void> {
  await poll(what, async () => (await isFocused(l)) || undefined, 2_000).catch(async () => {
    assert.fail(`${what}: the focus is on ${await focusedElement(page)}`);
  });
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the element has the keyboard focus (the page's document, reached untyped: this program has no DOM types). */
async function isFocused(l: Locator): Promise<boolean> {
  return l.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement);
}

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** A cost as the console shows it: the API's five-place decimal string, zeros past the cents dropped ($0.015, $0.30). */
function shownUsd(apiCost: string): string {
  assert.match(apiCost, /^\d+\.\d{5}$/, 'the API states costs with five decimal places');
  return `$${apiCost.replace(/0{1,3}$/, '')}`;
}

function within(page: Page, role: 'group' | 'region' | 'form', name: string | RegExp): Locator {
  return page.getByRole(role, { name, exact: true });
}

// A hang's bound, not a speed figure: ~37 s on a quiet machine, 48–56 s with two busy loops beside it (2 cores, as CI).
test('web console: the guide workflow in a real browser', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (bash scripts/run.sh test installs it)`, timeout: 240_000 }, async (t) => {
  ensureConsoleBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-console-'));
  const fake: FakeProvider = await startFakeProvider();
  // Whatever was started is closed even when a later part fails to start: a failed setup ends the test, never
  // hangs the run on an open server.
  let running: RunningTollgate | undefined;
  let context: BrowserContext | undefined;
  t.after(async () => {
    await context?.close();
    await running?.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = loadConfig({
    TOLLGATE_DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}`,
    TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
    TOLLGATE_BOOTSTRAP_API_KEY: BOOTSTRAP,
    TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
    TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL: `${fake.url}/v1`,
    // BYOK requests cost only the processing fee; a large one makes the cost visible at 5 decimals.
    TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '2000',
    TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1',
  }, { apiPort: 0, gatewayPort: 0 });
  running = await startTollgate(config, { logger: pino({ level: 'silent' }) });
  const base = running.apiUrl!;
  const api = apiClient(base);
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'tollgate-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(10_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  let providerKeyId = '';
  let configurationId = '';
  let accessToken = '';
  let accessKeyId = '';

  await t.test('a wrong key is refused with a clear message, the right one signs in', async () => {
    await page.goto(base);
    await expectTitle(page, 'Sign in · Tollgate');
    await page.getByLabel('API key').fill('not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = page.getByRole('alert').filter({ hasText: /Sign-in failed: .*not known to this server/ });
    await refused.waitFor();
    // The button was busy meanwhile, yet kept the focus (a disabled one drops it to <body>).
    await expectFocus(page, page.getByRole('button', { name: 'Sign in' }), 'focus on Sign in after its request');
    // The refusal is the key field's description, so it is read again on going back to the field.
    const keyField = page.getByLabel('API key');
    assert.equal(await keyField.getAttribute('aria-invalid'), 'true');
    const errorId = await refused.getAttribute('id');
    assert.ok(errorId && (await keyField.getAttribute('aria-describedby') ?? '').split(' ').includes(errorId), 'the key field is described by the refusal');
    await assertLabelled(page);
    await shot(page, 'sign-in');
    await page.getByLabel('API key').fill(BOOTSTRAP);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access keys' }).waitFor();
    await expectTitle(page, 'Access keys · Tollgate');
    const [cookie] = await context.cookies(base);
    assert.ok(cookie, 'a session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    assert.ok(!cookie.value.includes(BOOTSTRAP) && cookie.value.length >= 40, 'the cookie holds a random session id, not the key');
  });

  await t.test('cookie sessions are CSRF-protected; Bearer auth is unchanged', async () => {
    const [cookie] = await context.cookies(base);
    const withCookie = { cookie: `${cookie!.name}=${cookie!.value}` };
    assert.equal((await api('GET', '/gateway-config', undefined, withCookie)).status, 200);
    const noToken = await api('PATCH', '/gateway-config', { totalTimeout: '100s' }, withCookie);
    assert.equal(noToken.status, 403);
    assert.match(noToken.body.msg, /x-csrf-token/);
    assert.equal((await api('PATCH', '/gateway-config', { totalTimeout: '100s' }, { ...withCookie, 'x-csrf-token': 'wrong' })).status, 403);
    const { csrfToken } = (await api<{ csrfToken: string }>('GET', '/console/session', undefined, withCookie)).body;
    assert.equal((await api('PATCH', '/gateway-config', { totalTimeout: '100s' }, { ...withCookie, 'x-csrf-token': csrfToken })).status, 200);
    // The page's own fetch without the header is refused too.
    const status = await page.evaluate(() => fetch('/gateway-config', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"totalTimeout":"99s"}' }).then((r) => r.status));
    assert.equal(status, 403);
    for (const authorization of ['Bearer nope', 'Bearer bad token', 'Bearer', 'Basic dXNlcjpwYXNz']) {
      assert.equal((await api('GET', '/access-keys', undefined, { authorization, ...withCookie })).status, 401, `a bad Authorization header (${authorization}) is not rescued by a cookie`);
    }
    assert.equal((await api('GET', '/access-keys')).status, 200);
    assert.equal((await api('GET', '/access-keys', undefined, {})).status, 401);
    // A page or answer that showed a token once is kept by no cache (the back/forward cache included).
    const created = await api<{ token: string }>('POST', '/access-keys', { name: 'cache check' });
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const page0 = await fetch(`${base}/`);
    assert.equal(page0.headers.get('cache-control'), 'no-store');
    assert.match(page0.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    await api('DELETE', `/access-keys/${(created.body as unknown as { id: string }).id}`);
  });

  await t.test('Providers: add a provider key, then rotate it', async () => {
    await go(page, '#/providers', 'Providers');
    await page.getByLabel('Provider for the key').selectOption('openai');
    await page.getByLabel('Key name').fill('openai-primary');
    // A value of blanks passes the browser's `required` but not the API: its refusal is shown at the field it names.
    const secret = page.getByLabel('Secret value');
    await secret.fill('   ');
    await page.getByRole('button', { name: 'Add provider key' }).click();
    // A locator, not waitForFunction: a string predicate still false at first is polled by eval in the page, which
    // the console's CSP (script-src 'self') refuses — the test failed whenever the API answered a little late.
    await page.locator('input[type=password][aria-invalid="true"]').waitFor();
    const describedBy = (await secret.getAttribute('aria-describedby')) ?? '';
    const described = await page.evaluate<string>(`${JSON.stringify(describedBy)}.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')`);
    assert.match(described, /The provider key value must not be empty/, 'the secret field is described by the API refusal');
    // The focus left the submit button for the field to fix, as for a field the browser refuses.
    await expectFocus(page, secret, 'focus on the refused secret field');
    await secret.fill('sk-e2e-original-0001');
    await page.getByRole('button', { name: 'Add provider key' }).click();
    await expectStatus(page, /Provider key openai-primary stored/);
    assert.equal(await secret.getAttribute('aria-invalid'), null, 'the field is no longer marked invalid');
    const listed = (await api<S['AIGatewayProviderAPIKeyList']>('GET', '/provider-keys?provider=openai')).body.aiGatewayProviderKeys;
    const stored = listed.find((k) => k.name === 'openai-primary');
    assert.ok(stored, 'the provider key exists in the API');
    providerKeyId = stored.id;
    assert.ok(!(await page.content()).includes('sk-e2e-original-0001'), 'the secret is not shown again');

    const rotate = page.getByRole('button', { name: 'Rotate openai-primary' });
    const form = within(page, 'form', 'Rotate openai-primary');
    // Escape cancels the inline form and gives the focus back to the button that opened it.
    await rotate.click();
    await form.getByLabel('New secret value').press('Escape');
    await form.waitFor({ state: 'detached' });
    await expectFocus(page, rotate, 'focus back on Rotate after Escape');
    await rotate.click();
    await form.getByLabel('New secret value').fill('sk-e2e-rotated-0002');
    await form.getByRole('button', { name: 'Rotate' }).click();
    await expectStatus(page, /Provider key rotated/);
    // Done, the form is gone: the focus is back on Rotate, not on <body>.
    await form.waitFor({ state: 'detached' });
    await expectFocus(page, rotate, 'focus back on Rotate after rotating');
    const after = (await api<S['AIGatewayProviderAPIKeyDetail']>('GET', `/provider-keys/${providerKeyId}`)).body;
    assert.notEqual(after.keyRedacted, stored.keyRedacted, 'the stored secret changed, same id');
    // Home and End reach the first and last tab, as the ARIA tabs pattern has them.
    await page.getByRole('tab', { name: 'Built-in' }).press('End');
    await expectFocus(page, page.getByRole('tab', { name: 'Custom', selected: true }), 'End selects the last tab');
    await page.keyboard.press('Home');
    await expectFocus(page, page.getByRole('tab', { name: 'Built-in', selected: true }), 'Home selects the first tab');
    await assertLabelled(page);
    await shot(page, 'providers');
  });

  await t.test('Providers: a Bedrock key with its region, then one backed by an IAM role (external ID shown, role set after)', async () => {
    await go(page, '#/providers', 'Providers');
    await page.getByRole('tab', { name: 'Built-in' }).click();
    await page.getByLabel('Provider for the key').selectOption('bedrock');
    await page.getByLabel('Key name').fill('bedrock-api');
    await page.getByLabel('AWS region').fill('us-east-1');
    await page.getByLabel('Secret value').fill('bedrock-api-key-e2e-0001');
    await page.getByRole('button', { name: 'Add provider key' }).click();
    await expectStatus(page, /Provider key bedrock-api stored/);
    const keys = async () => (await api<S['AIGatewayProviderAPIKeyList']>('GET', '/provider-keys?provider=bedrock')).body.aiGatewayProviderKeys;
    assert.equal((await keys()).find((k) => k.name === 'bedrock-api')?.aws?.region, 'us-east-1');

    await page.getByLabel('Key name').fill('bedrock-role');
    await page.getByLabel('AWS region').fill('eu-west-1');
    await page.getByLabel('Use an IAM role instead of a Bedrock API key').check();
    assert.equal(await page.getByLabel('Secret value').count(), 0, 'a role key takes no secret');
    await page.getByRole('button', { name: 'Add provider key' }).click();
    await expectStatus(page, /Provider key bedrock-role created: its role must require the external ID/);
    const made = (await keys()).find((k) => k.name === 'bedrock-role')!;
    const externalId = made.aws!.externalId!;
    const item = page.locator(`li[data-id="${made.id}"]`);
    assert.match(await item.getByTestId('role-key').innerText(), new RegExp(`No role yet · external ID ${externalId}`));
    await item.getByRole('button', { name: 'Set the IAM role of bedrock-role' }).click();
    const form = within(page, 'form', 'Set the IAM role of bedrock-role');
    await form.getByLabel('IAM role ARN').fill('arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock');
    await form.getByRole('button', { name: 'Set role' }).click();
    await expectStatus(page, 'IAM role set.');
    await form.waitFor({ state: 'detached' });
    assert.match(await item.getByTestId('role-key').innerText(), /Role arn:aws:iam::123456789012:role\/ngrok-ai-gateway-bedrock · external ID/);
    assert.equal((await api<S['AIGatewayProviderAPIKeyDetail']>('GET', `/provider-keys/${made.id}`)).body.aws?.roleArn, 'arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock');
    await assertLabelled(page);
    for (const k of await keys()) assert.equal((await api('DELETE', `/provider-keys/${k.id}`)).status, 204);
  });

  await t.test('Providers: create a custom provider with models and surfaces, then delete it after confirming', async () => {
    await page.getByRole('tab', { name: 'Custom' }).click();
    const form = within(page, 'form', 'Create a custom provider');
    await form.getByLabel('Provider id').fill('my-ollama');
    await form.getByLabel('Display name').fill('My Ollama');
    await form.getByLabel('Base URL').fill(`${fake.url}/v1`);
    await form.getByLabel('Models').fill('llama3.2\nqwen3');
    await form.getByLabel('Anthropic messages').check();
    await form.getByRole('button', { name: 'Create provider' }).click();
    await expectStatus(page, 'Provider my-ollama saved.');
    // The form is emptied in place, so its button keeps the focus.
    await expectFocus(page, form.getByRole('button', { name: 'Create provider' }), 'focus on Create provider after creating');
    const created = (await api<S['AIGatewayProviderList']>('GET', '/providers')).body.aiGatewayProviders.find((p) => p.providerId === 'my-ollama');
    assert.ok(created, 'the provider exists in the API');
    assert.deepEqual(created.models?.map((m) => m.modelId).sort(), ['llama3.2', 'qwen3']);
    assert.deepEqual(created.supportedApiSurfaces?.map((x) => `${x.format}/${x.surface}`).sort(), ['anthropic/messages', 'openai/chat-completions']);
    await shot(page, 'providers-custom');
    const card = page.getByRole('article', { name: 'my-ollama' });
    await card.getByRole('button', { name: 'Delete' }).click();
    await card.getByRole('button', { name: 'Yes, delete' }).click();
    await expectStatus(page, 'Provider deleted.');
    assert.equal((await api('GET', `/providers/${created.id}`)).status, 404);
    // The last one deleted, the focus goes to the list (its tab panel) rather than dropping to <body>.
    await card.waitFor({ state: 'detached' });
    await expectFocus(page, page.getByRole('tabpanel'), 'focus on the custom provider list after the delete');
  });

  await t.test('Providers: editing a custom provider keeps what only the API sets (upstream model ids, dropped params, a surface\'s own URL)', async () => {
    // Written through the API: a model rewrite, a param the upstream refuses, a surface with its own base URL and
    // one declared by format alone (its default surface). The console shows none of these, so must not drop them.
    const made = await api<S['AIGatewayProvider']>('POST', '/providers', {
      providerId: 'my-vllm', name: 'My vLLM', baseUrl: `${fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', baseUrl: `${fake.url}/compat/v1` }, { format: 'anthropic' }],
      models: [{ modelId: 'llama3.2', providerModelId: 'meta-llama/Llama-3.2-3B-Instruct', unsupportedParams: ['seed'] }],
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const created = made.body;
    try {
      // Away and back: the providers page reads its lists as it opens.
      await go(page, '#/keys', 'Access keys');
      await go(page, '#/providers', 'Providers');
      await page.getByRole('tab', { name: 'Custom' }).click();
      const card = page.getByRole('article', { name: 'my-vllm' });
      await card.getByRole('button', { name: 'Edit' }).click();
      const form = within(page, 'form', 'Edit provider my-vllm');
      // The format-only surface is its default one (Anthropic messages), and shown as such.
      assert.equal(await form.getByLabel('Anthropic messages').isChecked(), true, 'the format-only anthropic surface is shown as Anthropic messages');
      await form.getByLabel('Display name').fill('My vLLM (renamed)');
      await form.getByLabel('Models').fill('llama3.2\nqwen3');
      await form.getByRole('button', { name: 'Save provider' }).click();
      await expectStatus(page, 'Provider my-vllm saved.');
      const after = (await api<S['AIGatewayProvider']>('GET', `/providers/${created.id}`)).body;
      assert.equal(after.name, 'My vLLM (renamed)');
      const llama = after.models?.find((m) => m.modelId === 'llama3.2');
      assert.equal(llama?.providerModelId, 'meta-llama/Llama-3.2-3B-Instruct', 'the upstream model id survives a console edit');
      assert.deepEqual(llama?.unsupportedParams, ['seed'], 'the unsupported params survive a console edit');
      assert.ok(after.models?.some((m) => m.modelId === 'qwen3'), 'the added model is stored');
      const chat = after.supportedApiSurfaces?.find((s) => s.format === 'openai');
      assert.equal(chat?.baseUrl, `${fake.url}/compat/v1`, 'the surface\'s own base URL survives a console edit');
      assert.equal(after.supportedApiSurfaces?.length, 2);
    } finally {
      await api('DELETE', `/providers/${created.id}`);
    }
  });

  await t.test('Configurations: build the guide example; API validation errors show beside the section', async () => {
    await go(page, '#/configurations', 'Configurations');
    await page.getByRole('link', { name: 'New configuration' }).click();
    await page.getByRole('heading', { level: 1, name: 'New configuration' }).waitFor();
    await page.getByLabel('Configuration name').fill('Production OpenAI BYOK');
    await page.getByLabel('Description').fill('The seed guide example');
    const providers = page.getByTestId('access-providers');
    await providers.getByLabel('Allow only these providers').check();
    await providers.getByText('an empty list blocks every provider').waitFor();
    await providers.getByLabel('openai', { exact: true }).check();
    const models = page.getByTestId('access-models');
    await models.getByLabel('Allow only these models').check();
    await models.getByLabel('Model to allow').fill('openai/gpt-4o');
    await models.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('button', { name: 'Add routing rule' }).click();
    const rule = within(page, 'group', 'Rule 1');
    await rule.getByLabel('Provider', { exact: true }).selectOption('openai');
    // Save before attaching a key: the API refuses, and the message sits in the Routing section.
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.locator('section[aria-labelledby="routing-title"]').getByRole('alert').filter({ hasText: /needs at least one key/ }).waitFor();
    assert.equal((await api<S['AIGatewayAccessKeyConfigurationList']>('GET', '/access-key-configurations')).body.aiGatewayAccessKeyConfigurations.length, 0);

    await rule.getByLabel('Stored key to add').selectOption(providerKeyId);
    await rule.getByRole('button', { name: 'Add key' }).click();
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await expectStatus(page, 'Configuration Production OpenAI BYOK saved.');
    await page.getByRole('heading', { level: 1, name: 'Edit Production OpenAI BYOK' }).waitFor();
    const configs = (await api<S['AIGatewayAccessKeyConfigurationList']>('GET', '/access-key-configurations')).body.aiGatewayAccessKeyConfigurations;
    const saved = configs.find((c) => c.name === 'Production OpenAI BYOK');
    assert.ok(saved);
    configurationId = saved.id;
    assert.deepEqual(saved.access, { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o'] } });
    const rules = saved.router?.rules ?? [];
    assert.equal(rules.length, 1);
    assert.equal(rules[0]!.provider, 'openai');
    assert.equal(rules[0]!.steps[0]!.type, 'user');
    assert.deepEqual(rules[0]!.steps[0]!.keys?.map((k) => k.id), [providerKeyId]);
    await assertLabelled(page);
    await shot(page, 'configuration-editor');
  });

  await t.test('phone: a rule without a provider is caught beside its field; the error message never covers Save and closes', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await go(page, '#/configurations/new', 'New configuration');
      await page.getByLabel('Configuration name').fill('phone check');
      await page.getByRole('button', { name: 'Add routing rule' }).click();
      const rule = within(page, 'group', 'Rule 1');
      await rule.getByLabel('Provider', { exact: true }).selectOption('openai');
      await page.getByRole('button', { name: 'Save configuration' }).click();
      const status = page.getByTestId('status');
      await status.filter({ hasText: 'needs at least one key' }).waitFor();
      // Scrolled to the end, Save is not under the message.
      await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
      const save = page.getByRole('button', { name: 'Save configuration' });
      const box = (await save.boundingBox())!;
      const onTop = await page.evaluate<boolean>(`(() => { const el = document.elementFromPoint(${box.x + box.width / 2}, ${box.y + box.height / 2}); return !!el && !!el.closest('button') && el.closest('button').textContent.includes('Save configuration'); })()`);
      assert.equal(onTop, true, 'the status message covers Save configuration');
      // × closes it, and so does Escape.
      await status.getByRole('button', { name: 'Dismiss message' }).click();
      await status.filter({ hasText: 'needs at least one key' }).waitFor({ state: 'detached', timeout: 2_000 });
      await save.click();
      await status.filter({ hasText: 'needs at least one key' }).waitFor();
      await page.keyboard.press('Escape');
      await status.filter({ hasText: 'needs at least one key' }).waitFor({ state: 'detached', timeout: 2_000 });
      await save.click();
      // The API's refusal names the rule as the editor does (Rule 1, not rules[0]) and sits in that rule.
      await rule.getByRole('alert').filter({ hasText: /Rule 1, step 1: a "user" step needs at least one key/ }).waitFor();
      await status.filter({ hasText: 'Rule 1, step 1' }).waitFor();
      assert.doesNotMatch(await status.innerText(), /rules\[0\]/);
      // Shown inline (role=alert) already: the status bar shows it without announcing it a second time.
      assert.equal(await status.getByRole('status').getByText(/needs at least one key/).evaluate((el) => el.closest('[aria-hidden="true"]') !== null), true);

      // A rule without a provider is checked in the browser: nothing sent, the message is on the field
      // (invalid, described by it), and the focus goes there.
      await page.getByRole('button', { name: 'Add routing rule' }).click();
      const rule2 = within(page, 'group', 'Rule 2');
      // The new rule takes the focus at its first control.
      await expectFocus(page, rule2.getByLabel('Applies to'), 'focus on the new rule');
      const posts: string[] = [];
      const onRequest = (r: { method(): string; url(): string }) => { if (r.method() === 'POST') posts.push(r.url()); };
      page.on('request', onRequest);
      await save.click();
      const provider = rule2.getByLabel('Provider', { exact: true });
      await rule2.getByRole('alert').filter({ hasText: 'Rule 2: choose the provider' }).waitFor();
      assert.equal(await provider.getAttribute('aria-invalid'), 'true');
      assert.match(await provider.getAttribute('aria-describedby') ?? '', /-error/);
      await poll('focus on the field to fix', async () => (await isFocused(provider)) || undefined, 2_000);
      page.off('request', onRequest);
      assert.deepEqual(posts, [], 'a rule without a provider is not sent');
      assert.equal((await api<S['AIGatewayAccessKeyConfigurationList']>('GET', '/access-key-configurations')).body.aiGatewayAccessKeyConfigurations.length, 1);
      // Removing it passes the focus to the rule before it, not to <body> with the removed button.
      await rule2.getByRole('button', { name: 'Remove Rule 2', exact: true }).click();
      await rule2.waitFor({ state: 'detached' });
      await expectFocus(page, rule.getByRole('button', { name: 'Remove Rule 1', exact: true }), 'focus on the previous rule after a removal');
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  await t.test('Access keys: create, copy the token once, edit and assign the configuration', async () => {
    await go(page, '#/keys', 'Access keys');
    await page.getByLabel('Name', { exact: true }).fill('e2e app');
    await page.getByRole('button', { name: 'Create access key' }).click();
    await expectStatus(page, 'Access key e2e app created.');
    await page.getByText('you will not see it again').waitFor();
    accessToken = await page.getByTestId('new-secret').inputValue();
    assert.ok(accessToken.length > 20);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expectStatus(page, 'Access key token copied to the clipboard.');
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), accessToken);
    const keys = (await api<S['AIGatewayAccessKeyList']>('GET', '/access-keys')).body.aiGatewayAccessKeys;
    const created = keys.find((k) => k.name === 'e2e app');
    assert.ok(created, 'the access key exists in the API');
    accessKeyId = created.id;
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await assert.rejects(page.getByTestId('new-secret').waitFor({ timeout: 300 }), 'the token is gone once dismissed');
    await poll('focus to the create form', async () => (await page.evaluate<string>('document.activeElement?.tagName ?? ""')) === 'INPUT' || undefined, 2_000);

    await page.getByRole('button', { name: 'Edit e2e app' }).click();
    const form = within(page, 'form', 'Edit access key e2e app');
    await form.getByLabel('Description').fill('made by the console test');
    await form.getByLabel('Metadata').fill('{"team":"e2e"}');
    await form.getByLabel('Configuration').selectOption({ label: 'Production OpenAI BYOK' });
    await form.getByRole('button', { name: 'Save' }).click();
    await expectStatus(page, 'Access key saved.');
    // The inline form closed with its Save button: the focus goes back to the Edit button that opened it.
    await form.waitFor({ state: 'detached' });
    await expectFocus(page, page.getByRole('button', { name: 'Edit e2e app' }), 'focus back on Edit after saving');
    const after = (await api<S['AIGatewayAccessKey']>('GET', `/access-keys/${accessKeyId}`)).body;
    assert.equal(after.accessKeyConfiguration?.id, configurationId);
    assert.equal(after.description, 'made by the console test');
    assert.equal(after.metadata, '{"team":"e2e"}');
    await page.locator(`tr[data-id="${accessKeyId}"]`).getByRole('link', { name: 'Production OpenAI BYOK' }).waitFor();
    await assertLabelled(page);
    await shot(page, 'access-keys');
  });

  await t.test('keyboard: between the configuration list and an editor the focus goes to the new heading', async () => {
    await go(page, '#/configurations', 'Configurations');
    // Followed by Enter, the link (and its list) is gone: the editor's heading takes the focus once it has loaded,
    // replacing the "Configuration" heading shown while loading.
    await page.getByRole('link', { name: 'Production OpenAI BYOK' }).press('Enter');
    await expectFocus(page, page.getByRole('heading', { level: 1, name: 'Edit Production OpenAI BYOK' }), 'focus on the editor heading');
    await expectTitle(page, 'Configurations · Tollgate');
    await page.getByRole('link', { name: '← All configurations' }).press('Enter');
    await expectFocus(page, page.getByRole('heading', { level: 1, name: 'Configurations' }), 'focus on the list heading');
  });

  await t.test('Virtual models: create with ordered models (pinned, any provider, typed), reorder, refusals beside what they name, delete', async () => {
    await go(page, '#/virtual-models', 'Virtual models');
    await expectTitle(page, 'Virtual models · Tollgate');
    await page.getByText('No virtual models yet.').waitFor();
    await page.getByRole('link', { name: 'Create virtual model' }).click();
    await page.getByRole('heading', { level: 1, name: 'Create virtual model' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('fast-chat');
    await page.getByLabel('Description').fill('OpenAI first, then Claude');
    const picker = within(page, 'group', 'Add a model');
    // The model to try first, pinned to one provider; then a fallback any provider may serve.
    await picker.getByLabel('Model', { exact: true }).selectOption('openai/gpt-4o');
    await picker.getByLabel('Provider', { exact: true }).selectOption('openai');
    await picker.getByRole('button', { name: 'Add model', exact: true }).click();
    await picker.getByLabel('Model', { exact: true }).selectOption('anthropic/claude-sonnet-4-6');
    await picker.getByLabel('Provider', { exact: true }).selectOption({ label: 'Any provider (anthropic/claude-sonnet-4-6)' });
    await picker.getByRole('button', { name: 'Add model', exact: true }).click();
    // A typed model no request could use: the API's refusal sits at that model, which takes the focus; nothing is made.
    await picker.getByLabel('Other model').fill('nope:no-such-model');
    await picker.getByRole('button', { name: 'Add this model' }).click();
    const list = page.getByRole('list', { name: 'Models, in the order they are tried' });
    assert.deepEqual(await list.locator('li').evaluateAll((els) => els.map((el) => el.getAttribute('data-target'))), ['openai:gpt-4o', 'anthropic/claude-sonnet-4-6', 'nope:no-such-model']);
    await page.getByRole('button', { name: 'Save virtual model' }).click();
    const bad = list.locator('li[data-target="nope:no-such-model"]');
    await bad.getByRole('alert').filter({ hasText: "nope:no-such-model isn't a valid model." }).waitFor();
    await expectFocus(page, bad.getByRole('button', { name: 'Remove nope:no-such-model' }), 'focus on the refused model');
    assert.equal((await api<S['AIGatewayVirtualModelList']>('GET', '/virtual-models')).body.aiGatewayVirtualModels.length, 0);
    await bad.getByRole('button', { name: 'Remove nope:no-such-model' }).click();
    await bad.waitFor({ state: 'detached' });
    await expectFocus(page, list.getByRole('button', { name: 'Remove anthropic/claude-sonnet-4-6' }), 'focus on the model before the removed one');
    await page.getByRole('button', { name: 'Save virtual model' }).click();
    await expectStatus(page, 'Virtual model fast-chat saved.');
    await page.getByRole('heading', { level: 1, name: 'Edit fast-chat' }).waitFor();
    const [made] = (await api<S['AIGatewayVirtualModelList']>('GET', '/virtual-models')).body.aiGatewayVirtualModels;
    assert.ok(made, 'the virtual model exists in the API');
    assert.equal(made.name, 'fast-chat');
    assert.equal(made.description, 'OpenAI first, then Claude');
    assert.deepEqual(made.targets, ['openai:gpt-4o', 'anthropic/claude-sonnet-4-6']);

    // Claude first now: the focus follows the moved model (its ↑, now disabled at the top, hands it to ↓).
    await list.getByRole('button', { name: 'Move anthropic/claude-sonnet-4-6 up' }).click();
    await expectFocus(page, list.locator('li').first().getByRole('button', { name: 'Move anthropic/claude-sonnet-4-6 down' }), 'focus follows the moved model');
    // A name the API refuses: its message is at the Name field, which takes the focus.
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('fast chat');
    await page.getByRole('button', { name: 'Save virtual model' }).click();
    await page.locator('input[aria-invalid="true"]').waitFor();
    const described = await page.evaluate<string>(`${JSON.stringify((await name.getAttribute('aria-describedby')) ?? '')}.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')`);
    assert.match(described, /Virtual model names can use letters, numbers/);
    await expectFocus(page, name, 'focus on the refused name');
    await name.fill('fast-chat');
    await page.getByRole('button', { name: 'Save virtual model' }).click();
    await expectStatus(page, 'Virtual model fast-chat saved.');
    assert.equal(await name.getAttribute('aria-invalid'), null, 'the name is no longer marked invalid');
    assert.deepEqual((await api<S['AIGatewayVirtualModel']>('GET', `/virtual-models/${made.id}`)).body.targets, ['anthropic/claude-sonnet-4-6', 'openai:gpt-4o']);
    // Automatic selection is a choice (no provider to pick); beside other models the API's refusal shows under the list.
    await picker.getByLabel('Model', { exact: true }).selectOption({ label: 'Automatic selection (ngrok/auto)' });
    assert.equal(await picker.getByLabel('Provider', { exact: true }).count(), 0, 'no provider for automatic selection');
    await picker.getByRole('button', { name: 'Add model', exact: true }).click();
    await list.locator('li[data-target="ngrok/auto"]').getByText('(automatic selection)').waitFor();
    await page.getByRole('button', { name: 'Save virtual model' }).click();
    await page.getByRole('alert').filter({ hasText: "'ngrok/auto' must be the only model in a virtual model." }).waitFor();
    await list.getByRole('button', { name: 'Remove ngrok/auto' }).click();
    assert.deepEqual((await api<S['AIGatewayVirtualModel']>('GET', `/virtual-models/${made.id}`)).body.targets, ['anthropic/claude-sonnet-4-6', 'openai:gpt-4o'], 'nothing saved');
    await assertLabelled(page);
    await shot(page, 'virtual-model-editor');

    await page.getByRole('link', { name: '← All virtual models' }).click();
    const row = page.locator(`tr[data-id="${made.id}"]`);
    await row.waitFor();
    assert.deepEqual(await row.locator('ol li').allInnerTexts(), ['anthropic/claude-sonnet-4-6 (any provider)', 'openai:gpt-4o (only openai)']);
    await row.getByText('OpenAI first, then Claude').waitFor();
    await assertLabelled(page);
    await shot(page, 'virtual-models');
    await row.getByRole('button', { name: 'Delete' }).click();
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    await expectStatus(page, 'Virtual model deleted.');
    await row.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/virtual-models/${made.id}`)).status, 404);
  });

  await t.test('Firewall: a policy with request and response rules, a refused pattern at its field, saved, listed, deleted', async () => {
    await go(page, '#/firewall', 'Firewall');
    await expectTitle(page, 'Firewall · Tollgate');
    await page.getByText('No Firewall policies yet.').waitFor();
    await page.getByRole('link', { name: 'New firewall policy' }).click();
    await page.getByRole('heading', { level: 1, name: 'New firewall policy' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Coding agent guard');
    assert.equal(await page.getByLabel('Mode').inputValue(), 'audit', 'a new policy starts in Dry run');
    // A response rule on tool names, then a request rule whose pattern RE2 refuses.
    const responseRules = within(page, 'region', 'Response rules');
    await responseRules.getByRole('button', { name: 'Add rule' }).click();
    await expectFocus(page, responseRules.getByLabel('Rule name'), 'focus on the new rule');
    await responseRules.getByLabel('Rule name').fill('Force push');
    await responseRules.getByLabel('Tool names').fill('git_push_force\nmcp__github__*');
    const requestRules = within(page, 'region', 'Request rules');
    await requestRules.getByRole('button', { name: 'Add rule' }).click();
    await requestRules.getByLabel('Rule name').fill('AWS keys');
    await requestRules.getByLabel('Type').selectOption('regex');
    await requestRules.getByLabel('Tool results').check();
    const pattern = requestRules.getByLabel('Pattern');
    await pattern.fill('AKIA[0-9A-Z{16}');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await requestRules.getByRole('alert').filter({ hasText: /rules\[1\] \("AWS keys"\): "pattern" is not a valid RE2 pattern/ }).waitFor();
    await expectFocus(page, pattern, 'focus on the refused pattern');
    assert.equal((await api<S['AIGatewayFirewallPolicyList']>('GET', '/firewall-policies')).body.aiGatewayFirewallPolicies.length, 0);
    await pattern.fill('AKIA[0-9A-Z]{16}');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await expectStatus(page, 'Firewall policy Coding agent guard saved.');
    await page.getByRole('heading', { level: 1, name: 'Edit Coding agent guard' }).waitFor();
    const [made] = (await api<S['AIGatewayFirewallPolicyList']>('GET', '/firewall-policies')).body.aiGatewayFirewallPolicies;
    assert.ok(made, 'the policy exists in the API');
    assert.deepEqual([made.mode, made.onError], ['audit', 'block']);
    assert.deepEqual(made.rules, [
      { name: 'Force push', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['git_push_force', 'mcp__github__*'] },
      { name: 'AWS keys', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['toolResults'], pattern: 'AKIA[0-9A-Z]{16}' },
    ]);
    await page.getByLabel('Mode').selectOption('enforce');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await expectStatus(page, 'Firewall policy Coding agent guard saved.');
    assert.equal((await api<S['AIGatewayFirewallPolicy']>('GET', `/firewall-policies/${made.id}`)).body.mode, 'enforce');
    await assertLabelled(page);

    await page.getByRole('link', { name: '← All Firewall policies' }).click();
    const row = page.locator(`tr[data-id="${made.id}"]`);
    await row.waitFor();
    await row.getByText('1 request, 1 response').waitFor();
    await assertLabelled(page);
    await row.getByRole('button', { name: 'Delete' }).click();
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    await expectStatus(page, 'Firewall policy deleted.');
    await row.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/firewall-policies/${made.id}`)).status, 404);
  });

  await t.test('Firewall: attach a policy to every key (settings) and to a configuration, a policy deleted meanwhile refused at its picker, then clear both', async () => {
    const make = async (name: string) => {
      const made = await api<S['AIGatewayFirewallPolicy']>('POST', '/firewall-policies', { name, rules: [] });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.id;
    };
    const allKeys = await make('All-keys guard');
    const agents = await make('Agent guard');
    const doomed = await make('Doomed guard');
    const gatewayPatch = () => page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/gateway-config'));
    try {
      // The account's all-keys policy: only the picker's change is sent.
      await go(page, '#/settings', 'Credits & settings');
      const accountPicker = page.getByLabel('All-keys Firewall policy');
      assert.equal(await accountPicker.inputValue(), '', 'none attached yet');
      await accountPicker.selectOption({ label: 'All-keys guard' });
      let sent = gatewayPatch();
      await page.getByRole('button', { name: 'Save gateway settings' }).click();
      assert.deepEqual((await sent).postDataJSON(), { firewallPolicyId: allKeys });
      await expectStatus(page, 'Gateway settings saved.');
      assert.equal((await api<S['AIGatewayConfig']>('GET', '/gateway-config')).body.firewallPolicyId, allKeys);
      assert.equal((await api<S['AIGatewayFirewallPolicy']>('GET', `/firewall-policies/${allKeys}`)).body.allKeys, true);
      await assertLabelled(page);
      await go(page, '#/firewall', 'Firewall');
      await page.locator(`tr[data-id="${allKeys}"]`).getByText('All keys').waitFor();

      // A configuration's policy: chosen in the editor, named in the list.
      await go(page, `#/configurations/${configurationId}`, 'Edit Production OpenAI BYOK');
      const picker = page.getByLabel('Firewall policy', { exact: true });
      assert.equal(await picker.inputValue(), '');
      await picker.selectOption({ label: 'Agent guard' });
      await page.getByRole('button', { name: 'Save configuration' }).click();
      await expectStatus(page, 'Configuration Production OpenAI BYOK saved.');
      assert.equal((await api<S['AIGatewayAccessKeyConfiguration']>('GET', `/access-key-configurations/${configurationId}`)).body.firewallPolicyId, agents);
      await assertLabelled(page);
      await page.getByRole('link', { name: '← All configurations' }).click();
      await page.locator(`tr[data-id="${configurationId}"] td[data-label="Firewall policy"]`).filter({ hasText: 'Agent guard' }).waitFor();

      // The chosen policy deleted in another tab before Save: the refusal names it at the picker, which takes the focus.
      await go(page, `#/configurations/${configurationId}`, 'Edit Production OpenAI BYOK');
      await picker.selectOption({ label: 'Doomed guard' });
      assert.equal((await api('DELETE', `/firewall-policies/${doomed}`)).status, 204);
      await page.getByRole('button', { name: 'Save configuration' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'Firewall policy “Doomed guard” was not found' });
      await refusal.waitFor();
      assert.equal(await picker.getAttribute('aria-invalid'), 'true');
      assert.ok((await picker.getAttribute('aria-describedby') ?? '').split(' ').includes(await refusal.getAttribute('id') ?? '-'), 'the picker is described by the refusal');
      await expectFocus(page, picker, 'focus on the Firewall policy picker');
      assert.equal(await page.getByRole('alert').filter({ hasText: 'not found' }).count(), 1, 'shown once, at the picker');
      assert.equal((await api<S['AIGatewayAccessKeyConfiguration']>('GET', `/access-key-configurations/${configurationId}`)).body.firewallPolicyId, agents);

      // None clears both.
      await picker.selectOption({ label: 'None' });
      await page.getByRole('button', { name: 'Save configuration' }).click();
      await expectStatus(page, 'Configuration Production OpenAI BYOK saved.');
      assert.equal(await picker.getAttribute('aria-invalid'), null);
      assert.equal((await api<S['AIGatewayAccessKeyConfiguration']>('GET', `/access-key-configurations/${configurationId}`)).body.firewallPolicyId, undefined);
      await go(page, '#/settings', 'Credits & settings');
      assert.equal(await accountPicker.inputValue(), allKeys, 'the attached policy is shown');
      await accountPicker.selectOption({ label: 'None' });
      sent = gatewayPatch();
      await page.getByRole('button', { name: 'Save gateway settings' }).click();
      assert.deepEqual((await sent).postDataJSON(), { firewallPolicyId: null });
      await expectStatus(page, 'Gateway settings saved.');
      assert.equal((await api<S['AIGatewayConfig']>('GET', '/gateway-config')).body.firewallPolicyId, null);
    } finally {
      await api('PATCH', '/gateway-config', { firewallPolicyId: null });
      await api('PATCH', `/access-key-configurations/${configurationId}`, { firewallPolicyId: null });
      for (const id of [allKeys, agents, doomed]) await api('DELETE', `/firewall-policies/${id}`);
    }
  });

  await t.test('MCP servers: add one with a secret (hasSecret, never shown), refusals at their field, rotate by edit, restrict a configuration to it, the limit by Save, delete', async () => {
    const keysOf = async (label: string) => (await api<S['AIGatewayProviderAPIKeyList']>('GET', `/provider-keys?provider=mcp:${label}`)).body.aiGatewayProviderKeys;
    const filler: string[] = [];
    try {
      await go(page, '#/mcp-servers', 'MCP servers');
      await expectTitle(page, 'MCP servers · Tollgate');
      await page.getByText('No MCP servers yet.').waitFor();
      await page.getByRole('link', { name: 'Add MCP server' }).click();
      await page.getByRole('heading', { level: 1, name: 'Add MCP server' }).waitFor();
      const label = page.getByLabel('Label', { exact: true });
      await label.fill('docs__search');
      await page.getByLabel('Upstream URL').fill('http://127.0.0.1:9/mcp');
      // Each auth type shows only its own fields.
      const authType = page.getByLabel('Auth type');
      await authType.selectOption('forwardHeaders');
      await page.getByLabel('Headers to forward').waitFor();
      assert.equal(await page.getByLabel('Secret value').count(), 0);
      await authType.selectOption('secret');
      assert.equal(await page.getByLabel('Headers to forward').count(), 0);
      assert.deepEqual([await page.getByLabel('Send the secret in').inputValue(), await page.getByLabel('Header name').inputValue(), await page.getByLabel('Prefix').inputValue()], ['header', 'Authorization', 'Bearer ']);
      await page.getByLabel('Send the secret in').selectOption('query');
      assert.equal(await page.getByLabel('Prefix').count(), 0, 'no prefix for a query parameter');
      await page.getByLabel('Send the secret in').selectOption('header');
      const secret = page.getByLabel('Secret value');
      await secret.fill('   ');
      // The API refuses the label (its "__" separates a label from a tool name): said at the Label field, which takes the focus.
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      const labelRefusal = page.getByRole('alert').filter({ hasText: 'not "__"' });
      await labelRefusal.waitFor();
      assert.equal(await label.getAttribute('aria-invalid'), 'true');
      await expectFocus(page, label, 'focus on the refused label');
      assert.equal((await api<S['AIGatewayMcpServerList']>('GET', '/mcp-servers')).body.aiGatewayMcpServers.length, 0);
      await label.fill('docs');
      // The server is written, its secret refused: said at the Secret field; the form now edits that server.
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      await page.getByRole('alert').filter({ hasText: 'The provider key value must not be empty.' }).waitFor();
      assert.equal(await secret.getAttribute('aria-invalid'), 'true');
      await expectFocus(page, secret, 'focus on the refused secret');
      await page.getByRole('heading', { level: 1, name: 'Edit docs' }).waitFor();
      const [first] = (await api<S['AIGatewayMcpServerList']>('GET', '/mcp-servers')).body.aiGatewayMcpServers;
      assert.ok(first, 'the server is written before its secret');
      assert.equal(first.hasSecret, false);
      assert.equal(await page.evaluate<string>('location.hash'), `#/mcp-servers/${first.id}`);
      await secret.fill('s3cret-upstream-value');
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      await expectStatus(page, 'MCP server docs saved.');
      const [made, twice] = (await api<S['AIGatewayMcpServerList']>('GET', '/mcp-servers')).body.aiGatewayMcpServers;
      assert.ok(made, 'the server exists in the API');
      assert.equal(twice, undefined, 'saved again as an update of the server written, not a second create');
      assert.deepEqual([made.label, made.upstreamUrl, made.auth, made.hasSecret], ['docs', 'http://127.0.0.1:9/mcp', { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' }, true]);
      const [key] = await keysOf('docs');
      assert.ok(key, 'the secret is the mcp:docs provider key');
      await page.getByTestId('mcp-url').filter({ hasText: made.url }).waitFor();
      // Write-only: the field is empty again, and the value is nowhere on the page.
      assert.equal(await secret.inputValue(), '');
      assert.equal((await page.content()).includes('s3cret-upstream-value'), false);
      await page.getByText('A secret is stored').waitFor();
      await assertLabelled(page);

      // A new value replaces the stored one: the same key, rotated.
      await page.getByLabel('Description').fill('Product docs');
      await secret.fill('rotated-upstream-value');
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      await expectStatus(page, 'MCP server docs saved.');
      const rotated = await keysOf('docs');
      assert.deepEqual(rotated.map((k) => k.id), [key.id], 'rotated, not a second key');
      assert.notEqual(rotated[0]!.keyRedacted, key.keyRedacted);
      assert.equal((await api<S['AIGatewayMcpServer']>('GET', `/mcp-servers/${made.id}`)).body.description, 'Product docs');
      // Renaming while the label has its secret: ngrok's conflict, at the Label field; nothing changes.
      await label.fill('docs-v2');
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      await page.getByRole('alert').filter({ hasText: 'still has provider keys' }).waitFor();
      assert.equal(await label.getAttribute('aria-invalid'), 'true');
      await expectFocus(page, label, 'focus on the label the conflict is about');
      assert.equal((await api<S['AIGatewayMcpServer']>('GET', `/mcp-servers/${made.id}`)).body.label, 'docs');
      await label.fill('docs');

      await page.getByRole('link', { name: '← All MCP servers' }).click();
      const row = page.locator(`tr[data-id="${made.id}"]`);
      await row.waitFor();
      await row.locator('td[data-label="Secret"]').filter({ hasText: 'Set' }).waitFor();
      await row.locator('td[data-label="Gateway path"]').filter({ hasText: made.url }).waitFor();
      await row.getByText('Secret in header Authorization').waitFor();
      await assertLabelled(page);

      // A configuration restricted to the server and one of its tools.
      await go(page, `#/configurations/${configurationId}`, 'Edit Production OpenAI BYOK');
      const servers = page.getByTestId('access-mcpServers');
      await servers.getByLabel('Allow only these MCP servers').check();
      await servers.getByLabel('docs', { exact: true }).check();
      const tools = page.getByTestId('access-mcpTools');
      await tools.getByLabel('Allow only these MCP tools').check();
      const pattern = tools.getByLabel('Tool pattern to allow');
      await pattern.fill('search');
      await tools.getByRole('button', { name: 'Add tool pattern' }).click();
      await tools.getByRole('alert').filter({ hasText: 'Write it as <label>/<tool>' }).waitFor();
      assert.equal(await pattern.getAttribute('aria-invalid'), 'true');
      assert.equal(await tools.getByRole('list', { name: 'Allowed MCP tools' }).getByRole('listitem').count(), 0, 'a malformed pattern is not added');
      await pattern.fill('docs/search');
      await tools.getByRole('button', { name: 'Add tool pattern' }).click();
      await tools.getByRole('button', { name: 'Remove tool pattern docs/search' }).waitFor();
      await page.getByRole('button', { name: 'Save configuration' }).click();
      await expectStatus(page, 'Configuration Production OpenAI BYOK saved.');
      const restricted = (await api<S['AIGatewayAccessKeyConfiguration']>('GET', `/access-key-configurations/${configurationId}`)).body.access;
      assert.deepEqual([restricted?.mcpServers, restricted?.mcpTools], [{ allow: ['docs'] }, { allow: ['docs/search'] }]);
      assert.deepEqual(restricted?.models, { allow: ['openai/gpt-4o'] }, 'the other dimensions are kept');
      await assertLabelled(page);
      await page.getByRole('link', { name: '← All configurations' }).click();
      await page.locator(`tr[data-id="${configurationId}"] td[data-label="Access"]`).filter({ hasText: 'MCP servers docs; MCP tools docs/search' }).waitFor();
      // Back to allow all: the lists are removed, not emptied.
      await go(page, `#/configurations/${configurationId}`, 'Edit Production OpenAI BYOK');
      await servers.getByLabel('Allow all MCP servers').check();
      await tools.getByLabel('Allow all MCP tools').check();
      await page.getByRole('button', { name: 'Save configuration' }).click();
      await expectStatus(page, 'Configuration Production OpenAI BYOK saved.');
      const reopened = (await api<S['AIGatewayAccessKeyConfiguration']>('GET', `/access-key-configurations/${configurationId}`)).body.access;
      assert.deepEqual([reopened?.mcpServers, reopened?.mcpTools], [undefined, undefined]);

      // The account's limit: said by Save, not at a field.
      for (let i = 1; i < 50; i++) {
        const r = await api<S['AIGatewayMcpServer']>('POST', '/mcp-servers', { label: `filler-${i}`, upstreamUrl: 'http://127.0.0.1:9/mcp' });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        filler.push(r.body.id);
      }
      await go(page, '#/mcp-servers/new', 'Add MCP server');
      await label.fill('one-too-many');
      await page.getByLabel('Upstream URL').fill('http://127.0.0.1:9/mcp');
      await page.getByRole('button', { name: 'Save MCP server' }).click();
      const limit = page.locator('form > .error-note').filter({ hasText: 'at most 50 MCP servers' });
      await limit.waitFor();
      assert.equal(await label.getAttribute('aria-invalid'), null, 'the limit is no field\'s');
      for (const id of filler.splice(0)) await api('DELETE', `/mcp-servers/${id}`);

      // Delete, after a confirmation that says the secret stays with its label.
      await go(page, '#/mcp-servers', 'MCP servers');
      await row.getByRole('button', { name: 'Delete' }).click();
      await row.getByRole('group', { name: /Its secret \(provider key mcp:docs\) stays under Providers/ }).waitFor();
      await row.getByRole('button', { name: 'Yes, delete' }).click();
      await expectStatus(page, 'MCP server deleted.');
      await row.waitFor({ state: 'detached' });
      assert.equal((await api('GET', `/mcp-servers/${made.id}`)).status, 404);
      assert.equal((await keysOf('docs')).length, 1, 'the key stays with its label, as the API keeps it');
    } finally {
      for (const id of filler) await api('DELETE', `/mcp-servers/${id}`);
      for (const k of await keysOf('docs')) await api('DELETE', `/provider-keys/${k.id}`);
      await api('PATCH', `/access-key-configurations/${configurationId}`, { access: { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o'] } } });
    }
  });

  await t.test('a request through the gateway shows in Logs with its cost and in the Usage chart', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    // The guide's BYOK configuration: the rotated stored key goes upstream; the account pays the fee.
    const client = new OpenAI({ apiKey: accessToken, baseURL: `${running.gatewayUrl}/v1`, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hello from the console test' }] });
    assert.ok(reply.choices[0]?.message.content);
    assert.equal(fake.requests.at(-1)?.headers.authorization, 'Bearer sk-e2e-rotated-0002', 'the rotated provider key was used upstream');
    const since = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
    const event = await poll('the usage event', async () => {
      const list = (await api<S['AIGatewayUsageList']>('GET', `/usage?startTime=${since}&includeRetries=true`)).body.aiGatewayUsage;
      return list[0];
    });
    assert.equal(event.accessKeyId, accessKeyId);
    assert.equal(event.keySource, 'user');
    assert.ok(Number(event.totalCost) > 0, `the request has a cost: ${JSON.stringify(event)}`);

    await go(page, '#/logs', 'Logs');
    const row = page.locator(`tr[data-request-id="${event.requestId}"]`);
    await row.waitFor();
    // Costs read as the API states them (five places, zeros past the cents dropped), never rounded to a cent.
    assert.equal(await row.getByTestId('cost').innerText(), shownUsd(event.totalCost));
    await row.getByText('user', { exact: true }).waitFor();
    await row.getByRole('button').click();
    const attempts = page.getByRole('region', { name: `Attempts of request ${event.requestId}` });
    await attempts.getByRole('heading', { name: 'Attempt 1 (final)' }).waitFor();
    // The account's own key: the cost is the processing fee alone, and the attempt says so.
    assert.equal(event.ngrokProcessingFee, event.totalCost);
    assert.equal(await attempts.getByTestId('attempt-cost').innerText(), `${shownUsd(event.totalCost)} (processing fee ${shownUsd(event.totalCost)})`);
    // Request capture is off until turned on in Settings: the panel says why no bodies are shown.
    await attempts.getByTestId('capture-none').waitFor();
    await assertLabelled(page);
    await shot(page, 'logs');

    await go(page, '#/usage', 'Usage');
    const overview = (await api<S['AIGatewayUsageOverview']>('GET', `/usage/overview?startTime=${new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`)).body;
    assert.equal(overview.totals.requests, 1);
    await page.getByTestId('total-requests').filter({ hasText: '1' }).waitFor();
    // The window's cost is the API's total to the last of its five places, as is each day in the table.
    assert.equal(await page.getByTestId('total-cost').innerText(), shownUsd(overview.totals.cost));
    const costSummary = await page.getByTestId('chart-cost').getAttribute('aria-label') ?? '';
    assert.ok(costSummary.startsWith(`Cost per day: ${shownUsd(overview.totals.cost)} in total`), costSummary);
    assert.match(await page.getByTestId('chart-requests').getAttribute('aria-label') ?? '', /Requests per day: 1 in total .* openai/);
    await page.getByText('Show the numbers as a table').click();
    await page.getByTestId('usage-table').getByRole('row').filter({ hasText: 'openai' }).waitFor();
    assert.equal(await page.getByTestId('usage-table').getByRole('row').filter({ hasText: 'openai' }).getByRole('cell').last().innerText(), shownUsd(overview.buckets[0]!.cost));
    await shot(page, 'usage');
  });

  await t.test('Logs: a status filter searches past the loaded page; opening a request shows and focuses its attempts, naming the key', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    // One failed request (a stored key the fake provider answers 500 to), then more than a page of good ones.
    const broken = (await api<S['AIGatewayProviderAPIKeyDetail']>('POST', '/provider-keys', { providerId: 'openai', name: 'broken key', value: 'sk-500' })).body;
    const brokenConfig = (await api<S['AIGatewayAccessKeyConfiguration']>('POST', '/access-key-configurations', { name: 'broken only', router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: broken.id }] }] }] } })).body;
    const brokenApp = (await api<{ token: string }>('POST', '/access-keys', { name: 'broken app', accessKeyConfigurationId: brokenConfig.id })).body;
    const failing = new OpenAI({ apiKey: brokenApp.token, baseURL: `${running.gatewayUrl}/v1`, maxRetries: 0 });
    await assert.rejects(failing.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'fail' }] }));
    const client = new OpenAI({ apiKey: accessToken, baseURL: `${running.gatewayUrl}/v1`, maxRetries: 0 });
    for (let i = 0; i < 55; i += 11) {
      await Promise.all(Array.from({ length: 11 }, () => client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'fill the page' }] })));
    }
    const since = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
    // Usage is recorded after the answer: wait until every request's event is listed (one from the test above).
    const listed = await poll('every usage event', async () => {
      const events: S['AIGatewayUsageEvent'][] = [];
      let next: string | null | undefined = `/usage?startTime=${since}&includeRetries=true&limit=50`;
      while (next) {
        const body: S['AIGatewayUsageList'] = (await api<S['AIGatewayUsageList']>('GET', next)).body;
        events.push(...body.aiGatewayUsage);
        next = body.nextPageUri ? new URL(body.nextPageUri).pathname + new URL(body.nextPageUri).search : undefined;
      }
      return new Set(events.map((e) => e.requestId)).size >= 57 ? events : undefined;
    });
    const failed = listed.find((e) => e.isError);
    assert.ok(failed, 'the failed request is logged');
    assert.ok(listed.findIndex((e) => e.isError) >= 50, 'the failure is older than the first page');

    await go(page, '#/logs', 'Logs');
    await page.locator('table.logs tbody tr').nth(49).waitFor();
    await page.getByLabel('Status').selectOption('error');
    const row = page.locator(`tr[data-request-id="${failed.requestId}"]`);
    await row.waitFor();
    // How the search went is a live region: a screen reader says it without the user hunting for the line.
    await page.getByRole('status').and(page.getByTestId('logs-searched')).filter({ hasText: /^Searched all \d+ requests in this range; 1 match\.$/ }).waitFor();
    assert.equal(await page.getByText('No requests in this range').count(), 0);

    // Its button says more than the time: which model, and that it failed.
    await row.getByRole('button', { name: /gpt-4o, failed \(\d{3}\)$/ }).waitFor();
    // Opening it scrolls its attempts into view and focuses them; they name the stored key used.
    await row.getByRole('button').click();
    const attempts = page.getByRole('region', { name: `Attempts of request ${failed.requestId}` });
    await attempts.waitFor();
    await poll('focus on the attempts', async () => (await isFocused(attempts)) || undefined, 2_000);
    const top = await attempts.evaluate((el) => el.getBoundingClientRect().top);
    assert.ok(top >= 0 && top < 860, `the attempts are on screen (top ${top}px)`);
    assert.match(await attempts.getByTestId('attempt-key').first().innerText(), /broken key/);
    // Escape closes them and gives the focus back to the request's row.
    await page.keyboard.press('Escape');
    await attempts.waitFor({ state: 'detached' });
    assert.equal(await isFocused(row.getByRole('button')), true);

    // Deleting a key in use names what uses it, by name (the id stays as secondary text).
    await go(page, '#/providers', 'Providers');
    const item = page.locator(`li[data-id="${broken.id}"]`);
    await item.getByRole('button', { name: 'Delete' }).click();
    await item.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByRole('alert').filter({ hasText: `“broken only” (${brokenConfig.id})` }).waitFor();
    // Cancelling a confirmation (Escape) keeps the focus on its button.
    await item.getByRole('button', { name: 'Delete' }).click();
    await poll('focus on the confirmation', async () => (await isFocused(item.getByRole('button', { name: 'Yes, delete' }))) || undefined, 2_000);
    await page.keyboard.press('Escape');
    await item.getByRole('button', { name: 'Yes, delete' }).waitFor({ state: 'detached' });
    assert.equal(await isFocused(item.getByRole('button', { name: 'Delete' })), true);
  });

  await t.test('Logs: with request capture on, a request shows what the client sent and got', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    assert.equal((await api('PATCH', '/gateway-config', { requestCapture: true })).status, 200);
    try {
      const client = new OpenAI({ apiKey: accessToken, baseURL: `${running.gatewayUrl}/v1`, maxRetries: 0 });
      const { response } = await poll('a captured request', async () => {
        // The gateway learns of the setting from the change feed: a request sent before that is not captured.
        const sent = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'capture me please' }] }).withResponse();
        const requestId = sent.response.headers.get('ngrok-aig-request-id')!;
        return await poll('its capture', async () => (await api('GET', `/usage/requests/${requestId}/capture`)).status === 200 ? sent : undefined, 3_000).catch(() => undefined);
      });
      const requestId = response.headers.get('ngrok-aig-request-id')!;
      // Captures and usage events are written apart (each in its own batches): the Logs page lists the request once
      // its usage is stored, which under load can come after its capture.
      await poll('its usage', async () => (await api('GET', `/usage/requests/${requestId}`)).status === 200 || undefined);
      await go(page, '#/logs', 'Logs');
      const row = page.locator(`tr[data-request-id="${requestId}"]`);
      await row.waitFor();
      await row.getByRole('button').click();
      const capture = page.getByRole('region', { name: 'Captured request and answer' });
      await capture.getByText('capture me please').first().waitFor();
      assert.match(await capture.getByRole('heading').first().innerText(), /POST \/v1\/chat\/completions → 200/);
      assert.ok(!(await capture.innerText()).includes(accessToken), 'the access key is not shown');
      await assertLabelled(page);

      // Opened the moment it is listed (as the Playground's link opens a request), a request's capture may not be
      // written yet: its usage is stored ~100 ms after it ends, its capture with the writer's next batch, about a
      // second later. The first ask is answered "not found", as the API answers it before that batch: the page asks
      // again, and shows the capture once it is written, rather than saying capture was off.
      const fresh = (await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'capture me as I end' }] }).withResponse()).response.headers.get('ngrok-aig-request-id')!;
      let asked = 0;
      await page.route(`**/usage/requests/${fresh}/capture`, (route) => (asked++ === 0
        ? route.fulfill({ status: 404, json: { errorCode: 'ERR_NGROK_27611', statusCode: 404, msg: `Request ${fresh} has no capture.`, details: {} } })
        : route.continue()));
      try {
        await poll('its usage', async () => (await api('GET', `/usage/requests/${fresh}`)).status === 200 || undefined);
        await go(page, `#/logs/${fresh}`, 'Logs');
        const attempts = page.getByRole('region', { name: `Attempts of request ${fresh}` });
        await attempts.getByRole('region', { name: 'Captured request and answer' }).getByText('capture me as I end').first().waitFor();
        assert.ok(asked >= 2, 'asked again after "not found"');
        assert.equal(await attempts.getByTestId('capture-none').count(), 0);
      } finally {
        await page.unrouteAll();
      }
    } finally {
      assert.equal((await api('PATCH', '/gateway-config', { requestCapture: false })).status, 200);
    }
  });

  await t.test('Logs: a request linked the moment it ends (as the Playground links it), before its usage is stored, opens once it is', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    const client = new OpenAI({ apiKey: accessToken, baseURL: `${running.gatewayUrl}/v1`, maxRetries: 0 });
    const fresh = (await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'log me as I end' }] }).withResponse()).response.headers.get('ngrok-aig-request-id')!;
    // The first ask is answered as the API answers it in the ~100 ms before the journal ships the request's usage.
    let asked = 0;
    await page.route(`**/usage/requests/${fresh}`, (route) => (asked++ === 0
      ? route.fulfill({ status: 404, json: { errorCode: 'ERR_NGROK_27611', statusCode: 404, msg: `Request ${fresh} not found.`, details: {} } })
      : route.continue()));
    try {
      await poll('its usage', async () => (await api('GET', `/usage/requests/${fresh}`)).status === 200 || undefined);
      await go(page, `#/logs/${fresh}`, 'Logs');
      await page.getByRole('region', { name: `Attempts of request ${fresh}` }).waitFor();
      assert.ok(asked >= 2, 'asked again after "not found"');
      assert.equal(await page.getByText(`No request ${fresh}`).count(), 0);
    } finally {
      await page.unrouteAll();
    }
  });

  await t.test('Usage: an answer to an earlier choice that comes late does not replace the one asked for last', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    // The first load (grouped by provider) is held back; meanwhile the user groups by access key.
    let held = false;
    let delivered = false;
    await page.route('**/usage/overview?*', async (route) => {
      if (!held && new URL(route.request().url()).searchParams.get('groupBy') === 'provider') {
        held = true;
        await new Promise((r) => setTimeout(r, 1_500));
        await route.continue();
        delivered = true;
        return;
      }
      return route.continue();
    });
    try {
      await go(page, '#/keys', 'Access keys');
      await go(page, '#/usage', 'Usage');
      await page.getByLabel('Group by').selectOption('accessKey');
      const table = page.getByTestId('usage-table');
      await page.getByText('Show the numbers as a table').click();
      await table.getByRole('row').filter({ hasText: 'e2e app' }).first().waitFor();
      // Past the held answer's arrival (however late a loaded machine delivers it), the rows are still those grouped by access key.
      await poll('the held answer delivered', async () => delivered || undefined);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(held, true);
      assert.equal(await page.getByLabel('Group by').inputValue(), 'accessKey');
      assert.equal(await table.getByRole('row').filter({ hasText: 'openai' }).count(), 0, 'provider rows shown while grouped by access key');
      await table.getByRole('row').filter({ hasText: 'e2e app' }).first().waitFor({ timeout: 500 });
    } finally {
      await page.unrouteAll();
    }
  });

  await t.test('Usage: the chart states the window\'s total as the API does (summed exactly, rounded once), not the sum of its rounded bars', async () => {
    // Ten providers' days of $0.0000049 each: every bucket reads 0.00000, yet together they add $0.000049 to the window,
    // more than the other buckets' rounding can make up.
    const { id: accountId } = await running!.store.db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
    const at = `${new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10)}T12:00:00.000Z`;
    await insertUsageEvents(running!.store.db, Array.from({ length: 10 }, (_, i) => usageEvent(accountId, { id: `aigue_tiny${i}`, requestId: `rq_tiny${i}`, provider: `tiny-${i}`, costPico: 4_900_000n, eventTime: at })));
    const overview = (await api<S['AIGatewayUsageOverview']>('GET', `/usage/overview?startTime=${new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`)).body;
    assert.deepEqual(overview.buckets.filter((b) => b.groupKey.startsWith('tiny-')).map((b) => b.cost), Array(10).fill('0.00000'));
    const roundedBars = overview.buckets.reduce((sum, b) => sum + BigInt(b.cost.replace('.', '')), 0n);
    assert.notEqual(BigInt(overview.totals.cost.replace('.', '')), roundedBars, 'the window total is rounded once, from the exact sum');
    await go(page, '#/keys', 'Access keys');
    await go(page, '#/usage', 'Usage');
    await page.getByTestId('total-cost').filter({ hasText: shownUsd(overview.totals.cost) }).waitFor();
    const costSummary = await page.getByTestId('chart-cost').getAttribute('aria-label') ?? '';
    assert.ok(costSummary.startsWith(`Cost per day: ${shownUsd(overview.totals.cost)} in total`), costSummary);
    assert.ok((await page.getByTestId('chart-requests').getAttribute('aria-label') ?? '').startsWith(`Requests per day: ${overview.totals.requests} in total`));
  });

  await t.test('Credits & settings: gateway timeouts save; buying credits shows the API message', async () => {
    // A purchase granted with its Stripe receipt: the transaction links it.
    const { id: accountId } = await running!.store.db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
    await grantCredits(running!.store.db, accountId, 2500, { category: 'purchase', externalRef: 'pi_console_receipt', invoiceUrl: 'https://pay.stripe.test/receipts/ch_console' });
    await go(page, '#/settings', 'Credits & settings');
    const receipt = page.getByRole('region', { name: 'Credit transactions' }).getByRole('link', { name: 'Receipt' });
    assert.equal(await receipt.getAttribute('href'), 'https://pay.stripe.test/receipts/ch_console');
    // Only what the form changed is sent: a totalTimeout shown at its default must not become written (a written
    // one also bounds streams, which otherwise run 15 minutes).
    await page.getByLabel('Max input tokens').fill('100000');
    const sent = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/gateway-config'));
    const save = page.getByRole('button', { name: 'Save gateway settings' });
    await save.click();
    assert.deepEqual((await sent).postDataJSON(), { maxInputTokens: 100000 });
    await expectStatus(page, 'Gateway settings saved.');
    // Busy while saving, yet the button kept the focus (a disabled one drops it to <body>).
    await expectFocus(page, save, 'focus on Save gateway settings after saving');
    // The API's refusal of one field is shown at that field: marked invalid and described by the message.
    const total = page.getByLabel('Total timeout');
    await total.fill('soon');
    await save.click();
    const refusal = page.getByRole('alert').filter({ hasText: /"totalTimeout" must be a positive Go duration/ });
    await refusal.waitFor();
    assert.equal(await total.getAttribute('aria-invalid'), 'true');
    assert.ok((await total.getAttribute('aria-describedby') ?? '').split(' ').includes(await refusal.getAttribute('id') ?? '-'), 'the field is described by the refusal');
    await expectFocus(page, total, 'focus on the refused Total timeout field');
    await page.getByLabel('Total timeout').fill('90s');
    await page.getByLabel('Max output tokens').fill('4096');
    await page.getByRole('button', { name: 'Save gateway settings' }).click();
    await expectStatus(page, 'Gateway settings saved.');
    const cfg = (await api<S['AIGatewayConfig']>('GET', '/gateway-config')).body;
    assert.equal(cfg.totalTimeout, '90s');
    assert.equal(cfg.maxOutputTokens, 4096);
    assert.equal(cfg.requestCapture, false);
    // Request capture: the switch alone is sent; off again, it is sent as false.
    const capture = page.getByLabel('Request capture');
    await capture.check();
    let captureSent = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/gateway-config'));
    await page.getByRole('button', { name: 'Save gateway settings' }).click();
    assert.deepEqual((await captureSent).postDataJSON(), { requestCapture: true });
    await expectStatus(page, 'Gateway settings saved.');
    assert.equal((await api<S['AIGatewayConfig']>('GET', '/gateway-config')).body.requestCapture, true);
    await capture.uncheck();
    captureSent = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/gateway-config'));
    await page.getByRole('button', { name: 'Save gateway settings' }).click();
    assert.deepEqual((await captureSent).postDataJSON(), { requestCapture: false });
    await expectStatus(page, 'Gateway settings saved.');
    // Without Stripe set up, buying is not offered (it could only fail with a setting's name): the way to credit is said.
    await page.getByTestId('payments-off').waitFor();
    assert.match(await page.getByTestId('payments-off').innerText(), /not set up on this server.*tollgate credits grant/);
    assert.equal(await page.getByRole('button', { name: 'Buy credits' }).count(), 0);
    await page.getByLabel('API key name').fill('ci script');
    await page.getByRole('button', { name: 'Create API key' }).click();
    await expectStatus(page, 'API key created.');
    const apiKeys = (await api<S['AIGatewayAPIKeyList']>('GET', '/api-keys')).body.aiGatewayApiKeys;
    assert.ok(apiKeys.some((k) => k.name === 'ci script'));
    await assertLabelled(page);
    await shot(page, 'settings');
  });

  await t.test('Credits: an amount in dollars and cents ($7.50) is bought as 750 cents, not refused by the form', async () => {
    // This server has no Stripe: the page is told payments are set up, and the checkout request is answered here.
    await page.route('**/console/session', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const res = await route.fetch();
      return route.fulfill({ response: res, json: { ...(await res.json()), paymentsConfigured: true } });
    });
    const bodies: unknown[] = [];
    await page.route('**/credits/checkout-session', (route) => {
      bodies.push(route.request().postDataJSON());
      return route.fulfill({ status: 503, json: { errorCode: 'ERR_E2E', statusCode: 503, msg: 'Checkout answered by the test.', details: {} } });
    });
    try {
      await page.reload();
      await go(page, '#/settings', 'Credits & settings');
      await page.getByLabel('Amount to buy (USD)').fill('7.50');
      await page.getByRole('button', { name: 'Buy credits' }).click();
      await page.getByRole('alert').filter({ hasText: 'Checkout answered by the test.' }).waitFor({ timeout: 3_000 })
        .catch(async () => assert.fail(`no checkout was asked for (the amount field says: ${await page.getByLabel('Amount to buy (USD)').evaluate((el) => (el as unknown as { validationMessage: string }).validationMessage)})`));
      assert.deepEqual(bodies, [{ amount: 750 }]);
    } finally {
      await page.unrouteAll();
      await page.reload();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
    }
  });

  await t.test('the layout fits a phone (390px) without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [route, heading, name] of [['#/configurations/' + configurationId, 'Edit Production OpenAI BYOK', 'mobile-configuration'], ['#/keys', 'Access keys', 'mobile-access-keys'], ['#/logs', 'Logs', 'mobile-logs'], ['#/virtual-models/new', 'Create virtual model', 'mobile-virtual-model']] as const) {
      await go(page, route, heading);
      await page.getByRole('button', { name: /Sign out/ }).waitFor();
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `${route} scrolls sideways by ${overflow}px at 390px`);
      // Every section is on screen, not in a strip that scrolls sideways out of sight.
      const offscreen = await page.evaluate<string[]>(`[...document.querySelectorAll('nav[aria-label="Console sections"] a')]
        .filter((a) => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > document.documentElement.clientWidth || r.width === 0; })
        .map((a) => a.textContent)`);
      assert.deepEqual(offscreen, [], `${route}: navigation links out of sight at 390px`);
      // By now Logs lists the requests of the steps above, a page thousands of pixels long: its first screen is enough.
      await shot(page, name, name !== 'mobile-logs');
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await t.test('long lists page with Load more', async () => {
    await Promise.all(Array.from({ length: 21 }, (_, i) => api('POST', '/access-keys', { name: `bulk ${String(i).padStart(2, '0')}` })));
    await go(page, '#/keys', 'Access keys');
    const rows = page.locator('tbody tr[data-id]');
    await page.getByRole('button', { name: 'Load more' }).waitFor();
    assert.equal(await rows.count(), 20);
    const total = (await api<S['AIGatewayAccessKeyList']>('GET', '/access-keys')).body.aiGatewayAccessKeys.length;
    assert.ok(total > 20);
    await page.getByRole('button', { name: 'Load more' }).click();
    await poll('the second page', async () => ((await rows.count()) === total ? true : undefined));
    await assert.rejects(page.getByRole('button', { name: 'Load more' }).waitFor({ timeout: 300 }), 'no more pages');
    // The button went with the last page: the focus is on the list it extended, not on <body>.
    await expectFocus(page, page.getByRole('region', { name: 'Access key list' }), 'focus on the list after its last page');
    // A deleted row's Delete button is gone: the focus goes to the next row's, ready for the next one.
    const gone = rows.nth(5);
    const nextId = await rows.nth(6).getAttribute('data-id');
    await gone.getByRole('button', { name: 'Delete' }).click();
    await gone.getByRole('button', { name: 'Yes, delete' }).click();
    await expectStatus(page, 'Access key deleted.');
    assert.equal(await rows.count(), total - 1);
    await expectFocus(page, page.locator(`tr[data-id="${nextId}"]`).getByRole('button', { name: 'Delete' }), 'focus on the next row after a delete');
    // Tabbing on down the list while the status message shows, no focused control is hidden under it: the page
    // scrolls each one clear of the message.
    let checked = 0;
    for (;;) {
      await page.keyboard.press('Tab');
      const covered = await page.evaluate<string | null>(`(() => {
        const bar = document.querySelector('[data-testid="status"]'), el = document.activeElement;
        if (!el || !document.querySelector('main').contains(el)) return null; // past the list
        if (!bar || bar.classList.contains('status-idle')) return '';
        const a = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
        return a.bottom > b.top && a.top < b.bottom && a.right > b.left && a.left < b.right ? el.outerHTML.slice(0, 100) : '';
      })()`);
      if (covered === null) break;
      assert.equal(covered, '', 'a focused control is under the status message');
      checked++;
    }
    assert.ok(checked > 20, `only ${checked} controls after the deleted row`);
  });

  await t.test('keyboard: the skip link moves the focus to the content and keeps the route', async () => {
    await go(page, '#/logs', 'Logs');
    await expectTitle(page, 'Logs · Tollgate');
    await page.getByRole('link', { name: 'Skip to content' }).press('Enter');
    await expectFocus(page, page.getByRole('main'), 'focus on <main> after the skip link');
    assert.equal(await page.evaluate<string>('location.hash'), '#/logs', 'the skip link is not a route');
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    // The next Tab lands in the content, past the navigation.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<boolean>("document.querySelector('main').contains(document.activeElement) && document.activeElement.tagName !== 'MAIN'"), true, `after the skip link, Tab went to ${await focusedElement(page)}`);
    // The focus ring, and the edge of a text field, stand out from the white they sit on (3:1, WCAG 1.4.11).
    const [ring, border] = await page.evaluate<string[]>(`[getComputedStyle(document.activeElement).outlineColor, getComputedStyle(document.querySelector('main input')).borderTopColor]`);
    assert.ok(contrast(ring!, 'rgb(255, 255, 255)') >= 3, `focus ring ${ring} on white`);
    assert.ok(contrast(border!, 'rgb(255, 255, 255)') >= 3, `text field border ${border} on white`);
    await go(page, '#/keys', 'Access keys');
    await expectTitle(page, 'Access keys · Tollgate');
  });

  await t.test('keyboard: the navigation is reachable by Tab and follows Enter', async () => {
    await page.getByRole('link', { name: 'Skip to content' }).focus(); // the first stop on every page
    let focused = '';
    for (let i = 0; i < 8 && focused !== 'Logs'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate<string>("document.activeElement?.textContent ?? ''");
    }
    assert.equal(focused, 'Logs');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
  });

  await t.test('a route no page serves (a mistyped bookmark) says so and links the pages, rather than showing Access keys', async () => {
    // A malformed escape too: the page says so rather than leaving the console blank.
    await go(page, '#/%E0', 'Page not found');
    await go(page, '#/credits', 'Page not found');
    await expectTitle(page, 'Page not found · Tollgate');
    await page.getByRole('main').getByRole('link', { name: 'Credits & settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Credits & settings' }).waitFor();
  });

  await t.test('a link cannot steer an editor to another API path: its id is read as one id, a dot segment as none', async () => {
    // An editor reads the item its route names and saves it there with the session's CSRF token; a route is a link
    // anyone can send. Each case: the link, the editor's heading, what it must ask for (none: nothing), what it must not.
    const cases = [
      ['#/virtual-models/..%2Fapi-keys', /^Virtual model$/, '/virtual-models/..%2Fapi-keys', '/api-keys'],
      ['#/firewall/x%2F..%2F..%2Fgateway-config', /^Firewall policy$/, '/firewall-policies/x%2F..%2F..%2Fgateway-config', '/gateway-config'],
      ['#/mcp-servers/x%2Fy', /^MCP server$/, '/mcp-servers/x%2Fy', '/mcp-servers/x/y'],
      ['#/mcp-servers/..', /^MCP server$/, undefined, '/'],
      ['#/configurations/.', /^Configuration$/, undefined, '/access-key-configurations/'],
    ] as const;
    const origin = new URL(base).origin;
    const asked: string[] = [];
    const record = (r: { url(): string }) => { const u = new URL(r.url()); if (u.origin === origin) asked.push(u.pathname); };
    // The page before (Credits & settings) reads /api-keys itself: each case starts once the requests of the page
    // before it have all ended (none open over two looks 100 ms apart), so only the editor's own are counted.
    const open = new Set<unknown>();
    const opened = (r: unknown) => { open.add(r); };
    const ended = (r: unknown) => { open.delete(r); };
    const quiet = async () => {
      for (let looks = 0, calm = 0; calm < 2 && looks < 100; looks++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        calm = open.size === 0 ? calm + 1 : 0;
      }
    };
    page.on('request', opened);
    page.on('requestfinished', ended);
    page.on('requestfailed', ended);
    page.on('request', record);
    try {
      // A page that reads nothing, left only once the one before it is quiet.
      await go(page, '#/credits', 'Page not found');
      for (const [route, heading, askedFor, notAskedFor] of cases) {
        await quiet();
        asked.length = 0;
        await go(page, route, heading);
        const shown = await page.getByRole('alert').filter({ hasText: 'not found' }).first().waitFor({ timeout: 3_000 }).then(() => true, () => false);
        assert.ok(!asked.includes(notAskedFor), `${route} made the page ask for ${notAskedFor}`);
        if (askedFor) assert.ok(asked.includes(askedFor), `${route} asks for ${askedFor} (asked: ${asked.join(', ')})`);
        else assert.ok(!asked.some((p) => p.includes('/.')), `${route} asks for no item (asked: ${asked.join(', ')})`);
        assert.ok(shown, `${route} says the item is not found`);
      }
    } finally {
      page.off('request', record);
      page.off('request', opened);
      page.off('requestfinished', ended);
      page.off('requestfailed', ended);
    }
  });

  await t.test('deleting the API key this session signed in with signs out at once', async () => {
    const own = (await api<{ id: string; token: string }>('POST', '/api-keys', { name: 'short-lived session' })).body;
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Signed out first: on the settings page "API key" also names the API keys section.
    await page.getByRole('heading', { level: 1, name: 'Sign in to Tollgate' }).waitFor();
    await page.getByLabel('API key').fill(own.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await go(page, '#/settings', 'Credits & settings');
    const mine = page.locator(`tr[data-id="${own.id}"]`);
    await mine.getByText('this session').waitFor();
    await mine.getByRole('button', { name: 'Delete' }).click();
    await mine.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Tollgate' }).waitFor({ timeout: 3_000 });
    assert.equal((await api('GET', `/api-keys/${own.id}`)).status, 404);
    await page.getByLabel('API key').fill(BOOTSTRAP);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Credits & settings' }).waitFor();
  });

  await t.test('deleted meanwhile (another tab, a script): Delete clears the row and says so', async () => {
    const ghost = (await api<S['AIGatewayAccessKey']>('POST', '/access-keys', { name: 'deleted elsewhere' })).body;
    await go(page, '#/keys', 'Access keys');
    const row = page.locator(`tr[data-id="${ghost.id}"]`);
    await row.waitFor();
    assert.equal((await api('DELETE', `/access-keys/${ghost.id}`)).status, 204);
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    // The key is gone either way: a "not found" beside a row that stays could never be cleared without a reload.
    await row.waitFor({ state: 'detached' });
    await expectStatus(page, 'Access key was already deleted elsewhere.');
  });

  await t.test('a configuration deleted elsewhere while open: Save says so by the button, not under Routing', async () => {
    const doomed = (await api<S['AIGatewayAccessKeyConfiguration']>('POST', '/access-key-configurations', { name: 'deleted while open' })).body;
    await go(page, `#/configurations/${doomed.id}`, 'Edit deleted while open');
    assert.equal((await api('DELETE', `/access-key-configurations/${doomed.id}`)).status, 204);
    await page.getByLabel('Description').fill('too late');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    // Not a validation error of some section (its words name a "key", which put it under Routing): it is about the
    // save, and shows by the button pressed.
    const refusal = page.getByRole('alert').filter({ hasText: 'not found' });
    await refusal.waitFor();
    assert.equal(await page.getByRole('region', { name: 'Routing' }).getByRole('alert').count(), 0, 'nothing shown in Routing');
    assert.ok(await refusal.evaluate((el) => el.nextElementSibling?.classList.contains('form-actions') ?? false), 'the refusal sits just above Save');
  });

  await t.test('Playground: models side by side, streamed from the browser with the chosen access key (one column another key, with reasoning); a follow-up and a retry; usage is that key\'s; the request id opens its Logs entry', { skip: running.gatewayUrl ? false : 'the gateway plane is not wired into startTollgate yet' }, async () => {
    // A key for Claude (the fake's `think-…` models think), which the third column overrides the page's key with.
    const claudeKey = (await api<S['AIGatewayProviderAPIKeyDetail']>('POST', '/provider-keys', { providerId: 'anthropic', name: 'e2e claude key', value: 'sk-ant-e2e' })).body;
    const claudeConfig = (await api<S['AIGatewayAccessKeyConfiguration']>('POST', '/access-key-configurations', { name: 'claude only', router: { rules: [{ provider: 'anthropic', steps: [{ type: 'user', keySelectionStrategy: 'ordered', keys: [{ id: claudeKey.id }] }] }] } })).body;
    assert.equal((await api('POST', '/access-keys', { name: 'e2e claude', accessKeyConfigurationId: claudeConfig.id })).status, 201);
    await go(page, '#/playground', 'Playground');
    await page.getByLabel('Access key', { exact: true }).selectOption({ label: 'e2e app' });
    await page.getByLabel('Model 1', { exact: true }).fill('openai/gpt-4o');
    await page.getByRole('button', { name: 'Add a model to compare' }).click();
    await page.getByLabel('Model 2', { exact: true }).fill('openai:gpt-4o');
    await page.getByRole('button', { name: 'Add a model to compare' }).click();
    await page.getByLabel('Model 3', { exact: true }).fill('anthropic:think-e2e');
    await page.getByLabel('Key for model 3', { exact: true }).selectOption({ label: 'e2e claude' });
    await page.getByLabel('Reasoning for model 3', { exact: true }).selectOption('low');
    await page.getByLabel('Prompt', { exact: true }).fill('hello from the playground');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const first = page.getByRole('region', { name: 'Column 1: openai/gpt-4o' });
    const second = page.getByRole('region', { name: 'Column 2: openai:gpt-4o' });
    const third = page.getByRole('region', { name: 'Column 3: anthropic:think-e2e' });
    for (const column of [first, second, third]) await column.getByText('You said: "hello from the playground"').waitFor();
    // The request id shown is a real gateway request of the chosen key, recorded like any other.
    const requestId = await first.locator('.pg-answer a.mono').first().innerText();
    const event = await poll('the Playground request\'s usage', async () => (await api<S['AIGatewayRequest']>('GET', `/usage/requests/${requestId}`)).body.attempts?.[0]?.event);
    assert.equal(event.accessKeyId, accessKeyId);
    assert.ok(Number(event.totalCost) > 0);
    await first.getByText(/Finish: stop\. \d+ in · \d+ out/).waitFor();
    // Reasoning asked of the third column only: Claude thinks (the gateway turns reasoning_effort into thinking), and
    // its thinking shows folded above the answer.
    const sentTo = (model: string) => fake.requests.filter((r) => r.body?.model === model).at(-1)!;
    assert.deepEqual(sentTo('think-e2e').body!.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.equal('reasoning_effort' in sentTo('gpt-4o').body!, false, 'a column left at the default sends no reasoning_effort');
    await third.locator('summary', { hasText: 'Reasoning' }).click();
    await third.getByText(FAKE_THINKING.text + FAKE_THINKING.more).waitFor();

    // A follow-up goes to every column; each keeps its own history (the fake model echoes the last user message).
    await page.getByLabel('Prompt', { exact: true }).fill('and a follow-up');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    for (const column of [first, second, third]) await column.getByText('You said: "and a follow-up"').waitFor();
    const sent = sentTo('gpt-4o').body as { messages: { role: string }[]; stream: boolean };
    assert.deepEqual(sent.messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.equal(sent.stream, true);
    // Claude's earlier turn went back with its signed thinking first, as an SDK user's kept message carries it.
    const claudeTurn = (sentTo('think-e2e').body as { messages: { role: string; content: { type: string; signature?: string }[] }[] }).messages[1]!;
    assert.deepEqual([claudeTurn.role, claudeTurn.content.map((b) => b.type), claudeTurn.content[0]!.signature], ['assistant', ['thinking', 'text'], FAKE_THINKING.signature]);
    const before = fake.requests.length;
    await second.getByRole('button', { name: 'Retry last answer' }).click();
    await poll('the retried answer', async () => (fake.requests.length > before ? true : undefined));
    await second.getByText('You said: "and a follow-up"').waitFor();
    assert.equal(await second.locator('.pg-turns > li').count(), 2, 'the retry replaced the last answer');
    await assertLabelled(page);
    await shot(page, 'playground');

    // The request id links to its Logs entry, opened by id (#/logs/<id>) in a new tab: the conversation here stays.
    const claudeId = await third.locator('.pg-answer a.mono').last().innerText();
    await poll('the Claude request\'s usage', async () => (await api<S['AIGatewayRequest']>('GET', `/usage/requests/${claudeId}`)).body.attempts?.[0]?.event);
    const [logs] = await Promise.all([context!.waitForEvent('page'), third.getByRole('link', { name: `Request ${claudeId} in Logs (new tab)` }).click()]);
    logs.setDefaultTimeout(10_000);
    try {
      const attempts = logs.getByRole('region', { name: `Attempts of request ${claudeId}` });
      await attempts.getByRole('heading', { name: 'Attempt 1 (final)' }).waitFor();
      assert.match(await attempts.getByTestId('attempt-key').innerText(), /e2e claude key/);
      assert.equal(new URL(logs.url()).hash, `#/logs/${claudeId}`);
      // Closed, the address no longer names it, and the focus is on the page (the request may have no row to go back to).
      await attempts.getByRole('button', { name: 'Close' }).click();
      await attempts.waitFor({ state: 'detached' });
      assert.equal(new URL(logs.url()).hash, '#/logs');
      assert.equal(await logs.evaluate<boolean>('document.activeElement !== null && document.activeElement !== document.body'), true, `the focus is not lost: ${await focusedElement(logs)}`);
      // An id no request has says so rather than showing nothing.
      await logs.evaluate(`location.hash = '#/logs/aigr_no_such_request'`);
      await logs.getByRole('alert').filter({ hasText: 'No request aigr_no_such_request in this account\'s logs' }).waitFor();
    } finally {
      await logs.close();
    }
    assert.equal(await third.locator('.pg-turns > li').count(), 2, 'the Playground kept its conversation');
  });

  /** Signs out and in again in another tab: the tabs share the cookie, so this page's CSRF token is now of a gone session. */
  const signInAgainElsewhere = async () => {
    const other = await context!.newPage();
    try {
      await other.goto(base);
      await other.getByRole('button', { name: 'Sign out' }).click();
      await other.getByLabel('API key').fill(BOOTSTRAP);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('button', { name: 'Sign out' }).waitFor();
    } finally {
      await other.close();
    }
  };

  await t.test('signed in again in another tab (the cookie now names a new session), this tab still saves', async () => {
    await signInAgainElsewhere();
    await go(page, '#/settings', 'Credits & settings');
    await page.getByLabel('Per-attempt timeout').fill('45s');
    await page.getByRole('button', { name: 'Save gateway settings' }).click();
    await expectStatus(page, 'Gateway settings saved.');
    assert.equal((await api<S['AIGatewayConfig']>('GET', '/gateway-config')).body.perRequestTimeout, '45s');
    // And once more, so the sign-out below is sent with a token of a gone session too: it still signs out.
    await signInAgainElsewhere();
  });

  await t.test('sign out ends the session', async () => {
    const [cookie] = await context.cookies(base);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Tollgate' }).waitFor();
    // The Sign out button is gone: the focus goes to the key field, ready to sign in again.
    await expectFocus(page, page.getByLabel('API key'), 'focus on the key field after signing out');
    assert.equal((await api('GET', '/access-keys', undefined, { cookie: `${cookie!.name}=${cookie!.value}` })).status, 401);
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
