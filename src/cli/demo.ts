// `tollgate demo`: the whole loop on a machine with no provider account. A fake OpenAI-compatible provider
// runs on loopback; Tollgate starts on a temporary SQLite store (ephemeral ports); an access key, a
// provider key and a configuration are made through the control-plane API; one chat request and one
// streamed request go through the OpenAI SDK; the answers and the recorded usage are printed; all stops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { loadConfig } from '../config/config.ts';
import { startTollgate, type RunningTollgate } from '../server.ts';
import { startFakeProvider, type FakeProvider } from '../demo/fake-provider/server.ts';

interface UsageEventView { requestId: string; model: string; provider: string; isStreaming: boolean; inputTokens: number; outputTokens: number; totalCost: string; keySource: string }

export async function runDemo(print: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
  let fake: FakeProvider | undefined;
  let running: RunningTollgate | undefined;
  try {
    fake = await startFakeProvider();
    print(`fake provider (OpenAI wire format) listening on ${fake.url}`);
    const config = loadConfig({
      TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}`,
      TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
      TOLLGATE_GATEWAY_PORT: '0',
      TOLLGATE_API_PORT: '0',
      // A built-in provider's URL the operator set may be on loopback: no TOLLGATE_ALLOW_PRIVATE_UPSTREAMS needed.
      TOLLGATE_PROVIDER_OPENAI_BASE_URL: `${fake.url}/v1`,
    });
    running = await startTollgate(config, { logger: pino({ level: 'silent' }) });
    const apiUrl = running.apiUrl!;
    const gatewayUrl = running.gatewayUrl!;
    const apiToken = running.bootstrap!.apiKeyToken;
    print(`Tollgate gateway on ${gatewayUrl}, control plane on ${apiUrl} (temporary SQLite in ${dir})`);

    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(apiUrl + path, {
        method,
        headers: { authorization: `Bearer ${apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} failed with ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    };

    const providerKey = await api<{ id: string }>('POST', '/provider-keys', { providerId: 'openai', name: 'demo key', value: 'sk-demo-provider-key' });
    print(`created provider key ${providerKey.id} (openai)`);
    const configuration = await api<{ id: string }>('POST', '/access-key-configurations', {
      name: 'demo configuration',
      access: { providers: { allow: ['openai'] } },
      router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: providerKey.id }] }] }] },
    });
    print(`created configuration ${configuration.id} (openai only, routed to the demo key)`);
    const accessKey = await api<{ id: string; token: string }>('POST', '/access-keys', { name: 'demo app', accessKeyConfigurationId: configuration.id });
    print(`created access key ${accessKey.id}`);

    // openai is a devDependency, installed by `npm ci`; imported only when the demo runs. An install without
    // devDependencies (a production image) says what is missing instead of "Cannot find package".
    const { default: OpenAI } = await import('openai').catch(() => {
      throw new Error('the demo sends its requests with the openai package, a devDependency not installed here: run `npm ci` (or `npm install openai`) first');
    });
    const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: accessKey.token, maxRetries: 0 });
    const since = new Date(Date.now() - 1000).toISOString();

    const { data: answer, response } = await client.chat.completions.create({
      model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello through Tollgate.' }],
    }).withResponse();
    print('');
    print(`chat answer (${response.headers.get('ngrok-aig-model')}, request ${response.headers.get('ngrok-aig-request-id')}):`);
    print(`  ${answer.choices[0]?.message.content ?? ''}`);

    const stream = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Now stream it, please.' }],
    });
    let streamed = '';
    let chunks = 0;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? '';
      chunks++;
    }
    print(`streamed answer (${chunks} chunks):`);
    print(`  ${streamed}`);

    // Usage is written in batches every ~100 ms: wait for both events to reach the store.
    let events: UsageEventView[] = [];
    for (let i = 0; i < 50 && events.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      events = (await api<{ aiGatewayUsage: UsageEventView[] }>('GET', `/usage?startTime=${encodeURIComponent(since)}`)).aiGatewayUsage;
    }
    print('');
    print('recorded usage (GET /usage):');
    for (const e of events.slice().reverse()) {
      print(`  ${e.requestId}  ${e.provider}:${e.model}  ${e.isStreaming ? 'stream' : 'json  '}  in=${e.inputTokens} out=${e.outputTokens}  cost=$${e.totalCost}  key=${e.keySource}`);
    }
    print('  (cost $0: on your own provider key (key=user) the provider bills you; Tollgate adds only');
    print('   TOLLGATE_PROCESSING_FEE_USD_PER_MTOK, 0 by default. The operator\'s managed keys bill catalog prices.)');
  } finally {
    await running?.stop();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
    print('');
    print('stopped; temporary data removed.');
  }
}
