// A request's own Firewall rules: ngrok's `plugins` request field (reference "Firewall", "the plugins request field";
// gateway-behaviour.md "Per-request rules"). Each `firewall` entry is a policy of the request's own — its mode, its
// on_error, its rules grouped by tier — enforced together with the key's policies, each under its own mode, so a
// request adds rules and never removes or weakens the policy's. The same field names as a saved policy, except
// `on_error` (the API's `onError`) and the tier lists (the API's one `rules` list, each rule setting its `tier`);
// name and description are saved policies' only. Everything else is refused with the field named: rules a client
// believes enforced must be, or the request must not run.
import { tollgateError } from '../../domain/errors.ts';
import { FIREWALL_MAX_ENVIRONMENT, FIREWALL_MAX_RULES, FIREWALL_READS, ruleProblem, type FirewallPolicyState, type FirewallRule, type FirewallTier } from '../../domain/firewall-policy.ts';

/** The tier lists of a `firewall` entry, by the tier their rules take. */
const TIER_LISTS: ReadonlyMap<string, FirewallTier> = new Map([['hard_deny', 'hardDeny'], ['soft_deny', 'softDeny'], ['allow', 'allow']]);
const ENTRY_FIELDS = new Set(['id', 'mode', 'on_error', 'environment', ...TIER_LISTS.keys()]);
/** Where a field of the API's policy shape goes in `plugins`, for a client who wrote the API's shape. */
const API_SPELLINGS: Readonly<Record<string, string>> = {
  onError: 'it is spelled "on_error" in "plugins"',
  rules: 'in "plugins" the rules go in the lists "hard_deny", "soft_deny" and "allow", by tier',
  hardDeny: 'the list is "hard_deny"', softDeny: 'the list is "soft_deny"',
  name: 'a name is for saved policies only', description: 'a description is for saved policies only',
};
const RULE_FIELDS = new Set(['name', 'type', 'phase', 'reads', 'toolNames', 'pattern', 'instructions']);
const RULE_TYPES = new Set(['toolNames', 'regex', 'decision']);
const PHASES = new Set(['request', 'response']);
/** The control plane's limits for a saved rule's fields (spec/control-plane.openapi.yaml `AIGatewayFirewallRule`). */
const NAME_MAX = 255;
const TOOL_NAMES_MAX = 100;
const PATTERN_MAX = 4096;
const INSTRUCTIONS_MAX = 4000;
const ENVIRONMENT_FACT_MAX = 1000;
/**
 * The most a request's patterns may expand to in all (`patternSize`). RE2's own ceiling (re2js: 1.4 million
 * instructions) lets one 4,096-character pattern (`\pL{1000}` over and over) take half a second and 30 MB to compile;
 * a request's rules are its sender's and compile on every request whose text is not cached. Measured, an instruction
 * costs about 1 µs to compile and 70 bytes to hold: this is some 20 ms and 1.5 MB at most, while `.{0,200}` in each
 * of 48 rules, or `[A-Za-z0-9]{40}` in each, fit.
 */
const PATTERN_SIZE_MAX = 20_000;
/**
 * The most decision rules a request's `plugins` may hold. Each is a call to the operator's decision model for the
 * request and again for every tool call of its answer, paid by the operator, not the tenant: a request's own rules
 * are a few ad hoc checks (standing ones belong in a saved policy), and 8 leaves room for them.
 */
export const DECISION_RULES_MAX = 8;

/** What a request's rules have used of their limits so far. */
interface Budget { rules: number; patterns: number; decisions: number }
/** RE2's largest repetition count; a larger one is refused by RE2 itself (`invalid repeat count`). */
const REPEAT_MAX = 1000;
const REPEAT = /\{(\d+)(?:(,)(\d*))?\}/y;

/** Thrown at the first problem: a 400 in the client's error format naming the field as the client wrote it. */
function refuse(path: string, reason: string): never {
  throw tollgateError('invalidRequest', { reason: `"${path}" ${reason}` });
}

/** A key as a refusal names it: the client's own text, which can be as long as the body. */
const shown = (key: string): string => (key.length > 64 ? `${key.slice(0, 64)}…` : key);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(path: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0) refuse(path, 'must be a non-empty string.');
  if (value.length > max) refuse(path, `must be at most ${max} characters; got ${value.length}.`);
  return value;
}

function texts(path: string, value: unknown, maxItems: number, maxLength: number): string[] {
  if (!Array.isArray(value) || value.length === 0) refuse(path, 'must be a non-empty list of strings.');
  if (value.length > maxItems) refuse(path, `holds at most ${maxItems} entries; got ${value.length}.`);
  return value.map((v, i) => text(`${path}[${i}]`, v, maxLength));
}

function oneOf<T extends string>(path: string, value: unknown, allowed: ReadonlySet<string>): T {
  if (typeof value !== 'string' || !allowed.has(value)) refuse(path, `must be one of ${[...allowed].map((a) => `"${a}"`).join(', ')}.`);
  return value as T;
}

/** Index of the `]` closing the character class opened at `open` (`[]a]` and `[^]a]` hold a `]`, `[[:alpha:]]` a class name). */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      if (close >= 0) i = close + 1;
    } else if (c === ']') return i;
  }
  return pattern.length;
}

/**
 * An upper bound on the size of the program RE2 compiles a pattern to, counted in what it matches: without counted
 * repetition a program grows with the pattern's length, and `x{n}` (`{n,m}`, `{n,}`) copies `x` n (m, n+1) times, so
 * nested counts multiply. Read before RE2 compiles anything: compiling is the cost being bounded. Close to re2js's
 * instruction count for what RE2 accepts; what RE2 refuses (its own parse follows) may be counted loosely.
 */
export function patternSize(pattern: string): number {
  /** Per open group: its size so far, and the size of its last item (what a repetition would copy). */
  const open: { size: number; last: number }[] = [];
  let group = { size: 0, last: 0 };
  const item = (size: number) => {
    group.size += size;
    group.last = size;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === 'Q') {
        // Literal text up to \E: one unit a character; a repetition after it copies its last character.
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end < 0 ? pattern.length : end;
        group.size += stop - (i + 2);
        group.last = 1;
        i = end < 0 ? pattern.length : end + 1;
        continue;
      }
      // \p{Greek}, \x{263a}: their braces are the escape's, never a repetition.
      if ((next === 'p' || next === 'P' || next === 'x') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3);
        i = close < 0 ? pattern.length : close;
      } else {
        i++;
      }
      item(1);
    } else if (c === '[') {
      i = classEnd(pattern, i);
      item(1);
    } else if (c === '(') {
      open.push(group);
      group = { size: 0, last: 0 };
    } else if (c === ')') {
      const inner = group.size + 1;
      group = open.pop() ?? { size: 0, last: 0 };
      item(inner);
    } else if (c === '{') {
      REPEAT.lastIndex = i;
      const m = REPEAT.exec(pattern);
      if (!m) {
        item(1);
        continue;
      }
      const least = Number(m[1]);
      const most = m[2] === undefined ? least : m[3] === '' ? least + 1 : Math.max(least, Number(m[3]));
      const copies = most > REPEAT_MAX ? 1 : Math.max(most, 1);
      // The copies, and a branch for each optional one.
      const branches = copies - Math.min(least, copies);
      group.size += group.last * (copies - 1) + branches;
      group.last = group.last * copies + branches;
      i += m[0].length - 1;
    } else if (c === '|') {
      group.size++;
      group.last = 0;
    } else if (c === '*' || c === '+' || c === '?') {
      group.size++;
    } else {
      item(1);
    }
  }
  // An unclosed group is RE2's to refuse; what it held still counts.
  let size = group.size;
  for (const g of open) size += g.size;
  return size;
}

function parseRule(path: string, value: unknown, tier: FirewallTier, budget: Budget, decisionModel: boolean): FirewallRule {
  if (!isObject(value)) refuse(path, 'must be a rule object (name, type, phase and its match field).');
  for (const key of Object.keys(value)) {
    if (key === 'tier') refuse(`${path}.tier`, 'is set by the list the rule is in ("hard_deny", "soft_deny" or "allow"); remove it.');
    if (!RULE_FIELDS.has(key)) refuse(`${path}.${shown(key)}`, `is not a rule field; a rule has ${[...RULE_FIELDS].map((f) => `"${f}"`).join(', ')}.`);
  }
  const rule: FirewallRule = {
    name: text(`${path}.name`, value.name, NAME_MAX),
    tier,
    type: oneOf(`${path}.type`, value.type, RULE_TYPES),
    phase: oneOf(`${path}.phase`, value.phase, PHASES),
    ...(value.reads !== undefined ? { reads: reads(`${path}.reads`, value.reads) } : {}),
    ...(value.toolNames !== undefined ? { toolNames: texts(`${path}.toolNames`, value.toolNames, TOOL_NAMES_MAX, NAME_MAX) } : {}),
    ...(value.pattern !== undefined ? { pattern: text(`${path}.pattern`, value.pattern, PATTERN_MAX) } : {}),
    ...(value.instructions !== undefined ? { instructions: text(`${path}.instructions`, value.instructions, INSTRUCTIONS_MAX) } : {}),
  };
  if (rule.pattern !== undefined) {
    budget.patterns += patternSize(rule.pattern);
    if (budget.patterns > PATTERN_SIZE_MAX) refuse(`${path}.pattern`, `(rule "${rule.name}"): the request's patterns expand past ${PATTERN_SIZE_MAX} steps in all, the most a request's rules can compile to (a counted repetition such as {1000} copies what it repeats that many times). Use fewer or smaller repetitions, or attach the rules to a saved Firewall policy.`);
  }
  const problem = ruleProblem(rule, decisionModel);
  if (problem) refuse(`${path}.${problem.field}`, `(rule "${rule.name}"): ${problem.reason}`);
  if (rule.type === 'decision' && ++budget.decisions > DECISION_RULES_MAX) refuse(`${path}.type`, `(rule "${rule.name}"): takes the request past ${DECISION_RULES_MAX} decision rules, the most a request can add (each is a call to the gateway's decision model, for the request and for every tool call of its answer). Use fewer, or attach them to a saved Firewall policy.`);
  return rule;
}

function reads(path: string, value: unknown): FirewallRule['reads'] {
  const allowed = new Set<string>(FIREWALL_READS);
  if (!Array.isArray(value) || value.length === 0) refuse(path, 'must be a non-empty list of the parts a request rule reads.');
  const out = value.map((v, i) => oneOf<(typeof FIREWALL_READS)[number]>(`${path}[${i}]`, v, allowed));
  if (new Set(out).size !== out.length) refuse(path, 'names a part twice.');
  return out;
}

function parseEntry(index: number, value: unknown, budget: Budget, decisionModel: boolean): FirewallPolicyState {
  const path = `plugins[${index}]`;
  if (!isObject(value)) refuse(path, 'must be a plugin object, such as {"id": "firewall", ...}.');
  if (value.id !== 'firewall') refuse(`${path}.id`, `must be "firewall", the only plugin this gateway runs; got ${JSON.stringify(value.id ?? null).slice(0, 64)}.`);
  for (const key of Object.keys(value)) {
    if (ENTRY_FIELDS.has(key)) continue;
    // Own members only: `constructor` and `__proto__` are the keys of every object.
    const hint = Object.hasOwn(API_SPELLINGS, key) ? API_SPELLINGS[key] : undefined;
    refuse(`${path}.${shown(key)}`, hint ? `is not a field of a request's Firewall rules: ${hint}.` : `is not a field of a request's Firewall rules; they have ${[...ENTRY_FIELDS].map((f) => `"${f}"`).join(', ')}.`);
  }
  const rules: FirewallRule[] = [];
  for (const [list, tier] of TIER_LISTS) {
    const listed = value[list];
    if (listed === undefined) continue;
    if (!Array.isArray(listed)) refuse(`${path}.${list}`, 'must be a list of rules.');
    budget.rules += listed.length;
    if (budget.rules > FIREWALL_MAX_RULES) refuse(`${path}.${list}`, `takes the request past ${FIREWALL_MAX_RULES} rules, the most a request can add.`);
    listed.forEach((rule, i) => rules.push(parseRule(`${path}.${list}[${i}]`, rule, tier, budget, decisionModel)));
  }
  return {
    id: path,
    name: path,
    mode: value.mode === undefined ? 'enforce' : oneOf(`${path}.mode`, value.mode, new Set(['enforce', 'audit'])),
    onError: value.on_error === undefined ? 'block' : oneOf(`${path}.on_error`, value.on_error, new Set(['block', 'log'])),
    environment: value.environment === undefined ? [] : texts(`${path}.environment`, value.environment, FIREWALL_MAX_ENVIRONMENT, ENVIRONMENT_FACT_MAX),
    rules,
  };
}

/**
 * Parsed requests' rules by the `plugins` value's JSON text: an agent sends the same rules with every turn, so each
 * distinct text is parsed, checked and compiled once (the compiled form hangs off these very objects:
 * domain/firewall.ts `compilePolicy`). Bounded in entries, in each text's length (a longer text is parsed on each
 * request instead) and in what the entries hold in all, their compiled patterns included (a text of a few KiB can hold
 * 1.5 MB compiled): what a stream of distinct rule sets can pin is `PARSED_BYTES_MAX`. The least recently used text
 * goes first, so one client's stream of distinct texts does not push out the rules every agent repeats.
 */
const parsed = new Map<string, { policies: readonly FirewallPolicyState[]; bytes: number }>();
let parsedBytes = 0;
const PARSED_MAX = 256;
const PARSED_TEXT_MAX = 16 * 1024;
const PARSED_BYTES_MAX = 16 * 1024 * 1024;
/** What a unit of `patternSize` holds compiled (re2js, measured: about 70 bytes an instruction). */
const PATTERN_UNIT_BYTES = 80;

/**
 * The request's own Firewall policies from its `plugins` value (policy ids `plugins[<index>]`), or a 400 naming
 * what is wrong. An empty list adds none. `decisionModel`: whether this gateway judges decision rules.
 */
export function requestPolicies(value: unknown, decisionModel = false): readonly FirewallPolicyState[] {
  if (!Array.isArray(value)) refuse('plugins', 'must be a list of plugins, such as [{"id": "firewall", "hard_deny": [...]}].');
  // Gateways of one process may differ in their decision model (tests): a text accepted by one is not by the other.
  const key = decisionModel ? `judged ${JSON.stringify(value)}` : JSON.stringify(value);
  const known = parsed.get(key);
  if (known) {
    parsed.delete(key);
    parsed.set(key, known);
    return known.policies;
  }
  const budget: Budget = { rules: 0, patterns: 0, decisions: 0 };
  const policies = value.map((entry, i) => parseEntry(i, entry, budget, decisionModel)).filter((p) => p.rules.length > 0);
  if (key.length > PARSED_TEXT_MAX) return policies;
  const bytes = key.length + budget.patterns * PATTERN_UNIT_BYTES;
  for (const [oldest, entry] of parsed) {
    if (parsed.size < PARSED_MAX && parsedBytes + bytes <= PARSED_BYTES_MAX) break;
    parsed.delete(oldest);
    parsedBytes -= entry.bytes;
  }
  parsed.set(key, { policies, bytes });
  parsedBytes += bytes;
  return policies;
}
