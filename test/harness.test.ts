// The test harness itself: a harness that cannot start fails its test and leaves nothing open behind it — a fake
// provider still listening would keep the test process from ever ending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startHarness } from './helpers/gateway.ts';

/** Listening servers and open sockets of this process (the fake provider is one, each connection another). */
const open = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;

/** What is open once closing sockets are gone (a refused connection's socket is destroyed a tick later): within 2 s. */
async function openAfterClosing(before: number): Promise<number> {
  const deadline = Date.now() + 2000;
  while (open() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return open();
}

test('startHarness(\'postgres\') without PostgreSQL fails fast and leaves nothing listening', async () => {
  const saved = process.env.TOLLGATE_TEST_PG_URL;
  const before = open();
  try {
    delete process.env.TOLLGATE_TEST_PG_URL;
    await assert.rejects(startHarness('postgres'), /TOLLGATE_TEST_PG_URL is not set/);
    // A URL where no PostgreSQL listens: port 1 refuses at once.
    process.env.TOLLGATE_TEST_PG_URL = 'postgres://tollgate@127.0.0.1:1/postgres';
    await assert.rejects(startHarness('postgres'), (e: unknown) => (e as { code?: string }).code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(e)));
  } finally {
    if (saved === undefined) delete process.env.TOLLGATE_TEST_PG_URL;
    else process.env.TOLLGATE_TEST_PG_URL = saved;
  }
  assert.equal(await openAfterClosing(before), before, 'no server or socket left open');
});

test('a harness whose Tollgate fails to start (its port taken) closes the fake provider it opened', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const before = open();
  try {
    await assert.rejects(startHarness('sqlite', { TOLLGATE_API_PORT: String((taken.address() as AddressInfo).port), TOLLGATE_HOST: '127.0.0.1' }));
    assert.equal(await openAfterClosing(before), before, 'no server or socket left open');
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
});
