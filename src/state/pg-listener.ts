// One dedicated PostgreSQL connection that LISTENs for state changes (a pooled connection cannot: LISTEN
// belongs to a session). It only wakes the gateway up; what changed is always read from state_changes, so
// a lost notification costs latency (until the next safety-net poll), never correctness.
// Through a transaction pooler (PgBouncer) LISTEN succeeds and nothing ever arrives: the LISTEN stays on a server
// connection the pooler hands to other clients, whose queries get its notifications (or it drops them while idle).
// So once listening, the listener checks that it hears a NOTIFY sent over another connection (`probe`), and says so
// when it does not. Not over its own: through the pooler that one may run on the listening server connection, and
// a session hears its own NOTIFY.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';

export interface PgListenerOptions {
  connectionString: string;
  channel: string;
  logger: Logger;
  /** A notification arrived (bursts are the caller's to coalesce). */
  /** `payload`: the notification's text (the state change's seq). */
  onNotify: (payload: string | undefined) => void;
  /** LISTEN is (again) in place: anything committed while it was not must be read now. */
  onConnect: () => void;
  /** The connection dropped; the caller polls faster until onConnect. */
  onDisconnect: () => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A `SELECT 1` on the listening connection this often, so a silently dead socket is noticed. */
  heartbeatMs?: number;
  /**
   * Sends `pg_notify(channel, payload)` over another connection (the store's pool), committed when it resolves: what
   * the listener must then hear. Without it the listener takes its LISTEN on trust.
   */
  probe?: (channel: string, payload: string) => Promise<void>;
  /** How long a probe's notification may take to arrive before the listener is called deaf (default 5 s). */
  probeTimeoutMs?: number;
}

/** The remedy the deaf listener's warning names (docs/operations.md, "Connection poolers"). */
const DEAF_WARNING = 'state-change listener hears no notifications: LISTEN through a transaction pooler (PgBouncer in transaction mode) succeeds but receives nothing, so this gateway sees other processes\' changes only through its 2-second poll. Set TOLLGATE_DATABASE_LISTEN_URL to a direct or session-mode connection';

interface ProbeCheck {
  client: pg.Client;
  payload: string;
  timer?: NodeJS.Timeout;
}

export class PgChangeListener {
  readonly #o: PgListenerOptions;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #heartbeatMs: number;
  readonly #probeTimeoutMs: number;
  /** Per process: no other gateway wakes up for this one's probes, and none of theirs is mistaken for this one's. */
  readonly #probeChannel = `tollgate_probe_${randomBytes(8).toString('hex')}`;
  #client: pg.Client | undefined;
  #healthy = false;
  #closed = false;
  #backoff: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #reportedDown = false;
  /** The probe under way on the current connection. */
  #check: ProbeCheck | undefined;
  /** Whether a probe on the current connection came to a conclusion (heard, or not in time). */
  #checked = false;
  #deaf = false;

  constructor(options: PgListenerOptions) {
    this.#o = options;
    this.#minBackoff = options.minBackoffMs ?? 100;
    this.#maxBackoff = options.maxBackoffMs ?? 5_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
    this.#backoff = this.#minBackoff;
  }

  /** True while LISTEN is in place on a live connection. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /**
   * True when the last probe's notification did not arrive in time: LISTEN is in place and hears nothing (a transaction
   * pooler). Checked again on each reconnect.
   */
  get deaf(): boolean {
    return this.#deaf;
  }

  /** Resolves after the first attempt, connected or not (later attempts retry in the background). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#healthy = false;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#endCheck();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#o.connectionString,
      application_name: 'tollgate-listen',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
    });
    this.#client = client;
    // Either event can come first (or alone) when the server goes away; #lost runs once per client.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.#o.channel) this.#o.onNotify(message.payload);
      else if (message.channel === this.#probeChannel) this.#heard(client, message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#o.channel)}`);
      if (this.#o.probe) await client.query(`LISTEN ${pg.escapeIdentifier(this.#probeChannel)}`);
    } catch (error) {
      this.#lost(client, error);
      return;
    }
    if (this.#closed || this.#client !== client) return;
    this.#healthy = true;
    this.#backoff = this.#minBackoff;
    if (this.#reportedDown) this.#o.logger.info('listening for state changes again');
    this.#reportedDown = false;
    this.#checked = false;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => this.#lost(client, error));
      // A probe the store failed to send taught nothing: tried again.
      if (!this.#checked && !this.#check) void this.#verify(client);
    }, this.#heartbeatMs).unref();
    this.#o.onConnect();
    void this.#verify(client);
  }

  /** NOTIFYs this listener's probe channel over the store's pool; hearing it within probeTimeoutMs settles #deaf. */
  async #verify(client: pg.Client): Promise<void> {
    const probe = this.#o.probe;
    if (!probe || this.#client !== client) return;
    const check: ProbeCheck = { client, payload: randomBytes(8).toString('hex') };
    this.#check = check;
    try {
      await probe(this.#probeChannel, check.payload);
    } catch (error) {
      if (this.#check === check) this.#check = undefined;
      this.#o.logger.debug({ err: error instanceof Error ? { message: error.message } : String(error) }, 'state-change listener could not send its probe; trying again later');
      return;
    }
    // Heard already (a direct connection may deliver it before the sender has its answer), or the connection went.
    if (this.#check !== check) return;
    // The check stays: a notification arriving after the timeout (a database or event loop stalled that long) still
    // shows that the listener hears.
    check.timer = setTimeout(() => {
      if (this.#check !== check) return;
      this.#checked = true;
      if (this.#deaf) this.#o.logger.debug('state-change listener still hears no notifications');
      else this.#o.logger.warn({ waitedMs: this.#probeTimeoutMs }, DEAF_WARNING);
      this.#deaf = true;
    }, this.#probeTimeoutMs);
    check.timer.unref();
  }

  #heard(client: pg.Client, payload: string | undefined): void {
    const check = this.#check;
    if (!check || check.client !== client || check.payload !== payload) return;
    this.#endCheck();
    this.#checked = true;
    if (this.#deaf) this.#o.logger.info('state-change listener hears notifications again');
    else this.#o.logger.debug('state-change listener hears notifications');
    this.#deaf = false;
  }

  #endCheck(): void {
    if (this.#check?.timer) clearTimeout(this.#check.timer);
    this.#check = undefined;
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    this.#healthy = false;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#endCheck();
    // end() on a broken socket may never settle; nothing waits for it.
    client.removeAllListeners('notification');
    client.on('error', () => {});
    void client.end().catch(() => {});
    if (!this.#reportedDown) {
      this.#reportedDown = true;
      this.#o.logger.warn({ err: error instanceof Error ? { message: error.message } : String(error) }, 'state-change listener lost its connection; polling faster while reconnecting');
    }
    this.#o.onDisconnect();
    // Jittered exponential backoff, so N gateways do not reconnect in lockstep after a database restart.
    const delay = Math.round(this.#backoff * (0.5 + Math.random() / 2));
    this.#backoff = Math.min(this.#maxBackoff, this.#backoff * 2);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }
}
