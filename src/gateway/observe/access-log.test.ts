// The fast access-line writer must produce exactly what pino's own `info(line, 'request')` writes, so log
// pipelines see one format whichever path wrote the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { BatchedLogDestination } from '../../config/log-destination.ts';
import { createLogger } from '../../config/logger.ts';
import { fastAccessWriter, truncate, type AccessLine } from './access-log.ts';

test('fastAccessWriter writes the same line as pino (time aside), escaping client-supplied text', async () => {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  const logger = createLogger('info', destination).child({ log: 'access' });
  const line: AccessLine = {
    requestId: 'rq_1', accessKeyId: 'aigk_1', accountId: 'acct_1', surface: 'chat-completions', streaming: true,
    modelAsked: 'gpt-"4o"\n\u2028', modelServed: 'openai:gpt-4o', provider: 'openai', keySource: 'user', attempts: 2,
    retryActions: 'next_key,succeeded', completion: 'succeeded', status: 200, clientGone: false, inputTokens: 3, outputTokens: 4, cacheReadTokens: 0,
    cacheWriteTokens: 0, reasoningTokens: 0, usageEstimated: false, costUsd: '0.00012', totalMs: 1.5, upstreamMs: 1.25, ttfbMs: 0.75,
  };
  logger.info(line, 'request');
  fastAccessWriter(logger)(line);
  fastAccessWriter(createLogger('warn', destination).child({ log: 'access' }))(line);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 2, 'a level above info writes nothing');
  const [viaPino, fast] = lines.map((l) => l.replace(/"time":\d+/, '"time":0'));
  assert.equal(fast, viaPino);
  assert.deepEqual(JSON.parse(fast!).modelAsked, line.modelAsked);
});

test('through the process\'s batched destination, the fast line is still byte for byte pino\'s (time aside)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tollgate-access-')), 'access.log');
  const fd = openSync(path, 'w');
  const destination = new BatchedLogDestination(fd);
  const logger = pino({ level: 'info', base: { service: 'tollgate' } }, destination).child({ log: 'access' });
  const line: AccessLine = {
    requestId: 'rq_2', accessKeyId: null, accountId: null, surface: 'messages', streaming: false, modelAsked: 'claude-"é"\u2028',
    modelServed: null, provider: null, keySource: null, attempts: 0, retryActions: '', completion: null, status: 401, errorCode: 'ERR_NGROK_3802',
    clientGone: false, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, usageEstimated: false,
    costUsd: '0.00000', totalMs: 0.5, upstreamMs: 0, ttfbMs: 0.5,
  };
  const write = fastAccessWriter(logger);
  for (let i = 0; i < 3; i++) {
    logger.info(line, 'request');
    write(line);
  }
  destination.close();
  closeSync(fd);
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/"time":\d+/, '"time":0'));
  assert.equal(lines.pop(), '', 'every line ends with its newline');
  assert.equal(lines.length, 6);
  for (let i = 0; i < 6; i += 2) assert.equal(lines[i + 1], lines[i]);
  assert.deepEqual(JSON.parse(lines[1]!).modelAsked, line.modelAsked);
});

test('a truncated value never ends in half an emoji: the cut stops a unit short, and the count says what was left out', () => {
  const text = `${'a'.repeat(9)}😀${'b'.repeat(10)}`;
  assert.equal(truncate(text, 10), `${'a'.repeat(9)}…[12 more]`);
  assert.equal(truncate(text, 11), `${'a'.repeat(9)}😀…[10 more]`);
  assert.equal(truncate('short', 10), 'short');
  assert.doesNotMatch(JSON.stringify(truncate(text, 10)), /\\ud83d/);
});
