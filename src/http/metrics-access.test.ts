import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { metricsAccess } from './metrics-access.ts';

const from = (remoteAddress: string, authorization?: string, extra: Record<string, string> = {}) =>
  ({ socket: { remoteAddress }, headers: { ...extra, ...(authorization === undefined ? {} : { authorization }) } }) as unknown as IncomingMessage;

test('without a token only this machine may read /metrics; with one, whoever sends it', () => {
  for (const local of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(metricsAccess(from(local), undefined), 'allowed', local);
  for (const remote of ['10.0.0.5', '192.168.1.9', '::ffff:10.0.0.5', '2001:db8::1']) assert.equal(metricsAccess(from(remote), undefined), 'forbidden', remote);
  // Through a reverse proxy on this machine every client looks local: a forwarding header gives it away.
  for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) assert.equal(metricsAccess(from('127.0.0.1', undefined, { [header]: '203.0.113.9' }), undefined), 'forbidden', header);
  assert.equal(metricsAccess(from('10.0.0.5', 'Bearer s3cret'), 's3cret'), 'allowed');
  for (const header of [undefined, 'Bearer wrong!', 'Bearer s3cre', 'Basic s3cret', 's3cret']) {
    assert.equal(metricsAccess(from('127.0.0.1', header), 's3cret'), 'unauthorized', String(header));
  }
});
