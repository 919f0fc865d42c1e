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

/** Thrown at the first problem: a 400 in the client's error format naming the field as the client wrote it. */
function refuse(path: string, reason: string): never {
  throw tollgateError('invalidRequest', { reason: `"${path}" ${reason}` });
}

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

function parseRule(path: string, value: unknown, tier: FirewallTier): FirewallRule {
  if (!isObject(value)) refuse(path, 'must be a rule object (name, type, phase and its match field).');
  for (const key of Object.keys(value)) {
    if (key === 'tier') refuse(`${path}.tier`, 'is set by the list the rule is in ("hard_deny", "soft_deny" or "allow"); remove it.');
    if (!RULE_FIELDS.has(key)) refuse(`${path}.${key}`, `is not a rule field; a rule has ${[...RULE_FIELDS].map((f) => `"${f}"`).join(', ')}.`);
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
  const problem = ruleProblem(rule);
  if (problem) refuse(`${path}.${problem.field}`, `(rule "${rule.name}"): ${problem.reason}`);
  return rule;
}

function reads(path: string, value: unknown): FirewallRule['reads'] {
  const allowed = new Set<string>(FIREWALL_READS);
  if (!Array.isArray(value) || value.length === 0) refuse(path, 'must be a non-empty list of the parts a request rule reads.');
  const out = value.map((v, i) => oneOf<(typeof FIREWALL_READS)[number]>(`${path}[${i}]`, v, allowed));
  if (new Set(out).size !== out.length) refuse(path, 'names a part twice.');
  return out;
}

function parseEntry(index: number, value: unknown, budget: { rules: number }): FirewallPolicyState {
  const path = `plugins[${index}]`;
  if (!isObject(value)) refuse(path, 'must be a plugin object, such as {"id": "firewall", ...}.');
  if (value.id !== 'firewall') refuse(`${path}.id`, `must be "firewall", the only plugin this gateway runs; got ${JSON.stringify(value.id ?? null).slice(0, 64)}.`);
  for (const key of Object.keys(value)) {
    if (ENTRY_FIELDS.has(key)) continue;
    const hint = API_SPELLINGS[key];
    refuse(`${path}.${key}`, hint ? `is not a field of a request's Firewall rules: ${hint}.` : `is not a field of a request's Firewall rules; they have ${[...ENTRY_FIELDS].map((f) => `"${f}"`).join(', ')}.`);
  }
  const rules: FirewallRule[] = [];
  for (const [list, tier] of TIER_LISTS) {
    const listed = value[list];
    if (listed === undefined) continue;
    if (!Array.isArray(listed)) refuse(`${path}.${list}`, 'must be a list of rules.');
    budget.rules += listed.length;
    if (budget.rules > FIREWALL_MAX_RULES) refuse(`${path}.${list}`, `takes the request past ${FIREWALL_MAX_RULES} rules, the most a request can add.`);
    listed.forEach((rule, i) => rules.push(parseRule(`${path}.${list}[${i}]`, rule, tier)));
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
 * domain/firewall.ts `compilePolicy`). Bounded in entries (the oldest text goes first) and in each text's length, so
 * what a stream of distinct rule sets can pin is a few MiB: a longer text is parsed on each request instead.
 */
const parsed = new Map<string, readonly FirewallPolicyState[]>();
const PARSED_MAX = 256;
const PARSED_TEXT_MAX = 16 * 1024;

/**
 * The request's own Firewall policies from its `plugins` value (policy ids `plugins[<index>]`), or a 400 naming
 * what is wrong. An empty list adds none.
 */
export function requestPolicies(value: unknown): readonly FirewallPolicyState[] {
  if (!Array.isArray(value)) refuse('plugins', 'must be a list of plugins, such as [{"id": "firewall", "hard_deny": [...]}].');
  const key = JSON.stringify(value);
  const known = parsed.get(key);
  if (known) return known;
  const budget = { rules: 0 };
  const policies = value.map((entry, i) => parseEntry(i, entry, budget)).filter((p) => p.rules.length > 0);
  if (key.length > PARSED_TEXT_MAX) return policies;
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, policies);
  return policies;
}
