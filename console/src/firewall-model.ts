// The Firewall policy editor's form state, what a save writes, and which rule a refusal is about. Kept apart from the
// JSX so the rules (a rule type's one match field, `reads` only on request rules) read in one place.
import type { FirewallPolicy, FirewallRule } from './api.ts';

export type Tier = FirewallRule['tier'];
export type Phase = FirewallRule['phase'];
export type Read = NonNullable<FirewallRule['reads']>[number];
/** The types the editor offers; decision rules are taken only where the operator names a decision model (the API says so). */
export type EditableType = 'toolNames' | 'regex' | 'decision';

export const TIERS: readonly { value: Tier; label: string }[] = [
  { value: 'hardDeny', label: 'Hard block' }, { value: 'softDeny', label: 'Soft block' }, { value: 'allow', label: 'Allow' },
];
export const READS: readonly { value: Read; label: string }[] = [
  { value: 'messages', label: 'Messages' }, { value: 'toolResults', label: 'Tool results' }, { value: 'toolDefinitions', label: 'Tool definitions' },
];

export interface RuleState {
  name: string; tier: Tier; type: EditableType; phase: Phase;
  /** Empty: every part of the request. */
  reads: Read[];
  /** One tool name a line. */
  toolNames: string;
  pattern: string;
  /** A decision rule's risk in plain language. */
  instructions: string;
}

export interface PolicyState {
  name: string; description: string; mode: FirewallPolicy['mode']; onError: FirewallPolicy['onError'];
  /** One fact a line. */
  environment: string;
  rules: RuleState[];
}

/** A new policy starts as ngrok's guide suggests testing one: in Dry run, blocking what it can't check once enforced. */
export const emptyPolicy = (): PolicyState => ({ name: '', description: '', mode: 'audit', onError: 'block', environment: '', rules: [] });

export const emptyRule = (phase: Phase): RuleState => ({ name: '', tier: 'hardDeny', type: 'toolNames', phase, reads: [], toolNames: '', pattern: '', instructions: '' });

export function fromPolicy(p: FirewallPolicy): PolicyState {
  return {
    name: p.name, description: p.description ?? '', mode: p.mode, onError: p.onError, environment: p.environment.join('\n'),
    rules: p.rules.map((r) => ({
      name: r.name, tier: r.tier, type: r.type, phase: r.phase, reads: [...(r.reads ?? [])],
      toolNames: (r.toolNames ?? []).join('\n'), pattern: r.pattern ?? '', instructions: r.instructions ?? '',
    })),
  };
}

const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');

/** The rule as the API takes it: only its type's match field, `reads` only on a request rule and only when narrowed. */
export function ruleWrite(r: RuleState): FirewallRule {
  return {
    name: r.name.trim(), tier: r.tier, type: r.type, phase: r.phase,
    ...(r.phase === 'request' && r.reads.length > 0 ? { reads: r.reads } : {}),
    ...(r.type === 'toolNames' ? { toolNames: lines(r.toolNames) } : {}),
    // A pattern is sent as typed: a space may be part of it.
    ...(r.type === 'regex' ? { pattern: r.pattern } : {}),
    ...(r.type === 'decision' ? { instructions: r.instructions.trim() } : {}),
  };
}

/** The body for POST (isUpdate false) or PATCH (true: an emptied description is sent as null so it is removed). */
export function toWrite(s: PolicyState, isUpdate: boolean): Record<string, unknown> {
  const description = s.description.trim();
  return {
    name: s.name.trim(),
    ...(description ? { description } : isUpdate ? { description: null } : {}),
    mode: s.mode, onError: s.onError, environment: lines(s.environment), rules: s.rules.map(ruleWrite),
  };
}

/**
 * The rule a refusal is about, from the API's `details.field` (`rules.2.pattern`); undefined when it is about the
 * policy's own fields or the list as a whole.
 */
export function ruleOf(field: string | undefined): number | undefined {
  const m = field === undefined ? null : /^rules\.(\d+)(\.|$)/.exec(field);
  return m ? Number(m[1]) : undefined;
}

/** The rule's index in the whole list, with where it sits: request rules and response rules are shown apart. */
export function rulesOfPhase(rules: readonly RuleState[], phase: Phase): { rule: RuleState; index: number }[] {
  return rules.flatMap((rule, index) => (rule.phase === phase ? [{ rule, index }] : []));
}

/** What a Firewall policy picker (the gateway config's, a configuration's) knows of each policy. */
type Named = Pick<FirewallPolicy, 'id' | 'name'>;

/**
 * A picker's options: none (''), then the account's policies by name. An attached policy the list lacks (the list
 * failed to load) stays offered, by its id: shown as None, it would be detached by the next save.
 */
export function policyChoices(policies: readonly Named[] | undefined, attached: string): { value: string; label: string }[] {
  const list = policies ?? [];
  const missing = attached !== '' && !list.some((p) => p.id === attached) ? [{ value: attached, label: attached }] : [];
  return [{ value: '', label: 'None' }, ...list.map((p) => ({ value: p.id, label: p.name })), ...missing];
}

/** The name of the policy `id` names, for a list; its id while the policies are not known. */
export function policyName(policies: readonly Named[] | undefined, id: string | null | undefined): string | undefined {
  if (!id) return undefined;
  return policies?.find((p) => p.id === id)?.name ?? id;
}

/**
 * Whether a save's refusal is about the policy it attaches: the API's "not found" naming a Firewall policy (deleted
 * in another tab since the picker was filled), shown at the picker in words naming the policy.
 */
export function refusesPolicy(status: number, details: Readonly<Record<string, string>>): boolean {
  return status === 404 && details.resource === 'Firewall policy';
}
