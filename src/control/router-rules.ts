// Routing rules as written by clients → the stored form. Pure: the caller supplies what the account has
// (its custom providers and provider keys) and turns inline keys into stored ones afterwards.
import type { components } from './spec-types.ts';
import { Errors, TollgateError, echoed } from '../domain/errors.ts';
import { builtinProvider } from '../catalog/providers.ts';
import type { StoredRouterRule, StoredRouterStep } from '../state/types.ts';
import { unsendableSecretReason } from '../domain/header-value.ts';
import { BEDROCK_PROVIDER_ID } from './provider-key-values.ts';

type RouterWrite = components['schemas']['RouterWrite'];
type RuleWrite = components['schemas']['RouterRuleWrite'];
type KeyWrite = components['schemas']['RouterStepKeyWrite'];

export interface RouterContext {
  /** providerId slugs of the account's own providers. */
  customProviders: ReadonlySet<string>;
  /** The account's provider keys: id → providerId. */
  keyProviders: ReadonlyMap<string, string>;
}

export type PlannedKey = { id: string } | { name: string; value: string };
export interface PlannedStep { type: StoredRouterStep['type']; keySelectionStrategy?: 'ordered'; keys?: PlannedKey[] }
export interface PlannedRule { provider?: string; model?: string; steps: PlannedStep[] }
/** A validated router: rules in the client's order, plus the provider each rule's keys must belong to. */
export interface PlannedRouter { rules: { rule: PlannedRule; providerId: string }[] }

/**
 * A refusal of the member `member` of what `where` (`rules[0].steps[1]`, as the message says it) names; `field` is its
 * path in the body as validation.ts writes one (`router.rules.0.steps.1.type`).
 */
function invalid(where: string, member: string | undefined, reason: string): TollgateError {
  const field = `router.${where.replace(/\[(\d+)\]/g, '.$1')}${member === undefined ? '' : `.${member}`}`;
  return new TollgateError(Errors.invalidRouter, { reason, field });
}

/** Every key id a client names anywhere in the router (to load them in one query). */
export function referencedKeyIds(router: RouterWrite): string[] {
  return (router.rules ?? []).flatMap((r) => r.steps.flatMap((s) => (s.keys ?? []).flatMap((k) => (k.id === undefined ? [] : [k.id]))));
}

/** `provider:model` → its parts; the model part may itself contain `/` or `:`. */
export function splitModelAddress(model: string): { provider: string; model: string } | undefined {
  const at = model.indexOf(':');
  if (at <= 0 || at === model.length - 1) return undefined;
  return { provider: model.slice(0, at), model: model.slice(at + 1) };
}

function ruleProvider(rule: RuleWrite, where: string, ctx: RouterContext): string {
  const known = (id: string) => builtinProvider(id) !== undefined || ctx.customProviders.has(id);
  if (rule.provider === undefined && rule.model === undefined) throw invalid(where, 'provider', `${where} needs a provider or a model.`);
  if (rule.provider !== undefined && !known(rule.provider)) throw invalid(where, 'provider', `${where}: provider "${echoed(rule.provider)}" is neither a built-in provider nor one of this account's providers.`);
  if (rule.model === undefined) return rule.provider!;
  const address = splitModelAddress(rule.model);
  if (!address) throw invalid(where, 'model', `${where}: model "${echoed(rule.model)}" must be provider-qualified, as in "openai:gpt-4o".`);
  if (!known(address.provider)) throw invalid(where, 'model', `${where}: model "${echoed(rule.model)}" names unknown provider "${echoed(address.provider)}".`);
  if (rule.provider !== undefined && rule.provider !== address.provider) throw invalid(where, 'model', `${where}: model "${echoed(rule.model)}" does not belong to provider "${rule.provider}".`);
  return address.provider;
}

function plannedKey(key: KeyWrite, where: string, providerId: string, ctx: RouterContext): PlannedKey {
  if (key.id !== undefined) {
    if (key.name !== undefined || key.value !== undefined) throw invalid(where, undefined, `${where}: give either "id" or "name" with "value", not both.`);
    const owner = ctx.keyProviders.get(key.id);
    if (owner === undefined) throw invalid(where, 'id', `${where}: provider key "${echoed(key.id)}" does not exist.`);
    if (owner !== providerId) throw invalid(where, 'id', `${where}: provider key "${key.id}" belongs to provider "${owner}", not "${providerId}".`);
    return { id: key.id };
  }
  // A Bedrock key is used in one AWS region (and may be an IAM role's, with no value): settings an inline key has no
  // member for. Refused for what it is, not as a missing `aws.region` the body cannot hold.
  if (providerId === BEDROCK_PROVIDER_ID) throw invalid(where, undefined, `${where}: a Bedrock key needs its AWS region, which an inline key cannot carry: create it at /provider-keys (with "aws": {"region": …}) and name it here by "id".`);
  if (key.name === undefined || key.value === undefined) {
    // One given: the other is missing. Neither (nor an id): the key itself names nothing.
    const missing = key.name !== undefined ? 'value' : key.value !== undefined ? 'name' : undefined;
    throw invalid(where, missing, `${where}: an inline key needs both "name" and "value".`);
  }
  // The stored key it becomes is shown and picked by this name, as one created at /provider-keys (which refuses it blank).
  if (key.name.trim() === '') throw invalid(where, 'name', `${where}: an inline key's "name" must not be blank.`);
  if (key.value.trim() === '') throw invalid(where, 'value', `${where}: an inline key's "value" must not be empty.`);
  const unsendable = unsendableSecretReason(key.value.trim());
  if (unsendable) throw invalid(where, 'value', `${where}: an inline key's "value" ${unsendable}`);
  return { name: key.name, value: key.value };
}

function plannedStep(step: components['schemas']['RouterStepWrite'], where: string, providerId: string, ctx: RouterContext): PlannedStep {
  const keys = step.keys ?? [];
  const base: PlannedStep = { type: step.type, ...(step.keySelectionStrategy ? { keySelectionStrategy: step.keySelectionStrategy } : {}) };
  if (step.type === 'ngrok') {
    if (keys.length > 0) throw invalid(where, 'keys', `${where}: an "ngrok" step takes no keys.`);
    if (builtinProvider(providerId)?.managed !== true) throw invalid(where, 'type', `${where}: provider "${providerId}" cannot use an "ngrok" step; only built-in managed providers can.`);
    return base;
  }
  if (keys.length === 0) throw invalid(where, 'keys', `${where}: a "user" step needs at least one key.`);
  const seen = new Set<string>();
  const planned = keys.map((k, i) => {
    const at = `${where}.keys[${i}]`;
    const p = plannedKey(k, at, providerId, ctx);
    if ('id' in p) {
      if (seen.has(p.id)) throw invalid(at, 'id', `${where}: provider key "${p.id}" is listed twice.`);
      seen.add(p.id);
    }
    return p;
  });
  return { ...base, keys: planned };
}

/** Validates a client's router against the account; throws ERR_NGROK_27605 with the first problem found. */
export function planRouter(router: RouterWrite, ctx: RouterContext): PlannedRouter {
  const providerRules = new Set<string>();
  const modelRules = new Set<string>();
  const rules = (router.rules ?? []).map((rule, i) => {
    const where = `rules[${i}]`;
    const providerId = ruleProvider(rule, where, ctx);
    if (rule.model === undefined) {
      if (providerRules.has(providerId)) throw invalid(where, 'provider', `${where}: provider "${providerId}" already has a rule.`);
      providerRules.add(providerId);
    } else {
      // Model names are case-insensitive at the gateway, so `openai:GPT-4o` and `openai:gpt-4o` collide.
      const key = `${providerId}:${splitModelAddress(rule.model)!.model.toLowerCase()}`;
      if (modelRules.has(key)) throw invalid(where, 'model', `${where}: model "${echoed(rule.model)}" already has a rule.`);
      modelRules.add(key);
    }
    const steps = rule.steps.map((s, j) => plannedStep(s, `${where}.steps[${j}]`, providerId, ctx));
    const planned: PlannedRule = { ...(rule.provider !== undefined ? { provider: rule.provider } : {}), ...(rule.model !== undefined ? { model: rule.model } : {}), steps };
    return { rule: planned, providerId };
  });
  return { rules };
}

/** Inline keys of a planned router, with the provider each must be created for. */
export function inlineKeys(plan: PlannedRouter): { providerId: string; name: string; value: string }[] {
  return plan.rules.flatMap(({ rule, providerId }) => rule.steps.flatMap((s) => (s.keys ?? []).flatMap((k) => ('id' in k ? [] : [{ providerId, ...k }]))));
}

/** The stored form: inline keys replaced, in order, by the ids `created` holds for them. */
export function storedRules(plan: PlannedRouter, created: readonly string[]): StoredRouterRule[] {
  let next = 0;
  const stored = (k: PlannedKey) => ({ id: 'id' in k ? k.id : created[next++]! });
  return plan.rules.map(({ rule }) => ({
    ...rule,
    steps: rule.steps.map(({ keys, ...step }) => (keys === undefined ? step : { ...step, keys: keys.map(stored) })),
  }));
}
