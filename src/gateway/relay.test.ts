import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestContext } from './context.ts';
import { answerHeaders } from './relay.ts';

const context = (format: 'openai' | 'anthropic') => ({ requestId: 'tg-req-1', route: { format } }) as unknown as RequestContext;

test('a translated answer never carries the provider\'s content-encoding: the bytes are the gateway\'s own', () => {
  // `compress` is a coding the exchange does not decode: a body passed through keeps it for the client to decode.
  const upstream = { 'content-type': 'text/html', 'content-encoding': 'compress', 'x-request-id': 'req_up' };
  const passed = answerHeaders(context('openai'), { ...upstream }, 1, 'gpt-4o', [], false);
  assert.equal(passed['content-encoding'], 'compress');
  for (const translated of ['json', 'stream'] as const) {
    const headers = answerHeaders(context('anthropic'), { ...upstream }, 1, 'gpt-4o', [], false, translated);
    assert.equal(headers['content-encoding'], undefined, translated);
    // The provider's id under the name the Anthropic SDK reads.
    assert.equal(headers['request-id'], 'req_up');
  }
  assert.equal(answerHeaders(context('anthropic'), { ...upstream }, 1, 'gpt-4o', [], false, 'json')['content-type'], 'application/json');
});

test('the request id the client\'s SDK reads: the provider\'s own when it sent one, else the gateway\'s', () => {
  const openaiAnswer = answerHeaders(context('openai'), { 'x-request-id': 'req_up' }, 1, 'gpt-4o', [], false);
  assert.deepEqual([openaiAnswer['x-request-id'], openaiAnswer['request-id']], ['req_up', undefined]);
  const anthropicAnswer = answerHeaders(context('anthropic'), { 'request-id': 'req_ant' }, 1, 'claude-haiku-4-5', [], false);
  assert.deepEqual([anthropicAnswer['request-id'], anthropicAnswer['x-request-id']], ['req_ant', undefined]);
  // A server that names none (Ollama, vLLM): the gateway's id, under the name each SDK reads.
  assert.equal(answerHeaders(context('openai'), {}, 1, 'llama3.2', [], false)['x-request-id'], 'tg-req-1');
  assert.equal(answerHeaders(context('anthropic'), {}, 1, 'llama3.2', [], false)['request-id'], 'tg-req-1');
});
