// Function names the upstream takes. A client's format may allow names its model's format refuses: Gemini takes `.`
// and `:` (MCP servers' `server.tool`, `ns:tool`), Anthropic 128 characters (Claude Code's MCP tools), while OpenAI's
// chat completions and the servers copying it take `^[a-zA-Z0-9_-]{1,64}$` — a name outside it gets the provider's
// 400. Every translation into chat renames such names the same way, and maps the upstream's calls back, so the client
// only ever sees its own names. Anthropic's rule (`^[a-zA-Z0-9_-]{1,128}$`) takes every name this one does, so a
// composition through chat into Messages needs no second renaming.
import { createHash } from 'node:crypto';

/** OpenAI's rule for function names, the strictest of the formats translated into. */
const CHAT_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const CHAT_TOOL_NAME_MAX = 64;
/** `_` and 8 hex digits of a SHA-256. */
const SUFFIX = 9;

/**
 * Tool names that fit chat's rule. One that does not becomes its characters outside the rule replaced by `_`, cut to
 * 55, then `_` and 8 hex digits of the SHA-256 of the client's name — the same name every turn, so a conversation's
 * earlier calls still match the tool list and the provider's prompt cache holds, and two names differing only in a
 * replaced character (`a.b`, `a:b`) stay apart. If that is another tool's own name, the hash of the name and a
 * counter is taken instead. `back` maps the names made to the client's.
 */
export class ChatToolNames {
  readonly back = new Map<string, string>();
  readonly #made = new Map<string, string>();
  /** The request's own names that fit (tools and earlier calls): never given to another tool. */
  readonly #taken = new Set<string>();

  /** `names`: every name the request uses (its tools, its earlier calls); those that fit are never made for another. */
  constructor(names: Iterable<unknown>) {
    for (const name of names) if (typeof name === 'string' && fitsChat(name)) this.#taken.add(name);
  }

  /** The name the upstream gets for the client's `name` (anything but a string goes as it is). */
  nameOf(name: unknown): unknown {
    if (typeof name !== 'string' || name === '' || fitsChat(name)) return name;
    let made = this.#made.get(name);
    if (made !== undefined) return made;
    const stem = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, CHAT_TOOL_NAME_MAX - SUFFIX);
    for (let n = 0; made === undefined; n++) {
      const candidate = `${stem}_${createHash('sha256').update(n === 0 ? name : `${name}#${n}`).digest('hex').slice(0, SUFFIX - 1)}`;
      if (!this.#taken.has(candidate) && !this.back.has(candidate)) made = candidate;
    }
    this.#made.set(name, made);
    this.back.set(made, name);
    return made;
  }
}

function fitsChat(name: unknown): boolean {
  return typeof name === 'string' && CHAT_TOOL_NAME.test(name);
}

/** The client's name of a tool the upstream called (TranslatedRequest.toolNames, given back in the scope). */
export function clientToolName(name: unknown, renamed: ReadonlyMap<string, string> | undefined): unknown {
  return typeof name === 'string' ? renamed?.get(name) ?? name : name;
}
