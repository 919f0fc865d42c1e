// Which configurations still point at a provider key or a provider, so deletes can be refused with a
// reason instead of leaving routing rules that name something gone.
import type { ConfigurationRow } from '../store/configurations.ts';
import { splitModelAddress } from './router-rules.ts';

type Rules = Pick<ConfigurationRow, 'id' | 'access' | 'router'>;

export function configurationsUsingKey(configurations: readonly Rules[], keyId: string): string[] {
  return configurations
    .filter((c) => c.router?.rules.some((r) => r.steps.some((s) => s.keys?.some((k) => k.id === keyId))))
    .map((c) => c.id);
}

/** A provider is referenced by a rule for it, a rule for one of its models, or by name or id in the access allow list. */
export function configurationsUsingProvider(configurations: readonly Rules[], provider: { id: string; providerId: string }): string[] {
  const slug = provider.providerId;
  return configurations
    .filter((c) =>
      (c.router?.rules.some((r) => r.provider === slug || (r.model !== undefined && splitModelAddress(r.model)?.provider === slug)) ?? false)
      || (c.access?.providers?.allow?.some((p) => p === slug || p === provider.id) ?? false))
    .map((c) => c.id);
}

/** "provider key aigpk_1" / "provider keys aigpk_1, aigpk_2" for in-use messages. */
export function describeUsers(noun: string, ids: readonly string[]): string {
  return `${noun}${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
}
