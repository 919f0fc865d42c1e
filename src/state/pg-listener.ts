// One dedicated PostgreSQL connection that LISTENs for state changes (a pooled connection cannot: LISTEN
// belongs to a session). It only wakes the gateway up; what changed is always read from state_changes, so
// a lost notification costs latency (until the next safety-net poll), never correctness.
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
}

export class PgChangeListener {
  readonly #o: PgListenerOptions;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #heartbeatMs: number;
  #client: pg.Client | undefined;
  #healthy = false;
  #closed = false;
  #backoff: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #reportedDown = false;

  constructor(options: PgListenerOptions) {
    this.#o = options;
    this.#minBackoff = options.minBackoffMs ?? 100;
    this.#maxBackoff = options.maxBackoffMs ?? 5_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#backoff = this.#minBackoff;
  }

  /** True while LISTEN is in place on a live connection. */
  get healthy(): boolean {
    return this.#healthy;
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
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#o.channel)}`);
    } catch (error) {
      this.#lost(client, error);
      return;
    }
    if (this.#closed || this.#client !== client) return;
    this.#healthy = true;
    this.#backoff = this.#minBackoff;
    if (this.#reportedDown) this.#o.logger.info('listening for state changes again');
    this.#reportedDown = false;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => this.#lost(client, error));
    }, this.#heartbeatMs).unref();
    this.#o.onConnect();
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    this.#healthy = false;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
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
