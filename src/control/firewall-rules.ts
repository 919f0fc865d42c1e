// The checks of a Firewall policy's rules the schema cannot state (domain/firewall-policy.ts `ruleProblem`, which a
// request's own rules in `plugins` are held to as well). Each refusal is a 400 naming the rule, by its index in
// `rules` and its name, and the field.
import { Errors, TollgateError, textPrefix } from '../domain/errors.ts';
import { ruleProblem, type FirewallRule } from '../domain/firewall-policy.ts';

/** `rules[3] ("Force push")`: the index the field path uses and the name the user chose, kept short. */
export function ruleLabel(index: number | string, rule: unknown): string {
  const name = typeof rule === 'object' && rule !== null ? (rule as { name?: unknown }).name : undefined;
  if (typeof name !== 'string' || name === '') return `rules[${index}]`;
  return `rules[${index}] ("${name.length > 64 ? `${textPrefix(name, 64)}…` : name}")`;
}

function refuse(index: number, rule: FirewallRule, field: string, reason: string): TollgateError {
  return new TollgateError(Errors.validationFailed, { field: `rules.${index}.${field}`, reason: `${ruleLabel(index, rule)}: ${reason}` });
}

/**
 * Throws the first rule's refusal, in list order; the rules already passed the contract schema. `decisionModel`:
 * whether this deployment judges decision rules (its TOLLGATE_FIREWALL_DECISION_MODEL).
 */
export function checkRules(rules: readonly FirewallRule[], decisionModel: boolean): void {
  rules.forEach((rule, index) => {
    const problem = ruleProblem(rule, decisionModel);
    if (problem) throw refuse(index, rule, problem.field, problem.reason);
  });
}

/** The rule as stored and shown: its fields in one order, absent ones left out. */
export function storedRule(rule: FirewallRule): FirewallRule {
  return {
    name: rule.name, tier: rule.tier, type: rule.type, phase: rule.phase,
    ...(rule.reads !== undefined ? { reads: rule.reads } : {}),
    ...(rule.toolNames !== undefined ? { toolNames: rule.toolNames } : {}),
    ...(rule.pattern !== undefined ? { pattern: rule.pattern } : {}),
    ...(rule.instructions !== undefined ? { instructions: rule.instructions } : {}),
  };
}
