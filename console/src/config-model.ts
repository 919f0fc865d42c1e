// The configuration editor's form state and its translation to and from the contract's shapes. Kept
// apart from the JSX so the rules (allow-all vs allow-only, ordered steps of keys) read in one place.
import type { Configuration, ConfigurationWrite, Schemas } from './api.ts';

export interface DimensionState { mode: 'all' | 'only'; allow: string[] }
export interface StepState { type: 'ngrok' | 'user'; keys: string[] }
export interface RuleState { target: 'provider' | 'model'; provider: string; model: string; steps: StepState[] }
export interface ConfigState {
  name: string;
  description: string;
  metadata: string;
  providers: DimensionState;
  models: DimensionState;
  /** MCP server labels. */
  mcpServers: DimensionState;
  /** MCP tool patterns, `<label>/<tool>`. */
  mcpTools: DimensionState;
  rules: RuleState[];
  /** The Firewall policy of the configuration's keys; '' for none. */
  firewallPolicyId: string;
}

export const emptyConfig = (): ConfigState => ({
  name: '', description: '', metadata: '',
  providers: { mode: 'all', allow: [] },
  models: { mode: 'all', allow: [] },
  mcpServers: { mode: 'all', allow: [] },
  mcpTools: { mode: 'all', allow: [] },
  rules: [],
  firewallPolicyId: '',
});

function dimension(d: Schemas['AccessDimension'] | undefined): DimensionState {
  // An absent dimension means "no restriction"; a present one (even empty) is an allow list.
  return d?.allow === undefined ? { mode: 'all', allow: [] } : { mode: 'only', allow: [...d.allow] };
}

export function fromConfiguration(c: Configuration): ConfigState {
  return {
    name: c.name,
    description: c.description ?? '',
    metadata: c.metadata ?? '',
    providers: dimension(c.access?.providers),
    models: dimension(c.access?.models),
    mcpServers: dimension(c.access?.mcpServers),
    mcpTools: dimension(c.access?.mcpTools),
    rules: (c.router?.rules ?? []).map((r) => ({
      target: r.model ? 'model' : 'provider',
      provider: r.provider ?? '',
      model: r.model ?? '',
      steps: r.steps.map((s) => ({ type: s.type, keys: (s.keys ?? []).map((k) => k.id) })),
    })),
    firewallPolicyId: c.firewallPolicyId ?? '',
  };
}

/** The body for POST (isUpdate false) or PATCH (true: cleared parts are sent as null so they are removed). */
export function toWrite(s: ConfigState, isUpdate: boolean): Record<string, unknown> {
  const access: NonNullable<ConfigurationWrite['access']> = {};
  if (s.providers.mode === 'only') access.providers = { allow: s.providers.allow };
  if (s.models.mode === 'only') access.models = { allow: s.models.allow };
  if (s.mcpServers.mode === 'only') access.mcpServers = { allow: s.mcpServers.allow };
  if (s.mcpTools.mode === 'only') access.mcpTools = { allow: s.mcpTools.allow };
  const rules: Schemas['RouterRuleWrite'][] = s.rules.map((r) => ({
    ...(r.target === 'provider' ? { provider: r.provider.trim() } : { model: r.model.trim() }),
    steps: r.steps.map((st): Schemas['RouterStepWrite'] => (st.type === 'ngrok'
      ? { type: 'ngrok' }
      : { type: 'user', keySelectionStrategy: 'ordered', keys: st.keys.map((id) => ({ id })) })),
  }));
  const cleared = isUpdate ? null : undefined;
  const body: Record<string, unknown> = {
    name: s.name.trim(),
    description: s.description.trim() || cleared,
    metadata: s.metadata || cleared,
    access: Object.keys(access).length > 0 ? access : cleared,
    router: rules.length > 0 ? { rules } : cleared,
    firewallPolicyId: s.firewallPolicyId || cleared,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

export function move<T>(list: T[], index: number, by: -1 | 1): T[] {
  const to = index + by;
  if (to < 0 || to >= list.length) return list;
  const copy = [...list];
  [copy[index], copy[to]] = [copy[to]!, copy[index]!];
  return copy;
}

/** A problem with one routing rule, shown in that rule; `onTarget`: about its provider or model field. */
export interface RuleError { text: string; onTarget: boolean }

/** What must be filled in before a rule can be sent: the API refuses a rule without a provider or a model. */
export function ruleProblems(rules: readonly RuleState[]): Map<number, RuleError> {
  const out = new Map<number, RuleError>();
  rules.forEach((r, i) => {
    if (r.target === 'provider' && !r.provider.trim()) out.set(i, { text: `Rule ${i + 1}: choose the provider this rule is for.`, onTarget: true });
    if (r.target === 'model' && !r.model.trim()) out.set(i, { text: `Rule ${i + 1}: enter the model this rule is for, e.g. openai:gpt-4o.`, onTarget: true });
  });
  return out;
}

/**
 * The API's paths (`rules[0].steps[1].keys[2]`, zero-based) in the editor's words and numbers ("Rule 1,
 * step 2, key 3"), as the rules are labelled on screen.
 */
export function ruleWords(text: string): string {
  return text.replace(/\brules\[(\d+)\]((?:\.steps\[\d+\])?)((?:\.keys\[\d+\])?)/g, (_all, rule: string, step: string, key: string) => {
    const n = (part: string) => Number(/\d+/.exec(part)![0]) + 1;
    return [`Rule ${Number(rule) + 1}`, step ? `step ${n(step)}` : '', key ? `key ${n(key)}` : ''].filter(Boolean).join(', ');
  });
}

/** The rule (zero-based) an API error names as ruleWords wrote it, and whether it is about the rule's target. */
export function ruleOfError(text: string): { index: number; error: RuleError } | undefined {
  const m = /\bRule (\d+)(, step \d+)?/.exec(text);
  if (!m) return undefined;
  return { index: Number(m[1]) - 1, error: { text, onTarget: !m[2] } };
}

/** Which section an API validation error belongs next to, judged from its wording and details. */
export function sectionOf(message: string): 'access' | 'routing' | 'details' {
  const m = message.toLowerCase();
  if (/router|routing|rule|step|provider key|\bkeys?\b/.test(m)) return 'routing';
  if (/access|allow|scope/.test(m)) return 'access';
  return 'details';
}

export function summarizeAccess(c: Configuration): string {
  const dim = (d: Schemas['AccessDimension'] | undefined, what: string) =>
    d?.allow === undefined ? `all ${what}` : d.allow.length === 0 ? `no ${what} (blocked)` : d.allow.join(', ');
  // The MCP dimensions only once restricted (most configurations are about models alone), named: labels alone would
  // read as models.
  const mcp = [[c.access?.mcpServers?.allow, 'MCP servers'], [c.access?.mcpTools?.allow, 'MCP tools']] as const;
  const restricted = mcp.flatMap(([allow, what]) => (allow === undefined ? [] : [allow.length === 0 ? `no ${what} (blocked)` : `${what} ${allow.join(', ')}`]));
  return [dim(c.access?.providers, 'providers'), dim(c.access?.models, 'models'), ...restricted].join('; ');
}
