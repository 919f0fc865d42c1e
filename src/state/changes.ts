// Every control-plane mutation is announced here: in-process listeners (the gateway's in-memory state)
// hear it at once, and a row in state_changes lets gateways in other processes replay it. On PostgreSQL the
// same statement also NOTIFYs, so gateways on other nodes poll at once instead of on their next tick.
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { storeNowIso } from '../store/state-changes.ts';

/**
 * The LISTEN/NOTIFY channel; the payload is the new row's seq. A notification arrives when its transaction commits,
 * so the row is readable then, however long after a higher seq it committed (gateway-state.ts reads it again).
 */
export const CHANGES_CHANNEL = 'tollgate_changes';

export type ChangeKind =
  | 'accessKey' | 'configuration' | 'providerKey' | 'provider' | 'virtualModel' | 'firewallPolicy' | 'mcpServer' | 'gatewayConfig' | 'credits' | 'apiKey' | 'account';

export interface Change { accountId: string; kind: ChangeKind; resourceId: string }

/** `seq` is the change's state_changes row, when it has one: a listener that also polls skips it there. */
export type ChangeListener = (change: Change, seq?: number) => void;

export class ChangeBus {
  readonly #listeners = new Set<ChangeListener>();
  readonly #db: Kysely<Database> | undefined;

  constructor(db?: Kysely<Database>) {
    this.#db = db;
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Records the change for other processes, then tells local listeners. */
  async publish(change: Change): Promise<void> {
    const seq = this.#db ? await this.#record(this.#db, change) : undefined;
    this.emitLocal(change, seq);
  }

  /**
   * Records `change` through `db`, which may be the mutation's own transaction: a committed mutation is then never
   * left unannounced (a crash or a lost connection between a commit and its announcement would leave other nodes
   * on the old state until their minute's resync). Local listeners are told with `emitLocal` after the commit.
   */
  async #record(db: Kysely<Database>, change: Change): Promise<number | undefined> {
    let seq: number | undefined;
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      // One statement: the notification is delivered exactly when the row becomes visible (at commit of the
      // statement's transaction, or of the mutation's when it runs inside it), never before it, never without it.
      const result = await sql<{ seq: string }>`WITH row AS (
          INSERT INTO state_changes (account_id, kind, resource_id, created_at)
          VALUES (${change.accountId}, ${change.kind}, ${change.resourceId}, ${storeNowIso(db)}) RETURNING seq)
        SELECT seq, pg_notify(${CHANGES_CHANNEL}, seq::text) FROM row`.execute(db);
      seq = result.rows[0] ? Number(result.rows[0].seq) : undefined;
    } else {
      const row = await db.insertInto('stateChanges')
        .values({ accountId: change.accountId, kind: change.kind, resourceId: change.resourceId, createdAt: new Date().toISOString() })
        .returning('seq').executeTakeFirst();
      seq = row ? Number(row.seq) : undefined;
    }
    return seq;
  }

  /**
   * Records `changes` through `trx`, the mutation's own transaction, and returns what tells local listeners once
   * that transaction committed: call it after the commit.
   */
  async recordAll(trx: Kysely<Database>, changes: readonly Change[]): Promise<() => void> {
    const seqs: (number | undefined)[] = [];
    for (const change of changes) seqs.push(await this.#record(trx, change));
    return () => { for (let i = 0; i < changes.length; i++) this.emitLocal(changes[i]!, seqs[i]); };
  }

  emitLocal(change: Change, seq?: number): void {
    for (const listener of this.#listeners) listener(change, seq);
  }
}
