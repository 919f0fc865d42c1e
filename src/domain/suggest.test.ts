import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, suggestName } from './suggest.ts';

// The textbook table, whole: what the pruned, reused-row version must agree with.
function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

// A deterministic generator, so a failure names inputs that reproduce.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}
// Few letters (so strings share characters and distances stay small), a non-ASCII one sharing `a`'s bucket mod 128.
const ALPHABET = ['a', 'b', 'c', '-', '4', 'o', '\u00e1', '\u0161'];
function word(next: () => number, max: number): string {
  return Array.from({ length: Math.floor(next() * max) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
}

test('editDistance is the Levenshtein distance, and a capped one is never below the cap when the distance is not', () => {
  const next = random(7);
  for (let n = 0; n < 3_000; n++) {
    const a = word(next, 30);
    const b = word(next, 30);
    const exact = levenshtein(a, b);
    assert.equal(editDistance(a, b), exact, `${a} / ${b}`);
    const cap = 1 + Math.floor(next() * 8);
    const capped = editDistance(a, b, cap);
    if (exact < cap) assert.equal(capped, exact, `${a} / ${b} cap ${cap}`);
    else assert.ok(capped >= cap, `${a} / ${b} cap ${cap}: ${capped}`);
  }
  // A longer second string after short ones: the reused rows grow.
  assert.equal(editDistance('x', 'y'.repeat(500)), 500);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('suggestName picks the first closest candidate within a quarter of the name (at least 2 edits), as a full search would', () => {
  const next = random(11);
  for (let n = 0; n < 1_000; n++) {
    const name = word(next, 24);
    const candidates = Array.from({ length: 1 + Math.floor(next() * 12) }, () => word(next, 24));
    const limit = Math.max(2, Math.floor(name.length / 4));
    let expected: string | undefined;
    let best = limit + 1;
    for (const c of candidates) {
      const d = levenshtein(name, c);
      if (d < best) [expected, best] = [c, d];
    }
    assert.equal(suggestName(name, candidates), expected, `${name} among ${JSON.stringify(candidates)}`);
  }
  assert.equal(suggestName('gpt-4oo', ['claude-sonnet-4-5', 'gpt-4o', 'gpt-4o-mini']), 'gpt-4o');
  assert.equal(suggestName('o4', ['gpt-4o']), undefined);
});
