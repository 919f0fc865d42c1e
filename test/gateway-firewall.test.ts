// Firewall (ngrok's AI Gateway Firewall): request rules answer a blocked request themselves, response rules take a
// blocked tool call out of the answer (JSON and streamed) and tell the model why, audit policies only report — through
// the gateway, with the official SDKs, against the fake providers. The policies are placed in the account's snapshot:
// the gateway runs on a stub of its state (the store's Firewall tables are another change's), everything else real.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startGatewayServer, type GatewayServer } from '../src/gateway/server.ts';
import type { GatewayDeps, GatewayOptions } from '../src/gateway/context.ts';
import { Upstreams } from '../src/gateway/upstream.ts';
import { MAX_HELD_STREAM_BYTES } from '../src/gateway/exchange.ts';
import { createCatalog } from '../src/catalog/index.ts';
import type { AccountSnapshot } from '../src/state/types.ts';
import type { BegunAttempt, UsageEvent } from '../src/usage/event.ts';
import type { FirewallPolicyState, FirewallRule } from '../src/domain/firewall-policy.ts';
import { FAKE_JUDGE_USAGE, FAKE_SAID, FAKE_USAGE, startFakeProvider, type FakeProvider } from './fake-upstream.ts';
import { snapshot } from './helpers/snapshot.ts';
import { collectingSink, stubState } from './helpers/stub-gateway.ts';

const TOKEN = 'ng-firewall-test-key';
const CONFIGURED_TOKEN = 'ng-firewall-configured-key';

function policy(id: string, rules: FirewallRule[], extra: Partial<FirewallPolicyState> = {}): FirewallPolicyState {
  return { id, name: id, mode: 'enforce', onError: 'block', environment: [], rules, ...extra };
}

const CHAT_TOOLS: OpenAI.ChatCompletionTool[] = ['read_file', 'delete_file'].map((name) => ({ type: 'function', function: { name, description: `${name} in the project`, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }));
const MESSAGES_TOOLS: Anthropic.Tool[] = ['read_file', 'delete_file'].map((name) => ({ name, description: `${name} in the project`, input_schema: { type: 'object', properties: { city: { type: 'string' } } } }));
const NO_DELETES: FirewallRule = { name: 'No deletes', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] };
const NO_RM: FirewallRule = { name: 'No rm -rf', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['messages'], pattern: '(?i)rm -rf' };

/** A usage event, as opposed to the begun row the journal takes before a call. */
const finishedEvent = (e: BegunAttempt | UsageEvent): e is UsageEvent => 'completion' in e;

/** The gateway under test, on the fake providers and a stub of its state; `options` adds to its settings. */
function startOnFake(fake: FakeProvider, state: GatewayDeps['state'], usage: (BegunAttempt | UsageEvent)[], options: Partial<GatewayOptions> = {}, logger = pino({ level: 'silent' })): Promise<GatewayServer> {
  return startGatewayServer({
    state, usage: collectingSink(usage), logger,
    catalog: createCatalog({ openai: `${fake.url}/v1`, anthropic: `${fake.url}/v1`, google: `${fake.url}/v1beta/openai` }),
    upstreams: new Upstreams({ loopId: 'firewall-test', allowPrivate: true }),
    options: {
      maxBodyBytes: 10 * 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'firewall-test',
      clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000,
      ...options,
    },
  }, '127.0.0.1', 0);
}

/** An Interactions step as the SDK types it, read for what the tests compare. */
interface StepSeen { type: string; name?: string; arguments?: unknown; content?: { type: string; text?: string }[] }

describe('Firewall through the gateway', () => {
  let fake: FakeProvider;
  let gateway: GatewayServer;
  let account: AccountSnapshot;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  let openai: OpenAI;
  let anthropic: Anthropic;

  /** The account's all-keys policy and the configured key's configuration policy. */
  function place(accountPolicy?: FirewallPolicyState, configurationPolicy?: FirewallPolicyState): void {
    account = snapshot({
      settings: { firewallPolicyId: accountPolicy?.id ?? null },
      providerKeys: [{ id: 'aigpk_openai', providerId: 'openai', value: 'sk-openai' }, { id: 'aigpk_anthropic', providerId: 'anthropic', value: 'sk-anthropic' }, { id: 'aigpk_google', providerId: 'google', value: 'sk-google' }],
      configurations: [{ id: 'aigac_1', access: null, rules: null, firewallPolicyId: configurationPolicy?.id ?? null }],
      firewallPolicies: [accountPolicy, configurationPolicy].filter((p) => p !== undefined),
    });
  }

  before(async () => {
    fake = await startFakeProvider();
    const state = stubState(() => account, new Map([[TOKEN, { id: 'aigak_1', configurationId: null }], [CONFIGURED_TOKEN, { id: 'aigak_2', configurationId: 'aigac_1' }]]));
    gateway = await startOnFake(fake, state, usage);
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gateway.close(0);
    await fake.close();
  });
  beforeEach(() => place());

  describe('request rules', () => {
    test('a blocked chat request never reaches the model: a normal answer says which rule blocked it, recorded at zero cost with its verdict', async () => {
      place(policy('aigfwp_acct', [NO_RM]));
      const sent = fake.requests.length;
      const recorded = usage.length;
      const { data, response } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'Please RM -RF the build directory' }] }).withResponse();
      assert.equal(data.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.');
      assert.equal(data.choices[0]!.finish_reason, 'stop');
      assert.deepEqual(data.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('ngrok-aig-attempts'), '0');
      assert.equal(response.headers.get('ngrok-aig-model'), 'gpt-4o');
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct');
      assert.equal(fake.requests.length, sent, 'nothing went upstream');
      // No attempt, nothing billed; one usage event all the same, so the block is found in usage as in the access log.
      const events = usage.slice(recorded) as UsageEvent[];
      assert.deepEqual(events.map((e) => [e.requestId, e.model, e.attemptNumber, e.isFinalAttempt, e.statusCode, e.costPico, e.inputTokens, e.outputTokens, e.upstreamDurationMs, e.completion]), [[response.headers.get('ngrok-aig-request-id'), 'gpt-4o', 1, true, 200, 0n, 0, 0, 0, 'succeeded']]);
      assert.deepEqual(events[0]!.firewall, [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId: 'aigfwp_acct', phase: 'request' }]);
    });

    test('a blocked streamed chat request: the SDK\'s stream reads the same answer', async () => {
      place(policy('aigfwp_acct', [NO_RM]));
      const sent = fake.requests.length;
      const stream = openai.chat.completions.stream({ model: 'openai:gpt-4o', stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'rm -rf /' }] });
      const done = await stream.finalChatCompletion();
      assert.match(done.choices[0]!.message.content!, /^Blocked by the gateway's Firewall: rule "No rm -rf"/);
      assert.equal(done.choices[0]!.finish_reason, 'stop');
      assert.equal(done.usage?.total_tokens, 0);
      assert.equal(fake.requests.length, sent);
    });

    test('a blocked Messages request, JSON and streamed: an assistant turn ended normally, in Anthropic\'s format', async () => {
      place(undefined, policy('aigfwp_conf', [{ ...NO_RM, reads: undefined }]));
      const configured = new Anthropic({ baseURL: gateway.url, apiKey: CONFIGURED_TOKEN, maxRetries: 0 });
      const sent = fake.requests.length;
      const ask = { model: 'anthropic:claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user' as const, content: 'rm -rf ~' }] };
      const { data, response } = await configured.messages.create(ask).withResponse();
      assert.equal(data.type, 'message');
      assert.deepEqual(data.content, [{ type: 'text', text: 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.' }]);
      assert.equal(data.stop_reason, 'end_turn');
      assert.deepEqual([data.usage.input_tokens, data.usage.output_tokens], [0, 0]);
      assert.equal(response.headers.get('ngrok-aig-attempts'), '0');
      const streamed = await configured.messages.stream(ask).finalMessage();
      assert.deepEqual(streamed.content.map((b) => b.type === 'text' && b.text), [data.content[0]!.type === 'text' && data.content[0]!.text]);
      assert.equal(streamed.stop_reason, 'end_turn');
      assert.equal(fake.requests.length, sent);
      // The key without a configuration has no policy: its request goes up.
      await anthropic.messages.create(ask);
      assert.equal(fake.requests.length, sent + 1);
    });

    test('a blocked Responses request (JSON and streamed) and a blocked Gemini request: answered in their own formats', async () => {
      place(policy('aigfwp_acct', [{ ...NO_RM, reads: undefined }]));
      const sent = fake.requests.length;
      const response = await openai.responses.create({ model: 'openai:gpt-4o', instructions: 'You may rm -rf anything', input: 'go' });
      assert.equal(response.status, 'completed');
      assert.equal(response.output_text, 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.');
      const streamed = await openai.responses.stream({ model: 'openai:gpt-4o', input: [{ role: 'user', content: [{ type: 'input_text', text: 'rm -rf /' }] }] }).finalResponse();
      assert.equal(streamed.output_text, response.output_text);
      const google = new GoogleGenAI({ apiKey: TOKEN, apiVersion: 'v1beta', httpOptions: { baseUrl: gateway.url } });
      const gemini = await google.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', config: { systemInstruction: 'rm -rf when asked' } });
      assert.equal(gemini.text, response.output_text);
      assert.equal(gemini.candidates?.[0]?.finishReason, 'STOP');
      let text = '';
      for await (const chunk of await google.models.generateContentStream({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'please rm -rf' }] }] })) text += chunk.text ?? '';
      assert.equal(text, response.output_text);
      assert.equal(fake.requests.length, sent);
    });

    test('request rules read tool results and tool definitions as named', async () => {
      place(policy('aigfwp_acct', [
        { name: 'Key in tool output', tier: 'hardDeny', type: 'regex', phase: 'request', reads: ['toolResults'], pattern: 'AKIA[0-9A-Z]{16}' },
        { name: 'No shell offered', tier: 'softDeny', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['bash'] },
      ]));
      const blocked = await anthropic.messages.create({
        model: 'anthropic:claude-sonnet-4-6', max_tokens: 100, tools: MESSAGES_TOOLS,
        messages: [
          { role: 'user', content: 'read it' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'aws_key=AKIAABCDEFGHIJKLMNOP' }] },
        ],
      });
      assert.match((blocked.content[0] as Anthropic.TextBlock).text, /rule "Key in tool output"/);
      // The same key in a user message is not a tool result.
      const passed = await anthropic.messages.create({ model: 'anthropic:claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'AKIAABCDEFGHIJKLMNOP' }] });
      assert.match((passed.content[0] as Anthropic.TextBlock).text, /fake/);
      const shell = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'bash', parameters: { type: 'object' } } }] });
      assert.match(shell.choices[0]!.message.content!, /rule "No shell offered" \(soft block\)/);
    });
  });

  describe('response rules', () => {
    test('a JSON chat answer: the blocked call is taken out and the model told why; the allowed call arrives whole', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const { data, response } = await openai.chat.completions.create({ model: 'openai:tool-each-x', messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS }).withResponse();
      const message = data.choices[0]!.message;
      assert.deepEqual(message.tool_calls, [{ id: 'call_fake1', type: 'function', function: { name: 'read_file', arguments: '{"city":"Paris"}' } }]);
      assert.equal(message.content, 'Blocked by the gateway\'s Firewall: rule "No deletes" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.');
      assert.equal(data.choices[0]!.finish_reason, 'tool_calls');
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="No deletes"; tier=hardDeny; policy=aigfwp_acct');
      assert.equal(response.headers.get('ngrok-aig-attempts'), '1');
    });

    test('a JSON chat answer whose only call is blocked ends as a turn does', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const data = await openai.chat.completions.create({ model: 'openai:tool-x', messages: [{ role: 'user', content: 'delete it' }], tools: [CHAT_TOOLS[1]!] });
      assert.equal(data.choices[0]!.message.tool_calls, undefined);
      assert.equal(data.choices[0]!.finish_reason, 'stop');
      assert.match(data.choices[0]!.message.content!, /rule "No deletes"/);
    });

    test('a JSON Messages answer: the blocked tool_use becomes a text block naming the rule and the tool', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const data = await anthropic.messages.create({ model: 'anthropic:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user', content: 'tidy up' }] });
      assert.deepEqual(data.content, [
        { type: 'tool_use', id: 'toolu_fake1', name: 'read_file', input: { city: 'Paris' } },
        { type: 'text', text: 'Blocked by the gateway\'s Firewall: rule "No deletes" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.' },
      ]);
      assert.equal(data.stop_reason, 'tool_use');
      const only = await anthropic.messages.create({ model: 'anthropic:tool-x', max_tokens: 100, tools: [MESSAGES_TOOLS[1]!], messages: [{ role: 'user', content: 'delete' }] });
      assert.deepEqual(only.content.map((b) => b.type), ['text']);
      assert.equal(only.stop_reason, 'end_turn');
    });

    test('a streamed chat answer: the allowed call\'s events go out unchanged, the blocked one\'s become text', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const ask = { model: 'openai:tool-each-x', stream: true as const, stream_options: { include_usage: true }, messages: [{ role: 'user' as const, content: 'tidy up' }], tools: CHAT_TOOLS };
      const raw = await (await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(ask) })).text();
      assert.doesNotMatch(raw, /"name":"delete_file"/);
      assert.match(raw, /"tool_calls":\[\{"index":0,"id":"call_fake1","type":"function","function":\{"name":"read_file","arguments":""\}\}\]/, 'the allowed call as the provider streamed it');
      const done = await openai.chat.completions.stream(ask).finalChatCompletion();
      const message = done.choices[0]!.message;
      assert.deepEqual(message.tool_calls?.map((c) => [c.id, (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments]), [['call_fake1', 'read_file', '{"city":"Paris"}']]);
      assert.match(message.content!, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
      assert.equal(done.choices[0]!.finish_reason, 'tool_calls');
      assert.equal(done.usage?.completion_tokens, FAKE_USAGE.output, 'the provider\'s usage chunk still arrives');
      // Every call blocked: the stream finishes as a turn does.
      const blockedOnly = await openai.chat.completions.stream({ ...ask, model: 'openai:tool-x', tools: [CHAT_TOOLS[1]!] }).finalChatCompletion();
      assert.equal(blockedOnly.choices[0]!.finish_reason, 'stop');
      assert.equal(blockedOnly.choices[0]!.message.tool_calls?.length ?? 0, 0);
    });

    test('a streamed Messages answer: the blocked tool_use block is replaced by a text block, the allowed one arrives whole', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const done = await anthropic.messages.stream({ model: 'anthropic:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user', content: 'tidy up' }] }).finalMessage();
      assert.deepEqual(done.content.map((b) => (b.type === 'tool_use' ? [b.type, b.id, b.name, b.input] : [b.type, (b as Anthropic.TextBlock).text])), [
        ['tool_use', 'toolu_fake1', 'read_file', { city: 'Paris' }],
        ['text', 'Blocked by the gateway\'s Firewall: rule "No deletes" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.'],
      ]);
      assert.equal(done.stop_reason, 'tool_use');
      assert.ok(done.usage.output_tokens > 0, 'the provider\'s usage still arrives');
      const only = await anthropic.messages.stream({ model: 'anthropic:tool-x', max_tokens: 100, tools: [MESSAGES_TOOLS[1]!], messages: [{ role: 'user', content: 'delete' }] }).finalMessage();
      assert.deepEqual(only.content.map((b) => b.type), ['text']);
      assert.equal(only.stop_reason, 'end_turn');
    });

    test('a regex rule reads the call\'s name and arguments; a soft block is cleared by an allow rule matching the same call', async () => {
      place(policy('aigfwp_acct', [
        { name: 'Files', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['*_file'] },
        { name: 'Reading is fine', tier: 'allow', type: 'regex', phase: 'response', pattern: '^read_file \\{"city"' },
      ]));
      const data = await openai.chat.completions.create({ model: 'openai:tool-each-x', messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS });
      assert.deepEqual(data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.match(data.choices[0]!.message.content!, /rule "Files" \(soft block\) flagged the call to tool "delete_file"/);
    });

    test('a translated answer is screened in the client\'s format (Messages from a chat model, Gemini from a chat model)', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const message = await anthropic.messages.create({ model: 'openai:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user', content: 'tidy up' }] });
      assert.deepEqual(message.content.map((b) => (b.type === 'tool_use' ? b.name : b.type)), ['read_file', 'text']);
      // Streamed: the tool_use blocks the translation makes of the chat stream's calls are held and judged.
      const streamedMessage = await anthropic.messages.stream({ model: 'openai:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user', content: 'tidy up' }] }).finalMessage();
      assert.deepEqual(streamedMessage.content.map((b) => (b.type === 'tool_use' ? [b.name, b.input] : [b.type, (b as Anthropic.TextBlock).text.replace(/^[\s\S]*(flagged the call to tool "\w+")[\s\S]*$/, '$1')])), [['read_file', { city: 'Paris' }], ['text', 'flagged the call to tool "delete_file"']]);
      assert.equal(streamedMessage.stop_reason, 'tool_use');
      const google = new GoogleGenAI({ apiKey: TOKEN, apiVersion: 'v1beta', httpOptions: { baseUrl: gateway.url } });
      const config = { tools: [{ functionDeclarations: [{ name: 'read_file', parametersJsonSchema: { type: 'object' } }, { name: 'delete_file', parametersJsonSchema: { type: 'object' } }] }] };
      const answer = await google.models.generateContent({ model: 'openai:tool-each-x', contents: 'tidy up', config });
      assert.deepEqual(answer.functionCalls?.map((c) => c.name), ['read_file']);
      assert.match(answer.text ?? '', /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
      const streamed: string[] = [];
      let text = '';
      for await (const chunk of await google.models.generateContentStream({ model: 'openai:tool-each-x', contents: 'tidy up', config })) {
        for (const c of chunk.functionCalls ?? []) streamed.push(c.name!);
        text += chunk.text ?? '';
      }
      assert.deepEqual(streamed, ['read_file']);
      assert.match(text, /flagged the call to tool "delete_file"/);
    });

    test('a Responses answer: the blocked function_call item becomes a message saying why', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const data = await openai.responses.create({ model: 'openai:tool-x', input: 'delete it', tools: [{ type: 'function', name: 'delete_file', parameters: { type: 'object', properties: {} }, strict: false }] });
      assert.deepEqual(data.output.map((i) => i.type), ['message']);
      assert.match(data.output_text, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
    });

    test('a streamed Responses answer: the call item\'s events become a message item\'s, numbered on without a gap', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const ask = { model: 'openai:tool-x', input: 'delete it', tools: [{ type: 'function' as const, name: 'delete_file', parameters: { type: 'object', properties: {} }, strict: false }] };
      const done = await openai.responses.stream(ask).finalResponse();
      assert.deepEqual(done.output.map((i) => i.type), ['message']);
      assert.match(done.output_text, /flagged the call to tool "delete_file"/);
      const raw = await (await fetch(`${gateway.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...ask, stream: true }) })).text();
      const events = raw.split('\n\n').filter((e) => e.includes('data: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { type: string; sequence_number: number });
      assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
      assert.ok(!events.some((e) => e.type.startsWith('response.function_call')), 'no event of the call');
      assert.equal(events.at(-1)!.type, 'response.completed');
    });
  });

  describe('ways around a policy', () => {
    test('a request giving a key twice in one object is refused when request rules apply: the provider could read the value they did not check', async () => {
      const sent = fake.requests.length;
      const twice = '{"model":"openai:gpt-4o","messages":[{"role":"user","content":"rm -rf / now","content":"hello"}]}';
      const post = () => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: twice });
      place(policy('aigfwp_acct', [NO_RM]));
      const refused = await post();
      assert.equal(refused.status, 400);
      const { error } = await refused.json() as { error: { code: string; message: string } };
      assert.equal(error.code, 'ERR_NGROK_27228');
      assert.match(error.message, /the key "content" is given twice in one object: the provider could read the value this access key's Firewall rules did not check/);
      assert.equal(fake.requests.length, sent, 'never sent');
      // No request rules (a key without a policy, or one of response rules only): served as before.
      for (const placed of [undefined, policy('aigfwp_acct', [NO_DELETES])]) {
        place(placed);
        assert.equal((await post()).status, 200);
      }
    });

    test('an enforcing policy\'s rules are not skipped on a surface Firewall does not screen: the request is refused; an audit policy lets it through', async () => {
      const sent = fake.requests.length;
      place(policy('aigfwp_acct', [NO_RM]));
      // Legacy completions are screened on their prompt's text; a prompt of token ids is no text a rule could read.
      const completion = await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: [1, 2, 3] }).then(() => undefined, (e: unknown) => e);
      assert.ok(completion instanceof OpenAI.BadRequestError, String(completion));
      assert.equal(completion.code, 'ERR_NGROK_27228');
      assert.match(completion.message, /Firewall policy aigfwp_acct enforces rules, and Firewall does not screen legacy completions \(\/v1\/completions\) whose prompt is token ids: nothing would be checked/);
      assert.equal(fake.requests.length, sent, 'nothing went upstream');
      // Response rules only: legacy completions return no tool calls, so nothing is skipped there.
      place(policy('aigfwp_acct', [NO_DELETES]));
      assert.equal((await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: [1, 2, 3] })).object, 'text_completion');
      place(policy('aigfwp_acct', [NO_RM, NO_DELETES], { mode: 'audit' }));
      assert.equal((await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: [1, 2, 3] })).object, 'text_completion');
    });
    test('a streamed Responses answer translated from Claude, whose two calls are open at once: each judged at its end, the kept one intact, numbered without a gap', async () => {
      place(policy('aigfwp_acct', [NO_DELETES]));
      const tools = ['read_file', 'delete_file'].map((name) => ({ type: 'function' as const, name, parameters: { type: 'object', properties: {} }, strict: false }));
      const ask = { model: 'anthropic:tool-each-x', input: 'tidy up', tools };
      const done = await openai.responses.stream(ask).finalResponse();
      assert.deepEqual(done.output.map((i) => (i.type === 'function_call' ? [i.type, i.name, i.arguments] : [i.type])), [['function_call', 'read_file', '{"city":"Paris"}'], ['message']]);
      assert.match(done.output_text, /flagged the call to tool "delete_file"/);
      const raw = await (await fetch(`${gateway.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...ask, stream: true }) })).text();
      const events = raw.split('\n\n').filter((e) => e.includes('data: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { type: string; sequence_number: number });
      assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
    });
  });

  describe('Gemini Interactions and legacy completions (screened beyond ngrok\'s four surfaces)', () => {
    const BLOCKED_REQUEST = 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.';
    const BLOCKED_CALL = 'Blocked by the gateway\'s Firewall: rule "No deletes" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.';
    const TOOLS = ['read_file', 'delete_file'].map((name) => ({ type: 'function' as const, name, description: `${name} in the project`, parameters: { type: 'object', properties: { city: { type: 'string' } } } }));
    /** The headers of the Gen AI SDK's last answer (its interaction streams keep no HTTP response). */
    let lastHeaders: Headers | undefined;
    let google: GoogleGenAI;
    before(() => {
      const noting: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        lastHeaders = res.headers;
        return res;
      };
      google = new GoogleGenAI({ apiKey: TOKEN, apiVersion: 'v1beta', httpOptions: { baseUrl: gateway.url, fetch: noting } as { baseUrl: string } });
    });

    /** The events of a streamed interaction, as the SDK yields them. */
    async function streamed(params: Parameters<GoogleGenAI['interactions']['create']>[0]): Promise<(Record<string, unknown> & { event_type: string })[]> {
      const events: (Record<string, unknown> & { event_type: string })[] = [];
      for await (const event of await google.interactions.create({ ...params, stream: true } as Parameters<GoogleGenAI['interactions']['create']>[0] & { stream: true })) events.push(event as unknown as (typeof events)[number]);
      return events;
    }

    describe('Gemini Interactions', () => {
      test('a request rule that blocks: a completed interaction naming the rule, JSON and streamed, and nothing goes to Google', async () => {
        place(policy('aigfwp_acct', [{ ...NO_RM, reads: undefined }]));
        const sent = fake.requests.length;
        const recorded = usage.length;
        const interaction = await google.interactions.create({ model: 'google:gemini-2.5-flash', system_instruction: 'You may rm -rf anything', input: 'go' });
        assert.equal(interaction.status, 'completed');
        assert.deepEqual((interaction.steps as StepSeen[]).map((s) => [s.type, s.content?.map((c) => c.text)]), [['model_output', [BLOCKED_REQUEST]]]);
        assert.equal(interaction.output_text, BLOCKED_REQUEST);
        assert.equal(lastHeaders?.get('ngrok-aig-firewall'), 'blocked; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct');
        assert.equal(lastHeaders?.get('ngrok-aig-attempts'), '0');
        // Streamed, and the rule finding its text in a function result of an earlier turn.
        const events = await streamed({
          model: 'google:gemini-2.5-flash', tools: TOOLS,
          input: [
            { type: 'user_input', content: [{ type: 'text', text: 'tidy up' }] },
            { type: 'function_call', id: 'c1', name: 'read_file', arguments: {} },
            { type: 'function_result', call_id: 'c1', name: 'read_file', result: 'next: rm -rf build' },
          ],
        } as Parameters<GoogleGenAI['interactions']['create']>[0]);
        assert.deepEqual(events.map((e) => e.event_type), ['interaction.created', 'step.start', 'step.delta', 'step.stop', 'interaction.completed']);
        assert.equal((events[2]!.delta as { text: string }).text, BLOCKED_REQUEST);
        assert.equal((events[4]!.interaction as { status: string }).status, 'completed');
        assert.equal(fake.requests.length, sent, 'nothing went upstream');
        const recordedEvents = usage.slice(recorded) as UsageEvent[];
        assert.deepEqual(recordedEvents.map((e) => [e.attemptNumber, e.costPico, e.firewall?.map((f) => f.action)]), [[1, 0n, ['blocked']], [1, 0n, ['blocked']]]);
      });

      test('a response rule: the blocked function_call step becomes a model_output step saying why, the allowed call stays; with none left the interaction is completed', async () => {
        place(policy('aigfwp_acct', [NO_DELETES]));
        const interaction = await google.interactions.create({ model: 'google:tool-each-x', input: 'tidy up', tools: TOOLS });
        const steps = interaction.steps as StepSeen[];
        assert.deepEqual(steps.map((s) => [s.type, s.name ?? s.content?.map((c) => c.text).join('')]), [
          ['model_output', 'Hello from the fake tool-each-x model! You said: "tidy up".'],
          ['function_call', 'read_file'],
          ['model_output', BLOCKED_CALL],
        ]);
        assert.deepEqual(steps[1]!.arguments, { city: 'Paris' });
        assert.equal(interaction.status, 'requires_action');
        assert.equal(lastHeaders?.get('ngrok-aig-firewall'), 'blocked; rule="No deletes"; tier=hardDeny; policy=aigfwp_acct');
        const only = await google.interactions.create({ model: 'google:tool-x', input: 'delete it', tools: [TOOLS[1]!] });
        assert.deepEqual((only.steps as StepSeen[]).map((s) => s.type), ['model_output', 'model_output']);
        assert.equal(only.status, 'completed');
      });

      test('a response rule on a stream: text goes out as Google sent it, the allowed call\'s events intact, the blocked call\'s replaced by a text step', async () => {
        place(policy('aigfwp_acct', [NO_DELETES]));
        const events = await streamed({ model: 'google:tool-each-x', input: 'tidy up', tools: TOOLS });
        const text = events.filter((e) => e.event_type === 'step.delta' && e.index === 0).map((e) => (e.delta as { text: string }).text).join('');
        assert.equal(text, 'Hello from the fake tool-each-x model! You said: "tidy up".');
        const shown = events.filter((e) => e.event_type.startsWith('step.') && !(e.event_type === 'step.delta' && e.index === 0)).map((e) => {
          const delta = e.delta as { type: string; text?: string; arguments?: string } | undefined;
          return [e.event_type, e.index, (e.step as StepSeen | undefined)?.name ?? (e.step as StepSeen | undefined)?.type ?? delta?.arguments ?? delta?.text];
        });
        assert.deepEqual(shown, [
          ['step.start', 0, 'model_output'], ['step.stop', 0, undefined],
          ['step.start', 1, 'read_file'], ['step.delta', 1, '{"city":'], ['step.delta', 1, '"Paris"}'], ['step.stop', 1, undefined],
          ['step.start', 2, 'model_output'], ['step.delta', 2, BLOCKED_CALL], ['step.stop', 2, undefined],
        ]);
        assert.equal((events.at(-1)!.interaction as { status: string }).status, 'requires_action', 'a call was kept');
        // The text's events reach the client as Google wrote them (spaces after colons): not held, not rewritten.
        const raw = await (await fetch(`${gateway.url}/v1beta/interactions`, { method: 'POST', headers: { 'x-goog-api-key': TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'google:tool-each-x', input: 'tidy up', tools: TOOLS, stream: true }) })).text();
        assert.match(raw, /event: step\.delta\ndata: \{"index": 0,"delta": \{"type": "text","text": "Hello from the fake /);
        assert.doesNotMatch(raw, /"name": ?"delete_file"/);
        // Every call blocked: the status update and the completed interaction say completed.
        const only = await streamed({ model: 'google:tool-x', input: 'delete it', tools: [TOOLS[1]!] });
        assert.deepEqual(only.filter((e) => e.event_type === 'interaction.status_update').map((e) => e.status), ['in_progress', 'completed']);
        assert.equal((only.at(-1)!.interaction as { status: string }).status, 'completed');
        assert.ok(!only.some((e) => (e.step as StepSeen | undefined)?.type === 'function_call'));
      });

      test('an audit policy lets the request and every call through, and reports what it would have blocked', async () => {
        place(policy('aigfwp_acct', [NO_RM, NO_DELETES], { mode: 'audit' }));
        const sent = fake.requests.length;
        const interaction = await google.interactions.create({ model: 'google:tool-each-x', input: 'rm -rf the build, then tidy up', tools: TOOLS });
        assert.equal(fake.requests.length, sent + 1, 'the request went up');
        assert.deepEqual((interaction.steps as StepSeen[]).map((s) => s.name ?? s.type), ['model_output', 'read_file', 'delete_file']);
        assert.equal(lastHeaders?.get('ngrok-aig-firewall'), 'flagged; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct, flagged; rule="No deletes"; tier=hardDeny; policy=aigfwp_acct');
        const events = await streamed({ model: 'google:tool-each-x', input: 'tidy up', tools: TOOLS });
        assert.deepEqual(events.filter((e) => e.event_type === 'step.start').map((e) => (e.step as StepSeen).name ?? (e.step as StepSeen).type), ['model_output', 'read_file', 'delete_file']);
      });
    });

    describe('legacy completions', () => {
      test('a request rule that blocks: a normal completion naming the rule, JSON and streamed, and nothing goes to the model', async () => {
        place(policy('aigfwp_acct', [NO_RM]));
        const sent = fake.requests.length;
        const { data, response } = await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: ['list the files', 'then rm -rf /'] }).withResponse();
        assert.equal(data.object, 'text_completion');
        assert.deepEqual(data.choices.map((c) => [c.text, c.finish_reason]), [[BLOCKED_REQUEST, 'stop']]);
        assert.deepEqual(data.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
        assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct');
        let text = '';
        let finish: string | null = null;
        let total: number | undefined;
        for await (const chunk of await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: 'rm -rf /', stream: true, stream_options: { include_usage: true } })) {
          text += chunk.choices[0]?.text ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
          total = chunk.usage?.total_tokens ?? total;
        }
        assert.deepEqual([text, finish, total], [BLOCKED_REQUEST, 'stop', 0]);
        assert.equal(fake.requests.length, sent, 'nothing went upstream');
        // A prompt the rules pass goes up as before.
        assert.match((await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: 'list the files' })).choices[0]!.text, /fake/);
      });

      test('an audit policy lets the prompt through and reports the rule it matched', async () => {
        place(policy('aigfwp_acct', [NO_RM], { mode: 'audit' }));
        const { data, response } = await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: 'rm -rf /' }).withResponse();
        assert.match(data.choices[0]!.text, /fake/);
        assert.equal(response.headers.get('ngrok-aig-firewall'), 'flagged; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct');
      });
    });
  });

  describe('per-request rules (`plugins`)', () => {
    /** A request's own Firewall rules, as the body's `plugins` field carries them. */
    const own = (rules: Record<string, unknown>, extra: Record<string, unknown> = {}) => [{ id: 'firewall', ...rules, ...extra }];
    const NO_RM_RULE = { name: 'No rm -rf', type: 'regex', phase: 'request', reads: ['messages'], pattern: '(?i)rm -rf' };
    const NO_DELETES_RULE = { name: 'No deletes', type: 'toolNames', phase: 'response', toolNames: ['delete_*'] };
    const BLOCKED_CALL = 'Blocked by the gateway\'s Firewall: rule "No deletes" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.';
    /** The last request the provider got: `plugins` never among its fields, nor in its bytes. */
    function lastSentWithoutPlugins(): void {
      const last = fake.requests.at(-1)!;
      assert.ok(last.body && !('plugins' in last.body), `the provider got ${last.rawBody.slice(0, 200)}`);
      assert.doesNotMatch(last.rawBody, /"plugins"/);
    }

    test('a request rule in `plugins` blocks a chat request, JSON and streamed, with no policy on the key: nothing reaches the model', async () => {
      const sent = fake.requests.length;
      const recorded = usage.length;
      const ask = { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: 'Please rm -rf the build' }], plugins: own({ hard_deny: [NO_RM_RULE] }) };
      const { data, response } = await openai.chat.completions.create(ask as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      assert.equal(data.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.');
      assert.equal(data.choices[0]!.finish_reason, 'stop');
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="No rm -rf"; tier=hardDeny; policy=plugins[0]');
      assert.equal(response.headers.get('ngrok-aig-attempts'), '0');
      const streamed = await openai.chat.completions.stream({ ...ask, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming).finalChatCompletion();
      assert.equal(streamed.choices[0]!.message.content, data.choices[0]!.message.content);
      assert.equal(fake.requests.length, sent, 'nothing went upstream');
      assert.deepEqual((usage.slice(recorded) as UsageEvent[]).map((e) => e.firewall), [
        [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId: 'plugins[0]', phase: 'request' }],
        [{ action: 'blocked', rule: 'No rm -rf', tier: 'hardDeny', policyId: 'plugins[0]', phase: 'request' }],
      ]);
      // The same request the rules pass goes up, without the field.
      await openai.chat.completions.create({ ...ask, messages: [{ role: 'user', content: 'list the build' }] } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      assert.equal(fake.requests.length, sent + 1);
      lastSentWithoutPlugins();
    });

    test('a response rule in `plugins` takes the blocked call out of a chat answer, JSON and streamed; the provider never sees the field', async () => {
      const sent = fake.requests.length;
      const ask = { model: 'openai:tool-each-x', messages: [{ role: 'user' as const, content: 'tidy up' }], tools: CHAT_TOOLS, plugins: own({ hard_deny: [NO_DELETES_RULE] }) };
      const { data, response } = await openai.chat.completions.create(ask as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      assert.deepEqual(data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.equal(data.choices[0]!.message.content, BLOCKED_CALL);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="No deletes"; tier=hardDeny; policy=plugins[0]');
      lastSentWithoutPlugins();
      const done = await openai.chat.completions.stream({ ...ask, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming).finalChatCompletion();
      assert.deepEqual(done.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.match(done.choices[0]!.message.content!, /rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
      lastSentWithoutPlugins();
      assert.equal(fake.requests.length, sent + 2);
    });

    test('Messages, JSON and streamed: a request rule blocks, a response rule replaces the blocked tool_use, with the Anthropic SDK', async () => {
      const sent = fake.requests.length;
      const blocked = await anthropic.messages.create({ model: 'anthropic:claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'rm -rf ~' }], plugins: own({ soft_deny: [NO_RM_RULE] }) } as Anthropic.MessageCreateParamsNonStreaming);
      assert.deepEqual(blocked.content, [{ type: 'text', text: 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (soft block) flagged this request.' }]);
      assert.equal(fake.requests.length, sent);
      const ask = { model: 'anthropic:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user' as const, content: 'tidy up' }], plugins: own({ hard_deny: [NO_DELETES_RULE] }) };
      const data = await anthropic.messages.create(ask as Anthropic.MessageCreateParamsNonStreaming);
      assert.deepEqual(data.content, [{ type: 'tool_use', id: 'toolu_fake1', name: 'read_file', input: { city: 'Paris' } }, { type: 'text', text: BLOCKED_CALL }]);
      lastSentWithoutPlugins();
      const streamed = await anthropic.messages.stream(ask as Anthropic.MessageStreamParams).finalMessage();
      assert.deepEqual(streamed.content.map((b) => (b.type === 'tool_use' ? b.name : (b as Anthropic.TextBlock).text)), ['read_file', BLOCKED_CALL]);
      lastSentWithoutPlugins();
    });

    test('Responses, Gemini generateContent, Gemini Interactions and legacy completions read `plugins` too', async () => {
      const sent = fake.requests.length;
      const plugins = own({ hard_deny: [{ ...NO_RM_RULE, reads: undefined }] });
      const text = 'Blocked by the gateway\'s Firewall: rule "No rm -rf" (hard block) flagged this request.';
      const responses = await openai.responses.create({ model: 'openai:gpt-4o', input: 'rm -rf /', plugins } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
      assert.equal(responses.output_text, text);
      const post = async (path: string, body: unknown) => (await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'x-goog-api-key': TOKEN, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<Record<string, unknown>>;
      const gemini = await post('/v1beta/models/gemini-2.5-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'rm -rf /' }] }], plugins }) as { candidates: { content: { parts: { text: string }[] } }[] };
      assert.equal(gemini.candidates[0]!.content.parts[0]!.text, text);
      const interaction = await post('/v1beta/interactions', { model: 'google:gemini-2.5-flash', input: 'rm -rf /', plugins }) as { status: string; output_text?: string; steps: StepSeen[] };
      assert.deepEqual(interaction.steps.map((s) => s.content?.map((c) => c.text).join('')), [text]);
      const completion = await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: 'rm -rf /', plugins } as OpenAI.CompletionCreateParamsNonStreaming);
      assert.equal(completion.choices[0]!.text, text);
      assert.equal(fake.requests.length, sent, 'nothing went upstream');
      // Rules that pass: each request goes up without the field.
      for (const send of [
        () => openai.responses.create({ model: 'openai:gpt-4o', input: 'hello', plugins } as OpenAI.Responses.ResponseCreateParamsNonStreaming),
        () => post('/v1beta/models/gemini-2.5-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'hello' }] }], plugins }),
        () => post('/v1beta/interactions', { model: 'google:gemini-2.5-flash', input: 'hello', plugins }),
        () => openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: 'hello', plugins } as OpenAI.CompletionCreateParamsNonStreaming),
      ]) {
        await send();
        lastSentWithoutPlugins();
      }
      assert.equal(fake.requests.length, sent + 4);
    });

    test('a request adds rules to the key\'s policy and cannot weaken it: its allow rules and its audit mode leave the policy\'s blocks as they were', async () => {
      const configured = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: CONFIGURED_TOKEN, maxRetries: 0 });
      place(undefined, policy('aigfwp_conf', [NO_DELETES, { name: 'Files', tier: 'softDeny', type: 'toolNames', phase: 'response', toolNames: ['read_*'] }]));
      const ask = { model: 'openai:tool-each-x', messages: [{ role: 'user' as const, content: 'tidy up' }], tools: CHAT_TOOLS };
      // An allow rule of the request's matches both calls, in an enforcing and in an audit entry: it clears only the
      // request's own soft blocks, never the policy's hard or soft ones.
      const allowAll = { name: 'Anything goes', type: 'regex', phase: 'response', pattern: '.*' };
      for (const mode of ['enforce', 'audit']) {
        const { data, response } = await configured.chat.completions.create({ ...ask, plugins: own({ allow: [allowAll] }, { mode }) } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
        assert.equal(data.choices[0]!.message.tool_calls, undefined, `both calls still blocked (${mode})`);
        assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="Files"; tier=softDeny; policy=aigfwp_conf, blocked; rule="No deletes"; tier=hardDeny; policy=aigfwp_conf');
      }
      // The request's own rules add to the policy's, each under its own mode: an audit entry reports, an enforcing one blocks.
      place(undefined, policy('aigfwp_conf', [NO_DELETES]));
      const readsToo = { name: 'No reads', type: 'toolNames', phase: 'response', toolNames: ['read_file'] };
      const flagged = await configured.chat.completions.create({ ...ask, plugins: own({ hard_deny: [readsToo] }, { mode: 'audit' }) } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      assert.deepEqual(flagged.data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.equal(flagged.response.headers.get('ngrok-aig-firewall'), 'flagged; rule="No reads"; tier=hardDeny; policy=plugins[0], blocked; rule="No deletes"; tier=hardDeny; policy=aigfwp_conf');
      const both = await configured.chat.completions.create({ ...ask, plugins: own({ hard_deny: [readsToo] }) } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      assert.equal(both.choices[0]!.message.tool_calls, undefined);
      assert.match(both.choices[0]!.message.content!, /rule "No reads" \(hard block\) flagged the call to tool "read_file"[\s\S]*rule "No deletes" \(hard block\) flagged the call to tool "delete_file"/);
      // A request's soft block is cleared by its own allow rule, as within a policy.
      const cleared = await openai.chat.completions.create({ ...ask, plugins: own({ soft_deny: [{ ...readsToo, toolNames: ['*_file'] }], allow: [{ ...allowAll, pattern: '^read_file ' }] }) } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      assert.deepEqual(cleared.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
    });

    test('invalid `plugins` is refused with a 400 naming the field, in the client\'s error format, before anything goes upstream', async () => {
      const sent = fake.requests.length;
      const cases: [unknown, RegExp][] = [
        [{ id: 'firewall' }, /"plugins" must be a list of plugins/],
        [[{ id: 'web' }], /"plugins\[0\]\.id" must be "firewall", the only plugin this gateway runs; got "web"/],
        [own({ rules: [{ ...NO_RM_RULE, tier: 'hardDeny' }] }), /"plugins\[0\]\.rules" is not a field of a request's Firewall rules: in "plugins" the rules go in the lists "hard_deny", "soft_deny" and "allow", by tier/],
        [own({ onError: 'log' }), /"plugins\[0\]\.onError" is not a field of a request's Firewall rules: it is spelled "on_error" in "plugins"/],
        [own({ on_error: 'continue' }), /"plugins\[0\]\.on_error" must be one of "block", "log"/],
        [own({ mode: 'dry_run' }), /"plugins\[0\]\.mode" must be one of "enforce", "audit"/],
        [own({ hard_deny: [{ ...NO_RM_RULE, tier: 'allow' }] }), /"plugins\[0\]\.hard_deny\[0\]\.tier" is set by the list the rule is in/],
        [own({ hard_deny: [{ ...NO_RM_RULE, instructions: 'Deletes' }] }), /"plugins\[0\]\.hard_deny\[0\]\.instructions" \(rule "No rm -rf"\): a regex rule takes only its own match field, "pattern"; remove "instructions"\./],
        [own({ soft_deny: [{ ...NO_RM_RULE, pattern: '(?<=x)y' }] }), /"plugins\[0\]\.soft_deny\[0\]\.pattern" \(rule "No rm -rf"\): "pattern" is not a valid RE2 pattern/],
        [own({ hard_deny: [{ name: 'Force push', type: 'decision', phase: 'response', instructions: 'Force pushes' }] }), /"plugins\[0\]\.hard_deny\[0\]\.type" \(rule "Force push"\): decision rules are not available on this gateway/],
        [own({ hard_deny: [{ ...NO_DELETES_RULE, reads: ['messages'] }] }), /"reads" is for request rules only/],
        [own({ hard_deny: Array.from({ length: 49 }, (_, i) => ({ ...NO_DELETES_RULE, name: `r${i}` })) }), /"plugins\[0\]\.hard_deny" takes the request past 48 rules, the most a request can add/],
        [own({ hard_deny: [{ ...NO_RM_RULE, name: '' }] }), /"plugins\[0\]\.hard_deny\[0\]\.name" must be a non-empty string/],
        // Keys every object has are no hint (the message once quoted Object's source), and a key is quoted shortened.
        [own({ constructor: 1 }), /"plugins\[0\]\.constructor" is not a field of a request's Firewall rules; they have "id", "mode"/],
        [own({ ['x'.repeat(100_000)]: 1 }), /"plugins\[0\]\.x{64}…" is not a field/],
        // 189 characters that RE2 compiles to 21,000 instructions: a request's patterns are bounded by what they compile to.
        [own({ hard_deny: [{ ...NO_RM_RULE, pattern: '\\pL{1000}'.repeat(21) }] }), /"plugins\[0\]\.hard_deny\[0\]\.pattern" \(rule "No rm -rf"\): the request's patterns expand past 20000 steps in all/],
      ];
      for (const [plugins, message] of cases) {
        const refused = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }], plugins } as OpenAI.ChatCompletionCreateParamsNonStreaming).then(() => undefined, (e: unknown) => e);
        assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
        assert.equal(refused.code, 'ERR_NGROK_27228');
        assert.match(refused.message, message);
      }
      await assert.rejects(anthropic.messages.create({ model: 'anthropic:claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], plugins: [{ id: 'web' }] } as Anthropic.MessageCreateParamsNonStreaming),
        (e: unknown) => e instanceof Anthropic.BadRequestError && e.error !== undefined && /"plugins\[0\]\.id" must be "firewall"/.test(e.message));
      assert.equal(fake.requests.length, sent, 'never forwarded');
    });

    test('where Firewall does not screen: embeddings are refused, an unscreenable turn is refused only under enforcing rules, token counting drops the field', async () => {
      const sent = fake.requests.length;
      const plugins = own({ hard_deny: [NO_RM_RULE] });
      const embedded = await openai.embeddings.create({ model: 'openai:text-embedding-3-small', input: 'hi', plugins } as OpenAI.EmbeddingCreateParams).then(() => undefined, (e: unknown) => e);
      assert.ok(embedded instanceof OpenAI.BadRequestError, String(embedded));
      assert.match(embedded.message, /"plugins" \(per-request Firewall rules\) applies to model turns, and Firewall does not screen embeddings requests: nothing in it would be enforced/);
      const tokenIds = await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: [1, 2, 3], plugins } as OpenAI.CompletionCreateParamsNonStreaming).then(() => undefined, (e: unknown) => e);
      assert.ok(tokenIds instanceof OpenAI.BadRequestError, String(tokenIds));
      assert.match(tokenIds.message, /the request's Firewall rules \(plugins\[0\]\) enforces rules, and Firewall does not screen legacy completions \(\/v1\/completions\) whose prompt is token ids/);
      assert.equal(fake.requests.length, sent);
      // In audit mode nothing would be blocked: served unscreened, without the field.
      assert.equal((await openai.completions.create({ model: 'openai:gpt-3.5-turbo-instruct', prompt: [1, 2, 3], plugins: own({ hard_deny: [NO_RM_RULE] }, { mode: 'audit' }) } as OpenAI.CompletionCreateParamsNonStreaming)).object, 'text_completion');
      lastSentWithoutPlugins();
      // Counting a request's tokens (the same body an agent then sends): the field is checked and dropped.
      const counted = await anthropic.messages.countTokens({ model: 'anthropic:claude-sonnet-4-6', messages: [{ role: 'user', content: 'rm -rf' }], plugins } as Anthropic.MessageCountTokensParams);
      assert.ok(counted.input_tokens > 0);
      lastSentWithoutPlugins();
    });
  });

  describe('audit and layers', () => {
    test('an audit policy lets everything through and reports what it would have blocked', async () => {
      place(policy('aigfwp_acct', [NO_DELETES, NO_RM], { mode: 'audit' }));
      const sent = fake.requests.length;
      const { data, response } = await openai.chat.completions.create({ model: 'openai:tool-each-x', messages: [{ role: 'user', content: 'rm -rf it' }], tools: CHAT_TOOLS }).withResponse();
      assert.equal(fake.requests.length, sent + 1, 'the request went up');
      assert.deepEqual(data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file', 'delete_file']);
      assert.equal(data.choices[0]!.message.content, null);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'flagged; rule="No rm -rf"; tier=hardDeny; policy=aigfwp_acct, flagged; rule="No deletes"; tier=hardDeny; policy=aigfwp_acct');
    });

    test('the account\'s all-keys policy and the configuration\'s apply together, each under its own mode', async () => {
      place(policy('aigfwp_acct', [{ ...NO_DELETES, name: 'Account: no deletes' }], { mode: 'audit' }), policy('aigfwp_conf', [{ ...NO_DELETES, name: 'Config: no deletes' }]));
      const configured = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: CONFIGURED_TOKEN, maxRetries: 0 });
      const { data, response } = await configured.chat.completions.create({ model: 'openai:tool-each-x', messages: [{ role: 'user', content: 'tidy' }], tools: CHAT_TOOLS }).withResponse();
      assert.deepEqual(data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.match(data.choices[0]!.message.content!, /rule "Config: no deletes"/);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'flagged; rule="Account: no deletes"; tier=hardDeny; policy=aigfwp_acct, blocked; rule="Config: no deletes"; tier=hardDeny; policy=aigfwp_conf');
    });

    test('a decision rule, which this gateway cannot check: onError block blocks, log lets it through and reports it', async () => {
      const decision: FirewallRule = { name: 'Risky deletes', tier: 'softDeny', type: 'decision', phase: 'response', instructions: 'Deletes files outside the project.' };
      place(policy('aigfwp_acct', [decision]));
      const blocked = await openai.chat.completions.create({ model: 'openai:tool-x', messages: [{ role: 'user', content: 'x' }], tools: [CHAT_TOOLS[0]!] });
      assert.match(blocked.choices[0]!.message.content!, /rule "Risky deletes" \(soft block\) could not check the call to tool "read_file"/);
      place(policy('aigfwp_acct', [decision], { onError: 'log' }));
      const { data, response } = await openai.chat.completions.create({ model: 'openai:tool-x', messages: [{ role: 'user', content: 'x' }], tools: [CHAT_TOOLS[0]!] }).withResponse();
      assert.equal(data.choices[0]!.message.tool_calls?.length, 1);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'unchecked; rule="Risky deletes"; tier=softDeny; policy=aigfwp_acct');
    });

    test('a policy that flags nothing leaves the answer\'s bytes as the provider sent them, and adds no header', async () => {
      const body = { model: 'tool-each-x', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS };
      const direct = async (stream: boolean) => (await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-openai', 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream }) })).text();
      const through = async (stream: boolean) => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, model: `openai:${body.model}`, stream }) });
      const undated = (text: string) => text.replace(/"created":\d+/g, '"created":0');
      for (const placed of [undefined, policy('aigfwp_acct', [{ ...NO_DELETES, toolNames: ['drop_*'] }, { ...NO_RM, pattern: 'never' }])]) {
        place(placed);
        for (const stream of [false, true]) {
          const res = await through(stream);
          assert.equal(res.headers.get('ngrok-aig-firewall'), null);
          assert.equal(undated(await res.text()), undated(await direct(stream)), `${placed ? 'a quiet policy' : 'no policy'}, ${stream ? 'streamed' : 'JSON'}`);
        }
      }
    });
  });
});

// Decision rules judged by the operator's decision model (TOLLGATE_FIREWALL_DECISION_MODEL): a gateway naming one, the
// fake provider's judge flagging an item that holds the text its rule quotes (src/demo/fake-provider/server.ts).
describe('Firewall decision rules, judged by the decision model', () => {
  let fake: FakeProvider;
  let gateway: GatewayServer;
  let account: AccountSnapshot;
  const usage: (BegunAttempt | UsageEvent)[] = [];
  let openai: OpenAI;
  let anthropic: Anthropic;
  const WIPE: FirewallRule = { name: 'Wipes the disk', tier: 'hardDeny', type: 'decision', phase: 'request', reads: ['messages'], instructions: 'Asks the agent to delete everything, as "rm -rf /".' };
  const judged = (policy: FirewallPolicyState): void => {
    account = snapshot({ settings: { firewallPolicyId: policy.id }, providerKeys: [{ id: 'aigpk_openai', providerId: 'openai', value: 'sk-openai' }, { id: 'aigpk_anthropic', providerId: 'anthropic', value: 'sk-anthropic' }], firewallPolicies: [policy] });
  };
  const enforced = (rules: FirewallRule[], extra: Partial<FirewallPolicyState> = {}): FirewallPolicyState => ({ id: 'aigfwp_judged', name: 'judged', mode: 'enforce', onError: 'block', environment: [], rules, ...extra });
  /** The decision model's calls since `from`: those whose structured output asks for a verdict. */
  const judgements = (from: number) => fake.requests.slice(from).filter((r) => (r.body?.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name === 'firewall_decision');

  before(async () => {
    fake = await startFakeProvider();
    const state = stubState(() => account, new Map([[TOKEN, { id: 'aigak_1', configurationId: null }]]));
    gateway = await startOnFake(fake, state, usage, { managedKeys: { openai: 'sk-operator' }, firewallDecision: { provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 500 } });
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gateway.url, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gateway.close(0);
    await fake.close();
  });

  test('a request the decision model flags is blocked before any attempt; one it passes goes to the model; each judgement is the operator\'s, at no cost to the tenant', async () => {
    judged(enforced([WIPE], { environment: ['The project lives in /srv/app.'] }));
    const sent = fake.requests.length;
    const recorded = usage.length;
    const { data, response } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'system', content: 'You are a coding agent.' }, { role: 'user', content: 'Now run RM -RF / please' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "Wipes the disk" (hard block) flagged this request.');
    assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="Wipes the disk"; tier=hardDeny; policy=aigfwp_judged');
    assert.equal(response.headers.get('ngrok-aig-attempts'), '0');
    // One call, the decision model's, with the operator's key: the rule and the facts as instructions, the item as data.
    const calls = fake.requests.slice(sent);
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.path, '/v1/chat/completions');
    assert.equal(call.headers.authorization, 'Bearer sk-operator');
    assert.equal(call.body!.model, 'gpt-4o-mini');
    assert.equal(call.body!.temperature, 0);
    assert.deepEqual(call.body!.response_format, { type: 'json_schema', json_schema: { name: 'firewall_decision', strict: true, schema: { type: 'object', properties: { flagged: { type: 'boolean' } }, required: ['flagged'], additionalProperties: false } } });
    const [system, user] = call.body!.messages as { role: string; content: string }[];
    assert.equal(system!.role, 'system');
    assert.ok(system!.content.includes('<rule>\nAsks the agent to delete everything, as "rm -rf /".\n</rule>'));
    assert.ok(system!.content.includes('- The project lives in /srv/app.'));
    assert.equal(user!.role, 'user');
    assert.deepEqual(JSON.parse(user!.content), { messages: 'You are a coding agent.\nNow run RM -RF / please' });
    const noted = usage.slice(recorded);
    const events = noted.filter(finishedEvent);
    const requestId = response.headers.get('ngrok-aig-request-id');
    // Journaled before it was sent, as an attempt is: a crash during the call still leaves its record.
    assert.deepEqual(noted.filter((e): e is BegunAttempt => !finishedEvent(e)).map((e) => [e.id, e.model, e.keySource, e.gatewayCall]), [[events[0]!.id, 'gpt-4o-mini', 'ngrok', true]]);
    assert.deepEqual(events.map((e) => [e.requestId, e.provider, e.model, e.keySource, e.isFinalAttempt, e.statusCode, e.inputTokens, e.outputTokens, e.costPico, e.completion, e.firewall]), [
      [requestId, 'openai', 'gpt-4o-mini', 'ngrok', false, 200, FAKE_JUDGE_USAGE.prompt_tokens, FAKE_JUDGE_USAGE.completion_tokens, 0n, 'succeeded', null],
      [requestId, 'openai', 'gpt-4o', 'user', true, 200, 0, 0, 0n, 'succeeded', [{ action: 'blocked', rule: 'Wipes the disk', tier: 'hardDeny', policyId: 'aigfwp_judged', phase: 'request' }]],
    ]);

    const passed = fake.requests.length;
    const { data: answer, response: served } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'list the project files' }] }).withResponse();
    assert.match(answer.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/);
    assert.equal(served.headers.get('ngrok-aig-firewall'), null);
    assert.deepEqual(fake.requests.slice(passed).map((r) => r.body!.model), ['gpt-4o-mini', 'gpt-4o'], 'judged, then sent');
  });

  test('the decision model\'s failure (an error, an answer in words, a timeout) is "could not check": onError block blocks, log lets it through and reports it', async () => {
    for (const marker of ['FAKE-JUDGE-FAIL', 'FAKE-JUDGE-PROSE', 'FAKE-JUDGE-SLOW-1500']) {
      judged(enforced([WIPE]));
      const sent = fake.requests.length;
      const recorded = usage.length;
      const blocked = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: `tidy up ${marker}` }] });
      assert.equal(blocked.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "Wipes the disk" (hard block) could not check this request, and its policy blocks what it cannot check.', marker);
      assert.equal(fake.requests.slice(sent).filter((r) => r.body!.model === 'gpt-4o').length, 0, marker);
      const judgement = usage.slice(recorded).filter(finishedEvent).find((e) => e.model === 'gpt-4o-mini')!;
      assert.deepEqual([judgement.isError, judgement.costPico, judgement.keySource], [true, 0n, 'ngrok'], marker);

      judged(enforced([WIPE], { onError: 'log' }));
      const { data, response } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: `tidy up ${marker}` }] }).withResponse();
      assert.match(data.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/, marker);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'unchecked; rule="Wipes the disk"; tier=hardDeny; policy=aigfwp_judged', marker);
    }
    const timedOut = usage.filter(finishedEvent).filter((e) => e.model === 'gpt-4o-mini' && e.timedOut);
    assert.ok(timedOut.length >= 2 && timedOut.every((e) => e.completion === 'timed_out' && e.statusCode === 0));
  });

  test('an audit policy\'s decision rule only reports what the model flagged; the request is served', async () => {
    judged(enforced([WIPE], { mode: 'audit' }));
    const { data, response } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'rm -rf / now' }] }).withResponse();
    assert.match(data.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/);
    assert.equal(response.headers.get('ngrok-aig-firewall'), 'flagged; rule="Wipes the disk"; tier=hardDeny; policy=aigfwp_judged');
  });

  test('a request\'s rules are judged at once, each distinct rule and item once; an allow rule the model matches clears a soft block', async () => {
    const soft: FirewallRule = { ...WIPE, name: 'Deletes things', tier: 'softDeny', instructions: 'Deletes files, as "delete".' };
    const build: FirewallRule = { ...WIPE, name: 'Build cleanup', tier: 'allow', instructions: 'Only cleans the build output, as "build/".' };
    // The key's policy and the request's own rules ask the same question: one judgement answers both.
    judged(enforced([WIPE, soft, build]));
    const plugins = [{ id: 'firewall', hard_deny: [{ name: 'Wipes the disk, again', type: 'decision', phase: 'request', reads: ['messages'], instructions: WIPE.instructions }] }];
    let sent = fake.requests.length;
    const cleared = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'delete build/ please' }], plugins } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.match(cleared.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/);
    assert.equal(judgements(sent).length, 3, 'three distinct questions for four rules');
    sent = fake.requests.length;
    const blocked = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'delete src/ please' }], plugins } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(blocked.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "Deletes things" (soft block) flagged this request.');
    assert.equal(judgements(sent).length, 3);
  });

  test('a request\'s `plugins` holds at most 8 decision rules: more are refused in the client\'s format, before anything is asked', async () => {
    judged(enforced([]));
    const rule = (n: number) => ({ name: `Check ${n}`, type: 'decision', phase: 'request', reads: ['messages'], instructions: `Mentions "word-${n}".` });
    const sent = fake.requests.length;
    const refused = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }], plugins: [{ id: 'firewall', hard_deny: Array.from({ length: 9 }, (_, i) => rule(i + 1)) }] } as OpenAI.ChatCompletionCreateParamsNonStreaming).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.code, 'ERR_NGROK_27228');
    assert.match(refused.message, /"plugins\[0\]\.hard_deny\[8\]\.type" \(rule "Check 9"\): takes the request past 8 decision rules/);
    // Counted across the request's plugins and tiers, in Anthropic's format too.
    await assert.rejects(anthropic.messages.create({ model: 'anthropic:claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], plugins: [{ id: 'firewall', hard_deny: Array.from({ length: 5 }, (_, i) => rule(i + 1)) }, { id: 'firewall', soft_deny: Array.from({ length: 4 }, (_, i) => rule(i + 6)) }] } as Anthropic.MessageCreateParamsNonStreaming),
      (e: unknown) => e instanceof Anthropic.BadRequestError && /"plugins\[1\]\.soft_deny\[3\]\.type" \(rule "Check 9"\): takes the request past 8 decision rules/.test(e.message));
    assert.equal(fake.requests.length, sent, 'nothing judged, nothing forwarded');
    const served = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }], plugins: [{ id: 'firewall', hard_deny: Array.from({ length: 8 }, (_, i) => rule(i + 1)) }] } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.match(served.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/);
    assert.equal(judgements(sent).length, 8);
  });

  test('a request asks at most 32 judgements, whatever its policies hold: the questions past them are "could not check", as onError says', async () => {
    const many = Array.from({ length: 34 }, (_, i): FirewallRule => ({ ...WIPE, name: `Rule ${i + 1}`, instructions: `Mentions "word-${i + 1}".` }));
    judged(enforced(many, { onError: 'log' }));
    const sent = fake.requests.length;
    const recorded = usage.length;
    const { data, response } = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.match(data.choices[0]!.message.content!, /^Hello from the fake gpt-4o model!/);
    assert.equal(judgements(sent).length, 32, 'the operator pays for 32 calls, not 34');
    const served = usage.slice(recorded).filter(finishedEvent).find((e) => e.model === 'gpt-4o')!;
    assert.deepEqual(served.firewall, ['Rule 33', 'Rule 34'].map((rule) => ({ action: 'unchecked', rule, tier: 'hardDeny', policyId: 'aigfwp_judged', phase: 'request' })));
    assert.match(response.headers.get('ngrok-aig-firewall')!, /unchecked; rule="Rule 33"/);
    // Under onError block, the first question not asked blocks.
    judged(enforced(many));
    const blocked = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(blocked.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "Rule 33" (hard block) could not check this request, and its policy blocks what it cannot check.');
  });

  test('a client that leaves while its request is judged: the judgement is cut there, and recorded as one whose outcome is unknown; the request is recorded as its first attempt, never sent, its outcome unknown', async () => {
    for (const onError of ['block', 'log'] as const) {
      judged(enforced([WIPE], { onError }));
      const sent = fake.requests.length;
      const recorded = usage.length;
      const leaving = new AbortController();
      const asked = fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', signal: leaving.signal, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'tidy up FAKE-JUDGE-SLOW-1500' }] }) });
      while (judgements(sent).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      leaving.abort();
      await assert.rejects(asked);
      const finished = () => usage.slice(recorded).filter(finishedEvent);
      for (const started = Date.now(); finished().length < 2 && Date.now() - started < 2000;) await new Promise((resolve) => setTimeout(resolve, 5));
      const judgement = finished().find((e) => e.model === 'gpt-4o-mini');
      // Not left to run to the decision model's time limit (500 ms here) for nobody.
      assert.deepEqual(judgement && [judgement.completion, judgement.timedOut, judgement.isError, judgement.costPico], ['unknown', false, true, 0n], onError);
      assert.ok(judgement!.upstreamDurationMs < 400, `cut after ${judgement!.upstreamDurationMs} ms`);
      assert.equal(fake.requests.slice(sent).filter((r) => r.body!.model === 'gpt-4o').length, 0, 'the request itself never sent');
      // The request it judged is in usage, as one the stop cut while judged is: its first attempt, begun and never
      // sent, `unknown` as an attempt its client left while it was being noted, at no cost, with no verdict (the rule
      // was not "could not check": nobody was left to judge it for). Before, onError block recorded a block the client
      // never got (`succeeded`, 200, its verdict), and log no event of the request at all.
      const own = finished().filter((e) => e.model === 'gpt-4o');
      assert.deepEqual(own.map((e) => [e.attemptNumber, e.isFinalAttempt, e.completion, e.retryAction, e.isError, e.statusCode, e.timedOut, e.costPico, e.firewall]), [[1, true, 'unknown', 'fail_fast', true, 0, false, 0n, null]], onError);
      // Journaled as any attempt is, under the same id.
      assert.ok(usage.slice(recorded).some((e) => !finishedEvent(e) && e.id === own[0]!.id && e.gatewayCall === undefined), onError);
    }
  });

  describe('a judge that never answers', () => {
    // A gateway whose decision model may take far longer than any test: only the request's total time limit, or
    // the gateway stopping, ends such a judgement (a judge marked FAKE-JUDGE-HANG answers only once it is let go).
    let patient: GatewayServer;
    let patientAi: OpenAI;
    const PATIENT_DECISION_MS = 10 * 60_000;
    /** What the patient gateway logged at error level. */
    const errors: string[] = [];
    const hanging = { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: 'tidy up FAKE-JUDGE-HANG' }] };
    const startPatient = async (options: Partial<GatewayOptions> = {}): Promise<void> => {
      const state = stubState(() => account, new Map([[TOKEN, { id: 'aigak_1', configurationId: null }]]));
      const logger = pino({ level: 'error' }, { write: (line: string) => { errors.push(line); } });
      patient = await startOnFake(fake, state, usage, { managedKeys: { openai: 'sk-operator' }, firewallDecision: { provider: 'openai', model: 'gpt-4o-mini', timeoutMs: PATIENT_DECISION_MS }, ...options }, logger);
      patientAi = new OpenAI({ baseURL: `${patient.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    };
    /** The finished events recorded since `from` on `model`, once there is one (a request's is metered after its answer). */
    const eventsOn = async (from: number, model: string): Promise<UsageEvent[]> => {
      const found = () => usage.slice(from).filter(finishedEvent).filter((e) => e.model === model);
      while (found().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return found();
    };

    test('the request\'s total time limit ends the judgement: "could not check", decided by onError, and both are recorded', { timeout: 15_000 }, async () => {
      await startPatient();
      try {
        judged(enforced([WIPE]));
        account = { ...account, settings: { ...account.settings, totalTimeoutMs: 300, totalTimeoutSet: true } };
        let recorded = usage.length;
        const blocked = await patientAi.chat.completions.create(hanging);
        assert.equal(blocked.choices[0]!.message.content, 'Blocked by the gateway\'s Firewall: rule "Wipes the disk" (hard block) could not check this request, and its policy blocks what it cannot check.');
        const [judgement] = await eventsOn(recorded, 'gpt-4o-mini');
        assert.deepEqual([judgement!.completion, judgement!.timedOut, judgement!.isError, judgement!.isFinalAttempt, judgement!.costPico], ['timed_out', true, true, false, 0n]);
        const [own] = await eventsOn(recorded, 'gpt-4o');
        assert.deepEqual(own!.firewall, [{ action: 'blocked', rule: 'Wipes the disk', tier: 'hardDeny', policyId: 'aigfwp_judged', phase: 'request' }]);

        judged(enforced([WIPE], { onError: 'log' }));
        account = { ...account, settings: { ...account.settings, totalTimeoutMs: 300, totalTimeoutSet: true } };
        recorded = usage.length;
        const sent = fake.requests.length;
        const failed = await patientAi.chat.completions.create(hanging).then(() => undefined, (e: unknown) => e);
        assert.ok(failed instanceof OpenAI.APIError && failed.status === 504, String(failed));
        assert.equal(failed.code, 'ERR_NGROK_3810');
        assert.equal((await eventsOn(recorded, 'gpt-4o-mini'))[0]!.completion, 'timed_out');
        assert.deepEqual((await eventsOn(recorded, 'gpt-4o')).map((e) => [e.attemptNumber, e.completion, e.isFinalAttempt, e.costPico]), [[1, 'timed_out', true, 0n]]);
        assert.equal(fake.requests.slice(sent).filter((r) => r.body!.model === 'gpt-4o').length, 0, 'no time was left to send the request');
        // The header counts upstream attempts made: none was, though usage holds the attempt begun for the record
        // (before, 1 — an attempt never sent).
        assert.equal(failed.headers.get('ngrok-aig-attempts'), '0');
      } finally {
        await patient.close(0);
      }
    });

    test('a gateway stopping while a request is judged: at the grace period\'s end the client gets its 503 "retry", the judgement is cut and recorded, and the stop waits for nothing more', { timeout: 15_000 }, async () => {
      for (const onError of ['block', 'log'] as const) {
        await startPatient();
        judged(enforced([WIPE], { onError }));
        const recorded = usage.length;
        const sent = fake.requests.length;
        const asked = patientAi.chat.completions.create(hanging).then(() => undefined, (e: unknown) => e);
        while (judgements(sent).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        // Before, the stop waited for the judgement up to the decision model's own limit (10 minutes here).
        await patient.close(100);
        const answered = await asked;
        assert.ok(answered instanceof OpenAI.APIError && answered.status === 503, String(answered));
        assert.equal(answered.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
        // No upstream attempt was made (the one in usage below was never sent), as the total time's 504 says.
        assert.equal(answered.headers.get('ngrok-aig-attempts'), '0');
        // Recorded before close() returned, as the operator's call it was: cut by the stop, not timed out, no cost.
        const judgement = usage.slice(recorded).filter(finishedEvent).filter((e) => e.model === 'gpt-4o-mini');
        assert.deepEqual(judgement.map((e) => [e.completion, e.timedOut, e.isError, e.statusCode, e.isFinalAttempt, e.keySource, e.costPico]), [['failed', false, true, 0, false, 'ngrok', 0n]]);
        // Told to retry, the client sends the request again: this gateway never sent it.
        assert.equal(fake.requests.slice(sent).filter((r) => r.body!.model === 'gpt-4o').length, 0);
        // Yet the request the client was answered 503 for is in usage, as the total time's 504 while judged is: its
        // first attempt, begun and never sent, failed as the stop cut it, at no cost, with no verdict (none was given).
        // Before, only the judgement's event (not the request's) was written: the request was in no request count.
        const own = usage.slice(recorded).filter(finishedEvent).filter((e) => e.model === 'gpt-4o');
        assert.deepEqual(own.map((e) => [e.attemptNumber, e.isFinalAttempt, e.completion, e.retryAction, e.isError, e.statusCode, e.timedOut, e.costPico, e.firewall]), [[1, true, 'failed', 'fail_fast', true, 0, false, 0n, null]], onError);
        // The verdict the cut judgement led to (onError's) is not written over the 503: no failed request in the logs.
        assert.deepEqual(errors.splice(0), [], onError);
      }
    });

    /**
     * A JSON answer whose one tool call the decision model never judges, once it is being judged: the provider has
     * answered, and only the judgement holds the answer back. `answered` settles with what the client got.
     */
    const jsonHeldOnItsCall = async (signal?: AbortSignal): Promise<{ recorded: number; answered: Promise<unknown> }> => {
      judged(enforced([{ name: 'Deletes files', tier: 'hardDeny', type: 'decision', phase: 'response', instructions: 'Deletes files. FAKE-JUDGE-HANG' }]));
      const recorded = usage.length;
      const sent = fake.requests.length;
      const answered = patientAi.chat.completions.create({ model: 'openai:tool-each-said-x', messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS }, { signal }).then((answer) => answer, (e: unknown) => e);
      while (judgements(sent).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return { recorded, answered };
    };

    test('a gateway stopping while a JSON answer\'s tool call is judged: the client gets its 503, and the answer is recorded as one it never got (failed, no fee), its tokens the provider\'s', { timeout: 15_000 }, async () => {
      // A processing fee, so that none being charged says something.
      await startPatient({ processingFeeMicroUsdPerMtok: 50_000n });
      try {
        const { recorded, answered } = await jsonHeldOnItsCall();
        await patient.close(100);
        const failed = await answered;
        assert.ok(failed instanceof OpenAI.APIError && failed.status === 503, String(failed));
        assert.equal(failed.code, 'ERR_NGROK_AI_GATEWAY_REQUEST_CAPACITY_UNAVAILABLE');
        const own = usage.slice(recorded).filter(finishedEvent).filter((e) => e.model === 'tool-each-said-x');
        // The client got the 503, never the answer: failed, as an attempt the stop cut before anything of it was
        // written, still the attempt that answered the request (`succeeded` in the chain, as a stream the stop cut).
        // Before, `succeeded` and no error, billed with the fee as an answer served: 1b2fd18 took it for one.
        assert.deepEqual(own.map((e) => [e.completion, e.isError, e.retryAction, e.statusCode, e.isFinalAttempt, e.usageEstimated, e.feePico]), [['failed', true, 'succeeded', 200, true, false, 0n]]);
        // The provider produced and billed the whole answer: its own counts stand (on the tenant's own key the provider
        // bills it directly, so the fee, none here, is all the gateway would charge).
        assert.deepEqual([own[0]!.inputTokens, own[0]!.outputTokens, own[0]!.cacheReadTokens], [FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead]);
        assert.equal(own[0]!.costPico, 0n);
        // The stop cut the call's judgement: no verdict (before, onError's block) for a call nobody judged in an answer
        // nobody got, as none is given for request rules the stop cut.
        assert.equal(own[0]!.firewall, null);
        // Before 1b2fd18, the screened answer was written over the 503: "Cannot write headers after they are sent",
        // logged as a failed request.
        assert.deepEqual(errors.splice(0), []);
      } finally {
        await patient.close(0);
      }
    });

    test('a client that leaves while a JSON answer\'s tool call is judged: the answer is recorded as one that came after its client left, its tokens the provider\'s', { timeout: 15_000 }, async () => {
      await startPatient();
      try {
        const leaving = new AbortController();
        const { recorded, answered } = await jsonHeldOnItsCall(leaving.signal);
        leaving.abort();
        assert.ok(await answered instanceof OpenAI.APIUserAbortError);
        // Before, `succeeded`: the answer had come, though never to the client.
        const [own] = await eventsOn(recorded, 'tool-each-said-x');
        assert.deepEqual([own!.completion, own!.isError, own!.isFinalAttempt, own!.usageEstimated, own!.inputTokens, own!.outputTokens], ['unknown', false, true, false, FAKE_USAGE.input, FAKE_USAGE.output]);
        // No verdict for the call its leaving kept from being judged, as none is when the stop cuts it: before, onError's
        // block, "could not check", for a call nobody was left to judge in an answer nobody got.
        assert.equal(own!.firewall, null);
      } finally {
        await patient.close(0);
      }
    });

    /**
     * A streamed answer whose one tool call the decision model never judges, once it is being judged. The fake provider
     * sends its whole stream at once: the read that completes the call holds the final event too, so only the
     * judgement holds back the client's end. `read` settles with what reading the stream threw, if anything.
     */
    const streamHeldOnItsCall = async (signal?: AbortSignal): Promise<{ recorded: number; read: Promise<unknown> }> => {
      judged(enforced([{ name: 'Deletes files', tier: 'hardDeny', type: 'decision', phase: 'response', instructions: 'Deletes files. FAKE-JUDGE-HANG' }]));
      const recorded = usage.length;
      const sent = fake.requests.length;
      const stream = await patientAi.chat.completions.create({ model: 'openai:tool-x', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS }, { signal });
      const read = (async () => { for await (const chunk of stream) void chunk; })().then(() => undefined, (e: unknown) => e);
      while (judgements(sent).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return { recorded, read };
    };

    test('a gateway stopping while a streamed answer\'s tool call is judged, the provider\'s final event already in: the client gets the stop\'s error event, and the answer is recorded as the stream it got, its tokens the provider\'s', { timeout: 15_000 }, async () => {
      await startPatient();
      try {
        const { recorded, read } = await streamHeldOnItsCall();
        await patient.close(100);
        const failed = await read;
        assert.ok(failed instanceof OpenAI.APIError, String(failed));
        assert.match(failed.message, /the gateway stopped before the stream finished/);
        const own = usage.slice(recorded).filter(finishedEvent).filter((e) => e.model === 'tool-x');
        // As a stream the stop cut mid-way (before, `succeeded`: the final event had come, though never to the client).
        assert.deepEqual(own.map((e) => [e.completion, e.isError, e.retryAction, e.statusCode, e.isFinalAttempt, e.usageEstimated]), [['stream_failed', true, 'succeeded', 200, true, false]]);
        // The provider produced the whole answer: its own counts, as they were.
        assert.deepEqual([own[0]!.inputTokens, own[0]!.outputTokens, own[0]!.cacheReadTokens], [FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead]);
        // No verdict for the call the stop kept from being judged (before, onError's block), as for a JSON answer.
        assert.equal(own[0]!.firewall, null);
        assert.deepEqual(errors.splice(0), []);
      } finally {
        await patient.close(0);
      }
    });

    test('a client that leaves while a streamed answer\'s tool call is judged, the provider\'s final event already in: the answer is recorded as one read on after its client left, its tokens the provider\'s', { timeout: 15_000 }, async () => {
      await startPatient();
      try {
        const leaving = new AbortController();
        const { recorded, read } = await streamHeldOnItsCall(leaving.signal);
        leaving.abort();
        await read;
        // Before, `succeeded`: the final event had come, though never to the client.
        const [own] = await eventsOn(recorded, 'tool-x');
        assert.deepEqual([own!.completion, own!.isFinalAttempt, own!.usageEstimated, own!.inputTokens, own!.outputTokens], ['unknown', true, false, FAKE_USAGE.input, FAKE_USAGE.output]);
        // No verdict for the call its leaving kept from being judged (before, onError's block), as for a JSON answer.
        assert.equal(own!.firewall, null);
      } finally {
        await patient.close(0);
      }
    });
  });

  describe('response rules: each tool call judged', () => {
    const DELETES: FirewallRule = { name: 'Deletes files', tier: 'hardDeny', type: 'decision', phase: 'response', instructions: 'Deletes files, as "delete_file".' };
    const BLOCKED_CALL = 'Blocked by the gateway\'s Firewall: rule "Deletes files" (hard block) flagged the call to tool "delete_file". The call was removed from this response and was not run.';

    test('a JSON answer: the call the model flags is taken out and the answer says why; each call is judged once, as data', async () => {
      judged(enforced([DELETES]));
      const sent = fake.requests.length;
      const recorded = usage.length;
      const { data, response } = await openai.chat.completions.create({ model: 'openai:tool-each-said-x', messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS }).withResponse();
      const message = data.choices[0]!.message;
      assert.deepEqual(message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.equal(message.content, `${FAKE_SAID}\n\n${BLOCKED_CALL}`);
      assert.equal(data.choices[0]!.finish_reason, 'tool_calls');
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'blocked; rule="Deletes files"; tier=hardDeny; policy=aigfwp_judged');
      const asked = judgements(sent);
      // Asked at once, on connections of their own: they arrive in either order.
      const items = asked.map((r) => JSON.parse((r.body!.messages as { content: string }[])[1]!.content) as { tool: string }).sort((a, b) => a.tool.localeCompare(b.tool));
      assert.deepEqual(items, [{ tool: 'delete_file', arguments: '{"city":"Paris"}' }, { tool: 'read_file', arguments: '{"city":"Paris"}' }]);
      assert.match((asked[0]!.body!.messages as { content: string }[])[0]!.content, /a risk a tool call an AI agent's model returns for the agent to run must not do:\n\n<rule>\nDeletes files, as "delete_file"\.\n<\/rule>/);
      // The attempt's begun row aside, its event and the two judgements': the tenant pays for its answer only.
      const events = usage.slice(recorded).filter(finishedEvent);
      assert.deepEqual(events.map((e) => [e.model, e.keySource, e.isFinalAttempt]), [['gpt-4o-mini', 'ngrok', false], ['gpt-4o-mini', 'ngrok', false], ['tool-each-said-x', 'user', true]]);
      assert.deepEqual(events.slice(0, 2).map((e) => [e.costPico, e.inputTokens, e.outputTokens]), [[0n, FAKE_JUDGE_USAGE.prompt_tokens, FAKE_JUDGE_USAGE.completion_tokens], [0n, FAKE_JUDGE_USAGE.prompt_tokens, FAKE_JUDGE_USAGE.completion_tokens]]);
      assert.deepEqual(events[2]!.firewall, [{ action: 'blocked', rule: 'Deletes files', tier: 'hardDeny', policyId: 'aigfwp_judged', phase: 'response' }]);
    });

    test('a streamed chat answer: text goes out at once, each call is held until the model has judged it, the flagged one becomes text', async () => {
      judged(enforced([{ ...DELETES, instructions: `${DELETES.instructions} FAKE-JUDGE-SLOW-150` }]));
      const sent = fake.requests.length;
      const ask = { model: 'openai:tool-each-said-drip-30-x', stream: true as const, messages: [{ role: 'user' as const, content: 'tidy up' }], tools: CHAT_TOOLS };
      const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(ask) });
      const reader = res.body!.getReader();
      let raw = '';
      let judgedWhenSaid: number | undefined;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        raw += Buffer.from(value).toString('utf8');
        if (judgedWhenSaid === undefined && raw.includes(FAKE_SAID)) judgedWhenSaid = judgements(sent).length;
      }
      assert.equal(judgedWhenSaid, 0, 'the text reached the client before any call was judged');
      const deltas = raw.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => (JSON.parse(e.slice(6)) as OpenAI.ChatCompletionChunk).choices[0]?.delta);
      const order = deltas.map((d) => (d?.content ? `text:${d.content.slice(0, 12)}` : d?.tool_calls ? `call:${d.tool_calls[0]!.function?.name ?? ''}` : '')).filter((x) => x !== '');
      assert.deepEqual(order, ['text:Let me do th', 'call:read_file', 'call:', 'call:', 'text:\n\nBlocked by']);
      assert.doesNotMatch(raw, /"name":"delete_file"/);
      assert.equal(judgements(sent).length, 2);
      const done = await openai.chat.completions.stream({ ...ask, model: 'openai:tool-each-said-x' }).finalChatCompletion();
      assert.deepEqual(done.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.equal(done.choices[0]!.message.content, `${FAKE_SAID}\n\n${BLOCKED_CALL}`);
      assert.equal(done.choices[0]!.finish_reason, 'tool_calls');
    });

    test('a streamed Messages answer and a streamed Responses answer: the flagged call\'s place holds the text, the other call arrives whole', async () => {
      judged(enforced([DELETES]));
      const done = await anthropic.messages.stream({ model: 'anthropic:tool-each-x', max_tokens: 100, tools: MESSAGES_TOOLS, messages: [{ role: 'user', content: 'tidy up' }] }).finalMessage();
      assert.deepEqual(done.content.map((b) => (b.type === 'tool_use' ? [b.type, b.name, b.input] : [b.type, (b as Anthropic.TextBlock).text])), [['tool_use', 'read_file', { city: 'Paris' }], ['text', BLOCKED_CALL]]);
      assert.equal(done.stop_reason, 'tool_use');
      const stream = openai.responses.stream({ model: 'openai:tool-x', input: 'tidy up', tools: [{ type: 'function', name: 'delete_file', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }] });
      const final = await stream.finalResponse();
      assert.deepEqual(final.output.map((item) => item.type), ['message']);
      assert.equal(final.output_text, BLOCKED_CALL);
    });

    test('a call the model could not judge: onError block takes it out, log keeps it and reports it', async () => {
      const failing: FirewallRule = { ...DELETES, instructions: 'Deletes files. FAKE-JUDGE-FAIL' };
      judged(enforced([failing]));
      const sent = fake.requests.length;
      const recorded = usage.length;
      const blocked = await openai.chat.completions.create({ model: 'openai:tool-x', messages: [{ role: 'user', content: 'x' }], tools: [CHAT_TOOLS[0]!] });
      assert.match(blocked.choices[0]!.message.content!, /rule "Deletes files" \(hard block\) could not check the call to tool "read_file"/);
      // The model was asked, and failed: its call is on the request's usage, as an error.
      assert.equal(judgements(sent).length, 1);
      const judgement = usage.slice(recorded).filter(finishedEvent).find((e) => e.model === 'gpt-4o-mini');
      assert.deepEqual(judgement && [judgement.statusCode, judgement.isError, judgement.completion], [500, true, 'failed']);
      judged(enforced([failing], { onError: 'log' }));
      const { data, response } = await openai.chat.completions.create({ model: 'openai:tool-x', messages: [{ role: 'user', content: 'x' }], tools: [CHAT_TOOLS[0]!] }).withResponse();
      assert.equal(data.choices[0]!.message.tool_calls?.length, 1);
      assert.equal(response.headers.get('ngrok-aig-firewall'), 'unchecked; rule="Deletes files"; tier=hardDeny; policy=aigfwp_judged');
    });

    test('`plugins` takes decision rules for tool calls on this gateway', async () => {
      judged(enforced([]));
      const plugins = [{ id: 'firewall', hard_deny: [{ name: 'Deletes files', type: 'decision', phase: 'response', instructions: DELETES.instructions }] }];
      const data = await openai.chat.completions.create({ model: 'openai:tool-each-x', messages: [{ role: 'user', content: 'tidy up' }], tools: CHAT_TOOLS, plugins } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      assert.deepEqual(data.choices[0]!.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.name), ['read_file']);
      assert.equal(data.choices[0]!.message.content, BLOCKED_CALL);
    });
  });
});

describe('Firewall and a streamed call without end', () => {
  test('a call growing past what Firewall holds ends the stream with an error event: the call never goes out, and the provider is no longer read', async () => {
    // A provider (a tenant's custom one can) streaming one call's arguments as fast as the link goes: the guard holds
    // the call until it ends, the client is sent nothing meanwhile, so nothing held the provider back.
    const total = MAX_HELD_STREAM_BYTES + 32 * 1024 * 1024;
    const chunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const piece = chunk({ tool_calls: [{ index: 0, function: { arguments: 'x'.repeat(64 * 1024) } }] });
    let written = 0;
    const provider = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '' } }] }));
      while (written < total && !res.destroyed) {
        written += piece.length;
        if (!res.write(piece)) await once(res, 'drain');
      }
      res.end(`${chunk({}, 'tool_calls')}data: [DONE]\n\n`);
    });
    provider.listen(0, '127.0.0.1');
    await once(provider, 'listening');
    const account = snapshot({
      settings: { firewallPolicyId: 'aigfwp_acct' },
      providerKeys: [{ id: 'aigpk_openai', providerId: 'openai', value: 'sk-openai' }],
      firewallPolicies: [policy('aigfwp_acct', [NO_DELETES])],
    });
    const gateway = await startGatewayServer({
      state: stubState(() => account, new Map([[TOKEN, { id: 'aigak_1', configurationId: null }]])), usage: collectingSink([]), logger: pino({ level: 'silent' }),
      catalog: createCatalog({ openai: `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1` }),
      upstreams: new Upstreams({ loopId: 'firewall-test', allowPrivate: true }),
      options: { maxBodyBytes: 1024 * 1024, managedKeys: {}, processingFeeMicroUsdPerMtok: 0n, loopId: 'firewall-test', clientHeadersTimeoutMs: 10_000, clientRequestTimeoutMs: 30_000, streamIdleTimeoutMs: 30_000, streamTimeoutMs: 60_000 },
    }, '127.0.0.1', 0);
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai:gpt-4o', stream: true, messages: [{ role: 'user', content: 'read it' }], tools: CHAT_TOOLS }),
      });
      const events = (await response.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
      assert.equal(events.some((e) => e.includes('tool_calls')), false, 'nothing of the held call reached the client');
      assert.match(events.at(-1)!, /ERR_NGROK_27235: The upstream stream ended unexpectedly: the provider sent a tool call of more than 64 MiB, more than Firewall holds to screen it\./);
      assert.ok(written < total, `the provider was let go once the limit was passed (it wrote ${written} of ${total} bytes)`);
    } finally {
      await gateway.close(0);
      provider.close();
    }
  });
});
