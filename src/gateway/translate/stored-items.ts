// Output items of translated Responses answers, kept a while per account. A client that lets OpenAI store its
// conversation (the Vercel AI SDK's default `store: true`) sends earlier output back as `item_reference`s, which
// only the server that answered can resolve: for a translated answer, that is this process. In memory, bounded
// in count, bytes and age; a reference it cannot resolve (evicted, or answered by another node) makes the
// request untranslatable (docs/decisions/translation.md).

type Json = Record<string, unknown>;

interface Kept { accountId: string; item: Json; bytes: number; at: number }

export class StoredItems {
  readonly #items = new Map<string, Kept>();
  #bytes = 0;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;

  constructor(maxItems = 20_000, maxBytes = 32 * 1024 * 1024, maxAgeMs = 60 * 60 * 1000) {
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
  }

  put(accountId: string, item: Json): void {
    const id = item.id;
    if (typeof id !== 'string') return;
    this.#drop(id);
    const bytes = JSON.stringify(item).length;
    if (bytes > this.#maxBytes) return;
    this.#items.set(id, { accountId, item, bytes, at: Date.now() });
    this.#bytes += bytes;
    // Oldest first: a Map iterates in insertion order.
    for (const [oldest] of this.#items) {
      if (this.#items.size <= this.#maxItems && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
  }

  /** The item, when this account's answer produced it within the age limit. */
  get(accountId: string, id: string): Json | undefined {
    const kept = this.#items.get(id);
    if (!kept || kept.accountId !== accountId) return undefined;
    if (Date.now() - kept.at > this.#maxAgeMs) {
      this.#drop(id);
      return undefined;
    }
    return kept.item;
  }

  #drop(id: string): void {
    const kept = this.#items.get(id);
    if (!kept) return;
    this.#items.delete(id);
    this.#bytes -= kept.bytes;
  }
}

/** The process's store (both planes share one process per node; references are per node). */
export const storedItems = new StoredItems();

/** The `item_reference` ids of a Responses request's input. */
export function itemReferences(input: unknown): string[] {
  if (!Array.isArray(input)) return [];
  const ids: string[] = [];
  for (const item of input) {
    const i = item !== null && typeof item === 'object' ? (item as Json) : undefined;
    if (i?.type === 'item_reference' && typeof i.id === 'string') ids.push(i.id);
  }
  return ids;
}
