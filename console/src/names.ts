// Server messages name resources by id ("… still in use by access key aigk_01…"). The user knows them by the
// names they gave, so before such a message is shown the ids are looked up in the lists the console reads
// anyway, and the message reads `“name” (id)`; the id stays, shown as secondary text (see IdText in ui.tsx).
import { listAll } from './api.ts';

/** A resource id as src/domain/ids.ts makes them: a known prefix, `_`, 26 Crockford base32 characters. */
export const RESOURCE_ID = /\b(?:aigac|aigak|aigpk|aigk|aigp)_[0-9A-HJKMNP-TV-Z]{26}\b/g;

interface Named { id: string; name?: string | null; providerId?: string }
const LISTS: Record<string, { path: string; key: string }> = {
  aigac: { path: '/access-key-configurations', key: 'aiGatewayAccessKeyConfigurations' },
  aigak: { path: '/api-keys', key: 'aiGatewayApiKeys' },
  aigpk: { path: '/provider-keys', key: 'aiGatewayProviderKeys' },
  aigk: { path: '/access-keys', key: 'aiGatewayAccessKeys' },
  aigp: { path: '/providers', key: 'aiGatewayProviders' },
};

/** `text` with each id it names that still exists replaced by `“name” (id)`; unchanged when none can be looked up. */
export async function withNames(text: string): Promise<string> {
  const ids = [...new Set(text.match(RESOURCE_ID) ?? [])];
  if (ids.length === 0) return text;
  const prefixes = [...new Set(ids.map((id) => id.slice(0, id.indexOf('_'))))];
  const names = new Map<string, string>();
  await Promise.all(prefixes.map(async (prefix) => {
    const list = LISTS[prefix];
    if (!list) return;
    // A lookup that fails leaves those ids as they are: the message is still right, only less friendly.
    const items = await listAll<Named>(list.path, list.key).catch(() => [] as Named[]);
    for (const item of items) {
      const name = item.name ?? (prefix === 'aigp' ? item.providerId : undefined);
      if (name) names.set(item.id, name);
    }
  }));
  // The server quotes some ids ("aigac_…"): the quotes go with the id, so the name is quoted once.
  return text.replace(new RegExp(`"?(${RESOURCE_ID.source})"?`, 'g'), (whole, id: string) => {
    const name = names.get(id);
    return name ? `“${name}” (${id})` : whole;
  });
}
