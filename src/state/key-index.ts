// Every live access key's token hash, in a few dozen bytes a key, so a token no key has is refused from memory: a
// flood of made-up (well-shaped) tokens then costs no store read and cannot take the lookups real keys not yet cached
// need (gateway-state.ts). A hash is held as its first 52 bits, a JS number (exact in a double): no string per key.
// Two live keys sharing those bits (~1e-4 odds among a million keys) are counted, so deleting one leaves the other
// found; a made-up token matching a key's 52 bits (2^-52 odds) only costs the store read every unknown token used to.

const PREFIX_HEX_DIGITS = 13;

/** The first 52 bits of a hex SHA-256 as a number, read digit by digit: no substring is made on the request path. */
export function hashPrefix(hex: string): number {
  let value = 0;
  for (let i = 0; i < PREFIX_HEX_DIGITS; i++) {
    const c = hex.charCodeAt(i);
    // '0'–'9' are 48–57, 'a'–'f' 97–102 (sha256Hex writes lower case).
    value = value * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return value;
}

export class KeyIndex {
  /** Hash prefix → how many live keys have it. */
  readonly #counts = new Map<number, number>();
  /** Key id → its hash prefix: a change names the key by id, and a deleted key's row no longer says its hash. */
  readonly #byId = new Map<string, number>();

  /** Whether some live key's token hash may be `hash` (a hex SHA-256). */
  has(hash: string): boolean {
    return this.#counts.has(hashPrefix(hash));
  }

  /** Whether the key `id` is held. */
  holds(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Keys held. */
  get size(): number {
    return this.#byId.size;
  }

  /** The key `id` as stored now: its token hash, or undefined when it is gone. Setting what is held already changes nothing. */
  set(id: string, hash: string | undefined): void {
    const was = this.#byId.get(id);
    const now = hash === undefined ? undefined : hashPrefix(hash);
    if (was === now) return;
    if (was !== undefined) {
      const count = this.#counts.get(was)!;
      if (count === 1) this.#counts.delete(was);
      else this.#counts.set(was, count - 1);
    }
    if (now === undefined) {
      this.#byId.delete(id);
      return;
    }
    this.#byId.set(id, now);
    this.#counts.set(now, (this.#counts.get(now) ?? 0) + 1);
  }
}
