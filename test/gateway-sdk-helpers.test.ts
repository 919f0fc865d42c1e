// The official SDKs' helpers that users reach for beyond create(): the structured-output parsers (OpenAI's
// chat.completions.parse and stream, responses.parse; Anthropic's messages.parse) and the tool loops (OpenAI's
// runTools, Anthropic's toolRunner), native and translated, answered and metered through the gateway. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { zodResponseFormat, zodTextFormat } from 'openai/helpers/zod';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import { z } from 'zod';
import { startHarness, type Harness } from './helpers/gateway.ts';
import { FAKE_USAGE } from './fake-upstream.ts';

const Weather = z.object({ city: z.string(), sky: z.enum(['sunny', 'rainy']), highs: z.array(z.number()) });
/** What the fake model answers under Weather's schema: its usual words in each string. */
const weatherFrom = (model: string) => ({ city: `Hello from the fake ${model} model! You said: "weather in Paris".`, sky: 'sunny', highs: [42] });
const asked = [{ role: 'user' as const, content: 'weather in Paris' }];

describe('the SDKs\' helpers through the gateway (sqlite)', () => {
  let h: Harness, openai: OpenAI, anthropic: Anthropic;
  before(async () => {
    h = await startHarness('sqlite');
    // The account's own keys (default routing uses them): the fake's scripted models are not in the catalog.
    await h.providerKey('openai', 'sk-helpers-openai');
    await h.providerKey('anthropic', 'sk-helpers-anthropic');
    const { token } = await h.accessKey();
    openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: h.gatewayUrl, apiKey: token, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  const upstreamPath = () => h.fake.requests.at(-1)!.path;

  test('structured output: the parse helpers read the answer as the schema\'s object, from the model\'s own API and translated; billed as the provider counted', async () => {
    // GPT answers chat and Responses itself; Claude is asked over Messages (its JSON outputs): both translated.
    for (const [model, via] of [['gpt-4o', '/v1/chat/completions'], ['claude-sonnet-4-6', '/v1/messages']] as const) {
      const chat = await openai.chat.completions.parse({ model, messages: asked, response_format: zodResponseFormat(Weather, 'weather') });
      assert.deepEqual([chat.choices[0]!.message.parsed, upstreamPath()], [weatherFrom(model), via]);
      const streamed = await openai.chat.completions.stream({ model, messages: asked, response_format: zodResponseFormat(Weather, 'weather') }).finalChatCompletion();
      assert.deepEqual(streamed.choices[0]!.message.parsed, weatherFrom(model));
      const response = await openai.responses.parse({ model, input: asked, text: { format: zodTextFormat(Weather, 'weather') } });
      assert.deepEqual([response.output_parsed, upstreamPath()], [weatherFrom(model), model === 'gpt-4o' ? '/v1/responses' : via]);
    }
    for (const [model, via] of [['claude-sonnet-4-6', '/v1/messages'], ['gpt-4o', '/v1/chat/completions']] as const) {
      const message = await anthropic.messages.parse({ model, max_tokens: 200, messages: asked, output_config: { format: zodOutputFormat(Weather) } });
      assert.deepEqual([message.parsed_output, upstreamPath()], [weatherFrom(model), via]);
      const stream = anthropic.messages.stream({ model, max_tokens: 200, messages: asked, output_config: { format: zodOutputFormat(Weather) } });
      assert.deepEqual((await stream.finalMessage()).parsed_output, weatherFrom(model));
      const [row] = await h.usage((await stream.withResponse()).response.headers.get('ngrok-aig-request-id')!, 1);
      assert.deepEqual([Number(row!.outputTokens), row!.completion], [FAKE_USAGE.output, 'succeeded']);
    }
  });

  test('tool loops: OpenAI\'s runTools and Anthropic\'s toolRunner (its message thread replayed where the model holds none) run the tool and send its result up', async () => {
    const runner = openai.chat.completions.runTools({
      model: 'openai:tool-weather', stream: true, messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, parse: JSON.parse, function: (a: { city: string }) => `sunny in ${a.city}` } }],
    });
    assert.match(await runner.finalContent() ?? '', /fake tool-weather model/);
    assert.deepEqual((h.fake.requests.at(-1)!.body!.messages as unknown[]).at(-1), { role: 'tool', tool_call_id: 'call_fake1', content: 'sunny in Paris' });

    // The runner continues a message thread Anthropic would hold; a chat model holds none, so the gateway answers
    // thread_not_found and the SDK sends the whole conversation again.
    const sent = h.fake.requests.length;
    const tools = anthropic.beta.messages.toolRunner({
      model: 'openai:tool-weather', max_tokens: 100, messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, run: async (input: { city?: string }) => `sunny in ${input.city}` }],
    });
    const final = await tools.runUntilDone();
    assert.match((final.content[0] as Anthropic.Beta.BetaTextBlock).text, /fake tool-weather model/);
    const upstream = h.fake.requests.slice(sent);
    assert.equal(upstream.length, 2);
    assert.deepEqual((upstream[1]!.body!.messages as unknown[]).at(-1), { role: 'tool', tool_call_id: 'call_fake1', content: 'sunny in Paris' });
  });
});
