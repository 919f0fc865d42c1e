// API keys' `lastUsed`: each authenticated control-plane call records the time in memory; the times are
// written in one batch every `flushMs` (15 s by default) and when the app closes, never per request.
// A failed write keeps the times for the next flush unless a newer use was recorded meanwhile.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import { writeLastUsedOf } from '../store/last-used.ts';

export class ApiKeyUsage {
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #pending = new Map<string, string>();
  #flushing: Promise<void> = Promise.resolve();
  #failing = false;

  constructor(db: Kysely<Database>, logger: Logger, flushMs = 15_000) {
    this.#db = db;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  /** Records that `apiKeyId` authenticated a call now. */
  mark(apiKeyId: string): void {
    this.#pending.set(apiKeyId, new Date().toISOString());
  }

  /** Writes the pending times now; resolves once they (and any flush already running) are in the store. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    try {
      await writeLastUsedOf(this.#db, 'apiKeys', batch);
      this.#failing = false;
    } catch (error) {
      for (const [id, at] of batch) if (!this.#pending.has(id)) this.#pending.set(id, at);
      // The first failure of a streak only, so a database outage does not flood the log.
      if (!this.#failing) this.#logger.error({ err: error instanceof Error ? { message: error.message } : String(error) }, 'writing API keys\' lastUsed failed');
      this.#failing = true;
    }
  }
}
