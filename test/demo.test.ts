import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDemo } from '../src/cli/demo.ts';
import { Children, freePort } from './helpers/processes.ts';

test('the demo runs end to end without a provider account and prints answers and usage', async () => {
  const lines: string[] = [];
  await runDemo((line) => lines.push(line));
  const out = lines.join('\n');
  assert.match(out, /chat answer \(gpt-4o-mini/);
  assert.match(out, /streamed answer \(\d+ chunks\)/);
  assert.match(out, /openai:gpt-4o-mini\s+json\s+in=17 out=9/);
  assert.match(out, /openai:gpt-4o\s+stream\s+in=17 out=9/);
  assert.match(out, /cost \$0: on your own provider key/);
  assert.match(out, /stopped; temporary data removed\./);
});

test('`tollgate fake-provider` serves the demo\'s fake provider on its own port, in both wire formats, until stopped', async () => {
  const children = new Children();
  try {
    const port = await freePort();
    const fake = children.spawn('fake-provider', ['fake-provider', '--port', String(port)], {});
    const url = `http://127.0.0.1:${port}`;
    let said = '';
    for (let i = 0; i < 100 && !said.includes('Point Tollgate at it'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      said = fake.stderr();
    }
    assert.match(said, new RegExp(`TOLLGATE_PROVIDER_OPENAI_BASE_URL=${url}/v1`));
    const post = (path: string, body: unknown) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-any' }, body: JSON.stringify(body) });
    const chat = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.status, 200);
    assert.equal(((await chat.json()) as { object: string }).object, 'chat.completion');
    const messages = await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(((await messages.json()) as { type: string }).type, 'message');
    // Scripted by the key, as its header comment says.
    assert.equal((await fetch(url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-429' }, body: '{"model":"gpt-4o","messages":[]}' })).status, 429);
    // Each answer is logged on a line of its own, the credential never.
    for (let i = 0; i < 100 && !fake.stderr().includes('→ 429'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(fake.stderr(), /POST \/v1\/chat\/completions gpt-4o → 200\n/);
    assert.match(fake.stderr(), /POST \/v1\/messages claude-haiku-4-5 → 200\n/);
    assert.match(fake.stderr(), /POST \/v1\/chat\/completions gpt-4o → 429\n/);
    assert.doesNotMatch(fake.stderr(), /sk-any|sk-429/);
    // A client's model name cannot write a line of its own (log injection): its line break is escaped.
    const forged = await post('/v1/chat/completions', { model: 'x\nPOST /v1/chat/completions forged → 200', messages: [{ role: 'user', content: 'hi' }] });
    await forged.arrayBuffer();
    for (let i = 0; i < 100 && !fake.stderr().includes('forged'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(fake.stderr(), /POST \/v1\/chat\/completions x\\u000aPOST \/v1\/chat\/completions forged → 200 → \d+\n/);
    assert.doesNotMatch(fake.stderr(), /^POST \/v1\/chat\/completions forged/m);
    fake.proc.kill('SIGTERM');
    assert.equal(await fake.exited, 0);
  } finally {
    await children.killAll();
  }
});

test('`tollgate fake-provider --port` takes plain decimal 0–65535 only (as the servers\' ports), refusing anything else with the reason', async () => {
  const children = new Children();
  try {
    await Promise.all(['12ab', '1e3', ' 80', '0x50', '80.0', '-1', '65536', ''].map(async (bad) => {
      const refused = children.spawn(`fake-provider ${JSON.stringify(bad)}`, ['fake-provider', `--port=${bad}`], {});
      assert.equal(await refused.exited, 1, bad);
      assert.equal(refused.stderr(), `tollgate: --port must be a port number from 0 to 65535 (0: any free port), got ${JSON.stringify(bad)}\n`);
    }));
    // 0: any free port, and the URL it prints names the one bound.
    const any = children.spawn('fake-provider 0', ['fake-provider', '--port', '0'], {});
    for (let i = 0; i < 100 && !any.stderr().includes('Point Tollgate at it'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const url = /Fake provider: (http:\/\/127\.0\.0\.1:(\d+))/.exec(any.stderr());
    assert.ok(url && Number(url[2]) > 0, any.stderr());
    assert.equal((await fetch(`${url[1]}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-any' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' })).status, 200);
    any.proc.kill('SIGTERM');
    assert.equal(await any.exited, 0);
  } finally {
    await children.killAll();
  }
});
