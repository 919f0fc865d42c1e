// The virtual model editor's form state, the targets it offers, and where the control plane's refusals go. Kept apart
// from the JSX so the rules (what "any provider" and "pinned" send, which target an error names) read in one place.
import type { Model, VirtualModel } from './api.ts';

export interface VirtualModelState { name: string; description: string; targets: string[] }

export const emptyVirtualModel = (): VirtualModelState => ({ name: '', description: '', targets: [] });

export function fromVirtualModel(v: VirtualModel): VirtualModelState {
  return { name: v.name, description: v.description ?? '', targets: [...v.targets] };
}

/** The body for POST (isUpdate false) or PATCH (true: an emptied description is sent as null so it is removed). */
export function toWrite(s: VirtualModelState, isUpdate: boolean): Record<string, unknown> {
  const description = s.description.trim();
  return {
    name: s.name.trim(),
    ...(description ? { description } : isUpdate ? { description: null } : {}),
    targets: s.targets,
  };
}

/** Automatic model selection as a target: the API takes it only as a virtual model's one target. */
export const AUTO_TARGET = 'ngrok/auto';

/** A model the picker offers: the address that lets the gateway choose its provider, if any, and each pinned one. */
export interface TargetChoice {
  id: string;
  /** What the picker shows for it. */
  label: string;
  /** Automatic selection: no model, so no provider to choose either. */
  automatic: boolean;
  /** The catalog id (`author/model`), which any provider serving it may answer; custom models have none. */
  anyProvider: string | undefined;
  pinned: { provider: string; address: string }[];
}

/**
 * Automatic selection, then the models GET /v1/models lists, as targets: a catalog model can be sent by its catalog id
 * (any provider) or pinned to one of its providers (`provider:model`); a custom provider's model only pinned, its id
 * being that address. Automatic selection alongside other targets is the API's to refuse, shown as its other refusals.
 */
export function targetChoices(models: readonly Model[]): TargetChoice[] {
  const automatic: TargetChoice = { id: AUTO_TARGET, label: `Automatic selection (${AUTO_TARGET})`, automatic: true, anyProvider: AUTO_TARGET, pinned: [] };
  return [automatic, ...models.map((m) => ({
    id: m.id,
    label: m.id,
    automatic: false,
    anyProvider: m.owned_by === 'ngrok' ? m.id : undefined,
    pinned: m.providers.map((p) => ({ provider: p.id, address: p.model_id })),
  }))];
}

/** The choice the picker starts on: the first model, automatic selection being a deliberate pick. */
export function firstChoice(choices: readonly TargetChoice[]): TargetChoice | undefined {
  return choices.find((c) => !c.automatic) ?? choices[0];
}

/** The target a choice sends for `provider` ('' for any provider); undefined when the model has no such address. */
export function targetOf(choice: TargetChoice, provider: string): string | undefined {
  if (provider === '') return choice.anyProvider;
  return choice.pinned.find((p) => p.provider === provider)?.address;
}

/** How a target is served, in words: a `provider:model` address pins its provider; any other lets the gateway choose. */
export function describeTarget(target: string): string {
  if (target.toLowerCase() === AUTO_TARGET) return 'automatic selection';
  const colon = target.indexOf(':');
  return colon > 0 ? `only ${target.slice(0, colon)}` : 'any provider';
}

/** What a refusal is about: a form field, the target list as a whole, or one target (its index). */
export type Blame = 'name' | 'description' | 'targets' | number;

const NAME_CODES = ['NAME_REQUIRED', 'NAME_TOO_LONG', 'NAME_ILLEGAL_CHARACTER', 'NAME_CONFLICT', 'NAME_ALREADY_EXISTS'];

/**
 * Where a control-plane virtual-model error is shown, from its code and the target it names (its `details.field`,
 * `targets.2`, says the same). A duplicated target is blamed where it is repeated, not where it is first. Undefined:
 * about the save.
 */
export function blameOf(code: string | undefined, details: Readonly<Record<string, string>>, targets: readonly string[]): Blame | undefined {
  const kind = code?.replace(/^ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_/, '');
  if (kind === undefined || kind === code) return details.field === 'name' || details.field === 'description' ? details.field : undefined;
  if (NAME_CODES.includes(kind)) return 'name';
  if (kind === 'TARGETS_OUT_OF_RANGE' || kind === 'TARGET_AUTO_MIXED_NOT_ALLOWED') return 'targets';
  const named = details.target?.toLowerCase();
  if (named === undefined) return kind.startsWith('TARGET') ? 'targets' : undefined;
  // Targets are compared as the API compares them, case-insensitively.
  const at = targets.flatMap((t, i) => (t.toLowerCase() === named ? [i] : []));
  const index = kind === 'TARGET_DUPLICATED' ? at[1] : at[0];
  return index ?? 'targets';
}
