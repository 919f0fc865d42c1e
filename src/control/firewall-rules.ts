// The checks of a Firewall policy's rules the schema cannot state: each rule type takes only its own match field,
// `reads` belongs to request rules, a regex compiles as RE2, and decision rules are refused (this gateway runs no
// decision model). Each refusal is a 400 naming the rule, by its index in `rules` and its name, and the field.
import { RE2JS } from 're2js';
import { Errors, TollgateError } from '../domain/errors.ts';
import type { FirewallRule, FirewallRuleType } from '../domain/firewall-policy.ts';

/** The field each rule type matches with; a rule takes its own and none of the others. */
const MATCH_FIELD: Record<FirewallRuleType, 'toolNames' | 'pattern' | 'instructions'> = {
  toolNames: 'toolNames', regex: 'pattern', decision: 'instructions',
};

/** `rules[3] ("Force push")`: the index the field path uses and the name the user chose, kept short. */
export function ruleLabel(index: number | string, rule: unknown): string {
  const name = typeof rule === 'object' && rule !== null ? (rule as { name?: unknown }).name : undefined;
  if (typeof name !== 'string' || name === '') return `rules[${index}]`;
  return `rules[${index}] ("${name.length > 64 ? `${name.slice(0, 64)}…` : name}")`;
}

function refuse(index: number, rule: FirewallRule, field: string, reason: string): TollgateError {
  return new TollgateError(Errors.validationFailed, { field: `rules.${index}.${field}`, reason: `${ruleLabel(index, rule)}: ${reason}` });
}

/** Throws the first rule's refusal, in list order; the rules already passed the contract schema. */
export function checkRules(rules: readonly FirewallRule[]): void {
  rules.forEach((rule, index) => {
    if (rule.type === 'decision') {
      // A decision rule is judged by a decision model (ngrok's Jev). Storing one that is never judged would look like
      // protection that is not there; an operator setting naming a decision model could allow them later.
      throw refuse(index, rule, 'type', 'decision rules are not available on this gateway: they need a decision model to judge them, and this gateway runs none. Use a toolNames or regex rule.');
    }
    if (rule.reads !== undefined && rule.phase !== 'request') {
      throw refuse(index, rule, 'reads', '"reads" is for request rules only; a response rule checks each tool call the model returns.');
    }
    const own = MATCH_FIELD[rule.type];
    for (const field of Object.values(MATCH_FIELD)) {
      if (field !== own && rule[field] !== undefined) throw refuse(index, rule, field, `a ${rule.type} rule takes only its own match field, "${own}"; remove "${field}".`);
    }
    if (rule[own] === undefined) throw refuse(index, rule, own, `a ${rule.type} rule needs "${own}".`);
    if (rule.type === 'regex') {
      try {
        RE2JS.compile(rule.pattern!);
      } catch (e) {
        // RE2's message quotes the part it could not parse, which can be most of a 4,096-character pattern.
        const message = (e as Error).message;
        throw refuse(index, rule, 'pattern', `"pattern" is not a valid RE2 pattern: ${message.length > 300 ? `${message.slice(0, 300)}…` : message}`);
      }
    }
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
