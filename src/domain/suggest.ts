// "Did you mean …?" for unknown model names: the closest known name by edit distance, if close enough
// to be a plausible typo (a quarter of the name's length, at least 2 edits), else nothing.

export function suggestName(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 4));
  let best: string | undefined;
  let bestDistance = limit + 1;
  const surplus = charCounts(name);
  for (const candidate of candidates) {
    if (Math.abs(candidate.length - name.length) >= bestDistance) continue;
    // Most candidates share few characters with the name: a lower bound from the characters alone rules them out
    // without the distance table (an edit changes the characters' difference by at most 2).
    if (Math.ceil(charDifference(surplus, name.length, candidate) / 2) >= bestDistance) continue;
    const d = editDistance(name, candidate, bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** How many times each character occurs in `s`, by code unit modulo 128 (sharing a bucket only lowers the bound). */
function charCounts(s: string): Int32Array {
  const counts = new Int32Array(128);
  for (let i = 0; i < s.length; i++) counts[s.charCodeAt(i) & 127]!++;
  return counts;
}

/** Σ |count in name − count in candidate| over characters; `counts` (the name's) is left as it was found. */
function charDifference(counts: Int32Array, nameLength: number, candidate: string): number {
  let difference = nameLength;
  for (let i = 0; i < candidate.length; i++) {
    const c = candidate.charCodeAt(i) & 127;
    difference += counts[c]! > 0 ? -1 : 1;
    counts[c]!--;
  }
  for (let i = 0; i < candidate.length; i++) counts[candidate.charCodeAt(i) & 127]!++;
  return difference;
}

// Two rows of the distance table, reused: a typo of a 40-character name is measured against every catalog name
// (hundreds), and fresh arrays per row made an unknown model cost ~1 ms of CPU, several requests' worth.
let rows = new Int32Array(128);

/** Levenshtein distance (UTF-16 code units); stops early once every path exceeds `cap`, returning a figure ≥ `cap`. */
export function editDistance(a: string, b: string, cap = Infinity): number {
  const width = b.length + 1;
  if (rows.length < 2 * width) rows = new Int32Array(4 * width);
  const table = rows;
  let prev = 0;
  let row = width;
  for (let j = 0; j < width; j++) table[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const code = a.charCodeAt(i - 1);
    table[row] = i;
    let rowMin = i;
    for (let j = 1; j < width; j++) {
      const replace = table[prev + j - 1]! + (code === b.charCodeAt(j - 1) ? 0 : 1);
      const remove = table[prev + j]! + 1;
      const insert = table[row + j - 1]! + 1;
      const v = replace < remove ? (replace < insert ? replace : insert) : remove < insert ? remove : insert;
      table[row + j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return rowMin;
    const done = prev;
    prev = row;
    row = done;
  }
  return table[prev + width - 1]!;
}
