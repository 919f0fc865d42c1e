// The state-change listener's check that it hears what others send (src/state/pg-listener.ts). Through PgBouncer in
// transaction mode it hears nothing (test/postgres-pooler.test.ts); here a probe that sends nothing plays the pooler,
// so a direct connection can be made deaf and cured across reconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase } from './helpers/stores.ts';
import { PgChangeListener } from '../src/state/pg-listener.ts';
import { until } from './helpers/processes.ts';

interface Probed {
  listener: PgChangeListener;
  /** Another session on the database. */
  other: pg.Client;
  /** The listener's log lines with this message. */
  said(msg: string): number;
  /** The deaf listener's warnings. */
  warnings(): { level: number; msg: string }[];
  /** Whether the probe's NOTIFY is sent (a direct connection) or not (as if through a transaction pooler). */
  deliver(on: boolean): void;
  /** Probes sent so far, the last one's channel and payload. */
  probes: { channel: string; payload: string }[];
}

/** `delivered`: whether the first probes are sent (see Probed.deliver). */
async function withListener(probeTimeoutMs: number, delivered: boolean, use: (p: Probed) => Promise<void>): Promise<void> {
  const database = await createTestDatabase('postgres');
  const other = new pg.Client({ connectionString: database.url });
  await other.connect();
  const log: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { log.push(JSON.parse(line) as { level: number; msg: string }); } });
  const probes: { channel: string; payload: string }[] = [];
  const listener = new PgChangeListener({
    connectionString: database.url, channel: 'tollgate_changes', logger, onNotify: () => {}, onConnect: () => {}, onDisconnect: () => {},
    probe: async (channel, payload) => {
      probes.push({ channel, payload });
      if (delivered) await other.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    probeTimeoutMs,
  });
  try {
    await listener.start();
    await use({
      listener, other, probes,
      said: (msg) => log.filter((line) => line.msg === msg).length,
      warnings: () => log.filter((line) => line.level === 40 && /hears no notifications/.test(line.msg)),
      deliver: (on) => { delivered = on; },
    });
  } finally {
    await listener.close();
    await other.end();
    await database.drop();
  }
}

test('postgres: the listener checks it hears a NOTIFY sent over another connection, says once when it does not, and checks again after each reconnect', () => withListener(2000, true, async ({ listener, other, said, warnings, deliver, probes }) => {
  const listening = async () => (await other.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'tollgate-listen' AND datname = current_database()`)).rows.map((r) => r.pid);
  /** Kills the listening session and waits for the listener's next one. */
  const reconnect = async () => {
    const [old] = await listening();
    assert.ok(old, 'a listening session');
    await other.query('SELECT pg_terminate_backend($1)', [old]);
    await until(10_000, async () => (await listening()).some((pid) => pid !== old) && listener.healthy, 'a new listening session');
  };
  await until(10_000, async () => said('state-change listener hears notifications') === 1, 'the probe heard on a direct connection');
  assert.equal(listener.deaf, false);
  assert.deepEqual(warnings(), []);

  // A listener that stops hearing (reconnected through a transaction pooler) is noticed at its reconnect.
  deliver(false);
  await reconnect();
  await until(10_000, async () => listener.deaf, 'the deaf listener noticed');
  assert.equal(warnings().length, 1);
  assert.match(warnings()[0]!.msg, /TOLLGATE_DATABASE_LISTEN_URL/);

  // Still deaf after another reconnect: checked again, and no second warning.
  const before = probes.length;
  await reconnect();
  await until(10_000, async () => probes.length > before && said('state-change listener still hears no notifications') === 1, 'checked again after the reconnect');
  assert.equal(listener.deaf, true);
  assert.equal(warnings().length, 1, 'one warning');

  // Cured (TOLLGATE_DATABASE_LISTEN_URL set, the pooler in session mode): said at the next reconnect.
  deliver(true);
  await reconnect();
  await until(10_000, async () => said('state-change listener hears notifications again') === 1, 'the listener hears again');
  assert.equal(listener.deaf, false);
  assert.equal(warnings().length, 1);
}));

test('postgres: a probe heard after its timeout (a stalled database) still shows the listener hears', () => withListener(200, false, async ({ listener, other, said, probes }) => {
  await until(10_000, async () => listener.deaf, 'called deaf');
  const last = probes.at(-1)!;
  await other.query('SELECT pg_notify($1, $2)', [last.channel, last.payload]);
  await until(10_000, async () => !listener.deaf && said('state-change listener hears notifications again') === 1, 'hearing again');
}));
