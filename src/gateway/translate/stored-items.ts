// Output items of translated Responses answers, kept a while per account. A client that lets OpenAI store its
// conversation (the Vercel AI SDK's default `store: true`) sends earlier output back as `item_reference`s, which
// only the server that answered can resolve: for a translated answer, that is this process. In memory, bounded
// in count (in all, and per account), bytes and age; a reference it cannot resolve (evicted, or answered by
// another node) makes the request untranslatable (docs/decisions/translation.md).

import { obj } from '../formats/types.ts';
import { objects, type Json } from './json.ts';
import { isItemReference } from '../../domain/stored-state.ts';

interface Kept { accountId: string; item: Json; bytes: number; at: number }

export class StoredItems {
  readonly #items = new Map<string, Kept>();
  /** Each account's item ids, oldest first: one busy account evicts its own items, not everyone's. */
  readonly #byAccount = new Map<string, string[]>();
  #bytes = 0;
  readonly #maxItems: number;
  readonly #maxPerAccount: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;

  constructor(maxItems = 20_000, maxBytes = 32 * 1024 * 1024, maxAgeMs = 60 * 60 * 1000, maxPerAccount = Math.max(1, Math.floor(maxItems / 10))) {
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
    this.#maxPerAccount = maxPerAccount;
  }

  put(accountId: string, item: Json): void {
    const id = item.id;
    if (typeof id !== 'string') return;
    this.#drop(id);
    const bytes = Buffer.byteLength(JSON.stringify(item));
    if (bytes > this.#maxBytes) return;
    this.#items.set(id, { accountId, item, bytes, at: Date.now() });
    this.#bytes += bytes;
    const own = this.#byAccount.get(accountId) ?? [];
    own.push(id);
    this.#byAccount.set(accountId, own);
    while (own.length > this.#maxPerAccount) this.#drop(own[0]!);
    // Oldest first: a Map iterates in insertion order.
    for (const [oldest] of this.#items) {
      if (this.#items.size <= this.#maxItems && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
  }

  /** Whether anything is kept for the account (most requests: nothing to look up). */
  holdsFor(accountId: string): boolean {
    return this.#byAccount.has(accountId);
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
    const own = this.#byAccount.get(kept.accountId);
    if (!own) return;
    // Usually the account's oldest (eviction goes oldest first); an expired one may sit anywhere.
    const at = own[0] === id ? 0 : own.indexOf(id);
    if (at >= 0) own.splice(at, 1);
    if (own.length === 0) this.#byAccount.delete(kept.accountId);
  }
}

/** The process's store (both planes share one process per node; references are per node). */
export const storedItems = new StoredItems();

/** The `item_reference` ids of a Responses request's input. */
export function itemReferences(input: unknown): string[] {
  const ids: string[] = [];
  for (const i of objects(input)) if (isItemReference(i) && typeof i.id === 'string') ids.push(i.id);
  return ids;
}

const WHOLE_CONVERSATION = 'send the whole conversation instead';

/**
 * What of a Responses request only the server that stored it can resolve, as the reason it cannot be translated
 * (with the way out), if anything: another model would answer a conversation missing its earlier turns, prompt
 * or files.
 */
export function storedStateReason(body: Json): string | undefined {
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) return `it continues a stored response ("previous_response_id"); ${WHOLE_CONVERSATION}`;
  if (body.conversation !== undefined && body.conversation !== null) return `it continues a stored conversation ("conversation"); ${WHOLE_CONVERSATION}`;
  const prompt = body.prompt;
  if (prompt !== null && typeof prompt === 'object' && 'id' in prompt) return 'it uses a stored prompt ("prompt"); send the prompt\'s text instead';
  // References the gateway held were written out already (pipeline.ts): any left are someone else's.
  const [id] = itemReferences(body.input);
  if (id !== undefined) return `it refers to a stored item ("${id.slice(0, 64)}") this gateway does not hold; ${WHOLE_CONVERSATION} (with the Vercel AI SDK, set providerOptions.openai.store to false)`;
  if (storedFile(body.input)) return 'it refers to a file stored at OpenAI ("file_id"); send the file\'s data instead';
  return undefined;
}

/**
 * Why a Responses request cannot go to a chat-completions model, beyond stored state: chat carries a file only as
 * data, so a file given by URL would be left out and the model would answer without it. (Messages takes a URL.)
 */
export const FILE_BY_URL_REASON = 'it gives a file by URL ("input_file.file_url"), which chat-completions models cannot fetch; send the file\'s data ("file_data") instead';

/**
 * An input item's content parts: a message's content, a tool output's parts, and a computer call output's screenshot
 * as the image it is (responses-via-chat carries it as one).
 */
export function itemParts(item: Json): Json[] {
  if (item.type !== 'computer_call_output') return objects(item.content ?? item.output);
  const screenshot = obj(item.output);
  return screenshot ? [{ ...screenshot, type: 'input_image' }] : [];
}

export function fileByUrl(input: unknown): boolean {
  return objects(input).some((i) => objects(i.content ?? i.output).some((p) => p.type === 'input_file' && typeof p.file_url === 'string' && typeof p.file_data !== 'string'));
}

/**
 * Whether an input message or tool output has an image or file given only by its OpenAI file id: beside it, no
 * image URL, nor file data or URL — absent or `null`, as the SDKs write a field left unset (an item sent back as it
 * came). A `null` read as given let such an image through, and the translation left it out without a word.
 */
function storedFile(input: unknown): boolean {
  return objects(input).some((i) => itemParts(i).some((p) => typeof p.file_id === 'string'
    && (p.type === 'input_image' ? typeof p.image_url !== 'string' : p.type === 'input_file' && typeof p.file_data !== 'string' && typeof p.file_url !== 'string')));
}

/**
 * The request with the references this gateway holds (earlier output of its translated answers) replaced by what
 * they referred to (a message, a function call, a custom tool call). Undefined when there is nothing to replace.
 */
export function withStoredItemsInline(body: Json, accountId: string): Json | undefined {
  if (!Array.isArray(body.input) || !storedItems.holdsFor(accountId)) return undefined;
  let replaced = false;
  const input = body.input.map((item: unknown) => {
    const i = obj(item);
    if (!i || !isItemReference(i) || typeof i.id !== 'string') return item;
    const kept = storedItems.get(accountId, i.id);
    if (!kept) return item;
    replaced = true;
    if (kept.type === 'function_call') return { type: 'function_call', call_id: kept.call_id, name: kept.name, arguments: kept.arguments };
    if (kept.type === 'custom_tool_call') return { type: 'custom_tool_call', call_id: kept.call_id, name: kept.name, input: kept.input };
    // A kept refusal is what the assistant said, as a refusal sent inline is (responses-via-chat.ts).
    const text = objects(kept.content).map((p) => (typeof p.text === 'string' ? p.text : typeof p.refusal === 'string' ? p.refusal : '')).join('');
    return { role: 'assistant', content: text };
  });
  return replaced ? { ...body, input } : undefined;
}
