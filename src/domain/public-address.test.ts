import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { isNonPublicHost, publicOnlyLookup, type Lookup } from './public-address.ts';

describe('public addresses', () => {
  it('refuses loopback, private, link-local, metadata, reserved and the IPv6 forms embedding them', () => {
    for (const host of [
      'localhost', 'api.localhost', '127.0.0.1', '10.1.2.3', '172.31.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '198.18.0.1', '224.0.0.1', '255.255.255.255', '192.0.2.1', '[::1]', '[::]', '[::127.0.0.1]',
      '[::ffff:127.0.0.1]', '[::ffff:a9fe:a9fe]', '[64:ff9b::a9fe:a9fe]', '[2002:7f00:1::]', '[2001:0:4136:e378::1]',
      '[fc00::1]', '[fd12::1]', '[fe80::1]', '[fec0::1]', '[ff02::1]', '[2001:db8::1]',
    ]) assert.equal(isNonPublicHost(host), true, host);
    // NAT64 (DNS64 on IPv6-only hosts): judged by the IPv4 address inside.
    for (const host of ['[64:ff9b::7f00:1]', '[64:ff9b::10.0.0.1]', '[64:ff9b::169.254.169.254]']) assert.equal(isNonPublicHost(host), true, host);
    for (const host of ['8.8.8.8', '1.1.1.1', '[2606:4700:4700::1111]', '[::ffff:8.8.8.8]', 'api.openai.com', 'localhost.example.com', '[64:ff9b::808:808]', '[64:ff9b::8.8.4.4]']) {
      assert.equal(isNonPublicHost(host), false, host);
    }
  });

  it('takes IPv6 as public only in the global unicast space (2000::/3), outside its special ranges', () => {
    // Not globally routed, so nothing a tenant may reach: what they lead to is up to the operator's network (a
    // SIIT translator maps `::ffff:0:a.b.c.d` to the IPv4 address inside).
    for (const host of [
      '[::ffff:0:7f00:1]', '[::ffff:0:a9fe:a9fe]', '[::1:0:0:1]', '[100:0:0:1::1]', '[4000::1]', '[5f00::1]', '[fb00::1]',
      '[3fff::1]', '[3fff:fff::1]',
    ]) assert.equal(isNonPublicHost(host), true, host);
    for (const host of ['[2001:4860:4860::8888]', '[2a00:1450:4001::1]', '[::ffff:1.1.1.1]']) assert.equal(isNonPublicHost(host), false, host);
  });

  it('checks every address a name resolves to at connect time', async () => {
    const answers: Record<string, LookupAddress[]> = {
      'public.example': [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::', family: 6 }],
      'mixed.example': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }],
      'metadata.example': [{ address: '169.254.169.254', family: 4 }],
    };
    const resolve: Lookup = (hostname, _options, callback) => callback(null, answers[hostname] ?? []);
    const lookup = publicOnlyLookup(resolve);
    const run = (hostname: string, all: boolean) => new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((done) =>
      lookup(hostname, { all }, (error, address) => done({ error, address })));
    assert.equal((await run('public.example', false)).address, '93.184.216.34');
    assert.deepEqual((await run('public.example', true)).address, answers['public.example']);
    for (const name of ['mixed.example', 'metadata.example']) {
      const { error } = await run(name, false);
      assert.equal(error?.code, 'ERR_TOLLGATE_NON_PUBLIC_ADDRESS', name);
      assert.match(error!.message, /not a public address/);
    }
    assert.equal((await run('nothing.example', false)).error?.code, 'ENOTFOUND');
  });
});
