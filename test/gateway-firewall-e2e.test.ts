// Firewall end to end, on both stores: a policy made with POST /firewall-policies and attached through the control
// plane (to an access key configuration, or as the account's all-keys policy on the gateway config) is what the
// gateway enforces on the next request, with no restart; detached, it is not. The verdicts reach the usage events
// (the store's rows and the usage API), a blocked request's too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, type Harness, type UsageRow } from './helpers/gateway.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const TOOLS: OpenAI.ChatCompletionTool[] = ['read_file', 'delete_file'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }));
const RULES = [
  { name: 'No rm -rf', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['messages'], pattern: '(?i)rm -rf' },
  { name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] },
];
type Verdict = { action: string; rule: string; tier: string; policyId: string; phase: string };
type Attempts = { attempts: { event: { model: string; totalCost: string; firewall?: Verdict[] } }[] };

const callNames = (c: OpenAI.ChatCompletion) => c.choices[0]!.message.tool_calls?.map((t) => (t as OpenAI.ChatCompletionMessageFunctionToolCall).function.name) ?? [];
const verdicts = (row: UsageRow | undefined): Verdict[] | null => (row?.firewall ? JSON.parse(row.firewall) as Verdict[] : null);

for (const kind of STORE_KINDS) {
  describe(`Firewall through the control plane and the gateway (${kind})`, () => {
    let h: Harness;
    let router: Record<string, unknown>;
    let policyId: string;

    before(async () => {
      h = await startHarness(kind);
      router = { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: await h.providerKey('openai', 'sk-firewall-e2e') }] }] }] };
      policyId = (await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'Coding agent guard', rules: RULES })).id;
    });
    after(async () => { await h.close(); });

    const sdk = (token: string) => new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const asks = {
      rm: { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: 'rm -rf the build directory' }] },
      tools: { model: 'openai:tool-each-x', messages: [{ role: 'user' as const, content: 'tidy up' }], tools: TOOLS },
    };

    test('attached to a configuration: a request rule blocks (recorded at zero cost with its verdict), a response rule removes a tool call, JSON and streamed; detached, neither', async () => {
      const configuration = await h.api<{ id: string }>('POST', '/access-key-configurations', { name: 'guarded', router, firewallPolicyId: policyId });
      const client = sdk((await h.accessKey(configuration.id)).token);

      const sent = h.fake.requests.length;
      const blocked = await client.chat.completions.create(asks.rm).withResponse();
      assert.equal(blocked.data.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.');
      assert.equal(blocked.response.headers.get('ngrok-aig-firewall'), `blocked; rule="No rm -rf"; tier=hardDeny; policy=${policyId}`);
      assert.equal(h.fake.requests.length, sent, 'a blocked request never reaches the model');
      const blockedId = blocked.response.headers.get('ngrok-aig-request-id')!;
      const [blockedRow] = await h.usage(blockedId, 1);
      assert.deepEqual([blockedRow!.model, blockedRow!.statusCode, BigInt(blockedRow!.costPico), blockedRow!.upstreamDurationMs], ['gpt-4o', 200, 0n, 0]);
      assert.deepEqual(verdicts(blockedRow), [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId, phase: 'request' }]);
      const listed = await h.api<Attempts>('GET', `/usage/requests/${blockedId}`);
      assert.deepEqual(listed.attempts.map((a) => [a.event.totalCost, a.event.firewall]), [['0.00000', [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId, phase: 'request' }]]]);

      const screened = await client.chat.completions.create(asks.tools).withResponse();
      assert.deepEqual(callNames(screened.data), ['read_file']);
      assert.match(screened.data.choices[0]!.message.content!, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
      const [screenedRow] = await h.usage(screened.response.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual(verdicts(screenedRow), [{ action: 'blocked', rule: 'No deletes', tier: 'hardDeny', policyId, phase: 'response' }]);
      assert.ok(Number(screenedRow!.outputTokens) > 0, 'the answer was served and metered');

      // A stream's tool-call verdicts come after its headers: the attempt's usage event has them.
      const { data: chunks, response: streamResponse } = await client.chat.completions.create({ ...asks.tools, stream: true, stream_options: { include_usage: true } }).withResponse();
      const streamedNames: string[] = [];
      let streamedText = '';
      for await (const chunk of chunks) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) if (call.function?.name) streamedNames.push(call.function.name);
        streamedText += chunk.choices[0]?.delta.content ?? '';
      }
      assert.deepEqual(streamedNames, ['read_file']);
      assert.match(streamedText, /flagged the call to tool "delete_file"/);
      assert.equal(streamResponse.headers.get('ngrok-aig-firewall'), null, 'the verdict came after the headers');
      const [streamRow] = await h.usage(streamResponse.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual(verdicts(streamRow), [{ action: 'blocked', rule: 'No deletes', tier: 'hardDeny', policyId, phase: 'response' }]);

      await h.api('PATCH', `/access-key-configurations/${configuration.id}`, { firewallPolicyId: null });
      const free = await client.chat.completions.create(asks.rm).withResponse();
      assert.match(free.data.choices[0]!.message.content!, /fake/i, 'the request went to the model');
      assert.equal(free.response.headers.get('ngrok-aig-firewall'), null);
      assert.deepEqual(callNames(await client.chat.completions.create(asks.tools)), ['read_file', 'delete_file']);
      const [freeRow] = await h.usage(free.response.headers.get('ngrok-aig-request-id')!, 1);
      assert.equal(freeRow!.firewall, null);
    });

    test('as the all-keys policy (PATCH /gateway-config): every key enforces it; switched to audit it only reports, in usage too; cleared, nothing', async () => {
      const client = sdk((await h.accessKey(await h.configuration({ router }))).token);
      const sent = h.fake.requests.length;
      await h.gatewayConfig({ firewallPolicyId: policyId });
      assert.match((await client.chat.completions.create(asks.rm)).choices[0]!.message.content!, /^Blocked by the gateway's Firewall: rule "No rm -rf"/);
      assert.deepEqual(callNames(await client.chat.completions.create(asks.tools)), ['read_file']);
      assert.equal(h.fake.requests.length, sent + 1, 'only the tool request went up');

      await h.api('PATCH', `/firewall-policies/${policyId}`, { mode: 'audit' });
      const audited = await client.chat.completions.create({ ...asks.tools, messages: [{ role: 'user', content: 'rm -rf it' }] }).withResponse();
      assert.deepEqual(callNames(audited.data), ['read_file', 'delete_file']);
      assert.equal(audited.response.headers.get('ngrok-aig-firewall'), `flagged; rule="No rm -rf"; tier=hardDeny; policy=${policyId}, flagged; rule="No deletes"; tier=hardDeny; policy=${policyId}`);
      const [row] = await h.usage(audited.response.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual(verdicts(row), [
        { action: 'flagged', rule: 'No rm -rf', tier: 'hardDeny', policyId, phase: 'request' },
        { action: 'flagged', rule: 'No deletes', tier: 'hardDeny', policyId, phase: 'response' },
      ]);

      await h.api('PATCH', `/firewall-policies/${policyId}`, { mode: 'enforce' });
      await h.gatewayConfig({ firewallPolicyId: null });
      const free = await client.chat.completions.create(asks.rm).withResponse();
      assert.equal(free.response.headers.get('ngrok-aig-firewall'), null);
      assert.doesNotMatch(free.data.choices[0]!.message.content!, /Firewall/);
      assert.deepEqual(callNames(await client.chat.completions.create(asks.tools)), ['read_file', 'delete_file']);
    });
  });
}
