// A Firewall policy as the account saved it (ngrok's "Firewall policies"): named rules that screen what an access
// key's traffic sends to a model (request rules) and the tool calls a model returns (response rules). The control
// plane validates and stores these; the snapshot carries them as plain data; the data plane compiles and applies
// them. Field names follow ngrok's API where its docs could be read, and are our own (`x-inferred` in the spec)
// where they could not.

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
