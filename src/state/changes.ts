// Every control-plane mutation is announced here: in-process listeners (the gateway's in-memory state)
// hear it at once, and a row in state_changes lets gateways in other processes replay it.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

export type ChangeKind =
  | 'accessKey' | 'configuration' | 'providerKey' | 'provider' | 'gatewayConfig' | 'credits' | 'apiKey' | 'account';

export interface Change { accountId: string; kind: ChangeKind; resourceId: string }

export type ChangeListener = (change: Change) => void;

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
    if (this.#db) {
      await this.#db.insertInto('stateChanges')
        .values({ accountId: change.accountId, kind: change.kind, resourceId: change.resourceId, createdAt: new Date().toISOString() })
        .execute();
    }
    this.emitLocal(change);
  }

  emitLocal(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }
}
