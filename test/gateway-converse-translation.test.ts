// Bedrock's Converse API reaching any model (ngrok's translation, 2026-11-20): the official AWS SDK's
// ConverseCommand and ConverseStreamCommand, pointed at the gateway with an access key as its bearer token, naming
// models Bedrock does not serve (OpenAI's GPT over chat completions, Anthropic's Claude over Messages), answered by
// the fake provider: text, streams, a tool loop, usage metered on the provider's counts, provider errors as the
// SDK's exceptions. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, CountTokensCommand, ServiceUnavailableException, ValidationException, type ContentBlock, type ConverseStreamOutput, type Message, type Tool } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { seeingHeaders } from './helpers/bedrock-client.ts';
import { FAKE_THINKING, FAKE_TOKEN_COUNT, FAKE_USAGE } from './fake-upstream.ts';

const WEATHER: Tool = { toolSpec: { name: 'get_weather', description: 'Weather in a city', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } } };

describe('translation: Bedrock Converse requests served by other providers\' models (sqlite)', () => {
  let h: Harness;
  let token: string;
  let lastHeaders: Record<string, string> = {};

  before(async () => {
    h = await startHarness('sqlite');
    const ko = await h.providerKey('openai', 'sk-converse-openai');
    const ka = await h.providerKey('anthropic', 'sk-ant-converse');
    token = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
    ] } }))).token;
  });
  after(async () => { await h.close(); });

  /** The SDK as a Bedrock API key user sets it up; one attempt, so a refusal is seen as it is. */
  function client(http2 = false): BedrockRuntimeClient {
    const c = new BedrockRuntimeClient({
      endpoint: h.gatewayUrl, region: 'us-east-1', token: { token }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1,
      ...(http2 ? {} : { requestHandler: new NodeHttpHandler() }),
    });
    return seeingHeaders(c, (headers) => { lastHeaders = headers; });
  }

  const lastUpstream = () => h.fake.requests.at(-1)!;
  const requestId = () => lastHeaders['ngrok-aig-request-id']!;

  /** A ConverseStream read as an application reads it: text, each call's input (JSON pieces), the stop reason, the usage. */
  async function read(stream: AsyncIterable<ConverseStreamOutput>) {
    let text = '';
    let stop: string | undefined;
    let usage: object | undefined;
    const calls: { id?: string | undefined; name?: string | undefined; input: string }[] = [];
    const kinds: string[] = [];
    for await (const event of stream) {
      kinds.push(Object.entries(event).find(([, v]) => v !== undefined)![0]);
      if (event.contentBlockStart?.start?.toolUse) calls.push({ id: event.contentBlockStart.start.toolUse.toolUseId, name: event.contentBlockStart.start.toolUse.name, input: '' });
      text += event.contentBlockDelta?.delta?.text ?? '';
      if (event.contentBlockDelta?.delta?.toolUse) calls.at(-1)!.input += event.contentBlockDelta.delta.toolUse.input ?? '';
      if (event.messageStop) stop = event.messageStop.stopReason;
      if (event.metadata) usage = { ...event.metadata.usage };
    }
    return { text, stop, usage, calls, kinds };
  }

  test('ConverseCommand naming an OpenAI model: chat completions upstream, the answer in Converse\'s shape, billed as OpenAI counted', async () => {
    const sdk = client();
    try {
      const out = await sdk.send(new ConverseCommand({
        modelId: 'gpt-4o', system: [{ text: 'Be brief.' }],
        messages: [{ role: 'user', content: [{ text: 'hello converse' }] }],
        inferenceConfig: { maxTokens: 200, temperature: 0.3, stopSequences: ['END'] },
        additionalModelRequestFields: { top_k: 5 },
      }));
      assert.match(out.output?.message?.content?.[0]?.text ?? '', /fake gpt-4o model! You said: "hello converse"/);
      assert.equal(out.output?.message?.role, 'assistant');
      assert.equal(out.stopReason, 'end_turn');
      // Converse's inputTokens leaves out the cache's tokens, as Bedrock counts them.
      assert.deepEqual(out.usage, { inputTokens: FAKE_USAGE.input - FAKE_USAGE.cacheRead, outputTokens: FAKE_USAGE.output, totalTokens: FAKE_USAGE.input + FAKE_USAGE.output, cacheReadInputTokens: FAKE_USAGE.cacheRead, cacheWriteInputTokens: 0 });
      assert.equal(typeof out.metrics?.latencyMs, 'number');
      assert.match(out.$metadata.requestId ?? '', /^rq_/);
      assert.equal(lastHeaders['ngrok-aig-model'], 'gpt-4o');
      // Claude's top_k goes to Messages, which the chat half has no place for: named as the client sent it.
      assert.equal(lastHeaders['ngrok-aig-removed-params'], 'additionalModelRequestFields.top_k');
      const up = lastUpstream();
      assert.equal(up.path, '/v1/chat/completions');
      assert.equal(up.headers.authorization, 'Bearer sk-converse-openai');
      assert.deepEqual(up.body!.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello converse' }]);
      assert.deepEqual([up.body!.model, up.body!.max_tokens, up.body!.temperature, up.body!.stop, up.body!.top_k], ['gpt-4o', 200, 0.3, ['END'], undefined]);
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([row!.provider, row!.model, Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), Number(row!.isStreaming), row!.completion], ['openai', 'gpt-4o', FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead, 0, 'succeeded']);
    } finally {
      sdk.destroy();
    }
  });

  test('ConverseStreamCommand naming an OpenAI model (the SDK\'s default HTTP/2 handler): event-stream frames the SDK reads, usage in its metadata event', async () => {
    const sdk = client(true);
    try {
      const out = await sdk.send(new ConverseStreamCommand({ modelId: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: [{ text: 'stream it' }] }] }));
      const got = await read(out.stream!);
      assert.match(got.text, /fake gpt-4o-mini model! You said: "stream it"/);
      assert.equal(got.stop, 'end_turn');
      assert.equal(got.kinds[0], 'messageStart');
      assert.deepEqual(got.kinds.slice(-3), ['contentBlockStop', 'messageStop', 'metadata']);
      assert.deepEqual(got.usage, { inputTokens: FAKE_USAGE.input - FAKE_USAGE.cacheRead, outputTokens: FAKE_USAGE.output, totalTokens: FAKE_USAGE.input + FAKE_USAGE.output, cacheReadInputTokens: FAKE_USAGE.cacheRead, cacheWriteInputTokens: 0 });
      assert.equal(lastHeaders['content-type'], 'application/vnd.amazon.eventstream');
      assert.deepEqual([lastUpstream().body!.stream, lastUpstream().body!.stream_options], [true, { include_usage: true }]);
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.usageEstimated), Number(row!.isStreaming), row!.completion], [FAKE_USAGE.input, FAKE_USAGE.output, 0, 1, 'succeeded']);
    } finally {
      sdk.destroy();
    }
  });

  test('Converse naming Claude at Anthropic: Messages upstream (system, limits, an image as base64), buffered and streamed, cache counts apart', async () => {
    const sdk = client();
    try {
      const png = Buffer.from('89504e470d0a1a0a', 'hex');
      const out = await sdk.send(new ConverseCommand({
        modelId: 'claude-sonnet-4-5', system: [{ text: 'Be brief.' }, { cachePoint: { type: 'default' } }],
        messages: [{ role: 'user', content: [{ text: 'what is this?' }, { image: { format: 'png', source: { bytes: png } } }] }],
        inferenceConfig: { maxTokens: 300, topP: 0.9 },
      }));
      assert.match(out.output?.message?.content?.[0]?.text ?? '', /fake claude-sonnet-4-5 model/);
      assert.equal(out.stopReason, 'end_turn');
      assert.deepEqual(out.usage, { inputTokens: FAKE_USAGE.input, outputTokens: FAKE_USAGE.output, totalTokens: FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite + FAKE_USAGE.output, cacheReadInputTokens: FAKE_USAGE.cacheRead, cacheWriteInputTokens: FAKE_USAGE.cacheWrite });
      const up = lastUpstream();
      assert.equal(up.path, '/v1/messages');
      assert.equal(up.headers['x-api-key'], 'sk-ant-converse');
      assert.deepEqual(up.body!.system, [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }]);
      assert.deepEqual(up.body!.messages, [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } }] }]);
      assert.deepEqual([up.body!.model, up.body!.max_tokens, up.body!.top_p, up.body!.stream], ['claude-sonnet-4-5', 300, 0.9, undefined]);
      let [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.inputTokens), Number(row!.cacheReadTokens), Number(row!.cacheWriteTokens), Number(row!.outputTokens)], [FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, FAKE_USAGE.cacheRead, FAKE_USAGE.cacheWrite, FAKE_USAGE.output]);

      const streamed = await sdk.send(new ConverseStreamCommand({ modelId: 'anthropic:claude-sonnet-4-5', messages: [{ role: 'user', content: [{ text: 'stream from claude' }] }] }));
      const got = await read(streamed.stream!);
      assert.match(got.text, /fake claude-sonnet-4-5 model! You said: "stream from claude"/);
      assert.equal(got.stop, 'end_turn');
      assert.deepEqual(got.usage, { inputTokens: FAKE_USAGE.input, outputTokens: FAKE_USAGE.output, totalTokens: FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite + FAKE_USAGE.output, cacheReadInputTokens: FAKE_USAGE.cacheRead, cacheWriteInputTokens: FAKE_USAGE.cacheWrite });
      // Messages' output limit is required: a Converse request without one gets the model's.
      assert.deepEqual([lastUpstream().body!.stream, lastUpstream().body!.max_tokens], [true, 64_000]);
      [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.outputTokens), Number(row!.isStreaming), row!.completion], [FAKE_USAGE.output, 1, 'succeeded']);
    } finally {
      sdk.destroy();
    }
  });

  for (const provider of ['openai', 'anthropic'] as const) {
    test(`a tool loop through ${provider}: toolUse in the answer (buffered and streamed), toolResult sent back`, async () => {
      const sdk = client();
      try {
        const modelId = `${provider}:tool-weather`;
        const ask: Message = { role: 'user', content: [{ text: 'Weather in Paris?' }] };
        const first = await sdk.send(new ConverseCommand({ modelId, messages: [ask], toolConfig: { tools: [WEATHER], toolChoice: { any: {} } } }));
        assert.equal(first.stopReason, 'tool_use');
        const call = first.output!.message!.content!.find((b) => b.toolUse)!.toolUse!;
        assert.deepEqual([call.name, call.input], ['get_weather', { city: 'Paris' }]);
        const up = lastUpstream().body!;
        if (provider === 'openai') {
          assert.deepEqual(up.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: WEATHER.toolSpec!.inputSchema!.json } }]);
          assert.equal(up.tool_choice, 'required');
        } else {
          assert.deepEqual(up.tools, [{ name: 'get_weather', description: 'Weather in a city', input_schema: WEATHER.toolSpec!.inputSchema!.json }]);
          assert.deepEqual(up.tool_choice, { type: 'any' });
        }

        const streamed = await read((await sdk.send(new ConverseStreamCommand({ modelId, messages: [ask], toolConfig: { tools: [WEATHER] } }))).stream!);
        assert.equal(streamed.stop, 'tool_use');
        assert.deepEqual(streamed.calls.map((c) => [c.id, c.name, JSON.parse(c.input)]), [[call.toolUseId, 'get_weather', { city: 'Paris' }]]);

        const result: ContentBlock = { toolResult: { toolUseId: call.toolUseId, content: [{ text: 'Sunny, 21 °C' }] } };
        const second = await sdk.send(new ConverseCommand({ modelId, messages: [ask, first.output!.message!, { role: 'user', content: [result] }], toolConfig: { tools: [WEATHER] } }));
        assert.equal(second.stopReason, 'end_turn');
        assert.ok(second.output?.message?.content?.[0]?.text);
        const history = lastUpstream().body!.messages;
        if (provider === 'openai') {
          assert.deepEqual(history, [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: null, tool_calls: [{ id: call.toolUseId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
            { role: 'tool', tool_call_id: call.toolUseId, content: 'Sunny, 21 °C' },
          ]);
        } else {
          assert.deepEqual(history, [
            { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
            { role: 'assistant', content: [{ type: 'tool_use', id: call.toolUseId, name: 'get_weather', input: { city: 'Paris' } }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.toolUseId, content: [{ type: 'text', text: 'Sunny, 21 °C' }] }] },
          ]);
        }
      } finally {
        sdk.destroy();
      }
    });
  }

  test('Claude\'s extended thinking (additionalModelRequestFields.thinking): sent as Messages\' thinking with top_k, streamed reasoning with its signature goes back next turn', async () => {
    const sdk = client();
    try {
      const modelId = 'anthropic:think-weather';
      const ask: Message = { role: 'user', content: [{ text: 'Weather in Paris?' }] };
      const thinking = { type: 'enabled', budget_tokens: 2048 };
      const streamed = await sdk.send(new ConverseStreamCommand({
        modelId, messages: [ask], inferenceConfig: { maxTokens: 4096 },
        additionalModelRequestFields: { thinking, top_k: 40, anthropic_beta: ['interleaved-thinking-2025-05-14'] },
      }));
      assert.deepEqual([lastUpstream().body!.thinking, lastUpstream().body!.top_k, lastUpstream().body!.anthropic_beta], [thinking, 40, undefined]);
      assert.equal(lastHeaders['ngrok-aig-removed-params'], 'additionalModelRequestFields.anthropic_beta');
      // What an application keeps of a streamed turn to send it back: the reasoning's pieces, its signature, the text.
      let reasoning = '';
      let signature: string | undefined;
      let text = '';
      for await (const event of streamed.stream!) {
        const delta = event.contentBlockDelta?.delta;
        reasoning += delta?.reasoningContent?.text ?? '';
        signature = delta?.reasoningContent?.signature ?? signature;
        text += delta?.text ?? '';
      }
      assert.deepEqual([reasoning, signature], [FAKE_THINKING.text + FAKE_THINKING.more, FAKE_THINKING.signature]);
      const turn: Message = { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: reasoning, signature: signature! } } }, { text }] };
      const next = await sdk.send(new ConverseCommand({ modelId, messages: [ask, turn, { role: 'user', content: [{ text: 'And tomorrow?' }] }], additionalModelRequestFields: { reasoning_config: thinking } }));
      assert.equal(next.stopReason, 'end_turn');
      // AWS's first Claude 3.7 examples name thinking `reasoning_config`: the same field.
      assert.deepEqual(lastUpstream().body!.thinking, thinking);
      assert.deepEqual((lastUpstream().body!.messages as unknown[])[1], { role: 'assistant', content: [{ type: 'thinking', thinking: reasoning, signature: FAKE_THINKING.signature }, { type: 'text', text }] });
      // The buffered answer's reasoning, signed as the stream's.
      assert.deepEqual(next.output!.message!.content![0], { reasoningContent: { reasoningText: { text: FAKE_THINKING.text + FAKE_THINKING.more, signature: FAKE_THINKING.signature } } });
    } finally {
      sdk.destroy();
    }
  });

  test('thinking to a chat model: reasoning_effort on a reasoning model (by budget), removed and named on another', async () => {
    const sdk = client();
    try {
      const messages: Message[] = [{ role: 'user', content: [{ text: 'think' }] }];
      await sdk.send(new ConverseCommand({ modelId: 'o4-mini', messages, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 20_000 } } }));
      assert.deepEqual([lastUpstream().body!.reasoning_effort, lastUpstream().body!.thinking], ['high', undefined]);
      assert.equal(lastHeaders['ngrok-aig-removed-params'], undefined);
      await sdk.send(new ConverseCommand({ modelId: 'gpt-4o', messages, additionalModelRequestFields: { reasoning_config: { type: 'enabled', budget_tokens: 2048 } } }));
      assert.deepEqual([lastUpstream().body!.reasoning_effort, lastUpstream().body!.thinking], [undefined, undefined]);
      assert.equal(lastHeaders['ngrok-aig-removed-params'], 'additionalModelRequestFields.reasoning_config');
    } finally {
      sdk.destroy();
    }
  });

  test('structured output (outputConfig.textFormat): Claude\'s JSON outputs, chat\'s json_schema; refused where the model cannot be held to it', async () => {
    const sdk = client();
    try {
      const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
      const outputConfig = { textFormat: { type: 'json_schema' as const, structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'place' } } } };
      const messages: Message[] = [{ role: 'user', content: [{ text: 'Where?' }] }];
      await sdk.send(new ConverseCommand({ modelId: 'claude-sonnet-4-5', messages, outputConfig }));
      assert.deepEqual(lastUpstream().body!.output_config, { format: { type: 'json_schema', schema } });
      assert.equal(lastHeaders['ngrok-aig-removed-params'], undefined);
      await sdk.send(new ConverseCommand({ modelId: 'gpt-4o', messages, outputConfig }));
      assert.deepEqual(lastUpstream().body!.response_format, { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
      // A Claude without JSON outputs (and a custom Messages server) would answer prose the client then parses.
      const sent = h.fake.requests.length;
      await assert.rejects(sdk.send(new ConverseCommand({ modelId: 'anthropic:claude-3-5-haiku-x', messages, outputConfig })), (e: unknown) => {
        assert.ok(e instanceof ValidationException, String(e));
        assert.match(e.message, /ERR_NGROK_27226.*structured output/);
        return true;
      });
      assert.equal(h.fake.requests.length, sent, 'nothing sent upstream');
    } finally {
      sdk.destroy();
    }
  });

  test('CountTokens naming Claude at Anthropic: counted by Anthropic\'s count_tokens (the Converse request translated, or Claude\'s InvokeModel body), never billed', async () => {
    const sdk = client();
    try {
      const converse = {
        system: [{ text: 'Be brief.' }], messages: [{ role: 'user' as const, content: [{ text: 'count me' }] }],
        toolConfig: { tools: [WEATHER] }, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
      };
      const out = await sdk.send(new CountTokensCommand({ modelId: 'claude-sonnet-4-5', input: { converse } }));
      assert.equal(out.inputTokens, FAKE_TOKEN_COUNT);
      assert.match(out.$metadata.requestId ?? '', /^rq_/);
      const up = lastUpstream();
      assert.equal(up.path, '/v1/messages/count_tokens');
      assert.equal(up.headers['x-api-key'], 'sk-ant-converse');
      // Only what count_tokens reads: no output limit, which it refuses.
      assert.deepEqual(up.body, {
        model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'count me' }] }], system: [{ type: 'text', text: 'Be brief.' }],
        tools: [{ name: 'get_weather', description: 'Weather in a city', input_schema: WEATHER.toolSpec!.inputSchema!.json }], thinking: { type: 'enabled', budget_tokens: 2048 },
      });
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([row!.provider, Number(row!.inputTokens), Number(row!.outputTokens), BigInt(row!.costPico), row!.completion], ['anthropic', 0, 0, 0n, 'succeeded']);
      const body = new TextEncoder().encode(JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'count me' }] }));
      assert.equal((await sdk.send(new CountTokensCommand({ modelId: 'anthropic:claude-sonnet-4-5', input: { invokeModel: { body } } }))).inputTokens, FAKE_TOKEN_COUNT);
      assert.deepEqual(lastUpstream().body, { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me' }] });
      // Anthropic's refusal, as the SDK's exception for its status.
      await assert.rejects(sdk.send(new CountTokensCommand({ modelId: 'anthropic:fail-400-x', input: { converse } })), (e: unknown) => e instanceof ValidationException && !e.message.startsWith('ERR_NGROK'));
    } finally {
      sdk.destroy();
    }
  });

  test('CountTokens naming a GPT model: the gateway\'s own tokenizer, nothing sent upstream', async () => {
    const sdk = client();
    try {
      const sent = h.fake.requests.length;
      const out = await sdk.send(new CountTokensCommand({ modelId: 'gpt-4o', input: { converse: { messages: [{ role: 'user', content: [{ text: 'count these few words please' }] }] } } }));
      assert.ok((out.inputTokens ?? 0) > 0 && out.inputTokens !== FAKE_TOKEN_COUNT, String(out.inputTokens));
      assert.match(out.$metadata.requestId ?? '', /^rq_/);
      assert.deepEqual([lastHeaders['ngrok-aig-attempts'], lastHeaders['ngrok-aig-model']], ['0', 'gpt-4o']);
      assert.equal(h.fake.requests.length, sent);
    } finally {
      sdk.destroy();
    }
  });

  test('CountTokens naming a GPT model with an InvokeModel body that is not Claude\'s: refused, as for Claude at Anthropic, never answered with a count of nothing', async () => {
    const sdk = client();
    try {
      const body = new TextEncoder().encode(JSON.stringify({ inputText: 'count these few words please', textGenerationConfig: { maxTokenCount: 10 } }));
      for (const modelId of ['gpt-4o', 'claude-sonnet-4-5']) {
        const sent = h.fake.requests.length;
        await assert.rejects(sdk.send(new CountTokensCommand({ modelId, input: { invokeModel: { body } } })), (e: unknown) => {
          assert.ok(e instanceof ValidationException, `${modelId}: ${String(e)}`);
          assert.match(e.message, /^ERR_NGROK_27226: .*not a Claude/, modelId);
          return true;
        });
        assert.equal(h.fake.requests.length, sent, 'nothing sent upstream');
      }
    } finally {
      sdk.destroy();
    }
  });

  test('Firewall on a Converse request another provider serves: the blocked toolUse is removed from the answer, buffered and streamed', async () => {
    const policy = await h.api<{ id: string }>('POST', '/firewall-policies', { name: 'No weather', rules: [{ name: 'No weather', tier: 'hardDeny', type: 'toolNames', phase: 'response', toolNames: ['get_weather'] }] });
    const guarded = (await h.accessKey(await h.configuration({ firewallPolicyId: policy.id, router: { rules: [
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: await h.providerKey('openai', 'sk-converse-guarded') }] }] },
    ] } }))).token;
    const sdk = new BedrockRuntimeClient({ endpoint: h.gatewayUrl, region: 'us-east-1', token: { token: guarded }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    try {
      const ask: Message = { role: 'user', content: [{ text: 'Weather in Paris?' }] };
      const answer = await sdk.send(new ConverseCommand({ modelId: 'openai:tool-weather', messages: [ask], toolConfig: { tools: [WEATHER] } }));
      assert.equal(answer.output!.message!.content!.some((b) => b.toolUse), false, 'the blocked call is not in the answer');
      assert.match(JSON.stringify(answer.output!.message!.content), /No weather/);
      assert.equal(answer.stopReason, 'end_turn');
      const streamed = await read((await sdk.send(new ConverseStreamCommand({ modelId: 'openai:tool-weather', messages: [ask], toolConfig: { tools: [WEATHER] } }))).stream!);
      assert.deepEqual(streamed.calls, []);
      assert.match(streamed.text, /No weather/);
      assert.equal(streamed.stop, 'end_turn');
    } finally {
      sdk.destroy();
    }
  });

  test('a Converse path naming the account\'s virtual model is that model\'s targets, as a body\'s `model` is (buffered and streamed); InvokeModel\'s path stays Bedrock\'s', async () => {
    const virtual = await h.api<{ id: string }>('POST', '/virtual-models', { name: 'chat-default', targets: ['openai:gpt-4o-mini', 'anthropic:claude-sonnet-4-5'] });
    const sdk = client();
    try {
      h.fake.reset();
      const out = await sdk.send(new ConverseCommand({ modelId: 'chat-default', messages: [{ role: 'user', content: [{ text: 'hello virtual' }] }] }));
      assert.match(out.output?.message?.content?.[0]?.text ?? '', /fake gpt-4o-mini model! You said: "hello virtual"/);
      assert.equal(lastHeaders['ngrok-aig-model'], 'gpt-4o-mini');
      assert.deepEqual(h.fake.requests.map((r) => [r.path, r.body!.model]), [['/v1/chat/completions', 'gpt-4o-mini']], 'the first target, by its own name; nothing went to Bedrock');
      let [row] = await h.usage(requestId(), 1);
      assert.deepEqual([row!.provider, row!.model, row!.virtualModel], ['openai', 'gpt-4o-mini', 'chat-default']);

      // Any case, as a body's model name; streamed too.
      const streamed = await sdk.send(new ConverseStreamCommand({ modelId: 'Chat-Default', messages: [{ role: 'user', content: [{ text: 'stream virtual' }] }] }));
      const got = await read(streamed.stream!);
      assert.match(got.text, /fake gpt-4o-mini model! You said: "stream virtual"/);
      assert.equal(lastHeaders['ngrok-aig-model'], 'gpt-4o-mini');
      [row] = await h.usage(requestId(), 1);
      assert.deepEqual([row!.model, row!.virtualModel, Number(row!.isStreaming)], ['gpt-4o-mini', 'chat-default', 1]);

      // InvokeModel's body is the model's own, never translated: its path names a Bedrock model, whatever the name.
      h.fake.reset();
      const invoke = await gw(h, '/model/chat-default/invoke', { token, body: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
      assert.notEqual(invoke.status, 200, invoke.text);
      assert.notEqual(invoke.headers.get('ngrok-aig-model'), 'gpt-4o-mini');
      assert.equal(h.fake.requests.length, 0, 'no target of the virtual model was asked');
    } finally {
      sdk.destroy();
      await h.api('DELETE', `/virtual-models/${virtual.id}`);
    }
  });

  test('a GPT call cut inside its arguments is refused, never run: the stream ends with the exception in place of messageStop and metadata; the buffered answer a 502', async () => {
    const sdk = client();
    try {
      const ask: Message = { role: 'user', content: [{ text: 'Weather in Paris?' }] };
      await assert.rejects(sdk.send(new ConverseCommand({ modelId: 'openai:tool-cut-weather', messages: [ask], toolConfig: { tools: [WEATHER] } })), (e: unknown) => {
        assert.equal((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 502, String(e));
        assert.match(String((e as Error).message), /ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID/);
        return true;
      });
      const kinds: string[] = [];
      let stop: string | undefined;
      await assert.rejects((async () => {
        const out = await sdk.send(new ConverseStreamCommand({ modelId: 'openai:tool-cut-weather', messages: [ask], toolConfig: { tools: [WEATHER] } }));
        for await (const event of out.stream!) {
          kinds.push(Object.entries(event).find(([, v]) => v !== undefined)![0]);
          stop = event.messageStop?.stopReason ?? stop;
        }
      })(), (e: unknown) => String((e as Error).message).includes('ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID'));
      // An application acts on messageStop's tool_use: it must not come for a call that cannot be run.
      assert.equal(stop, undefined, `events read: ${kinds.join(', ')}`);
      assert.equal(kinds.includes('metadata'), false, `events read: ${kinds.join(', ')}`);
      const [row] = await h.usage(requestId(), 1);
      assert.deepEqual([Number(row!.outputTokens), row!.completion], [FAKE_USAGE.output, 'succeeded']);
    } finally {
      sdk.destroy();
    }
  });

  test('a provider\'s refusal reaches the SDK as its exception for the status, with the provider\'s message', async () => {
    const sdk = client();
    try {
      for (const modelId of ['openai:fail-400-x', 'anthropic:fail-400-x']) {
        await assert.rejects(sdk.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'x' }] }] })), (e: unknown) => {
          assert.ok(e instanceof ValidationException, `${modelId}: ${String(e)}`);
          assert.equal(e.$metadata.httpStatusCode, 400);
          assert.ok(e.message.length > 0 && !e.message.startsWith('ERR_NGROK'), e.message);
          assert.match(e.$metadata.requestId ?? '', /^rq_/);
          return true;
        });
      }
      await assert.rejects(sdk.send(new ConverseStreamCommand({ modelId: 'openai:fail-400-x', messages: [{ role: 'user', content: [{ text: 'x' }] }] })), (e: unknown) => e instanceof ValidationException);
    } finally {
      sdk.destroy();
    }
  });

  test('a stream the provider ends with an error raises the SDK\'s exception of that kind while it is read', async () => {
    const sdk = client();
    try {
      const cases = [['anthropic:late-overloaded-x', ServiceUnavailableException], ['openai:refused-x', ValidationException]] as const;
      for (const [modelId, kind] of cases) {
        // The SDK reads a stream's first event before `send` settles: an exception there rejects `send` itself.
        const streamed = async () => read((await sdk.send(new ConverseStreamCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'x' }] }] }))).stream!);
        await assert.rejects(streamed(), (e: unknown) => {
          assert.ok(e instanceof kind, `${modelId}: ${String(e)}`);
          return true;
        });
        const [row] = await h.usage(requestId(), 1);
        assert.equal(row!.completion, 'stream_failed', modelId);
      }
    } finally {
      sdk.destroy();
    }
  });

  test('a Bedrock guardrail is never dropped for another provider\'s model (its answer would go unscreened): refused, naming why', async () => {
    const sdk = client();
    try {
      const sent = h.fake.requests.length;
      for (const modelId of ['gpt-4o', 'claude-sonnet-4-5']) {
        await assert.rejects(sdk.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'my card is 4111 1111 1111 1111' }] }], guardrailConfig: { guardrailIdentifier: 'gr-pii', guardrailVersion: '1' } })), (e: unknown) => {
          assert.ok(e instanceof ValidationException, `${modelId}: ${String(e)}`);
          assert.match(e.message, /ERR_NGROK_27226.*guardrailConfig/);
          return true;
        });
      }
      assert.equal(h.fake.requests.length, sent, 'nothing reached a provider');
    } finally {
      sdk.destroy();
    }
  });

  test('media no other model reads (a Word document) is never dropped: refused, naming why', async () => {
    const sdk = client();
    try {
      const document = { format: 'docx' as const, name: 'report', source: { bytes: Buffer.from('PK') } };
      await assert.rejects(sdk.send(new ConverseCommand({ modelId: 'gpt-4o', messages: [{ role: 'user', content: [{ text: 'summarise' }, { document }] }] })), (e: unknown) => {
        assert.ok(e instanceof ValidationException, String(e));
        assert.match(e.message, /ERR_NGROK_27226.*docx/);
        return true;
      });
    } finally {
      sdk.destroy();
    }
  });

  test('a malformed Converse body is a ValidationException naming what is wrong, never an empty conversation answered; nothing reaches a provider and the gateway serves on', async () => {
    const sent = h.fake.requests.length;
    const refused = async (path: string, body: string, why: RegExp) => {
      const res = await gw(h, path, { token, body });
      assert.equal(res.status, 400, `${path} ${body.slice(0, 80)}: ${res.text.slice(0, 200)}`);
      assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
      assert.match(String(res.json().message), why);
    };
    const conversation = (messages: string) => `{"messages":${messages}}`;
    for (const model of ['gpt-4o', 'claude-sonnet-4-5']) {
      for (const [operation, wrap] of [['converse', (b: string) => b], ['converse-stream', (b: string) => b], ['count-tokens', (b: string) => `{"input":{"converse":${b}}}`]] as const) {
        const path = `/model/${model}/${operation}`;
        await refused(path, wrap(conversation('"hello"')), /"(input\.converse\.)?messages" must be a list/);
        await refused(path, wrap(conversation('[1]')), /messages\[0\]" must be a message/);
        await refused(path, wrap(conversation('[{"role":"user","content":"hello"}]')), /messages\[0\]\.content" must be a list of content blocks/);
        await refused(path, wrap(conversation('[{"role":"user","content":[null]}]')), /messages\[0\]\.content" must be a list of content blocks/);
        await refused(path, wrap(conversation('[{"role":"user","content":[{"text":5}]}]')), /content\[0\]\.text" must be a string/);
        await refused(path, wrap(conversation('[{"role":"system","content":[{"text":"x"}]}]')), /role" must be "user" or "assistant"/);
        await refused(path, wrap('{"system":"be brief","messages":[]}'), /system" must be a list/);
        // Bedrock's own models refuse a block of no kind they know; translated, it would be left out unseen.
        if (operation !== 'count-tokens' || model === 'claude-sonnet-4-5') await refused(path, wrap(conversation('[{"role":"user","content":[{"text":"hi"},{"citationsContent":{}}]}]')), /citationsContent/);
        // 200,000 levels in a tool call's input, which translation walks: a 400, not a stack overflow.
        await refused(path, wrap(conversation(`[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}}]}]`)), /nested too deeply/);
      }
    }
    assert.equal(h.fake.requests.length, sent, 'nothing reached a provider');
    const out = await gw(h, '/model/gpt-4o/converse', { token, body: conversation('[{"role":"user","content":[{"text":"still here"}]}]') });
    assert.equal(out.status, 200);
  });
});
