// A Firewall policy as the account saved it (ngrok's "Firewall policies"): named rules that screen what an access
// key's traffic sends to a model (request rules) and the tool calls a model returns (response rules). The control
// plane validates and stores these; the snapshot carries them as plain data; the data plane compiles and applies
// them. Field names follow ngrok's API where its docs could be read, and are our own (`x-inferred` in the spec)
// where they could not.
import { RE2JS } from 're2js';

/** `enforce` blocks what a rule flags; `audit` (the dashboard's "Dry run") lets it through and reports it. */
export type FirewallMode = 'enforce' | 'audit';
/** What happens to what the policy cannot check: `block` it, or let it through and report it (`log`, "Continue"). */
export type FirewallOnError = 'block' | 'log';
/**
 * `hardDeny` blocks and nothing clears it; `softDeny` blocks unless an `allow` rule of the same phase also matches
 * the same item; `allow` only clears soft blocks.
 */
export type FirewallTier = 'hardDeny' | 'softDeny' | 'allow';
/** Tool names (whole, case-sensitive, `*` wildcard), an RE2 pattern, or a plain-language decision for a model. */
export type FirewallRuleType = 'toolNames' | 'regex' | 'decision';
/** Request rules run before the request is sent upstream; response rules on each tool call the model returns. */
export type FirewallPhase = 'request' | 'response';
/** The parts of a request a request rule reads. */
export type FirewallRead = 'messages' | 'toolResults' | 'toolDefinitions';

export const FIREWALL_READS: readonly FirewallRead[] = ['messages', 'toolResults', 'toolDefinitions'];

export interface FirewallRule {
  /** Shown to the agent when the rule blocks something. */
  name: string;
  tier: FirewallTier;
  type: FirewallRuleType;
  phase: FirewallPhase;
  /** Request rules only; absent means every part. */
  reads?: readonly FirewallRead[];
  /** `toolNames` rules only. */
  toolNames?: readonly string[];
  /** `regex` rules only: RE2 syntax, case-sensitive unless it starts with `(?i)`. */
  pattern?: string;
  /** `decision` rules only: the risk in plain language. */
  instructions?: string;
}

export interface FirewallPolicyState {
  /** Resource id (`aigfwp_…`). */
  id: string;
  name: string;
  mode: FirewallMode;
  onError: FirewallOnError;
  /** Facts about the environment the agents run in, for decision rules. */
  environment: readonly string[];
  rules: readonly FirewallRule[];
}

/**
 * One rule's verdict as usage events keep it (ngrok's audit mode "reports the verdict"): `blocked` (an enforcing
 * policy blocked it), `flagged` (an audit policy would have), `unchecked` (the rule could not check it and the policy
 * let it through, `onError: log`). `phase` says whether it was the request or a tool call of the answer.
 */
export interface FirewallVerdict {
  action: 'blocked' | 'flagged' | 'unchecked';
  rule: string;
  tier: FirewallTier;
  policyId: string;
  phase: FirewallPhase;
}

/** ngrok's limits: rules per policy, and environment facts per policy. */
export const FIREWALL_MAX_RULES = 48;
export const FIREWALL_MAX_ENVIRONMENT = 32;

/** The field each rule type matches with; a rule takes its own and none of the others. */
const MATCH_FIELD: Readonly<Record<FirewallRuleType, 'toolNames' | 'pattern' | 'instructions'>> = {
  toolNames: 'toolNames', regex: 'pattern', decision: 'instructions',
};

/**
 * What is wrong with a rule whose fields have their types already (the control plane's schema, or the `plugins`
 * parser, checked them): the field and why, or undefined. Each rule type takes only its own match field, `reads`
 * belongs to request rules, a regex compiles as RE2, and a decision rule is accepted only where a decision model
 * judges it (`decisionModel`: the deployment names one). Saved policies and a request's own rules are held to the
 * same checks.
 */
export function ruleProblem(rule: FirewallRule, decisionModel = false): { field: string; reason: string } | undefined {
  if (rule.type === 'decision' && !decisionModel) {
    // A decision rule is judged by a decision model (ngrok's Jev). Accepting one that is never judged would look like
    // protection that is not there.
    return { field: 'type', reason: 'decision rules are not available on this gateway: they need a decision model to judge them, and this gateway runs none (its operator can name one: TOLLGATE_FIREWALL_DECISION_MODEL). Use a toolNames or regex rule.' };
  }
  if (rule.reads !== undefined && rule.phase !== 'request') {
    return { field: 'reads', reason: '"reads" is for request rules only; a response rule checks each tool call the model returns.' };
  }
  const own = MATCH_FIELD[rule.type];
  for (const field of Object.values(MATCH_FIELD)) {
    if (field !== own && rule[field] !== undefined) return { field, reason: `a ${rule.type} rule takes only its own match field, "${own}"; remove "${field}".` };
  }
  if (rule[own] === undefined) return { field: own, reason: `a ${rule.type} rule needs "${own}".` };
  if (rule.type === 'regex') {
    try {
      RE2JS.compile(rule.pattern!);
    } catch (e) {
      // RE2's message quotes the part it could not parse, which can be most of a 4,096-character pattern.
      const message = (e as Error).message;
      return { field: 'pattern', reason: `"pattern" is not a valid RE2 pattern: ${message.length > 300 ? `${message.slice(0, 300)}…` : message}` };
    }
  }
  return undefined;
}
