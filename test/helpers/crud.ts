// Checks every owned control-plane collection shares: newest-first paging, HEAD, and account isolation.
import assert from 'node:assert/strict';
import { expectError, expectSchema, type TestControl } from './control.ts';

/** A collection's path, list envelope key, and contract schemas of the list and of one item. */
export interface Collection { path: string; listKey: string; listSchema: string; schema: string }

function relative(uri: string): string {
  const u = new URL(uri);
  return `${u.pathname}${u.search}`;
}

/** Walks `collection` two items at a time via nextPageUri; `createdIds` are in creation order. */
export async function assertPaging(c: TestControl, { path: collection, listKey, listSchema }: Collection, createdIds: readonly string[]): Promise<void> {
  const newestFirst = [...createdIds].reverse();
  const seen: string[] = [];
  let next: string | null = `${collection}?limit=2`;
  let pages = 0;
  while (next !== null) {
    const body: Record<string, unknown> = expectSchema(await c.call('GET', next), 200, listSchema);
    const items = body[listKey] as { id: string }[];
    assert.ok(items.length <= 2, 'limit is honoured');
    seen.push(...items.map((i) => i.id));
    next = (body.nextPageUri as string | null) === null ? null : relative(body.nextPageUri as string);
    if (next !== null) assert.match(next, /beforeId=/);
    assert.ok(++pages <= createdIds.length, 'paging terminates');
  }
  assert.deepEqual(seen, newestFirst);
  const all: Record<string, unknown> = expectSchema(await c.call('GET', collection), 200, listSchema);
  assert.deepEqual((all[listKey] as { id: string }[]).map((i) => i.id), newestFirst);
  assert.equal(all.nextPageUri, null);
  const after: Record<string, unknown> = expectSchema(await c.call('GET', `${collection}?beforeId=${newestFirst[0]}`), 200, listSchema);
  assert.deepEqual((after[listKey] as { id: string }[]).map((i) => i.id), newestFirst.slice(1));
  // Parameters the operation does not define are ignored, and not echoed back into the page links.
  const tagged: Record<string, unknown> = expectSchema(await c.call('GET', `${collection}?limit=1&utm_source=mail`), 200, listSchema);
  assert.ok(!String(tagged.uri).includes('utm_source'), String(tagged.uri));
  assert.match(String(tagged.uri), /\?limit=1$/);
  assert.ok(!String(tagged.nextPageUri).includes('utm_source'), String(tagged.nextPageUri));
  // An integer is written in decimal: what `Number()` would read (hex, exponent, spaces) is refused.
  for (const limit of ['0x2', '1e1', '2.0', '%202']) expectError(await c.call('GET', `${collection}?limit=${limit}`), 400, 'ERR_NGROK_27606');
}

export async function assertHead(c: TestControl, path: string): Promise<void> {
  const res = await c.call('HEAD', path);
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
}

/** The other account cannot see, change or delete `id`, and its list of the collection is empty. */
export async function assertIsolated(c: TestControl, { path: collection, listKey, listSchema, schema }: Collection, id: string, patch: unknown): Promise<void> {
  const token = c.other.token;
  expectError(await c.call('GET', `${collection}/${id}`, undefined, token), 404, 'ERR_NGROK_27611');
  expectError(await c.call('PATCH', `${collection}/${id}`, patch, token), 404, 'ERR_NGROK_27611');
  expectError(await c.call('DELETE', `${collection}/${id}`, undefined, token), 404, 'ERR_NGROK_27611');
  assert.equal((await c.call('HEAD', `${collection}/${id}`, undefined, token)).statusCode, 404);
  const list: Record<string, unknown> = expectSchema(await c.call('GET', collection, undefined, token), 200, listSchema);
  assert.deepEqual(list[listKey], []);
  expectSchema(await c.call('GET', `${collection}/${id}`), 200, schema);
}

/** Records what the control plane announces, to assert each mutation publishes a change. */
export function recordChanges(c: TestControl): { kind: string; resourceId: string; accountId: string }[] {
  const seen: { kind: string; resourceId: string; accountId: string }[] = [];
  c.changes.subscribe((change) => seen.push(change));
  return seen;
}
