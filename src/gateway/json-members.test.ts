import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonMembers } from './json-members.ts';

const ANSWER = '{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAC\\"AP/\\\\usage\\":1"},{"usage":{"prompt_tokens":999}}],'
  + '"model":"text-embedding-3-small", "usage" : {"prompt_tokens":17,"total_tokens":17}}';

test('a top-level member is found wherever the chunks split it; nested look-alikes and strings holding its name are not it', () => {
  for (let cut = 0; cut <= ANSWER.length; cut++) {
    for (const size of [1, 3, 7]) {
      const members = new JsonMembers(['usage', 'model']);
      const bytes = Buffer.from(ANSWER);
      members.push(bytes.subarray(0, cut));
      for (let at = cut; at < bytes.length; at += size) members.push(bytes.subarray(at, Math.min(at + size, bytes.length)));
      assert.deepEqual(JSON.parse(members.text('usage')!), { prompt_tokens: 17, total_tokens: 17 }, `cut ${cut}, size ${size}`);
      assert.equal(JSON.parse(members.text('model')!), 'text-embedding-3-small');
    }
  }
});

test('a last primitive member, a repeated key (the last one counts, as JSON.parse keeps it), an absent one', () => {
  const members = new JsonMembers(['usage', 'n', 'missing']);
  members.push(Buffer.from('{"usage":{"a":1},"usage":{"a":2},"n":42}'));
  assert.equal(members.text('usage'), '{"a":2}');
  assert.equal(members.text('n'), '42');
  assert.equal(members.text('missing'), undefined);
});

test('a member too large to be usage is not kept', () => {
  const members = new JsonMembers(['usage']);
  members.push(Buffer.from(`{"usage":{"pad":"${'x'.repeat(70_000)}"}}`));
  assert.equal(members.text('usage'), undefined);
});

test('a string dense with escapes is scanned in work linear in its length (the answer is a provider\'s, which may be hostile)', () => {
  // 2 MiB of `a\n`: searched from each escape to the string's end, this cost its length times the escapes (seconds
  // of the event loop). Counted as bytes the searches walk, not timed: a test never fails on a clock.
  const chunk = Buffer.from(`{"data":"${'a\\n'.repeat(700_000)}","usage":{"prompt_tokens":3}}`);
  const members = new JsonMembers(['usage']);
  const original = Buffer.prototype.indexOf;
  let walked = 0;
  Buffer.prototype.indexOf = function (this: Buffer, value: string | number | Uint8Array, from?: number | BufferEncoding, encoding?: BufferEncoding): number {
    const found = original.call(this, value, from as number, encoding);
    const start = typeof from === 'number' ? from : 0;
    walked += (found < 0 ? this.length : found) - start;
    return found;
  };
  try {
    members.push(chunk);
  } finally {
    Buffer.prototype.indexOf = original;
  }
  assert.ok(walked <= 2 * chunk.length, `searches walked ${walked} bytes of a ${chunk.length}-byte chunk`);
  assert.equal(members.text('usage'), '{"prompt_tokens":3}');
});
