// Top-level members of a JSON object read chunk by chunk, for an answer relayed without being held (attempt.ts:
// a large embeddings answer): the usage an answer reports sits beside megabytes of vectors, and only its few bytes
// are kept. String and nesting state carry across chunks, so a member split anywhere is still found.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A member's value kept past this is dropped (usage blocks are a few hundred bytes): the answer decides its size. */
const MAX_VALUE_BYTES = 64 * 1024;
/** Longer top-level keys are none of the wanted ones: only their first bytes are kept. */
const MAX_KEY_BYTES = 64;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonMembers {
  readonly #wanted: ReadonlySet<string>;
  readonly #values = new Map<string, string>();
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** At depth 1, after `{` or `,`: the next string is a key. */
  #expectKey = false;
  /** The top-level key being read, when one is. */
  #key: number[] | undefined;
  #lastKey = '';
  /** After a top-level `:`: the next non-space byte starts the value of #lastKey. */
  #awaitingValue = false;
  /** The wanted value being kept: its pieces from earlier chunks, and where it began in this one. */
  #capture: Buffer[] | undefined;
  #captureSize = 0;
  #captureFrom = 0;
  #captureKey = '';

  constructor(wanted: readonly string[]) {
    this.#wanted = new Set(wanted);
  }

  push(chunk: Buffer): void {
    this.#captureFrom = 0;
    // The next quote at or past i, found once per string piece: searched again at each of a string's escapes, a
    // chunk dense with them (`a\n` repeated) would cost its length times their number.
    let quoteAt = -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) {
          this.#inString = false;
          if (this.#key) {
            this.#lastKey = Buffer.from(this.#key).toString('latin1');
            this.#key = undefined;
          }
        } else if (this.#key) {
          if (this.#key.length < MAX_KEY_BYTES) this.#key.push(c);
        } else if (this.#capture === undefined) {
          // Inside a string nobody keeps (a base64 vector): on to its next quote or backslash.
          if (quoteAt < i) {
            const quote = chunk.indexOf(QUOTE, i);
            quoteAt = quote < 0 ? chunk.length : quote;
          }
          const backslash = chunk.subarray(i, quoteAt).indexOf(BACKSLASH);
          i = (backslash < 0 ? quoteAt : i + backslash) - 1;
        }
        continue;
      }
      if (isSpace(c)) continue;
      if (this.#awaitingValue) {
        this.#awaitingValue = false;
        if (this.#depth === 1 && this.#wanted.has(this.#lastKey)) this.#startCapture(i);
      }
      switch (c) {
        case QUOTE:
          this.#inString = true;
          if (this.#depth === 1 && this.#expectKey) {
            this.#key = [];
            this.#expectKey = false;
          }
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.#depth++;
          if (this.#depth === 1) this.#expectKey = c === 0x7b;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.#depth--;
          // An object or array value closed back at the top level, or a last primitive value closed by the object's end.
          if (this.#capture && this.#depth === 1) this.#endCapture(chunk, i + 1);
          else if (this.#capture && this.#depth === 0) this.#endCapture(chunk, i);
          break;
        case COMMA:
          if (this.#depth === 1) {
            if (this.#capture) this.#endCapture(chunk, i);
            this.#expectKey = true;
          }
          break;
        case COLON:
          if (this.#depth === 1) this.#awaitingValue = true;
          break;
      }
    }
    if (this.#capture) this.#keep(chunk.subarray(this.#captureFrom));
  }

  /** The member's value as JSON text (the last one, if the key repeats), or undefined when none was seen whole. */
  text(key: string): string | undefined {
    return this.#values.get(key);
  }

  #startCapture(at: number): void {
    this.#capture = [];
    this.#captureSize = 0;
    this.#captureFrom = at;
    this.#captureKey = this.#lastKey;
  }

  #keep(piece: Buffer): void {
    if (!this.#capture) return;
    this.#captureSize += piece.length;
    // Too large to be what it is wanted for: dropped, and not kept any further.
    if (this.#captureSize > MAX_VALUE_BYTES) this.#capture = [];
    else this.#capture.push(Buffer.from(piece));
  }

  #endCapture(chunk: Buffer, end: number): void {
    this.#keep(chunk.subarray(this.#captureFrom, end));
    const pieces = this.#capture!;
    this.#capture = undefined;
    if (this.#captureSize <= MAX_VALUE_BYTES) this.#values.set(this.#captureKey, Buffer.concat(pieces).toString('utf8'));
  }
}
