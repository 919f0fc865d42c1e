// Writing an edited request body without re-serialising what was not edited. JSON.parse + JSON.stringify
// would change the client's values on the way: integers past 2^53 (`"seed": 9007199254740993` → …992),
// `1.0` → `1`, `1e2` → `100`. So the body's top-level members are copied as the client wrote them, and only the
// members the gateway changed or added (model, a clamped output limit, stream_options) are serialised.

interface Member { key: string; start: number; end: number }

/** Index just past the string whose opening quote is at `open`: jumps quote to quote (most of a body is text). */
function stringEnd(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (quote - backslashes - 1 > open && text.charCodeAt(quote - backslashes - 1) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The characters that open or close a nested value, or start a string. */
const STRUCTURAL = /["[\]{}]/g;
const isStructural = (c: number): boolean => c === 34 || c === 91 || c === 93 || c === 123 || c === 125;
/** How far past a number's first digit to look by hand before handing the run to the regex engine. */
const RUN_LOOKAHEAD = 24;

/**
 * Index just past the JSON value starting at `i` (whitespace already skipped). Strings are crossed from quote to
 * quote; a run of numbers (embedding vectors, token ids) by letting the regex engine find the next structural
 * character (`test` allocates nothing): this runs on every request's body, megabytes of numbers included.
 */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 34 /* " */) return stringEnd(text, i);
  if (first !== 123 /* { */ && first !== 91 /* [ */) {
    // A number or a literal: it ends at the next comma, closing bracket or whitespace.
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 44 || c === 125 || c === 93 || c <= 32) return i;
    }
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = stringEnd(text, i) - 1;
    } else if (c === 123 || c === 91) {
      depth++;
    } else if (c === 125 || c === 93) {
      if (--depth === 0) return i + 1;
    } else if ((c >= 48 && c <= 57) || c === 45 /* - */) {
      // A few characters by hand first: most numbers are followed closely by a quote or bracket (one regex call
      // per short number would double the cost); no structural character near means a run worth jumping.
      const near = Math.min(i + RUN_LOOKAHEAD, text.length);
      let j = i + 1;
      while (j < near && !isStructural(text.charCodeAt(j))) j++;
      if (j < near) {
        i = j - 1;
        continue;
      }
      STRUCTURAL.lastIndex = j;
      if (!STRUCTURAL.test(text)) return text.length;
      i = STRUCTURAL.lastIndex - 2;
    }
  }
  return i;
}

const skipSpace = (text: string, i: number): number => {
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  return i;
};

/** The object's own members as written (key decoded; `start`…`end` spans `"key": value`), or undefined. */
function topLevelMembers(text: string): Member[] | undefined {
  const members: Member[] = [];
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return undefined;
  i = skipSpace(text, i + 1);
  while (i < text.length && text.charCodeAt(i) !== 125) {
    const start = i;
    const keyEnd = valueEnd(text, i);
    const key = JSON.parse(text.slice(start, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== 58 /* : */) return undefined;
    const end = valueEnd(text, skipSpace(text, i + 1));
    members.push({ key, start, end });
    i = skipSpace(text, end);
    if (text.charCodeAt(i) === 44) i = skipSpace(text, i + 1);
  }
  return members;
}

/**
 * The body with each top-level key given only once — its last occurrence, the one JSON.parse (and so the scope
 * check, the token caps and the routing) saw — or undefined when no key repeats. Forwarding the raw text of
 * `{"model":"allowed","model":"refused"}` would let a provider whose parser keeps the first value serve what the
 * policy refused, or ignore a clamped `max_tokens`. `keys`: the parse's own key count, when the caller has it.
 */
export function withoutRepeatedKeys(raw: string, parsed: Record<string, unknown>, keys = ownKeyCount(parsed)): string | undefined {
  // Counting members as written against keys parsed: on every request, so no allocation and no key decoding.
  const written = topLevelMemberCount(raw);
  if (written === undefined || written === keys) return undefined;
  return editedBodyText(raw, parsed, parsed);
}

function ownKeyCount(parsed: Record<string, unknown>): number {
  let keys = 0;
  for (const key in parsed) if (Object.hasOwn(parsed, key)) keys++;
  return keys;
}

/** How many members the object's text has (a key given twice counts twice), or undefined for a non-object. */
function topLevelMemberCount(text: string): number | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return undefined;
  i = skipSpace(text, i + 1);
  let count = 0;
  while (i < text.length && text.charCodeAt(i) !== 125) {
    i = skipSpace(text, stringEnd(text, i));
    if (text.charCodeAt(i) !== 58 /* : */) return undefined;
    i = skipSpace(text, valueEnd(text, skipSpace(text, i + 1)));
    count++;
    if (text.charCodeAt(i) === 44) i = skipSpace(text, i + 1);
  }
  return count;
}

/**
 * The first key given twice in one object anywhere in the body (decoded: `"type"` and `"typ\u0065"` are one key),
 * or undefined. withoutRepeatedKeys leaves one of each top-level key; nested members go upstream as written, so a
 * rule that reads inside them (JSON.parse kept the last) could pass what a parser keeping the first would read.
 * Walked without recursion: the client sets the depth.
 */
export function repeatedKey(text: string): string | undefined {
  // One entry per open value: an object's keys so far, or undefined for an array.
  const open: (Set<string> | undefined)[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = stringEnd(text, i);
      const keys = open.at(-1);
      if (keyNext && keys) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        keyNext = false;
      }
      i = end - 1;
    } else if (c === 123 /* { */) {
      open.push(new Set());
      keyNext = true;
    } else if (c === 91 /* [ */) {
      open.push(undefined);
      keyNext = false;
    } else if (c === 125 || c === 93) {
      open.pop();
    } else if (c === 44 /* , */) {
      keyNext = open.at(-1) !== undefined;
    }
  }
  return undefined;
}

/**
 * `edited` (a shallow edit of `original`, the parse of `raw`) as JSON text: members whose value is still the
 * original's are copied from `raw` byte for byte, removed ones left out, changed and added ones serialised.
 */
export function editedBodyText(raw: string, original: Record<string, unknown>, edited: Record<string, unknown>): string {
  const members = topLevelMembers(raw);
  // A shape the scan does not follow (cannot happen for text JSON.parse accepted): serialise the whole edit.
  if (!members) return JSON.stringify(edited);
  // A key given twice: the parse kept the last, so only the last is written (never a re-serialisation of
  // the client's values, which could be nested deeper than JSON.stringify recurses).
  const last = new Map<string, Member>();
  for (const m of members) last.set(m.key, m);
  const parts: string[] = [];
  for (const m of members) {
    if (last.get(m.key) !== m || !Object.hasOwn(edited, m.key)) continue;
    const value = edited[m.key];
    if (value === undefined) continue;
    parts.push(value === original[m.key] ? raw.slice(m.start, m.end) : `${JSON.stringify(m.key)}:${JSON.stringify(value)}`);
  }
  for (const key of Object.keys(edited)) {
    if (Object.hasOwn(original, key) || edited[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(edited[key])}`);
  }
  return `{${parts.join(',')}}`;
}
