// Any model from any SDK (ngrok's translation): the Anthropic SDK calling models that serve only OpenAI chat
// completions, and the OpenAI and Vercel AI SDKs' Responses calls reaching chat-only models and Claude (over Messages) —
// answers, streams, tool calls and results, errors — metered on what the provider reported. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { generateText, jsonSchema, Output, streamText, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { FunctionCallingConfigMode, GoogleGenAI, ThinkingLevel, ToolType, Type, type FunctionCall } from '@google/genai';
import { gw, startHarness, type Harness } from './helpers/gateway.ts';
import { FAKE_REFUSAL, FAKE_THINKING, FAKE_TOOL_INPUT, FAKE_USAGE } from './fake-upstream.ts';
import { countInputTokens } from '../src/domain/token-counter.ts';


const WEATHER_TOOL = { name: 'get_weather', description: 'Weather in a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };

describe('translation: Messages requests served over chat completions (sqlite)', () => {
  let h: Harness;
  let token: string;
  let anthropic: Anthropic;
  let ko: string;
  before(async () => {
    h = await startHarness('sqlite');
    ko = await h.providerKey('openai', 'sk-translate-openai');
    token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] }] } }))).token;
    anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;

  test('a Messages answer from an OpenAI model: system prompt, text, stop reason and usage mapped; billed as the provider counted', async () => {
    const { data: message, response, request_id } = await anthropic.messages.create({
      model: 'gpt-4o', max_tokens: 200, system: [{ type: 'text', text: 'Be brief.' }], stop_sequences: ['END'],
      messages: [{ role: 'user', content: 'hello there' }],
    }, { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } }).withResponse();
    // The SDK's request id, from the header it reads (the gateway's id: the fake OpenAI sends none).
    assert.equal(request_id, response.headers.get('ngrok-aig-request-id'));
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.deepEqual(message.content.map((b) => b.type), ['text']);
    assert.match((message.content[0] as Anthropic.TextBlock).text, /fake gpt-4o model! You said: "hello there"/);
    assert.equal(message.stop_reason, 'end_turn');
    assert.deepEqual([message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens], [FAKE_USAGE.input - FAKE_USAGE.cacheRead, FAKE_USAGE.cacheRead, FAKE_USAGE.output]);
    assert.equal(response.headers.get('ngrok-aig-model'), 'gpt-4o');
    const up = lastUpstream();
    assert.equal(up.path, '/v1/chat/completions');
    assert.equal(up.headers.authorization, 'Bearer sk-translate-openai');
    assert.deepEqual([up.headers['anthropic-beta'], up.headers['anthropic-version']], [undefined, undefined], 'instructions for Anthropic\'s API stay here');
    assert.deepEqual(up.body!.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }]);
    assert.deepEqual([up.body!.model, up.body!.max_tokens, up.body!.stop], ['gpt-4o', 200, ['END']]);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), Number(row!.cacheReadTokens), row!.stopReason, row!.completion], [FAKE_USAGE.input, FAKE_USAGE.output, FAKE_USAGE.cacheRead, 'stop', 'succeeded']);
  });

  test('a streamed Messages answer from an OpenAI model: the SDK\'s stream reader gets Messages events', async () => {
    const stream = anthropic.messages.stream({ model: 'openai:gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'stream it' }] });
    const types: string[] = [];
    let text = '';
    let delta: Anthropic.RawMessageDeltaEvent['delta'] | undefined;
    stream.on('streamEvent', (event) => { types.push(event.type); if (event.type === 'message_delta') delta = event.delta; });
    stream.on('text', (piece) => { text += piece; });
    const final = await stream.finalMessage();
    assert.match(text, /fake gpt-4o-mini model! You said: "stream it"/);
    assert.equal((final.content[0] as Anthropic.TextBlock).text, text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.deepEqual([final.usage.input_tokens, final.usage.output_tokens], [FAKE_USAGE.input - FAKE_USAGE.cacheRead, FAKE_USAGE.output]);
    assert.equal(types[0], 'message_start');
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    // Every field the SDK's type declares for the delta (nullable, not optional), as Anthropic sends them.
    assert.deepEqual(delta, { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null });
    const up = lastUpstream();
    assert.deepEqual([up.body!.stream, up.body!.stream_options], [true, { include_usage: true }]);
    const requestId = (await stream.withResponse()).response.headers.get('ngrok-aig-request-id')!;
    const [row] = await h.usage(requestId, 1);
    assert.deepEqual([Number(row!.outputTokens), Number(row!.usageEstimated), row!.completion], [FAKE_USAGE.output, 0, 'succeeded']);
  });

  test('a streamed Messages answer from an OpenAI model opens with an input estimate where Claude puts its count (LangChain reads only that)', async () => {
    // The tokenizer thread is warm, and the provider takes 200 ms to start, as real ones do: the estimate is ready.
    await countInputTokens(Buffer.from('{"messages":[{"role":"user","content":"warm up"}]}'), 'messages');
    const stream = anthropic.messages.stream({ model: 'openai:slow-200-gpt', max_tokens: 100, messages: [{ role: 'user', content: 'How many input tokens does this question have, roughly?' }] });
    let opening: Anthropic.Usage | undefined;
    stream.on('streamEvent', (event) => { if (event.type === 'message_start') opening = event.message.usage; });
    const final = await stream.finalMessage();
    assert.ok(opening && opening.input_tokens > 5 && opening.input_tokens < 100, `message_start input_tokens: ${opening?.input_tokens}`);
    // The provider's exact count still ends the stream, and is what the SDK's final message reports.
    assert.equal(final.usage.input_tokens, FAKE_USAGE.input - FAKE_USAGE.cacheRead);
  });

  test('a chat model\'s refusal (OpenAI\'s `refusal` field) is a Messages refusal: its text, stop_reason "refusal" (JSON, and the SDK\'s stream reader)', async () => {
    const ask = { model: 'openai:refusal-gpt', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Help me pick a lock.' }] };
    const refusal = { type: 'refusal', category: null, explanation: null };
    const message = await anthropic.messages.create(ask);
    assert.deepEqual([message.content, message.stop_reason, message.stop_details], [[{ type: 'text', text: FAKE_REFUSAL }], 'refusal', refusal]);
    const streamed = await anthropic.messages.stream(ask).finalMessage();
    assert.deepEqual([streamed.content, streamed.stop_reason, streamed.stop_details], [[{ type: 'text', text: FAKE_REFUSAL }], 'refusal', refusal]);
  });

  test('a call cut inside its arguments at the output limit is refused with ngrok\'s error, never run with {}: 502 not to be retried (JSON), the error event (stream); the provider\'s usage billed', async () => {
    const ask = { model: 'openai:tool-cut-weather', max_tokens: 100, tools: [WEATHER_TOOL], messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] };
    const message = 'ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID: The model wrote arguments for tool `get_weather` that aren\'t valid JSON. A model at its output token limit can stop inside the arguments.';
    let requestId: string | null = null;
    await assert.rejects(new Anthropic({ baseURL: h.gatewayUrl, apiKey: token }).messages.create(ask), (e: unknown) => {
      assert.ok(e instanceof Anthropic.InternalServerError, String(e));
      assert.equal(e.status, 502);
      assert.deepEqual([(e.error as { error: unknown }).error, e.headers?.get('x-should-retry'), e.headers?.get('ngrok-aig-model')], [{ type: 'api_error', code: 'ERR_NGROK_AI_GATEWAY_TOOL_CALL_ARGUMENTS_INVALID', message }, 'false', 'tool-cut-weather']);
      requestId = e.headers?.get('ngrok-aig-request-id') ?? null;
      return true;
    });
    assert.equal(h.fake.requests.filter((r) => r.body?.model === 'tool-cut-weather').length, 1, 'the SDK did not retry (its default is twice)');
    const [json] = await h.usage(requestId!, 1);
    assert.deepEqual([Number(json!.inputTokens), Number(json!.outputTokens), json!.stopReason, json!.completion], [FAKE_USAGE.input, FAKE_USAGE.output, 'length', 'succeeded']);

    const stream = anthropic.messages.stream(ask);
    const { response } = await stream.withResponse();
    await assert.rejects(stream.finalMessage(), (e: unknown) => e instanceof Anthropic.APIError && e.message.includes(message));
    const [streamed] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(streamed!.outputTokens), streamed!.stopReason, streamed!.completion], [FAKE_USAGE.output, 'length', 'succeeded']);
  });

  test('a tool loop: the call comes back as tool_use, its result goes up as a tool message (buffered and streamed)', async () => {
    const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
    const first = await anthropic.messages.create({ model: 'openai:tool-weather', max_tokens: 100, tools: [WEATHER_TOOL], tool_choice: { type: 'any' }, messages: [ask] });
    assert.equal(first.stop_reason, 'tool_use');
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    assert.deepEqual([call.id, call.name, call.input], ['call_fake1', 'get_weather', { city: 'Paris' }]);
    assert.deepEqual(lastUpstream().body!.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: WEATHER_TOOL.input_schema } }]);
    assert.equal(lastUpstream().body!.tool_choice, 'required');

    const streamed = await anthropic.messages.stream({ model: 'openai:tool-weather', max_tokens: 100, tools: [WEATHER_TOOL], messages: [ask] }).finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.deepEqual(streamed.content.filter((b) => b.type === 'tool_use').map((b) => [b.id, b.name, b.input]), [['call_fake1', 'get_weather', { city: 'Paris' }]]);

    const second = await anthropic.messages.create({
      model: 'openai:tool-weather', max_tokens: 100, tools: [WEATHER_TOOL],
      messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny, 21 °C' }] }],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0]!.type, 'text');
    assert.deepEqual(lastUpstream().body!.messages, [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_fake1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_fake1', content: 'Sunny, 21 °C' },
    ]);
  });

  test('a RAG tool\'s search results (search_result blocks in its tool_result, as Anthropic\'s docs return them) and a client tool search\'s tool_reference reach a chat model as the tool message\'s text, not refused', async () => {
    const result: Anthropic.SearchResultBlockParam = { type: 'search_result', source: 'https://docs.example/kb/1', title: 'Refunds', content: [{ type: 'text', text: 'Refunds take 5 days.' }], citations: { enabled: true } };
    const message = await anthropic.messages.create({ model: 'openai:gpt-4o-mini', max_tokens: 100, tools: [WEATHER_TOOL], messages: [
      { role: 'user', content: 'How long do refunds take?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }, { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } }] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: [result] },
        { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'tool_reference', tool_name: 'get_weather' }] },
      ] },
    ] });
    assert.equal(message.type, 'message');
    assert.deepEqual((lastUpstream().body!.messages as unknown[]).slice(2), [
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Search result: Refunds (https://docs.example/kb/1)\nRefunds take 5 days.' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Tool found: get_weather' },
    ]);
  });

  test('a tool name longer than chat allows (Claude Code\'s MCP tools: up to 128) goes up shortened and comes back as the client\'s', async () => {
    const name = `mcp__weather_service_for_the_whole_planet__get_current_conditions_by_city_name`;
    assert.ok(name.length > 64);
    const tool = { ...WEATHER_TOOL, name };
    const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
    const first = await anthropic.messages.create({ model: 'openai:tool-weather', max_tokens: 100, tools: [tool], tool_choice: { type: 'tool', name }, messages: [ask] });
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    assert.equal(call.name, name, 'the client sees its own tool name');
    const sent = (lastUpstream().body!.tools as { function: { name: string } }[])[0]!.function.name;
    assert.equal(sent.length, 64);
    assert.ok(name.startsWith(sent.slice(0, 55)));
    assert.deepEqual(lastUpstream().body!.tool_choice, { type: 'function', function: { name: sent } });
    const streamed = await anthropic.messages.stream({ model: 'openai:tool-weather', max_tokens: 100, tools: [tool], messages: [ask] }).finalMessage();
    assert.deepEqual(streamed.content.filter((b) => b.type === 'tool_use').map((b) => b.name), [name]);
    // The next turn carries the call back: the same short name, so it matches the tool list.
    const second = await anthropic.messages.create({
      model: 'openai:tool-weather', max_tokens: 100, tools: [tool],
      messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny' }] }],
    });
    assert.equal(second.stop_reason, 'end_turn');
    const history = lastUpstream().body!.messages as { tool_calls?: { function: { name: string } }[] }[];
    assert.equal(history[1]!.tool_calls![0]!.function.name, sent);
  });

  test('images go up as data URLs; fields and tools chat has no place for are removed and named', async () => {
    const r = await gw(h, '/v1/messages', { headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' }, body: {
      model: 'gpt-4o', max_tokens: 50, top_k: 5, temperature: 0.2, top_p: 0.9,
      tools: [WEATHER_TOOL, { type: 'web_search_20250305', name: 'web_search' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
    } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('ngrok-aig-removed-params'), 'top_k, tools');
    const up = lastUpstream().body!;
    // What the model itself refuses is named as the client sent it: o3 takes no stop sequences (chat's `stop`).
    const o3 = await gw(h, '/v1/messages', { headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' }, body: {
      model: 'o3', max_tokens: 50, temperature: 0.2, stop_sequences: ['END'], messages: [{ role: 'user', content: 'hi' }],
    } });
    assert.equal(o3.status, 200, o3.text);
    assert.equal(o3.headers.get('ngrok-aig-removed-params'), 'stop_sequences, temperature');
    assert.deepEqual(['stop' in lastUpstream().body!, 'temperature' in lastUpstream().body!], [false, false]);
    assert.equal('top_k' in up, false);
    assert.deepEqual([up.temperature, up.top_p], [0.2, 0.9]);
    assert.deepEqual((up.tools as unknown[]).length, 1);
    assert.deepEqual(up.messages, [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }]);
  });

  test('provider errors come back in Messages form with the status kept, so the SDK raises its own class', async () => {
    await assert.rejects(anthropic.messages.create({ model: 'openai:fail-400-x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.match(e.requestID ?? '', /^rq_/);

      assert.deepEqual([e.status, (e.error as { error: { type: string } }).error.type], [400, 'invalid_request_error']);
      assert.match(e.message, /the fake provider rejects this request/);
      return true;
    });
    // A proxy's HTML error page: the client gets Messages JSON, labelled as such.
    const page = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'openai:fail-400-html-x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] } });
    assert.deepEqual([page.status, page.headers.get('content-type'), page.json().type], [400, 'application/json', 'error']);
    // A stream the provider breaks after its first words: an Anthropic error event, never a message_stop.
    const cut = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: { model: 'openai:cut-x', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] } });
    assert.match(cut.text, /^event: message_start\n/);
    assert.match(cut.text, /event: error\ndata: \{"type":"error","error":\{"type":"api_error","code":"ERR_NGROK_27235"/);
    assert.doesNotMatch(cut.text, /message_stop/);
  });

  test('a 2xx answer that is not JSON (a proxy\'s page) is never translated into an empty success: the next model serves, or the client gets an error', async () => {
    const body = (extra: object) => ({ model: 'openai:fail-200-html-x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], ...extra });
    const alone = await gw(h, '/v1/messages', { headers: { 'x-api-key': token }, body: body({}) });
    assert.equal(alone.status, 503, alone.text);
    assert.equal(alone.json().type, 'error');
    assert.match(alone.text, /HTTP 200, then a body that is not a JSON answer/);
    const [failed] = await h.usage(alone.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([failed!.completion, Number(failed!.isError), Number(failed!.costPico)], ['failed', 1, 0]);
    // With a fallback model, it serves: the client never sees the page.
    const message = await anthropic.messages.create(body({ models: ['openai:gpt-4o-mini'] }) as Anthropic.MessageCreateParamsNonStreaming);
    assert.match(message.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), /gpt-4o-mini/);
  });

  test('token counting for a GPT model (its other calls translated) is answered by the gateway\'s own tokenizer, nothing sent or billed', async () => {
    const sent = h.fake.requests.length;
    const counted = await anthropic.messages.countTokens({ model: 'gpt-4o', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this sentence, roughly?' }] }).withResponse();
    assert.ok(counted.data.input_tokens > 5 && counted.data.input_tokens < 60, String(counted.data.input_tokens));
    assert.deepEqual([counted.response.headers.get('ngrok-aig-attempts'), counted.response.headers.get('ngrok-aig-model')], ['0', 'gpt-4o']);
    assert.equal(h.fake.requests.length, sent, 'no provider was asked');
    // A model name no header can carry as is goes percent-encoded, as on every other answer (it was a 500).
    const unicode = await anthropic.messages.countTokens({ model: 'openai:gpt-€é', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(unicode.response.headers.get('ngrok-aig-model'), 'gpt-%E2%82%AC%C3%A9');
    // A model the gateway cannot reach at all keeps its refusal.
    await assert.rejects(anthropic.messages.countTokens({ model: 'nope:gpt-4o', messages: [{ role: 'user', content: 'x' }] }), Anthropic.BadRequestError);
  });

  test('a streamed call whose name comes after its first arguments (some chat servers): the SDK gets the tool_use with its name and whole input', async () => {
    const message = await anthropic.messages.stream({ model: 'openai:tool-latename-weather', max_tokens: 100, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather in Paris?' }] }).finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(message.content.map((b) => b.type === 'tool_use' ? [b.id, b.name, b.input] : b.type), [['call_fake1', 'get_weather', { city: 'Paris' }]]);
  });

  test('token counting of a continued thread for a GPT model answers what /v1/messages does (404 thread_not_found), not a count of the new messages alone', async () => {
    const sent = h.fake.requests.length;
    const count = (thread: Record<string, unknown>) => anthropic.messages.countTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'and then?' }], thread } as unknown as Anthropic.MessageCountTokensParams);
    await assert.rejects(count({ type: 'continue', previous_message_id: 'msg_01prev' }), (e: unknown) => {
      assert.ok(e instanceof Anthropic.NotFoundError, String(e));
      assert.equal(e.constructor.name, 'ThreadNotFoundError');
      assert.deepEqual([e.status, e.errorCode], [404, 'thread_not_found']);
      assert.match(e.message, /ERR_NGROK_27226.*"gpt-4o".*"msg_01prev"/);
      return true;
    });
    // Starting a thread sends the whole conversation: counted, as for /v1/messages, which translates it.
    const started = await count({ type: 'create' });
    assert.ok(started.input_tokens > 0);
    assert.equal(h.fake.requests.length, sent, 'no provider was asked');
  });

  test('a model that serves Messages itself is never translated', async () => {
    const ka = await h.providerKey('anthropic', 'sk-translate-anthropic');
    const both = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] }] } }))).token;
    const claude = new Anthropic({ baseURL: h.gatewayUrl, apiKey: both, maxRetries: 0 });
    await claude.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(lastUpstream().path, '/v1/messages');
  });

  test('a message thread continued (held by Anthropic) is never translated: a GPT model answers Anthropic\'s 404 thread_not_found, Claude gets it as sent, a failover never reaches GPT', async () => {
    const ka = await h.providerKey('anthropic', 'sk-thread-anthropic');
    const both = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
    ] } }))).token;
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: both, maxRetries: 0 });
    const thread = { type: 'continue' as const, previous_message_id: 'msg_01prev' };
    const turn = (model: string, models?: string[]) => client.beta.messages.create({
      model, max_tokens: 10, thread, betas: ['message-threads-2026-08-12'], messages: [{ role: 'user', content: 'and then?' }], ...(models ? { models } : {}),
    });
    const sent = h.fake.requests.length;
    for (const stream of [false, true]) {
      await assert.rejects(stream ? client.beta.messages.create({ model: 'gpt-4o', max_tokens: 10, thread, stream, messages: [{ role: 'user', content: 'and then?' }] }) : turn('gpt-4o'), (e: unknown) => {
        // The SDK's own class for the code, which its thread helper recovers from by replaying the conversation.
        assert.ok(e instanceof Anthropic.NotFoundError, String(e));
        assert.equal(e.constructor.name, 'ThreadNotFoundError');
        assert.deepEqual([e.status, e.errorCode, e.type], [404, 'thread_not_found', 'not_found_error']);
        assert.match(e.message, /ERR_NGROK_27226.*"gpt-4o".*"msg_01prev"/);
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent, 'nothing sent upstream');

    const message = await turn('claude-sonnet-4-6');
    assert.equal(message.type, 'message');
    assert.equal(lastUpstream().path, '/v1/messages');
    assert.deepEqual(lastUpstream().body!.thread, thread, 'Claude continues its own thread');

    // Claude fails: the GPT fallback would answer without the thread's turns, so it is not tried.
    const before = h.fake.requests.length;
    await assert.rejects(turn('anthropic:fail-503-claude', ['gpt-4o']), (e: unknown) => e instanceof Anthropic.APIError && e.status !== 404);
    const tried = h.fake.requests.slice(before);
    assert.deepEqual(tried.map((r) => r.path), ['/v1/messages']);
    assert.deepEqual(tried[0]!.body!.thread, thread);
  });

  test('automatic selection with no Claude model to continue a thread answers as a chat-only model does (404 thread_not_found), so the SDK\'s replay is served', async () => {
    // This key may use OpenAI alone: automatic selection's candidates are all translated.
    const openaiOnly = (await h.accessKey(await h.configuration({ access: { providers: { allow: ['openai'] } }, router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] }] } }))).token;
    const client = new Anthropic({ baseURL: h.gatewayUrl, apiKey: openaiOnly, maxRetries: 0 });
    const thread = { type: 'continue' as const, previous_message_id: 'msg_01prev' };
    const sent = h.fake.requests.length;
    for (const model of ['ngrok/auto', undefined]) {
      await assert.rejects(client.beta.messages.create({
        ...(model ? { model } : {}), max_tokens: 10, thread, betas: ['message-threads-2026-08-12'], messages: [{ role: 'user', content: 'and then?' }],
      } as Anthropic.Beta.MessageCreateParamsNonStreaming), (e: unknown) => {
        assert.ok(e instanceof Anthropic.NotFoundError, String(e));
        assert.equal(e.constructor.name, 'ThreadNotFoundError');
        assert.deepEqual([e.status, e.errorCode], [404, 'thread_not_found']);
        assert.match(e.message, /ERR_NGROK_27226.*"msg_01prev"/);
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent, 'nothing sent upstream');
    // What the SDK's thread helper then sends: the whole conversation, starting a thread, which a chat model serves.
    const replay = await client.beta.messages.create({
      model: 'ngrok/auto', max_tokens: 10, thread: { type: 'create' }, betas: ['message-threads-2026-08-12'],
      messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'and then?' }],
    });
    assert.equal(replay.type, 'message');
    assert.equal(lastUpstream().path, '/v1/chat/completions');
  });
});

describe('translation: Responses requests served over chat completions and Messages (sqlite)', () => {
  let h: Harness;
  let token: string;
  let ka: string;
  let openai: OpenAI;
  before(async () => {
    h = await startHarness('sqlite');
    ka = await h.providerKey('anthropic', 'sk-translate-anthropic');
    // A model server of the account's own that speaks only chat completions (a vLLM or Ollama, say).
    await h.api('POST', '/providers', {
      providerId: 'local', name: 'Local chat server', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions' }], models: [{ modelId: 'local-llm' }, { modelId: 'tool-patch' }, { modelId: 'tool-latename-patch' }, { modelId: 'tool-noargs-clock' }, { modelId: 'plain-llm', unsupportedParams: ['max_tokens', 'response_format', 'stream_options'] }],
    });
    const kl = await h.providerKey('local', 'sk-translate-local');
    const ko = await h.providerKey('openai', 'sk-translate-openai');
    token = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
      { provider: 'local', steps: [{ type: 'user', keys: [{ id: kl }] }] },
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
    ] } }))).token;
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;

  test('the OpenAI SDK\'s Responses call to Claude: instructions, input items and usage mapped; output_text works', async () => {
    const { data: response, response: raw } = await openai.responses.create({
      model: 'claude-sonnet-4-6', instructions: 'Be brief.', max_output_tokens: 64, store: false,
      input: [{ role: 'developer', content: 'Answer in English.' }, { role: 'user', content: [{ type: 'input_text', text: 'hello responses' }] }],
    }).withResponse();
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.match(response.output_text, /fake claude-sonnet-4-6 model! You said: "hello responses"/);
    // Messages counts cache reads and writes apart from input_tokens; Responses counts every input token.
    const input = FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite;
    assert.deepEqual([response.usage?.input_tokens, response.usage?.input_tokens_details.cached_tokens, response.usage?.output_tokens], [input, FAKE_USAGE.cacheRead, FAKE_USAGE.output]);
    assert.equal(raw.headers.get('ngrok-aig-removed-params'), 'store');
    // Anthropic's own API, not its chat-completions compatibility layer (which Anthropic does not offer for production).
    const up = lastUpstream();
    assert.equal(up.path, '/v1/messages');
    assert.equal(up.headers['x-api-key'], 'sk-translate-anthropic');
    assert.equal(up.body!.system, 'Be brief.\n\nAnswer in English.');
    assert.deepEqual(up.body!.messages, [{ role: 'user', content: 'hello responses' }]);
    assert.equal(up.body!.max_tokens, 64);
    const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.inputTokens), Number(row!.outputTokens), row!.completion], [input, FAKE_USAGE.output, 'succeeded']);
  });

  test('a streamed Responses call to a chat-only model server: the SDK\'s stream helper assembles the final response', async () => {
    const stream = openai.responses.stream({ model: 'local:local-llm', input: 'stream to me' });
    let text = '';
    stream.on('response.output_text.delta', (e) => { text += e.delta; });
    const final = await stream.finalResponse();
    assert.match(text, /fake local-llm model! You said: "stream to me"/);
    assert.equal(final.output_text, text);
    // A custom server is not asked for the usage chunk (some refuse the option), as on a native chat stream.
    assert.deepEqual([lastUpstream().path, lastUpstream().body!.stream_options], ['/v1/chat/completions', undefined]);
  });

  test('a call of a tool that takes no arguments, made with none at all (a chat server\'s ""), reaches the OpenAI SDK as "{}", which its parser reads for a strict tool (JSON and streamed)', async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: 'get_time', parameters: { type: 'object', properties: {}, required: [], additionalProperties: false }, strict: true }];
    const ask = { model: 'local:tool-noargs-clock', tools, input: 'What time is it?' };
    const made = await openai.responses.parse(ask);
    const streamed = await openai.responses.stream(ask).finalResponse();
    for (const response of [made, streamed]) {
      const call = response.output.find((item) => item.type === 'function_call');
      assert.deepEqual([call?.name, call?.arguments, call?.parsed_arguments], ['get_time', '{}', {}]);
    }
  });

  test('Responses audio (`input_audio`) reaches a chat model as chat\'s audio part; to Claude, which takes none, it is refused with ngrok\'s 400, never dropped', async () => {
    const input = [{ role: 'user', content: [{ type: 'input_text', text: 'Transcribe this.' }, { type: 'input_audio', input_audio: { data: 'UklGRiQAAABXQVZF', format: 'wav' } }] }] as unknown as OpenAI.Responses.ResponseInput;
    await openai.responses.create({ model: 'local:local-llm', input });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[]).at(-1)!.content[1], { type: 'input_audio', input_audio: { data: 'UklGRiQAAABXQVZF', format: 'wav' } });
    const sent = h.fake.requests.length;
    await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*"input_audio".*cannot carry/.test(e.message));
    assert.equal(h.fake.requests.length, sent);
  });

  test('a Responses content part of a type the translation has no place for is refused with ngrok\'s 400 naming it and the target, to a chat model and to Claude alike, never dropped', async () => {
    // A part of a newer or another server's type (here a video), beside text the model would answer alone.
    const input = [{ role: 'user', content: [{ type: 'input_text', text: 'What happens in this clip?' }, { type: 'input_video', video_url: 'https://example.com/clip.mp4' }] }] as unknown as OpenAI.Responses.ResponseInput;
    const sent = h.fake.requests.length;
    for (const [model, target] of [['local:local-llm', 'chat completions'], ['claude-haiku-4-5', 'Anthropic Messages']]) {
      await assert.rejects(openai.responses.create({ model: model!, input }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && new RegExp(`ERR_NGROK_27226.*"input_video", which ${target} cannot carry`).test(e.message), model);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('a tool output part of a type the translation has no place for is refused naming it and the target; an image an output returned reaches the model even when its call is not in the history', async () => {
    const call = { type: 'function_call', call_id: 'call_s1', name: 'screenshot', arguments: '{}' };
    const input = [{ role: 'user', content: 'What is on screen?' }, call, { type: 'function_call_output', call_id: 'call_s1', output: [
      { type: 'input_text', text: 'Recorded.' }, { type: 'input_video', video_url: 'https://example.com/screen.mp4' },
    ] }] as unknown as OpenAI.Responses.ResponseInput;
    const sent = h.fake.requests.length;
    for (const [model, target] of [['local:local-llm', 'chat completions'], ['claude-haiku-4-5', 'Anthropic Messages']]) {
      await assert.rejects(openai.responses.create({ model: model!, input }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && new RegExp(`ERR_NGROK_27226.*tool output part of type "input_video", which ${target} cannot carry`).test(e.message), model);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
    // Codex sends an output whose call the history lacks (its shell's): it goes as the user's text, its image with it.
    await openai.responses.create({ model: 'local:local-llm', input: [{ role: 'user', content: 'What is on screen?' }, { type: 'function_call_output', call_id: 'call_s2', output: [
      { type: 'input_text', text: 'Recorded.' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0K', detail: 'auto' },
    ] }] });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown }[]).at(-1)!.content, [
      { type: 'text', text: 'Output of tool call call_s2:\nRecorded.' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K', detail: 'auto' } },
    ]);
  });

  test('a known part missing what it is read by (an input_image with no image_url nor file_id, an input_file with no data) is the client\'s 400 naming it, to a chat model and to Claude, never dropped', async () => {
    const sent = h.fake.requests.length;
    for (const [part, named] of [
      [{ type: 'input_image', detail: 'auto' }, /"input\[0\]\.content\[1\]" \(an input_image\) needs "image_url" or "file_id"/],
      [{ type: 'input_file', filename: 'notes.pdf' }, /"input\[0\]\.content\[1\]" \(an input_file\) needs "file_data", "file_url" or "file_id"/],
      [{ type: 'input_text', text: ['x'] }, /"input\[0\]\.content\[1\]\.text" must be a string/],
    ] as const) {
      const input = [{ role: 'user', content: [{ type: 'input_text', text: 'Describe it.' }, part] }] as unknown as OpenAI.Responses.ResponseInput;
      for (const model of ['local:local-llm', 'claude-haiku-4-5']) {
        await assert.rejects(openai.responses.create({ model, input }), (e: unknown) => {
          assert.ok(e instanceof OpenAI.BadRequestError, String(e));
          assert.match(e.message, /ERR_NGROK_27228: Invalid request: /);
          assert.match(e.message, named);
          return true;
        }, `${model} ${part.type}`);
      }
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('an image or file given by its OpenAI file_id beside null fields (image_url: null, file_data: null, as an SDK writes a field left unset) is refused as a stored file, to a chat model and to Claude, never dropped', async () => {
    const sent = h.fake.requests.length;
    for (const part of [
      { type: 'input_image', image_url: null, file_id: 'file-abc123', detail: 'auto' },
      { type: 'input_file', file_data: null, file_url: null, file_id: 'file-abc123', filename: null },
    ]) {
      const input = [{ role: 'user', content: [{ type: 'input_text', text: 'Describe it.' }, part] }] as unknown as OpenAI.Responses.ResponseInput;
      for (const model of ['local:local-llm', 'claude-haiku-4-5']) {
        await assert.rejects(openai.responses.create({ model, input }),
          (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*file stored at OpenAI \("file_id"\)/.test(e.message), `${model} ${part.type}`);
      }
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('text files typed as application data (JSON, YAML, XML, a shell script, an +json type) reach Claude as text documents of their text, not refused as unreadable', async () => {
    const files: [string, string][] = [['application/json', '{"port": 8080}'], ['application/x-yaml', 'port: 8080'], ['application/xml;charset=windows-1252', '<a>café</a>'], ['application/x-sh', 'echo hi'], ['application/ld+json', '{"@id": "x"}']];
    const encoded = (type: string, text: string) => Buffer.from(text, type.includes('1252') ? 'latin1' : 'utf8').toString('base64');
    const input = [{ role: 'user' as const, content: [
      { type: 'input_text' as const, text: 'Check these.' },
      ...files.map(([type, text]) => ({ type: 'input_file' as const, filename: 'f', file_data: `data:${type};base64,${encoded(type, text)}` })),
    ] }];
    const response = await openai.responses.create({ model: 'claude-haiku-4-5', input });
    assert.equal(response.status, 'completed');
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content.slice(1), files.map(([, text]) => ({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } })));
    await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.zip', file_data: 'data:application/zip;base64,UEsDBA==' }] }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*file Anthropic Messages cannot read/.test(e.message), 'a zip is still refused');
  });

  test('a conversation begun on OpenAI with its hosted tools (web search, image generation, MCP) goes on to Claude as text and the generated image; a compaction item, which only OpenAI reads, is refused naming it, nothing sent', async () => {
    const input = [
      { role: 'user', content: 'Search the weather and draw it.' },
      { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'paris weather' } },
      { type: 'image_generation_call', id: 'ig_1', status: 'completed', result: 'iVBORw0KGgo' },
      { type: 'mcp_call', id: 'mc_1', server_label: 'cal', name: 'add', arguments: '{}', output: 'Added.' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sunny; drawn and noted.' }] },
      { role: 'user', content: 'Thanks. Brighter?' },
    ] as unknown as OpenAI.Responses.ResponseInput;
    const response = await openai.responses.create({ model: 'claude-haiku-4-5', input });
    assert.equal(response.status, 'completed');
    // Two assistant turns in a row, as Messages takes them (it joins them).
    assert.deepEqual((lastUpstream().body!.messages as unknown[]).slice(1, 5), [
      { role: 'assistant', content: [{ type: 'text', text: '[Searched the web (ws_1):] {"type":"search","query":"paris weather"}\n[Generated an image (ig_1)]' }] },
      { role: 'user', content: [{ type: 'text', text: 'Image generated (ig_1):' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo' } }] },
      { role: 'assistant', content: [{ type: 'text', text: '[Called "add" on the MCP server "cal" (mc_1):] {}\n[Output:] Added.' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Sunny; drawn and noted.' }] },
    ]);
    const sent = h.fake.requests.length;
    for (const model of ['local:local-llm', 'claude-haiku-4-5']) {
      await assert.rejects(openai.responses.create({ model, input: [{ type: 'compaction', id: 'cmp_1', encrypted_content: 'gAAAAB' }, { role: 'user', content: 'go on' }] as unknown as OpenAI.Responses.ResponseInput }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*"compaction" item, the earlier conversation compacted and encrypted by OpenAI/.test(e.message), model);
    }
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('a Responses image Claude cannot take (HEIC) is refused before any call naming its type; a chat model gets it', async () => {
    const input = [{ role: 'user' as const, content: [{ type: 'input_text' as const, text: 'What is this?' }, { type: 'input_image' as const, image_url: 'data:image/heic;base64,AAAAGGZ0eXBoZWlj', detail: 'auto' as const }] }];
    const sent = h.fake.requests.length;
    await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*an image of type "image\/heic", which Claude and Bedrock's Converse cannot take/.test(e.message));
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
    await openai.responses.create({ model: 'local:local-llm', input });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'image_url', image_url: { url: 'data:image/heic;base64,AAAAGGZ0eXBoZWlj', detail: 'auto' } });
  });

  test('a conversation begun on OpenAI with its shell and computer tools goes on to a chat model and to Claude: the calls as the assistant\'s text, the outputs (the screenshot as an image) as the user\'s, not refused', async () => {
    const png = 'data:image/png;base64,iVBORw0K';
    const input = [
      { role: 'user', content: 'Run the tests, then look at the screen.' },
      { type: 'shell_call', call_id: 'call_sh1', status: 'completed', action: { commands: ['npm test'], timeout_ms: 60000, max_output_length: null } },
      { type: 'shell_call_output', call_id: 'call_sh1', output: [{ stdout: '3 passing', stderr: '', outcome: { type: 'exit', exit_code: 0 } }] },
      { type: 'computer_call', id: 'cu_1', call_id: 'call_cu1', status: 'completed', pending_safety_checks: [], action: { type: 'screenshot' } },
      { type: 'computer_call_output', call_id: 'call_cu1', output: { type: 'computer_screenshot', image_url: png } },
      { role: 'user', content: 'All good?' },
    ] as OpenAI.Responses.ResponseInput;
    await openai.responses.create({ model: 'local:local-llm', input });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown }[]).slice(2, 4).map((m) => m.content), [
      [{ type: 'text', text: 'Output of the shell (call call_sh1):\n3 passing\n[exit code 0]' }],
      '[Used the computer (call call_cu1):] {"type":"screenshot"}',
    ]);
    const response = await openai.responses.create({ model: 'claude-haiku-4-5', input });
    assert.equal(response.status, 'completed');
    const screenshot = (lastUpstream().body!.messages as { content: unknown[] }[])[4]!.content;
    assert.deepEqual(screenshot, [{ type: 'text', text: 'Output of the computer (call call_cu1):' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } }]);
  });

  test('what the model refuses is named as the Responses client sent it (max_output_tokens, text), not as the chat fields it became', async () => {
    const { data: response, response: raw } = await openai.responses.create({
      model: 'local:plain-llm', input: 'hello plain', max_output_tokens: 50, text: { format: { type: 'json_object' } }, store: false,
    }).withResponse();
    assert.match(response.output_text, /fake plain-llm model/);
    assert.equal(raw.headers.get('ngrok-aig-removed-params'), 'store, max_output_tokens, text');
    const up = lastUpstream().body!;
    assert.deepEqual(['max_tokens' in up, 'response_format' in up], [false, false]);
    // A field only the translation wrote (nothing the client sent) is not named when the model refuses it.
    const { response: plain } = await openai.responses.create({ model: 'local:plain-llm', input: 'hello plain', store: false }).withResponse();
    assert.equal(plain.headers.get('ngrok-aig-removed-params'), 'store');
  });

  test('a native Responses tool loop with a custom tool (Codex\'s apply_patch) ends at its output, in the fake provider the demo and tests use', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch', description: 'Edit files.' }];
    const first = await openai.responses.create({ model: 'openai:tool-patch', input: 'add hello.txt', tools, store: false });
    assert.equal(lastUpstream().path, '/v1/responses');
    assert.ok(first.output.some((item) => item.type === 'function_call' || item.type === 'custom_tool_call'), JSON.stringify(first.output));
    const next = await openai.responses.create({ model: 'openai:tool-patch', tools, store: false, input: [
      { role: 'user', content: 'add hello.txt' },
      { type: 'custom_tool_call', call_id: 'call_fake1', name: 'apply_patch', input: FAKE_TOOL_INPUT },
      { type: 'custom_tool_call_output', call_id: 'call_fake1', output: 'Done!' },
    ] });
    assert.match(next.output_text, /fake tool-patch model/);
  });

  test('the Vercel AI SDK\'s default openai("…") reaches Claude: text, streams, and a tool loop', async () => {
    const provider = createOpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token });
    const gen = await generateText({ model: provider('claude-haiku-4-5'), prompt: 'vercel default', maxRetries: 0 });
    assert.match(gen.text, /fake claude-haiku-4-5 model/);
    assert.equal(gen.usage.outputTokens, FAKE_USAGE.output);
    const streamed = streamText({ model: provider('claude-haiku-4-5'), prompt: 'vercel stream', maxRetries: 0 });
    let text = '';
    for await (const part of streamed.textStream) text += part;
    assert.match(text, /fake claude-haiku-4-5 model/);

    // A second turn: the SDK stores by default (`store: true`) and sends the first answer back as an item_reference,
    // which the gateway resolves from the translated answer it kept.
    const first = await generateText({ model: provider('claude-haiku-4-5'), prompt: 'first question', maxRetries: 0 });
    await generateText({ model: provider('claude-haiku-4-5'), messages: [{ role: 'user', content: 'first question' }, ...first.response.messages, { role: 'user', content: 'second question' }], maxRetries: 0 });
    const turns = lastUpstream().body!.messages as { role: string; content: unknown }[];
    assert.deepEqual(turns.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.match(JSON.stringify(turns[1]!.content), /fake claude-haiku-4-5 model! You said: \\"first question\\"/);
    // A reference this gateway never produced (another node's, or OpenAI's) cannot be translated: a clear 400.
    await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input: [{ type: 'item_reference', id: 'msg_elsewhere' }, { role: 'user', content: 'and?' }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*stored item \("msg_elsewhere"\).*store to false/.test(e.message));

    const calls: unknown[] = [];
    const weather = tool({
      description: 'Weather in a city', inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
      execute: async (input) => { calls.push(input); return 'Sunny, 21 °C'; },
    });
    const loop = { model: provider('anthropic:tool-weather'), prompt: 'Weather in Paris?', tools: { weather }, stopWhen: ({ steps }: { steps: readonly unknown[] }) => steps.length >= 2, maxRetries: 0 };
    assert.match((await generateText(loop)).text, /fake tool-weather model/);
    assert.match(await streamText(loop).text, /fake tool-weather model/);
    assert.deepEqual(calls, [{ city: 'Paris' }, { city: 'Paris' }]);
    // The call and its result go up as Messages blocks, paired by the provider's call id.
    const messages = lastUpstream().body!.messages as Record<string, unknown>[];
    assert.deepEqual(messages.slice(-2).map((m) => m.role), ['assistant', 'user']);
    assert.deepEqual(messages.at(-2)!.content, [{ type: 'tool_use', id: 'toolu_fake1', name: 'weather', input: { city: 'Paris' } }]);
    assert.deepEqual(messages.at(-1)!.content, [{ type: 'tool_result', tool_use_id: 'toolu_fake1', content: 'Sunny, 21 °C' }]);
  });

  test('Codex\'s freeform apply_patch (a custom tool) through a chat-only server and Claude: a custom_tool_call answered, streamed and sent back', async () => {
    const grammar = 'start: "*** Begin Patch" LF hunk+ "*** End Patch" LF?';
    const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch', description: 'Edit files.', format: { type: 'grammar', syntax: 'lark', definition: grammar } }];
    for (const model of ['local:tool-patch', 'anthropic:tool-patch']) {
      const { data: response, response: raw } = await openai.responses.create({ model, input: 'add hello.txt', tools }).withResponse();
      const [call] = response.output;
      assert.ok(call?.type === 'custom_tool_call', `${model}: ${JSON.stringify(response.output)}`);
      assert.deepEqual([call.name, call.input, (call as { status?: unknown }).status], ['apply_patch', FAKE_TOOL_INPUT, 'completed']);
      assert.equal(raw.headers.get('ngrok-aig-removed-params'), null, 'the tool is not left out');
      // Up as a function of one string, the grammar in its description (chat, or Messages after it).
      const up = lastUpstream().body!;
      const offered = model.startsWith('local:') ? (up.tools as { function: { description: string; parameters: unknown } }[])[0]!.function : (up.tools as { description: string; input_schema: unknown }[])[0]!;
      assert.equal(offered.description, `Edit files.\n\nThe input must follow this lark grammar:\n${grammar}`);
      assert.deepEqual(((model.startsWith('local:') ? (offered as { parameters: { required: unknown } }).parameters : (offered as { input_schema: { required: unknown } }).input_schema)).required, ['input']);
      const [row] = await h.usage(raw.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([Number(row!.outputTokens), row!.completion], [FAKE_USAGE.output, 'succeeded']);

      // The SDK's stream helper assembles the call from the custom-tool events.
      const stream = openai.responses.stream({ model, input: 'add hello.txt', tools, store: false });
      const types: string[] = [];
      let streamed = '';
      stream.on('event', (event) => { types.push(event.type); });
      stream.on('response.custom_tool_call_input.delta', (event) => { streamed += event.delta; });
      const final = await stream.finalResponse();
      assert.equal(streamed, FAKE_TOOL_INPUT);
      assert.deepEqual(types.filter((t) => t.includes('custom_tool_call') || t.startsWith('response.output_item')), [
        'response.output_item.added', 'response.custom_tool_call_input.delta', 'response.custom_tool_call_input.done', 'response.output_item.done',
      ]);
      const [streamedCall] = final.output;
      assert.ok(streamedCall?.type === 'custom_tool_call');
      assert.deepEqual([streamedCall.name, streamedCall.input], ['apply_patch', FAKE_TOOL_INPUT]);

      // The next turn refers to the kept call and answers it: the model reads the call and its result.
      const next = await openai.responses.create({ model, tools, input: [
        { role: 'user', content: 'add hello.txt' }, { type: 'item_reference', id: call.id! }, { type: 'custom_tool_call_output', call_id: call.call_id, output: 'Done!' },
      ] });
      assert.match(next.output_text, /fake tool-patch model/);
      const turns = lastUpstream().body!.messages as { role: string; content: unknown; tool_calls?: unknown }[];
      if (model.startsWith('local:')) {
        assert.deepEqual(turns.slice(1), [
          { role: 'assistant', content: null, tool_calls: [{ id: call.call_id, type: 'function', function: { name: 'apply_patch', arguments: JSON.stringify({ input: FAKE_TOOL_INPUT }) } }] },
          { role: 'tool', tool_call_id: call.call_id, content: 'Done!' },
        ]);
      } else {
        assert.deepEqual(turns.slice(1).map((m) => m.content), [
          [{ type: 'tool_use', id: call.call_id, name: 'apply_patch', input: { input: FAKE_TOOL_INPUT } }],
          [{ type: 'tool_result', tool_use_id: call.call_id, content: 'Done!' }],
        ]);
      }
    }
  });

  test('Codex\'s apply_patch from a chat server naming the call after its first arguments: still a custom_tool_call, streamed', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch', description: 'Edit files.' }];
    const final = await openai.responses.stream({ model: 'local:tool-latename-patch', input: 'add hello.txt', tools, store: false }).finalResponse();
    const [call] = final.output;
    assert.ok(call?.type === 'custom_tool_call', JSON.stringify(final.output));
    assert.deepEqual([call.name, call.input], ['apply_patch', FAKE_TOOL_INPUT]);
  });

  test('a custom tool and a function tool of one name are refused with a 400 naming the name, before any model is called', async () => {
    const sent = h.fake.requests.length;
    const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch' }, { type: 'function', name: 'apply_patch', parameters: { type: 'object' }, strict: false }];
    // Automatic selection for a key reaching Claude alone (every model it could pick translated) answers the same,
    // not that it found no model.
    const claudeOnly = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: (await h.accessKey(await h.configuration({ access: { providers: { allow: ['anthropic'] } }, router: { rules: [{ provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] }] } }))).token, maxRetries: 0 });
    for (const [client, model] of [[openai, 'local:tool-patch'], [openai, 'anthropic:tool-patch'], [claudeOnly, 'ngrok/auto']] as const) {
      await assert.rejects(client.responses.create({ model, input: 'add hello.txt', tools }), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.deepEqual([e.status, e.code, e.type], [400, 'ERR_NGROK_27228', 'invalid_request_error'], model);
        assert.match(e.message, /"tools" names "apply_patch" twice \(a custom tool and a function tool\)/);
        return true;
      });
    }
    assert.equal(h.fake.requests.length, sent, 'nothing sent upstream');
  });

  test('a history of function calls with no tools offered (a closing summary turn) reaches Claude, which requires tools beside tool_use blocks', async () => {
    const response = await openai.responses.create({ model: 'claude-sonnet-4-6', store: false, input: [
      { role: 'user', content: 'Weather in Paris?' },
      { type: 'function_call', call_id: 'call_w1', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_w1', output: 'Sunny' },
      { role: 'user', content: 'Sum it up.' },
    ] });
    assert.match(response.output_text, /fake claude-sonnet-4-6 model/);
    const up = lastUpstream().body!;
    assert.deepEqual([(up.tools as { name: string }[]).map((t) => t.name), up.tool_choice], [['weather'], { type: 'none' }]);
  });

  test('the Vercel AI SDK\'s structured output from Claude: the schema goes up as one forced tool, its input comes back as the object', async () => {
    const provider = createOpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token });
    const schema = jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false });
    const made = await generateText({ model: provider('anthropic:tool-weather'), output: Output.object({ schema }), prompt: 'Where is the Louvre?', maxRetries: 0 });
    assert.deepEqual(made.output, { city: 'Paris' });
    const up = lastUpstream();
    assert.equal(up.path, '/v1/messages');
    assert.deepEqual(up.body!.tool_choice, { type: 'tool', name: 'structured_output' });
    assert.deepEqual((up.body!.tools as { input_schema: unknown }[])[0]!.input_schema, { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false });
    const streamed = streamText({ model: provider('anthropic:tool-weather'), output: Output.object({ schema }), prompt: 'Where is the Louvre?', maxRetries: 0 });
    let last: unknown;
    for await (const partial of streamed.partialOutputStream) last = partial;
    assert.deepEqual(last, { city: 'Paris' });
    assert.equal(lastUpstream().body!.stream, true);
  });

  test('a chat call to Claude asking for structured output reaches its own API with JSON outputs (its OpenAI-compatible endpoint ignores response_format)', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const asked = await openai.chat.completions.create({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'Where is the Louvre?' }], response_format: { type: 'json_schema', json_schema: { name: 'place', strict: true, schema } } });
    assert.match(asked.choices[0]!.message.content ?? '', /fake claude-sonnet-4-6 model/);
    const up = lastUpstream();
    assert.equal(up.path, '/v1/messages');
    assert.deepEqual(up.body!.output_config, { format: { type: 'json_schema', schema } });
    // Without it, the chat call goes to Anthropic's own chat endpoint as before.
    await openai.chat.completions.create({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(lastUpstream().path, '/v1/chat/completions');
  });

  test('a chat agent loop with reasoning_effort to Claude: thinking comes back as reasoning_content, and the message sent back as it came carries Claude\'s signed thinking into the next turn (JSON, and the SDK\'s stream helper)', async () => {
    // Anthropic's OpenAI-compatible endpoint ignores reasoning_effort and never returns thinking: Claude's own API serves.
    const model = 'anthropic:tool-think-weather';
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris?' };
    const thought = FAKE_THINKING.text + FAKE_THINKING.more;
    const signed = { type: 'thinking', thinking: thought, signature: FAKE_THINKING.signature };
    for (const streamed of [false, true]) {
      let reasoning = '';
      let message: OpenAI.ChatCompletionMessage;
      if (streamed) {
        const stream = openai.chat.completions.stream({ model, reasoning_effort: 'low', tools, messages: [ask] });
        stream.on('chunk', (chunk) => { reasoning += (chunk.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? ''; });
        message = await stream.finalMessage();
      } else {
        message = (await openai.chat.completions.create({ model, reasoning_effort: 'low', tools, messages: [ask] })).choices[0]!.message;
        reasoning = (message as { reasoning_content?: string }).reasoning_content ?? '';
      }
      assert.equal(reasoning, thought, `streamed: ${streamed}`);
      assert.equal(message.tool_calls?.length, 1);
      const up = lastUpstream();
      assert.deepEqual([up.path, up.body!.thinking], ['/v1/messages', { type: 'enabled', budget_tokens: 2048 }]);
      // The tool's result, after the assistant message as the SDK gave it: Claude gets its signed thinking back first
      // in the turn (the fake refuses the turn without it, as Anthropic does).
      const next = await openai.chat.completions.create({ model, reasoning_effort: 'low', tools, messages: [ask, message, { role: 'tool', tool_call_id: message.tool_calls![0]!.id, content: 'Sunny' }] });
      assert.match(next.choices[0]!.message.content ?? '', /fake tool-think-weather model/);
      const turn = (lastUpstream().body!.messages as { content: { type: string }[] }[])[1]!.content;
      assert.deepEqual([turn[0], turn.map((b) => b.type)], [signed, ['thinking', 'tool_use']], `streamed: ${streamed}`);
    }
    // Reasoning off asks nothing the compatibility layer ignores: the chat call goes to Anthropic's chat endpoint as before.
    await openai.chat.completions.create({ model: 'claude-sonnet-4-6', reasoning_effort: 'none', messages: [ask] });
    assert.equal(lastUpstream().path, '/v1/chat/completions');
  });

  test('a chat client\'s `thinking` (Anthropic\'s compatibility spelling, through extra_body): alone it stays on Anthropic\'s chat endpoint, which honours it; beside reasoning_effort (Claude\'s own API) its budget is Claude\'s thinking, not removed', async () => {
    const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Think about Paris.' };
    const thinking = { type: 'enabled', budget_tokens: 3000 };
    await openai.chat.completions.create({ model: 'claude-sonnet-4-5', max_tokens: 8000, messages: [ask], ...{ thinking } });
    assert.deepEqual([lastUpstream().path, lastUpstream().body!.thinking], ['/v1/chat/completions', thinking]);
    const { data: answer, response } = await openai.chat.completions.create({ model: 'anthropic:think-paris', max_tokens: 8000, reasoning_effort: 'high', messages: [ask], ...{ thinking } }).withResponse();
    assert.equal((answer.choices[0]!.message as { reasoning_content?: string }).reasoning_content, FAKE_THINKING.text + FAKE_THINKING.more);
    assert.deepEqual([lastUpstream().path, lastUpstream().body!.thinking], ['/v1/messages', thinking]);
    assert.equal(response.headers.get('ngrok-aig-removed-params'), 'reasoning_effort', 'the effort is the one not taken');
  });

  test('the OpenAI SDK\'s Responses tool loop with reasoning to Claude: a reasoning item with Claude\'s thinking, which sent back with the output carries the signed thinking into the next turn (JSON and streamed)', async () => {
    const model = 'anthropic:tool-think-weather';
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];
    const ask: OpenAI.Responses.ResponseInputItem = { role: 'user', content: 'Weather in Paris?' };
    for (const streamed of [false, true]) {
      const first: OpenAI.Responses.Response = streamed
        ? await openai.responses.stream({ model, reasoning: { effort: 'low' }, tools, input: [ask] }).finalResponse()
        : await openai.responses.create({ model, reasoning: { effort: 'low' }, tools, input: [ask] });
      const reasoning = first.output.find((i): i is OpenAI.Responses.ResponseReasoningItem => i.type === 'reasoning');
      assert.deepEqual(reasoning?.summary, [{ type: 'summary_text', text: FAKE_THINKING.text + FAKE_THINKING.more }], `streamed: ${streamed}`);
      const call = first.output.find((i): i is OpenAI.Responses.ResponseFunctionToolCall => i.type === 'function_call')!;
      assert.deepEqual(lastUpstream().body!.thinking, { type: 'enabled', budget_tokens: 2048 });
      const next = await openai.responses.create({ model, reasoning: { effort: 'low' }, tools, store: false, input: [ask, ...first.output as OpenAI.Responses.ResponseInputItem[], { type: 'function_call_output', call_id: call.call_id, output: 'Sunny' }] });
      assert.match(next.output_text, /fake tool-think-weather model/);
      const turn = (lastUpstream().body!.messages as { content: { type: string }[] }[])[1]!.content;
      assert.deepEqual([turn[0], turn.map((b) => b.type)], [{ type: 'thinking', thinking: FAKE_THINKING.text + FAKE_THINKING.more, signature: FAKE_THINKING.signature }, ['thinking', 'tool_use']], `streamed: ${streamed}`);
    }
  });

  test('a chat tool loop whose assistant message lost its reasoning_details goes to Claude without thinking for that turn (reported), not refused as Anthropic refuses it with thinking on', async () => {
    const model = 'anthropic:tool-think-weather';
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_fake1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_fake1', content: 'Sunny' },
    ];
    const { data, response } = await openai.chat.completions.create({ model, reasoning_effort: 'high', tools, messages }).withResponse();
    assert.match(data.choices[0]!.message.content ?? '', /fake tool-think-weather model/);
    assert.equal(response.headers.get('ngrok-aig-removed-params'), 'reasoning_effort');
    const up = lastUpstream();
    assert.deepEqual([up.path, up.body!.thinking], ['/v1/messages', undefined]);
    // What the gateway spares the client: the provider's answer to that turn with thinking on.
    const refused = await fetch(`${h.fake.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-translate-anthropic' }, body: JSON.stringify({ ...up.body, thinking: { type: 'enabled', budget_tokens: 2048 } }) });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /a final `assistant` message must start with a thinking block/);
  });

  test('a chat conversation ending with the assistant\'s turn (a prefill Claude continues) with reasoning_effort goes to Claude without thinking (reported), not refused as Anthropic refuses a prefill with thinking on', async () => {
    const model = 'anthropic:think-prefill';
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'JSON please' }, { role: 'assistant', content: '{"a":' }];
    const { data, response } = await openai.chat.completions.create({ model, reasoning_effort: 'low', messages }).withResponse();
    assert.match(data.choices[0]!.message.content ?? '', /fake think-prefill model/);
    assert.equal(response.headers.get('ngrok-aig-removed-params'), 'prefill, reasoning_effort');
    const up = lastUpstream();
    assert.deepEqual([up.path, up.body!.thinking], ['/v1/messages', undefined]);
    const refused = await fetch(`${h.fake.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-translate-anthropic' }, body: JSON.stringify({ ...up.body, thinking: { type: 'enabled', budget_tokens: 2048 } }) });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block/);
  });

  test('a conversation moving from a translated model to an OpenAI one: the references the gateway holds go inline', async () => {
    const first = await openai.responses.create({ model: 'claude-haiku-4-5', input: 'first' });
    await openai.responses.create({ model: 'openai:gpt-4o', input: [{ type: 'item_reference', id: first.output[0]!.id! }, { role: 'user', content: 'second' }] });
    const up = lastUpstream();
    assert.equal(up.path, '/v1/responses');
    assert.deepEqual(up.body!.input, [{ role: 'assistant', content: first.output_text }, { role: 'user', content: 'second' }]);
    // The translated response itself is held by no provider: continuing it is refused with what to do instead,
    // never sent to OpenAI (which would answer an opaque "not found").
    const sent = h.fake.requests.length;
    for (const model of ['openai:gpt-4o', 'claude-haiku-4-5']) {
      await assert.rejects(openai.responses.create({ model, previous_response_id: first.id, input: 'third' }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27228.*translated.*whole conversation/.test(e.message));
    }
    assert.equal(h.fake.requests.length, sent);
  });

  test('references are written out before the input cap measures the request; store: false keeps nothing', async () => {
    const first = await openai.responses.create({ model: 'claude-haiku-4-5', input: 'first' });
    const ref = { type: 'item_reference' as const, id: first.output[0]!.id! };
    await h.gatewayConfig({ maxInputTokens: 300 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      // 60 references to one short answer: a small body, but ~1,000 tokens for the model to read.
      await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input: [...Array.from({ length: 60 }, () => ref), { role: 'user', content: 'and?' }] }),
        (e: unknown) => e instanceof OpenAI.APIError && e.status === 413 && /ERR_NGROK_3811/.test(e.message));
    } finally {
      await h.gatewayConfig({ maxInputTokens: null });
    }
    const unkept = await openai.responses.create({ model: 'claude-haiku-4-5', input: 'not stored', store: false });
    await assert.rejects(openai.responses.create({ model: 'claude-haiku-4-5', input: [{ type: 'item_reference', id: unkept.output[0]!.id! }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226/.test(e.message));
  });

  test('a Responses request continuing a stored response is never translated', async () => {
    await assert.rejects(openai.responses.create({ model: 'claude-sonnet-4-6', previous_response_id: 'resp_abc', input: 'and then?' }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226/.test(e.message));
  });

  test('provider errors come back in OpenAI form with the status kept', async () => {
    await assert.rejects(openai.responses.create({ model: 'anthropic:fail-400-x', input: 'x' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /the fake provider rejects this request/);
      assert.equal(e.requestID, 'req_fake1', 'Anthropic\'s request-id, under the header the OpenAI SDK reads');
      return true;
    });
  });
});

describe('translation: chat completions served by a Messages-only provider (sqlite)', () => {
  let h: Harness;
  let openai: OpenAI;
  before(async () => {
    h = await startHarness('sqlite');
    // An Anthropic-compatible endpoint of the account's own, declared with the Messages surface alone.
    await h.api('POST', '/providers', {
      providerId: 'claudeish', name: 'Messages-only endpoint', baseUrl: `${h.fake.url}/v1`,
      supportedApiSurfaces: [{ format: 'anthropic', surface: 'messages' }], models: [{ modelId: 'mimic-1' }, { modelId: 'fail-400-x' }],
    });
    const kc = await h.providerKey('claudeish', 'sk-translate-claudeish');
    const token = (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'claudeish', steps: [{ type: 'user', keys: [{ id: kc }] }] }] } }))).token;
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;

  test('a chat client\'s `thinking` (sent through extra_body) reaches a Messages-only model as Claude\'s thinking, where it was removed', async () => {
    const { response } = await openai.chat.completions.create({ model: 'claudeish:mimic-1', max_tokens: 5000, messages: [{ role: 'user', content: 'think' }], ...{ thinking: { type: 'enabled', budget_tokens: 2000 } } }).withResponse();
    assert.deepEqual(lastUpstream().body!.thinking, { type: 'enabled', budget_tokens: 2000 });
    assert.equal(response.headers.get('ngrok-aig-removed-params'), null);
  });

  test('the OpenAI SDK\'s chat call: system, messages and limits go up as Messages; the answer and usage come back as chat', async () => {
    const { data: completion, response } = await openai.chat.completions.create({
      model: 'claudeish:mimic-1', temperature: 1.5, stop: 'END', user: 'u-42',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello chat' }],
    }).withResponse();
    assert.match(completion.choices[0]!.message.content!, /fake mimic-1 model! You said: "hello chat"/);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.deepEqual([completion.usage?.prompt_tokens, completion.usage?.prompt_tokens_details?.cached_tokens, completion.usage?.completion_tokens], [FAKE_USAGE.input + FAKE_USAGE.cacheRead + FAKE_USAGE.cacheWrite, FAKE_USAGE.cacheRead, FAKE_USAGE.output]);
    const up = lastUpstream();
    assert.equal(up.path, '/v1/messages');
    assert.equal(up.headers['x-api-key'], 'sk-translate-claudeish');
    assert.deepEqual([up.body!.system, up.body!.messages, up.body!.max_tokens, up.body!.temperature, up.body!.stop_sequences, up.body!.metadata],
      ['Be brief.', [{ role: 'user', content: 'hello chat' }], 4096, 1, ['END'], { user_id: 'u-42' }]);
    const [row] = await h.usage(response.headers.get('ngrok-aig-request-id')!, 1);
    assert.deepEqual([Number(row!.outputTokens), row!.completion], [FAKE_USAGE.output, 'succeeded']);
  });

  test('a history of tool calls and results with no tools offered (a closing summary turn) is answered, as OpenAI answers it: the called tools declared, none chosen', async () => {
    const completion = await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_w1', content: 'Sunny' },
      { role: 'user', content: 'Sum it up.' },
    ] });
    assert.match(completion.choices[0]!.message.content!, /fake mimic-1 model! You said: "Sum it up\."/);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    const up = lastUpstream().body!;
    assert.deepEqual([(up.tools as { name: string }[]).map((t) => t.name), up.tool_choice], [['get_weather'], { type: 'none' }]);
  });

  test('audio (an `input_audio` part) is refused with ngrok\'s 400 naming the part, never dropped: Claude takes no audio, and the model would answer without it; a PDF in its place goes', async () => {
    const sent = h.fake.requests.length;
    await assert.rejects(openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is said in this recording?' }, { type: 'input_audio', input_audio: { data: 'UklGRiQAAABXQVZF', format: 'wav' } },
    ] }] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*"input_audio".*cannot carry/.test(e.message));
    assert.equal(h.fake.requests.length, sent);
    await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is said in this transcript?' }, { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } },
    ] }] });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' } });
  });

  test('a JSON file (application/json, as a browser labels a .json) reaches a Messages-only model as a text document of its text, not refused as unreadable', async () => {
    await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
      { type: 'text', text: 'Is this config valid?' }, { type: 'file', file: { filename: 'config.json', file_data: `data:application/json;base64,${Buffer.from('{"port": 8080, "name": "café"}').toString('base64')}` } },
    ] }] });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'document', source: { type: 'text', media_type: 'text/plain', data: '{"port": 8080, "name": "café"}' } });
  });

  test('an image_url part without its URL is the client\'s 400 naming it; a system message\'s image is refused (Claude\'s system prompt is text alone); neither is dropped', async () => {
    const sent = h.fake.requests.length;
    await assert.rejects(openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { detail: 'auto' } } as unknown as OpenAI.Chat.ChatCompletionContentPartImage,
    ] }] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27228: Invalid request: "messages\[0\]\.content\[1\]\.image_url\.url" must be a string/.test(e.message));
    await assert.rejects(openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [
      { role: 'system', content: [{ type: 'text', text: 'Follow the house style.' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } }] } as unknown as OpenAI.Chat.ChatCompletionSystemMessageParam,
      { role: 'user', content: 'Write the intro.' },
    ] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /ERR_NGROK_27226.*system message part of type "image_url", which Anthropic Messages cannot carry/.test(e.message));
    assert.equal(h.fake.requests.length, sent, 'nothing was sent');
  });

  test('an image a tool returned (in its tool message) reaches Claude inside the tool\'s result, not left out', async () => {
    await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [
      { role: 'user', content: 'What is on screen?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_s1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_s1', content: [{ type: 'text', text: 'Captured.' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } }] } as unknown as OpenAI.Chat.ChatCompletionToolMessageParam,
    ], tools: [{ type: 'function', function: { name: 'screenshot', parameters: { type: 'object', properties: {} } } }] });
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown }[])[2]!.content, [{ type: 'tool_result', tool_use_id: 'call_s1', content: [
      { type: 'text', text: 'Captured.' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } },
    ] }]);
  });

  test('an image data URL with parameters (a charset, a file name: RFC 2397) reaches Claude as base64 of its media type, not as a URL Anthropic cannot download', async () => {
    for (const url of ['data:image/png;charset=utf-8;base64,iVBORw0K', 'data:image/png;name=x.png;base64,iVBORw0K']) {
      const completion = await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
        { type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url } },
      ] }] });
      assert.match(completion.choices[0]!.message.content!, /fake mimic-1 model!/);
      assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } });
    }
  });

  test('a JPEG image whose data URL says image/jpg (browsers and many tools label it so; OpenAI reads it) reaches Claude as image/jpeg, which Anthropic requires', async () => {
    const completion = await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'data:image/JPG;base64,/9j/4AAQ' } },
    ] }] });
    assert.match(completion.choices[0]!.message.content!, /fake mimic-1 model!/);
    assert.deepEqual((lastUpstream().body!.messages as { content: unknown[] }[])[0]!.content[1], { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } });
  });

  test('an assistant turn that refused (the SDK\'s message sent back as it came: `refusal`, content null; or a refusal part) goes up as what the assistant said, not dropped', async () => {
    const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Pick this lock.' };
    const then: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Then explain how locks work.' };
    const said = [{ role: 'user', content: 'Pick this lock.' }, { role: 'assistant', content: [{ type: 'text', text: 'I can\'t help with that.' }] }, { role: 'user', content: 'Then explain how locks work.' }];
    for (const refused of [{ role: 'assistant', content: null, refusal: 'I can\'t help with that.' }, { role: 'assistant', content: [{ type: 'refusal', refusal: 'I can\'t help with that.' }] }] satisfies OpenAI.ChatCompletionAssistantMessageParam[]) {
      const completion = await openai.chat.completions.create({ model: 'claudeish:mimic-1', messages: [ask, refused, then] });
      assert.match(completion.choices[0]!.message.content!, /fake mimic-1 model!/);
      assert.deepEqual(lastUpstream().body!.messages, said);
    }
  });

  test('a streamed chat call reads the Messages stream as chunks, with the usage chunk when asked', async () => {
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of await openai.chat.completions.create({ model: 'claudeish:mimic-1', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream chat' }] })) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /fake mimic-1 model! You said: "stream chat"/);
    assert.equal(finish, 'stop');
    assert.equal(usage?.completion_tokens, FAKE_USAGE.output);
    assert.equal('stream_options' in lastUpstream().body!, false);
  });

  test('provider errors come back in OpenAI form with the status kept', async () => {
    await assert.rejects(openai.chat.completions.create({ model: 'claudeish:fail-400-x', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /the fake provider rejects this request/);
      assert.equal(e.requestID, 'req_fake1', 'Anthropic\'s request-id, under the header the OpenAI SDK reads');
      return true;
    });
  });
});

describe('translation: Gemini function names chat and Claude refuse (sqlite)', () => {
  let h: Harness;
  let ai: GoogleGenAI;
  before(async () => {
    h = await startHarness('sqlite');
    const ko = await h.providerKey('openai', 'sk-translate-openai');
    const ka = await h.providerKey('anthropic', 'sk-translate-anthropic');
    const token = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'openai', steps: [{ type: 'user', keys: [{ id: ko }] }] },
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
    ] } }))).token;
    ai = new GoogleGenAI({ apiKey: token, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl } });
  });
  after(async () => { await h.close(); });

  const lastUpstream = () => h.fake.requests.at(-1)!;
  /** The tool names the upstream was offered, in chat's shape or in Messages'. */
  const sentNames = () => (lastUpstream().body!.tools as { name?: string; function?: { name: string } }[]).map((t) => t.function?.name ?? t.name!);

  test('functions named with "." and ":" (Gemini allows them, OpenAI and Anthropic do not) reach GPT and Claude renamed; calls, buffered and streamed, and the next turn carry the client\'s names', async () => {
    const declaration = (name: string) => ({ name, description: 'Weather in a city', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ['city'] } });
    const current = 'weather.service:get_current';
    const forecast = 'weather.service:get.forecast';
    const tools = [{ functionDeclarations: [declaration(current), declaration(forecast)] }];
    const ask = { role: 'user', parts: [{ text: 'Weather in Paris?' }] };
    for (const model of ['openai:tool-weather', 'anthropic:tool-weather']) {
      const first = await ai.models.generateContent({ model, contents: [ask], config: { tools } });
      assert.deepEqual(first.functionCalls?.map((c) => [c.name, c.args]), [[current, { city: 'Paris' }]], model);
      const sent = sentNames();
      assert.ok(sent.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n)) && new Set(sent).size === 2, `${model}: ${sent.join(', ')}`);

      const streamed: FunctionCall[] = [];
      for await (const chunk of await ai.models.generateContentStream({ model, contents: [ask], config: { tools } })) streamed.push(...(chunk.functionCalls ?? []));
      assert.deepEqual(streamed.map((c) => c.name), [current], model);

      // Narrowed to one function and forced: that function's upstream name, and the call comes back as the client's.
      const forced = await ai.models.generateContent({ model, contents: [ask], config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: [forecast] } } } });
      assert.deepEqual(forced.functionCalls?.map((c) => c.name), [forecast], model);
      assert.deepEqual(sentNames(), [sent[1]]);

      // The next turn: the past call goes up under the name its tool was offered as, and is answered.
      const call = first.functionCalls![0]!;
      const second = await ai.models.generateContent({
        model, config: { tools },
        contents: [ask, first.candidates![0]!.content!, { role: 'user', parts: [{ functionResponse: { id: call.id!, name: call.name!, response: { output: 'Sunny' } } }] }],
      });
      assert.equal(second.functionCalls, undefined, model);
      assert.ok(JSON.stringify(lastUpstream().body!.messages).includes(`"${sent[0]}"`), model);
      assert.ok(!JSON.stringify(lastUpstream().body).includes(current), `${model}: the client's name never goes up`);
    }
  });

  test('a built-in tool\'s call and its output (toolCall, toolResponse) passed back as Google asks reach GPT and Claude as the conversation around them, not refused as parts holding no data', async () => {
    for (const model of ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5']) {
      const response = await ai.models.generateContent({ model, contents: [
        { role: 'user', parts: [{ text: 'Who won yesterday?' }] },
        { role: 'model', parts: [{ toolCall: { id: 'tc1', toolType: ToolType.GOOGLE_SEARCH_WEB, args: { queries: ['match result'] } } }] },
        { role: 'user', parts: [{ toolResponse: { id: 'tc1', toolType: ToolType.GOOGLE_SEARCH_WEB, response: { results: [] } } }] },
        { role: 'model', parts: [{ text: 'The home side.' }] },
        { role: 'user', parts: [{ text: 'By how much?' }] },
      ] });
      assert.equal(typeof response.text, 'string', model);
      assert.ok(JSON.stringify(lastUpstream().body!.messages).includes('By how much?'), model);
    }
  });

  test('Gemini\'s thinking on Claude: thinkingConfig turns Claude\'s thinking on, its thoughts come back as thought parts (includeThoughts), and the signature on the call carries the signed thinking into the next turn (buffered and streamed)', async () => {
    const model = 'anthropic:tool-think-weather';
    const config = { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } } } }] }], thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } };
    const ask = { role: 'user', parts: [{ text: 'Weather in Paris?' }] };
    const thought = FAKE_THINKING.text + FAKE_THINKING.more;
    for (const streamed of [false, true]) {
      const parts = [];
      if (streamed) for await (const chunk of await ai.models.generateContentStream({ model, contents: [ask], config })) parts.push(...chunk.candidates![0]!.content!.parts ?? []);
      else parts.push(...(await ai.models.generateContent({ model, contents: [ask], config })).candidates![0]!.content!.parts ?? []);
      assert.equal(parts.filter((p) => p.thought).map((p) => p.text).join(''), thought, `streamed: ${streamed}`);
      assert.deepEqual(lastUpstream().body!.thinking, { type: 'enabled', budget_tokens: 2048 });
      const call = parts.find((p) => p.functionCall)!;
      assert.equal(typeof call.thoughtSignature, 'string');
      // The model's turn as it came (the Gen AI SDK's chat session keeps it so), then the function's response.
      await ai.models.generateContent({ model, config, contents: [ask, { role: 'model', parts }, { role: 'user', parts: [{ functionResponse: { id: call.functionCall!.id!, name: 'get_weather', response: { output: 'Sunny' } } }] }] });
      const turn = (lastUpstream().body!.messages as { content: { type: string }[] }[])[1]!.content;
      assert.deepEqual([turn[0], turn.map((b) => b.type)], [{ type: 'thinking', thinking: thought, signature: FAKE_THINKING.signature }, ['thinking', 'tool_use']], `streamed: ${streamed}`);
    }
  });
});

describe('translation: the Anthropic SDK on a chat model that reasons (DeepSeek) (sqlite)', () => {
  let h: Harness;
  let anthropic: Anthropic;
  let openai: OpenAI;
  before(async () => {
    h = await startHarness('sqlite', (fakeUrl) => ({ TOLLGATE_PROVIDER_DEEPSEEK_BASE_URL: `${fakeUrl}/v1` }));
    const kd = await h.providerKey('deepseek', 'sk-translate-deepseek');
    const ka = await h.providerKey('anthropic', 'sk-translate-anthropic');
    const token = (await h.accessKey(await h.configuration({ router: { rules: [
      { provider: 'deepseek', steps: [{ type: 'user', keys: [{ id: kd }] }] },
      { provider: 'anthropic', steps: [{ type: 'user', keys: [{ id: ka }] }] },
    ] } }))).token;
    anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  test('DeepSeek V4 thinks unless told not to: Claude Code\'s thinking off, or OpenAI\'s reasoning_effort "none" (chat or Responses), reaches DeepSeek as its own switch; a model without the switch is not sent it', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'hi' }];
    await anthropic.messages.create({ model: 'deepseek:deepseek-v4-pro', max_tokens: 100, thinking: { type: 'disabled' }, messages });
    assert.deepEqual(h.fake.requests.at(-1)!.body!.thinking, { type: 'disabled' });
    await anthropic.messages.create({ model: 'deepseek:deepseek-v4-pro', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages });
    assert.deepEqual([h.fake.requests.at(-1)!.body!.thinking, h.fake.requests.at(-1)!.body!.reasoning_effort], [{ type: 'enabled' }, 'low']);
    await openai.chat.completions.create({ model: 'deepseek:deepseek-flash', reasoning_effort: 'none', messages: [{ role: 'user', content: 'hi' }] });
    let sent = h.fake.requests.at(-1)!.body!;
    assert.deepEqual([sent.thinking, sent.reasoning_effort], [{ type: 'disabled' }, undefined]);
    await openai.responses.create({ model: 'deepseek:deepseek-flash', reasoning: { effort: 'none' }, input: 'hi', store: false });
    sent = h.fake.requests.at(-1)!.body!;
    assert.deepEqual([h.fake.requests.at(-1)!.path, sent.thinking, sent.reasoning_effort], ['/v1/chat/completions', { type: 'disabled' }, undefined]);
    await anthropic.messages.create({ model: 'deepseek:deepseek-chat', max_tokens: 100, thinking: { type: 'disabled' }, messages });
    assert.equal(h.fake.requests.at(-1)!.body!.thinking, undefined);
  });

  test('DeepSeek V4 from the other formats: Gemini\'s thinkingBudget 0 turns its thinking off, a Gemini level is its effort, and Claude Code\'s /effort max stays max (DeepSeek\'s deepest), not OpenAI\'s high', async () => {
    const ai = new GoogleGenAI({ apiKey: anthropic.apiKey!, apiVersion: 'v1beta', httpOptions: { baseUrl: h.gatewayUrl } });
    const off = await ai.models.generateContent({ model: 'deepseek:deepseek-v4-pro', contents: 'hi', config: { thinkingConfig: { thinkingBudget: 0 } } });
    let sent = h.fake.requests.at(-1)!;
    assert.deepEqual([sent.path, sent.body!.thinking, sent.body!.reasoning_effort], ['/v1/chat/completions', { type: 'disabled' }, undefined]);
    assert.equal(off.sdkHttpResponse?.headers?.['ngrok-aig-removed-params'], undefined, 'the setting was honoured, not named removed');
    await ai.models.generateContent({ model: 'deepseek:deepseek-flash', contents: 'hi', config: { thinkingConfig: { thinkingLevel: ThinkingLevel.HIGH } } });
    sent = h.fake.requests.at(-1)!;
    assert.deepEqual([sent.body!.thinking, sent.body!.reasoning_effort], [undefined, 'high']);
    await anthropic.messages.create({ model: 'deepseek:deepseek-v4-pro', max_tokens: 100, thinking: { type: 'adaptive' }, output_config: { effort: 'max' }, messages: [{ role: 'user', content: 'hi' }] });
    sent = h.fake.requests.at(-1)!;
    assert.deepEqual([sent.body!.thinking, sent.body!.reasoning_effort], [{ type: 'enabled' }, 'max']);
  });

  test('reasoning_content comes back as thinking blocks before the call (JSON and streamed thinking_delta events), and sent back with the turn it goes up as reasoning_content, which DeepSeek requires in a thinking tool loop', async () => {
    const model = 'deepseek:tool-think-weather';
    const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
    const thought = FAKE_THINKING.text + FAKE_THINKING.more;
    for (const streamed of [false, true]) {
      let message: Anthropic.Message;
      let deltas = '';
      if (streamed) {
        const stream = anthropic.messages.stream({ model, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [WEATHER_TOOL], messages: [ask] });
        stream.on('thinking', (piece) => { deltas += piece; });
        message = await stream.finalMessage();
      } else {
        message = await anthropic.messages.create({ model, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [WEATHER_TOOL], messages: [ask] });
        deltas = thought;
      }
      assert.equal(deltas, thought, `streamed: ${streamed}`);
      assert.deepEqual(message.content.map((b) => b.type), ['thinking', 'tool_use'], `streamed: ${streamed}`);
      assert.deepEqual(message.content[0], { type: 'thinking', thinking: thought, signature: '' });
      const call = message.content[1] as Anthropic.ToolUseBlock;
      // The turn as it came, then the tool's result (the fake refuses a tool turn without its reasoning_content, as DeepSeek does).
      const next = await anthropic.messages.create({ model, max_tokens: 2000, tools: [WEATHER_TOOL], messages: [ask, { role: 'assistant', content: message.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny' }] }] });
      assert.match((next.content.find((b) => b.type === 'text') as Anthropic.TextBlock).text, /fake tool-think-weather model/);
      const turn = (h.fake.requests.at(-1)!.body!.messages as Record<string, unknown>[])[1]!;
      assert.deepEqual([turn.reasoning_content, turn.content], [thought, null], `streamed: ${streamed}: never as text`);
    }
  });

  test('a conversation DeepSeek began, failing over to Claude mid-tool-loop: the unsigned thinking Claude would refuse (any turn, as not its own) is dropped and named, and with it thinking on that turn; Claude answers instead of a 400', async () => {
    const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' };
    const first = await anthropic.messages.create({ model: 'deepseek:tool-think-weather', max_tokens: 2000, tools: [WEATHER_TOOL], messages: [ask] });
    assert.equal(first.content[0]!.type, 'thinking');
    const call = first.content.find((b) => b.type === 'tool_use')!;
    const history: Anthropic.MessageParam[] = [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny' }] }];
    // DeepSeek down: the request's own failover list goes on to Claude, thinking on.
    const models = ['deepseek:fail-503-x', 'anthropic:tool-think-weather'];
    const { data: next, response } = await anthropic.messages.create({ model: models[0]!, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [WEATHER_TOOL], messages: history, ...{ models } }).withResponse();
    assert.match((next.content.find((b) => b.type === 'text') as Anthropic.TextBlock).text, /fake tool-think-weather model/);
    assert.equal(response.headers.get('ngrok-aig-removed-params'), 'messages.thinking, thinking');
    const sent = h.fake.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages');
    assert.deepEqual([(sent.body!.messages as { content: { type: string }[] }[])[1]!.content.map((b) => b.type), sent.body!.thinking], [['tool_use'], undefined]);
    // The same history after the loop ended (a new user turn): only the blocks go; Claude thinks on the new turn.
    const { response: after } = await anthropic.messages.create({ model: 'anthropic:think-paris', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [WEATHER_TOOL], messages: [...history, { role: 'assistant', content: 'Sunny.' }, { role: 'user', content: 'Thanks' }] }).withResponse();
    assert.equal(after.headers.get('ngrok-aig-removed-params'), 'messages.thinking');
    assert.deepEqual(h.fake.requests.at(-1)!.body!.thinking, { type: 'enabled', budget_tokens: 1024 });
  });
});
