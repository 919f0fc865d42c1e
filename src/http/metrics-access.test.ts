import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { metricsAccess } from './metrics-access.ts';

const from = (remoteAddress: string, authorization?: string, extra: Record<string, string> = {}) =>
  ({ socket: { remoteAddress }, headers: { ...extra, ...(authorization === undefined ? {} : { authorization }) } }) as unknown as IncomingMessage;

test('without a token only this machine may read /metrics; with one, whoever sends it', () => {
  for (const local of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(metricsAccess(from(local), undefined), 'allowed', local);
  for (const remote of ['10.0.0.5', '192.168.1.9', '::ffff:10.0.0.5', '2001:db8::1']) assert.equal(metricsAccess(from(remote), undefined), 'forbidden', remote);
  // Through a reverse proxy on this machine every client looks local: a forwarding header gives it away.
  for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) assert.equal(metricsAccess(from('127.0.0.1', undefined, { [header]: '203.0.113.9' }), undefined), 'forbidden', header);
  // A browser page whose domain was rebound to 127.0.0.1 sends that domain as Host; a local scraper names the machine.
  for (const host of ['127.0.0.1:8081', '[::1]:8081', 'localhost:8081', 'LOCALHOST', 'prom.localhost:8081', `${hostname()}:8081`, undefined]) {
    assert.equal(metricsAccess(from('127.0.0.1', undefined, host === undefined ? {} : { host }), undefined), 'allowed', String(host));
  }
  for (const host of ['attacker.example:8081', 'attacker.example', `${hostname()}.attacker.example`, 'localhost.attacker.example']) {
    assert.equal(metricsAccess(from('127.0.0.1', undefined, { host }), undefined), 'forbidden', host);
  }
  // With a token the scraper proves itself, whatever name it uses.
  assert.equal(metricsAccess(from('10.0.0.5', 'Bearer s3cret', { host: 'metrics.example.com' }), 's3cret'), 'allowed');
  assert.equal(metricsAccess(from('10.0.0.5', 'Bearer s3cret'), 's3cret'), 'allowed');
  for (const header of [undefined, 'Bearer wrong!', 'Bearer s3cre', 'Basic s3cret', 's3cret']) {
    assert.equal(metricsAccess(from('127.0.0.1', header), 's3cret'), 'unauthorized', String(header));
  }
});
