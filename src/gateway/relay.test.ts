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
