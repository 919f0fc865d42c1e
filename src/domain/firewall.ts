// Firewall enforcement (ngrok's AI Gateway Firewall, gateway-behaviour.md "Firewall"): a policy is compiled once
// (its regexes into RE2 automata, linear in the text: tenants' patterns run on the request path) and applied to a
// request's parts before it goes upstream, and to each tool call a model returns. Pure: the gateway builds the
// request's parts (gateway/firewall/request-view.ts) and applies the verdicts.
import { RE2JS } from 're2js';
import { FIREWALL_READS, type FirewallMode, type FirewallOnError, type FirewallPhase, type FirewallPolicyState, type FirewallRead, type FirewallRule, type FirewallTier, type FirewallVerdict } from './firewall-policy.ts';

/**
 * What a rule tests, compiled. A decision rule's is judged by the decision model (gateway/firewall/decision.ts), which
 * reads its instructions and the policy's environment; without a judgement it is unchecked.
 */
type Matcher = { kind: 'names'; globs: readonly string[] } | { kind: 'regex'; re: RE2JS } | { kind: 'decision'; instructions: string; environment: readonly string[] } | { kind: 'unchecked' };

export interface CompiledRule {
  name: string;
  tier: FirewallTier;
  /** Request rules: the parts read (every part when the rule names none). */
  reads: readonly FirewallRead[];
  matcher: Matcher;
}

export interface CompiledPolicy {
  id: string;
  mode: FirewallMode;
  onError: FirewallOnError;
  request: readonly CompiledRule[];
  response: readonly CompiledRule[];
}

/**
 * One rule's say on one item. `blocked`: the policy enforces and the rule blocks; otherwise the rule flagged what
 * an enforcing policy would have blocked (`audit`), or could not check it and the policy lets that through (`log`).
 * `unchecked`: the rule could not be checked (a decision rule), and `onError` decided.
 */
export interface FirewallFinding {
  policyId: string;
  rule: string;
  tier: FirewallTier;
  /** Whether it judged the request (request rules) or a tool call of the answer (response rules). */
  phase: FirewallPhase;
  blocked: boolean;
  unchecked: boolean;
}

/** A finding as usage events record it. */
export function verdictOf(f: FirewallFinding): FirewallVerdict {
  return { action: f.blocked ? 'blocked' : f.unchecked ? 'unchecked' : 'flagged', rule: f.rule, tier: f.tier, policyId: f.policyId, phase: f.phase };
}

/** The parts of a request that request rules read: the text of each, joined across every message with newlines. */
export interface RequestParts {
  messages: string;
  toolResults: string;
  toolDefinitions: string;
  /** The tools offered, by name (what a tool-names request rule reads of the tool definitions). */
  toolNames: readonly string[];
  /** The tools called in the conversation's history, by name (what a tool-names request rule reads of the messages). */
  calledNames: readonly string[];
}

/**
 * A tool call the model returned. `repeatsKey`: whether its arguments give a key twice in one object (asked only when
 * an allow rule would clear a soft block: the agent's JSON parser keeps the last value, which a pattern anchored on
 * the first never read).
 */
export interface ToolCallView { name: string; arguments: string; repeatsKey?: () => boolean }

const compiled = new WeakMap<FirewallPolicyState, CompiledPolicy>();

/**
 * The policy compiled, once per policy object: a snapshot is replaced whole when anything in it changes, so a policy
 * object never changes under its cache entry. A pattern RE2 refuses (the control plane validates, but a snapshot is
 * data) compiles to an unchecked rule, decided by `onError` like a decision rule.
 */
export function compilePolicy(policy: FirewallPolicyState): CompiledPolicy {
  let out = compiled.get(policy);
  if (out) return out;
  const request: CompiledRule[] = [];
  const response: CompiledRule[] = [];
  for (const rule of policy.rules) (rule.phase === 'request' ? request : response).push(compileRule(rule, policy.environment));
  out = { id: policy.id, mode: policy.mode, onError: policy.onError, request, response };
  compiled.set(policy, out);
  return out;
}

function compileRule(rule: FirewallRule, environment: readonly string[]): CompiledRule {
  return { name: rule.name, tier: rule.tier, reads: rule.reads && rule.reads.length > 0 ? rule.reads : FIREWALL_READS, matcher: matcherOf(rule, environment) };
}

function matcherOf(rule: FirewallRule, environment: readonly string[]): Matcher {
  if (rule.type === 'toolNames') return { kind: 'names', globs: rule.toolNames ?? [] };
  if (rule.type === 'decision' && typeof rule.instructions === 'string') return { kind: 'decision', instructions: rule.instructions, environment };
  if (rule.type === 'regex' && typeof rule.pattern === 'string') {
    try {
      return { kind: 'regex', re: RE2JS.compile(rule.pattern) };
    } catch {
      return { kind: 'unchecked' };
    }
  }
  return { kind: 'unchecked' };
}

/**
 * A tool-name glob: the whole name, case-sensitive, `*` any run of characters. Linear in the name: the text before
 * the first star and after the last must begin and end it, and each piece between stars is found at its leftmost
 * place after the one before (the leftmost leaves the most room for the rest). Backtracking over a star costs the
 * name's length times the glob's, and a request's own rules (`plugins`) choose both a glob and the names it reads
 * (`*` then 250 `a`s, against a tool named with 100,000 `a`s: 0.3 s, for each of 4,800 globs).
 */
export function globMatches(glob: string, name: string): boolean {
  const firstStar = glob.indexOf('*');
  if (firstStar < 0) return glob === name;
  const lastStar = glob.lastIndexOf('*');
  const suffix = lastStar + 1;
  if (name.length < firstStar + glob.length - suffix) return false;
  if (!name.startsWith(glob.slice(0, firstStar)) || !name.endsWith(glob.slice(suffix))) return false;
  const end = name.length - (glob.length - suffix);
  let at = firstStar;
  for (let from = firstStar + 1; from < lastStar;) {
    const star = glob.indexOf('*', from);
    if (star > from) {
      const found = name.indexOf(glob.slice(from, star), at);
      if (found < 0 || found + star - from > end) return false;
      at = found + star - from;
    }
    from = star + 1;
  }
  return true;
}

function namesMatch(globs: readonly string[], names: readonly string[]): boolean {
  for (const name of names) for (const glob of globs) if (globMatches(glob, name)) return true;
  return false;
}

/**
 * A tool call's arguments with JSON's escapes decoded (`\"` → `"`, `\n` → a line break, `\u0041` → `A`), as a
 * block rule also reads them: a pattern for `rm -rf "/"` must not be dodged by the quotes' escaping.
 */
export function decodedEscapes(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))/g, (_, hex: string | undefined, c: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    return c === 'b' ? '\b' : c === 'f' ? '\f' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c!;
  });
}

const isBlockTier = (tier: FirewallTier): boolean => tier !== 'allow';

/**
 * The decision model's judgement of a decision rule on the item judged: whether it flagged it; undefined when it was
 * not judged (no decision model, or the judgement failed): the rule is then unchecked.
 */
export type Decided = (rule: CompiledRule) => boolean | undefined;
const UNDECIDED: Decided = () => undefined;

/** Whether a request rule matches the request, reading only its parts. */
function requestRuleMatches(rule: CompiledRule, parts: RequestParts, decided: Decided): boolean {
  const m = rule.matcher;
  if (m.kind === 'decision') return decided(rule) === true;
  if (m.kind === 'names') {
    return (rule.reads.includes('toolDefinitions') && namesMatch(m.globs, parts.toolNames)) || (rule.reads.includes('messages') && namesMatch(m.globs, parts.calledNames));
  }
  if (m.kind !== 'regex') return false;
  for (const read of rule.reads) if (parts[read] !== '' && m.re.test(parts[read])) return true;
  return false;
}

/** Whether a response rule matches a tool call: its name; or its name, a space and its raw (block rules: also decoded) arguments. */
function callRuleMatches(rule: CompiledRule, call: ToolCallView, text: string, decoded: string | undefined, decided: Decided): boolean {
  const m = rule.matcher;
  if (m.kind === 'decision') return decided(rule) === true;
  if (m.kind === 'names') return namesMatch(m.globs, [call.name]);
  if (m.kind !== 'regex') return false;
  if (!isBlockTier(rule.tier)) return m.re.test(text) && !call.repeatsKey?.();
  return m.re.test(text) || (decoded !== undefined && m.re.test(decoded));
}

/**
 * One policy's findings on one item: every deny rule that matched (a soft one only when no allow rule matched the
 * same item), and every deny rule that could not be checked. Allow rules clear soft blocks only; an unchecked rule is
 * never cleared (what it would have said is unknown), and its `onError` decides.
 */
function judge(policy: CompiledPolicy, phase: FirewallPhase, matches: (rule: CompiledRule) => boolean, into: FirewallFinding[], decided: Decided): void {
  let allowed: boolean | undefined;
  const enforce = policy.mode === 'enforce';
  const rules = policy[phase];
  for (const rule of rules) {
    if (!isBlockTier(rule.tier)) continue;
    if (rule.matcher.kind === 'unchecked' || (rule.matcher.kind === 'decision' && decided(rule) === undefined)) {
      into.push({ policyId: policy.id, rule: rule.name, tier: rule.tier, phase, blocked: enforce && policy.onError === 'block', unchecked: true });
      continue;
    }
    if (!matches(rule)) continue;
    if (rule.tier === 'softDeny') {
      // An allow rule that could not be checked (an unjudged decision rule matches nothing) clears nothing.
      allowed ??= rules.some((r) => r.tier === 'allow' && r.matcher.kind !== 'unchecked' && matches(r));
      if (allowed) continue;
    }
    into.push({ policyId: policy.id, rule: rule.name, tier: rule.tier, phase, blocked: enforce, unchecked: false });
  }
}

/**
 * The findings of the key's policies (each under its own mode) on a request, before it goes upstream; `decided`
 * gives the decision model's judgements of their decision rules (decisionRulesToJudge).
 */
export function judgeRequest(policies: readonly CompiledPolicy[], parts: RequestParts, decided: Decided = UNDECIDED): FirewallFinding[] {
  const findings: FirewallFinding[] = [];
  for (const policy of policies) if (policy.request.length > 0) judge(policy, 'request', (rule) => requestRuleMatches(rule, parts, decided), findings, decided);
  return findings;
}

/**
 * The decision rules of a phase the decision model must judge on each item: every deny rule, and the allow rules of
 * a policy with a soft deny rule of the phase (what else would they clear?). Empty for policies without decision rules.
 */
export function decisionRulesToJudge(policies: readonly CompiledPolicy[], phase: FirewallPhase): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const policy of policies) {
    let softDeny: boolean | undefined;
    for (const rule of policy[phase]) {
      if (rule.matcher.kind !== 'decision') continue;
      if (rule.tier === 'allow' && !(softDeny ??= policy[phase].some((r) => r.tier === 'softDeny'))) continue;
      out.push(rule);
    }
  }
  return out;
}

/** The findings of the key's policies on one tool call the model returned; `decided`: as for judgeRequest, on this call. */
export function judgeToolCall(policies: readonly CompiledPolicy[], call: ToolCallView, decided: Decided = UNDECIDED): FirewallFinding[] {
  const findings: FirewallFinding[] = [];
  const text = `${call.name} ${call.arguments}`;
  const decodedArgs = decodedEscapes(call.arguments);
  const decoded = decodedArgs === call.arguments ? undefined : `${call.name} ${decodedArgs}`;
  for (const policy of policies) if (policy.response.length > 0) judge(policy, 'response', (rule) => callRuleMatches(rule, call, text, decoded, decided), findings, decided);
  return findings;
}

/** The finding that blocks, if any: the first hard block, else the first other block. */
export function blockingFinding(findings: readonly FirewallFinding[]): FirewallFinding | undefined {
  let first: FirewallFinding | undefined;
  for (const f of findings) {
    if (!f.blocked) continue;
    if (f.tier === 'hardDeny' && !f.unchecked) return f;
    first ??= f;
  }
  return first;
}

/** The key's policies: its account's all-keys policy and its configuration's, compiled; empty when it has none. */
export function keyPolicies(accountPolicyId: string | null | undefined, configurationPolicyId: string | null | undefined, policies: ReadonlyMap<string, FirewallPolicyState>): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  // A policy the snapshot does not hold (an id ahead of the policies, which a whole-snapshot load never gives) is skipped.
  const account = accountPolicyId ? policies.get(accountPolicyId) : undefined;
  if (account) out.push(compilePolicy(account));
  const configuration = configurationPolicyId && configurationPolicyId !== accountPolicyId ? policies.get(configurationPolicyId) : undefined;
  if (configuration) out.push(compilePolicy(configuration));
  return out;
}

/** Whether any of the policies has rules of the phase. */
export function hasRules(policies: readonly CompiledPolicy[], phase: 'request' | 'response'): boolean {
  return policies.some((p) => p[phase].length > 0);
}

const TIER_WORDS: Readonly<Record<FirewallTier, string>> = { hardDeny: 'hard block', softDeny: 'soft block', allow: 'allow' };

/** What the agent reads when a rule blocks: the rule's name (ngrok: "the agent sees it"), its tier, and what was blocked. */
export function blockedText(finding: FirewallFinding, what: string): string {
  const why = finding.unchecked ? `could not check ${what}, and its policy blocks what it cannot check` : `flagged ${what}`;
  return `Blocked by the gateway's Firewall: rule "${finding.rule}" (${TIER_WORDS[finding.tier]}) ${why}.`;
}
